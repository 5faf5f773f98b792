"""What the shared calendar (warroom) may know of this UDN's messaging: aggregates only.

The shared space calls these inside the UDN's schema (django_tenants' tenant_context) by import
path, never importing this app's models: name, channel, dates, audience size and status of each
broadcast campaign, and the UDN's frequency caps for its conflict warnings. No affiliate's data."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from django.db.models import Count, Min, Q
from django.utils import timezone

from campaigns.models import (
    Campaign,
    CampaignStatus,
    Enrollment,
    EnrollmentStatus,
    FrequencyCap,
    Journey,
    JourneyStatus,
    JourneyVersion,
)

#: `created_by` of the broadcasts the shared space's cross-sell launches (campaigns.services.crosssell):
#: the calendar shows those as the joint campaign itself, not twice.
CROSS_SELL_CREATOR_PREFIX = "warroom:"


def _day(value: datetime | None) -> date | None:
    return None if value is None else timezone.localtime(value).date()


def calendar_entries(*, start: date, end: date) -> list[dict[str, Any]]:
    """This UDN's broadcast campaigns that send (or sent) between `start` and `end` (end exclusive):
    one dict each with id, name, channel (the chain's first), channels, start and end (dates),
    audience (a count) and status. Drafts without a send time have no place on a calendar."""
    zone = timezone.get_current_timezone()
    lo = datetime.combine(start, time.min, tzinfo=zone)
    hi = datetime.combine(end, time.min, tzinfo=zone)
    when = Q(send_at__gte=lo, send_at__lt=hi) | Q(
        send_at__isnull=True, launched_at__gte=lo, launched_at__lt=hi
    )
    rows = (
        Campaign.objects.filter(when)
        .exclude(created_by__startswith=CROSS_SELL_CREATOR_PREFIX)
        .values("pk", "name", "channels", "send_at", "launched_at", "finished_at", "audience_count", "status")
        .order_by("send_at", "pk")
    )
    entries = []
    for row in rows:
        starts = _day(row["send_at"] or row["launched_at"])
        ends = _day(row["finished_at"]) or starts
        entries.append(
            {
                "id": row["pk"],
                "name": row["name"],
                "channel": row["channels"][0] if row["channels"] else "",
                "channels": list(row["channels"]),
                "start": starts,
                "end": max(ends, starts) if ends and starts else starts,
                "audience": row["audience_count"],
                "status": row["status"],
            }
        )
    return entries


def _graph_channels(graph: dict[str, Any]) -> list[str]:
    """The channels a journey's send steps use, in the order they first appear."""
    channels: dict[str, None] = {}
    for step in graph.get("steps", []) if isinstance(graph, dict) else []:
        if isinstance(step, dict) and step.get("type") == "send":
            channels.update(dict.fromkeys(c for c in step.get("channels") or [] if isinstance(c, str)))
    return list(channels)


def journey_entries(*, start: date, end: date) -> list[dict[str, Any]]:
    """This UDN's journeys that were live at some point between `start` and `end` (end exclusive):
    from their first publication, open-ended while live or paused, until archived. One dict each
    with id, name, channel (the first a send step uses), channels (the latest version's), start,
    end (None: still running), audience (the affiliates in it now) and status. Drafts never
    published have no place on a calendar."""
    zone = timezone.get_current_timezone()
    hi = datetime.combine(end, time.min, tzinfo=zone)
    lo = datetime.combine(start, time.min, tzinfo=zone)
    journeys = list(
        Journey.objects.filter(status__in=[JourneyStatus.LIVE, JourneyStatus.PAUSED, JourneyStatus.ARCHIVED])
        .annotate(first_published=Min("versions__published_at"))
        .filter(first_published__lt=hi)
        .exclude(status=JourneyStatus.ARCHIVED, updated_at__lt=lo)
        .values("pk", "name", "status", "first_published", "updated_at")
        .order_by("first_published", "pk")
    )
    ids = [j["pk"] for j in journeys]
    latest: dict[int, dict[str, Any]] = {}
    for version in (
        JourneyVersion.objects.filter(journey_id__in=ids)
        .order_by("journey_id", "-number")
        .distinct("journey_id")
        .values("journey_id", "graph")
    ):
        latest[version["journey_id"]] = version["graph"]
    enrolled = dict(
        Enrollment.objects.filter(journey_id__in=ids, status=EnrollmentStatus.ACTIVE)
        .values("journey_id")
        .annotate(n=Count("id"))
        .values_list("journey_id", "n")
        .order_by()
    )
    entries = []
    for journey in journeys:
        channels = _graph_channels(latest.get(journey["pk"], {}))
        starts = _day(journey["first_published"])
        # An archived journey ends the day it was archived (its last change: archived ones are frozen).
        ends = _day(journey["updated_at"]) if journey["status"] == JourneyStatus.ARCHIVED else None
        entries.append(
            {
                "id": journey["pk"],
                "name": journey["name"],
                "channel": channels[0] if channels else "",
                "channels": channels,
                "start": starts,
                "end": max(ends, starts) if ends and starts else None,
                "audience": enrolled.get(journey["pk"], 0),
                "status": journey["status"],
            }
        )
    return entries


def status_labels() -> dict[str, str]:
    """The statuses of what this app puts on the calendar (campaigns and journeys), translated in
    the active language: {code: label}. Needs no UDN schema."""
    return {
        **{code: str(label) for code, label in JourneyStatus.choices},
        **{code: str(label) for code, label in CampaignStatus.choices},
    }


def frequency_caps() -> list[dict[str, Any]]:
    """This UDN's frequency caps: [{"channel", "period" ("day" | "week"), "limit"}]."""
    return [
        dict(row)
        for row in FrequencyCap.objects.values("channel", "period", "limit").order_by("channel", "period")
    ]
