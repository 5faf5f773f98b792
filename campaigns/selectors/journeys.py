"""Reads over journeys: the list, a version's step counts (waiting, passed, converted, exited),
results (enrolled, converted, exited; conversion per split arm and treated vs holdout with the
difference's 95% interval, Newcombe's, as the campaigns' results), an enrollment's history and an
affiliate's journeys."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import Count, Q, QuerySet
from django.utils.translation import gettext as _

from campaigns.journey_graph import step_edges, steps_by_id
from campaigns.models import (
    Enrollment,
    EnrollmentStatus,
    Journey,
    JourneyStepLog,
    JourneyStepOutcome,
    JourneyVersion,
    SuppressionReason,
)
from campaigns.selectors.campaigns import Interval, difference_interval
from campaigns.selectors.journey_editor import edge_label, event_type_labels, step_kind, step_kind_labels
from crm.channels import BY_CODE as CHANNELS_BY_CODE
from crm.models import Segment


def journey_list() -> QuerySet[Journey]:
    return Journey.objects.annotate(
        active=Count("enrollments", filter=Q(enrollments__status=EnrollmentStatus.ACTIVE)),
        total=Count("enrollments"),
    ).order_by("-created_at", "-pk")


def journey_versions(*, journey: Journey) -> list[JourneyVersion]:
    return list(journey.versions.order_by("-number"))


@dataclass(frozen=True)
class StepCount:
    waiting: int = 0
    passed: int = 0
    converted: int = 0
    exited: int = 0


def journey_step_counts(*, journey: Journey, version: JourneyVersion | None = None) -> dict[str, StepCount]:
    """Per step id: enrollments waiting there now, that passed it, that converted or ended
    (exited or completed) while standing at it. All versions, or one."""
    where, params = "e.journey_id = %(journey)s", {"journey": journey.pk}
    if version is not None:
        where += " AND e.version_id = %(version)s"
        params["version"] = version.pk
    counts: dict[str, dict[str, int]] = {}
    e, log = Enrollment._meta.db_table, JourneyStepLog._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT ltrim(e.step, '>'),
                   count(*) FILTER (WHERE e.status = 'active'),
                   count(*) FILTER (WHERE e.status = 'converted'),
                   count(*) FILTER (WHERE e.status IN ('exited', 'completed', 'failed'))
            FROM {e} e WHERE {where} GROUP BY 1
            """,  # noqa: S608 - table names from the models
            params,
        )
        for step, waiting, converted, exited in cursor.fetchall():
            counts.setdefault(step, {}).update(waiting=waiting, converted=converted, exited=exited)
        cursor.execute(
            f"""
            SELECT l.step, count(DISTINCT l.enrollment_id) FROM {log} l JOIN {e} e ON e.id = l.enrollment_id
            WHERE {where} AND l.outcome NOT IN ('entered', 'goal', 'archived') GROUP BY 1
            """,  # noqa: S608
            params,
        )
        for step, passed in cursor.fetchall():
            counts.setdefault(step, {})["passed"] = passed
    return {step: StepCount(**values) for step, values in counts.items()}


def _placed(item: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """The node where the editor put it (the item's `position`), if it was put somewhere."""
    position = item.get("position")
    if isinstance(position, dict) and all(isinstance(position.get(k), int | float) for k in ("x", "y")):
        node["position"] = {"x": position["x"], "y": position["y"]}
    return node


def trigger_label(*, trigger: dict[str, Any], events: dict[str, str], segments: dict[int, str]) -> str:
    """What starts a trigger, for people: the event's label, the segment's name, else as stored."""
    if trigger.get("event"):
        return events.get(str(trigger["event"]), str(trigger["event"]))
    segment = trigger.get("segment")
    if segment is not None and str(segment).isdigit():
        return segments.get(int(segment), str(segment))
    return str(trigger.get("field") or segment or trigger.get("type") or "")


def segment_names() -> dict[int, str]:
    return dict(Segment.objects.values_list("id", "name"))


def journey_diagram(*, graph: dict[str, Any], counts: dict[str, StepCount] | None) -> dict[str, Any]:
    """Nodes and edges for the flow diagram (cytoscape's elements): labels for people (the step's
    kind, the trigger's event, the exits) and each step's counts (None: a draft, no counts)."""
    events = event_type_labels()
    segments = (
        segment_names()
        if any(isinstance(t, dict) and t.get("segment") for t in graph.get("triggers", []))
        else {}
    )
    kinds = step_kind_labels()
    nodes: list[dict[str, Any]] = []
    edges: list[dict[str, Any]] = []
    # A draft may be incomplete (an exit to a step since deleted, a trigger not connected yet):
    # only edges between drawn nodes are drawn.
    ids = set(steps_by_id(graph))
    for n, trigger in enumerate(graph.get("triggers", [])):
        if not isinstance(trigger, dict):
            continue
        label = trigger_label(trigger=trigger, events=events, segments=segments)
        nodes.append(
            _placed(
                trigger,
                {
                    "data": {
                        "id": f"trigger-{n}",
                        "label": _("Trigger: %(what)s") % {"what": label},
                        "kind": "trigger",
                    }
                },
            )
        )
        if trigger.get("start") in ids:
            edges.append(
                {
                    "data": {
                        "id": f"t{n}",
                        "source": f"trigger-{n}",
                        "target": trigger.get("start"),
                        "label": "",
                    }
                }
            )
    for step in steps_by_id(graph).values():
        kind = step_kind(step)
        data: dict[str, Any] = {
            "id": step["id"],
            "label": step["id"],
            "kind": step.get("type"),
            "kind_label": kinds.get(kind, kind),
        }
        if counts is not None:
            count = counts.get(step["id"], StepCount())
            data |= {
                "waiting": count.waiting,
                "passed": count.passed,
                "converted": count.converted,
                "exited": count.exited,
            }
        nodes.append(_placed(step, {"data": data}))
        for n, (label, target) in enumerate(step_edges(step)):
            if target in ids:
                edges.append(
                    {
                        "data": {
                            "id": f"{step['id']}-{label}-{target}",
                            "source": step["id"],
                            "target": target,
                            "label": edge_label(step, label, n)
                            if label or step.get("type") == "split"
                            else "",
                        }
                    }
                )
    return {"nodes": nodes, "edges": edges}


def enrollment_history(*, enrollment: Enrollment) -> list[dict[str, Any]]:
    return [
        {"step": step, "at": at, "outcome": outcome, "reason": reason}
        for step, at, outcome, reason in JourneyStepLog.objects.filter(enrollment=enrollment)
        .order_by("at", "id")
        .values_list("step", "at", "outcome", "reason")
    ]


def step_log_display(*, outcome: str, reason: str) -> tuple[str, str]:
    """What people read for a logged step: the outcome's label, and its reason with the codes
    the engine stores as reasons (a send's channel, why a message was not sent) as labels too.
    The partner API's history keeps the codes."""
    label = JourneyStepOutcome(outcome).label if outcome in JourneyStepOutcome.values else outcome
    if outcome == JourneyStepOutcome.SENT and reason in CHANNELS_BY_CODE:
        reason = str(CHANNELS_BY_CODE[reason].label)
    elif outcome == JourneyStepOutcome.SUPPRESSED and reason in SuppressionReason.values:
        reason = str(SuppressionReason(reason).label)
    return str(label), reason


def affiliate_enrollments(*, affiliate_id: int) -> list[dict[str, Any]]:
    """The affiliate's enrollments, newest first, each with its journey, version and history
    (each step with `outcome_label` and `reason_label`, for people) and the label of the event
    it waits for, if it waits for one (`waiting_for_label`)."""
    enrollments = list(
        Enrollment.objects.filter(affiliate_id=affiliate_id)
        .select_related("journey", "version")
        .order_by("-entered_at", "-pk")[:20]
    )
    logs: dict[int, list[dict[str, Any]]] = {}
    for row in JourneyStepLog.objects.filter(enrollment__in=enrollments).order_by("at", "id"):
        label, reason = step_log_display(outcome=row.outcome, reason=row.reason)
        logs.setdefault(row.enrollment_id, []).append(
            {
                "step": row.step,
                "at": row.at,
                "outcome": row.outcome,
                "reason": row.reason,
                "outcome_label": label,
                "reason_label": reason,
            }
        )
    events = event_type_labels() if any(e.waiting_for for e in enrollments) else {}
    return [
        {
            "enrollment": e,
            "history": logs.get(e.pk, []),
            "waiting_for_label": events.get(e.waiting_for, e.waiting_for) if e.waiting_for else "",
        }
        for e in enrollments
    ]


@dataclass(frozen=True)
class Arm:
    name: str
    enrolled: int
    converted: int
    interval: Interval | None  # against the first arm (or treated against holdout)

    @property
    def rate(self) -> float | None:
        return self.converted / self.enrolled if self.enrolled else None


@dataclass(frozen=True)
class JourneyResults:
    enrolled: int
    active: int
    converted: int
    exited: int
    completed: int
    by_version: list[dict[str, Any]]
    treated: Arm
    holdout: Arm
    splits: dict[str, list[Arm]]


def _arm(name: str, n: int, x: int, base: tuple[int, int] | None) -> Arm:
    interval = difference_interval(x1=x, n1=n, x2=base[1], n2=base[0]) if base else None
    return Arm(name=name, enrolled=n, converted=x, interval=interval)


def journey_results(
    *,
    journey: Journey,
    version: JourneyVersion | None = None,
    entered_from: datetime | None = None,
    entered_to: datetime | None = None,
) -> JourneyResults:
    """Enrolled, converted, exited (all versions and per version); conversion treated vs holdout
    and per arm of each split step, with the difference's 95% interval (Newcombe). Optionally of
    one version and of the enrollments that entered in [entered_from, entered_to) only (insights'
    channels page)."""
    scope: dict[str, Any] = {"journey": journey}
    if version is not None:
        scope["version"] = version
    if entered_from is not None:
        scope["entered_at__gte"] = entered_from
    if entered_to is not None:
        scope["entered_at__lt"] = entered_to
    status_counts = Count("pk")
    per_version = (
        Enrollment.objects.filter(**scope)
        .values("version__number")
        .annotate(
            enrolled=status_counts,
            active=Count("pk", filter=Q(status=EnrollmentStatus.ACTIVE)),
            converted=Count("pk", filter=Q(status=EnrollmentStatus.CONVERTED)),
            exited=Count("pk", filter=Q(status__in=[EnrollmentStatus.EXITED, EnrollmentStatus.FAILED])),
            completed=Count("pk", filter=Q(status=EnrollmentStatus.COMPLETED)),
        )
        .order_by("-version__number")
    )
    by_version: list[dict[str, Any]] = [dict(row) for row in per_version]
    total = {
        k: sum(row[k] for row in by_version)
        for k in ("enrolled", "active", "converted", "exited", "completed")
    }
    groups = {
        held: (n, x)
        for held, n, x in Enrollment.objects.filter(**scope)
        .values("holdout")
        .annotate(n=Count("pk"), x=Count("pk", filter=Q(status=EnrollmentStatus.CONVERTED)))
        .values_list("holdout", "n", "x")
    }
    held = groups.get(True, (0, 0))
    treated_n, treated_x = groups.get(False, (0, 0))
    splits: dict[str, list[Arm]] = {}
    arms = (
        # Held-out enrollments pass the split too but get no message on either arm: the arms
        # compare the treated only (with them, both rates drift to the holdout's).
        JourneyStepLog.objects.filter(
            outcome=JourneyStepOutcome.ARM,
            enrollment__holdout=False,
            **{f"enrollment__{name}": value for name, value in scope.items()},
        )
        .values("step", "reason")
        .annotate(
            n=Count("enrollment", distinct=True),
            x=Count("enrollment", distinct=True, filter=Q(enrollment__status=EnrollmentStatus.CONVERTED)),
        )
        .order_by("step", "reason")
    )
    by_step: dict[str, list[tuple[str, int, int]]] = {}
    for row in arms:
        by_step.setdefault(row["step"], []).append((row["reason"], row["n"], row["x"]))
    for step, rows in by_step.items():
        first = (rows[0][1], rows[0][2])
        splits[step] = [_arm(name, n, x, None if i == 0 else first) for i, (name, n, x) in enumerate(rows)]
    return JourneyResults(
        enrolled=total["enrolled"],
        active=total["active"],
        converted=total["converted"],
        exited=total["exited"],
        completed=total["completed"],
        by_version=by_version,
        treated=_arm("treated", treated_n, treated_x, held if held[0] else None),
        holdout=_arm("holdout", held[0], held[1], None),
        splits=splits,
    )


def journey_graph_steps(*, graph: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return steps_by_id(graph)
