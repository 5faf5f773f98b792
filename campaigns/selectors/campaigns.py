"""Reads over a UDN's broadcast campaigns: the list, the audience a saved filter of the affiliate
list stands for, a campaign's progress and its results (funnel per channel, suppressed by reason,
conversion to the goal treated vs holdout with the difference's 95% confidence interval).

The audience is the affiliate list's own filter (crm.forms.AffiliateFilterForm read from the saved
query string, crm.selectors.affiliates.affiliate_search narrowing the base), so the count a campaign
shows is the count the list shows for the same query string."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Count, Q, QuerySet
from django.http import QueryDict
from django.utils.translation import gettext as _

from campaigns.models import (
    PENDING_STATUSES,
    Campaign,
    CampaignHoldout,
    CampaignStatus,
    Message,
    MessageStatus,
    MessageTemplate,
)
from crm.channels import CHANNEL_CODES
from crm.forms import AffiliateFilterForm
from crm.models import Affiliate, Event, EventKind, EventType, Segment
from crm.segmentation import SegmentInvalid
from crm.selectors.affiliates import AffiliateFilters, affiliate_search, deposit_tier_list
from crm.selectors.segments import segment_filter, segment_get, segment_list

# --- the audience ---------------------------------------------------------------------------------

#: Parameters of the list's query string that are not part of its filter (which page, the order).
NOT_AUDIENCE = ("page", "sort")


def _query_part(query: str) -> str:
    """The query string of `query`, which may be the list's whole address pasted in."""
    query = query.strip()
    return query.split("?", 1)[1] if "?" in query else query


def audience_query_clean(*, query: str) -> str:
    """The list's query string as a campaign keeps it: filter parameters only (no page, no order);
    the list's whole address may be given."""
    data = QueryDict(_query_part(query), mutable=True)
    for name in NOT_AUDIENCE:
        data.pop(name, None)
    return data.urlencode()


def audience_filters(*, query: str) -> AffiliateFilters:
    """The affiliate list's filters for `query` (its query string), validated by the list's own
    form: ValidationError with the form's messages when a value is bad (the list then shows no
    affiliate, and a campaign must not go to the whole base instead)."""
    form = AffiliateFilterForm(
        QueryDict(_query_part(query)), tiers=[tier.name for tier in deposit_tier_list()]
    )
    if not form.is_valid():
        raise ValidationError([message for errors in form.errors.values() for message in errors])
    return form.to_filters()


def audience_queryset(*, query: str) -> QuerySet[Affiliate]:
    """The affiliates a saved filter stands for (unordered: set-based readers need no order)."""
    return affiliate_search(params=audience_filters(query=query)).order_by()


def audience_count(*, query: str, segment_id: int | None = None) -> int:
    """How many affiliates a campaign with this audience goes to: the list's filter `query`,
    within segment `segment_id` when one is chosen (ValidationError for a bad filter or segment;
    see campaign_audience)."""
    return campaign_audience(query=query, segment_id=segment_id).count()


def campaign_audience(*, query: str, segment_id: int | None) -> QuerySet[Affiliate]:
    """The affiliates a campaign goes to: those the list's filter picks and, when it names a saved
    segment, only its members (the segment's conditions compiled into the same query; an empty
    filter leaves the whole segment). ValidationError when the filter is bad, the segment is gone
    or its conditions no longer hold (a tier deleted)."""
    audience = audience_queryset(query=query)
    if segment_id is None:
        return audience
    try:
        return audience.filter(segment_filter(segment=segment_get(pk=segment_id)))
    except Segment.DoesNotExist:
        raise ValidationError(_("The segment no longer exists.")) from None
    except SegmentInvalid as invalid:
        raise ValidationError(invalid.errors) from None


def campaign_segment(*, pk: int) -> Segment | None:
    """A saved segment a campaign may go to (None when it is gone)."""
    return segment_list().filter(pk=pk).first()


def campaign_segment_choices() -> list[tuple[int, str]]:
    """The saved segments a campaign may go to, by name."""
    return list(segment_list().values_list("pk", "name"))


# --- holdout --------------------------------------------------------------------------------------

#: A holdout percentage is compared with a bucket in [0, HOLDOUT_BUCKETS): 0.01% granularity.
HOLDOUT_BUCKETS = 10_000


def holdout_bucket(*, campaign_id: int, affiliate_id: int) -> int:
    """Where an affiliate falls for a campaign, in [0, HOLDOUT_BUCKETS): the first 8 hex digits of
    md5("<campaign>:<affiliate>") modulo HOLDOUT_BUCKETS. Random-looking but a function of the pair
    only, so re-running a fan-out never moves anyone; `holdout_bucket_sql` is the same in SQL."""
    digest = hashlib.md5(f"{campaign_id}:{affiliate_id}".encode(), usedforsecurity=False).hexdigest()
    return int(digest[:8], 16) % HOLDOUT_BUCKETS


def holdout_bucket_sql(*, campaign_id: int, affiliate: str = "a.id") -> str:
    """`holdout_bucket` as SQL over the affiliate id expression `affiliate`."""
    # 8 hex digits fit a bigint once padded to 16 (a bit(32) would read as a signed int); mod(),
    # not %, so the text can go into statements with placeholders.
    return (
        f"mod(('x' || lpad(substr(md5({int(campaign_id)}::text || ':' || ({affiliate})::text), 1, 8), 16, '0'))"
        f"::bit(64)::bigint, {HOLDOUT_BUCKETS})"
    )


def holdout_threshold(*, percent: int) -> int:
    """Buckets below this are held out."""
    return percent * HOLDOUT_BUCKETS // 100


def affiliate_held_out(*, campaign: Campaign, affiliate_id: int) -> bool:
    return holdout_bucket(campaign_id=campaign.pk, affiliate_id=affiliate_id) < holdout_threshold(
        percent=campaign.holdout_percent
    )


# --- the list and one campaign ---------------------------------------------------------------------


def campaign_list(*, q: str = "", status: str = "") -> QuerySet[Campaign]:
    """Campaigns newest first, narrowed by a search on the name or owner and a status."""
    qs = Campaign.objects.all()
    if q.strip():
        qs = qs.filter(Q(name__icontains=q.strip()) | Q(created_by__icontains=q.strip()))
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-created_at", "-pk")


def campaign_templates(*, campaign: Campaign) -> dict[str, MessageTemplate]:
    """The campaign's template for each channel of its chain."""
    return {template.channel: template for template in campaign.templates.all()}


def templates_by_channel() -> dict[str, list[MessageTemplate]]:
    """Every template, grouped by channel (the form's choices), in the registry's order."""
    grouped: dict[str, list[MessageTemplate]] = {code: [] for code in CHANNEL_CODES}
    for template in MessageTemplate.objects.order_by("name"):
        grouped.setdefault(template.channel, []).append(template)
    return grouped


def goal_event_choices() -> list[tuple[str, str]]:
    """Standard event types then this UDN's custom ones: (code, label)."""
    custom = [(code, label) for code, label in EventKind.objects.values_list("code", "label")]
    return [(value, str(label)) for value, label in EventType.choices] + custom


@dataclass(frozen=True)
class Progress:
    """Where a campaign stands: the fan-out's share, then how many of its messages have left."""

    status: str
    audience: int
    prepared: int  # affiliates written (messages and holdout)
    holdout: int
    pending: int  # messages queued or being sent
    finished: int  # messages past the sender (sent or later, suppressed, failed, cancelled)
    percent: int

    @property
    def status_label(self) -> str:
        return str(CampaignStatus(self.status).label)

    @property
    def running(self) -> bool:
        return self.status in (CampaignStatus.FANNING_OUT, CampaignStatus.SENDING, CampaignStatus.PAUSED)


def campaign_progress(*, campaign: Campaign) -> Progress:
    """The progress bar's figures: preparing counts for the first half, sending the second."""
    counts = Message.objects.filter(campaign=campaign).aggregate(
        pending=Count("pk", filter=Q(status__in=PENDING_STATUSES)), total=Count("pk")
    )
    pending, total = counts["pending"], counts["total"]
    audience = campaign.audience_count
    finished = total - pending
    status = campaign.status
    if status == CampaignStatus.SENDING and not pending:
        # Everything left the sender: done, which the beat's tick records within seconds.
        status = CampaignStatus.DONE
    if status == CampaignStatus.DONE:
        percent = 100
    elif not audience:
        percent = 0
    else:
        prepared_share = min(campaign.fanned_out, audience) / audience
        sendable = max(audience - campaign.holdout_count, 1)
        sent_share = min(finished, sendable) / sendable
        percent = int(50 * prepared_share + 50 * sent_share)
    return Progress(
        status=status,
        audience=audience,
        prepared=campaign.fanned_out,
        holdout=campaign.holdout_count,
        pending=pending,
        finished=finished,
        percent=max(0, min(100, percent)),
    )


# --- results --------------------------------------------------------------------------------------

#: The funnel's steps: a message counts at every step up to the status it reached.
FUNNEL = (MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.READ, MessageStatus.CLICKED)
REACHED = {
    MessageStatus.SENT: (
        MessageStatus.SENT,
        MessageStatus.DELIVERED,
        MessageStatus.READ,
        MessageStatus.CLICKED,
    ),
    MessageStatus.DELIVERED: (MessageStatus.DELIVERED, MessageStatus.READ, MessageStatus.CLICKED),
    MessageStatus.READ: (MessageStatus.READ, MessageStatus.CLICKED),
    MessageStatus.CLICKED: (MessageStatus.CLICKED,),
}
FAILED = (MessageStatus.FAILED, MessageStatus.BOUNCED, MessageStatus.DEAD)


@dataclass(frozen=True)
class ChannelFunnel:
    channel: str
    messages: int
    sent: int
    delivered: int
    read: int
    clicked: int
    failed: int
    pending: int
    suppressed: int


@dataclass(frozen=True)
class Interval:
    """A difference of two proportions with its 95% confidence interval."""

    difference: float
    low: float
    high: float

    @property
    def significant(self) -> bool:
        """False when the interval contains 0."""
        return self.low > 0 or self.high < 0


#: z for a two-sided 95% interval.
Z95 = 1.959963984540054


def wilson_interval(*, successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson's score interval for one proportion (no continuity correction)."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def difference_interval(*, x1: int, n1: int, x2: int, n2: int, z: float = Z95) -> Interval | None:
    """p1 - p2 with Newcombe's hybrid score interval (Newcombe 1998, method 10: each proportion's
    Wilson interval, combined), which keeps its coverage near 95% for small counts and rates
    near 0 or 1 where the Wald interval does not. None when a group is empty."""
    if n1 == 0 or n2 == 0:
        return None
    p1, p2 = x1 / n1, x2 / n2
    l1, u1 = wilson_interval(successes=x1, n=n1, z=z)
    l2, u2 = wilson_interval(successes=x2, n=n2, z=z)
    difference = p1 - p2
    low = difference - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = difference + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return Interval(difference=difference, low=low, high=high)


@dataclass(frozen=True)
class Conversion:
    goal_event: str
    window_days: int
    treated: int
    treated_converted: int
    holdout: int
    holdout_converted: int
    interval: Interval | None

    @property
    def treated_rate(self) -> float | None:
        return self.treated_converted / self.treated if self.treated else None

    @property
    def holdout_rate(self) -> float | None:
        return self.holdout_converted / self.holdout if self.holdout else None


@dataclass(frozen=True)
class Results:
    audience: int
    holdout: int
    messages: int
    suppressed_by_reason: list[tuple[str, int]]
    channels: list[ChannelFunnel]
    totals: ChannelFunnel
    conversion: Conversion | None


def _funnel_counts(*, campaign: Campaign) -> list[ChannelFunnel]:
    aggregates: dict[str, Any] = {"messages": Count("pk")}
    for step in FUNNEL:
        aggregates[str(step)] = Count("pk", filter=Q(status__in=REACHED[step]))
    aggregates["failed"] = Count("pk", filter=Q(status__in=FAILED))
    aggregates["pending"] = Count("pk", filter=Q(status__in=PENDING_STATUSES))
    aggregates["suppressed"] = Count("pk", filter=Q(status=MessageStatus.SUPPRESSED))
    rows = Message.objects.filter(campaign=campaign).values("channel").annotate(**aggregates).order_by()
    by_channel: dict[str, dict[str, Any]] = {row["channel"]: dict(row) for row in rows}
    order = [code for code in campaign.channels] + sorted(set(by_channel) - set(campaign.channels))
    names = ("messages", "sent", "delivered", "read", "clicked", "failed", "pending", "suppressed")
    return [
        ChannelFunnel(code, *(int(by_channel.get(code, {}).get(name, 0)) for name in names)) for code in order
    ]


def _conversion(*, campaign: Campaign) -> Conversion | None:
    """Goal events within the window after launch: among the treated (every affiliate the campaign
    wrote a message row for, sent or not: intention to treat) and among the holdout."""
    if not campaign.goal_event or campaign.launched_at is None:
        return None
    start = campaign.launched_at
    end = start + timedelta(days=campaign.conversion_window_days)
    events = connection.ops.quote_name(Event._meta.db_table)
    messages = connection.ops.quote_name(Message._meta.db_table)
    holdouts = connection.ops.quote_name(CampaignHoldout._meta.db_table)
    converted = (
        f"EXISTS (SELECT 1 FROM {events} e WHERE e.affiliate_id = g.affiliate_id"  # noqa: S608
        " AND e.type = %(goal)s AND e.occurred_at >= %(start)s AND e.occurred_at < %(end)s)"
    )
    sql = f"""
        SELECT g.arm, count(*), count(*) FILTER (WHERE {converted})
        FROM (
            SELECT DISTINCT affiliate_id, 't' AS arm FROM {messages} WHERE campaign_id = %(campaign)s
            UNION ALL
            SELECT affiliate_id, 'h' FROM {holdouts} WHERE campaign_id = %(campaign)s
        ) g
        GROUP BY g.arm
    """  # noqa: S608 - table names from the models' meta, values are parameters
    params: dict[str, Any] = {
        "goal": campaign.goal_event,
        "start": start,
        "end": end,
        "campaign": campaign.pk,
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        arms = {arm: (total, hits) for arm, total, hits in cursor.fetchall()}
    treated, treated_converted = arms.get("t", (0, 0))
    holdout, holdout_converted = arms.get("h", (0, 0))
    return Conversion(
        goal_event=campaign.goal_event,
        window_days=campaign.conversion_window_days,
        treated=treated,
        treated_converted=treated_converted,
        holdout=holdout,
        holdout_converted=holdout_converted,
        interval=difference_interval(x1=treated_converted, n1=treated, x2=holdout_converted, n2=holdout),
    )


def campaign_results(*, campaign: Campaign) -> Results:
    channels = _funnel_counts(campaign=campaign)
    reasons = (
        Message.objects.filter(campaign=campaign, status=MessageStatus.SUPPRESSED)
        .values_list("reason")
        .annotate(n=Count("pk"))
        .order_by("-n", "reason")
    )
    totals = ChannelFunnel(
        channel="",
        messages=sum(c.messages for c in channels),
        sent=sum(c.sent for c in channels),
        delivered=sum(c.delivered for c in channels),
        read=sum(c.read for c in channels),
        clicked=sum(c.clicked for c in channels),
        failed=sum(c.failed for c in channels),
        pending=sum(c.pending for c in channels),
        suppressed=sum(c.suppressed for c in channels),
    )
    return Results(
        audience=campaign.audience_count,
        holdout=campaign.holdout_count,
        messages=totals.messages,
        suppressed_by_reason=[(reason, n) for reason, n in reasons],
        channels=channels,
        totals=totals,
        conversion=_conversion(campaign=campaign),
    )
