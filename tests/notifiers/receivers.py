"""Real receivers for the channel tests: an aiosmtpd SMTP server and a threaded HTTP server on 127.0.0.1."""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope, Session


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Collect:
    def __init__(self, inbox: list[EmailMessage]) -> None:
        self.inbox = inbox

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        self.inbox.append(email.message_from_bytes(raw, policy=email.policy.default))  # type: ignore[arg-type]
        return "250 OK"


class MailServer:
    """An SMTP server that can be started and stopped on a fixed port; messages land in `inbox`."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.inbox: list[EmailMessage] = []
        self._controller: Controller | None = None

    def start(self) -> None:
        self._controller = Controller(_Collect(self.inbox), hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


@dataclass
class Received:
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


@dataclass
class HttpBehaviour:
    """What the server answers: status and body; `check` may veto a request (answering its own error)."""

    status: int = 200
    body: bytes = b'{"errcode":0,"errmsg":"ok"}'
    check: Callable[[Received], tuple[int, bytes] | None] | None = None
    received: list[Received] = field(default_factory=list)


class HttpServer:
    """An HTTP server in a thread that records every POST and answers as `behaviour` says."""

    def __init__(self) -> None:
        self.behaviour = HttpBehaviour()
        behaviour = self.behaviour

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                parsed = urlparse(self.path)
                got = Received(parsed.path, parse_qs(parsed.query), dict(self.headers.items()), self.rfile.read(length))
                behaviour.received.append(got)
                verdict = behaviour.check(got) if behaviour.check else None
                status, body = verdict or (behaviour.status, behaviour.body)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def received(self) -> list[Received]:
        return self.behaviour.received

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
