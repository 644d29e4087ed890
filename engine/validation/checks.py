"""Whole-definition checks on a built WorkflowSpec: references (states, roles, variables, hooks, templates),
guards, reachability and ways out, duplicate events, SLA ladders, `save`/`set` against the variables.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime
from typing import Any

from engine.clock import SHANGHAI
from engine.errors import PayloadInvalid
from engine.expressions import GuardSyntaxError, compile_guard, compile_text_template
from engine.fields import coerce, expected_description
from engine.periods import PERIOD_NAMES, is_template, render_period
from engine.spec import DueSpec, FieldSpec, LateMark, SlaSpec, StateKind, StateSpec, VariableType, WorkflowSpec
from engine.validation.build import Builder
from engine.validation.keys import SLA_DEFAULT_TEMPLATES, SUPERVISOR_ROLE
from engine.validation.reader import Declared, closest, did_you_mean, shown

#: Fire moments in either half year (one a leap day), at which recurring templates are tried at load time.
_SAMPLE_MOMENTS = (datetime(2028, 2, 29, 9, tzinfo=SHANGHAI), datetime(2026, 12, 1, 9, tzinfo=SHANGHAI))


class Checker:
    """Runs every semantic check, reporting through the builder (which knows the positions)."""

    def __init__(self, spec: WorkflowSpec, builder: Builder, known_templates: Collection[str] | None) -> None:
        self.spec = spec
        self.b = builder
        self.d: Declared = builder.declared
        self.known_templates = None if known_templates is None else frozenset(known_templates)
        self.dangling = False  # some reference names an unknown state: graph checks would only echo that

    def problem(self, path: str, message: str, at_key: bool = False) -> None:
        self.b.problem(path, message, at_key)

    # -- references ------------------------------------------------------------------------------------------
    def state_ref(self, path: str, name: str | None) -> None:
        if name is not None and name not in self.d.states and "states" not in self.d.unchecked:
            self.dangling = True
            self.problem(path, f"unknown state {name!r}{did_you_mean(name, self.d.states)}")

    def role_refs(self, path: str, roles: Iterable[str], single: bool = False) -> None:
        for i, role in enumerate(roles):
            if role not in self.d.roles and "roles" not in self.d.unchecked:
                where = path if single else self.b.item(path, i)
                self.problem(where, f"unknown role {role!r}{did_you_mean(role, self.d.roles)}; declare it under roles")

    def template_ref(self, path: str, template: str) -> None:
        allowed = self.d.templates | set(SLA_DEFAULT_TEMPLATES)
        if template in allowed:
            return
        files = self.known_templates or frozenset()  # the notifier's template files, when the caller knows them
        if template in files:
            self.problem(path, f"template {template!r} is not listed under templates: add it there")
            return
        close = closest(template, allowed | files)
        if close is not None and close not in allowed:
            self.problem(path, f"unknown template {template!r} (did you mean {close!r}? it is not listed under "
                               "templates: add it there)")
        else:
            self.problem(path, f"unknown template {template!r}{did_you_mean(template, allowed)}; "
                               "list it under templates")

    def guard(self, path: str, expr: str | None) -> None:
        if expr is None:
            return
        try:
            guard = compile_guard(expr)
        except GuardSyntaxError as err:
            self.problem(path, f"guard {expr!r}: {err.detail}")
            return
        for name in sorted(guard.names - self.d.variables if "variables" not in self.d.unchecked else ()):
            self.problem(path, f"guard {expr!r} names unknown variable {name!r}"
                               f"{did_you_mean(name, self.d.variables)}; declare it under variables")
        for name, text in guard.literals:  # a mistyped enum value makes a branch that can never be taken
            var = self.spec.variables.get(name)
            if var is not None and var.type is VariableType.ENUM and var.values and text not in var.values:
                self.b.rule_for_new(path, f"guard {expr!r} compares enum {name!r} with {text!r}, which is not one "
                                          f"of its values ({', '.join(var.values)}){did_you_mean(text, var.values)}")

    def role_list_path(self, path: str, roles: tuple[str, ...]) -> tuple[str, bool]:
        raw = self.b.locations.get(f"{path}.0")
        return path, raw is None and len(roles) == 1

    def notify(self, path: str, roles: tuple[str, ...]) -> None:
        p, single = self.role_list_path(path, roles)
        self.role_refs(p, roles, single)

    # -- parts -----------------------------------------------------------------------------------------------
    def notifications(self, path: str, items: Iterable[Any]) -> None:
        for i, n in enumerate(items):
            item = self.b.item(path, i)
            self.template_ref(f"{item}.template", n.template)
            self.notify(f"{item}.to", n.to)

    def sla(self, path: str, sla: SlaSpec, procedure: bool) -> None:
        self.due_variables(f"{path}.due", sla.due, "due date", "due `from`")
        due = sla.due.duration
        seen_warnings: set[tuple[int, str]] = set()
        for i, warn in enumerate(sla.warn_before):
            key = (warn.amount, warn.unit.value)
            wp = self.b.item(f"{path}.warn_before", i)
            if key in seen_warnings:
                self.problem(wp, f"warning {warn} is listed twice")
            seen_warnings.add(key)
            # equal is fine: `1 WD` before a `1 WD` deadline is the end of the day the clock started
            if due is not None and warn.unit is due.unit and warn.amount > due.amount:
                self.problem(wp, f"a warning {warn} before a deadline of {due} would come "
                                                        "before the clock starts: make it shorter")
        self.notify(f"{path}.warn_notify", sla.warn_notify)
        self.notify(f"{path}.breach_notify", sla.breach_notify)
        self.template_ref(f"{path}.warn_template", sla.warn_template)
        self.template_ref(f"{path}.breach_template", sla.breach_template)
        for i, s in enumerate(sla.pause_in):
            pp = self.b.item(f"{path}.pause_in", i)
            self.state_ref(pp, s)
            if not procedure and path == f"states.{s}.sla":
                self.problem(pp, f"a task clock does not pause in its own task {s!r}: name the states reached "
                                 "from it during which it stands still")
            elif s in self.spec.states and self.spec.states[s].kind is StateKind.END:
                self.problem(pp, f"{s!r} is an end state: a clock stops there, it cannot pause")
        self.ladder(f"{path}.escalate", sla)

    def ladder(self, path: str, sla: SlaSpec) -> None:
        """Each escalation level's references; then, if every level was read, the order of the ladder."""
        for i, level in enumerate(sla.escalations):
            lp = self.b.item(path, i)
            self.notify(f"{lp}.notify", level.notify)
            self.template_ref(f"{lp}.template", level.template)
        if self.b.partial(path):
            return  # a level that failed is reported already; the rest, re-counted, would fail the order checks
        previous = None
        for i, level in enumerate(sla.escalations):
            lp = f"{path}.{i}"
            expected = 1 if previous is None else previous.level + 1
            if previous is None and level.level != 1:
                self.problem(f"{lp}.level", f"escalation levels start at 1, not {level.level}")
            elif previous is not None and level.level <= previous.level:
                self.problem(f"{lp}.level", f"escalation level {level.level} must be above the previous one "
                                            f"({previous.level}); expected {expected}")
            if previous is not None and previous.after.unit == level.after.unit and \
                    level.after.amount < previous.after.amount:
                self.problem(f"{lp}.after", f"escalation level {level.level} fires after {level.after}, before level "
                                            f"{previous.level} ({previous.after}): `after` may not decrease")
            previous = level
        if sla.escalations and sla.escalations[-1].notify and SUPERVISOR_ROLE not in sla.escalations[-1].notify:
            last = len(sla.escalations) - 1
            self.problem(f"{path}.{last}.notify",
                         f"the last escalation level must notify {SUPERVISOR_ROLE} (the ladder ends at the supervisor)")

    def due_variables(self, path: str, due: DueSpec, date_what: str, from_what: str) -> None:
        """The date variables a `due` names (its `date`, or the `from` its period counts from) are declared dates."""
        if due.date_variable is not None:
            self.date_variable(f"{path}.date", due.date_variable, date_what)
        if due.from_variable is not None:
            self.date_variable(f"{path}.from", due.from_variable, from_what)

    def date_variable(self, path: str, name: str, what: str) -> None:
        var = self.spec.variables.get(name)
        if name not in self.d.variables:
            self.problem(path, f"{what} names unknown variable {name!r}{did_you_mean(name, self.d.variables)}")
        elif var is not None and var.type is not VariableType.DATE:
            self.problem(path, f"{what} names variable {name!r} of type {var.type.value}; it must be a date variable")

    def state(self, name: str, st: StateSpec) -> None:
        path = f"states.{name}"
        self.notifications(f"{path}.on_enter", st.on_enter)
        self.notifications(f"{path}.on_exit", st.on_exit)
        if st.kind is StateKind.TASK:
            if st.assignee is not None:
                self.role_refs(f"{path}.assignee", (st.assignee,), single=True)
            if st.sla is not None:
                self.sla(f"{path}.sla", st.sla, procedure=False)
        elif st.kind is StateKind.AUTO:
            if st.hook is not None and st.hook not in self.d.hooks and "hooks" not in self.d.unchecked:
                self.problem(f"{path}.hook", f"unknown hook {st.hook!r}{did_you_mean(st.hook, self.d.hooks)}; "
                                             "declare it under hooks")
            self.state_ref(f"{path}.next", st.next)
        elif st.kind is StateKind.TIMER:
            if st.at_variable is not None:
                self.date_variable(f"{path}.at", st.at_variable, "timer `at`")
            self.state_ref(f"{path}.next", st.next)
        elif st.kind is StateKind.DECISION:
            for i, br in enumerate(st.branches):
                bp = self.b.item(f"{path}.branches", i)
                self.guard(f"{bp}.when", br.when)
                self.state_ref(f"{bp}.to", br.to)
            self.state_ref(f"{path}.default", st.default)

    def transitions(self) -> None:
        seen: dict[tuple[str, str], int] = {}
        for t, (i, src_path) in zip(self.spec.transitions, self.b.transition_meta, strict=True):
            path = f"transitions.{i}"
            if t.source not in self.d.states:
                self.state_ref(src_path, t.source)
            elif t.source in self.spec.states and self.spec.states[t.source].kind is StateKind.END:
                self.problem(src_path, f"event {t.event!r} leaves end state {t.source!r}: nothing leaves an end state")
            elif t.source in self.spec.states and self.spec.states[t.source].kind is StateKind.DECISION:
                self.problem(src_path, f"event {t.event!r} leaves decision state {t.source!r}: a decision leaves by "
                                       "its branches only")
            self.state_ref(f"{path}.to", t.dest)
            p, single = self.role_list_path(f"{path}.role", t.roles)
            self.role_refs(p, t.roles, single)
            self.guard(f"{path}.guard", t.guard)
            key = (t.source, t.event)
            if key in seen and seen[key] != i:
                self.problem(f"{path}.event", f"event {t.event!r} already leaves state {t.source!r} (transitions."
                                              f"{seen[key]}): branch with a decision state instead")
            seen.setdefault(key, i)
            payload = {f.name: f for f in t.payload}
            for j, field_name in enumerate(t.save):
                spath = f"{path}.save.{j}"
                var = self.spec.variables.get(field_name)
                if field_name not in payload:
                    self.problem(spath, f"save names {field_name!r}, which is not a payload field"
                                        f"{did_you_mean(field_name, payload)}")
                elif field_name not in self.d.variables:
                    self.problem(spath, f"save names payload field {field_name!r}, which is not a declared variable"
                                        f"{did_you_mean(field_name, self.d.variables)}")
                elif var is not None and var.type is not payload[field_name].type:
                    self.problem(spath, f"save copies payload field {field_name!r} of type "
                                        f"{payload[field_name].type.value} into variable {field_name!r} of type "
                                        f"{var.type.value}")
            for vname, value in t.set.items():
                self.constant(f"{path}.set.{vname}", vname, value)
            if t.late is not None:
                self.late_mark(f"{path}.late", t.late)

    def late_mark(self, path: str, late: LateMark) -> None:
        self.due_variables(f"{path}.due", late.due, "late `date`", "late `from`")
        var = self.spec.variables.get(late.mark)
        if late.mark not in self.d.variables:
            self.problem(f"{path}.mark", f"late marks unknown variable {late.mark!r}"
                                         f"{did_you_mean(late.mark, self.d.variables)}; declare it as a bool")
        elif var is not None and var.type is not VariableType.BOOL:
            self.problem(f"{path}.mark", f"late marks variable {late.mark!r} of type {var.type.value}; it must be a "
                                         "bool variable")

    def constant(self, path: str, name: str, value: Any) -> None:
        var = self.spec.variables.get(name)
        if name not in self.d.variables:
            self.problem(path, f"set names unknown variable {name!r}{did_you_mean(name, self.d.variables)}")
            return
        if var is None:
            return
        try:
            coerce(var, value, "set")
        except PayloadInvalid:
            self.problem(path, f"value {shown(value)} does not fit variable {name!r}: "
                               f"expected {expected_description(var)}")

    # -- graph -----------------------------------------------------------------------------------------------
    def successors(self, st: StateSpec) -> list[str]:
        out = [t.dest for t in self.spec.transitions if t.source == st.name]
        if st.kind is StateKind.DECISION:
            out += [b.to for b in st.branches] + ([st.default] if st.default else [])
        elif st.kind in (StateKind.AUTO, StateKind.TIMER) and st.next:
            out.append(st.next)
        return [s for s in out if s in self.spec.states]

    def graph(self) -> None:
        states = self.spec.states
        if states and not self.spec.end_states() and len(states) == len(self.d.states):
            self.problem("states", "no end state: add a state of kind `end` so the procedure can finish")
        succ = {name: self.successors(st) for name, st in states.items()}
        # a misspelt target, or a state or exit that could not be read, is reported already; the graph without it
        # would make the states it leads to look unreachable (or unable to end): say it once
        whole = not self.dangling and not self.d.broken_exits and set(states) == self.d.states
        if self.spec.initial in states and whole:
            reached = self._reach([self.spec.initial], succ)
            for name in states:
                if name not in reached:
                    self.problem(f"states.{name}", f"state {name!r} is unreachable from the initial state "
                                                   f"{self.spec.initial!r}", at_key=True)
        ends = set(self.spec.end_states())
        for name, st in states.items():
            if st.kind is StateKind.END:
                continue
            if not succ[name] and not self._has_broken_exit(st):
                self.problem(f"states.{name}", f"state {name!r} has no way out: add a transition from it", at_key=True)
        if ends and whole:
            pred: dict[str, list[str]] = {n: [] for n in states}
            for n, outs in succ.items():
                for o in outs:
                    pred[o].append(n)
            can_end = self._reach(list(ends), pred)
            for name in states:
                if name not in can_end and succ[name]:
                    self.problem(f"states.{name}", f"state {name!r} can never reach an end state", at_key=True)
        self._decision_cycles()

    def _has_broken_exit(self, st: StateSpec) -> bool:
        """True when the state's exits exist but name unknown states (already reported)."""
        return st.name in self.d.broken_exits or any(t.source == st.name for t in self.spec.transitions) or bool(
            st.next or st.default or st.branches)

    @staticmethod
    def _reach(start: list[str], succ: dict[str, list[str]]) -> set[str]:
        seen = set(start)
        todo = list(start)
        while todo:
            for nxt in succ.get(todo.pop(), []):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    def _decision_cycles(self) -> None:
        decisions = {n: s for n, s in self.spec.states.items() if s.kind is StateKind.DECISION}
        for name, st in decisions.items():
            targets = [b.to for b in st.branches] + ([st.default] if st.default else [])
            loop = self._reach([t for t in targets if t in decisions],
                               {n: [x for x in [b.to for b in s.branches] + [s.default or ""] if x in decisions]
                                for n, s in decisions.items()})
            if name in loop:
                self.problem(f"states.{name}", f"decision {name!r} can loop back to itself through decisions only: "
                                               "put a task, timer or auto step on the way", at_key=True)

    # -- the whole -------------------------------------------------------------------------------------------
    def run(self) -> None:
        spec = self.spec
        if spec.initial and spec.initial not in self.d.states:
            self.state_ref("initial", spec.initial)
        for name, role in spec.roles.items():
            dep = role.department_variable
            if dep is None:
                continue
            var = spec.variables.get(dep)
            if dep not in self.d.variables:
                self.problem(f"roles.{name}.department",
                             f"unknown variable {dep!r}{did_you_mean(dep, self.d.variables)}; "
                             "the department must be a declared department variable")
            elif var is not None and var.type is not VariableType.DEPARTMENT:
                self.problem(f"roles.{name}.department", f"variable {dep!r} is of type {var.type.value}; "
                                                         "it must be of type department")
        self.notify("start.roles", spec.start_roles)
        for name, st in spec.states.items():
            self.state(name, st)
        self.transitions()
        if spec.sla is not None:
            self.sla("sla", spec.sla, procedure=True)
        has_sla = spec.sla is not None or any(s.sla is not None for s in spec.states.values())
        if has_sla and SUPERVISOR_ROLE not in self.d.roles and "roles" in self.b.locations:
            self.problem("roles", f"a workflow with an SLA must declare {SUPERVISOR_ROLE}: escalations end there")
        if spec.recurring is not None:
            self.period_template("recurring.business_key", spec.recurring.business_key)
            for vname, value in spec.recurring.variables.items():
                path = f"recurring.variables.{vname}"
                var = spec.variables.get(vname)
                if vname not in self.d.variables:
                    self.problem(path, f"unknown variable {vname!r}{did_you_mean(vname, self.d.variables)}")
                elif var is not None and is_template(value):
                    if self.period_template(path, value):
                        self.rendered_fits(path, vname, var, value)
                elif var is not None:
                    try:
                        coerce(var, value, "recurring")
                    except PayloadInvalid:
                        self.problem(path, f"value {shown(value)} does not fit variable {vname!r}: "
                                           f"expected {expected_description(var)}")
            self.recurring_required(spec)
        if self.known_templates is not None:
            used = set(spec.templates) | self._used_defaults()
            for t in sorted(used - self.known_templates):
                path = f"templates.{spec.templates.index(t)}" if t in spec.templates else "templates"
                self.problem(path, f"template {t!r} has no file notifiers/templates/{t}.j2"
                                   f"{did_you_mean(t, self.known_templates)}")
        self.graph()

    def recurring_required(self, spec: WorkflowSpec) -> None:
        """The worker starts each round with `recurring.variables` alone, so a required variable missing there
        would have every round refused; a start role starting one by hand is no reason to leave it out."""
        assert spec.recurring is not None
        if any(name not in self.d.variables for name in spec.recurring.variables):
            return  # a misspelt name is said already, with the name it was meant to be: that one fix does for both
        missing = [name for name, var in spec.variables.items()
                   if var.required and name not in spec.recurring.variables]
        if missing:
            path = "recurring.variables" if "recurring.variables" in self.b.locations else "recurring"
            self.b.rule_for_new(path, f"required variable(s) {', '.join(map(repr, missing))} not given: the "
                                      "worker starts each round with these variables only, so it would refuse "
                                      "every round; give each a value or a template here, or make it optional",
                                at_key=True)

    def period_template(self, path: str, template: str) -> bool:
        """A recurring template parses in the sandbox and names only period values; say what is wrong if not."""
        try:
            names = compile_text_template(template).names
        except GuardSyntaxError as err:
            self.problem(path, f"template {shown(template)}: {err.detail}")
            return False
        for name in sorted(names - set(PERIOD_NAMES)):
            self.problem(path, f"template {shown(template)} names {name!r}, not a period value"
                               f"{did_you_mean(name, PERIOD_NAMES)}; known: {', '.join(PERIOD_NAMES)}")
            return False
        return True

    def rendered_fits(self, path: str, vname: str, var: FieldSpec, template: str) -> None:
        """Rendered for a fire moment in each half year, the template gives a value of the variable's type."""
        for moment in _SAMPLE_MOMENTS:
            value = render_period(template, moment)
            try:
                coerce(var, value, "recurring")
            except PayloadInvalid:
                self.problem(path, f"template {shown(template)} gives {shown(value)} on {moment.date()}, which "
                                   f"does not fit variable {vname!r}: expected {expected_description(var)}")
                return

    def _used_defaults(self) -> set[str]:
        used: set[str] = set()
        slas = [s.sla for s in self.spec.states.values() if s.sla is not None]
        if self.spec.sla is not None:
            slas.append(self.spec.sla)
        for sla in slas:
            used |= {sla.warn_template, sla.breach_template} | {lv.template for lv in sla.escalations}
        return used & set(SLA_DEFAULT_TEMPLATES)
