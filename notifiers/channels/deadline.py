"""A deadline on a whole exchange with a server, not only on each socket read: a timer shuts the exchange's
sockets when it passes, so a server that drips its answer a byte at a time cannot hold a dispatcher past its
claim on the message (and let a second worker send it again)."""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType


class ExchangeDeadline:
    """The sockets of one exchange; `expire()`, run by a timer `timeout` seconds after entering, shuts them,
    ending any blocked read. Use as `with ExchangeDeadline(timeout) as exchange: ... exchange.track(sock)`."""

    def __init__(self, timeout: float) -> None:
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._timer = threading.Timer(timeout, self.expire)
        self._timer.daemon = True
        self.expired = False

    def __enter__(self) -> ExchangeDeadline:
        self._timer.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None) -> None:
        self._timer.cancel()

    def track(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            expired = self.expired
        if expired:
            _shut(sock)

    def expire(self) -> None:
        with self._lock:
            self.expired = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shut(sock)


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # closed already, or the plain socket a TLS one took over
        # the plain socket's shutdown: an SSL socket's own would drop its TLS state under the thread reading it
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
