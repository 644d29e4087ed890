"""notifiers/README.md keeps its promises: the wiring example runs, file names and webhook contacts are as said."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import cast

import pytest

from engine.clock import ManualClock
from notifiers.base import create_channel
from notifiers.dispatcher import OutboxDispatcher
from storage.outbox import insert_outbox_ignore_duplicates
from storage.sql import SqlInstanceStore
from tests.notifiers.conftest import SAMPLE_DATA
from tests.notifiers.receivers import HttpServer
from tests.notifiers.test_channels import outgoing

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "notifiers" / "README.md").read_text(encoding="utf-8")
EXAMPLE = ROOT / "notifiers" / "example_directory.yaml"


def test_the_wiring_example_runs_and_its_dispatcher_sends(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """The 'Wiring' example runs as written in a scratch folder; the dispatcher it builds sends a queued alert
    to the example directory's file channel there."""
    code = re.search(r"## Wiring\n\n```python\n(.*?)```", README, re.S)
    assert code is not None
    source = code.group(1).replace('"notifiers/example_directory.yaml"', repr(str(EXAMPLE)))
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    exec(compile(source, "notifiers/README.md", "exec"), namespace)
    printed = capsys.readouterr().out
    store = cast(SqlInstanceStore, namespace["store"])
    clock = cast(ManualClock, namespace["clock"])
    dispatcher = cast(OutboxDispatcher, namespace["dispatcher"])
    with store.engine.begin() as conn:
        insert_outbox_ignore_duplicates(conn, [{
            "created_at": clock.now(), "channel": "file", "recipient": "lz-dsj-supervisor",
            "recipient_address": "liangjianguo@dsj.liuzhou.example.gov.cn", "template": "sla_breach",
            "data": SAMPLE_DATA, "kind": "breach", "dedupe_key": "readme:1"}])
    clock.advance(dispatcher.settle)  # a breach waits for the settle window, in case more are being written
    handled = dispatcher.dispatch()
    assert printed.strip() == "0 message(s) handled"
    assert handled == 1
    assert (tmp_path / "shixian.db").is_file()
    assert len(list((tmp_path / "var" / "notifications" / "lz-dsj-supervisor").glob("*.eml"))) == 1


def test_the_file_channel_names_files_as_documented(tmp_path: Path, clock: ManualClock) -> None:
    """The README gives `<dir>/<recipient>/<digest>.eml`, the digest the first 32 hex digits of the dedupe key's
    SHA-256; that is the file the channel writes."""
    channel = create_channel("file", {"type": "file", "dir": str(tmp_path)}, clock)
    channel.send(outgoing("file", "p1@example.gov.cn", "breach:42:provider_approval:p1:file"))
    digest = hashlib.sha256(b"breach:42:provider_approval:p1:file").hexdigest()[:32]
    assert "`<dir>/<recipient>/<digest>.eml`" in README
    assert "first 32 hex digits of the SHA-256 of the dedupe key" in README
    assert "named by its dedupe key" not in README
    assert [p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.eml")] == [f"p1/{digest}.eml"]


def test_a_webhook_contact_url_replaces_the_channel_url_as_documented(http_server: HttpServer,
                                                                      clock: ManualClock) -> None:
    """The README says a webhook contact holding an http(s) URL is posted to instead of the channel's `url`."""
    channel = create_channel("hook", {"type": "webhook", "url": "http://127.0.0.1:9/unused"}, clock)
    channel.send(outgoing("hook", http_server.url("/desk/p1")))
    [got] = http_server.received
    assert "an http(s) URL as a contact replaces `url`" in README
    assert got.path == "/desk/p1"
