"""A secret named by `*_env` whose environment variable is unset fails each send, never goes out unsigned."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

import cli
from engine.clock import ManualClock
from notifiers.base import create_channel
from notifiers.cli import DEFAULT_DIRECTORY
from notifiers.directory import YamlDirectory
from notifiers.dispatcher import OutboxDispatcher
from notifiers.errors import DeliveryError
from notifiers.rendering import TemplateRenderer
from tests.notifiers.receivers import HttpServer, MailServer
from tests.notifiers.test_channels import outgoing
from tests.notifiers.test_dispatcher import enqueue, messages


def _http_settings(http_server: HttpServer) -> dict[str, dict[str, Any]]:
    return {
        "webhook": {"type": "webhook", "url": http_server.url("/hook"), "secret_env": "SHIXIAN_WEBHOOK_SECRET"},
        "dingtalk": {"type": "dingtalk", "webhook": http_server.url("/robot/send?access_token=tok"),
                     "secret_env": "SHIXIAN_WEBHOOK_SECRET"},
        "wecom": {"type": "wecom", "url": http_server.url("/cgi-bin/webhook/send"),
                  "key_env": "SHIXIAN_WEBHOOK_SECRET"},
    }


@pytest.mark.parametrize("kind", ["webhook", "dingtalk", "wecom"])
@pytest.mark.parametrize("environ", [{}, {"SHIXIAN_WEBHOOK_SECRET": ""}])
def test_an_unset_secret_variable_fails_the_send_before_posting(
    kind: str, environ: dict[str, str], http_server: HttpServer, clock: ManualClock
) -> None:
    """Webhook, DingTalk and WeCom channels naming an unset (or empty) variable post nothing and fail for good."""
    channel = create_channel(kind, _http_settings(http_server)[kind], clock, environ=environ)
    with pytest.raises(DeliveryError) as caught:
        channel.send(outgoing(kind, "13800000000"))
    assert http_server.received == []
    assert caught.value.transient is False
    assert "environment variable SHIXIAN_WEBHOOK_SECRET is " in caught.value.detail
    assert ("empty" if environ else "not set") in caught.value.detail


@pytest.mark.parametrize("missing", ["SHIXIAN_SMTP_USER", "SHIXIAN_SMTP_PASSWORD"])
def test_smtp_with_an_unset_login_variable_sends_no_mail(
    missing: str, mail_server: MailServer, clock: ManualClock
) -> None:
    """An SMTP channel whose user_env or password_env is unset does not send (not even without a login)."""
    environ = {"SHIXIAN_SMTP_USER": "shixian", "SHIXIAN_SMTP_PASSWORD": "pw"}
    del environ[missing]
    settings = {"type": "smtp", "host": "127.0.0.1", "port": mail_server.port, "from": "shixian@example.gov.cn",
                "user_env": "SHIXIAN_SMTP_USER", "password_env": "SHIXIAN_SMTP_PASSWORD", "timeout": 5}
    channel = create_channel("email", settings, clock, environ=environ)
    with pytest.raises(DeliveryError) as caught:
        channel.send(outgoing("email", "zhang.wei@gaj.liuzhou.example.gov.cn"))
    assert mail_server.inbox == []
    assert caught.value.transient is False
    assert f"environment variable {missing} is not set" in caught.value.detail


def test_a_set_secret_variable_signs(http_server: HttpServer, clock: ManualClock) -> None:
    """With the variable set, the webhook body is signed with its value."""
    settings = _http_settings(http_server)["webhook"]
    channel = create_channel("webhook", settings, clock, environ={"SHIXIAN_WEBHOOK_SECRET": "s3cret"})
    channel.send(outgoing("webhook", "desk"))
    [got] = http_server.received
    assert got.headers["X-Shixian-Signature"].startswith("sha256=")


def test_the_dispatcher_dead_letters_with_the_reason(
    outbox_engine: Engine, clock: ManualClock, http_server: HttpServer
) -> None:
    """Through the outbox, such a message goes dead on its first attempt, its error naming the variable."""
    enqueue(outbox_engine, clock, 2, channel="hook")
    channels = {"hook": create_channel("hook", _http_settings(http_server)["webhook"], clock, environ={})}
    OutboxDispatcher(outbox_engine, channels, TemplateRenderer(), clock, rng=random.Random(0)).dispatch()
    final = messages(outbox_engine)
    assert [(m.status, m.attempts) for m in final] == [("dead", 1), ("dead", 1)]
    assert all("environment variable SHIXIAN_WEBHOOK_SECRET is not set" in (m.last_error or "") for m in final)
    assert http_server.received == []


def test_notify_test_reports_the_unset_variable(
    tmp_path: Path, http_server: HttpServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`notify test` on a webhook whose secret variable is not exported exits 1 naming it, and posts nothing."""
    monkeypatch.delenv("SHIXIAN_WEBHOOK_SECRET", raising=False)
    path = tmp_path / "dir.yaml"
    path.write_text(json.dumps({"channels": {"platform": _http_settings(http_server)["webhook"]},
                                "departments": [], "people": []}), encoding="utf-8")
    code = cli.main(["notify", "test", "platform", "desk-1", "--directory", str(path)])
    _, err = capsys.readouterr()
    assert code == 1
    assert "environment variable SHIXIAN_WEBHOOK_SECRET is not set" in err
    assert http_server.received == []


def test_an_unused_channel_with_unset_variables_does_not_stop_the_directory(clock: ManualClock) -> None:
    """The example directory names SMTP login variables nobody exports: it still loads, its file channel works."""
    directory = YamlDirectory(DEFAULT_DIRECTORY, clock, environ={})
    assert set(directory.channels) == {"file", "email"}
