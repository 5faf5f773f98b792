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
`wait_event` (`event`, a timeout in `days`/`hours`/`minutes`; `yes` / `no`), `branch` (`condition`,
campaigns.journey_conditions; `yes` / `no`), `split` (`arms`: [{name, percent, next}], percents
summing to 100), `update` (`add_tags`, `remove_tags`, `attributes`; next), `webhook` (`url`; next),
`exit`. An edge that is null ends the journey there (completed).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from django.utils.translation import gettext as _

from campaigns.journey_conditions import condition_errors
from crm.channels import CHANNEL_CODES

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


def graph_errors(graph: Any, *, templates: set[str] | None = None) -> list[str]:
    """What is wrong with `graph` (empty: it can be published). `templates` are the template codes
    that exist (None: not checked)."""
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
    for step in steps:
        if isinstance(step, dict) and step.get("id") in ids:
            errors.extend(_step_errors(step, ids, templates))
    return errors


def _trigger_errors(trigger: Any, ids: set[str]) -> list[str]:
    if not isinstance(trigger, dict) or trigger.get("type") not in TRIGGER_TYPES:
        return [_("Unknown trigger: %(trigger)s.") % {"trigger": trigger}]
    errors = []
    if trigger.get("start") not in ids:
        errors.append(
            _("A trigger starts at a step that does not exist: %(id)s.") % {"id": trigger.get("start")}
        )
    kind = trigger["type"]
    if kind == "event" and not str(trigger.get("event") or "").strip():
        errors.append(_("An event trigger names an event type."))
    if kind == "segment" and not isinstance(trigger.get("segment"), int):
        errors.append(_("A segment trigger names a segment."))
    if kind == "date":
        field = str(trigger.get("field") or "")
        if field != "birth_date" and not re.match(r"^attributes\.[A-Za-z0-9_]{1,60}$", field):
            errors.append(_("A date trigger reads birth_date or attributes.<name>."))
        if not isinstance(trigger.get("offset_days", 0), int) or abs(trigger.get("offset_days", 0)) > 366:
            errors.append(_("A date trigger's offset is a whole number of days (up to a year)."))
    return errors


def _target_errors(step: dict[str, Any], ids: set[str]) -> list[str]:
    return [
        _("The step “%(id)s” leads to a step that does not exist: %(target)s.")
        % {"id": step["id"], "target": target}
        for _label, target in step_edges(step)
        if target is not None and target not in ids
    ]


def _step_errors(step: dict[str, Any], ids: set[str], templates: set[str] | None) -> list[str]:
    kind = step.get("type")
    label = {"id": step["id"]}
    if kind not in STEP_TYPES:
        return [_("The step “%(id)s” has an unknown type.") % label]
    errors = _target_errors(step, ids)
    if kind == "send":
        channels = step.get("channels")
        chosen = step.get("templates")
        if not isinstance(channels, list) or not channels or not set(channels) <= set(CHANNEL_CODES):
            errors.append(_("The step “%(id)s” sends on one or more known channels.") % label)
        elif not isinstance(chosen, dict) or any(not chosen.get(channel) for channel in channels):
            errors.append(_("The step “%(id)s” needs a template for each of its channels.") % label)
        elif templates is not None:
            errors.extend(
                _("The step “%(id)s” uses a template that does not exist: %(code)s.")
                % {"id": step["id"], "code": chosen[channel]}
                for channel in channels
                if chosen[channel] not in templates
            )
        if step.get("mode", "chain") not in ("chain", "all"):
            errors.append(_("The step “%(id)s” sends as a chain or on every channel.") % label)
    elif kind in ("wait", "wait_event"):
        until = step.get("until")
        if kind == "wait" and until:
            if not TIME_OF_DAY.match(str(until)):
                errors.append(_("The step “%(id)s” waits until a time written HH:MM.") % label)
        else:
            try:
                duration = step_duration(step)
            except (TypeError, ValueError):
                duration = timedelta(0)
            if not timedelta(0) < duration <= MAX_WAIT:
                errors.append(_("The step “%(id)s” waits between a minute and 400 days.") % label)
        if kind == "wait_event" and not str(step.get("event") or "").strip():
            errors.append(_("The step “%(id)s” names the event it waits for.") % label)
    elif kind == "branch":
        errors.extend(condition_errors(step.get("condition")))
    elif kind == "split":
        arms = step.get("arms")
        if not isinstance(arms, list) or len(arms) < 2:
            errors.append(_("The step “%(id)s” splits into at least two arms.") % label)
        elif sum(int(arm.get("percent") or 0) for arm in arms) != 100 or any(
            int(arm.get("percent") or 0) <= 0 for arm in arms
        ):
            errors.append(_("The arms of “%(id)s” have positive percentages summing to 100.") % label)
    elif kind == "update":
        if not (step.get("add_tags") or step.get("remove_tags") or step.get("attributes")):
            errors.append(_("The step “%(id)s” adds or removes a tag or sets an attribute.") % label)
    elif kind == "webhook":
        url = str(step.get("url") or "")
        if not url.startswith(("https://", "http://")):
            errors.append(_("The step “%(id)s” calls an http(s) address.") % label)
    return errors
