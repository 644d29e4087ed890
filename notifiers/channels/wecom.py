"""WeCom (企业微信) group robot channel: markdown messages to `.../cgi-bin/webhook/send?key=KEY`.

Success is HTTP 200 with errcode 0. Markdown content is limited to 4096 bytes, so longer text goes as several
messages (`robot_markdown`), the mention in the first. An address other than `-` is a WeCom user id mentioned
with `<@userid>` (`@all` mentions everyone).
"""

from __future__ import annotations

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
from notifiers.errors import ChannelConfigError, DeliveryError

DEFAULT_URL = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send"
MAX_CONTENT_BYTES = 4096
#: A WeCom member's UserID: 1-64 bytes of letters, digits and "_-@.", the first a letter or digit.
_USER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")
#: errcodes worth retrying: -1 system busy, 45009 API frequency limit (20 messages a minute per robot).
TRANSIENT_ERRCODES = frozenset({-1, 45009})


class WeComNotifier:
    """Posts markdown to one WeCom group robot."""

    def __init__(
        self, name: str, url: str, key: Callable[[], str | None], clock: Clock, timeout: float = 10.0
    ) -> None:
        self.name = name
        self.url = url
        self._key = key
        self.clock = clock
        self.timeout = timeout

    def check_address(self, address: str) -> str | None:
        """A WeCom user id (1-64 letters, digits and `_-@.`, a letter or digit first, as WeCom defines it), `@all`,
        or `-` for no mention: anything else would be written into the markdown's `<@...>` as it stands."""
        if address.strip() in ("", "-", "@all") or _USER_ID.fullmatch(address):
            return None
        return (f"{address!r} is not a WeCom user id to @-mention (1-64 letters, digits and _-@., starting with a "
                "letter or digit, e.g. ZhangSan), @all, or - for no mention")

    def endpoint(self, address: str) -> str:
        return self.url

    def bodies(self, message: Outgoing) -> list[dict[str, Any]]:
        """The messages to post, in order: one, or several when the markdown is over the robot's limit."""
        address = message.address.strip()
        mention = ""
        if address and address != "-":
            mention = f"\n<@{address[1:] if address == '@all' else address}>"
        return [{"msgtype": "markdown", "markdown": {"content": part}}
                for part in split_markdown(message.rendered.markdown, MAX_CONTENT_BYTES, mention)]

    def send(self, message: Outgoing) -> None:
        key = read_secret(self.name, message.recipient, self._key)
        if not key:
            raise DeliveryError(self.name, message.recipient, "no robot key: set `key` or `key_env`", transient=False)
        url = f"{self.url}?{urllib.parse.urlencode({'key': key})}"
        headers = {"X-Shixian-Dedupe-Key": message.dedupe_key}

        def post(body: dict[str, Any]) -> None:
            _, answer = post_json(self.name, message.recipient, url, encode_json(body), headers, self.timeout)
            check_errcode(self.name, message.recipient, answer, TRANSIENT_ERRCODES)

        post_parts(self.bodies(message), message.parts_sent, post)

    def close(self) -> None:
        """Nothing held between sends."""


@register_channel_type("wecom")
def _create(name: str, settings: Mapping[str, Any], clock: Clock, environ: Mapping[str, str]) -> WeComNotifier:
    reject_unknown(name, settings, frozenset({"url", "key", "key_env"}))
    url = setting_str(name, settings, "url", DEFAULT_URL)
    problem = check_url(url)
    if problem:
        raise ChannelConfigError(name, "url", problem)
    key = secret_value(name, settings, "key", environ)
    if "key" not in settings and "key_env" not in settings:
        raise ChannelConfigError(name, "key", "set the robot's webhook key (`key`) or its env var name (`key_env`)")
    return WeComNotifier(name, url, key, clock, setting_float(name, settings, "timeout", 10.0))
