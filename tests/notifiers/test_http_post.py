"""The JSON POST under the webhook and robot channels: redirects refused, answers read to a bound, a deadline."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from engine.clock import ManualClock
from notifiers.base import Outgoing
from notifiers.channels.http_post import MAX_ANSWER_BYTES, post_json
from notifiers.channels.webhook import SIGNATURE_HEADER, WebhookNotifier
from notifiers.errors import DeliveryError
from notifiers.rendering import Rendered

Answer = Callable[[BaseHTTPRequestHandler], None]


class Server:
    """A local HTTP server answering every request with `answer`; `seen` records (method, path, headers)."""

    def __init__(self, answer: Answer) -> None:
        self.seen: list[tuple[str, str, dict[str, str]]] = []
        self.sent = 0  # body bytes the answer managed to write
        self.done = threading.Event()  # set when an answer has finished (completely or cut off by the client)
        server = self

        class Handler(BaseHTTPRequestHandler):
            def handle_one(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                if length:
                    self.rfile.read(length)
                server.seen.append((self.command, self.path, dict(self.headers.items())))
                try:
                    answer(self)
                except OSError:  # the client hung up: what the bounded read is expected to do
                    pass
                finally:
                    server.done.set()

            do_GET = do_POST = handle_one

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()

    def write(self, handler: BaseHTTPRequestHandler, data: bytes) -> None:
        handler.wfile.write(data)
        handler.wfile.flush()
        self.sent += len(data)

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture
def servers() -> Iterator[list[Server]]:
    """Servers a test starts; all stopped at the end."""
    started: list[Server] = []
    yield started
    for server in started:
        server.stop()


def start(servers: list[Server], answer: Answer) -> Server:
    server = Server(answer)
    servers.append(server)
    return server


def message() -> Outgoing:
    rendered = Rendered(subject="【超时】", text="t", html="<p>t</p>", markdown="t")
    return Outgoing("hook", "p1", "-", rendered, "dedupe-1")


def answer_ok(handler: BaseHTTPRequestHandler) -> None:
    handler.send_response(200)
    handler.send_header("Content-Length", "2")
    handler.end_headers()
    handler.wfile.write(b"ok")


def assert_cut_off_at_deadline(server: Server, pause: threading.Event) -> None:
    """A post to a server that keeps answering slowly fails, transiently, at its 0.5 s timeout, not later."""
    began = time.monotonic()
    with pytest.raises(DeliveryError) as caught:
        post_json("hook", "p1", server.url, b"{}", {}, timeout=0.5)
    elapsed = time.monotonic() - began
    pause.set()
    assert caught.value.transient is True and "within 0.5 s" in caught.value.detail
    assert elapsed < 3


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_a_lasting_failure_naming_the_location(
    servers: list[Server], clock: ManualClock, status: int
) -> None:
    """A webhook answering a redirect is not delivered: the error names the Location; the target hears nothing."""
    target = start(servers, answer_ok)

    def redirect(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        handler.send_header("Location", f"{target.url}/elsewhere")
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    origin = start(servers, redirect)
    hook = WebhookNotifier("hook", f"{origin.url}/hook", clock, secret=lambda: "s3cret", timeout=5)
    with pytest.raises(DeliveryError) as caught:
        hook.send(message())
    assert caught.value.transient is False
    assert f"{target.url}/elsewhere" in str(caught.value) and str(status) in str(caught.value)
    assert target.seen == []
    assert [(method, path) for method, path, _ in origin.seen] == [("POST", "/hook")]
    assert SIGNATURE_HEADER in origin.seen[0][2]


def test_a_huge_answer_is_read_only_to_the_bound(servers: list[Server], clock: ManualClock) -> None:
    """An endpoint streaming 128 MiB is read for its first MAX_ANSWER_BYTES only, then the connection is dropped."""
    total = 128 * 1024 * 1024
    block = b"x" * 65536

    def flood(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(total))
        handler.end_headers()
        while server.sent < total:
            server.write(handler, block)

    server = start(servers, flood)
    status, answer = post_json("hook", "p1", server.url, b"{}", {}, timeout=5)
    assert server.done.wait(30)  # the server's writes fail once the client is gone
    assert status == 200 and len(answer) == MAX_ANSWER_BYTES
    assert server.sent < total // 4


def test_a_slow_drip_answer_ends_at_the_deadline(servers: list[Server]) -> None:
    """An answer trickling in faster than the socket timeout still ends, as a transient failure, at the deadline."""
    pause = threading.Event()

    def drip(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(40_000))
        handler.end_headers()
        while server.sent < 40_000 and not pause.wait(0.02):  # 100 bytes every 20 ms: 8 s in all
            server.write(handler, b"y" * 100)

    server = start(servers, drip)
    assert_cut_off_at_deadline(server, pause)


def test_an_answer_cut_short_is_a_transient_delivery_error(servers: list[Server]) -> None:
    """A chunked answer cut off mid-chunk is a transient DeliveryError, not a raw http.client error."""

    def cut(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        server.write(handler, b'100\r\n{"errcode"')
        handler.close_connection = True

    server = start(servers, cut)
    with pytest.raises(DeliveryError) as caught:
        post_json("hook", "p1", server.url, b"{}", {}, timeout=5)
    assert caught.value.transient is True and "IncompleteRead" in caught.value.detail


def test_headers_dripping_in_end_at_the_deadline(servers: list[Server]) -> None:
    """A server dripping an endless header, a byte well within the socket timeout each time, is cut off at the
    channel's timeout as a transient failure."""
    pause = threading.Event()

    def drip_headers(handler: BaseHTTPRequestHandler) -> None:
        server.write(handler, b"HTTP/1.1 200 OK\r\nX-Slow: ")
        while server.sent < 400 and not pause.wait(0.02):  # 8 s at this pace if nothing cut it off
            server.write(handler, b"a")

    server = start(servers, drip_headers)
    assert_cut_off_at_deadline(server, pause)
