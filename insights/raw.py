"""The dashboards' figures computed straight from the raw events, without the rollups: the check
that a page shows what the events say (insights/tests) and the benchmark's baseline
(`./dev bench insights`). Each function returns the same rows as its page in
insights.selectors.dashboards: the SQL here reads crm's events and affiliates for the filters at
hand, and the page's table builders do the same arithmetic on what it finds."""

# SQL built from the models' table names and insights.metrics' constants; every value a
# person or partner gives is a parameter.
# ruff: noqa: S608

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import connection

from crm.lifecycle import sql_tier
from crm.models import Affiliate, Event, EventType
from insights import metrics
from insights.models import Spend
from insights.selectors import dashboards as d
from insights.services.rollups import udn_time_zone


def _t(model: type[Any]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _in(values: Any) -> str:
    return ", ".join(f"'{value}'" for value in values)


def _fetch(sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, {"tz": udn_time_zone(), **params})
        return cursor.fetchall()


def _aff_filter(filters: d.Filters) -> tuple[str, dict[str, Any]]:
    sql, params = "", {}
    if filters.origin:
        sql += " AND a.origin = %(origin)s"
        params["origin"] = filters.origin
    if filters.plan:
        sql += " AND a.plan = %(plan)s"
        params["plan"] = filters.plan
    return sql, params


def _firsts(codes: list[str]) -> str:
    """Per affiliate, the first time of each of these milestones, from its events."""
    cols = ", ".join(
        f"min(occurred_at) FILTER (WHERE type IN ({_in(metrics.MILESTONE_BY_CODE[c].types)})) AS {c}"
        for c in codes
    )
    types = sorted({t for c in codes for t in metrics.MILESTONE_BY_CODE[c].types})
    return f"SELECT affiliate_id, {cols} FROM {_t(Event)} WHERE type IN ({_in(types)}) GROUP BY affiliate_id"


def _local(sql: str) -> str:
    return f"(({sql}) AT TIME ZONE %(tz)s)::date"


def _durations(start: str, end: str, filters: d.Filters) -> list[tuple[Any, ...]]:
    where, params = _aff_filter(filters)
    secs = metrics.sql_seconds(f"f.{start}", f"f.{end}")
    sql = f"""
        SELECT {_local(f"f.{start}")} AS day, a.origin, a.plan, {metrics.sql_bucket(secs)}, count(*), sum({secs})
        FROM ({_firsts([start, end])}) f JOIN {_t(Affiliate)} a ON a.id = f.affiliate_id
        WHERE f.{end} >= f.{start} AND {_local(f"f.{start}")} BETWEEN %(start)s AND %(end)s {where}
        GROUP BY 1, 2, 3, 4
    """
    return _fetch(sql, {"start": filters.start, "end": filters.end, **params})


def _support(filters: d.Filters) -> list[tuple[Any, ...]]:
    where, params = _aff_filter(filters)
    event = _t(Event)
    secs = metrics.sql_seconds("t.opened", "t.closed")
    sql = f"""
        WITH o AS (
            SELECT affiliate_id, properties->>'ticket_id' AS ticket, min(occurred_at) AS opened
            FROM {event}
            WHERE type = '{EventType.SUPPORT_TICKET_OPENED.value}' AND properties ? 'ticket_id'
            GROUP BY 1, 2),
        t AS (
            SELECT o.affiliate_id, o.opened,
                   (SELECT min(c.occurred_at) FROM {event} c
                    WHERE c.type = '{EventType.SUPPORT_TICKET_CLOSED.value}' AND c.affiliate_id = o.affiliate_id
                      AND c.properties->>'ticket_id' = o.ticket
                      AND c.properties->>'reason' IN ({_in(metrics.ACCESS_REASONS)})
                      AND c.occurred_at >= o.opened) AS closed
            FROM o)
        SELECT {_local("t.opened")}, a.origin, a.plan, {metrics.sql_bucket(secs)}, count(*), sum({secs})
        FROM t JOIN {_t(Affiliate)} a ON a.id = t.affiliate_id
        WHERE t.closed IS NOT NULL AND {_local("t.opened")} BETWEEN %(start)s AND %(end)s {where}
        GROUP BY 1, 2, 3, 4
    """
    return _fetch(sql, {"start": filters.start, "end": filters.end, **params})


def time_page(*, filters: d.Filters) -> d.Page:
    tables: list[d.Table] = []
    for metric in metrics.TIME_METRICS:
        tables += d.duration_tables(
            code=metric.code,
            title=metric.label,
            rows=d.group_durations(_durations(metric.start, metric.end, filters)),
        )
    tables += d.duration_tables(
        code=metrics.SUPPORT_METRIC, title="", rows=d.group_durations(_support(filters)), weekly_only=True
    )
    return d.Page("time", "", tables)


def volume_page(*, filters: d.Filters) -> d.Page:
    where, params = _aff_filter(filters)
    codes = ["lead", "cashback", "cashout", "activated", "cash_in"]
    # Each affiliate's day of reaching each milestone, up to the period's end.
    reach = (
        ", ".join(f"('{c}', f.{c})" for c in codes[:3])
        + ", ('activated_cash_in', greatest(f.activated, f.cash_in))"
    )
    reached = _fetch(
        f"""SELECT r.code, {_local("r.at")}, count(*)
            FROM ({_firsts(codes)}) f JOIN {_t(Affiliate)} a ON a.id = f.affiliate_id
            CROSS JOIN LATERAL (VALUES {reach}) r(code, at)
            WHERE r.at IS NOT NULL AND {_local("r.at")} <= %(end)s {where}
            GROUP BY 1, 2""",
        {"end": filters.end, **params},
    )
    funnel_codes = [m.code for m in metrics.FUNNEL]
    counts = ", ".join(f"count(f.{c})" for c in funnel_codes)
    row = _fetch(
        f"""SELECT {counts} FROM ({_firsts(funnel_codes)}) f JOIN {_t(Affiliate)} a ON a.id = f.affiliate_id
            WHERE {_local("f.lead")} BETWEEN %(start)s AND %(end)s {where}""",
        {"start": filters.start, "end": filters.end, **params},
    )[0]
    funnel = {code: n for code, n in zip(funnel_codes, row, strict=True) if n}
    step_rows = {m.code: _durations(m.start, m.end, filters) for m in metrics.STEP_METRICS}
    tables = d.volume_tables(filters=filters, reached=reached, funnel_reached=funnel, step_rows=step_rows)
    return d.Page("volume", "", tables)


def cohorts_page(*, filters: d.Filters) -> d.Page:
    where, params = _aff_filter(filters)
    codes = ["lead", *metrics.COHORT_MILESTONES]
    reach = ", ".join(f"('{c}', f.{c})" for c in codes)
    months = (
        "((extract(year FROM r.at AT TIME ZONE %(tz)s) - extract(year FROM f.lead AT TIME ZONE %(tz)s)) * 12"
        " + extract(month FROM r.at AT TIME ZONE %(tz)s) - extract(month FROM f.lead AT TIME ZONE %(tz)s))::int"
    )
    rows = _fetch(
        f"""SELECT date_trunc('month', f.lead AT TIME ZONE %(tz)s)::date, r.code, {months}, count(*)
            FROM ({_firsts(codes)}) f JOIN {_t(Affiliate)} a ON a.id = f.affiliate_id
            CROSS JOIN LATERAL (VALUES {reach}) r(code, at)
            WHERE r.at IS NOT NULL AND {_local("f.lead")} BETWEEN %(start)s AND %(end)s {where}
            GROUP BY 1, 2, 3""",
        {"start": filters.start, "end": filters.end, **params},
    )
    return d.Page("cohorts", "", d.cohort_tables(filters=filters, rows=rows))


def deposits_page(*, filters: d.Filters) -> d.Page:
    where, params = _aff_filter(filters)
    event = _t(Event)
    base = f"""
        WITH c AS (
            SELECT e.affiliate_id, e.amount, e.occurred_at,
                   NOT EXISTS (SELECT 1 FROM {event} p WHERE p.affiliate_id = e.affiliate_id
                               AND p.type = e.type AND (p.occurred_at, p.id) < (e.occurred_at, e.id)) AS first
            FROM {event} e JOIN {_t(Affiliate)} a ON a.id = e.affiliate_id
            WHERE e.type = '{EventType.CASH_IN.value}' AND {_local("e.occurred_at")} BETWEEN %(start)s AND %(end)s
            {{where}})
    """
    by_month = _fetch(
        base.format(where=where)
        + """SELECT date_trunc('month', c.occurred_at AT TIME ZONE %(tz)s)::date, count(*),
                 coalesce(sum(amount), 0), count(*) FILTER (WHERE first),
                 coalesce(sum(amount) FILTER (WHERE first), 0) FROM c GROUP BY 1""",
        {"start": filters.start, "end": filters.end, **params},
    )
    # The tier each deposit reached: its affiliate's running total of cash in, in crm's bands.
    by_tier = _fetch(
        f"""WITH t AS (
                SELECT e.occurred_at, e.amount,
                       (SELECT coalesce(sum(p.amount), 0) FROM {event} p WHERE p.affiliate_id = e.affiliate_id
                        AND p.type = e.type AND (p.occurred_at, p.id) <= (e.occurred_at, e.id)) AS total
                FROM {event} e
                WHERE e.type = '{EventType.CASH_IN.value}' AND {_local("e.occurred_at")} BETWEEN %(start)s AND %(end)s)
            SELECT date_trunc('month', t.occurred_at AT TIME ZONE %(tz)s)::date, {sql_tier("t.total")}, count(*),
                   coalesce(sum(t.amount), 0)
            FROM t GROUP BY 1, 2""",
        {"start": filters.start, "end": filters.end},
    )
    return d.Page("deposits", "", d.deposit_tables(by_month=by_month, by_tier=by_tier))


def attribution_page(*, filters: d.Filters) -> d.Page:
    """Attribution from each affiliate's whole timeline: for each conversion (entering, activating,
    first deposit) in the period, the first and the last event with a utm_source at or before it."""
    event = _t(Event)
    rows: list[tuple[Any, ...]] = []
    for conversion, milestone in metrics.CONVERSIONS:
        types = _in(metrics.MILESTONE_BY_CODE[milestone].types)
        for model, order in (("first", "ASC"), ("last", "DESC")):
            rows += _fetch(
                f"""
                WITH conv AS (
                    SELECT DISTINCT ON (e.affiliate_id) e.affiliate_id, e.occurred_at AS at, e.amount
                    FROM {event} e WHERE e.type IN ({types})
                    ORDER BY e.affiliate_id, e.occurred_at, e.id)
                SELECT %(model)s, %(conversion)s, coalesce(t.source, %(none)s), count(*),
                       coalesce(sum(conv.amount), 0)
                FROM conv LEFT JOIN LATERAL (
                    SELECT e.properties->>'{metrics.UTM_SOURCE}' AS source FROM {event} e
                    WHERE e.affiliate_id = conv.affiliate_id AND e.occurred_at <= conv.at
                      AND coalesce(e.properties->>'{metrics.UTM_SOURCE}', '') <> ''
                    ORDER BY e.occurred_at {order}, e.id {order} LIMIT 1) t ON TRUE
                WHERE {_local("conv.at")} BETWEEN %(start)s AND %(end)s
                GROUP BY 3""",
                {
                    "model": model,
                    "conversion": conversion,
                    "none": metrics.UNATTRIBUTED,
                    "start": filters.start,
                    "end": filters.end,
                },
            )
    rows = [(m, c, s, n, a if c == "deposit" else Decimal("0.00")) for m, c, s, n, a in rows]
    spend = [
        (s, c, a)
        for s, c, a in _fetch(
            f"SELECT source, campaign, sum(amount) FROM {_t(Spend)} WHERE day BETWEEN %(start)s AND %(end)s"
            " GROUP BY 1, 2",
            {"start": filters.start, "end": filters.end},
        )
    ]
    return d.Page("attribution", "", d.attribution_tables(spend=spend, conversions=rows))


PAGES = {
    "time": time_page,
    "volume": volume_page,
    "cohorts": cohorts_page,
    "deposits": deposits_page,
    "attribution": attribution_page,
}
