"""The `outbox` and `notify` commands: listing, dead-letter retry, one dispatch round, a test alert."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import Session

import cli
from engine.clock import SystemClock
from storage.outbox import claim_due, insert_outbox_ignore_duplicates, mark_dead
from storage.sql import SqlInstanceStore
from tests.notifiers.conftest import SAMPLE_DATA
from tests.notifiers.receivers import MailServer


def seed_dead(db: str, n: int) -> None:
    engine = SqlInstanceStore(db).engine
    now = SystemClock().now()
    written = now - timedelta(minutes=5)  # a message goes dead some time after it was written
    rows = [{"created_at": written, "channel": "file", "recipient": f"p{i}",
             "recipient_address": f"p{i}@x.example.gov.cn", "template": "sla_breach", "data": SAMPLE_DATA,
             "kind": "breach", "dedupe_key": f"k{i}"}
            for i in range(n)]
    with engine.begin() as conn:
        insert_outbox_ignore_duplicates(conn, rows)
    with Session(engine) as session:
        for m in claim_due(session, now, "w", timedelta(minutes=5), 10):
            mark_dead(session, m.id or 0, "w", "server gone")
        session.commit()
    engine.dispose()


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def directory_file(tmp_path: Path, smtp_port: int = 9) -> Path:
    path = tmp_path / "dir.yaml"
    path.write_text(f"""\
channels:
  file: {{type: file, dir: "{tmp_path / 'mail'}"}}
  email: {{type: smtp, host: 127.0.0.1, port: {smtp_port}, from: shixian@dsj.liuzhou.example.gov.cn, timeout: 2}}
departments:
  - {{code: 11450200007565127X, name: 柳州市公安局}}
people:
  - id: lz-gaj-auditor
    name: 陆振华
    department: 11450200007565127X
    roles: [data_auditor]
    contacts: {{file: luzhenhua@gaj.liuzhou.example.gov.cn, email: luzhenhua@gaj.liuzhou.example.gov.cn}}
""", encoding="utf-8")
    return path


def test_dead_messages_are_listed_and_retried(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`outbox dead` lists dead messages; `outbox retry ID` and `--all-dead` make them pending again."""
    seed_dead(db_url, 3)
    _, dead_out, _ = run(capsys, "outbox", "dead", "--json", "--db", db_url)
    dead = json.loads(dead_out)
    one = run(capsys, "outbox", "retry", str(dead[0]["id"]), "--db", db_url)
    rest = run(capsys, "outbox", "retry", "--all-dead", "--db", db_url)
    again = run(capsys, "outbox", "retry", str(dead[0]["id"]), "--db", db_url)
    _, pending_out, _ = run(capsys, "outbox", "list", "--status", "pending", "--json", "--db", db_url)
    _, table, _ = run(capsys, "outbox", "list", "--db", db_url)
    assert [(d["status"], d["last_error"]) for d in dead] == [("dead", "server gone")] * 3
    assert (one[0], rest[0], again[0]) == (0, 0, 1)
    assert "1 message(s) moved" in one[1] and "2 message(s) moved" in rest[1]
    assert "is pending, not dead" in again[2]
    assert sorted(p["attempts"] for p in json.loads(pending_out)) == [0, 0, 0]
    assert table.count("pending") == 3


def test_bad_arguments_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown status, or retry without ID or --all-dead, is refused with exit code 2."""
    db = str(tmp_path / "s.db")
    status = run(capsys, "outbox", "list", "--status", "lost", "--db", db)
    retry = run(capsys, "outbox", "retry", "--db", db)
    assert status[0] == 2 and "pending" in status[2]
    assert retry[0] == 2 and "--all-dead" in retry[2]


def test_dispatch_once_sends_retried_messages(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """After a retry, `outbox dispatch` sends the messages through the directory's channels."""
    db = str(tmp_path / "s.db")
    seed_dead(db, 2)
    run(capsys, "outbox", "retry", "--all-dead", "--db", db)
    code, out, _ = run(capsys, "outbox", "dispatch", "--db", db, "--directory", str(directory_file(tmp_path)))
    _, sent, _ = run(capsys, "outbox", "list", "--status", "sent", "--json", "--db", db)
    assert code == 0 and "2 message(s) handled" in out
    assert len(json.loads(sent)) == 2
    assert len(list((tmp_path / "mail").rglob("*.eml"))) == 2


def test_notify_test_sends_a_sample_warning_by_mail(
    tmp_path: Path, mail_server: MailServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """`notify test email PERSON` renders a sample warning and delivers it to the person's mail address."""
    path = directory_file(tmp_path, mail_server.port)
    code, out, _ = run(capsys, "notify", "test", "email", "lz-gaj-auditor", "--directory", str(path))
    [mail] = mail_server.inbox
    assert code == 0 and "sent 'sla_warning'" in out
    assert str(mail["To"]) == "luzhenhua@gaj.liuzhou.example.gov.cn"
    assert str(mail["Subject"]).startswith("【预警】")
    assert str(mail["X-Shixian-Dedupe-Key"]).strip().startswith("test:")  # a long value is folded (RFC 5322)


def test_notify_test_reports_failures(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown channel exits 2 listing the configured ones; an unreachable server exits 1 saying so."""
    path = str(directory_file(tmp_path))
    unknown = run(capsys, "notify", "test", "pager", "lz-gaj-auditor", "--directory", path)
    down = run(capsys, "notify", "test", "email", "lz-gaj-auditor", "--directory", path)
    assert unknown[0] == 2 and "known: email, file" in unknown[2]
    assert down[0] == 1 and "unreachable" in down[2]
    # sent directly, not through the outbox: nothing retries it, and the error does not say it will be
    assert "the test message was not sent (nothing retries it" in down[2] and "will be retried" not in down[2]


def test_example_directory_is_the_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """Without --directory, the example directory is used: its file channel writes under var/notifications."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SHIXIAN_DIRECTORY", raising=False)
    code, out, _ = run(capsys, "notify", "test", "file", "lz-dsj-supervisor")
    assert code == 0 and "liangjianguo@dsj.liuzhou.example.gov.cn" in out
    assert len(list((tmp_path / "var" / "notifications" / "lz-dsj-supervisor").glob("*.eml"))) == 1


@pytest.mark.parametrize("command", [["list"], ["dead"], ["retry", "--all-dead"], ["dispatch", "--directory", "x"]])
def test_a_mistyped_database_path_is_refused_not_created(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                         command: list[str]) -> None:
    """The outbox commands on a path with no database say so and create nothing (not "(no messages)")."""
    typo = tmp_path / "shixan.db"
    code, out, err = run(capsys, "outbox", *command, "--db", str(typo))
    assert code == 2 and out == ""
    assert f"no database at {typo}" in err
    assert not typo.exists()


def test_dispatch_needs_the_deployments_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """Real messages never go out through the example directory's channels: --directory (or
    SHIXIAN_DIRECTORY) is required, and nothing is claimed without it."""
    monkeypatch.delenv("SHIXIAN_DIRECTORY", raising=False)
    db = str(tmp_path / "s.db")
    seed_dead(db, 1)
    run(capsys, "outbox", "retry", "--all-dead", "--db", db)
    code, _, err = run(capsys, "outbox", "dispatch", "--db", db)
    _, pending, _ = run(capsys, "outbox", "list", "--status", "pending", "--json", "--db", db)
    assert code == 2 and "--directory" in err and "SHIXIAN_DIRECTORY" in err
    assert len(json.loads(pending)) == 1


def test_retry_of_a_message_that_does_not_exist_says_so(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`outbox retry ID` for an id the outbox does not hold says there is no such message, not that it is not dead."""
    seed_dead(db_url, 1)
    _, dead_out, _ = run(capsys, "outbox", "dead", "--json", "--db", db_url)
    missing = json.loads(dead_out)[0]["id"] + 1000
    code, out, err = run(capsys, "outbox", "retry", str(missing), "--db", db_url)
    assert code == 1 and out == ""
    assert f"no message {missing} in the outbox" in err
    assert "not dead" not in err


def test_retry_of_a_message_that_is_not_dead_names_its_status(db_url: str,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """`outbox retry ID` for a pending message says it is pending, so only dead ones are retried."""
    seed_dead(db_url, 1)
    _, dead_out, _ = run(capsys, "outbox", "dead", "--json", "--db", db_url)
    [dead] = json.loads(dead_out)
    run(capsys, "outbox", "retry", str(dead["id"]), "--db", db_url)
    code, _, err = run(capsys, "outbox", "retry", str(dead["id"]), "--db", db_url)
    assert code == 1
    assert f"message {dead['id']} is pending, not dead" in err


def test_dead_shows_the_reason_at_the_end_of_a_long_error(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`outbox dead` prints the error's first line in full, so a reason at its end (HTTP 403) is visible."""
    engine = SqlInstanceStore(db_url).engine
    now = SystemClock().now()
    error = ("channel 'platform' could not deliver to 'gx-dsj-reviewer': HTTP 403 from gxzw.example.gov.cn: "
             "signature rejected (retrying will not help: fix the address or channel settings)\nsecond line")
    with engine.begin() as conn:
        insert_outbox_ignore_duplicates(conn, [{
            "created_at": now, "channel": "platform", "recipient": "gx-dsj-reviewer", "recipient_address": "desk",
            "template": "sla_breach", "data": SAMPLE_DATA, "kind": "breach", "dedupe_key": "k-403"}])
    with Session(engine) as session:
        [m] = claim_due(session, now, "w", timedelta(minutes=5), 10)
        mark_dead(session, m.id or 0, "w", error)
        session.commit()
    engine.dispose()
    code, out, _ = run(capsys, "outbox", "dead", "--db", db_url)
    [row] = [line for line in out.splitlines() if "gx-dsj-reviewer" in line]
    assert code == 0
    assert "HTTP 403 from gxzw.example.gov.cn: signature rejected" in row
    assert "retrying will not help" in row
    assert "second line" not in out


@pytest.mark.parametrize("argv", [["list", "--limit", "99999999999999999999"], ["list", "--limit", "-1"],
                                  ["list", "--limit", "0"], ["dead", "--limit", "20000"],
                                  ["retry", "99999999999999999999"], ["retry", "0"]])
def test_limits_and_ids_out_of_range_are_usage_errors(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """A page size outside 1..10000 (as `show` takes) or a message id no 64-bit column holds exits 2 by name."""
    with pytest.raises(SystemExit) as exit_:
        cli.main(["outbox", *argv])
    err = capsys.readouterr().err
    assert exit_.value.code == 2
    assert ("--limit" in err and "at least 1 and at most 10000" in err) or "a message id is a whole number" in err
    assert "Traceback" not in err


def test_a_file_that_is_no_database_is_a_runtime_failure(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A --db the store cannot read exits 1 (the database failed), not 2 (the command line was right)."""
    garbage = tmp_path / "not.db"
    garbage.write_bytes(b"this is not a database\x00" * 100)
    code, out, err = run(capsys, "outbox", "list", "--db", str(garbage))
    assert (code, out) == (1, "") and err.startswith("error: the database is unavailable")


@pytest.mark.parametrize(("channel", "recipient", "said"), [
    ("file", "lz-gaj-audtor", "(did you mean 'lz-gaj-auditor'?)"),
    ("email", "nobody", "expected name@domain"),
])
def test_notify_test_refuses_a_recipient_that_is_neither_person_nor_address(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], channel: str, recipient: str, said: str) -> None:
    """A mistyped person id is not sent to as a raw address: exit 2 naming the nearest person, nothing written."""
    code, out, err = run(capsys, "notify", "test", channel, recipient, "--directory", str(directory_file(tmp_path)))
    assert (code, out) == (2, "")
    assert said in err and "no person id of the directory" in err
    assert not (tmp_path / "mail").exists()


def test_notify_test_still_takes_a_raw_address(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An address on the channel that reads as no person id is sent to, for a first try of a channel."""
    code, out, _ = run(capsys, "notify", "test", "file", "someone@dsj.example.gov.cn",
                       "--directory", str(directory_file(tmp_path)))
    assert code == 0 and "to test <someone@dsj.example.gov.cn>" in out
