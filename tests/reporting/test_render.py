"""How the rendered report writes moments: Beijing time, a midnight deadline as 24:00 of its last day."""

from __future__ import annotations

from datetime import UTC, datetime

from engine.deadline_text import deadline_plain as moment_text


def test_midnight_reads_as_24_00_of_the_day_before() -> None:
    """A due time stored as 16:00 UTC on 10-30 is 24:00 on 10-30 in Beijing."""
    assert moment_text(datetime(2026, 10, 30, 16, tzinfo=UTC)) == "2026-10-30 24:00"


def test_other_moments_read_in_beijing_time() -> None:
    """01:30 UTC is 09:30 in Beijing, on the same day."""
    assert moment_text(datetime(2026, 10, 9, 1, 30, tzinfo=UTC)) == "2026-10-09 09:30"
