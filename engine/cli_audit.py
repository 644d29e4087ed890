"""`cli.py audit`: the history chain of every instance in a database checked at once, for the bureau's data
supervisors and auditors (`history` checks one).

Exit status: 0 when every chain is intact, 3 when any is broken, 4 when none is broken but some were not checked
from a step sealed with a key not given (as `history`), 1 when the database or keyring cannot be read, 2 on a bad
command line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap
from pathlib import Path
from typing import Any

from engine.audit import DEFAULT_BATCH, AuditFinding, AuditReport, audit_histories, keys_in_use_since
from engine.cli_checks import UsageError, check_choice, exit_codes, open_to_read, require_engine_db
from engine.cli_options import add_database
from engine.cli_runtime import EXIT_ALTERED, EXIT_KEY_MISSING, broken_verdict, step_json, step_line
from engine.errors import WorkflowError
from engine.history_keys import HistoryKeyring

_REPO = Path(__file__).resolve().parent.parent
#: How many instances between two progress lines (`--progress`).
PROGRESS_EVERY = 10_000


def cmd_audit(args: argparse.Namespace) -> int:
    keyring = HistoryKeyring.load(args.history_keys) if args.history_keys else None  # a bad file: before any read
    require_engine_db(args.db)
    store = open_to_read(args.db)
    out = _JsonOutput() if args.json else _TextOutput()
    try:
        if args.workflow is not None:
            _check_workflow(args, store)
        report = audit_histories(store, keyring.keys if keyring is not None else None, keys_in_use_since(store),
                                 workflow_id=args.workflow, batch=DEFAULT_BATCH, found=out.finding,
                                 progress=_progress if args.progress else None, progress_every=PROGRESS_EVERY)
    finally:
        store.close()
    out.totals(report)
    return EXIT_ALTERED if report.altered else EXIT_KEY_MISSING if report.not_checked else 0


def _check_workflow(args: argparse.Namespace, store: Any) -> None:
    """Refuse a `--workflow` neither loaded nor kept in the database: a typo would audit nothing, "all intact"."""
    from engine.definitions import DefinitionSet
    from engine.filters import known_states

    definitions = DefinitionSet.load(args.workflows or ["workflows" if Path("workflows").is_dir()
                                                        else str(_REPO / "workflows")])
    check_choice("--workflow", args.workflow, known_states(definitions, store), "workflow loaded or stored in the "
                 "database")


def _progress(report: AuditReport) -> None:
    print(f"... {report.instances} instance(s), {report.steps} step(s) checked so far, {report.altered} altered",
          file=sys.stderr, flush=True)


class _TextOutput:
    """Each finding on its own line as it is made (the step the chain breaks at below it), then the totals."""

    def finding(self, finding: AuditFinding) -> None:
        who = f"{finding.instance_id}  {finding.workflow_id}  {finding.business_key}"
        verdict = broken_verdict(finding.report)
        if verdict is None:
            print(f"{who}: warning: {finding.report.unsealed_since_keys} unsealed step(s) are dated after history "
                  "keys came into use in this database: written by a process not given the keyring, or written "
                  "again without it")
            return
        print(f"{who}: {verdict}")
        if finding.step is not None:
            print(f"    {step_line(finding.step)}")

    def totals(self, report: AuditReport) -> None:
        sealed = f" ({report.sealed} sealed with a history key)" if report.sealed else ""
        warned = (f", {report.unsealed_since_keys} with unsealed steps since keys came into use"
                  if report.unsealed_since_keys else "")
        print(f"checked {report.instances} instance(s), {report.steps} step(s){sealed}: {report.intact} intact, "
              f"{report.altered} altered, {report.not_checked} not checked (history key not given){warned}")
        if report.missing_keys:
            print(f"history key(s) not given: {', '.join(sorted(report.missing_keys))}; check them with the keyring "
                  "(--history-keys, $SHIXIAN_HISTORY_KEYS)")


class _JsonOutput:
    """One JSON object written as the audit goes: `findings` first, each as it is made, then the totals."""

    def __init__(self) -> None:
        self._written = 0

    def finding(self, finding: AuditFinding) -> None:
        item = textwrap.indent(json.dumps(_finding(finding), ensure_ascii=False, indent=2), "    ")
        print('{\n  "findings": [\n' if not self._written else ",\n", item, sep="", end="")
        self._written += 1

    def totals(self, report: AuditReport) -> None:
        totals = {"instances": report.instances, "steps": report.steps, "sealed": report.sealed,
                  "intact": report.intact, "altered": report.altered, "not_checked": report.not_checked,
                  "unsealed_since_keys": report.unsealed_since_keys, "missing_keys": sorted(report.missing_keys),
                  "ok": report.ok}
        findings_end = "\n  ]" if self._written else '{\n  "findings": []'
        print(findings_end, json.dumps(totals, ensure_ascii=False, indent=2).removeprefix("{\n"), sep=",\n")


def _finding(finding: AuditFinding) -> dict[str, Any]:
    report = finding.report
    return {"kind": finding.kind, "instance_id": finding.instance_id, "workflow_id": finding.workflow_id,
            "business_key": finding.business_key, "seq": report.broken_seq, "problem": report.problem or None,
            "missing_key": report.missing_key, "verdict": broken_verdict(report),
            "unsealed_since_keys": report.unsealed_since_keys,
            "step": step_json(finding.step) if finding.step is not None else None}


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("audit", help="check the history chain of every instance in the database")
    add_database(p)
    p.add_argument("--workflows", action="append", default=None,
                   help="definition file or folder, for --workflow's check (repeatable; default: the repository's "
                        "workflows/)")
    p.add_argument("--history-keys", default=os.environ.get("SHIXIAN_HISTORY_KEYS") or None, metavar="FILE",
                   help="keyring that checks sealed steps (default: $SHIXIAN_HISTORY_KEYS); without it a sealed "
                        "step is not checked (exit 4)")
    p.add_argument("--workflow", help="only this workflow's instances")
    p.add_argument("--json", action="store_true", help="print JSON for scripts")
    p.add_argument("--progress", action="store_true",
                   help=f"a line on stderr every {PROGRESS_EVERY:,} instances, for a large database")
    p.set_defaults(func=exit_codes(cmd_audit, [(UsageError, 2, None), (WorkflowError, 1, None)]))
