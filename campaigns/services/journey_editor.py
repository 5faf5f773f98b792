"""The journey editor's changes to a draft: put (add or replace) a step or a trigger, delete one,
save the diagram's positions. Each change is checked with campaigns.journey_graph's checks of the
item it touches (step_problems / trigger_problems) and refused with the errors by field
(ValidationError with an error dict keyed as journey_graph's problems); what is still missing for
the whole graph (no trigger yet, ...) does not block a draft: the page lists it and publishing
refuses it (campaigns.services.journeys.journey_publish).
"""

from __future__ import annotations

import copy
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from campaigns.journey_graph import STEP_ID, step_problems, steps_by_id, trigger_problems
from campaigns.models import Journey, JourneyStatus, MessageTemplate

#: A diagram node of a trigger is named "trigger-<index>" (campaigns.selectors.journeys).
TRIGGER_NODE = "trigger-"
#: Largest coordinate kept for a node (the editor's canvas is far smaller).
MAX_COORDINATE = 100_000


def _editable(journey: Journey) -> tuple[Journey, dict[str, Any]]:
    """The journey locked for the change and a copy of its draft with both lists present."""
    journey = Journey.objects.select_for_update().get(pk=journey.pk)
    if journey.status == JourneyStatus.ARCHIVED:
        raise ValidationError(_("An archived journey cannot be changed."))
    graph = copy.deepcopy(journey.draft_graph) if isinstance(journey.draft_graph, dict) else {}
    if not isinstance(graph.get("triggers"), list):
        graph["triggers"] = []
    if not isinstance(graph.get("steps"), list):
        graph["steps"] = []
    return journey, graph


def _store(journey: Journey, graph: dict[str, Any]) -> Journey:
    journey.draft_graph = graph
    journey.save(update_fields=["draft_graph", "updated_at"])
    return journey


def _refuse(problems: dict[str, list[str]]) -> None:
    if problems:
        raise ValidationError({key or "__all__": messages for key, messages in problems.items()})


def _set_edge(graph: dict[str, Any], *, source: str, edge: str, target: str) -> None:
    """Point `source`'s exit `edge` ("next", "yes", "no", "arm-<n>"; a trigger node: its start)
    at `target`."""
    if source.startswith(TRIGGER_NODE) and source[len(TRIGGER_NODE) :].isdigit():
        index = int(source[len(TRIGGER_NODE) :])
        if index < len(graph["triggers"]):
            graph["triggers"][index]["start"] = target
            return
    step = steps_by_id(graph).get(source)
    if step is None:
        raise ValidationError({"after": [_("The step to continue from no longer exists.")]})
    if edge.startswith("arm-") and edge[4:].isdigit():
        arms = step.get("arms") or []
        if int(edge[4:]) < len(arms):
            arms[int(edge[4:])]["next"] = target
            return
    elif edge in ("next", "yes", "no"):
        step[edge] = target
        return
    raise ValidationError({"after": [_("The step to continue from no longer exists.")]})


@transaction.atomic
def journey_step_put(
    *, journey: Journey, step: dict[str, Any], replaces: str | None = None, after: str = ""
) -> Journey:
    """Add `step` to the draft (or replace the step `replaces`, keeping its id and its position);
    `after` ("<node> <edge>", e.g. "welcome next" or "trigger-0 start") connects that exit to it."""
    journey, graph = _editable(journey)
    step = dict(step)
    steps: list[dict[str, Any]] = graph["steps"]
    if replaces is not None:
        index = next(
            (n for n, s in enumerate(steps) if isinstance(s, dict) and s.get("id") == replaces), None
        )
        if index is None:
            raise ValidationError({"__all__": [_("This step no longer exists in the draft.")]})
        step["id"] = replaces
        if "position" in steps[index] and "position" not in step:
            step["position"] = steps[index]["position"]
        steps[index] = step
    else:
        step_id = str(step.get("id") or "")
        if not STEP_ID.match(step_id):
            raise ValidationError({"id": [_("Each step needs an id (letters, digits, - and _; up to 40).")]})
        if step_id.startswith(TRIGGER_NODE):  # the diagram names the triggers' nodes so
            raise ValidationError({"id": [_("A step id cannot start with “trigger-”.")]})
        if step_id in steps_by_id(graph):
            raise ValidationError({"id": [_("The step id “%(id)s” is used twice.") % {"id": step_id}]})
        steps.append(step)
    if after:
        source, _space, edge = after.partition(" ")
        _set_edge(graph, source=source, edge=edge, target=step["id"])
    templates = set(MessageTemplate.objects.values_list("slug", flat=True))
    _refuse(step_problems(step, ids=set(steps_by_id(graph)), templates=templates))
    return _store(journey, graph)


@transaction.atomic
def journey_step_delete(*, journey: Journey, step_id: str) -> Journey:
    """Remove a step; the exits that led to it end the journey there, the triggers that started
    at it are left to be connected again (the page says so)."""
    journey, graph = _editable(journey)
    before = len(graph["steps"])
    graph["steps"] = [s for s in graph["steps"] if not (isinstance(s, dict) and s.get("id") == step_id)]
    if len(graph["steps"]) == before:
        raise ValidationError(_("This step no longer exists in the draft."))
    for step in graph["steps"]:
        if not isinstance(step, dict):
            continue
        for edge in ("next", "yes", "no"):
            if step.get(edge) == step_id:
                step[edge] = None
        for arm in step.get("arms") or []:
            if isinstance(arm, dict) and arm.get("next") == step_id:
                arm["next"] = None
    for trigger in graph["triggers"]:
        if isinstance(trigger, dict) and trigger.get("start") == step_id:
            trigger["start"] = None
    return _store(journey, graph)


@transaction.atomic
def journey_trigger_put(*, journey: Journey, trigger: dict[str, Any], index: int | None = None) -> Journey:
    """Add a trigger to the draft, or replace the trigger at `index` (keeping its position)."""
    journey, graph = _editable(journey)
    triggers: list[Any] = graph["triggers"]
    trigger = dict(trigger)
    if index is not None:
        if not 0 <= index < len(triggers):
            raise ValidationError({"__all__": [_("This trigger no longer exists in the draft.")]})
        old = triggers[index]
        if isinstance(old, dict) and "position" in old and "position" not in trigger:
            trigger["position"] = old["position"]
        triggers[index] = trigger
    else:
        triggers.append(trigger)
    _refuse(trigger_problems(trigger, ids=set(steps_by_id(graph))))
    return _store(journey, graph)


@transaction.atomic
def journey_trigger_delete(*, journey: Journey, index: int) -> Journey:
    journey, graph = _editable(journey)
    if not 0 <= index < len(graph["triggers"]):
        raise ValidationError(_("This trigger no longer exists in the draft."))
    del graph["triggers"][index]
    return _store(journey, graph)


@transaction.atomic
def journey_positions_save(*, journey: Journey, positions: dict[str, Any]) -> Journey:
    """Where the diagram's nodes stand ({node id: {"x", "y"}}; a trigger's node is
    "trigger-<index>"); unknown nodes are ignored (the draft may have changed meanwhile)."""
    journey, graph = _editable(journey)
    steps = steps_by_id(graph)
    for node, where in positions.items():
        try:
            x, y = float(where["x"]), float(where["y"])
        except (TypeError, KeyError, ValueError):
            raise ValidationError(_('A position on the diagram is {"x": number, "y": number}.')) from None
        if not (abs(x) <= MAX_COORDINATE and abs(y) <= MAX_COORDINATE):
            raise ValidationError(_('A position on the diagram is {"x": number, "y": number}.'))
        item: Any = steps.get(node)
        if node.startswith(TRIGGER_NODE) and node[len(TRIGGER_NODE) :].isdigit():
            index = int(node[len(TRIGGER_NODE) :])
            item = graph["triggers"][index] if index < len(graph["triggers"]) else None
        if isinstance(item, dict):
            item["position"] = {"x": round(x), "y": round(y)}
    return _store(journey, graph)
