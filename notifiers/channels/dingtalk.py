"""DingTalk (钉钉) custom robot channel: markdown messages, signed as DingTalk specifies ("加签").

Signature: HMAC-SHA256 keyed by the secret over "{timestamp}\\n{secret}" (timestamp in milliseconds), base64,
then URL-encoded, sent as the `timestamp` and `sign` query parameters. Success is HTTP 200 with errcode 0.
A contact is a mobile number (separators and +86 allowed: `+86 138-0000-0000`), @-mentioned, or `@all`.
Markdown over MAX_TEXT_BYTES goes as several messages (`robot_markdown`), the mention in the first.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
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
from notifiers.channels.robot_markdown import post_parts, split_markdown
from notifiers.errors import ChannelConfigError

#: errcodes worth retrying: -1 system busy, 130101 sending too fast (20 messages a minute per robot).
TRANSIENT_ERRCODES = frozenset({-1, 130101})
#: The most markdown text one robot message carries (DingTalk refuses longer content).
MAX_TEXT_BYTES = 20000
_SEPARATORS = re.compile(r"[\s\-()（）]")
_MOBILE = re.compile(r"1\d{10}")


def mobile_number(contact: str) -> str | None:
    """The 11-digit mainland mobile number `contact` writes, with its separators and +86 (or 0086) dropped;
    None when it is not one."""
    digits = _SEPARATORS.sub("", contact)
    for prefix in ("+86", "0086"):
        if digits.startswith(prefix):
            digits = digits[len(prefix):]
            break
    return digits if _MOBILE.fullmatch(digits) else None


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
        if address.strip() == "@all" or mobile_number(address) is not None:
            return None
        return f"{address!r} is not a mobile number to @-mention (e.g. 13800000000 or +86 138-0000-0000) or @all"

    def endpoint(self, address: str) -> str:
        return self.webhook

    def bodies(self, message: Outgoing) -> list[dict[str, Any]]:
        """The messages to post, in order: one, or several when the markdown is over MAX_TEXT_BYTES; the first
        mentions the contact."""
        at: dict[str, Any] = {"atMobiles": [], "isAtAll": False}
        mention = ""
        mobile = mobile_number(message.address)
        if message.address.strip() == "@all":
            at["isAtAll"] = True
        elif mobile is not None:
            at["atMobiles"] = [mobile]
            mention = f"\n\n@{mobile}"  # DingTalk mentions only numbers that also appear in the text
        parts = split_markdown(message.rendered.markdown, MAX_TEXT_BYTES, mention)
        title = message.rendered.subject
        return [
            {"msgtype": "markdown",
             "markdown": {"title": title if len(parts) == 1 else f"{title}（{k}/{len(parts)}）", "text": text},
             "at": at if k == 1 else {"atMobiles": [], "isAtAll": False}}
            for k, text in enumerate(parts, 1)
        ]

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

        def post(body: dict[str, Any]) -> None:
            url = self.signed_url(message.recipient)  # signed per post: the signature's time must be fresh
            _, answer = post_json(self.name, message.recipient, url, encode_json(body), headers, self.timeout)
            check_errcode(self.name, message.recipient, answer, TRANSIENT_ERRCODES)

        post_parts(self.bodies(message), message.parts_sent, post)

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
