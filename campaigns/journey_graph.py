"""A journey's graph: what a version holds, checked before it is published.

    {"triggers": [{"type": "event", "event": "account_opened", "start": "welcome"}, ...],
     "steps": [{"id": "welcome", "type": "send", "channels": ["whatsapp", "email"],
                "templates": {"whatsapp": "boas-vindas-wa", "email": "boas-vindas"},
                "mode": "all", "next": "wait-app"}, ...]}

Triggers: `event` (an event type), `segment` (entering segment `segment`), `date` (a date field,
`birth_date` or `attributes.<name>`, `offset_days` from it, `yearly` for anniversaries), `manual`
(the UI or the partner API). Each names the step its enrollments start at.

Steps and their edges: `send` (next; `mode` "chain" is a fallback chain, "all" one message per
channel), `wait` (next; `days`/`hours`/`minutes`, or `until` "HH:MM" in the affiliate's zone),
`wait_event` (`event`, a timeout in `days`/`hours`/`minutes`; `yes` / `no`), `branch` (`condition`:
a segment definition, the tree the segment builder makes, crm.segmentation; `yes` / `no`), `split`
(`arms`: [{name, percent, next}], percents summing to 100), `update` (`add_tags`, `remove_tags`, `attributes`; next), `webhook` (`url`; next),
`exit`. An edge that is null ends the journey there (completed).

Any trigger or step may carry `position` ({"x": number, "y": number}): where the editor's diagram
draws it. Optional (graphs without it are drawn by an automatic layout) and ignored by the engine.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from django.utils.translation import gettext as _

from crm.channels import CHANNEL_CODES
from crm.segmentation import SCHEMA_VERSION, SegmentInvalid, describe
from crm.selectors.segments import Vocabulary, segment_tree, segment_vocabulary
from crm.services.affiliates import TAG_MAX_LENGTH

STEP_TYPES = ("send", "wait", "wait_event", "branch", "split", "update", "webhook", "exit")
TRIGGER_TYPES = ("event", "segment", "date", "manual")
#: Steps taken at once when an enrollment reaches them (the others wait for a time or an event).
IMMEDIATE = frozenset({"send", "branch", "split", "update", "webhook", "exit"})
STEP_ID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
TIME_OF_DAY = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
#: Longest wait or timeout a step may have.
MAX_WAIT = timedelta(days=400)


def steps_by_id(graph: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {step["id"]: step for step in graph.get("steps", []) if isinstance(step, dict) and "id" in step}


def step_duration(step: dict[str, Any]) -> timedelta:
    """A wait's or a wait-for-event's duration (days, hours, minutes)."""
    return timedelta(
        days=float(step.get("days") or 0),
        hours=float(step.get("hours") or 0),
        minutes=float(step.get("minutes") or 0),
    )


def step_edges(step: dict[str, Any]) -> Iterator[tuple[str, str | None]]:
    """(label, target) of each edge leaving `step` (label "" for a plain next)."""
    kind = step.get("type")
    if kind in ("wait_event", "branch"):
        yield "yes", step.get("yes")
        yield "no", step.get("no")
    elif kind == "split":
        for arm in step.get("arms") or []:
            yield str(arm.get("name", "")), arm.get("next")
    elif kind != "exit":
        yield "", step.get("next")


def graph_errors(
    graph: Any, *, templates: set[str] | None = None, vocabulary: Vocabulary | None = None
) -> list[str]:
    """What is wrong with `graph` (empty: it can be published). `templates` are the template codes
    that exist (None: not checked); `vocabulary` the event types and tiers branch conditions may
    name (None: this UDN's, read when a branch needs it)."""
    if not isinstance(graph, dict):
        return [_("The journey's graph must be an object with triggers and steps.")]
    errors: list[str] = []
    steps = graph.get("steps")
    if not isinstance(steps, list) or not steps:
        return [_("A journey needs at least one step.")]
    ids: set[str] = set()
    for step in steps:
        if not isinstance(step, dict) or not STEP_ID.match(str(step.get("id", ""))):
            errors.append(_("Each step needs an id (letters, digits, - and _; up to 40)."))
            continue
        if step["id"] in ids:
            errors.append(_("The step id “%(id)s” is used twice.") % {"id": step["id"]})
        ids.add(step["id"])
    triggers = graph.get("triggers")
    if not isinstance(triggers, list) or not triggers:
        errors.append(_("A journey needs at least one trigger."))
        triggers = []
    for trigger in triggers:
        errors.extend(_trigger_errors(trigger, ids))
    if vocabulary is None and any(isinstance(step, dict) and step.get("type") == "branch" for step in steps):
        vocabulary = segment_vocabulary()
    for step in steps:
        if isinstance(step, dict) and step.get("id") in ids:
            errors.extend(_step_errors(step, ids, templates, vocabulary))
    return errors


def _flat(problems: dict[str, list[str]]) -> list[str]:
    return [message for messages in problems.values() for message in messages]


def _position_errors(item: dict[str, Any]) -> list[str]:
    """The editor's optional diagram position: {"x": number, "y": number} (ignored by the engine)."""
    position = item.get("position")
    if position is None:
        return []
    if (
        not isinstance(position, dict)
        or set(position) != {"x", "y"}
        or not all(isinstance(position[k], int | float) and abs(position[k]) < 1e6 for k in ("x", "y"))
    ):
        return [_('A position on the diagram is {"x": number, "y": number}.')]
    return []


def _trigger_errors(trigger: Any, ids: set[str]) -> list[str]:
    return _flat(trigger_problems(trigger, ids=ids))


def trigger_problems(trigger: Any, *, ids: set[str]) -> dict[str, list[str]]:
    """What is wrong with one trigger, by the field it concerns (the editor shows each beside its
    field; "" for the trigger as a whole)."""
    if not isinstance(trigger, dict) or trigger.get("type") not in TRIGGER_TYPES:
        return {"type": [_("Unknown trigger: %(trigger)s.") % {"trigger": trigger}]}
    problems: dict[str, list[str]] = {}

    def add(key: str, message: str) -> None:
        problems.setdefault(key, []).append(message)

    if trigger.get("start") not in ids:
        add(
            "start",
            _("A trigger starts at a step that does not exist: %(id)s.") % {"id": trigger.get("start")},
        )
    kind = trigger["type"]
    if kind == "event" and not str(trigger.get("event") or "").strip():
        add("event", _("An event trigger names an event type."))
    if kind == "segment" and not isinstance(trigger.get("segment"), int):
        add("segment", _("A segment trigger names a segment."))
    if kind == "date":
        field = str(trigger.get("field") or "")
        if field != "birth_date" and not re.match(r"^attributes\.[A-Za-z0-9_]{1,60}$", field):
            add("field", _("A date trigger reads birth_date or attributes.<name>."))
        if not isinstance(trigger.get("offset_days", 0), int) or abs(trigger.get("offset_days", 0)) > 366:
            add("offset_days", _("A date trigger's offset is a whole number of days (up to a year)."))
    for message in _position_errors(trigger):
        add("position", message)
    return problems


def _target_errors(step: dict[str, Any], ids: set[str]) -> dict[str, list[str]]:
    """Edges to missing steps, by edge ("next", "yes", "no", or "arm-<n>" for a split's arm n)."""
    problems: dict[str, list[str]] = {}
    for n, (label, target) in enumerate(step_edges(step)):
        if target is not None and target not in ids:
            key = f"arm-{n}" if step.get("type") == "split" else (label or "next")
            problems.setdefault(key, []).append(
                _("The step “%(id)s” leads to a step that does not exist: %(target)s.")
                % {"id": step["id"], "target": target}
            )
    return problems


def _step_errors(
    step: dict[str, Any], ids: set[str], templates: set[str] | None, vocabulary: Vocabulary | None
) -> list[str]:
    return _flat(step_problems(step, ids=ids, templates=templates, vocabulary=vocabulary))


def step_problems(
    step: dict[str, Any],
    *,
    ids: set[str],
    templates: set[str] | None,
    vocabulary: Vocabulary | None = None,
) -> dict[str, list[str]]:
    """What is wrong with one step, by the field it concerns: the edges ("next", "yes", "no",
    "arm-<n>"), "channels", "templates", "mode", "until", "duration", "event", "condition", "arms",
    "update", "url", "position" ("type" for an unknown type). A branch's condition is checked
    against `vocabulary` (None: this UDN's event types and tiers, read here)."""
    kind = step.get("type")
    label = {"id": step["id"]}
    if kind not in STEP_TYPES:
        return {"type": [_("The step “%(id)s” has an unknown type.") % label]}
    problems = _target_errors(step, ids)

    def add(key: str, message: str) -> None:
        problems.setdefault(key, []).append(message)

    if kind == "send":
        channels = step.get("channels")
        chosen = step.get("templates")
        if not isinstance(channels, list) or not channels or not set(channels) <= set(CHANNEL_CODES):
            add("channels", _("The step “%(id)s” sends on one or more known channels.") % label)
        elif not isinstance(chosen, dict) or any(not chosen.get(channel) for channel in channels):
            add("templates", _("The step “%(id)s” needs a template for each of its channels.") % label)
        elif templates is not None:
            for channel in channels:
                if chosen[channel] not in templates:
                    add(
                        "templates",
                        _("The step “%(id)s” uses a template that does not exist: %(code)s.")
                        % {"id": step["id"], "code": chosen[channel]},
                    )
        if step.get("mode", "chain") not in ("chain", "all"):
            add("mode", _("The step “%(id)s” sends as a chain or on every channel.") % label)
    elif kind in ("wait", "wait_event"):
        until = step.get("until")
        if kind == "wait" and until:
            if not TIME_OF_DAY.match(str(until)):
                add("until", _("The step “%(id)s” waits until a time written HH:MM.") % label)
        else:
            try:
                duration = step_duration(step)
            except (TypeError, ValueError):
                duration = timedelta(0)
            if not timedelta(0) < duration <= MAX_WAIT:
                add("duration", _("The step “%(id)s” waits between a minute and 400 days.") % label)
        if kind == "wait_event" and not str(step.get("event") or "").strip():
            add("event", _("The step “%(id)s” names the event it waits for.") % label)
    elif kind == "branch":
        for message in _branch_errors(step, vocabulary or segment_vocabulary()):
            add("condition", message)
    elif kind == "split":
        arms = step.get("arms")
        if not isinstance(arms, list) or len(arms) < 2:
            add("arms", _("The step “%(id)s” splits into at least two arms.") % label)
        elif sum(int(arm.get("percent") or 0) for arm in arms) != 100 or any(
            int(arm.get("percent") or 0) <= 0 for arm in arms
        ):
            add("arms", _("The arms of “%(id)s” have positive percentages summing to 100.") % label)
    elif kind == "update":
        if not (step.get("add_tags") or step.get("remove_tags") or step.get("attributes")):
            add("update", _("The step “%(id)s” adds or removes a tag or sets an attribute.") % label)
        tags = [*(step.get("add_tags") or []), *(step.get("remove_tags") or [])]
        if any(not isinstance(tag, str) or not 0 < len(tag.strip()) <= TAG_MAX_LENGTH for tag in tags):
            add("update", _("The step “%(id)s” names tags of 1 to 40 characters.") % label)
        if not isinstance(step.get("attributes") or {}, dict):
            add("update", _("The step “%(id)s” sets attributes as names and values.") % label)
    elif kind == "webhook":
        url = str(step.get("url") or "")
        if not url.startswith(("https://", "http://")):
            add("url", _("The step “%(id)s” calls an http(s) address.") % label)
    for message in _position_errors(step):
        add("position", message)
    return problems


# --- branch conditions --------------------------------------------------------------------------------


def _branch_errors(step: dict[str, Any], vocabulary: Vocabulary) -> list[str]:
    """A branch's condition checked as a segment definition: crm.segmentation's errors, each
    naming the faulty condition, prefixed with the step. A segment it names is checked when the
    branch runs (it may be deleted after publishing)."""
    try:
        segment_tree(definition=branch_definition(step.get("condition")), vocabulary=vocabulary)
    except SegmentInvalid as invalid:
        return [
            _("The condition of “%(id)s”: %(error)s") % {"id": step["id"], "error": error}
            for error in invalid.errors
        ]
    return []


def branch_definition(condition: Any) -> Any:
    """A branch's condition as a segment definition ({"version": 1, "root": ...}). Graphs saved
    before branches used the segment compiler hold the old, smaller tree ({"all": [...]},
    {"event": "cashout", "op": "=", "value": 0}, {"tag": "vip"}, ...): it is converted here, on
    read, node by node (every old form has a segment equivalent). Anything else is returned as it
    is, for the segment validation to name what is wrong."""
    if isinstance(condition, dict) and ("root" in condition or "version" in condition):
        return condition
    root = _legacy_node(condition)
    if root is None:
        return condition
    if root["kind"] != "group":  # the builder's trees always start with a group
        root = {"kind": "group", "op": "and", "conditions": [root]}
    return {"version": SCHEMA_VERSION, "root": root}


_LEGACY_COUNT_OPERATORS = {"=": "eq", ">=": "gte", "<=": "lte", ">": "gt", "<": "lt"}


def _legacy_number(value: Any) -> Any:
    """An old tree's number (it took floats) as the segment schema's whole number, when it is one."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _legacy_node(c: Any) -> dict[str, Any] | None:  # noqa: PLR0911 - one return per old form
    if not isinstance(c, dict) or not c:
        return None
    if "all" in c or "any" in c:
        parts = c.get("all", c.get("any"))
        if not isinstance(parts, list):
            return None
        children = [_legacy_node(part) for part in parts]
        if any(child is None for child in children):
            return None
        return {"kind": "group", "op": "and" if "all" in c else "or", "conditions": children}
    if "not" in c:
        inner = _legacy_node(c["not"])
        return None if inner is None else {"kind": "not", "condition": inner}
    if "event" in c:
        return {
            "kind": "event",
            "type": c["event"],
            "measure": "count",
            "operator": _LEGACY_COUNT_OPERATORS.get(str(c.get("op", ">=")), str(c.get("op"))),
            "value": _legacy_number(c.get("value", 1)),
            "within_days": _legacy_number(c.get("within_days")),
        }
    if "field" in c:
        field, op, value = c["field"], c.get("op", "eq"), c.get("value")
        if field in ("stage", "tier"):
            values = value if isinstance(value, list) else [value]
            return {"kind": field, "operator": "not_in" if op == "ne" else "in", "value": values}
        return {"kind": "field", "field": field, "operator": op, "value": value}
    if "tag" in c:
        return {"kind": "tags", "operator": "any", "value": [c["tag"]]}
    if "attribute" in c:
        op = c.get("op", "exists")
        if op == "exists":
            return {"kind": "attribute", "key": c["attribute"], "operator": "present"}
        return {"kind": "attribute", "key": c["attribute"], "operator": op, "value": c.get("value")}
    if "consent" in c:
        return {"kind": "consent", "channel": c["consent"], "value": True}
    return None


_SYMBOLS = {"eq": "=", "ne": "≠", "lt": "<", "lte": "≤", "gt": ">", "gte": "≥"}


def branch_reason(definition: Any, *, limit: int = 200) -> str:
    """Why a branch went the way it did, for the step log and the affiliate's page: the condition
    read back, each leaf as crm.segmentation.describe names it, with its comparison where it has
    one ("evento cashout = 0 e tem alguma das tags vip, sp"), cut to `limit` characters."""
    root = definition.get("root") if isinstance(definition, dict) else None
    text = _reason_of(root)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _reason_of(node: Any) -> str:
    if not isinstance(node, dict):
        return describe(node)
    kind = node.get("kind")
    if kind == "group":
        joiner = f" {_('and')} " if node.get("op") == "and" else f" {_('or')} "
        parts = [_reason_of(child) for child in node.get("conditions") or []]
        text = joiner.join(parts)
        return f"({text})" if len(parts) > 1 else text
    if kind == "not":
        return f"{_('not')} {_reason_of(node.get('condition'))}"
    text = describe(node, values=True)  # a list condition says any, all or none of its items
    operator, value = node.get("operator"), node.get("value")
    if operator in _SYMBOLS and value is not None and not isinstance(value, (list, dict)):
        text += f" {_SYMBOLS[operator]} {value}"
        if node.get("within_days"):
            text += " " + _("in %(n)s d") % {"n": node["within_days"]}
    return text
