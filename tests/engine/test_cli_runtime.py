"""The operators' commands: start, fire, show, history, overdue, and a worker that stops on SIGTERM."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from cli import build_parser, main
from engine import Actor, Engine, ManualClock
from engine.clock import SHANGHAI, SystemClock
from engine.definitions import DefinitionSet
from engine.fields import make_credit_code
from storage import open_store
from storage.sql import SqlInstanceStore

REPO = Path(__file__).resolve().parents[2]
C, P = make_credit_code(11), make_credit_code(22)
DIGITS_CODE = "114500000000000071"  # a valid credit code of digits only


@pytest.fixture(autouse=True)
def directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The people directory `start` and `fire` need, as $SHIXIAN_DIRECTORY: alice of C, bob of P, rita the
    reviewer."""
    path = tmp_path / "directory.yaml"
    path.write_text(f"""\
channels:
  file: {{type: file, dir: "{tmp_path / 'mail'}"}}
departments:
  - {{code: {C}, name: 使用局}}
  - {{code: {P}, name: 提供局}}
  - {{code: "{DIGITS_CODE}", name: 数字局}}
people:
  - {{id: alice, name: Alice, department: {C}, roles: [data_admin], contacts: {{file: alice@c.example.gov.cn}}}}
  - {{id: bob, name: Bob, department: {P}, roles: [data_auditor], contacts: {{file: bob@p.example.gov.cn}}}}
  - {{id: dora, name: Dora, department: "{DIGITS_CODE}", roles: [data_auditor], contacts: {{file: dora@d.gov.cn}}}}
  - {{id: rita, name: Rita, department: "{DIGITS_CODE}", roles: [bureau_reviewer], contacts: {{file: rita@d.gov.cn}}}}
""", encoding="utf-8")
    monkeypatch.setenv("SHIXIAN_DIRECTORY", str(path))
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_start_fire_show_history(tmp_path: Path, flow_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An instance started and moved from the command line shows its state and an intact history."""
    db = str(tmp_path / "cli.db")
    base = ["--db", db, "--workflows", str(flow_dir)]
    code, out, _ = run(capsys, "start", "common.test_flow", "CLI-1", *base, "--json", "--actor", "alice",
                       "--role", "data_admin", "--department", C, "--var", f"consumer_dept={C}",
                       "--var", f"provider_dept={P}")
    assert code == 0
    inst = json.loads(out)
    assert inst["state"] == "review"
    code, out, _ = run(capsys, "fire", inst["id"], "refuse", *base, "--json", "--actor", "bob", "--role",
                       "data_auditor", "--department", P, "--field", "reason=不予共享")
    assert (code, json.loads(out)["state"]) == (0, "refused")
    code, out, _ = run(capsys, "show", inst["id"], *base, "--json")
    assert json.loads(out)["status"] == "completed"
    code, out, _ = run(capsys, "history", inst["id"], *base)
    assert code == 0 and "history verified: intact" in out
    assert f"alice (consumer.data_admin, {C})" in out and f"bob (provider.data_auditor, {P})" in out
    code, out, _ = run(capsys, "overdue", *base, "--json")
    assert (code, json.loads(out)) == (0, [])


def test_a_reviewer_suspends_resumes_and_cancels_from_the_command_line(
        tmp_path: Path, flow_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The administrators' commands: the applicant may not suspend; the reviewer suspends (an event is then refused),
    resumes and cancels, each reason kept in a history that still verifies; cancelling twice says why not."""
    base = ["--db", str(tmp_path / "admin.db"), "--workflows", str(flow_dir)]
    code, out, _ = run(capsys, "start", "common.test_flow", "ADMIN-1", *base, "--json", "--actor", "alice",
                       "--var", f"consumer_dept={C}", "--var", f"provider_dept={P}")
    iid = json.loads(out)["id"]
    code, out, err = run(capsys, "suspend", iid, *base, "--actor", "alice", "--reason", "想暂停")
    assert (code, out) == (1, "") and "alice" in err and "bureau_reviewer" in err
    code, out, _ = run(capsys, "suspend", iid, *base, "--json", "--actor", "rita", "--reason", "申请单位补充材料")
    assert (code, json.loads(out)["status"]) == (0, "suspended")
    code, _, err = run(capsys, "fire", iid, "approve", *base, "--actor", "bob")
    assert code == 1 and "suspended" in err
    code, out, _ = run(capsys, "resume", iid, *base, "--json", "--actor", "rita")
    assert (code, json.loads(out)["status"]) == (0, "running")
    code, out, _ = run(capsys, "cancel", iid, *base, "--json", "--actor", "rita", "--reason", "申请单位撤回申请")
    assert (code, json.loads(out)["status"]) == (0, "cancelled")
    code, _, err = run(capsys, "cancel", iid, *base, "--actor", "rita")
    assert code == 1 and "cancelled" in err
    code, out, _ = run(capsys, "history", iid, *base)
    assert code == 0 and "history verified: intact" in out
    assert "申请单位补充材料" in out and "申请单位撤回申请" in out and "想暂停" not in out
    with pytest.raises(SystemExit) as refused:  # no key: a repeat says the instance has moved on, as above
        run(capsys, "resume", iid, *base, "--actor", "rita", "--idempotency-key", "k1")
    assert refused.value.code == 2 and "--idempotency-key" in capsys.readouterr().err


def test_errors_are_one_line_and_exit_1(tmp_path: Path, flow_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A refused command prints the engine's message, not a traceback."""
    SqlInstanceStore(str(tmp_path / "e.db")).close()
    code, _, err = run(capsys, "fire", "nope", "approve", "--db", str(tmp_path / "e.db"), "--workflows",
                       str(flow_dir), "--actor", "bob", "--role", "data_auditor")
    assert code == 1
    assert err.startswith("error: no instance 'nope'")


@pytest.mark.parametrize("command", [["show"], ["show", "some-id"], ["history", "some-id"], ["overdue"],
                                     ["fire", "some-id", "approve", "--actor", "bob"]])
def test_a_mistyped_database_path_is_an_error_not_an_empty_database(
        tmp_path: Path, flow_dir: Path, capsys: pytest.CaptureFixture[str], command: list[str]) -> None:
    """Reading or firing on a path with no database says so, exits 2 as outbox and report do, and creates nothing
    (no "0 overdue" from a typo)."""
    typo = tmp_path / "shixan.db"
    code, out, err = run(capsys, *command, "--db", str(typo), "--workflows", str(flow_dir))
    assert code == 2
    assert f"no database at {typo}" in err and "--db" in err
    assert out == ""
    assert not typo.exists()


def test_start_creates_a_new_database_and_says_so(tmp_path: Path, flow_dir: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """`start` on a new path begins the database there, telling the operator it did."""
    db = tmp_path / "new.db"
    code, _, err = run(capsys, "start", "common.test_flow", "CLI-2", "--db", str(db), "--workflows", str(flow_dir),
                       "--actor", "alice", "--role", "data_admin", "--department", C, "--var", f"consumer_dept={C}",
                       "--var", f"provider_dept={P}")
    assert code == 0
    assert f"no database at {db}: creating a new one" in err
    assert db.is_file()
    code, _, err = run(capsys, "show", "--db", str(db), "--workflows", str(flow_dir))
    assert code == 0 and "creating" not in err


@pytest.mark.parametrize("command", [["start", "common.test_flow", "CLI-3", "--actor", "alice", "--role", "data_admin",
                                      "--department", C, "--var", f"consumer_dept={C}", "--var", f"provider_dept={P}"],
                                     ["worker"]], ids=["start", "worker"])
def test_another_applications_sqlite_file_is_refused_untouched(
        tmp_path: Path, flow_dir: Path, capsys: pytest.CaptureFixture[str], command: list[str]) -> None:
    """`start` and `worker`, which may begin a database, refuse a SQLite file holding other tables (a mistyped
    --db): exit 2, the tables named, and not one table or byte added to the file."""
    import sqlite3

    db = tmp_path / "customers.db"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    con.commit()
    con.close()
    before = db.read_bytes()
    code, _, err = run(capsys, *command, "--db", str(db), "--workflows", str(flow_dir))
    assert code == 2
    assert "another application's tables (customers)" in err and "creating" not in err
    assert db.read_bytes() == before


def test_a_row_changed_outside_the_engine_is_named_not_a_traceback(
        tmp_path: Path, flow_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A history payload that is no JSON makes `history` report that step altered (exit 3); variables that are
    no JSON make `show` (one, and the listing) and `fire` name the instance, exit 1, with no traceback."""
    import sqlite3

    db = str(tmp_path / "cli.db")
    base = ["--db", db, "--workflows", str(flow_dir)]
    code, out, _ = run(capsys, "start", "common.test_flow", "BAD-1", *base, "--json", "--actor", "alice",
                       "--role", "data_admin", "--department", C, "--var", f"consumer_dept={C}",
                       "--var", f"provider_dept={P}")
    iid = json.loads(out)["id"]
    con = sqlite3.connect(db)
    con.execute("UPDATE history SET payload = 'not json' WHERE instance_id = ? AND seq = 2", (iid,))
    con.commit()
    code, out, err = run(capsys, "history", iid, *base)
    assert code == 3 and "HISTORY ALTERED at step 2" in out and "not JSON: 'not json'" in out
    code, out, err = run(capsys, "history", iid, *base, "--json")
    steps = {s["seq"]: s for s in json.loads(out)["steps"]}
    assert code == 3 and "Traceback" not in err
    assert (steps[2]["payload"], steps[2]["payload_stored_text"]) == (None, "not json")
    assert isinstance(steps[1]["payload"], dict) and "payload_stored_text" not in steps[1]
    con.execute("UPDATE instance SET variables = '{bad' WHERE id = ?", (iid,))
    con.commit()
    con.close()
    for command in (["show", iid], ["show"],
                    ["fire", iid, "approve", "--actor", "bob", "--role", "data_auditor", "--department", P]):
        code, out, err = run(capsys, *command, *base)
        assert code == 1, command
        assert f"instance {iid} cannot be read: its variables are not JSON" in err and "Traceback" not in err


def _task_clock_put_back(base: list[str], capsys: pytest.CaptureFixture[str], attempts: int,
                         error: str) -> str:
    """Start a case on `base`'s database and put its task clock's next moment back as a worker does, with
    `attempts` tries and `error`; the instance's id."""
    _, out, _ = run(capsys, "start", "common.test_flow", "PUT-BACK-1", *base, "--json", "--actor", "alice",
                    "--var", f"consumer_dept={C}", "--var", f"provider_dept={P}")
    iid: str = json.loads(out)["id"]
    store = open_store(base[1])
    task = next(c for c in store.clocks(iid) if c.scope == "task")
    assert task.next_fire_at is not None
    store.release_clock(task.id, task.next_fire_at, None, attempts, error)
    store.close()
    return iid


def test_show_names_a_clock_whose_moment_keeps_failing(tmp_path: Path, flow_dir: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """A clock whose next moment failed to fire (a worker put it back with back-off) is shown with its tries and
    last error under it; `--json` has both; a clock that fires as it should shows neither."""
    base = ["--db", str(tmp_path / "cli.db"), "--workflows", str(flow_dir)]
    iid = _task_clock_put_back(base, capsys, 3, "LDAP: no answer for 114502")
    code, out, _ = run(capsys, "show", iid, *base)
    _, as_json, _ = run(capsys, "show", iid, *base, "--json")
    clocks = {c["scope"]: c for c in json.loads(as_json)["clocks"]}
    assert code == 0
    assert ("    its warn moment failed 3 time(s), retried with back-off; last error: LDAP: no answer for 114502"
            in out.splitlines())
    assert out.count("failed") == 1
    assert (clocks["task"]["fire_attempts"], clocks["task"]["last_error"]) == (3, "LDAP: no answer for 114502")
    assert (clocks["procedure"]["fire_attempts"], clocks["procedure"]["last_error"]) == (0, None)


def test_show_does_not_count_a_passing_failure_as_a_try(tmp_path: Path, flow_dir: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """A moment put back because the database failed or a command updated the instance first keeps its error but
    no try: `show` says it is tried again shortly, never that it "failed 0 time(s)"."""
    base = ["--db", str(tmp_path / "cli.db"), "--workflows", str(flow_dir)]
    iid = _task_clock_put_back(base, capsys, 0, "database is locked")
    code, out, _ = run(capsys, "show", iid, *base)
    assert code == 0
    assert "    its warn moment is tried again shortly; last error: database is locked" in out.splitlines()
    assert "failed" not in out


def test_the_directory_vouches_for_the_actor(tmp_path: Path, flow_dir: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """The command line has no sign-in: an actor the directory does not list, a role it does not give them or
    another department is refused (exit 1, nothing written, a close id suggested); `--actor` alone acts in the
    directory's roles and department, which the history records."""
    db = str(tmp_path / "cli.db")
    base = ["--db", db, "--workflows", str(flow_dir)]
    code, out, _ = run(capsys, "start", "common.test_flow", "WHO-1", *base, "--json", "--actor", "alice",
                       "--var", f"consumer_dept={C}", "--var", f"provider_dept={P}")
    iid = json.loads(out)["id"]
    assert code == 0
    refusals = {
        "bobb": ["--actor", "bobb", "--role", "data_auditor", "--department", P],
        "alice": ["--actor", "alice", "--role", "data_auditor", "--department", P],
        "bob": ["--actor", "bob", "--role", "data_auditor", "--department", C],
    }
    for who, actor in refusals.items():
        code, _, err = run(capsys, "fire", iid, "approve", *base, *actor)
        assert code == 1 and "Traceback" not in err, (who, err)
    _, _, err = run(capsys, "fire", iid, "approve", *base, *refusals["bobb"])
    assert "no person has this id" in err and "did you mean 'bob'?" in err
    _, _, err = run(capsys, "fire", iid, "approve", *base, *refusals["alice"])
    assert "the directory gives alice the roles data_admin" in err
    code, out, _ = run(capsys, "show", iid, *base, "--json")
    assert json.loads(out)["state"] == "review"
    code, out, err = run(capsys, "fire", iid, "refuse", *base, "--actor", "bob", "--field", "reason=不予共享")
    assert code == 0, err
    _, out, _ = run(capsys, "history", iid, *base)
    assert f"alice (consumer.data_admin, {C})" in out and f"bob (provider.data_auditor, {P})" in out


def _stop_worker(args: list[str], cwd: Path, marker: str,
                 stop: Callable[[subprocess.Popen[str]], None]) -> tuple[list[str], str, int]:
    """Run `cli.py worker ARGS`, read its log up to the line holding `marker`, `stop` it and wait for it to exit
    (30 s at most, else its threads' stacks are shown): the lines read, the rest of its log, its exit code."""
    proc = subprocess.Popen([sys.executable, str(REPO / "cli.py"), "worker", *args], cwd=cwd,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        assert proc.stderr is not None
        lines: list[str] = []
        for _ in range(200):  # bounded: the marker comes within a few lines
            line = proc.stderr.readline()
            lines.append(line)
            if marker in line or not line:
                break
        assert marker in line
        stop(proc)
        try:
            _, rest = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGUSR1)  # the worker prints every thread's stack: say where it hangs
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.communicate(timeout=5)  # (a failure path only) let it write them
            proc.kill()
            _, stacks = proc.communicate(timeout=30)
            pytest.fail(f"the worker did not stop within 30 s of the signal; its threads:\n{stacks}")
    finally:
        if proc.poll() is None:
            proc.kill()
    return lines, rest, proc.returncode


def _sigterm(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGTERM)


def test_worker_stops_cleanly_on_sigterm(tmp_path: Path, flow_dir: Path) -> None:
    """The worker process warns of declared hooks nobody registered, announces itself, ticks, and exits 0 after
    SIGTERM, its stop recorded for `health` when it had ticked."""
    db = tmp_path / "w.db"
    lines, rest, code = _stop_worker(["--db", str(db), "--workflows", str(flow_dir), "--interval", "0.1"], REPO,
                                     "ticking every", _sigterm)
    # the flow declares count_users and no --hooks was given: said once, before the worker ticks
    warned = [w for w in lines if "WARNING" in w and "count_users (common.test_flow)" in w]
    assert len(warned) == 1 and "--hooks MODULE" in warned[0]
    stopped = re.search(r"worker stopped after (\d+) tick\(s\)", rest)
    assert code == 0 and stopped is not None
    store = SqlInstanceStore(str(db))
    workers = store.backlog(SystemClock().now()).workers
    store.close()
    assert [(w.ticks, w.stopped_at is not None) for w in workers] == (
        [(int(stopped[1]), True)] if int(stopped[1]) else [])


BACKLOG = 150  # instances whose two clocks are all due: more moments than one batch of the sweep claims
STOP_AT = 3  # the moment of the first batch during which the worker receives its SIGTERM

#: `cli.py worker ARGS` whose sweep, while it fires its STOP_AT-th moment, sends SIGTERM to its own process and
#: waits until the worker's signal handler has asked the sweep to stop: the stop lands mid-batch on every run, on
#: any machine, through the worker's own signal handling.
SIGTERM_MID_SWEEP = f"""\
import os, signal, sys
import engine.sweep as sweep
from cli import main

stops, fired = [], []
tick, attempt = sweep.tick, sweep._attempt

def watched_tick(engine, now, *, batch, max_batches, stop=None):
    stops.append(stop)
    return tick(engine, now, batch=batch, max_batches=max_batches, stop=stop)

def signalling_attempt(counts, moment):
    attempt(counts, moment)
    fired.append(moment.what)
    if len(fired) == {STOP_AT}:
        os.kill(os.getpid(), signal.SIGTERM)
        if not stops[-1].wait(30):
            raise SystemExit("the signal handler did not ask the sweep to stop within 30 s")

sweep.tick, sweep._attempt = watched_tick, signalling_attempt
sys.exit(main(["worker", *sys.argv[1:]]))
"""


def test_a_worker_stopped_mid_sweep_hands_its_claims_back(tmp_path: Path, flow_dir: Path) -> None:
    """SIGTERM during a sweep of a backlog larger than a batch: the worker finishes the moment in hand, hands back
    every other moment of the batch it claimed (and says how many) and exits 0, leaving the rest due and held by
    nobody; a tick then fires each of those, none the worker had fired, and every clock has its breach recorded
    once."""
    import inspect

    batch = inspect.signature(Engine.tick).parameters["batch"].default
    assert batch < 2 * BACKLOG  # the sweep has moments it never claimed, too
    db = str(tmp_path / "backlog.db")
    opened = ManualClock(datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI))
    engine = Engine(open_store(db), DefinitionSet.load([flow_dir]), clock=opened)
    alice = Actor("alice", frozenset({"data_admin"}), C)
    for n in range(BACKLOG):
        engine.start("common.test_flow", f"BL-{n}", {"consumer_dept": C, "provider_dept": P}, alice)
    engine.close()
    # one sweep, at the start: every deadline of March is long past on the worker's clock
    (tmp_path / "sigterm_mid_sweep.py").write_text(SIGTERM_MID_SWEEP, encoding="utf-8")
    proc = subprocess.run([sys.executable, str(tmp_path / "sigterm_mid_sweep.py"), "--db", db, "--workflows",
                           str(flow_dir), "--interval", "3600"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)})
    rest = proc.stderr
    store = open_store(db)
    with store.engine.connect() as conn:
        held = conn.execute(text("SELECT COUNT(*) FROM sla_clock WHERE claimed_by IS NOT NULL "
                                 "OR claim_expires_at IS NOT NULL")).scalar_one()
        left = conn.execute(text("SELECT COUNT(*) FROM sla_clock WHERE next_fire_at IS NOT NULL")).scalar_one()
    store.close()
    # a moment after every deadline of the backlog and before any lease the worker could have taken
    later = ManualClock(datetime(2026, 6, 1, 10, 0, tzinfo=SHANGHAI))
    engine = Engine(open_store(db), DefinitionSet.load([flow_dir]), clock=later)
    report = engine.tick()
    with engine.store.engine.connect() as conn:  # type: ignore[attr-defined]
        recorded = conn.execute(text("SELECT COUNT(*) FROM sla_event WHERE kind = 'breach'")).scalar_one()
        armed = conn.execute(text("SELECT COUNT(*) FROM sla_clock WHERE next_fire_at IS NOT NULL")).scalar_one()
    engine.close()
    stopping = [x for x in rest.splitlines() if "stopping: " in x]
    released = int(stopping[0].split("stopping: ")[1].split()[0]) if stopping else -1
    assert proc.returncode == 0 and "worker stopped after 1 tick(s)" in rest, rest
    assert len(stopping) == 1 and released == batch - STOP_AT, rest  # the first batch, but for the moments fired
    assert held == 0
    assert left == 2 * BACKLOG - STOP_AT  # a fired moment, long after its clock's deadline, left it nothing to fire
    assert (report.fired, report.skipped, report.lost, report.failed) == (left, 0, 0, 0)  # none fired again
    assert recorded == 2 * BACKLOG and armed == 0


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="tgkill and /proc/<pid>/task are Linux's")
def test_worker_stops_when_sigterm_reaches_another_of_its_threads(tmp_path: Path, flow_dir: Path) -> None:
    """A process-wide SIGTERM may be handed to any thread; sent to one of the scheduler's threads, the worker still
    stops (an untimed wait in the main thread would never run the handler)."""
    import ctypes

    def to_another_thread(proc: subprocess.Popen[str]) -> None:
        others = [int(t) for t in os.listdir(f"/proc/{proc.pid}/task") if int(t) != proc.pid]
        assert others, "the worker runs its scheduler in threads of its own"
        assert ctypes.CDLL(None, use_errno=True).tgkill(proc.pid, others[0], signal.SIGTERM) == 0

    # one tick at start, then its threads all wait
    _, rest, code = _stop_worker(["--db", str(tmp_path / "w.db"), "--workflows", str(flow_dir), "--interval",
                                  "3600"], REPO, "ticking every", to_another_thread)
    assert code == 0 and "worker stopped after" in rest


HOOKS_MODULE = '''
def count_users(variables):
    return {"users": 0}


HOOKS = {"count_users": count_users}
'''


def test_hooks_module_lets_the_command_line_run_automatic_steps(
        tmp_path: Path, flow_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """`--hooks MODULE` registers the module's HOOKS, so an automatic step runs instead of failing."""
    (tmp_path / "backend_hooks.py").write_text(HOOKS_MODULE, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    base = ["--db", str(tmp_path / "h.db"), "--workflows", str(flow_dir), "--json"]
    code, out, _ = run(capsys, "start", "common.test_flow", "CLI-H", *base, "--actor", "alice", "--role",
                       "data_admin", "--department", C, "--var", f"consumer_dept={C}", "--var", f"provider_dept={P}")
    assert code == 0
    iid = json.loads(out)["id"]
    code, out, _ = run(capsys, "fire", iid, "approve", *base, "--actor", "bob", "--role", "data_auditor",
                       "--department", P, "--hooks", "backend_hooks")
    moved = json.loads(out)
    assert (code, moved["state"], moved["last_error"]) == (0, "publicity", None)


def test_unregistered_hooks_names_the_declaring_workflows(
        tmp_path: Path, flow_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A declared hook is listed with its workflows until a --hooks module registers it."""
    from cli import build_parser
    from engine.cli_runtime import _engine, unregistered_hooks

    (tmp_path / "backend_hooks.py").write_text(HOOKS_MODULE, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("SHIXIAN_HOOKS", raising=False)
    argv = ["show", "--db", str(tmp_path / "u.db"), "--workflows", str(flow_dir)]
    SqlInstanceStore(str(tmp_path / "u.db")).close()
    bare = _engine(build_parser().parse_args(argv))
    hooked = _engine(build_parser().parse_args([*argv, "--hooks", "backend_hooks"]))
    try:
        assert unregistered_hooks(bare) == {"count_users": ["common.test_flow"]}
        assert unregistered_hooks(hooked) == {}
    finally:
        bare.close()
        hooked.close()


@pytest.mark.parametrize(("module", "expected"), [("no_such_hooks_module", "importing it failed"),
                                                   ("json", "HOOKS = {hook name: function}")])
def test_a_bad_hooks_module_is_a_one_line_error(tmp_path: Path, flow_dir: Path, capsys: pytest.CaptureFixture[str],
                                                module: str, expected: str) -> None:
    """A module that does not import, or has no HOOKS mapping, is refused before anything runs."""
    code, out, err = run(capsys, "start", "common.test_flow", "CLI-X", "--db", str(tmp_path / "x.db"),
                         "--workflows", str(flow_dir), "--hooks", module, "--actor", "alice", "--role", "data_admin",
                         "--department", C, "--var", f"consumer_dept={C}", "--var", f"provider_dept={P}")
    assert code == 1 and out == ""
    assert "--hooks" in err and expected in err and module in err
    assert not (tmp_path / "x.db").exists()




def test_var_and_field_values_are_read_by_their_declared_type(
        tmp_path: Path, flow_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`--var`/`--field` convert by the declared type: a digits-only credit code and a numeric-looking text stay
    text, an int variable's `3` and a bool's `false` become a number and a boolean."""
    base = ["--db", str(tmp_path / "t.db"), "--workflows", str(flow_dir), "--json"]
    code, out, err = run(capsys, "start", "common.test_flow", "CLI-T", *base, "--actor", "alice", "--role",
                         "data_admin", "--department", C, "--var", f"consumer_dept={C}",
                         "--var", f"provider_dept={DIGITS_CODE}", "--var", "reason=123", "--var", "users=3",
                         "--var", "fast=false")
    assert (code, err.count("error")) == (0, 0), err
    variables = json.loads(out)["variables"]
    assert (variables["provider_dept"], variables["reason"], variables["users"], variables["fast"]) == (
        DIGITS_CODE, "123", 3, False)
    code, out, err = run(capsys, "fire", json.loads(out)["id"], "refuse", *base, "--actor", "dora", "--role",
                         "data_auditor", "--department", DIGITS_CODE, "--field", "reason=456")
    assert code == 0, err
    assert json.loads(out)["variables"]["reason"] == "456"


def test_var_and_vars_agree(tmp_path: Path, flow_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The same values given as `--var NAME=VALUE` and as `--vars JSON` start identical variables."""
    base = ["--db", str(tmp_path / "v.db"), "--workflows", str(flow_dir), "--json", "--actor", "alice", "--role",
            "data_admin", "--department", C]
    values = {"consumer_dept": C, "provider_dept": DIGITS_CODE, "reason": "007", "users": 2}
    code, out, _ = run(capsys, "start", "common.test_flow", "V-1", *base, "--vars", json.dumps(values))
    assert code == 0
    by_json = json.loads(out)["variables"]
    code, out, _ = run(capsys, "start", "common.test_flow", "V-2", *base,
                       *[a for k, v in values.items() for a in ("--var", f"{k}={v}")])
    assert code == 0
    assert json.loads(out)["variables"] == by_json


@pytest.mark.parametrize("interval", ["-1", "0", "0.05", "nan", "inf", "soon"])
def test_worker_refuses_an_interval_it_cannot_idle_on(
        tmp_path: Path, flow_dir: Path, capsys: pytest.CaptureFixture[str], interval: str) -> None:
    """A zero, negative, too short or non-finite `--interval` exits 2 naming the option, before any database."""
    with pytest.raises(SystemExit) as exit_:
        main(["worker", "--db", str(tmp_path / "i.db"), "--workflows", str(flow_dir), "--interval", interval])
    _, err = capsys.readouterr()
    assert exit_.value.code == 2
    assert "--interval" in err
    assert not (tmp_path / "i.db").exists()


def test_worker_has_no_json_option_to_ignore(capsys: pytest.CaptureFixture[str]) -> None:
    """`worker --json` is refused (exit 2) rather than accepted and silently doing nothing."""
    from cli import build_parser

    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["worker", "--json"])
    assert exit_.value.code == 2
    assert "--json" in capsys.readouterr().err


@pytest.mark.parametrize(("how", "closes"), [
    ("option", time(17, 30)), ("environment", time(17, 30)), ("neither", time(0, 0)),
])
def test_every_command_computes_deadlines_with_the_business_hours(
        tmp_path: Path, flow_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        how: str, closes: time) -> None:
    """`start` (not only the worker) ends deadlines at close of business with --business-hours or
    $SHIXIAN_BUSINESS_HOURS, so every process on one database computes the same due times; else at 24:00."""
    db = str(tmp_path / "hours.db")
    option = ["--business-hours", "08:30-17:30"] if how == "option" else []
    monkeypatch.delenv("SHIXIAN_BUSINESS_HOURS", raising=False)
    if how == "environment":
        monkeypatch.setenv("SHIXIAN_BUSINESS_HOURS", "08:30-17:30")
    code, out, _ = run(capsys, "start", "common.test_flow", "HOURS-1", "--db", db, "--workflows", str(flow_dir),
                       "--allow-provisional", "--json", "--actor", "alice", "--role", "data_admin", "--department",
                       C, "--var", f"consumer_dept={C}", "--var", f"provider_dept={P}", *option)
    assert code == 0
    store = open_store(db)  # the clocks as stored: an engine given no business hours is refused here now
    try:
        dues = {c.due_at.astimezone(SHANGHAI).time() for c in store.clocks(json.loads(out)["id"])}
    finally:
        store.close()
    assert dues == {closes}


def test_a_bad_business_hours_variable_is_refused_by_name(
        flow_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """A malformed $SHIXIAN_BUSINESS_HOURS stops the command with the expected form, not a silent 24:00."""
    monkeypatch.setenv("SHIXIAN_BUSINESS_HOURS", "9-17")
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["overdue"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "HH:MM-HH:MM" in err and "$SHIXIAN_BUSINESS_HOURS='9-17'" in err


def test_overdue_and_show_page_with_offset(tmp_path: Path, flow_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`overdue --limit 1 --offset 1` is the second line of the whole list; `show --offset` pages instances."""
    db = str(tmp_path / "pages.db")
    base = ["--db", db, "--workflows", str(flow_dir)]
    for n in range(2):
        code, _, _ = run(capsys, "start", "common.test_flow", f"PG-{n}", *base, "--actor", "alice", "--role",
                         "data_admin", "--department", C, "--var", f"consumer_dept={C}", "--var", f"provider_dept={P}")
        assert code == 0
    store = SqlInstanceStore(db)  # sixty days on: move every clock's due time into the past, armed at it, untold
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE sla_clock SET due_at = '2026-01-05 01:00:00.000000', "
                          "next_fire_at = '2026-01-05 01:00:00.000000', next_kind = 'due', next_level = 0"))
    store.close()
    code, out, _ = run(capsys, "overdue", *base, "--json")
    whole = json.loads(out)
    assert code == 0 and len(whole) == 4
    code, out, _ = run(capsys, "overdue", *base, "--json", "--limit", "1", "--offset", "1")
    assert json.loads(out) == whole[1:2]
    code, out, _ = run(capsys, "show", *base, "--json", "--limit", "1", "--offset", "1")
    assert [i["business_key"] for i in json.loads(out)] == ["PG-1"]


@pytest.mark.parametrize(("argv", "said"), [(["--limit", "0"], "at least 1"), (["--limit", "20000"], "--offset"),
                                            (["--offset", "-3"], "at least 0"), (["--limit", "ten"], "whole number")])
def test_a_bad_page_exits_2_and_says_what_is_wanted(capsys: pytest.CaptureFixture[str], argv: list[str],
                                                    said: str) -> None:
    """A page size or offset that is no page stops at the command line, with the form expected."""
    for command in ("overdue", "show"):
        with pytest.raises(SystemExit) as exit_:
            build_parser().parse_args([command, *argv])
        assert exit_.value.code == 2
        assert said in capsys.readouterr().err


def _start_args(db: Path, flow_dir: Path, key: str = "K-1") -> list[str]:
    return ["start", "common.test_flow", key, "--db", str(db), "--workflows", str(flow_dir), "--actor", "alice",
            "--role", "data_admin", "--department", C, "--var", f"consumer_dept={C}", "--var", f"provider_dept={P}"]


def test_start_and_fire_need_the_directory(tmp_path: Path, flow_dir: Path, capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Without --directory (or $SHIXIAN_DIRECTORY) `start` and `fire` exit 2 saying why, and change nothing: the
    department check of org: roles and the step's notices need it."""
    db = tmp_path / "d.db"
    code, out, _ = run(capsys, *_start_args(db, flow_dir), "--json")
    assert code == 0
    iid = json.loads(out)["id"]
    monkeypatch.delenv("SHIXIAN_DIRECTORY")
    fired = run(capsys, "fire", iid, "approve", "--db", str(db), "--workflows", str(flow_dir), "--actor", "bob",
                "--role", "data_auditor", "--department", P)
    started = run(capsys, *_start_args(tmp_path / "new.db", flow_dir))
    for code, out, err in (fired, started):
        assert (code, out) == (2, "")
        assert "--directory" in err and "$SHIXIAN_DIRECTORY" in err and "org:" in err
    assert not (tmp_path / "new.db").exists()
    code, out, _ = run(capsys, "show", iid, "--db", str(db), "--workflows", str(flow_dir), "--json")
    assert (code, json.loads(out)["state"]) == (0, "review")


@pytest.mark.parametrize(("actor", "provider", "said"), [
    (["--actor", "alice", "--role", "data_admin", "--department", C], "123", "provider_dept"),
    (["--actor", "bob", "--role", "data_auditor", "--department", P], P, "may not"),
])
def test_a_refused_start_leaves_no_new_database(tmp_path: Path, flow_dir: Path, capsys: pytest.CaptureFixture[str],
                                                actor: list[str], provider: str, said: str) -> None:
    """A start refused for its variables or the actor's role exits 1 before a new database file is created."""
    db = tmp_path / "typo.db"
    code, _, err = run(capsys, "start", "common.test_flow", "K-1", "--db", str(db), "--workflows", str(flow_dir),
                       *actor, "--var", f"consumer_dept={C}", "--var", f"provider_dept={provider}")
    assert code == 1 and said in err and "creating" not in err
    assert not db.exists()


def test_a_mistyped_workflow_id_says_did_you_mean_and_creates_nothing(
        tmp_path: Path, flow_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`start common.test_flw` names the nearest loaded id and leaves no empty database behind."""
    db = tmp_path / "s.db"
    argv = _start_args(db, flow_dir)
    argv[1] = "common.test_flw"
    code, _, err = run(capsys, *argv)
    assert code == 1
    assert err == "error: no workflow 'common.test_flw' is loaded (did you mean 'common.test_flow'?)\n"
    assert not db.exists()


@pytest.mark.parametrize(("db", "said"), [("missing/x.db", "there is no folder"), (".", "is a folder"),
                                          ("mysql://u@h/d", "only SQLite")])
def test_a_db_that_cannot_be_one_is_a_usage_error(tmp_path: Path, flow_dir: Path, capsys: pytest.CaptureFixture[str],
                                                  db: str, said: str) -> None:
    """--db in a missing folder, naming a folder or another server exits 2 saying which, before "creating"."""
    target = db if "://" in db else str(tmp_path / db)
    for argv in (_start_args(Path("unused.db"), flow_dir), ["show"]):
        code, out, err = run(capsys, *argv, "--db", target)  # the last --db given is the one used
        assert (code, out) == (2, "")
        assert said in err and "creating" not in err and "Traceback" not in err


@pytest.mark.parametrize(("extra", "said"), [
    (["--vars", "{bad json"], "--vars '{bad json': expected a JSON object"),
    (["--vars", "[1]"], "expected a JSON object"),
    (["--var", "consumer_dept"], "--var 'consumer_dept': expected NAME=VALUE"),
])
def test_malformed_variables_are_usage_errors(tmp_path: Path, flow_dir: Path, capsys: pytest.CaptureFixture[str],
                                              extra: list[str], said: str) -> None:
    """Variables that are no JSON object or no NAME=VALUE exit 2 with the form expected, creating no database."""
    db = tmp_path / "v.db"
    code, _, err = run(capsys, *_start_args(db, flow_dir), *extra)
    assert code == 2 and said in err
    assert not db.exists()


@pytest.mark.parametrize(("argv", "said"), [
    (["overdue", "--workflow", "common.test_flw"], "--workflow 'common.test_flw'"),
    (["show", "--workflow", "common.test_flw"], "--workflow 'common.test_flw'"),
    (["show", "--state", "reviw"], "(did you mean 'review'?)"),
    (["show", "--workflow", "common.test_flow", "--state", "reviw"], "no such state of common.test_flow"),
])
def test_filters_no_workflow_has_are_refused(tmp_path: Path, flow_dir: Path, capsys: pytest.CaptureFixture[str],
                                             argv: list[str], said: str) -> None:
    """A --workflow or --state that matches no workflow exits 2 with did-you-mean instead of listing nothing."""
    db = tmp_path / "f.db"
    assert run(capsys, *_start_args(db, flow_dir))[0] == 0
    code, out, err = run(capsys, *argv, "--db", str(db), "--workflows", str(flow_dir))
    assert (code, out) == (2, "")
    assert said in err and "did you mean" in err
    code, out, _ = run(capsys, "show", "--db", str(db), "--workflows", str(flow_dir), "--workflow",
                       "common.test_flow", "--state", "review", "--json")
    assert code == 0 and len(json.loads(out)) == 1


def test_a_workflow_only_the_database_keeps_is_a_known_filter(
        tmp_path: Path, flow_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Instances of a workflow whose file is no longer given are still listed by --workflow and --state."""
    db = tmp_path / "kept.db"
    assert run(capsys, *_start_args(db, flow_dir))[0] == 0
    other = tmp_path / "other"
    other.mkdir()
    code, out, _ = run(capsys, "show", "--db", str(db), "--workflows", str(other), "--workflow", "common.test_flow",
                       "--state", "review", "--json")
    assert code == 0 and [i["business_key"] for i in json.loads(out)] == ["K-1"]


def test_listings_align_chinese_business_keys(tmp_path: Path, flow_dir: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """A business key in Chinese is padded by display width, so the columns after it line up."""
    db = tmp_path / "cjk.db"
    for key in ("SQ-1", "申请-二〇二六"):
        assert run(capsys, *_start_args(db, flow_dir, key))[0] == 0
    _, out, _ = run(capsys, "show", "--db", str(db), "--workflows", str(flow_dir))
    import unicodedata

    def width(text: str) -> int:
        return sum(2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in text)

    columns = {width(line[:line.index(" review ")]) for line in out.splitlines()}
    assert len(out.splitlines()) == 2 and len(columns) == 1


def test_worker_log_lines_are_in_beijing_time() -> None:
    """The worker's log times carry +08:00, like every other time it prints."""
    import logging

    from engine.cli_runtime import BeijingTimeFormatter

    record = logging.LogRecord("w", logging.INFO, __file__, 1, "tick", None, None)
    record.created = 0.0  # 1970-01-01T00:00Z
    assert BeijingTimeFormatter("%(asctime)s").format(record) == "1970-01-01T08:00:00.000+08:00"


def test_health_exits_1_when_due_work_waits_for_a_missing_worker(tmp_path: Path, flow_dir: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """A database whose case started in March with no worker since: its moments have waited for months, so
    `health` names the missing worker and exits 1 (text and JSON); an empty database is ok; a bad grace or a
    missing database is a usage error."""
    db = str(tmp_path / "health.db")
    SqlInstanceStore(db).close()
    code, out, _ = run(capsys, "health", "--db", db)
    assert code == 0 and "0 worker(s) ticking; nothing waits for a worker" in out
    engine = Engine(SqlInstanceStore(db), DefinitionSet.load([flow_dir]),
                    clock=ManualClock(datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI)))
    engine.start("common.test_flow", "H-1", {"consumer_dept": C, "provider_dept": P},
                 Actor("alice", frozenset({"data_admin"}), C))
    engine.close()
    code, out, _ = run(capsys, "health", "--db", db)
    assert code == 1 and "no worker is ticking this database" in out and "cli.py worker" in out
    assert "no worker has ever ticked it" in out
    code, out, _ = run(capsys, "health", "--db", db, "--json")
    report = json.loads(out)
    assert code == 1 and report["moments_due"] >= 1 and report["oldest_moment"].startswith("2026-03")
    assert [p["kind"] for p in report["problems"]] == ["workers", "sweep"]
    assert json.loads(run(capsys, "health", "--db", db, "--json", "--workers", "0")[1])["problems"][0]["kind"] == \
        "sweep"
    with pytest.raises(SystemExit) as bad:
        run(capsys, "health", "--db", db, "--grace", "0")
    assert bad.value.code == 2 and "at least 1" in capsys.readouterr().err
    with pytest.raises(SystemExit) as bad:
        run(capsys, "health", "--db", db, "--workers", "-1")
    assert bad.value.code == 2 and "give a whole number of at least 0 (workers)" in capsys.readouterr().err
    code, _, err = run(capsys, "health", "--db", str(tmp_path / "helth.db"))
    assert code == 2 and "no database at" in err


def test_health_lists_the_workers_and_wants_as_many_as_asked(tmp_path: Path, flow_dir: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    """A case waits on a database one worker ticks now and another stopped: `health` lists both, is content
    with one worker and exits 1 when two are wanted; the JSON carries every worker."""
    db = str(tmp_path / "workers.db")
    now = SystemClock().now()
    engine = Engine(SqlInstanceStore(db), DefinitionSet.load([flow_dir]), clock=ManualClock(now))
    engine.start("common.test_flow", "W-1", {"consumer_dept": C, "provider_dept": P},
                 Actor("alice", frozenset({"data_admin"}), C))
    engine.store.record_tick("a" * 32, "gone:1", now - timedelta(hours=1), first=True)
    engine.store.record_worker_stop("a" * 32, now - timedelta(minutes=50))
    engine.store.record_tick("b" * 32, "here:2", now, first=True)
    engine.close()
    code, out, _ = run(capsys, "health", "--db", db)
    assert code == 0 and "ok: nothing due has waited longer than 300 s; 1 worker(s) ticking\n" in out
    assert "worker here:2: ticking; last tick" in out and "1 tick(s) since" in out
    assert "worker gone:1: stopped on" in out
    code, out, _ = run(capsys, "health", "--db", db, "--workers", "2")
    assert code == 1 and "1 worker(s) ticked this database in the last 5 min, 2 are wanted" in out
    report = json.loads(run(capsys, "health", "--db", db, "--json")[1])
    assert [w["name"] for w in report["workers"]] == ["here:2", "gone:1"] and report["workers_wanted"] == 1
    assert report["workers"][1]["stopped_at"].endswith("+08:00")
