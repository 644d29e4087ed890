"""Shared fixtures: a fresh database per test, on SQLite and on a real PostgreSQL server.

PostgreSQL comes from `SHIXIAN_TEST_PG_URL` when set; otherwise, when `initdb` is found (on PATH,
`SHIXIAN_TEST_PG_BIN` or /usr/lib/postgresql/*/bin), a throw-away server is started in a temporary
directory on a free loopback port (as the `postgres` user when running as root) and stopped at the end.
Without either the PostgreSQL tests skip, except when `CI` is set: then they fail.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

HOW_TO = (
    "PostgreSQL tests need a server: set SHIXIAN_TEST_PG_URL=postgresql+psycopg://user@host:port/db, "
    "or install PostgreSQL so that `initdb` is found (apt-get install postgresql)"
)


def find_pg_bin() -> Path | None:
    env = os.environ.get("SHIXIAN_TEST_PG_BIN")
    if env and (Path(env) / "initdb").exists():
        return Path(env)
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: [int(x) for x in
                        p.split("/")[4].split(".") if x.isdigit()])
    return Path(candidates[-1]).parent if candidates else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ThrowAwayServer:
    """A PostgreSQL server in a temporary directory, for one test session."""

    def __init__(self, pg_bin: Path) -> None:
        self.bin = pg_bin
        self.dir = Path(tempfile.mkdtemp(prefix="shixian-pg-"))
        self.port = _free_port()
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            # initdb refuses to run as root: run the server as the postgres user, owning the directory
            user = "postgres"
            if subprocess.run(["id", user], capture_output=True).returncode != 0:
                subprocess.run(["useradd", "--system", "--no-create-home", user], check=True)
            shutil.chown(self.dir, user)
            self.as_user = ["runuser", "-u", user, "--"]

    def start(self) -> str:
        data = self.dir / "data"
        self._run([str(self.bin / "initdb"), "-D", str(data), "-U", "shixian", "--auth=trust", "-E", "UTF8"])
        self._run([
            str(self.bin / "pg_ctl"), "-D", str(data), "-l", str(self.dir / "server.log"), "-w", "-o",
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off",
            "start",
        ])
        self._run([str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "shixian",
                   "shixian_test"], as_user=False)
        return f"postgresql+psycopg://shixian@127.0.0.1:{self.port}/shixian_test"

    def stop(self) -> None:
        subprocess.run([*self.as_user, str(self.bin / "pg_ctl"), "-D", str(self.dir / "data"), "-m", "immediate",
                        "stop"], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)

    def _run(self, cmd: list[str], as_user: bool = True) -> None:
        result = subprocess.run([*(self.as_user if as_user else []), *cmd], capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed: {result.stderr.strip() or result.stdout.strip()}")


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """The URL of a PostgreSQL database for the session (skips, or fails under CI, when there is none)."""
    url = os.environ.get("SHIXIAN_TEST_PG_URL")
    if url:
        yield url
        return
    pg_bin = find_pg_bin()
    if pg_bin is None:
        if os.environ.get("CI"):
            pytest.fail(HOW_TO)
        pytest.skip(HOW_TO)
    server = ThrowAwayServer(pg_bin)
    try:
        url = server.start()
    except (RuntimeError, OSError) as err:
        server.stop()
        if os.environ.get("CI"):
            pytest.fail(f"could not start PostgreSQL: {err}")
        pytest.skip(f"could not start PostgreSQL ({err}); {HOW_TO}")
    try:
        yield url
    finally:
        server.stop()


def _fresh_pg_schema(server_url: str) -> tuple[str, str]:
    """A new schema in the test database, and a URL whose connections use it (isolates each test)."""
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    plain = server_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in server_url else "?"
    return schema, f"{server_url}{sep}options=-csearch_path%3D{schema}"


def _drop_pg_schema(server_url: str, schema: str) -> None:
    import psycopg

    plain = server_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


@pytest.fixture
def pg_url(pg_server_url: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL schema for one test."""
    schema, url = _fresh_pg_schema(pg_server_url)
    yield url
    _drop_pg_schema(pg_server_url, schema)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database for one test: a SQLite file, then a PostgreSQL schema (the same test runs on both)."""
    if request.param == "sqlite":
        yield str(tmp_path / "shixian.db")
        return
    server_url = request.getfixturevalue("pg_server_url")
    schema, url = _fresh_pg_schema(server_url)
    yield url
    _drop_pg_schema(server_url, schema)
