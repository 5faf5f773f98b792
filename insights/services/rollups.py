"""The daily rollups, computed from the events by SQL, set-based: in full (beat, nightly, on the
long queue) or for some days (as events arrive: insights.tasks.on_events_stored).

Each table is keyed by a local day of the UDN. A refresh of some days deletes their rows and
computes them anew from the events: from the events on those days (per-type counts, deposits),
or from the affiliates who have an event on them (whatever is keyed by a first time: milestones,
durations, cohorts, attribution, since an affiliate's first time of anything falls on a day it
has an event). `rollup_days_affected` says which days a batch of new events touches, the past
ones a late event moves included."""

# SQL built from the models' table names and insights.metrics' constants; every value a
# person or partner gives is a parameter.
# ruff: noqa: S608

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone

from crm.lifecycle import CASH_IN_TYPE, sql_tier
from crm.models import Affiliate, AffiliateChange, Event, EventType
from insights import metrics
from insights.models import (
    AttributionDay,
    CohortDay,
    DepositDay,
    DurationDay,
    EventDay,
    MilestoneDay,
    RollupState,
)


def _t(model: type[Any]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def udn_time_zone() -> str:
    tenant = getattr(connection, "tenant", None)
    return getattr(tenant, "time_zone", None) or "America/Sao_Paulo"


def day_ranges(days: Iterable[date], tz: str) -> list[tuple[datetime, datetime]]:
    """Consecutive local days merged into [start, end) moments."""
    zone = ZoneInfo(tz)
    ranges: list[tuple[date, date]] = []
    for day in sorted(set(days)):
        if ranges and ranges[-1][1] == day:
            ranges[-1] = (ranges[-1][0], day + timedelta(days=1))
        else:
            ranges.append((day, day + timedelta(days=1)))
    return [
        (datetime.combine(lo, datetime.min.time(), zone), datetime.combine(hi, datetime.min.time(), zone))
        for lo, hi in ranges
    ]


def _local_day(sql: str) -> str:
    return f"(({sql}) AT TIME ZONE %(tz)s)::date"


def _milestone_columns(alias: str = "e") -> str:
    """Per affiliate: the first time of each milestone, and the first deposit's amount."""
    columns = [
        f"min({alias}.occurred_at) FILTER (WHERE {alias}.type IN ({_in(m.types)})) AS {m.code}"
        for m in metrics.MILESTONES
    ]
    columns.append(
        f"(array_agg({alias}.amount ORDER BY {alias}.occurred_at, {alias}.id)"
        f" FILTER (WHERE {alias}.type = '{CASH_IN_TYPE}'))[1] AS first_amount"
    )
    return ",\n".join(columns)


def _in(values: Sequence[str]) -> str:
    return ", ".join(f"'{value}'" for value in values)


MILESTONE_TYPES = sorted({kind for m in metrics.MILESTONES for kind in m.types})


def _sources(scope: str) -> tuple[str, str]:
    """(events on the scope's days, affiliates concerned) as SQL for a CTE list.
    scope "all": every event; "days": the events inside the %(lo)s/%(hi)s ranges."""
    event = _t(Event)
    if scope == "all":
        return f"SELECT e.* FROM {event} e", "TRUE"
    day_events = (
        f"SELECT e.* FROM unnest(%(lo)s::timestamptz[], %(hi)s::timestamptz[]) r(lo, hi)"
        f" JOIN {event} e ON e.type = ANY(%(types)s) AND e.occurred_at >= r.lo AND e.occurred_at < r.hi"
    )
    return day_events, "e.affiliate_id IN (SELECT DISTINCT affiliate_id FROM scope_events)"


def _statements(scope: str) -> list[str]:
    event, aff = _t(Event), _t(Affiliate)
    scope_events, concerned = _sources(scope)
    day_filter = "" if scope == "all" else "AND {day} = ANY(%(days)s::date[])"

    def filtered(day_sql: str) -> str:
        return day_filter.format(day=day_sql)

    tracked = _in(metrics.TRACKED_TYPES)
    first_events = (
        f"SELECT DISTINCT ON (e.affiliate_id, e.type) e.id FROM {event} e"
        f" WHERE e.type IN ({tracked}) AND {concerned.replace('e.affiliate_id', 'e.affiliate_id')}"
        " ORDER BY e.affiliate_id, e.type, e.occurred_at, e.id"
    )
    head = f"WITH scope_events AS ({scope_events}), first_events AS ({first_events})"
    ev_day = _local_day("ev.occurred_at")
    statements = [
        f"""INSERT INTO {_t(EventDay)} (day, origin, plan, type, events, firsts, amount, first_amount)
        {head}
        SELECT {ev_day}, a.origin, a.plan, ev.type, count(*), count(f.id),
               coalesce(sum(ev.amount), 0), coalesce(sum(ev.amount) FILTER (WHERE f.id IS NOT NULL), 0)
        FROM scope_events ev JOIN {aff} a ON a.id = ev.affiliate_id
        LEFT JOIN first_events f ON f.id = ev.id
        WHERE ev.type IN ({tracked})
        GROUP BY 1, 2, 3, 4""",
        # Each deposit in the tier its affiliate's total cash in reached with it (crm.lifecycle's
        # bands): a later deposit never moves an earlier one to another tier.
        f"""INSERT INTO {_t(DepositDay)} (day, tier, deposits, amount, firsts, first_amount)
        WITH scope_events AS ({scope_events}),
        dep AS (SELECT e.id, e.amount, e.occurred_at,
                     sum(coalesce(e.amount, 0)) OVER (PARTITION BY e.affiliate_id ORDER BY e.occurred_at, e.id) AS total,
                     row_number() OVER (PARTITION BY e.affiliate_id ORDER BY e.occurred_at, e.id) = 1 AS first
              FROM {event} e WHERE e.type = '{CASH_IN_TYPE}' AND {concerned})
        SELECT {_local_day("dep.occurred_at")}, {sql_tier("dep.total")}, count(*), coalesce(sum(dep.amount), 0),
               count(*) FILTER (WHERE dep.first), coalesce(sum(dep.amount) FILTER (WHERE dep.first), 0)
        FROM dep WHERE TRUE {filtered(_local_day("dep.occurred_at"))}
        GROUP BY 1, 2""",
    ]
    ms_head = f"""WITH scope_events AS ({scope_events}),
        ms AS (SELECT e.affiliate_id, {_milestone_columns()}
               FROM {event} e WHERE e.type IN ({_in(MILESTONE_TYPES)}) AND {concerned}
               GROUP BY e.affiliate_id)"""
    # Milestones reached, by the day first reached; `activated_cash_in` when both are.
    reach = ", ".join(f"('{m.code}', ms.{m.code})" for m in metrics.MILESTONES)
    reach += ", ('activated_cash_in', greatest(ms.activated, ms.cash_in))"
    statements.append(
        f"""INSERT INTO {_t(MilestoneDay)} (day, origin, plan, milestone, n)
        {ms_head}
        SELECT {_local_day("r.at")}, a.origin, a.plan, r.code, count(*)
        FROM ms JOIN {aff} a ON a.id = ms.affiliate_id
        CROSS JOIN LATERAL (VALUES {reach}) r(code, at)
        WHERE r.at IS NOT NULL {filtered(_local_day("r.at"))}
        GROUP BY 1, 2, 3, 4"""
    )
    spans = ", ".join(
        f"('{m.code}', ms.{m.start}, ms.{m.end})" for m in (*metrics.TIME_METRICS, *metrics.STEP_METRICS)
    )
    secs = metrics.sql_seconds("d.s", "d.t")
    statements.append(
        f"""INSERT INTO {_t(DurationDay)} (day, origin, plan, metric, bucket, n, seconds)
        {ms_head}
        SELECT {_local_day("d.s")}, a.origin, a.plan, d.metric, {metrics.sql_bucket(secs)}, count(*), sum({secs})
        FROM ms JOIN {aff} a ON a.id = ms.affiliate_id
        CROSS JOIN LATERAL (VALUES {spans}) d(metric, s, t)
        WHERE d.s IS NOT NULL AND d.t IS NOT NULL AND d.t >= d.s {filtered(_local_day("d.s"))}
        GROUP BY 1, 2, 3, 4, 5"""
    )
    # Support tickets about access, paired by ticket id: first opening → first closing with an
    # access reason, not before the opening.
    tsecs = metrics.sql_seconds("o.at", "c.at")
    statements.append(
        f"""INSERT INTO {_t(DurationDay)} (day, origin, plan, metric, bucket, n, seconds)
        WITH scope_events AS ({scope_events}),
        o AS (SELECT DISTINCT ON (e.affiliate_id, e.properties->>'ticket_id')
                     e.affiliate_id, e.properties->>'ticket_id' AS ticket, e.occurred_at AS at
              FROM {event} e WHERE e.type = '{EventType.SUPPORT_TICKET_OPENED.value}'
                AND e.properties ? 'ticket_id' AND {concerned}
              ORDER BY e.affiliate_id, e.properties->>'ticket_id', e.occurred_at, e.id),
        c AS (SELECT e.affiliate_id, e.properties->>'ticket_id' AS ticket, e.occurred_at AS at
              FROM {event} e WHERE e.type = '{EventType.SUPPORT_TICKET_CLOSED.value}'
                AND e.properties->>'reason' IN ({_in(metrics.ACCESS_REASONS)}) AND {concerned}),
        pair AS (SELECT o.affiliate_id, o.at AS opened, min(c.at) AS closed
                 FROM o JOIN c ON c.affiliate_id = o.affiliate_id AND c.ticket = o.ticket AND c.at >= o.at
                 GROUP BY o.affiliate_id, o.ticket, o.at)
        SELECT {_local_day("p.opened")}, a.origin, a.plan, '{metrics.SUPPORT_METRIC}',
               {metrics.sql_bucket(metrics.sql_seconds("p.opened", "p.closed"))}, count(*),
               sum({metrics.sql_seconds("p.opened", "p.closed")})
        FROM pair p JOIN {aff} a ON a.id = p.affiliate_id
        WHERE TRUE {filtered(_local_day("p.opened"))}
        GROUP BY 1, 2, 3, 4, 5"""
    )
    del tsecs
    cohort = ", ".join(f"('{m.code}', ms.{m.code})" for m in metrics.FUNNEL)
    months = (
        "((extract(year FROM c.at AT TIME ZONE %(tz)s) * 12 + extract(month FROM c.at AT TIME ZONE %(tz)s))"
        " - (extract(year FROM ms.lead AT TIME ZONE %(tz)s) * 12"
        " + extract(month FROM ms.lead AT TIME ZONE %(tz)s)))::smallint"
    )
    statements.append(
        f"""INSERT INTO {_t(CohortDay)} (day, origin, plan, milestone, months, n)
        {ms_head}
        SELECT {_local_day("ms.lead")}, a.origin, a.plan, c.code, {months}, count(*)
        FROM ms JOIN {aff} a ON a.id = ms.affiliate_id
        CROSS JOIN LATERAL (VALUES {cohort}) c(code, at)
        WHERE ms.lead IS NOT NULL AND c.at IS NOT NULL {filtered(_local_day("ms.lead"))}
        GROUP BY 1, 2, 3, 4, 5"""
    )
    conversions = ", ".join(
        f"('{code}', ms.{milestone}, {'ms.first_amount' if code == 'deposit' else 'NULL::numeric'})"
        for code, milestone in metrics.CONVERSIONS
    )
    statements.append(
        f"""INSERT INTO {_t(AttributionDay)} (day, model, conversion, source, campaign, n, amount)
        {ms_head},
        conv AS (SELECT ms.affiliate_id, c.code, c.at, c.amount
                 FROM ms CROSS JOIN LATERAL (VALUES {conversions}) c(code, at, amount)
                 WHERE c.at IS NOT NULL {filtered(_local_day("c.at"))}),
        touch AS (SELECT e.affiliate_id, e.occurred_at, e.id,
                         e.properties->>'{metrics.UTM_SOURCE}' AS source,
                         coalesce(e.properties->>'{metrics.UTM_CAMPAIGN}', '') AS campaign
                  FROM {event} e
                  WHERE coalesce(e.properties->>'{metrics.UTM_SOURCE}', '') <> '' AND {concerned}),
        ranked AS (
            SELECT conv.affiliate_id, conv.code, conv.at, conv.amount, t.source, t.campaign,
                   row_number() OVER (PARTITION BY conv.affiliate_id, conv.code ORDER BY t.occurred_at, t.id) AS fr,
                   row_number() OVER (PARTITION BY conv.affiliate_id, conv.code
                                      ORDER BY t.occurred_at DESC, t.id DESC) AS lr
            FROM conv LEFT JOIN touch t ON t.affiliate_id = conv.affiliate_id AND t.occurred_at <= conv.at)
        SELECT {_local_day("r.at")}, m.model, r.code, coalesce(r.source, '{metrics.UNATTRIBUTED}'),
               coalesce(r.campaign, ''), count(*), coalesce(sum(r.amount), 0)
        FROM ranked r CROSS JOIN LATERAL (VALUES ('first', r.fr), ('last', r.lr)) m(model, rank)
        WHERE m.rank = 1
        GROUP BY 1, 2, 3, 4, 5"""
    )
    return statements


#: One writer of a UDN's rollups at a time (a rebuild or a refresh): two overlapping ones would
#: each delete, then both insert.
REFRESH_LOCK = "SELECT pg_advisory_xact_lock(hashtext(current_schema() || ':insights'))"

ROLLUP_MODELS = (EventDay, DepositDay, MilestoneDay, DurationDay, CohortDay, AttributionDay)


@dataclass(frozen=True)
class RebuildResult:
    seconds: float
    rows: int


@transaction.atomic
def rollups_rebuild() -> RebuildResult:
    """Every rollup of this UDN computed anew from all its events (readers see the old rows until
    the commit)."""
    started = time.perf_counter()
    params = {"tz": udn_time_zone()}
    rows = 0
    with connection.cursor() as cursor:
        cursor.execute(REFRESH_LOCK)
        cursor.execute("SET LOCAL work_mem = '256MB'")
        for model in ROLLUP_MODELS:
            cursor.execute(f"DELETE FROM {_t(model)}")
        for sql in _statements("all"):
            cursor.execute(sql, params)
            rows += cursor.rowcount
        cursor.execute(f"ANALYZE {', '.join(_t(m) for m in ROLLUP_MODELS)}")
    _choices_forget()
    seconds = time.perf_counter() - started
    state = RollupState.objects.first() or RollupState()
    state.rebuilt_at, state.seconds = timezone.now(), seconds
    state.save()
    return RebuildResult(seconds=seconds, rows=rows)


@transaction.atomic
def rollups_refresh_days(*, days: Iterable[date]) -> int:
    """The rollups of these local days computed anew from the events (rows written)."""
    day_list = sorted(set(days))
    if not day_list:
        return 0
    tz = udn_time_zone()
    ranges = day_ranges(day_list, tz)
    params: dict[str, Any] = {
        "tz": tz,
        "days": day_list,
        "lo": [lo for lo, _hi in ranges],
        "hi": [hi for _lo, hi in ranges],
        "types": sorted({*metrics.TRACKED_TYPES}),
    }
    rows = 0
    with connection.cursor() as cursor:
        cursor.execute(REFRESH_LOCK)
        for model in ROLLUP_MODELS:
            cursor.execute(f"DELETE FROM {_t(model)} WHERE day = ANY(%s::date[])", [day_list])
        for sql in _statements("days"):
            cursor.execute(sql, params)
            rows += cursor.rowcount
    _choices_forget()
    return rows


def _choices_forget() -> None:
    """The filters' cached options (insights.selectors.dashboards.filter_choices) are read anew
    after this write commits (an origin or plan may have come or gone)."""
    from insights.selectors.dashboards import FILTER_CHOICES_KEY

    cache.delete(FILTER_CHOICES_KEY)  # this transaction's own readers
    transaction.on_commit(lambda: cache.delete(FILTER_CHOICES_KEY))  # and what others cached meanwhile


def rollup_days_affected(*, event_pks: Sequence[int]) -> list[date]:
    """The local days whose rollups the events `event_pks` (newly stored) change: their own days,
    and for each affiliate concerned the days of its first event of each type (what is keyed by a
    first time: durations, cohorts, attribution), of the former first where a new event became the
    first, and of its support tickets' openings (a closing is measured from its opening)."""
    if not event_pks:
        return []
    event = _t(Event)
    sql = f"""
        WITH new AS (SELECT id, affiliate_id, occurred_at FROM {event} WHERE id = ANY(%(pks)s)),
        ranked AS (
            SELECT e.id, e.affiliate_id, e.occurred_at, e.type,
                   row_number() OVER (PARTITION BY e.affiliate_id, e.type ORDER BY e.occurred_at, e.id) AS rank
            FROM {event} e WHERE e.affiliate_id IN (SELECT affiliate_id FROM new))
        SELECT DISTINCT {_local_day("at")} FROM (
            SELECT occurred_at AS at FROM new
            UNION ALL
            -- what is keyed by an affiliate's first times (durations, cohorts, attribution), and
            -- its support tickets' openings
            SELECT occurred_at FROM ranked WHERE rank = 1 OR type = '{EventType.SUPPORT_TICKET_OPENED.value}'
            UNION ALL
            -- the later deposits of an affiliate with a new one (the tier each reached moves)
            SELECT r.occurred_at FROM ranked r JOIN new n ON n.affiliate_id = r.affiliate_id
            JOIN {event} ne ON ne.id = n.id AND ne.type = '{CASH_IN_TYPE}'
            WHERE r.type = '{CASH_IN_TYPE}' AND r.occurred_at >= n.occurred_at
            UNION ALL
            -- the former first, where a new event took its place
            SELECT r.occurred_at FROM ranked r
            WHERE r.rank = 2 AND EXISTS (
                SELECT 1 FROM ranked f WHERE f.affiliate_id = r.affiliate_id AND f.type = r.type
                AND f.rank = 1 AND f.id = ANY(%(pks)s))
        ) days
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, {"pks": list(event_pks), "tz": udn_time_zone()})
        return [row[0] for row in cursor.fetchall()]


def rollup_days_of_affiliates(*, affiliate_ids: Sequence[int]) -> list[date]:
    """The local days of every event of these affiliates: what a change of their origin or plan
    (by which the rollups group) moves."""
    if not affiliate_ids:
        return []
    sql = f"SELECT DISTINCT {_local_day('occurred_at')} FROM {_t(Event)} WHERE affiliate_id = ANY(%(ids)s)"
    with connection.cursor() as cursor:
        cursor.execute(sql, {"ids": list(affiliate_ids), "tz": udn_time_zone()})
        return [row[0] for row in cursor.fetchall()]


def rollup_days_of_import(*, job_id: str, fields: Sequence[str]) -> list[date]:
    """The local days of every event of the affiliates whose `fields` (origin, plan: what the
    rollups group by) import `job_id` changed, found by the changes it recorded; one statement
    however many affiliates the file moved."""
    sql = f"""
        SELECT DISTINCT {_local_day("e.occurred_at")} FROM {_t(Event)} e
        WHERE e.affiliate_id IN (
            SELECT c.affiliate_id FROM {_t(AffiliateChange)} c
            WHERE c.import_job_id = %(job)s AND c.changes ?| %(fields)s::text[])
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, {"job": job_id, "fields": list(fields), "tz": udn_time_zone()})
        return [row[0] for row in cursor.fetchall()]
