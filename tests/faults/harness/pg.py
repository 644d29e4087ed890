"""A throw-away PostgreSQL server that can be stopped and started again on the same data and port."""

from __future__ import annotations

import subprocess

from tests.conftest import ThrowAwayServer


class RestartableServer(ThrowAwayServer):
    """`halt()` stops the server (fast shutdown: sessions are cut); `restart()` brings it back unchanged."""

    def _ctl(self, *args: str) -> None:
        cmd = [*self.as_user, str(self.bin / "pg_ctl"), "-D", str(self.dir / "data"), *args]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise RuntimeError(f"pg_ctl {' '.join(args)} failed: {result.stderr.strip() or result.stdout.strip()}")

    def halt(self) -> None:
        self._ctl("-m", "fast", "-w", "stop")

    def restart(self) -> None:
        self._ctl("-l", str(self.dir / "server.log"), "-w", "-o",
                  f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off",
                  "start")
