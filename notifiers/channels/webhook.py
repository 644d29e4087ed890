"""Generic webhook channel: a JSON POST, signed with HMAC-SHA256 over the exact body when a secret is set.

Headers: `X-Shixian-Dedupe-Key`, `X-Shixian-Timestamp` (Unix seconds, also the body's `timestamp`, so the
signature covers it) and `X-Shixian-Signature: sha256=<hex of HMAC-SHA256(secret, body)>`.
"""

from __future__ import annotations

import hashlib
import hmac
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
from notifiers.channels.http_post import check_url, encode_json, post_json
from notifiers.errors import ChannelConfigError, DeliveryError

SIGNATURE_HEADER = "X-Shixian-Signature"
TIMESTAMP_HEADER = "X-Shixian-Timestamp"
DEDUPE_HEADER = "X-Shixian-Dedupe-Key"


def sign_body(secret: str, body: bytes) -> str:
    """The signature header's value for `body`: what a receiver recomputes and compares."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


class WebhookNotifier:
    """POSTs every message as JSON to one URL (or to the recipient's own URL when the address is one)."""

    def __init__(
        self, name: str, url: str, clock: Clock, secret: Callable[[], str | None] = lambda: None, timeout: float = 10.0
    ) -> None:
        self.name = name
        self.url = url
        self.clock = clock
        self._secret = secret
        self.timeout = timeout

    def check_address(self, address: str) -> str | None:
        if address.startswith(("http://", "https://")):
            return check_url(address)
        return None if address.strip() else "empty address"

    def endpoint(self, address: str) -> str:
        return address if address.startswith(("http://", "https://")) else self.url

    def body(self, message: Outgoing, timestamp: int) -> dict[str, Any]:
        return {
            "dedupe_key": message.dedupe_key,
            "timestamp": timestamp,
            "kind": message.kind,
            "template": message.template,
            "recipient": {"id": message.recipient, "address": message.address},
            "subject": message.rendered.subject,
            "text": message.rendered.text,
            "markdown": message.rendered.markdown,
            "data": dict(message.data),
        }

    def send(self, message: Outgoing) -> None:
        problem = self.check_address(message.address)
        if problem:
            raise DeliveryError(self.name, message.recipient, problem, transient=False)
        secret = read_secret(self.name, message.recipient, self._secret)
        url = self.endpoint(message.address)
        timestamp = int(self.clock.now().timestamp())
        body = encode_json(self.body(message, timestamp))
        headers = {DEDUPE_HEADER: message.dedupe_key, TIMESTAMP_HEADER: str(timestamp)}
        if secret:
            headers[SIGNATURE_HEADER] = sign_body(secret, body)
        post_json(self.name, message.recipient, url, body, headers, self.timeout)

    def close(self) -> None:
        """Nothing held between sends."""


@register_channel_type("webhook")
def _create(name: str, settings: Mapping[str, Any], clock: Clock, environ: Mapping[str, str]) -> WebhookNotifier:
    reject_unknown(name, settings, frozenset({"url", "secret", "secret_env"}))
    url = setting_str(name, settings, "url")
    problem = check_url(url)
    if problem:
        raise ChannelConfigError(name, "url", problem)
    return WebhookNotifier(name, url, clock, secret_value(name, settings, "secret", environ),
                           setting_float(name, settings, "timeout", 10.0))
