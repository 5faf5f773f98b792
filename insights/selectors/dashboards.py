"""The dashboards' figures, read from the daily rollups (insights.models). Each page is a list of
tables (the chart's data, the table under it and the CSV download are the same rows), in raw
values: seconds, counts, Decimal amounts, shares in 0..1; templates format them the pt-BR way.

insights.raw computes the very same rows straight from the events (the tests compare them value
by value; the benchmark times both)."""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.core.cache import cache
from django.db import connection
from django.db.models import QuerySet, Sum, Value
from django.db.models.functions import Greatest, TruncMonth, TruncWeek
from django.utils.translation import gettext_lazy as _

from insights import metrics
from insights.models import AttributionDay, CohortDay, DepositDay, DurationDay, EventDay, MilestoneDay, Spend

COHORT_MONTHS = 12


@dataclass(frozen=True)
class Filters:
    """A page's filters: local days from `start` to `end` (inclusive), one origin, one plan ("" = all)."""

    start: date
    end: date
    origin: str = ""
    plan: str = ""


@dataclass(frozen=True)
class Column:
    label: Any
    kind: str = "int"  # int | money | share | duration | date | month | week | text | float


@dataclass
class Table:
    key: str
    title: Any
    columns: list[Column]
    rows: list[tuple[Any, ...]]
    chart: str = ""  # "" | bar | line | histogram
    series: list[int] = field(default_factory=list)  # the columns charted against the first


@dataclass
class Page:
    code: str
    title: Any
    tables: list[Table]
    headline: dict[str, Any] = field(default_factory=dict)

    def table(self, key: str) -> Table:
        return next(t for t in self.tables if t.key == key)

    def rows(self) -> dict[str, list[tuple[Any, ...]]]:
        return {t.key: t.rows for t in self.tables}


def week_of(day: date) -> date:
    """Monday of the week of `day`."""
    return day - timedelta(days=day.weekday())


def month_of(day: date) -> date:
    return day.replace(day=1)


def months_between(a: date, b: date) -> int:
    return (b.year * 12 + b.month) - (a.year * 12 + a.month)


def _scoped(qs: QuerySet[Any], filters: Filters, *, days: bool = True) -> QuerySet[Any]:
    if days:
        qs = qs.filter(day__gte=filters.start, day__lte=filters.end)
    if filters.origin:
        qs = qs.filter(origin=filters.origin)
    if filters.plan:
        qs = qs.filter(plan=filters.plan)
    return qs


# --- time metrics ---------------------------------------------------------------------------------

SUMMARY_COLUMNS = [
    Column(_("Affiliates"), "int"),
    Column(_("Median"), "upto"),
    Column(_("p75"), "upto"),
    Column(_("p90"), "upto"),
    Column(_("Mean"), "duration"),
    Column(_("Within 24 h"), "share"),
]


#: A duration's histogram grouped for its tables: (dimension, key, bucket, n, seconds), the
#: dimension "all" (key None), "week" (its Monday), "origin" or "plan".
Grouped = Iterable[tuple[str, Any, int, int, int]]


def group_durations(
    rows: Iterable[tuple[date, str, str, int, int, int]],
) -> list[tuple[str, Any, int, int, int]]:
    """(day, origin, plan, bucket, n, seconds) rows grouped as `duration_tables` takes them."""
    sums: dict[tuple[str, Any, int], list[int]] = {}
    for day, origin, plan, bucket, n, seconds in rows:
        for dim, key in (("all", None), ("week", week_of(day)), ("origin", origin), ("plan", plan)):
            acc = sums.setdefault((dim, key, bucket), [0, 0])
            acc[0] += n
            acc[1] += seconds
    return [(dim, key, bucket, n, secs) for (dim, key, bucket), (n, secs) in sums.items()]


def duration_tables(*, code: str, title: Any, rows: Grouped, weekly_only: bool = False) -> list[Table]:
    """The tables of one duration metric from its grouped histogram (`group_durations`)."""
    total: dict[int, int] = defaultdict(int)
    total_seconds = 0
    by: dict[str, dict[Any, tuple[dict[int, int], list[int]]]] = {
        "week": {},
        "origin": {},
        "plan": {},
    }
    for dim, key, bucket, n, seconds in rows:
        if dim == "all":
            total[bucket] += n
            total_seconds += int(seconds)
            continue
        counts, secs = by[dim].setdefault(key, (defaultdict(int), [0]))
        counts[bucket] += n
        secs[0] += int(seconds)
    summary = metrics.duration_summary(total, total_seconds)
    last = max((b for b, n in total.items() if n), default=0)
    weekly = [
        (week, *_weekly(metrics.duration_summary(c, s[0]))) for week, (c, s) in sorted(by["week"].items())
    ]
    week_table = Table(
        f"{code}_weekly",
        format_title(title, _("weekly trend")),
        [
            Column(_("Week"), "week"),
            Column(_("Affiliates")),
            Column(_("Median"), "upto"),
            Column(_("p90"), "upto"),
            Column(_("Within 24 h"), "share"),
        ],  # fmt: skip
        weekly,
        chart="line",
        series=[2, 3],
    )
    if weekly_only:
        return [week_table]
    return [
        Table(f"{code}_summary", title, SUMMARY_COLUMNS, [summary.row()]),
        Table(
            f"{code}_histogram",
            format_title(title, _("histogram")),
            [Column(_("From"), "duration"), Column(_("Up to"), "duration"), Column(_("Affiliates"))],
            [
                (metrics.BUCKET_BOUNDS[b - 1], metrics.bucket_upper(b), total.get(b, 0))
                for b in range(1, last + 1)
            ],
            chart="histogram",
            series=[2],
        ),
        week_table,
        *(
            Table(
                f"{code}_by_{dim}",
                format_title(title, label),
                [Column(label, kind), *SUMMARY_COLUMNS],
                [(key, *metrics.duration_summary(c, s[0]).row()) for key, (c, s) in sorted(by[dim].items())],
                chart="bar",
                series=[2],
            )
            for dim, label, kind in (("origin", _("by origin"), "origin"), ("plan", _("by plan"), "text"))
        ),
    ]


def _weekly(summary: metrics.DurationSummary) -> tuple[Any, ...]:
    return (summary.n, summary.median, summary.p90, summary.within_24h)


def format_title(title: Any, suffix: Any) -> Any:
    from django.utils.text import format_lazy

    return format_lazy("{} — {}", title, suffix)


def _duration_rows(metric: str, filters: Filters, *, by_bucket_only: bool = False) -> list[tuple[Any, ...]]:
    """A metric's histogram rows summed in SQL by week, origin, plan and bucket (what the tables
    group by; a week stands for its days, whose Monday it is), or by bucket only."""
    qs = _scoped(DurationDay.objects.filter(metric=metric), filters)
    if by_bucket_only:
        rows = qs.values_list("bucket").annotate(total=Sum("n"), secs=Sum("seconds")).order_by()
        return [(filters.start, "", "", bucket, n, secs) for bucket, n, secs in rows]
    return list(
        qs.annotate(week=TruncWeek("day"))
        .values_list("week", "origin", "plan", "bucket")
        .annotate(total=Sum("n"), secs=Sum("seconds"))
        .order_by()
    )


def _durations_by_metric(
    codes: list[str], filters: Filters
) -> dict[str, list[tuple[str, Any, int, int, int]]]:
    """The grouped histograms of several metrics, summed by PostgreSQL (GROUPING SETS): a few
    hundred rows a metric reach Python, whatever the base."""
    where = ""
    params: list[Any] = [list(codes), filters.start, filters.end]
    if filters.origin:
        where += " AND origin = %s"
        params.append(filters.origin)
    if filters.plan:
        where += " AND plan = %s"
        params.append(filters.plan)
    table = connection.ops.quote_name(DurationDay._meta.db_table)
    sql = f"""
        SELECT metric,
               CASE WHEN GROUPING(week) = 0 THEN 'week' WHEN GROUPING(origin) = 0 THEN 'origin'
                    WHEN GROUPING(plan) = 0 THEN 'plan' ELSE 'all' END,
               week, origin, plan, bucket, sum(n), sum(seconds)
        FROM (SELECT metric, date_trunc('week', day)::date AS week, origin, plan, bucket, n, seconds
              FROM {table} WHERE metric = ANY(%s) AND day BETWEEN %s AND %s {where}) d
        GROUP BY GROUPING SETS ((metric, bucket), (metric, week, bucket), (metric, origin, bucket),
                                (metric, plan, bucket))
    """  # noqa: S608 - the table name comes from the model; values are parameters
    out: dict[str, list[tuple[str, Any, int, int, int]]] = {code: [] for code in codes}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for metric, dim, week, origin, plan, bucket, n, seconds in cursor.fetchall():
            key = {"week": week, "origin": origin, "plan": plan}.get(dim)
            out[metric].append((dim, key, bucket, int(n), int(seconds)))
    return out


def time_page(*, filters: Filters) -> Page:
    rows = _durations_by_metric([m.code for m in metrics.TIME_METRICS] + [metrics.SUPPORT_METRIC], filters)
    tables: list[Table] = []
    for metric in metrics.TIME_METRICS:
        tables += duration_tables(code=metric.code, title=metric.label, rows=rows[metric.code])
    tables += duration_tables(
        code=metrics.SUPPORT_METRIC,
        title=_("Access support tickets: opened → closed"),
        rows=rows[metrics.SUPPORT_METRIC],
        weekly_only=True,
    )
    return Page("time", _("Time metrics"), tables)


# --- volume and funnel ----------------------------------------------------------------------------

VOLUME_MILESTONES: tuple[tuple[str, Any], ...] = (
    ("cashback", _("With cashback")),
    ("activated_cash_in", _("App activated with cash in")),
    ("cashout", _("With cashout")),
)


def volume_tables(
    *,
    filters: Filters,
    reached: Iterable[tuple[str, date, int]],
    funnel_reached: dict[str, int],
    step_rows: dict[str, list[tuple[date, str, str, int, int, int]]],
) -> list[Table]:
    """Volume tables from milestone reach counts by day (every day up to `filters.end`), the
    funnel's reach among those who entered in the period, and the steps' durations."""
    by_code: dict[str, dict[date, int]] = defaultdict(lambda: defaultdict(int))
    for code, day, n in reached:
        by_code[code][day] += n
    cumulative: dict[str, tuple[list[date], list[int]]] = {}
    for code, days in by_code.items():
        running, sums = 0, []
        for day in sorted(days):
            running += days[day]
            sums.append(running)
        cumulative[code] = (sorted(days), sums)

    def upto(code: str, day: date) -> int:
        found = cumulative.get(code)
        if found is None:
            return 0
        index = bisect_right(found[0], day)
        return found[1][index - 1] if index else 0

    base = upto("lead", filters.end)
    shares = [(code, upto(code, filters.end), base, metrics.share(upto(code, filters.end), base))
              for code, _label in VOLUME_MILESTONES]  # fmt: skip
    weekly = []
    week = week_of(filters.start)
    while week <= filters.end:
        end = min(week + timedelta(days=6), filters.end)
        week_base = upto("lead", end)
        weekly.append(
            (end, week_base, *(metrics.share(upto(code, end), week_base) for code, _l in VOLUME_MILESTONES))
        )
        week += timedelta(days=7)
    funnel: list[tuple[Any, ...]] = []
    entered = funnel_reached.get("lead", 0)
    previous = None
    for step in metrics.FUNNEL:
        n = funnel_reached.get(step.code, 0)
        median = None
        if previous is not None:
            counts: dict[int, int] = defaultdict(int)
            secs = 0
            for _d, _o, _p, bucket, count, seconds in step_rows.get(f"step_{step.code}", []):
                counts[bucket] += count
                secs += seconds
            median = metrics.duration_summary(counts, secs).median
        funnel.append(
            (
                step.code,
                n,
                metrics.share(n, previous) if previous is not None else None,
                metrics.share(n, entered),
                median,
            )  # fmt: skip
        )
        previous = n
    return [
        Table(
            "volume_shares",
            _("Share of the base"),
            [
                Column(_("Figure"), "milestone"),
                Column(_("Affiliates")),
                Column(_("Base")),
                Column(_("Share"), "share"),
            ],
            shares,
            chart="bar",
            series=[3],
        ),
        Table(
            "volume_weekly",
            _("Share of the base, weekly"),
            [
                Column(_("Week ending"), "date"),
                Column(_("Base")),
                *(Column(label, "share") for _c, label in VOLUME_MILESTONES),
            ],  # fmt: skip
            weekly,
            chart="line",
            series=[2, 3, 4],
        ),
        Table(
            "funnel",
            _("Funnel of those who entered in the period"),
            [
                Column(_("Step"), "milestone"),
                Column(_("Affiliates")),
                Column(_("From the previous step"), "share"),
                Column(_("From lead"), "share"),
                Column(_("Median time from the previous step"), "upto"),
            ],  # fmt: skip
            funnel,
            chart="bar",
            series=[1],
        ),
    ]


def volume_page(*, filters: Filters) -> Page:
    # The days before the period count only in sum: one row each, on the eve of the period.
    eve = filters.start - timedelta(days=1)
    reached = (
        _scoped(MilestoneDay.objects.filter(day__lte=filters.end), filters, days=False)
        .annotate(upto=Greatest("day", Value(eve)))
        .values_list("milestone", "upto")
        .annotate(total=Sum("n"))
        .order_by()
    )
    funnel = dict(
        _scoped(CohortDay.objects.all(), filters).values_list("milestone").annotate(total=Sum("n")).order_by()
    )
    step_rows: dict[str, list[tuple[Any, ...]]] = {m.code: [] for m in metrics.STEP_METRICS}
    steps = _scoped(DurationDay.objects.filter(metric__in=list(step_rows)), filters)
    for metric, bucket, n, secs in (
        steps.values_list("metric", "bucket").annotate(total=Sum("n"), secs=Sum("seconds")).order_by()
    ):
        step_rows[metric].append((filters.start, "", "", bucket, n, secs))
    tables = volume_tables(filters=filters, reached=list(reached), funnel_reached=funnel, step_rows=step_rows)
    return Page("volume", _("Volume and funnel"), tables)


# --- cohorts --------------------------------------------------------------------------------------


def cohort_tables(*, filters: Filters, rows: Iterable[tuple[date, str, int, int]]) -> list[Table]:
    """Cohort tables from (entry month, milestone, months since, n) rows: per entry month its size
    and the cumulative share reached by each month since (None for months not yet lived)."""
    size: dict[date, int] = defaultdict(int)
    reached: dict[tuple[str, date], dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for month, milestone, months, n in rows:
        if milestone == "lead":
            size[month] += n
        else:
            reached[(milestone, month)][months] += n
    tables = []
    for milestone in metrics.COHORT_MILESTONES:
        out = []
        for month in sorted(size):
            lived = months_between(month, month_of(filters.end))
            running, cells = 0, []
            for k in range(COHORT_MONTHS):
                running += reached[(milestone, month)].get(k, 0)
                cells.append(metrics.share(running, size[month]) if k <= lived else None)
            out.append((month, size[month], *cells))
        label = metrics.MILESTONE_BY_CODE[milestone].label
        tables.append(
            Table(
                f"cohort_{milestone}",
                format_title(_("Monthly cohorts"), label),
                [
                    Column(_("Entered in"), "month"),
                    Column(_("Affiliates")),
                    *(Column(f"M{k}", "share") for k in range(COHORT_MONTHS)),
                ],  # fmt: skip
                out,
                chart="heat",
            )
        )
    return tables


def cohorts_page(*, filters: Filters) -> Page:
    qs = _scoped(CohortDay.objects.filter(milestone__in=("lead", *metrics.COHORT_MILESTONES)), filters)
    # Summed by month in SQL: a few hundred rows reach Python instead of one per day and group.
    rows = (
        qs.annotate(month=TruncMonth("day"))
        .values("month", "milestone", "months")
        .annotate(total=Sum("n"))
        .values_list("month", "milestone", "months", "total")
        .order_by()
    )
    tables = cohort_tables(filters=filters, rows=list(rows))
    return Page("cohorts", _("Cohorts"), tables)


# --- deposits -------------------------------------------------------------------------------------


def deposit_tables(
    *,
    by_month: Iterable[tuple[date, int, Decimal, int, Decimal]],
    by_tier: Iterable[tuple[date, str, int, Decimal]],
) -> list[Table]:
    """(month, deposits, amount, first deposits, their amount) and (month, tier, deposits, amount)."""
    months = []
    previous: Decimal | None = None
    for month, deposits, amount, firsts, first_amount in sorted(by_month):
        growth = float((amount - previous) / previous) if previous else None
        months.append(
            (month, deposits, amount, growth, firsts, first_amount, deposits - firsts, amount - first_amount)
        )
        previous = amount
    return [
        Table(
            "deposits_by_month",
            _("Cash in by month"),
            [
                Column(_("Month"), "month"),
                Column(_("Deposits")),
                Column(_("Amount"), "money"),
                Column(_("Growth over the previous month"), "share"),
                Column(_("First deposits")),
                Column(_("First deposits' amount"), "money"),
                Column(_("Repeat deposits")),
                Column(_("Repeat deposits' amount"), "money"),
            ],  # fmt: skip
            months,
            chart="bar",
            series=[2],
        ),
        Table(
            "deposits_by_tier",
            _("Cash in by month and deposit tier"),
            [
                Column(_("Month"), "month"),
                Column(_("Tier"), "text"),
                Column(_("Deposits")),
                Column(_("Amount"), "money"),
            ],  # fmt: skip
            sorted(by_tier),
        ),
    ]


def deposits_page(*, filters: Filters) -> Page:
    # Summed by month in SQL (one row a month, one a month and tier reach Python).
    by_month = (
        _scoped(EventDay.objects.filter(type=metrics.CASH_IN), filters)
        .annotate(month=TruncMonth("day"))
        .values("month")
        .annotate(d=Sum("events"), a=Sum("amount"), f=Sum("firsts"), fa=Sum("first_amount"))
        .values_list("month", "d", "a", "f", "fa")
        .order_by()
    )
    by_tier = (
        DepositDay.objects.filter(day__gte=filters.start, day__lte=filters.end)
        .annotate(month=TruncMonth("day"))
        .values("month", "tier")
        .annotate(d=Sum("deposits"), a=Sum("amount"))
        .values_list("month", "tier", "d", "a")
        .order_by()
    )
    tables = deposit_tables(by_month=list(by_month), by_tier=list(by_tier))
    return Page("deposits", _("Deposits"), tables)


# --- end-to-end analytics -------------------------------------------------------------------------


def attribution_tables(
    *,
    spend: Iterable[tuple[str, str, Decimal]],
    conversions: Iterable[tuple[str, str, str, int, Decimal]],
) -> list[Table]:
    """Spend as (source, campaign, amount); conversions as (model, conversion, source, n, amount)."""
    spend_rows = sorted(spend)
    by_source: dict[str, Decimal] = defaultdict(lambda: Decimal("0.00"))
    for source, _campaign, amount in spend_rows:
        by_source[source] += amount
    counts: dict[tuple[str, str], dict[str, Any]] = defaultdict(lambda: defaultdict(int))
    for model, conversion, source, n, amount in conversions:
        counts[(model, source)][conversion] += n
        if conversion == "deposit":
            counts[(model, source)]["amount"] += amount
    tables = [
        Table(
            "spend",
            _("Marketing spend"),
            [Column(_("Source"), "text"), Column(_("Campaign"), "text"), Column(_("Spend"), "money")],
            spend_rows,
        )
    ]
    for model, title in (("first", _("First touch")), ("last", _("Last touch"))):
        sources = sorted({s for (m, s) in counts if m == model} | set(by_source))
        rows = []
        for source in sources:
            c = counts.get((model, source), {})
            cost = by_source.get(source)

            def per(n: int, cost: Decimal | None = cost) -> Decimal | None:
                return (cost / n).quantize(Decimal("0.01")) if cost is not None and n else None

            leads, activations, deposits = c.get("lead", 0), c.get("activation", 0), c.get("deposit", 0)
            rows.append(
                (
                    source,
                    leads,
                    activations,
                    deposits,
                    c.get("amount", 0) or Decimal("0.00"),
                    cost,
                    per(leads),
                    per(activations),
                    per(deposits),
                )  # fmt: skip
            )
        tables.append(
            Table(
                f"attribution_{model}",
                format_title(_("Cost by source"), title),
                [
                    Column(_("Source"), "text"),
                    Column(_("Leads")),
                    Column(_("Activations")),
                    Column(_("First deposits")),
                    Column(_("First deposits' amount"), "money"),
                    Column(_("Spend"), "money"),
                    Column(_("Cost per lead"), "money"),
                    Column(_("Cost per activation"), "money"),
                    Column(_("Cost per first deposit"), "money"),
                ],  # fmt: skip
                rows,
                chart="bar",
                series=[8],
            )
        )
    return tables


def attribution_page(*, filters: Filters) -> Page:
    spend = (
        Spend.objects.filter(day__gte=filters.start, day__lte=filters.end)
        .values_list("source", "campaign")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    conversions = (
        AttributionDay.objects.filter(day__gte=filters.start, day__lte=filters.end)
        .values_list("model", "conversion", "source")
        .annotate(total=Sum("n"), amount=Sum("amount"))
        .order_by()
    )
    tables = attribution_tables(spend=list(spend), conversions=list(conversions))
    return Page("attribution", _("End-to-end analytics"), tables)


# --- headline (the shared space, the weekly report) -----------------------------------------------


def headline(*, filters: Filters) -> dict[str, Any]:
    """The figures a coordinator compares across UDNs: aggregates only."""
    volume = volume_page(filters=filters)
    shares = {row[0]: row[3] for row in volume.table("volume_shares").rows}
    funnel = {row[0]: row[1] for row in volume.table("funnel").rows}
    activation = metrics.duration_summary(
        *_histogram(_duration_rows("opened_to_activated", filters, by_bucket_only=True))
    )
    deposits = _scoped(EventDay.objects.filter(type=metrics.CASH_IN), filters).aggregate(
        amount=Sum("amount"), firsts=Sum("firsts"), deposits=Sum("events")
    )
    return {
        "entered": funnel.get("lead", 0),
        "activated": funnel.get("activated", 0),
        "activation_median": activation.median,
        "activation_within_24h": activation.within_24h,
        "share_cashback": shares.get("cashback"),
        "share_activated_cash_in": shares.get("activated_cash_in"),
        "share_cashout": shares.get("cashout"),
        "deposits": deposits["deposits"] or 0,
        "deposit_amount": deposits["amount"] or Decimal("0.00"),
        "first_deposits": deposits["firsts"] or 0,
    }


def _histogram(rows: Iterable[tuple[date, str, str, int, int, int]]) -> tuple[dict[int, int], int]:
    counts: dict[int, int] = defaultdict(int)
    secs = 0
    for _d, _o, _p, bucket, n, seconds in rows:
        counts[bucket] += n
        secs += seconds
    return counts, secs


#: The filters' options, cached per UDN (django_tenants' make_key puts the schema in the key) until
#: a rollup write deletes them (insights.services.rollups: after its commit).
FILTER_CHOICES_KEY = "insights:filter-choices"


def filter_choices() -> dict[str, list[str]]:
    """The origins and plans the rollups know (the filters' options): read once after each write
    of the rollups, not on every page (two scans of the milestones were a fifth of a page)."""
    cached = cache.get(FILTER_CHOICES_KEY)
    if cached is not None:
        return cached
    pairs = list(MilestoneDay.objects.filter(milestone="lead").values_list("origin", "plan").distinct())
    choices = {
        "origins": sorted({origin for origin, _plan in pairs}),
        "plans": sorted({plan for _origin, plan in pairs}),
    }
    cache.set(FILTER_CHOICES_KEY, choices, timeout=None)
    return choices


PAGES = {
    "time": time_page,
    "volume": volume_page,
    "cohorts": cohorts_page,
    "deposits": deposits_page,
    "attribution": attribution_page,
}
