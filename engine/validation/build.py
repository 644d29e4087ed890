"""Builds a WorkflowSpec from parsed YAML data, checking each mapping against the key tables (unknown keys,
missing keys, wrong types, bad names, bad durations) and collecting every problem instead of stopping.
"""

from __future__ import annotations

import re
from typing import Any

from engine.base_roles import BASE_ROLES
from engine.errors import PayloadInvalid
from engine.fields import coerce, expected_description
from engine.spec import (
    BranchSpec,
    DueSpec,
    EscalationLevelSpec,
    FieldSpec,
    LateMark,
    LocalizedName,
    NotificationSpec,
    RecurringSpec,
    RoleSpec,
    SlaSpec,
    SourceRef,
    StateKind,
    StateSpec,
    TransitionSpec,
    VariableType,
    WorkflowSpec,
    frozen_map,
)
from engine.validation.keys import (
    BRANCH_KEYS,
    CALENDARS,
    CRON_PATTERN,
    DUE_KEYS,
    ESCALATION_KEYS,
    FIELD_KEYS,
    JURISDICTION_CALENDARS,
    JURISDICTIONS,
    LATE_KEYS,
    NOTIFICATION_KEYS,
    ORGANISATIONS,
    RECURRING_KEYS,
    ROLE_KEYS,
    SLA_KEYS,
    SOURCE_KEYS,
    START_KEYS,
    STATE_COMMON_KEYS,
    STATE_KIND_KEYS,
    TOP_KEYS,
    TRANSITION_KEYS,
    WORKFLOW_ID_RE,
    Key,
)
from engine.validation.reader import Reader, article, ascii_form, did_you_mean, full_width, shown, type_name

_ID_FORM = "jurisdiction.name in lower case, e.g. gx.data_request"
_CALENDAR_WHY = {
    "CN-GX": "Guangxi's 壮族三月三 days are days off there",
    "CN": "壮族三月三 is a day off in Guangxi only",
}


class Builder(Reader):
    """Reads a whole workflow document into a WorkflowSpec, part by part."""

    def field_spec(self, path: str, name: str, value: Any, where: str) -> FieldSpec | None:
        m = self.mapping(path, value, FIELD_KEYS, f"{where} field {name!r}")
        if m is None:
            return None
        tpath = self.child(path, "type")
        raw_type = m.get("type")
        try:
            vtype = VariableType(raw_type) if isinstance(raw_type, str) else None
        except ValueError:
            vtype = None
        if vtype is None and "type" in m:
            hint = did_you_mean(str(raw_type), [t.value for t in VariableType])
            self.problem(tpath, f"unknown type {raw_type!r}{hint}; types: {', '.join(t.value for t in VariableType)}")
        values = tuple(self.many(self.child(path, "values"), m.get("values"),
                                 lambda p, v: self.name(p, v, "enum value", re.compile(r"^.+$")), "values", False))
        if vtype is VariableType.ENUM and "values" not in m:
            self.problem(path, "an enum needs `values`: the list of allowed values")
        if vtype is VariableType.ENUM and self.partial(self.child(path, "values")):
            vtype = None  # its values are in doubt: guards and defaults checked against them would only echo that
        if vtype is not None and vtype is not VariableType.ENUM and "values" in m:
            self.problem(self.child(path, "values"), f"`values` is for enum fields; this one is {vtype.value}")
        max_length = self.positive_int(self.child(path, "max_length"), m.get("max_length"), "max_length")
        if vtype is not None and max_length is not None and vtype not in (
            VariableType.STRING, VariableType.TEXT, VariableType.LIST
        ):
            self.problem(self.child(path, "max_length"),
                         f"`max_length` is for string, text and list; not {vtype.value}")
            max_length = None
        lo, hi = self.bounds(path, m, vtype)
        required = self.boolean(self.child(path, "required"), m.get("required"), "required")
        title = self.text(self.child(path, "title"), m.get("title"), "title") or ""
        if vtype is None:
            return None
        spec = FieldSpec(name, vtype, required, None, values, max_length, title, lo, hi)
        default = m.get("default")
        if default is not None:
            dpath = self.child(path, "default")
            if required:
                self.problem(dpath, "a required field has no use for a default: drop one of them")
            try:
                default = coerce(spec, default, where)
            except PayloadInvalid:
                self.problem(dpath, f"default {shown(default)} does not fit type {vtype.value}: "
                                    f"expected {expected_description(spec)}")
                default = None
            if isinstance(default, list):
                default = tuple(default)  # the definition stays immutable; instances get a list copy
            spec = FieldSpec(name, vtype, required, default, values, max_length, title, lo, hi)
        return spec

    def bounds(self, path: str, m: dict[str, Any], vtype: VariableType | None) -> tuple[Any, Any]:
        """`min` and `max` of an int or float field: numbers of the field's type, min not above max."""
        out: list[Any] = []
        for key in ("min", "max"):
            value, kpath = m.get(key), self.child(path, key)
            if value is None:
                out.append(None)
                continue
            if vtype is not None and vtype not in (VariableType.INT, VariableType.FLOAT):
                self.problem(kpath, f"`{key}` is for int and float fields; not {vtype.value}")
                value = None
            elif isinstance(value, bool) or not isinstance(value, int | float) or (
                    vtype is VariableType.INT and not isinstance(value, int)):
                kind = "a whole number" if vtype is VariableType.INT else "a number"
                self.problem(kpath, f"`{key}` must be {kind}, got {shown(value)}")
                value = None
            out.append(value)
        lo, hi = out
        if lo is not None and hi is not None and lo > hi:
            self.problem(self.child(path, "min"), f"`min` {lo} is above `max` {hi}: swap them")
            return None, None
        return lo, hi

    def fields(self, path: str, value: Any, where: str) -> dict[str, FieldSpec]:
        m = self.mapping(path, value, None, f"{where}s") if value is not None else {}
        out: dict[str, FieldSpec] = {}
        for name, raw in (m or {}).items():
            fpath = self.child(path, name)
            if self.name(fpath, name, f"{where} name") is None:
                continue
            f = self.field_spec(fpath, name, raw, where)
            if f is not None:
                out[name] = f
        return out

    def notifications(self, path: str, value: Any) -> tuple[NotificationSpec, ...]:
        def one(p: str, v: Any) -> NotificationSpec | None:
            m = self.mapping(p, v, NOTIFICATION_KEYS, "a notification")
            if m is None:
                return None
            template = self.name(self.child(p, "template"), m.get("template"), "template") if "template" in m else None
            to = self.role_refs(self.child(p, "to"), m.get("to"))
            return NotificationSpec(template, to) if template else None

        return self.many(path, value, one, "notifications", single_ok=False)

    def sla(self, path: str, value: Any, procedure: bool) -> SlaSpec | None:
        what = "the procedure sla" if procedure else "an sla"
        m = self.mapping(path, value, SLA_KEYS, what)
        if m is None:
            return None
        due = self.due(self.child(path, "due"), m.get("due"))
        warn_before = self.many(self.child(path, "warn_before"), m.get("warn_before"), self.duration, "warn_before")
        levels = self.many(self.child(path, "escalate"), m.get("escalate"), self.escalation, "escalate", False)
        pause_in = self.names(self.child(path, "pause_in"), m.get("pause_in"), "state")
        warn_t = self.name(self.child(path, "warn_template"), m.get("warn_template", "sla_warning"), "template")
        breach_t = self.name(self.child(path, "breach_template"), m.get("breach_template", "sla_breach"), "template")
        if due is None:
            return None
        return SlaSpec(
            due=due,
            warn_before=warn_before,
            warn_notify=self.role_refs(self.child(path, "warn_notify"), m.get("warn_notify")),
            warn_template=warn_t or "sla_warning",
            breach_notify=self.role_refs(self.child(path, "breach_notify"), m.get("breach_notify")),
            breach_template=breach_t or "sla_breach",
            escalations=levels,
            pause_in=pause_in,
        )

    def due(self, path: str, value: Any) -> DueSpec | None:
        if value is None:
            return None
        if isinstance(value, dict):
            m = self.mapping(path, value, DUE_KEYS, "due")
            if m is None:
                return None
            if ("date" in m) == ("after" in m):
                self.problem(path, "due needs exactly one of `date` (a date variable) or `after` (a duration, "
                                   "with `from`: the date variable it counts from)")
                return None
            if "date" in m:
                if "from" in m:
                    self.problem(self.child(path, "from"), "`from` goes with `after`, not with `date`", at_key=True)
                var = self.name(self.child(path, "date"), m["date"], "variable")
                return DueSpec(date_variable=var) if var else None
            after = self.duration(self.child(path, "after"), m["after"])
            if "from" not in m:
                self.problem(path, "`after` needs `from`: the date variable the period counts from "
                                   "(or write the duration alone to count from the start)")
                return None
            start = self.name(self.child(path, "from"), m["from"], "variable")
            return DueSpec(duration=after, from_variable=start) if after and start else None
        d = self.duration(path, value)
        return DueSpec(duration=d) if d else None

    def escalation(self, path: str, value: Any) -> EscalationLevelSpec | None:
        m = self.mapping(path, value, ESCALATION_KEYS, "an escalation level")
        if m is None:
            return None
        level = self.positive_int(self.child(path, "level"), m.get("level"), "level")
        after = self.duration(self.child(path, "after"), m.get("after"))
        notify = self.role_refs(self.child(path, "notify"), m.get("notify"))
        template = self.name(self.child(path, "template"), m.get("template", "sla_escalation"), "template")
        if level is None or after is None:
            return None
        return EscalationLevelSpec(level, after, notify, template or "sla_escalation")

    def state(self, path: str, name: str, value: Any) -> StateSpec | None:
        if not isinstance(value, dict):
            self.problem(path, f"state {name!r} must be a mapping with a `kind`, got {type_name(value)}")
            return None
        raw_kind = value.get("kind")
        kind: StateKind | None = None
        if isinstance(raw_kind, str) and raw_kind in StateKind._value2member_map_:
            kind = StateKind(raw_kind)
        elif "kind" in value:
            hint = did_you_mean(str(raw_kind), [k.value for k in StateKind])
            self.problem(self.child(path, "kind"),
                         f"unknown state kind {raw_kind!r}{hint}; kinds: {', '.join(k.value for k in StateKind)}")
        keys = {**STATE_COMMON_KEYS, **(STATE_KIND_KEYS[kind] if kind else {})}
        if kind is None:  # unknown kind: only say what is certain (kind missing), not which keys are wrong
            keys = {**STATE_COMMON_KEYS, **{k: Key(False, "any") for kk in STATE_KIND_KEYS.values() for k in kk}}
        m = self.mapping(path, value, keys, article(f"{kind.value} state") if kind else "a state")
        if m is None or kind is None:
            return None
        def p(key: str) -> str:
            return self.child(path, key)

        title = self.localized(p("title"), m.get("title"), "title")
        on_enter = self.notifications(p("on_enter"), m.get("on_enter"))
        on_exit = self.notifications(p("on_exit"), m.get("on_exit"))
        common: dict[str, Any] = {"name": name, "kind": kind, "title": title, "on_enter": on_enter, "on_exit": on_exit}
        if kind is StateKind.TASK:
            assignee = self.role_ref(p("assignee"), m["assignee"]) if "assignee" in m else None
            sla = self.sla(p("sla"), m["sla"], procedure=False) if "sla" in m else None
            return StateSpec(**common, assignee=assignee, sla=sla)
        if kind is StateKind.AUTO:
            hook = self.name(p("hook"), m["hook"], "hook") if "hook" in m else None
            nxt = self.name(p("next"), m["next"], "state") if "next" in m else None
            self.exit_read(name, "next" not in m or nxt is not None)
            return StateSpec(**common, hook=hook, next=nxt)
        if kind is StateKind.TIMER:
            if ("after" in m) == ("at" in m):
                self.problem(path, "a timer needs exactly one of `after` (a duration) or `at` (a date variable)")
            after = self.duration(p("after"), m.get("after"))
            at = self.name(p("at"), m["at"], "variable") if "at" in m else None
            nxt = self.name(p("next"), m["next"], "state") if "next" in m else None
            self.exit_read(name, "next" not in m or nxt is not None)
            return StateSpec(**common, after=after, at_variable=at, next=nxt)
        if kind is StateKind.DECISION:
            branches = self.many(p("branches"), m.get("branches"), self.branch, "branches", False)
            if m.get("branches") == []:  # a list whose branches could not be read has its problems already
                self.problem(p("branches"), "a decision needs at least one branch")
            default = self.name(p("default"), m["default"], "state") if "default" in m else None
            self.exit_read(name, not self.partial(p("branches")) and ("default" not in m or default is not None))
            return StateSpec(**common, branches=branches, default=default)
        outcome = self.name(p("outcome"), m["outcome"], "outcome") if "outcome" in m else None
        return StateSpec(**common, outcome=outcome)

    def exit_read(self, state: str, ok: bool) -> None:
        """Note a state some of whose exits could not be read: the graph checks would misjudge what it reaches."""
        if not ok:
            self.declared.broken_exits.add(state)

    def branch(self, path: str, value: Any) -> BranchSpec | None:
        m = self.mapping(path, value, BRANCH_KEYS, "a branch")
        if m is None:
            return None
        when = self.text(self.child(path, "when"), m.get("when"), "when", strict=True)
        to = self.name(self.child(path, "to"), m["to"], "state") if "to" in m else None
        return BranchSpec(when, to) if when is not None and to is not None else None

    def transitions(self, path: str, value: Any) -> tuple[TransitionSpec, ...]:
        if not isinstance(value, list):
            self.problem(path, f"transitions must be a list of events, got {type_name(value)}")
            return ()
        out: list[TransitionSpec] = []
        for i, raw in enumerate(value):
            out.extend(self.transition(f"{path}.{i}", raw))
        return tuple(out)

    def event_name(self, path: str, value: Any) -> str | None:
        if isinstance(value, str) and value.startswith("_"):
            self.problem(path, f"event {value!r} may not start with '_': the engine's own events (_decide, _auto, "
                               "_timer) do")
            return None
        return self.name(path, value, "event name")

    def transition(self, path: str, value: Any) -> list[TransitionSpec]:
        m = self.mapping(path, value, TRANSITION_KEYS, "a transition")
        if m is None:
            return []
        def p(key: str) -> str:
            return self.child(path, key)

        event = self.event_name(p("event"), m["event"]) if "event" in m else None
        sources = self.names(p("from"), m.get("from"), "state")
        dest = self.name(p("to"), m["to"], "state") if "to" in m else None
        roles = self.role_refs(p("role"), m.get("role"))
        guard = self.text(p("guard"), m.get("guard"), "guard", strict=True)
        payload = tuple(self.fields(p("payload"), m.get("payload"), "payload").values())
        save = self.names(p("save"), m.get("save"), "payload field")
        # a payload field whose declaration failed is reported there already: `save` naming it is no second fault
        broken = set(self._raw_names(m.get("payload"))) - {f.name for f in payload}
        if broken:
            save = tuple(name for name in save if name not in broken)
        setv = self.mapping(p("set"), m["set"], None, "set") if "set" in m else {}
        title = self.localized(p("title"), m.get("title"), "title")
        late = self.late(p("late"), m["late"]) if "late" in m else None
        raw_from = m.get("from")
        raw_list = raw_from if isinstance(raw_from, list) else [raw_from]
        if event is None or dest is None or len(sources) != len(raw_list):
            self.declared.broken_exits.update(s for s in raw_list if isinstance(s, str))
            if isinstance(m.get("to"), str):
                self.declared.broken_exits.add(m["to"])
        if event is None or dest is None:
            return []
        index = int(path.rpartition(".")[2])
        for s in sources:
            at = raw_from.index(s) if isinstance(raw_from, list) and s in raw_from else None
            self.transition_meta.append((index, p("from") if at is None else f"{p('from')}.{at}"))
        return [TransitionSpec(event, s, dest, roles, guard, payload, save, frozen_map(setv or {}), title, late)
                for s in sources]

    def late(self, path: str, value: Any) -> LateMark | None:
        m = self.mapping(path, value, LATE_KEYS, "late")
        if m is None:
            return None
        due = self.due(self.child(path, "due"), m.get("due"))
        if due is not None and due.date_variable is None and due.from_variable is None:
            # counted from when? The event has no start of its own: the deadline is anchored to a date
            self.problem(self.child(path, "due"), "an event's deadline counts from a date variable: write "
                                                  "`{after: 2 WD, from: VARIABLE}` or `{date: VARIABLE}`")
            return None
        mark = self.name(self.child(path, "mark"), m.get("mark"), "variable")
        return LateMark(due, mark) if due is not None and mark else None

    def roles(self, path: str, value: Any) -> dict[str, RoleSpec]:
        m = self.mapping(path, value, None, "roles")
        out: dict[str, RoleSpec] = {}
        for name, raw in (m or {}).items():
            rpath = self.child(path, name)
            if self.role_ref(rpath, name) is None:
                self.meant(self.declared.roles, name)
                continue
            self.declared.roles.add(name)
            r = self.mapping(rpath, raw, ROLE_KEYS, f"role {name!r}")
            if r is None:
                continue
            base = self.name(self.child(rpath, "base"), r["base"], "base role") if "base" in r else None
            if base is not None and base not in BASE_ROLES:
                # nobody could hold it: the directory refuses people with roles outside the list
                self.problem(self.child(rpath, "base"), f"unknown base role {base!r}{did_you_mean(base, BASE_ROLES)}; "
                                                        f"known: {', '.join(sorted(BASE_ROLES))} (a deployment adds "
                                                        "one in engine/base_roles.py)")
            dept = (self.name(self.child(rpath, "department"), r["department"], "variable")
                    if "department" in r else None)
            title = self.text(self.child(rpath, "title"), r.get("title"), "title") or ""
            org = r.get("org")
            if "org" in r and org not in ORGANISATIONS:
                self.problem(self.child(rpath, "org"), f"unknown organisation {shown(org)}"
                                                       f"{did_you_mean(str(org), ORGANISATIONS)}; known: "
                                                       f"{', '.join(ORGANISATIONS)}")
                org = None
            if org is not None and "department" in r:
                self.problem(self.child(rpath, "org"), "a role is bound to a department variable or to an "
                                                       "organisation, not both", at_key=True)
            if base:
                out[name] = RoleSpec(name, base, dept, title, org)
        return out

    def sources(self, path: str, value: Any) -> tuple[SourceRef, ...]:
        def one(p: str, v: Any) -> SourceRef | None:
            m = self.mapping(p, v, SOURCE_KEYS, "a source")
            if m is None:
                return None
            doc = self.text(self.child(p, "document"), m.get("document"), "document")
            articles = self.many(self.child(p, "articles"), m.get("articles"),
                                 lambda pp, vv: self.text(pp, vv, "article"), "articles")
            return SourceRef(doc, articles) if doc else None

        return self.many(path, value, one, "sources", single_ok=False)

    def recurring(self, path: str, value: Any) -> RecurringSpec | None:
        m = self.mapping(path, value, RECURRING_KEYS, "recurring")
        if m is None:
            return None
        cron = self.text(self.child(path, "cron"), m.get("cron"), "cron")
        if cron is not None and not re.match(CRON_PATTERN, cron):
            self.problem(self.child(path, "cron"),
                         f"bad cron {cron!r}: write five fields, minute hour day month weekday")
            cron = None
        elif cron is not None:
            from engine.scheduler import cron_problem  # here, not above: the scheduler imports the runtime

            if (problem := cron_problem(cron)) is not None:
                self.rule_for_new(self.child(path, "cron"), problem)
                cron = None
        key = self.text(self.child(path, "business_key"), m.get("business_key"), "business_key")
        variables = self.mapping(self.child(path, "variables"), m["variables"], None, "variables") \
            if "variables" in m else {}
        if cron is None or key is None:
            return None
        return RecurringSpec(cron, key, frozen_map(variables or {}))

    def start(self, path: str, value: Any) -> tuple[str, ...]:
        m = self.mapping(path, value, START_KEYS, "start")
        if m is None or "roles" not in m:
            return ()
        return self.role_refs(self.child(path, "roles"), m["roles"])

    def workflow_id(self, value: Any) -> str | None:
        if isinstance(value, str) and WORKFLOW_ID_RE.match(value):
            return value
        self.problem("id", f"bad workflow id {shown(value)}: write {_ID_FORM}")
        return None

    # -- the whole document ----------------------------------------------------------------------------------
    def workflow(self, data: Any, content_hash: str) -> WorkflowSpec | None:
        top = self.mapping("", data, TOP_KEYS, "a workflow")
        if top is None:
            return None
        wid = self.workflow_id(top["id"]) if "id" in top else None
        name = self.localized("name", top.get("name"), "name")
        jur = top.get("jurisdiction")
        if "jurisdiction" in top and jur not in JURISDICTIONS:
            self.problem("jurisdiction", f"unknown jurisdiction {jur!r}{did_you_mean(str(jur), JURISDICTIONS)}; "
                                         f"known: {', '.join(JURISDICTIONS)}")
            jur = None
        cal_wanted = JURISDICTION_CALENDARS.get(jur) if isinstance(jur, str) else None
        if cal_wanted and top.get("calendar") in CALENDARS and top.get("calendar") != cal_wanted:
            self.problem("calendar", f"jurisdiction {jur!r} counts days on calendar {cal_wanted}, not "
                                     f"{top.get('calendar')}: {_CALENDAR_WHY[cal_wanted]}")
        if wid and isinstance(jur, str) and not wid.startswith(jur + "."):
            self.problem("id", f"id {wid!r} must start with its jurisdiction: '{jur}.'")
        cal = top.get("calendar")
        if "calendar" in top and cal not in CALENDARS:
            self.problem("calendar", f"unknown calendar {cal!r}{did_you_mean(str(cal), CALENDARS)}; "
                                     f"known: {', '.join(CALENDARS)}")
            cal = None
        sources = self.sources("sources", top.get("sources")) if "sources" in top else ()
        if top.get("sources") == []:  # a list whose sources could not be read has its problems already
            self.problem("sources", "name at least one source: the regulation and articles the workflow implements")
        roles = self.roles("roles", top["roles"]) if "roles" in top else {}
        for section in ("roles", "variables", "states", "hooks"):
            if section in top and not isinstance(top[section], dict):
                self.declared.unchecked.add(section)
        variables = self.fields("variables", top.get("variables"), "variable")
        self.declared.variables = set(variables) | set(self._raw_names(top.get("variables")))
        hooks_raw = self.mapping("hooks", top["hooks"], None, "hooks") if "hooks" in top else {}
        hooks: dict[str, str] = {}
        for hname, hdoc in (hooks_raw or {}).items():
            if self.name(self.child("hooks", hname), hname, "hook name"):
                hooks[hname] = self.text(self.child("hooks", hname), hdoc, "hook description") or ""
        self.declared.hooks = set(hooks_raw or {})
        templates = self.names("templates", top.get("templates"), "template")
        self.declared.templates = set(templates)
        states: dict[str, StateSpec] = {}
        raw_states = self.mapping("states", top["states"], None, "states") if "states" in top else None
        for sname, raw in (raw_states or {}).items():
            spath = self.child("states", sname)
            if self.name(spath, sname, "state name") is None:
                self.meant(self.declared.states, sname)
                continue
            self.declared.states.add(sname)
            st = self.state(spath, sname, raw)
            if st is not None:
                states[sname] = st
        if raw_states is not None and not raw_states:
            self.problem("states", "a workflow needs states")
        initial = self.name("initial", top["initial"], "state") if "initial" in top else None
        transitions = self.transitions("transitions", top["transitions"]) if "transitions" in top else ()
        sla = self.sla("sla", top["sla"], procedure=True) if "sla" in top else None
        recurring = self.recurring("recurring", top["recurring"]) if "recurring" in top else None
        start_roles = self.start("start", top["start"]) if "start" in top else ()
        if "start" not in top and "recurring" not in top:
            # without it every declared role could open a procedure: a silent default is not allowed here
            self.rule_for_new("start", "missing required key 'start': say who may start an instance, "
                                  "e.g. start: {roles: [consumer.data_admin]}")
        description = self.text("description", top.get("description"), "description") or ""
        # placeholders keep the semantic checks running after a broken header; the problems are recorded
        return WorkflowSpec(
            id=wid or "", name=name or LocalizedName(""), jurisdiction=jur if isinstance(jur, str) else "",
            calendar=cal if isinstance(cal, str) else "", initial=initial or "", states=frozen_map(states),
            transitions=transitions, roles=frozen_map(roles), variables=frozen_map(variables), hooks=frozen_map(hooks),
            templates=templates, sources=sources, sla=sla, recurring=recurring, start_roles=start_roles,
            description=description,
            source_path=self.filename, content_hash=content_hash, locations=frozen_map(self.locations),
        )

    @staticmethod
    def _raw_names(value: Any) -> list[str]:
        """The names a mapping declares, as written and (where they hold full-width separators) as meant."""
        names = [k for k in value if isinstance(k, str)] if isinstance(value, dict) else []
        return names + [ascii_form(k) for k in names if full_width(k)]

    @staticmethod
    def meant(declared: set[str], name: Any) -> None:
        """Declare the name a refused `name` was meant to be (`review　` -> `review`): references to it are no
        further fault; its own problem is reported already."""
        if isinstance(name, str) and full_width(name):
            declared.add(ascii_form(name))
