"""The worker's options: business hours, delivery attempts, back-off, digest threshold and the daily list's time
are parsed, refused with exit 2 when bad, applied to the engine and dispatcher, and shown in the start line."""

from __future__ import annotations

import contextlib
import faulthandler
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import time, timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest

from cli import build_parser, main
from engine.scheduler import EngineScheduler

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def directory(tmp_path: Path) -> Path:
    path = tmp_path / "directory.yaml"
    path.write_text(f"""\
channels: {{file: {{type: file, dir: {tmp_path / 'mail'}}}}}
people:
  - {{id: city, name: 梁建国, roles: [data_supervisor], contacts: {{file: city@x.example.gov.cn}}}}
""", encoding="utf-8")
    return path


def test_the_defaults_are_the_documented_ones() -> None:
    """Without options: no business hours, 8 attempts, back-off 30 s to 1 h, digest from 5, daily list at 09:00."""
    args = build_parser().parse_args(["worker"])
    assert args.business_hours is None
    assert (args.max_attempts, args.backoff, args.digest_threshold) == (8, (30.0, 3600.0), 5)
    assert (args.daily_digest, args.no_daily_digest) == (time(9, 0), False)


def test_each_option_is_read() -> None:
    """Every option is read into the value the engine and dispatcher take."""
    args = build_parser().parse_args(["worker", "--business-hours", "08:30-17:30", "--max-attempts", "3",
                                      "--backoff", "10:600", "--digest-threshold", "off", "--daily-digest", "07:45"])
    assert args.business_hours == (time(8, 30), time(17, 30))
    assert (args.max_attempts, args.backoff, args.digest_threshold) == (3, (10.0, 600.0), None)
    assert args.daily_digest == time(7, 45)
    assert build_parser().parse_args(["worker", "--backoff", "120"]).backoff == (120.0, 3600.0)
    assert build_parser().parse_args(["worker", "--backoff", "7200"]).backoff == (7200.0, 7200.0)


@pytest.mark.parametrize(("option", "value", "says"), [
    ("--business-hours", "9-17", "HH:MM-HH:MM"),
    ("--business-hours", "17:00-09:00", "opening time must come before the closing time"),
    ("--business-hours", "09:00-24:00", "HH:MM-HH:MM"),
    ("--max-attempts", "0", "at least 1"),
    ("--max-attempts", "many", "whole number"),
    ("--backoff", "0", "more than 0 s"),
    ("--backoff", "60:30", "at most the maximum"),
    ("--backoff", "nan", "more than 0 s"),
    ("--backoff", "30:soon", "SECONDS:MAX_SECONDS"),
    ("--digest-threshold", "1", "at least 2, or off"),
    ("--daily-digest", "9", "HH:MM"),
    ("--daily-digest", "09:60", "HH:MM"),
    ("--calendar-warn-days", "0", "at least 1 (days), or off"),
    ("--calendar-warn-days", "soon", "at least 1 (days), or off"),
])
def test_a_bad_value_exits_2_saying_what_is_expected(tmp_path: Path, flow_dir: Path,
                                                     capsys: pytest.CaptureFixture[str],
                                                     option: str, value: str, says: str) -> None:
    """A bad value is an argparse error naming the option and the form expected, before any database exists."""
    with pytest.raises(SystemExit) as exit_:
        main(["worker", "--db", str(tmp_path / "o.db"), "--workflows", str(flow_dir), option, value])
    err = capsys.readouterr().err
    assert exit_.value.code == 2
    assert f"argument {option}" in err and says in err
    assert not (tmp_path / "o.db").exists()


def test_a_time_and_no_list_are_exclusive(capsys: pytest.CaptureFixture[str]) -> None:
    """`--daily-digest` with `--no-daily-digest` is refused rather than one silently winning."""
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["worker", "--daily-digest", "10:00", "--no-daily-digest"])
    assert exit_.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


class Started:
    """The schedulers the worker starts; each stops its worker at once, as SIGTERM would."""

    made: ClassVar[list[EngineScheduler]] = []

    class Scheduler(EngineScheduler):
        def __init__(self, engine: Any, **kwargs: Any) -> None:
            super().__init__(engine, **kwargs)
            Started.made.append(self)

        def start(self) -> None:
            os.kill(os.getpid(), signal.SIGTERM)  # handled by the worker: it stops after its start line


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[EngineScheduler]]:
    Started.made = []
    monkeypatch.setattr("engine.scheduler.EngineScheduler", Started.Scheduler)
    yield Started.made
    if hasattr(signal, "SIGUSR1"):  # the worker registered its stack dump on the captured stderr
        faulthandler.unregister(signal.SIGUSR1)


def test_the_options_reach_the_engine_dispatcher_and_scheduler(
        tmp_path: Path, flow_dir: Path, directory: Path, started: list[EngineScheduler],
        capfd: pytest.CaptureFixture[str]) -> None:
    """The worker's engine counts to close of business, its dispatcher has the attempts, back-off and threshold,
    its scheduler the list's time, and the start line says all of it."""
    code = main(["worker", "--db", str(tmp_path / "w.db"), "--workflows", str(flow_dir), "--directory",
                 str(directory), "--business-hours", "09:00-17:30", "--max-attempts", "3", "--backoff", "10:600",
                 "--digest-threshold", "4", "--daily-digest", "08:15"])
    err = capfd.readouterr().err
    (scheduler,) = started
    engine, dispatcher = scheduler.engine, scheduler.engine.dispatcher
    assert code == 0
    assert engine.parts.sla.policy.business_hours == (time(9, 0), time(17, 30))
    assert dispatcher is not None
    assert (dispatcher.max_attempts, dispatcher.digest.threshold) == (3, 4)  # type: ignore[attr-defined]
    backoff = dispatcher.backoff  # type: ignore[attr-defined]
    assert (backoff.base, backoff.maximum) == (timedelta(seconds=10), timedelta(seconds=600))
    assert scheduler.daily_digest is not None and scheduler.daily_digest.at == time(8, 15)
    line = next(x for x in err.splitlines() if "ticking every" in x)
    assert "deadlines end at 17:30 of working days (business hours 09:00-17:30)" in line
    assert "outbox: 3 attempt(s), back-off 10 s doubling to at most 600 s, a supervisor digest from 4 alerts" in line
    assert "daily overdue list at 08:15 Beijing time on working days" in line


def test_the_calendar_look_ahead_is_set_or_turned_off(
        tmp_path: Path, flow_dir: Path, directory: Path, started: list[EngineScheduler],
        capfd: pytest.CaptureFixture[str]) -> None:
    """30 days by default, with the directory's operators told; `--calendar-warn-days 45` and `off` are read,
    and the start line says which."""
    assert main(["worker", "--db", str(tmp_path / "w.db"), "--workflows", str(flow_dir), "--directory",
                 str(directory)]) == 0
    assert main(["worker", "--db", str(tmp_path / "w.db"), "--workflows", str(flow_dir),
                 "--calendar-warn-days", "45"]) == 0
    assert main(["worker", "--db", str(tmp_path / "w.db"), "--workflows", str(flow_dir),
                 "--calendar-warn-days", "OFF"]) == 0
    lines = [x for x in capfd.readouterr().err.splitlines() if "ticking every" in x]
    default, longer, off = started
    assert default.horizon is not None and default.horizon.within == 30
    assert default.horizon.directory is not None and default.horizon.role == "center_operator"
    assert longer.horizon is not None and (longer.horizon.within, longer.horizon.directory) == (45, None)
    assert off.horizon is None
    assert "calendar data checked 30 days ahead" in lines[0] and "checked 45 days ahead" in lines[1]
    assert "calendar data not checked ahead (--calendar-warn-days off)" in lines[2]


def test_without_a_directory_the_worker_says_no_list_is_sent(
        tmp_path: Path, flow_dir: Path, started: list[EngineScheduler], capfd: pytest.CaptureFixture[str]) -> None:
    """No --directory: no daily list and no outbox, said in the start line; the scheduler has no digest job."""
    code = main(["worker", "--db", str(tmp_path / "w.db"), "--workflows", str(flow_dir)])
    err = capfd.readouterr().err
    (scheduler,) = started
    assert code == 0 and scheduler.daily_digest is None
    line = next(x for x in err.splitlines() if "ticking every" in x)
    assert "deadlines end at 24:00 (no business hours)" in line
    assert "no outbox: no --directory" in line and "no daily overdue list is sent: it needs --directory" in line


def test_no_daily_digest_turns_the_list_off(tmp_path: Path, flow_dir: Path, directory: Path,
                                            started: list[EngineScheduler], capfd: pytest.CaptureFixture[str]) -> None:
    """With a directory and --no-daily-digest the outbox is sent but no list is scheduled, and the line says so."""
    code = main(["worker", "--db", str(tmp_path / "w.db"), "--workflows", str(flow_dir), "--directory",
                 str(directory), "--no-daily-digest", "--digest-threshold", "off"])
    err = capfd.readouterr().err
    (scheduler,) = started
    assert code == 0 and scheduler.daily_digest is None and scheduler.engine.dispatcher is not None
    line = next(x for x in err.splitlines() if "ticking every" in x)
    assert "no supervisor digest" in line and "no daily overdue list (--no-daily-digest)" in line


def test_a_worker_process_announces_its_settings_and_stops(tmp_path: Path, flow_dir: Path, directory: Path) -> None:
    """The real worker process, given every option, prints them in its start line and exits 0 on SIGTERM."""
    proc = subprocess.Popen(
        [sys.executable, str(REPO / "cli.py"), "worker", "--db", str(tmp_path / "w.db"), "--workflows",
         str(flow_dir), "--directory", str(directory), "--interval", "0.1", "--business-hours", "09:00-18:00",
         "--max-attempts", "5", "--backoff", "60", "--digest-threshold", "3", "--daily-digest", "10:30"],
        cwd=tmp_path, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        assert proc.stderr is not None
        line = ""
        for _ in range(200):  # bounded: the announcement comes within a few lines
            line = proc.stderr.readline()
            if "ticking every" in line or not line:
                break
        proc.send_signal(signal.SIGTERM)
        try:
            _, rest = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.communicate(timeout=10)
            pytest.fail("the worker did not stop within 30 s of SIGTERM")
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "ticking every 0.1 s" in line
    assert "business hours 09:00-18:00" in line and "5 attempt(s), back-off 60 s doubling to at most 3600 s" in line
    assert "a supervisor digest from 3 alerts" in line and "daily overdue list at 10:30 Beijing time" in line
    assert proc.returncode == 0 and "worker stopped after" in rest


@pytest.mark.parametrize(("interval", "warned"), [("150", False), ("151", True), ("600", True)])
def test_an_interval_health_would_read_as_silence_is_warned_of(
        tmp_path: Path, flow_dir: Path, started: list[EngineScheduler], caplog: pytest.LogCaptureFixture,
        interval: str, warned: bool) -> None:
    """A worker ticking less often than half `health`'s default grace says at start which --grace to give it,
    since between two ticks it would read as silent; a usual interval says nothing."""
    with caplog.at_level(logging.WARNING, logger="engine.cli_runtime"):
        code = main(["worker", "--db", str(tmp_path / "w.db"), "--workflows", str(flow_dir), "--interval",
                     interval])
    assert code == 0
    said = [r.getMessage() for r in caplog.records if "run `cli.py health` with --grace above" in r.getMessage()]
    assert len(said) == (1 if warned else 0)
    if warned:
        assert f"an interval of {interval} s" in said[0] and f"above {2 * int(interval)}" in said[0]
        assert "ticking every" not in said[0]  # the start line's words, which scripts wait for
