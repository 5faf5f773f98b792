"""Reads for the journey editor: what its forms offer (templates with their channels, this UDN's
event types, saved segments, the draft's steps and their open exits), the draft's steps as a list
and what still keeps the draft from being published."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from campaigns.journey_graph import graph_errors, step_edges
from campaigns.models import Journey, MessageTemplate
from crm.channels import CHANNEL_CHOICES
from crm.models import EventKind, EventType, Segment


@dataclass(frozen=True)
class EditorChoices:
    templates: list[tuple[str, str, str]]  # slug, label, channel
    event_types: list[tuple[str, str]]  # code, label
    segments: list[tuple[int, str]]
    steps: list[tuple[str, str]]  # id, label
    exits: list[tuple[str, str]]  # "<node> <edge>", label


def step_kind_labels() -> dict[str, str]:
    """The editor's kinds of step (a wait until a time of day is a `wait` with `until`)."""
    return {
        "send": _("Send a message"),
        "wait": _("Wait"),
        "wait_until": _("Wait until a time of day"),
        "wait_event": _("Wait for an event"),
        "branch": _("Condition (yes / no)"),
        "split": _("Random split"),
        "update": _("Update the affiliate"),
        "webhook": _("Webhook"),
        "exit": _("Exit"),
    }


def trigger_kind_labels() -> dict[str, str]:
    return {
        "event": _("When an event happens"),
        "segment": _("On entering a segment"),
        "date": _("On a date (birthday, renewal)"),
        "manual": _("Manual or by the API"),
    }


def event_type_labels() -> dict[str, str]:
    """Event type code → its label (the standard types, then this UDN's custom kinds)."""
    labels = {str(code): str(label) for code, label in EventType.choices}
    return labels | dict(EventKind.objects.values_list("code", "label"))


def step_kind(step: dict[str, Any]) -> str:
    """The editor's kind of a stored step."""
    if step.get("type") == "wait" and step.get("until"):
        return "wait_until"
    return str(step.get("type") or "")


def edge_label(step: dict[str, Any], edge: str, n: int) -> str:
    if step.get("type") == "split":
        arms = step.get("arms") or []
        name = arms[n].get("name") if n < len(arms) and isinstance(arms[n], dict) else ""
        return _("arm %(name)s") % {"name": name or n + 1}
    if step.get("type") == "wait_event":
        return {"yes": _("if it happened"), "no": _("on timeout")}.get(edge, edge)
    return {"yes": _("yes"), "no": _("no")}.get(edge, _("next"))


def _edge_key(step: dict[str, Any], label: str, n: int) -> str:
    return f"arm-{n}" if step.get("type") == "split" else (label or "next")


def draft_steps(*, graph: dict[str, Any]) -> list[dict[str, Any]]:
    """The draft's steps for the step list: id, kind and label, and each exit with its target."""
    kinds = step_kind_labels()
    rows = []
    for step in graph.get("steps") or []:
        if not isinstance(step, dict) or "id" not in step:
            continue
        exits = [
            {
                "key": _edge_key(step, label, n),
                "label": edge_label(step, label or "next", n),
                "target": target,
            }
            for n, (label, target) in enumerate(step_edges(step))
        ]
        kind = step_kind(step)
        rows.append({"id": step["id"], "kind": kind, "kind_label": kinds.get(kind, kind), "exits": exits})
    return rows


def draft_triggers(*, graph: dict[str, Any]) -> list[dict[str, Any]]:
    kinds = trigger_kind_labels()
    events = event_type_labels()
    rows = []
    for n, trigger in enumerate(graph.get("triggers") or []):
        if not isinstance(trigger, dict):
            continue
        what = trigger.get("event") or trigger.get("field") or trigger.get("segment") or ""
        if trigger.get("event"):
            what = events.get(str(what), what)
        kind = str(trigger.get("type") or "")
        rows.append(
            {
                "index": n,
                "kind": kind,
                "kind_label": kinds.get(kind, kind),
                "what": what,
                "start": trigger.get("start"),
            }
        )
    return rows


def editor_choices(*, graph: dict[str, Any], editing: str | None = None) -> EditorChoices:
    """What the forms offer; `editing` (a step id) is left out of the steps an exit may lead to."""
    channels = dict(CHANNEL_CHOICES)
    templates = [
        (slug, f"{name} · {channels.get(channel, channel)}", channel)
        for slug, name, channel in MessageTemplate.objects.order_by("name", "slug").values_list(
            "slug", "name", "channel"
        )
    ]
    event_types = [(str(code), str(label)) for code, label in EventType.choices] + [
        (code, f"{label} ({code})") for code, label in EventKind.objects.values_list("code", "label")
    ]
    segments = list(Segment.objects.order_by("name", "id").values_list("id", "name"))
    kinds = step_kind_labels()
    steps: list[tuple[str, str]] = []
    exits: list[tuple[str, str]] = []
    for n, trigger in enumerate(graph.get("triggers") or []):
        if isinstance(trigger, dict) and not trigger.get("start"):
            exits.append((f"trigger-{n} start", _("Trigger %(n)s") % {"n": n + 1}))
    for step in graph.get("steps") or []:
        if not isinstance(step, dict) or "id" not in step:
            continue
        if step["id"] != editing:
            steps.append((step["id"], f"{step['id']} · {kinds.get(step_kind(step), step.get('type'))}"))
        for n, (label, target) in enumerate(step_edges(step)):
            if not target:
                exits.append(
                    (
                        f"{step['id']} {_edge_key(step, label, n)}",
                        f"{step['id']} → {edge_label(step, label, n)}",
                    )
                )
    return EditorChoices(
        templates=templates, event_types=event_types, segments=segments, steps=steps, exits=exits
    )


def draft_errors(*, journey: Journey) -> list[str]:
    """Why the draft cannot be published (empty: it can)."""
    return graph_errors(
        journey.draft_graph, templates=set(MessageTemplate.objects.values_list("slug", flat=True))
    )
