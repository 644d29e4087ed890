"""Channels against real receivers: SMTP (aiosmtpd), webhook, DingTalk and WeCom (http.server), file."""

from __future__ import annotations

import base64
import email
import email.policy
import hashlib
import hmac
import json
from pathlib import Path

import pytest

from engine.clock import ManualClock
from notifiers.base import Outgoing, create_channel
from notifiers.errors import ChannelConfigError, DeliveryError
from notifiers.rendering import TemplateRenderer
from tests.notifiers.conftest import SAMPLE_DATA
from tests.notifiers.receivers import HttpServer, MailServer, Received, free_port


def outgoing(channel: str, address: str, key: str = "breach:42:provider_approval:p1:email") -> Outgoing:
    rendered = TemplateRenderer().render("sla_breach", SAMPLE_DATA)
    return Outgoing(channel, "p1", address, rendered, key, "breach", "sla_breach", SAMPLE_DATA)


def test_smtp_delivers_chinese_subject_text_html_and_dedupe_header(mail_server: MailServer, clock: ManualClock) -> None:
    """An alert arrives by SMTP with a decoded Chinese subject, text and HTML parts, and the dedupe headers."""
    channel = create_channel("email", {"type": "smtp", "host": "127.0.0.1", "port": mail_server.port,
                                       "from": "shixian@dsj.liuzhou.example.gov.cn"}, clock)
    message = outgoing("email", "zhang.wei@gaj.liuzhou.example.gov.cn")
    channel.send(message)
    [mail] = mail_server.inbox
    text = mail.get_body(("plain",))
    html = mail.get_body(("html",))
    assert mail["Subject"] == message.rendered.subject
    assert "【超时】数据需求申请" in str(mail["Subject"])
    assert text is not None and "业务编号：GX-2026-0042" in text.get_content()
    assert html is not None and "<table" in html.get_content()
    assert mail["X-Shixian-Dedupe-Key"] == message.dedupe_key
    assert mail["Message-ID"] == f"<{message.dedupe_digest}@dsj.liuzhou.example.gov.cn>"


def test_smtp_down_is_a_transient_delivery_error(clock: ManualClock) -> None:
    """A refused connection is reported as a transient DeliveryError naming channel and recipient."""
    channel = create_channel("email", {"type": "smtp", "host": "127.0.0.1", "port": free_port(),
                                       "from": "shixian@example.gov.cn", "timeout": 2}, clock)
    with pytest.raises(DeliveryError) as caught:
        channel.send(outgoing("email", "a@example.gov.cn"))
    assert caught.value.transient is True
    assert (caught.value.channel, caught.value.recipient) == ("email", "p1")


def test_smtp_bad_address_is_permanent(clock: ManualClock) -> None:
    """An address that is not a mail address fails permanently, before any connection."""
    channel = create_channel("email", {"type": "smtp", "host": "127.0.0.1", "port": 1, "from": "s@example.gov.cn"},
                             clock)
    with pytest.raises(DeliveryError) as caught:
        channel.send(outgoing("email", "not-an-address"))
    assert caught.value.transient is False


def _webhook_check(secret: str) -> object:
    def check(got: Received) -> tuple[int, bytes] | None:
        expected = "sha256=" + hmac.new(secret.encode(), got.body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(got.headers.get("X-Shixian-Signature", ""), expected):
            return 401, b"bad signature"
        return None

    return check


def test_webhook_posts_signed_json(http_server: HttpServer, clock: ManualClock) -> None:
    """The webhook body carries the dedupe key and timestamp; the server recomputes the HMAC and accepts it."""
    http_server.behaviour.check = _webhook_check("s3cret")  # type: ignore[assignment]
    http_server.behaviour.body = b"{}"
    channel = create_channel("hook", {"type": "webhook", "url": http_server.url("/alerts"), "secret": "s3cret"}, clock)
    message = outgoing("hook", "p1-desk")
    channel.send(message)
    [got] = http_server.received
    body = got.json()
    assert got.path == "/alerts"
    assert body["dedupe_key"] == message.dedupe_key == got.headers["X-Shixian-Dedupe-Key"]
    assert body["timestamp"] == int(clock.now().timestamp()) == int(got.headers["X-Shixian-Timestamp"])
    assert body["data"]["business_key"] == "GX-2026-0042"
    assert body["subject"] == message.rendered.subject


def test_webhook_wrong_secret_is_refused_permanently(http_server: HttpServer, clock: ManualClock) -> None:
    """When the receiver rejects the signature (HTTP 401), the error is permanent."""
    http_server.behaviour.check = _webhook_check("right")  # type: ignore[assignment]
    channel = create_channel("hook", {"type": "webhook", "url": http_server.url(), "secret": "wrong"}, clock)
    with pytest.raises(DeliveryError) as caught:
        channel.send(outgoing("hook", "x"))
    assert caught.value.transient is False
    assert "401" in caught.value.detail


def test_webhook_server_error_is_transient(http_server: HttpServer, clock: ManualClock) -> None:
    """An HTTP 503 from the receiver is a transient failure."""
    http_server.behaviour.status = 503
    channel = create_channel("hook", {"type": "webhook", "url": http_server.url()}, clock)
    with pytest.raises(DeliveryError) as caught:
        channel.send(outgoing("hook", "x"))
    assert caught.value.transient is True


def _dingtalk_check(secret: str) -> object:
    def check(got: Received) -> tuple[int, bytes] | None:
        timestamp = got.query["timestamp"][0]
        expected = base64.b64encode(
            hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
        ).decode()
        if got.query.get("access_token") != ["tok"] or got.query["sign"][0] != expected:
            return 200, json.dumps({"errcode": 310000, "errmsg": "sign not match"}).encode()
        return None

    return check


def test_dingtalk_signs_as_dingtalk_specifies(http_server: HttpServer, clock: ManualClock) -> None:
    """The robot URL carries timestamp (ms) and sign; the server recomputes the sign; the body is markdown."""
    http_server.behaviour.check = _dingtalk_check("SECxyz")  # type: ignore[assignment]
    channel = create_channel("ding", {"type": "dingtalk", "webhook": http_server.url("/robot/send?access_token=tok"),
                                      "secret": "SECxyz"}, clock)
    message = outgoing("ding", "13800000000")
    channel.send(message)
    [got] = http_server.received
    body = got.json()
    assert int(got.query["timestamp"][0]) == int(clock.now().timestamp() * 1000)
    assert body["msgtype"] == "markdown"
    assert body["markdown"]["title"] == message.rendered.subject
    assert "GX-2026-0042" in body["markdown"]["text"] and "@13800000000" in body["markdown"]["text"]
    assert body["at"]["atMobiles"] == ["13800000000"]


def test_dingtalk_nonzero_errcode_is_a_failure(http_server: HttpServer, clock: ManualClock) -> None:
    """HTTP 200 with a non-zero errcode (wrong secret) fails permanently; rate limiting (130101) is transient."""
    http_server.behaviour.check = _dingtalk_check("right")  # type: ignore[assignment]
    wrong = create_channel("ding", {"type": "dingtalk", "webhook": http_server.url("/robot/send?access_token=tok"),
                                    "secret": "wrong"}, clock)
    with pytest.raises(DeliveryError) as signed_wrong:
        wrong.send(outgoing("ding", "-"))
    http_server.behaviour.check = None
    http_server.behaviour.body = b'{"errcode":130101,"errmsg":"send too fast"}'
    with pytest.raises(DeliveryError) as too_fast:
        wrong.send(outgoing("ding", "-"))
    assert signed_wrong.value.transient is False
    assert "310000" in signed_wrong.value.detail
    assert too_fast.value.transient is True


def test_wecom_posts_markdown_with_key(http_server: HttpServer, clock: ManualClock) -> None:
    """The WeCom robot gets `{"msgtype": "markdown", "markdown": {"content"}}` at ?key=KEY."""
    channel = create_channel("wx", {"type": "wecom", "url": http_server.url("/cgi-bin/webhook/send"),
                                    "key": "k-123"}, clock)
    channel.send(outgoing("wx", "zhangwei"))
    [got] = http_server.received
    body = got.json()
    assert got.path == "/cgi-bin/webhook/send" and got.query["key"] == ["k-123"]
    assert body["msgtype"] == "markdown"
    assert "GX-2026-0042" in body["markdown"]["content"] and "<@zhangwei>" in body["markdown"]["content"]


def test_wecom_errcode_and_length_limit(http_server: HttpServer, clock: ManualClock) -> None:
    """A non-zero errcode fails at the first part; content longer than 4096 bytes goes as several parts, each
    within the limit, the long line split on character boundaries and nothing of it lost."""
    channel = create_channel("wx", {"type": "wecom", "url": http_server.url("/send"), "key": "k"}, clock)
    long = dict(SAMPLE_DATA, what_to_do="请办理。" * 2000)
    rendered = TemplateRenderer().render("sla_breach", long)
    channel.send(Outgoing("wx", "p1", "-", rendered, "k1"))
    parts = [r.json()["markdown"]["content"] for r in http_server.received]
    http_server.behaviour.body = b'{"errcode":93000,"errmsg":"invalid webhook url"}'
    with pytest.raises(DeliveryError) as caught:
        channel.send(Outgoing("wx", "p1", "-", rendered, "k2"))
    assert caught.value.transient is False
    assert len(http_server.received) == len(parts) + 1
    assert len(parts) == 5 and all(len(part.encode("utf-8")) <= 4096 for part in parts)
    assert "行因消息长度限制未列出，请登录时限系统查看完整清单。\n\n（第5/5条）" in parts[-1]


def test_file_channel_writes_one_eml_per_message_and_overwrites_repeats(tmp_path: Path, clock: ManualClock) -> None:
    """The file channel writes one parseable .eml per dedupe key; a repeated send does not double it."""
    channel = create_channel("file", {"type": "file", "dir": str(tmp_path / "out")}, clock)
    channel.send(outgoing("file", "p1@example.gov.cn", "k1"))
    channel.send(outgoing("file", "p1@example.gov.cn", "k1"))
    channel.send(outgoing("file", "p1@example.gov.cn", "k2"))
    files = sorted((tmp_path / "out").rglob("*.eml"))
    parsed = email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default)
    assert len(files) == 2
    assert "【超时】" in str(parsed["Subject"])
    assert not list((tmp_path / "out").rglob("*.tmp"))


@pytest.mark.parametrize(
    ("settings", "setting"),
    [
        ({"type": "pigeon"}, "type"),
        ({"type": "smtp", "host": "h", "from": "a@b.cn", "prot": 25}, "prot"),
        ({"type": "smtp", "host": "h"}, "from"),
        ({"type": "webhook", "url": "ftp://x"}, "url"),
        ({"type": "wecom"}, "key"),
        ({"type": "smtp", "host": "h", "from": "a@b.cn", "port": "25"}, "port"),
    ],
)
def test_bad_channel_settings_name_the_setting(settings: dict[str, object], setting: str, clock: ManualClock) -> None:
    """A wrong or unknown channel setting is a ChannelConfigError naming that setting."""
    with pytest.raises(ChannelConfigError) as caught:
        create_channel("c", settings, clock)
    assert caught.value.setting == setting


def test_a_silent_endpoint_times_out_as_a_transient_error(clock: ManualClock) -> None:
    """An endpoint that accepts the connection but never answers fails after the timeout, transiently."""
    import socket

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        port = silent.getsockname()[1]
        channel = create_channel("hook", {"type": "webhook", "url": f"http://127.0.0.1:{port}/", "timeout": 0.3},
                                 clock)
        with pytest.raises(DeliveryError) as caught:
            channel.send(outgoing("hook", "x"))
    assert caught.value.transient is True
    assert "timed out" in caught.value.detail
