"""The recurring starts' cron read as an ordinary crontab (weekday 0 or 7 = Sunday, 1 = Monday), the same by the
loader's check, the worker's jobs and the catch-up, though APScheduler 3 counts its weekday numbers from Monday."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from engine import Engine, ManualClock
from engine.clock import SHANGHAI
from engine.definitions import DefinitionSet
from engine.errors import DefinitionError
from engine.loader import load_text
from engine.scheduler import EngineScheduler, cron_problem, cron_trigger, latest_fire_time
from storage import open_store
from tests.engine.conftest import DIRECTORY

DRILL = Path(__file__).resolve().parents[2] / "workflows" / "lz" / "emergency_drill.yaml"
YEARLY = 'cron: "0 9 1 12 *"'

SUNDAY_1_MARCH = datetime(2026, 3, 1, 9, tzinfo=SHANGHAI)


def fire_days(cron: str, after: datetime, until: date) -> list[date]:
    """The days `cron` fires on after `after` up to `until`, in Shanghai."""
    trigger = cron_trigger(cron)
    days: list[date] = []
    previous: datetime | None = None
    now = after
    while (fire := trigger.get_next_fire_time(previous, now)) is not None and fire.date() <= until:
        days.append(fire.astimezone(SHANGHAI).date())
        previous, now = fire, fire + timedelta(seconds=1)
    return days


def march(*days: int) -> list[date]:
    return [date(2026, 3, d) for d in days]


def test_monday_to_friday_is_1_to_5() -> None:
    """`0 9 * * 1-5` fires on Monday 2 March 2026 to Friday 6 March, then Monday 9 March: never on Saturday 7 or
    Sunday 8 March."""
    assert fire_days("0 9 * * 1-5", SUNDAY_1_MARCH, date(2026, 3, 9)) == march(2, 3, 4, 5, 6, 9)


@pytest.mark.parametrize("sunday", ["0", "7", "sun"])
def test_sunday_is_0_or_7(sunday: str) -> None:
    """Weekday 0 and 7 are both Sunday (1 and 8 March 2026), as the name `sun` is."""
    assert fire_days(f"0 9 * * {sunday}", datetime(2026, 2, 28, tzinfo=SHANGHAI), date(2026, 3, 14)) == march(1, 8)


@pytest.mark.parametrize(("weekdays", "expected"), [
    ("1", {"Mon"}),
    ("6", {"Sat"}),
    ("0-1", {"Sun", "Mon"}),  # across APScheduler's week end (Sunday = 6, Monday = 0)
    ("5-7", {"Fri", "Sat", "Sun"}),
    ("0-7", {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}),
    ("6,0", {"Sat", "Sun"}),
    ("*/2", {"Sun", "Tue", "Thu", "Sat"}),  # 0, 2, 4, 6
    ("1-7/2", {"Mon", "Wed", "Fri", "Sun"}),
    ("1-5,0", {"Mon", "Tue", "Wed", "Thu", "Fri", "Sun"}),
    ("mon-fri", {"Mon", "Tue", "Wed", "Thu", "Fri"}),  # names mean what they say
    ("2,sat", {"Tue", "Sat"}),
    ("*", {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}),
])
def test_weekday_numbers_ranges_lists_and_steps_count_from_sunday(weekdays: str, expected: set[str]) -> None:
    """Over two weeks, the cron fires on the weekdays an ordinary crontab names, every week alike."""
    days = fire_days(f"30 8 * * {weekdays}", datetime(2026, 2, 28, 12, tzinfo=SHANGHAI), date(2026, 3, 14))
    assert {d.strftime("%a") for d in days} == expected
    assert len(days) == 2 * len(expected)


def test_a_day_of_month_and_a_weekday_both_given_fire_on_either() -> None:
    """As in crontab, `0 9 1 * 1` fires on the 1st of each month and on every Monday: Sunday 1 March 2026, the
    Mondays of March, Wednesday 1 April and Monday 6 April. APScheduler alone would fire only on a Monday the 1st
    (none until June)."""
    assert fire_days("0 9 1 * 1", SUNDAY_1_MARCH, date(2026, 4, 6)) == [
        *march(1, 2, 9, 16, 23, 30), date(2026, 4, 1), date(2026, 4, 6)]


def test_a_starred_day_field_keeps_both_rules() -> None:
    """A field that starts with `*` is not a restriction to crontab, so `0 9 */2 * 1` is a Monday on an odd day
    (9 and 23 March 2026) and `0 9 1 * */2` a 1st that falls on Sunday, Tuesday, Thursday or Saturday (1 March,
    not Wednesday 1 April)."""
    assert fire_days("0 9 */2 * 1", SUNDAY_1_MARCH, date(2026, 3, 31)) == march(9, 23)
    assert fire_days("0 9 1 * */2", SUNDAY_1_MARCH, date(2026, 4, 30)) == march(1)


def test_the_latest_fire_time_takes_either_day() -> None:
    """The round owed under `0 9 1 * 1`: on Tuesday 3 March 2026 the Monday before it, on Sunday 1 March at 10:00
    that morning's (the 1st), and on Saturday 28 February the Monday of that week."""
    cron = "0 9 1 * 1"
    assert latest_fire_time(cron, datetime(2026, 3, 3, 12, tzinfo=SHANGHAI)) == datetime(2026, 3, 2, 9,
                                                                                        tzinfo=SHANGHAI)
    assert latest_fire_time(cron, datetime(2026, 3, 1, 10, tzinfo=SHANGHAI)) == SUNDAY_1_MARCH
    assert latest_fire_time(cron, datetime(2026, 2, 28, 12, tzinfo=SHANGHAI)) == datetime(2026, 2, 23, 9,
                                                                                         tzinfo=SHANGHAI)


def test_the_latest_fire_time_reads_the_weekdays_alike() -> None:
    """The catch-up's moment on Sunday 8 March of `0 9 * * 1-5` is Friday 6 March, not Saturday 7 March; of
    `0 9 * * 0` on Saturday 14 March it is Sunday 8 March."""
    assert latest_fire_time("0 9 * * 1-5", datetime(2026, 3, 8, 12, tzinfo=SHANGHAI)) == datetime(
        2026, 3, 6, 9, tzinfo=SHANGHAI)
    assert latest_fire_time("0 9 * * 0", datetime(2026, 3, 14, 12, tzinfo=SHANGHAI)) == datetime(
        2026, 3, 8, 9, tzinfo=SHANGHAI)


@pytest.mark.parametrize(("cron", "said"), [
    ("0 9 * * 8", "bad cron '0 9 * * 8': weekday '8': days are 0 to 7 (0 and 7 are Sunday), a range goes upwards, "
                  "a step is above 0"),
    ("0 9 * * 5-1", "bad cron '0 9 * * 5-1': weekday '5-1': days are 0 to 7"),
    ("0 9 * * */0", "bad cron '0 9 * * */0': weekday '*/0'"),
    ("0 9 * * 1/2", "bad cron '0 9 * * 1/2': weekday '1/2': a step follows a range or *, as in 1-7/2"),
    ("0 9 * * mon-5", "bad cron '0 9 * * mon-5': weekday 'mon-5': write numbers (0 to 7) or names (mon to sun)"),
    ("0 9 * * mon-fri/2", "bad cron '0 9 * * mon-fri/2': weekday 'mon-fri/2': write numbers"),
    ("0 9 * * mun", "bad cron '0 9 * * mun': "),  # APScheduler's own message
])
def test_the_loaders_check_refuses_a_weekday_crontab_has_not(cron: str, said: str) -> None:
    """A weekday out of 0-7, a backward range, a zero step, a step after one number, names mixed with numbers or
    a step after names (which APScheduler would read only in part) are named."""
    problem = cron_problem(cron)
    assert problem is not None and problem.startswith(said)


def test_the_loader_takes_7_for_sunday_and_refuses_8() -> None:
    """A definition whose cron says Sunday as 7 loads; one saying 8 is refused at the cron's line."""
    text = DRILL.read_text(encoding="utf-8")
    assert YEARLY in text
    assert load_text(text.replace(YEARLY, 'cron: "0 9 * * 7"'), "drill.yaml").recurring is not None
    with pytest.raises(DefinitionError) as err:
        load_text(text.replace(YEARLY, 'cron: "0 9 * * 8"'), "drill.yaml")
    (problem,) = err.value.problems
    assert problem.path == "recurring.cron" and "weekday '8'" in problem.message


@pytest.fixture
def weekday_engine(tmp_path: Path, clock: ManualClock) -> Iterator[Engine]:
    """An engine whose Liuzhou drill starts at 09:00 on each working weekday, `0 9 * * 1-5`."""
    text = DRILL.read_text(encoding="utf-8").replace(YEARLY, 'cron: "0 9 * * 1-5"')
    definitions = DefinitionSet.from_texts([("drill.yaml", text)])
    made = Engine(open_store(str(tmp_path / "cron.db")), definitions, clock=clock, directory=DIRECTORY)
    yield made
    made.close()


def test_the_workers_job_fires_on_the_weekdays_the_cron_names(weekday_engine: Engine) -> None:
    """The worker's cron job for `0 9 * * 1-5`, asked on Friday 6 March after 09:00, next fires on Monday 9 March."""
    scheduler = EngineScheduler(weekday_engine, interval=60)
    job = scheduler._scheduler.get_job("recurring:lz.emergency_drill")
    friday = datetime(2026, 3, 6, 10, tzinfo=SHANGHAI)
    assert job.trigger.get_next_fire_time(None, friday) == datetime(2026, 3, 9, 9, tzinfo=SHANGHAI)
