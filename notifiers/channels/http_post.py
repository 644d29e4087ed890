"""JSON POST over urllib with a timeout, mapping every failure to DeliveryError (5xx/429/network: transient).

Redirects are refused, not followed: urllib would re-send the POST as a GET without its body (the alert lost,
yet a 2xx recorded) and hand the signature header to whatever host the Location names. An answer is read to
MAX_ANSWER_BYTES at most (the rest is dropped). The whole exchange ends at the channel's timeout, not only each
socket read: a timer shuts the connection's socket at the deadline, so a server dripping its status line, headers
or answer cannot hold a dispatcher (name resolution is the one step it cannot cut short).
"""

from __future__ import annotations

import http.client
import json
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Collection, Mapping
from typing import Any

from notifiers.channels.deadline import ExchangeDeadline
from notifiers.errors import DeliveryError

#: The most of an answer that is read: robots answer a few dozen bytes; the rest of a larger one is dropped.
MAX_ANSWER_BYTES = 64 * 1024
_CHUNK = 8192


def encode_json(body: Mapping[str, Any]) -> bytes:
    """The exact bytes sent (and signed): compact UTF-8 JSON."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), default=str).encode("utf-8")


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    """Answers no new request for a 3xx, so urllib raises it as an HTTPError instead of following it."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _watched(base: type[http.client.HTTPConnection], exchange: ExchangeDeadline) -> type[http.client.HTTPConnection]:
    """`base` with every socket it opens (the TCP one, then the TLS one over it) handed to `exchange`."""

    class Watched(base):  # type: ignore[valid-type,misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            create: Callable[..., socket.socket] = self._create_connection  # type: ignore[has-type]

            def tracked(*a: Any, **kw: Any) -> socket.socket:
                sock = create(*a, **kw)
                exchange.track(sock)
                return sock

            self._create_connection = tracked

        def connect(self) -> None:
            super().connect()
            exchange.track(self.sock)

    return Watched


class _Watching:
    exchange: ExchangeDeadline

    def do_open(self, http_class: Any, req: Any, **kwargs: Any) -> Any:
        return super().do_open(_watched(http_class, self.exchange), req, **kwargs)  # type: ignore[misc]


class _WatchedHTTP(_Watching, urllib.request.HTTPHandler):
    pass


class _WatchedHTTPS(_Watching, urllib.request.HTTPSHandler):
    pass


def _opener(exchange: ExchangeDeadline) -> urllib.request.OpenerDirector:
    """The default handlers (proxies from the environment, https) with watched connections and no redirects."""
    handlers: list[Any] = [_RefuseRedirects()]
    for kind in (_WatchedHTTP, _WatchedHTTPS):
        handler = kind()
        handler.exchange = exchange
        handlers.append(handler)
    return urllib.request.build_opener(*handlers)


def post_json(
    channel: str, recipient: str, url: str, body: bytes, headers: Mapping[str, str], timeout: float
) -> tuple[int, bytes]:
    """POST `body` to `url`; answer (status, first MAX_ANSWER_BYTES of the answer) for a 2xx, else DeliveryError.

    `timeout` bounds each socket operation and the whole exchange (connection, request, status, headers, answer).
    """
    deadline = time.monotonic() + timeout
    request = urllib.request.Request(url, data=body, method="POST")
    request.add_header("Content-Type", "application/json; charset=utf-8")
    for key, value in headers.items():
        request.add_header(key, value)
    with ExchangeDeadline(timeout) as exchange:
        return _exchange(channel, recipient, url, request, timeout, deadline, exchange)


def _exchange(
    channel: str, recipient: str, url: str, request: urllib.request.Request, timeout: float, deadline: float,
    exchange: ExchangeDeadline,
) -> tuple[int, bytes]:
    late = f"{_host(url)} timed out: no complete answer within {timeout:g} s"
    try:
        with _opener(exchange).open(request, timeout=timeout) as response:
            answer = _read_bounded(response, MAX_ANSWER_BYTES, deadline)
            if exchange.expired:  # the watchdog shut the socket: what was read ends early, not at the real end
                raise _Late()
            return int(response.status), answer
    except urllib.error.HTTPError as err:
        if 300 <= err.code < 400:
            location = err.headers.get("Location", "") if err.headers is not None else ""
            detail = (f"HTTP {err.code} redirect to {location or '(no Location)'}: redirects are not followed "
                      "(the POST would lose its body); configure the final URL")
            raise DeliveryError(channel, recipient, detail, transient=False) from err
        transient = err.code >= 500 or err.code in (408, 429)
        detail = f"HTTP {err.code} {err.reason}: {_error_excerpt(err, deadline)}"
        raise DeliveryError(channel, recipient, detail, transient=transient) from err
    except _Late as err:
        raise DeliveryError(channel, recipient, late, transient=True, unreachable=True) from err
    except (urllib.error.URLError, OSError, http.client.HTTPException) as err:  # refused, DNS, timeout, cut off
        if exchange.expired:  # the watchdog shut the socket
            raise DeliveryError(channel, recipient, late, transient=True, unreachable=True) from err
        reason = getattr(err, "reason", None) or f"{type(err).__name__}: {err}"
        raise DeliveryError(channel, recipient, f"{_host(url)} unreachable: {reason}", transient=True,
                            unreachable=True) from err


class _Late(Exception):
    """The answer was still coming in at the deadline."""


def _read_bounded(response: Any, limit: int, deadline: float) -> bytes:
    """At most `limit` bytes of the answer, in chunks as they arrive; _Late when the deadline passes first."""
    read = getattr(response, "read1", None) or response.read  # read1: what has arrived, not a full chunk
    parts: list[bytes] = []
    size = 0
    while size < limit:
        if parts and time.monotonic() > deadline:
            raise _Late()
        chunk = read(min(_CHUNK, limit - size))
        if not chunk:
            break
        parts.append(chunk)
        size += len(chunk)
    return b"".join(parts)


def _error_excerpt(err: urllib.error.HTTPError, deadline: float) -> str:
    """The start of an error answer for the message; whatever could be read of it in time."""
    try:
        return _excerpt(_read_bounded(err, 1024, deadline))
    except (_Late, OSError, http.client.HTTPException):
        return "(answer not readable)"


def check_errcode(
    channel: str, recipient: str, response: bytes, transient_codes: Collection[int]
) -> None:
    """Robot APIs answer HTTP 200 with `{"errcode": 0}` on success; anything else is a failure."""
    try:
        answer = json.loads(response.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise DeliveryError(channel, recipient, f"answer is not JSON: {_excerpt(response)}", transient=True) from None
    code = answer.get("errcode") if isinstance(answer, dict) else None
    if code == 0:
        return
    message = answer.get("errmsg", "") if isinstance(answer, dict) else ""
    transient = isinstance(code, int) and code in transient_codes
    raise DeliveryError(channel, recipient, f"errcode {code}: {message}", transient=transient)


def _excerpt(data: bytes) -> str:
    text = data.decode("utf-8", errors="replace")
    return text if len(text) <= 200 else text[:197] + "..."


def _host(url: str) -> str:
    return urllib.parse.urlparse(url).netloc or url


def check_url(value: str) -> str | None:
    """A problem text when `value` is not an http(s) URL, else None."""
    parsed = urllib.parse.urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        return f"{value!r} is not an http(s) URL"
    return None
