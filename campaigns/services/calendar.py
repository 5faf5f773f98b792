"""What the shared calendar (warroom) may know of this UDN's messaging: aggregates only.

The shared space calls these inside the UDN's schema (django_tenants' tenant_context) by import
path, never importing this app's models: name, channel, dates, audience size and status of each
broadcast campaign, and the UDN's frequency caps for its conflict warnings. No affiliate's data."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from django.db.models import Q
from django.utils import timezone

from campaigns.models import Campaign, FrequencyCap

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


def frequency_caps() -> list[dict[str, Any]]:
    """This UDN's frequency caps: [{"channel", "period" ("day" | "week"), "limit"}]."""
    return [
        dict(row)
        for row in FrequencyCap.objects.values("channel", "period", "limit").order_by("channel", "period")
    ]
