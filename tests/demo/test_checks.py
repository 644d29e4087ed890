"""The demo's checks: escalation ladders recomputed from the calendar, mail files against the outbox."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from pathlib import Path

import pytest

from calendars import get_calendar
from engine.clock import SHANGHAI, ManualClock
from engine.definitions import DefinitionSet
from engine.demo.checks import check_ladders, check_mail, expected_levels, mail_files
from notifiers.base import Outgoing
from notifiers.channels.file import FileNotifier
from notifiers.rendering import Rendered
from storage.reports import ClockAudit, OutboxRecord, SlaEventRecord

ROOT = Path(__file__).resolve().parents[2]


def at(month: int, day: int, hour: int = 0) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=SHANGHAI)


@pytest.fixture(scope="module")
def specs() -> DefinitionSet:
    return DefinitionSet.load([ROOT / "workflows"])


def _account_clock(stopped: datetime | None) -> ClockAudit:
    """An account step received Fri 10-09: 2 WD = make-up Saturday 10-10 and Monday 10-12, due 24:00 10-12."""
    return ClockAudit(1, "i1", "lz.platform_account", "", "task", "processing", "CN-GX", at(10, 13), "2026-10-12",
                      stopped, True)


def test_levels_follow_working_days_after_the_last_day(specs: DefinitionSet) -> None:
    """Level 1 comes at the due time, level 2 at the end of the next working day (10-13)."""
    sla = specs.get("lz.platform_account").spec.states["processing"].sla
    cal = get_calendar("CN-GX")
    due, last = at(10, 13), date(2026, 10, 12)
    assert expected_levels(sla, cal, due, last, at(10, 12, 23)) == set()
    assert expected_levels(sla, cal, due, last, at(10, 13, 12)) == {1}
    assert expected_levels(sla, cal, due, last, at(10, 14)) == {1, 2}


def test_ladder_check_finds_a_missing_and_a_doubled_level(specs: DefinitionSet) -> None:
    """A clock answered on 10-15 needs one breach and levels 1 and 2 once; fewer or more fail the check."""
    version = specs.get("lz.platform_account").spec.content_hash
    clock = dataclasses.replace(_account_clock(at(10, 15, 10)), version=version)

    def ev(kind: str, level: int) -> SlaEventRecord:
        return SlaEventRecord(1, "i1", "lz.platform_account", kind, level, at(10, 13))

    complete = [ev("breach", 0), ev("escalation", 1), ev("escalation", 2)]
    assert check_ladders([clock], complete, specs, at(12, 31)).ok
    missing = check_ladders([clock], complete[:2], specs, at(12, 31))
    doubled = check_ladders([clock], [*complete, ev("breach", 0)], specs, at(12, 31))
    assert not missing.ok and "expected [1, 2]" in missing.detail
    assert not doubled.ok and "2 breaches" in doubled.detail


def test_mail_files_are_read_back_and_compared(tmp_path: Path) -> None:
    """A long dedupe key survives the file channel's header encoding; a missing file fails the check."""
    notifier = FileNotifier("file", tmp_path, ManualClock(at(10, 13)))
    keys = ["sla:1:escalation:2:lz-dsj-supervisor:file", "state:" + "a" * 32 + ":7:publicity_started:lz-x:file"]
    for key, kind in zip(keys, ("escalation", "notification"), strict=True):
        notifier.send(Outgoing("file", "lz-x", "x@example.gov.cn", Rendered("主题", "正文", "<p>正文</p>", "正文"),
                               key, kind))
    files = mail_files(tmp_path)
    outbox = [OutboxRecord(i, "i1", "lz.platform_account", kind, "sent", "lz-x", key)
              for i, (key, kind) in enumerate(zip(keys, ("escalation", "notification"), strict=True))]
    assert sorted(files) == [("escalation", keys[0]), ("notification", keys[1])]
    assert all(c.ok for c in check_mail(files, outbox))
    missing = check_mail(files[:1], outbox)[0]
    assert not missing.ok and "1 sent without a file" in missing.detail
