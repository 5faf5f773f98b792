"""The simulator's statement: what loyalty.rules_sql.earn_sql would issue on a range of
affiliates' events, summed, in one pass and without writing.

earn_sql makes a row per matching (event, rule), which the engine needs (it inserts them) and the
simulator did not: on a year of events those rows were 3.6 per event, spilled to disk, sorted for
the limits, hashed again for the multipliers and twice more for the figures. Here an event is one
row with each rule's match and points as columns (earn_sql's own _rule_condition and _points), a
limit is a running count of its rule's matches over ONE sort of the events by affiliate and time
(every limit's window shares it), a multiplier reads the points its row's other rules took, and
one grouping gives the per-affiliate and the per-week sums. A plain SELECT (no temporary table, no
data-modifying CTE), so ranges can run on several connections at once (the simulator's lanes).

Same figures as summing earn_sql's `final` without a ledger (tested, and against what the engine
writes), including which events a limit takes: (occurred_at, id) order in the rule's period."""

# ruff: noqa: S608 - like rules_sql: table names and fragments are its own, every value a parameter.

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection

from crm.models import Affiliate, Event
from loyalty.rules_sql import Compiled, RuleSpec, _points, _rule_condition, needs_affiliate, segment_ctes


class _Sql:
    """Text and parameters in the text's order."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.params: list[Any] = []

    def add(self, text: str, params: Sequence[Any] = ()) -> None:
        self.parts.append(text)
        self.params += list(params)

    def compiled(self) -> Compiled:
        return Compiled("".join(self.parts), self.params)


@dataclass(frozen=True)
class LocalTime:
    """The zone's clock over a period, as PostgreSQL's own time zone data gives it: `sql`, the
    local time of `e.occurred_at` with a fixed UTC offset per stretch between the zone's changes
    (the same value as `e.occurred_at AT TIME ZONE tz`, a fraction of its cost: no zone lookup
    per event, and cheap enough to repeat where it is used); `monotone`, whether the clock never
    goes back (no end of daylight saving time), so that the local day and month never decrease
    as time goes on and ordering an affiliate's events by (month, day, time) is ordering them by
    time (one sort for every limit)."""

    sql: Compiled
    monotone: bool


def local_time(*, tz: str, start: datetime, end: datetime) -> LocalTime:
    with connection.cursor() as cursor:
        # The offset each hour of the period (and one past its end), kept where it changes...
        cursor.execute(
            """SELECT t, off::text, extract(epoch FROM off) FROM (
                   SELECT t, off, lag(off) OVER (ORDER BY t) AS prev FROM (
                       SELECT t, (t AT TIME ZONE %s) - (t AT TIME ZONE 'UTC') AS off
                       FROM generate_series(%s::timestamptz, greatest(%s::timestamptz, %s::timestamptz)
                           + interval '1 hour', interval '1 hour') t
                   ) h) c
               WHERE prev IS DISTINCT FROM off ORDER BY t""",
            [tz, start, start, end],
        )
        changes = cursor.fetchall()
        # ...then the second it changed, within the hour before.
        stretches = [(None, changes[0][1])]
        for hour, offset, _seconds in changes[1:]:
            cursor.execute(
                """SELECT min(s) FROM generate_series(%s::timestamptz - interval '3599 seconds', %s::timestamptz,
                       interval '1 second') s WHERE (s AT TIME ZONE %s) - (s AT TIME ZONE 'UTC') = %s::interval""",
                [hour, hour, tz, offset],
            )
            stretches.append((cursor.fetchone()[0], offset))
    q = _Sql()
    if len(stretches) > 1:
        q.add("CASE")
        for since, offset in reversed(stretches[1:]):
            q.add(" WHEN e.occurred_at >= %s THEN e.occurred_at AT TIME ZONE %s::interval", [since, offset])
        q.add(" ELSE ")
    q.add("e.occurred_at AT TIME ZONE %s::interval", [stretches[0][1]])
    q.add(" END" if len(stretches) > 1 else "")
    seconds = [row[2] for row in changes]
    return LocalTime(
        sql=q.compiled(), monotone=all(b >= a for a, b in zip(seconds, seconds[1:], strict=False))
    )


class _Columns:
    """A layer's computed columns, one per distinct expression: rules a draft copies from the live
    set (the usual case) share their match, limit count and points instead of computing twice."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.names: dict[str, str] = {}
        self.sql = _Sql()

    def add(self, expression: str, params: Sequence[Any] = ()) -> str:
        key = expression + repr(list(params))
        if key not in self.names:
            self.names[key] = f"{self.prefix}{len(self.names)}"
            self.sql.add(f", {expression} AS {self.names[key]}", params)
        return self.names[key]


def simulate_sql(
    *,
    rules: Sequence[RuleSpec],
    start: datetime,
    end: datetime,
    first: int,
    last: int,
    clock: LocalTime,
    segments: Mapping[int, Compiled | None] | None = None,
) -> Compiled:
    """One row: by_rule (json [{tag, rule_id, points, entries, affiliates}]), by_week (json [{tag,
    week, points}]) and totals (json [[tag, points, affiliates]]: how many affiliates earned each
    per-tag total, for the distribution) of the events that occurred in [start, end) of the
    affiliates first..last. `clock`: local_time's for the period; `segments`: the rules'
    (rules_sql.segment_members_where's), compiled once for all the ranges."""
    assert rules, "no rules"
    tags = sorted({rule.tag for rule in rules})
    assert all(re.match(r"^[a-z]+$", tag) for tag in tags), tags
    q = _Sql()
    grouped = _range_sql(
        rules=rules, tags=tags, start=start, end=end, first=first, last=last, clock=clock, segments=segments
    )
    q.add(f"WITH g AS MATERIALIZED ({grouped.sql})\n", grouped.params)
    by_rule = ", ".join(
        f"json_build_object('tag', %s, 'rule_id', {int(rule.id)}, 'points', coalesce(sum(p{i}), 0), "
        f"'entries', coalesce(sum(c{i}), 0), 'affiliates', count(*) FILTER (WHERE c{i} > 0))"
        for i, rule in enumerate(rules)
    )
    by_week = ", ".join(
        f"json_build_object('tag', %s, 'week', to_char(wk, 'YYYY-MM-DD'), 'points', t_{tag})" for tag in tags
    )
    totals = ", ".join(f"(%s, t_{tag})" for tag in tags)
    q.add(
        f"SELECT (SELECT array_to_json(ARRAY[{by_rule}]) FROM g WHERE by_week = 0), "
        f"(SELECT coalesce(json_agg(x.j), '[]') FROM (SELECT unnest(ARRAY[{by_week}]) AS j FROM "
        "g WHERE by_week = 1) x), "
        "(SELECT coalesce(json_agg(json_build_array(h.tag, h.total, h.n)), '[]') FROM (SELECT t.tag, t.total, "
        f"count(*) AS n FROM g CROSS JOIN LATERAL (VALUES {totals}) t(tag, total) "
        "WHERE g.by_week = 0 AND t.total > 0 GROUP BY 1, 2) h)",
        [rule.tag for rule in rules] + tags + tags,
    )
    return q.compiled()


def _range_sql(
    *,
    rules: Sequence[RuleSpec],
    tags: list[str],
    start: datetime,
    end: datetime,
    first: int,
    last: int,
    clock: LocalTime,
    segments: Mapping[int, Compiled | None] | None,
) -> Compiled:
    """The range's rows of g: per affiliate (by_week 0) and per week (by_week 1), each rule's
    points p<i> and entries c<i>, and each tag's total t_<tag>."""
    q = _Sql()
    join_affiliate = needs_affiliate(rules)
    affiliate_cols = (
        "a.stage, a.tier, a.plan"
        if join_affiliate
        else "NULL::text AS stage, NULL::text AS tier, NULL::text AS plan"
    )
    affiliate_join = (
        f"JOIN {Affiliate._meta.db_table} a ON a.id = e.affiliate_id AND a.id BETWEEN %s AND %s"
        if join_affiliate
        else ""
    )
    properties = "e.properties" if any(rule.conditions for rule in rules) else "NULL::jsonb AS properties"
    # ev: the events and their local time.
    q.add(
        f"WITH ev AS (SELECT e.id, e.affiliate_id, e.type, e.occurred_at, e.amount, {properties}, "
        f"{affiliate_cols}, {clock.sql.sql} AS lt FROM {Event._meta.db_table} e {affiliate_join} "
        "WHERE e.type = ANY(%s::text[]) AND e.occurred_at >= %s AND e.occurred_at < %s "
        "AND e.affiliate_id BETWEEN %s AND %s),\n",
        [
            *clock.sql.params,
            *([first, last] if join_affiliate else []),
            sorted({rule.event_type for rule in rules}),
            start,
            end,
            first,
            last,
        ],
    )
    # The members of the segments rules name, among ev's affiliates (rules_sql's, as the engine's).
    in_segments = segment_ctes(rules=rules, segments=segments)
    if in_segments.sql:
        q.add(f"{in_segments.sql},\n", in_segments.params)
    # The sort every limit's window shares: affiliate, [local month], [local day], time, id.
    periods = {rule.limit_period for rule in rules if rule.limit_period}
    keys = ["aff"]
    if "month" in periods:
        keys.append("lm")
    if "day" in periods:
        keys.append("ld")

    def window(period: str, flag: str) -> str:
        depth = {"day": len(keys), "month": 2}.get(period, 1)
        partition = keys[:depth]
        order = [*(keys[depth:] if clock.monotone else []), "occ", "id"]
        return (
            f"count(*) FILTER (WHERE {flag}) OVER (PARTITION BY {', '.join(partition)} "
            f"ORDER BY {', '.join(order)} ROWS UNBOUNDED PRECEDING)"
        )

    # x: one row an event: each rule's match (earn_sql's cand, as columns) and, for the others
    # than multipliers, its points when it matches.
    x = _Columns("x")
    match: dict[int, str] = {}
    points: dict[int, str] = {}
    for i, rule in enumerate(rules):
        cond = _rule_condition(rule)
        test = Compiled(f"(ev.type = %s AND ({cond.sql}))", [rule.event_type, *cond.params])
        match[i] = x.add(test.sql, test.params)
        if rule.points_kind != "multiplier":
            value = _points(rule)
            points[i] = x.add(f"CASE WHEN {test.sql} THEN {value.sql} END", [*test.params, *value.params])
    month = ", date_trunc('month', ev.lt) AS lm" if "lm" in keys else ""
    day = ", ev.lt::date AS ld" if "ld" in keys else ""
    q.add(
        f"x AS (SELECT ev.affiliate_id AS aff, ev.occurred_at AS occ, ev.id{month}{day}, date_trunc('week', ev.lt) AS wk"
    )
    q.add(x.sql.compiled().sql, x.sql.params)
    q.add(" FROM (SELECT ev.*, ev.lt::date AS local_day FROM ev) ev),\n")
    # w: the limits' running counts (earn_sql's row_number among the rule's matches).
    w = _Columns("n")
    count: dict[int, str] = {}
    for i, rule in enumerate(rules):
        if rule.limit_period and rule.points_kind != "multiplier":
            count[i] = w.add(window(rule.limit_period, match[i]))
    q.add(f"w AS (SELECT x.*{w.sql.compiled().sql} FROM x),\n")

    def taken(i: int) -> str:
        """Whether rule i (not a multiplier) took the event: it matches, within its limit."""
        limit = f" AND {count[i]} <= {int(rules[i].limit_count)}" if rules[i].limit_period else ""
        return f"({match[i]}{limit})"

    # v: a multiplier's candidates (its match, on an event a rule of its set took: earn_sql joins
    # it to those base rows) and points, (factor - 1) x what they took.
    v = _Columns("v")
    candidate: dict[int, str] = {}
    base = [i for i, rule in enumerate(rules) if rule.points_kind != "multiplier"]
    for j, rule in enumerate(rules):
        if rule.points_kind != "multiplier":
            continue
        members = [i for i in base if rules[i].tag == rule.tag and rules[i].event_type == rule.event_type]
        took = " OR ".join(taken(i) for i in members) or "false"
        total = " + ".join(f"CASE WHEN {taken(i)} THEN {points[i]} ELSE 0 END" for i in members) or "0"
        candidate[j] = v.add(f"({match[j]} AND ({took}))")
        points[j] = v.add(
            f"CASE WHEN {match[j]} THEN floor(({total}) * (%s::numeric - 1))::bigint END", [rule.points]
        )
    q.add(f"v AS (SELECT w.*{v.sql.compiled().sql} FROM w),\n", v.sql.params)
    u = _Columns("u")
    for j, rule in enumerate(rules):
        if rule.limit_period and rule.points_kind == "multiplier":
            count[j] = u.add(window(rule.limit_period, candidate[j]))
    q.add(f"u AS (SELECT v.*{u.sql.compiled().sql} FROM v)\n")
    # What each rule issues on the event (earn_sql's final: taken, and more than 0 points).
    earned: list[str] = []
    for i, rule in enumerate(rules):
        if rule.points_kind == "multiplier":
            limit = f" AND {count[i]} <= {int(rule.limit_count)}" if rule.limit_period else ""
            earned.append(f"({candidate[i]}{limit} AND {points[i]} > 0)")
        else:
            earned.append(f"({taken(i)} AND {points[i]} > 0)")
    sums = ", ".join(
        f"sum(CASE WHEN {cond} THEN {points[i]} END) AS p{i}, count(*) FILTER (WHERE {cond}) AS c{i}"
        for i, cond in enumerate(earned)
    )
    tag_sums = ", ".join(
        "coalesce("
        + " + ".join(
            f"coalesce(sum(CASE WHEN {earned[i]} THEN {points[i]} END), 0)"
            for i, rule in enumerate(rules)
            if rule.tag == tag
        )
        + f", 0) AS t_{tag}"
        for tag in tags
    )
    q.add(
        f"SELECT aff, wk, GROUPING(aff) AS by_week, {sums}, {tag_sums} FROM u "
        "GROUP BY GROUPING SETS ((aff), (wk))"
    )
    return q.compiled()
