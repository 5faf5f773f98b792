"""What of campaigns names a crm segment (registered in crm.segment_uses from CampaignsConfig.ready,
so the CRM refuses to delete a segment a journey or a broadcast still needs):

- a journey's segment trigger ("entering segment X") or a step's condition ("in segment X", a
  branch's), in its draft or in a published version that can still run: any version of a journey
  that is not archived, and any version an active enrollment is on;
- a broadcast that has not gone out yet (draft, scheduled, preparing, sending, paused) with the
  segment as its audience. A sent or cancelled one keeps its figures without it."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from campaigns.models import (
    Campaign,
    CampaignStatus,
    Enrollment,
    EnrollmentStatus,
    Journey,
    JourneyStatus,
    JourneyVersion,
)
from crm.segment_uses import SegmentUse
from crm.segmentation import segment_ids_named

#: Broadcasts whose audience is still to be read from the segment.
CAMPAIGN_OPEN_STATUSES = (
    CampaignStatus.DRAFT,
    CampaignStatus.SCHEDULED,
    CampaignStatus.FANNING_OUT,
    CampaignStatus.SENDING,
    CampaignStatus.PAUSED,
)


def graph_segment_uses(graph: Any, *, segment_id: int) -> list[str]:
    """Where a journey graph names the segment: "trigger", or the condition of step <id>."""
    if not isinstance(graph, dict):
        return []
    found: list[str] = []
    for trigger in graph.get("triggers") or []:
        if (
            isinstance(trigger, dict)
            and trigger.get("type") == "segment"
            and trigger.get("segment") == segment_id
        ):
            found.append(_("trigger"))
            break
    for step in graph.get("steps") or []:
        if isinstance(step, dict) and segment_id in segment_ids_named(step):
            found.append(_("condition of the step “%(step)s”") % {"step": step.get("id", "?")})
    return found


def journeys_using_segment(*, segment_id: int) -> list[SegmentUse]:
    running_versions = set(
        Enrollment.objects.filter(status=EnrollmentStatus.ACTIVE)
        .values_list("version_id", flat=True)
        .distinct()
    )
    uses: list[SegmentUse] = []
    versions = JourneyVersion.objects.filter(
        journey__in=Journey.objects.exclude(status=JourneyStatus.ARCHIVED)
    )
    by_journey: dict[int, list[Any]] = {}
    for version in (versions | JourneyVersion.objects.filter(pk__in=running_versions)).only(
        "journey_id", "graph"
    ):
        by_journey.setdefault(version.journey_id, []).append(version.graph)
    journeys = Journey.objects.filter(pk__in=list(by_journey)) | Journey.objects.exclude(
        status=JourneyStatus.ARCHIVED
    )
    for journey in journeys.distinct().order_by("name", "id"):
        where: list[str] = []
        graphs = [journey.draft_graph, *by_journey.get(journey.pk, [])]
        for graph in graphs:
            where.extend(
                place for place in graph_segment_uses(graph, segment_id=segment_id) if place not in where
            )
        if where:
            uses.append(
                SegmentUse(
                    kind=pgettext("segment use", "journey"), name=journey.name, detail=", ".join(where)
                )
            )
    return uses


def campaigns_using_segment(*, segment_id: int) -> list[SegmentUse]:
    return [
        SegmentUse(kind=pgettext("segment use", "campaign"), name=name)
        for name in Campaign.objects.filter(segment_id=segment_id, status__in=CAMPAIGN_OPEN_STATUSES)
        .order_by("name", "id")
        .values_list("name", flat=True)
    ]
