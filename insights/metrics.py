"""What the insights figures mean, defined once: the histogram of durations, the time metrics,
the funnel's steps and milestones, the access support tickets, the attribution properties.

The rollups (insights.services.rollups) and the straight-from-the-events computation
(insights.raw, the check and the benchmark's baseline) both build their SQL from here.

Percentiles of a duration are read on its histogram: the p-th percentile is the bucket holding
the p-th smallest duration (percentile_disc over the bucket index), shown by its upper bound
("até 6 h"). Buckets are a minute wide near zero and widen with the duration, so a day's rollup
holds a few dozen rows whatever its size, and the figure is the same from rollup and events."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from crm.lifecycle import STAGE_RULES
from crm.models import EventType

MINUTE, HOUR, DAY = 60, 3600, 86400

#: Lower bounds (seconds) of the histogram's buckets; bucket i (1-based, as SQL's width_bucket
#: numbers them) holds durations in [BOUNDS[i-1], BOUNDS[i]). 24 h is a bound: "within 24 h" is
#: the sum of the buckets below it.
BUCKET_BOUNDS: tuple[int, ...] = (
    0,
    5 * MINUTE,
    10 * MINUTE,
    15 * MINUTE,
    30 * MINUTE,
    45 * MINUTE,
    1 * HOUR,
    90 * MINUTE,
    2 * HOUR,
    3 * HOUR,
    4 * HOUR,
    6 * HOUR,
    8 * HOUR,
    12 * HOUR,
    16 * HOUR,
    20 * HOUR,
    1 * DAY,
    36 * HOUR,
    2 * DAY,
    3 * DAY,
    4 * DAY,
    5 * DAY,
    7 * DAY,
    10 * DAY,
    14 * DAY,
    21 * DAY,
    30 * DAY,
    45 * DAY,
    60 * DAY,
    90 * DAY,
    180 * DAY,
    365 * DAY,
)
WITHIN_24H_BUCKETS = BUCKET_BOUNDS.index(DAY)  # buckets 1..this hold durations under 24 h


def sql_bounds() -> str:
    return "ARRAY[" + ", ".join(str(b) for b in BUCKET_BOUNDS) + "]::bigint[]"


def sql_bucket(seconds_sql: str) -> str:
    """The bucket (1-based) of a duration in whole seconds."""
    return f"width_bucket({seconds_sql}, {sql_bounds()})"


def sql_seconds(start_sql: str, end_sql: str) -> str:
    """A duration in whole seconds (floored), as every figure measures it."""
    return f"floor(extract(epoch from ({end_sql}) - ({start_sql})))::bigint"


def bucket_of(seconds: int) -> int:
    return bisect_right(BUCKET_BOUNDS, seconds)


def bucket_upper(bucket: int) -> int | None:
    """Upper bound (seconds, exclusive) of a bucket; None for the last one (open)."""
    return BUCKET_BOUNDS[bucket] if bucket < len(BUCKET_BOUNDS) else None


def percentile_bucket(counts: Sequence[tuple[int, int]], p: float) -> int | None:
    """percentile_disc(p) over bucket indexes given as (bucket, n) pairs: the first bucket whose
    cumulative share reaches p. None without durations."""
    total = sum(n for _b, n in counts)
    if not total:
        return None
    running = 0
    for bucket, n in sorted(counts):
        running += n
        if running / total >= p:
            return bucket
    return max(b for b, _n in counts)  # pragma: no cover - float rounding at p = 1


@dataclass(frozen=True)
class Milestone:
    """A step an affiliate reaches at its first event of one of `types`."""

    code: str
    label: Any  # a lazy translation
    types: tuple[str, ...]


_STAGE_TYPES = {str(rule.stage): tuple(str(t) for t in rule.event_types) for rule in STAGE_RULES}
#: Every type that reaches a lifecycle stage: an affiliate's first one is its entry in the funnel.
ENTRY_TYPES: tuple[str, ...] = tuple(str(kind) for rule in STAGE_RULES for kind in rule.event_types)

#: The funnel, in order: lead → registered → downloaded → activated → cash in → cashout. Everyone
#: who entered is a lead; each later step is reached at its first event of the stage's types.
FUNNEL: tuple[Milestone, ...] = (
    Milestone("lead", _("Lead"), ENTRY_TYPES),
    Milestone("registered", _("Registered"), tuple(_STAGE_TYPES["registered"])),
    Milestone("app_downloaded", _("App downloaded"), tuple(_STAGE_TYPES["app_downloaded"])),
    Milestone("activated", _("Activated"), tuple(_STAGE_TYPES["activated"])),
    Milestone("cash_in", _("Cash in"), tuple(_STAGE_TYPES["cash_in"])),
    Milestone("cashout", _("Cashout"), tuple(_STAGE_TYPES["cashout"])),
)
#: Milestones beyond the funnel that the volume figures count.
CASHBACK = Milestone("cashback", _("Cashback"), (EventType.CASHBACK.value,))
ACCOUNT_OPENED = Milestone("account_opened", _("Account opened"), (EventType.ACCOUNT_OPENED.value,))
MILESTONES: tuple[Milestone, ...] = (*FUNNEL, CASHBACK, ACCOUNT_OPENED)
MILESTONE_BY_CODE = {m.code: m for m in MILESTONES}

#: Cohort tables: who reached these, by months since entering.
COHORT_MILESTONES = ("activated", "cash_in")


@dataclass(frozen=True)
class TimeMetric:
    code: str
    label: Any  # a lazy translation
    start: str  # milestone code
    end: str


TIME_METRICS: tuple[TimeMetric, ...] = (
    TimeMetric(
        "opened_to_downloaded", _("Account opened → app downloaded"), "account_opened", "app_downloaded"
    ),
    TimeMetric("opened_to_activated", _("Account opened → app activated"), "account_opened", "activated"),
)
#: Time between consecutive funnel steps (from the first time at a step to the first at the next,
#: when the next came later).
STEP_METRICS: tuple[TimeMetric, ...] = tuple(
    TimeMetric(f"step_{b.code}", format_lazy("{} → {}", a.label, b.label), a.code, b.code)
    for a, b in zip(FUNNEL, FUNNEL[1:], strict=False)
)
#: Support tickets about access: opened → closed (paired by the `ticket_id` property) when the
#: closing `reason` is one of ACCESS_REASONS (the help desk's codes for access problems).
SUPPORT_METRIC = "support_access"
ACCESS_REASONS: tuple[str, ...] = (
    "senha redefinida",
    "código reenviado",
    "app reinstalado",
    "acesso liberado",
)

#: The properties of an event that name where the person came from (attribution).
UTM_SOURCE, UTM_CAMPAIGN = "utm_source", "utm_campaign"
UNATTRIBUTED = "(sem origem)"
#: Conversions attributed: entering the funnel (a lead), activating the app, the first deposit.
CONVERSIONS: tuple[tuple[str, str], ...] = (
    ("lead", "lead"),
    ("activation", "activated"),
    ("deposit", "cash_in"),
)

#: Event types the per-type daily counts keep.
TRACKED_TYPES: tuple[str, ...] = tuple(str(v) for v in EventType.values)


@dataclass(frozen=True)
class DurationSummary:
    """A duration's figures: how many, percentiles (upper bound of their bucket, seconds; None
    in the open last bucket), the mean (seconds) and the share under 24 hours."""

    n: int
    median: int | None
    p75: int | None
    p90: int | None
    mean: float | None
    within_24h: float | None

    def row(self) -> tuple[Any, ...]:
        return (self.n, self.median, self.p75, self.p90, self.mean, self.within_24h)


def duration_summary(counts: dict[int, int], seconds: int) -> DurationSummary:
    """The summary of a histogram ({bucket: n}) whose durations add up to `seconds`."""
    pairs = [(b, n) for b, n in counts.items() if n]
    total = sum(n for _b, n in pairs)
    if not total:
        return DurationSummary(0, None, None, None, None, None)

    def upper(p: float) -> int | None:
        bucket = percentile_bucket(pairs, p)
        return None if bucket is None else bucket_upper(bucket)

    within = sum(n for b, n in pairs if b <= WITHIN_24H_BUCKETS)
    return DurationSummary(
        n=total,
        median=upper(0.5),
        p75=upper(0.75),
        p90=upper(0.9),
        mean=round(int(seconds) / total, 1),
        within_24h=within / total,
    )


def share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


CASH_IN: str = EventType.CASH_IN.value
