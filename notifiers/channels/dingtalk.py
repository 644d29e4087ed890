"""DingTalk (钉钉) custom robot channel: markdown messages, signed as DingTalk specifies ("加签").

Signature: HMAC-SHA256 keyed by the secret over "{timestamp}\\n{secret}" (timestamp in milliseconds), base64,
then URL-encoded, sent as the `timestamp` and `sign` query parameters. Success is HTTP 200 with errcode 0.
An address that is a mobile number is @-mentioned; `@all` mentions everyone; any other address posts plainly.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

from engine.clock import Clock
from notifiers.base import (
    Outgoing,
    read_secret,
    register_channel_type,
    reject_unknown,
    secret_value,
    setting_float,
    setting_str,
)
from notifiers.channels.http_post import check_errcode, check_url, encode_json, post_json
from notifiers.errors import ChannelConfigError

#: errcodes worth retrying: -1 system busy, 130101 sending too fast (20 messages a minute per robot).
TRANSIENT_ERRCODES = frozenset({-1, 130101})


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """The `sign` parameter for `timestamp_ms`, URL-encoded as DingTalk expects."""
    to_sign = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode("utf-8"), to_sign, hashlib.sha256).digest()
    return urllib.parse.quote_plus(base64.b64encode(digest))


class DingTalkNotifier:
    """Posts markdown to one DingTalk group robot."""

    def __init__(
        self, name: str, webhook: str, clock: Clock, secret: Callable[[], str | None] = lambda: None,
        timeout: float = 10.0,
    ) -> None:
        self.name = name
        self.webhook = webhook
        self.clock = clock
        self._secret = secret
        self.timeout = timeout

    def check_address(self, address: str) -> str | None:
        return None

    def body(self, message: Outgoing) -> dict[str, Any]:
        text = message.rendered.markdown
        at: dict[str, Any] = {"atMobiles": [], "isAtAll": False}
        address = message.address.strip()
        if address == "@all":
            at["isAtAll"] = True
        elif address.isdigit():
            at["atMobiles"] = [address]
            text = f"{text}\n\n@{address}"  # DingTalk mentions only numbers that also appear in the text
        return {"msgtype": "markdown", "markdown": {"title": message.rendered.subject, "text": text}, "at": at}

    def signed_url(self, recipient: str = "") -> str:
        """The robot URL, with `timestamp` and `sign` when a secret is set (fails the send for `recipient` when
        the secret's environment variable is not set)."""
        secret = read_secret(self.name, recipient, self._secret)
        if not secret:
            return self.webhook
        timestamp = int(self.clock.now().timestamp() * 1000)
        joiner = "&" if "?" in self.webhook else "?"
        return f"{self.webhook}{joiner}timestamp={timestamp}&sign={dingtalk_sign(secret, timestamp)}"

    def send(self, message: Outgoing) -> None:
        headers = {"X-Shixian-Dedupe-Key": message.dedupe_key}
        url = self.signed_url(message.recipient)
        _, answer = post_json(self.name, message.recipient, url, encode_json(self.body(message)), headers,
                              self.timeout)
        check_errcode(self.name, message.recipient, answer, TRANSIENT_ERRCODES)

    def close(self) -> None:
        """Nothing held between sends."""


@register_channel_type("dingtalk")
def _create(name: str, settings: Mapping[str, Any], clock: Clock, environ: Mapping[str, str]) -> DingTalkNotifier:
    reject_unknown(name, settings, frozenset({"webhook", "secret", "secret_env"}))
    webhook = setting_str(name, settings, "webhook")
    problem = check_url(webhook)
    if problem:
        raise ChannelConfigError(name, "webhook", problem)
    return DingTalkNotifier(name, webhook, clock, secret_value(name, settings, "secret", environ),
                            setting_float(name, settings, "timeout", 10.0))
