"""JSON POST over urllib with a timeout, mapping every failure to DeliveryError (5xx/429/network: transient).

Redirects are refused, not followed: urllib would re-send the POST as a GET without its body (the alert lost,
yet a 2xx recorded) and hand the signature header to whatever host the Location names.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Collection, Mapping
from typing import Any

from notifiers.errors import DeliveryError


def encode_json(body: Mapping[str, Any]) -> bytes:
    """The exact bytes sent (and signed): compact UTF-8 JSON."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), default=str).encode("utf-8")


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    """Answers no new request for a 3xx, so urllib raises it as an HTTPError instead of following it."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


#: The opener every POST goes through: the default handlers (proxies from the environment, https), no redirects.
_OPENER = urllib.request.build_opener(_RefuseRedirects())


def post_json(
    channel: str, recipient: str, url: str, body: bytes, headers: Mapping[str, str], timeout: float
) -> tuple[int, bytes]:
    """POST `body` to `url`; answer (status, response body) for a 2xx, raise DeliveryError otherwise."""
    request = urllib.request.Request(url, data=body, method="POST")
    request.add_header("Content-Type", "application/json; charset=utf-8")
    for key, value in headers.items():
        request.add_header(key, value)
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as err:
        if 300 <= err.code < 400:
            location = err.headers.get("Location", "") if err.headers is not None else ""
            detail = (f"HTTP {err.code} redirect to {location or '(no Location)'}: redirects are not followed "
                      "(the POST would lose its body); configure the final URL")
            raise DeliveryError(channel, recipient, detail, transient=False) from err
        transient = err.code >= 500 or err.code in (408, 429)
        detail = f"HTTP {err.code} {err.reason}: {_excerpt(err.read())}"
        raise DeliveryError(channel, recipient, detail, transient=transient) from err
    except (urllib.error.URLError, OSError) as err:  # refused, DNS, timeout: the endpoint may come back
        reason = getattr(err, "reason", err)
        raise DeliveryError(channel, recipient, f"{_host(url)} unreachable: {reason}", transient=True) from err


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
