"""The one definition of what a rule earns, as SQL: the live engine (loyalty.services.earning)
and the simulator (loyalty.services.simulation) both run `earn_sql`'s statement, the engine to
insert ledger rows, the simulator to sum them without writing; so the simulator's figures are
what the engine would issue, by construction (and tested against it).

The rules become a VALUES list joined to the events by kind, their conditions and points CASE
expressions on the rule's id: one pass over the events, whatever the number of rules. A limit
(n times per affiliate per day, month or ever) numbers an affiliate's matches of a rule in its
period (row_number) after the matches it already earned (the ledger, live only); a multiplier
adds (factor - 1) x the points the event's other rules earned, after their limits."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from crm.models import Affiliate, Event, Segment
from crm.segmentation import AFFILIATE, SegmentInvalid
from crm.selectors.segments import segment_where

logger = logging.getLogger(__name__)

OPS_TEXT = {"eq": "=", "ne": "<>"}
OPS_NUMBER = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<=", "eq": "=", "ne": "<>"}
CONDITION_OPS = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "exists")
_FIELD = re.compile(r"^[A-Za-z0-9_.-]{1,60}$")
NUMERIC_TEXT = r"^\s*-?[0-9]+(\.[0-9]+)?\s*$"


@dataclass(frozen=True)
class RuleSpec:
    """What SQL needs of a rule (a Rule row, or a draft's in the simulator)."""

    id: int
    event_type: str
    points_kind: str
    points: Decimal
    conditions: Sequence[dict[str, Any]] = ()
    stages: Sequence[str] = ()
    tiers: Sequence[str] = ()
    plans: Sequence[str] = ()
    limit_period: str = ""
    limit_count: int = 1
    valid_from: date | None = None
    valid_until: date | None = None
    tag: str = "live"  # which rule set it belongs to (the simulator runs two at once)
    segment_id: int | None = None  # a crm saved segment the affiliate must be in (now)


@dataclass
class Compiled:
    sql: str
    params: list[Any] = field(default_factory=list)


def rule_spec(rule: Any, *, tag: str = "live") -> RuleSpec:
    return RuleSpec(
        id=rule.pk,
        event_type=rule.event_type,
        points_kind=rule.points_kind,
        points=Decimal(rule.points),
        conditions=list(rule.conditions or []),
        stages=list(rule.stages or []),
        tiers=list(rule.tiers or []),
        plans=list(rule.plans or []),
        limit_period=rule.limit_period or "",
        limit_count=int(rule.limit_count or 1),
        valid_from=rule.valid_from,
        valid_until=rule.valid_until,
        tag=tag,
        segment_id=rule.segment_id,
    )


def condition_errors(conditions: Any) -> list[str]:
    """What is wrong with a rule's event conditions (empty: they compile)."""
    if not isinstance(conditions, list):
        return ["conditions must be a list"]
    errors = []
    for i, cond in enumerate(conditions, start=1):
        if not isinstance(cond, dict) or not _FIELD.match(str(cond.get("field", ""))):
            errors.append(f"#{i}: field")
            continue
        op = cond.get("op")
        if op not in CONDITION_OPS:
            errors.append(f"#{i}: op")
        elif op in ("gt", "gte", "lt", "lte"):
            try:
                Decimal(str(cond.get("value")))
            except Exception:
                errors.append(f"#{i}: value")
        elif op == "in" and not isinstance(cond.get("value"), list):
            errors.append(f"#{i}: value")
    return errors


def segment_members_where(
    *, segment_ids: Iterable[int], only_ids: list[int] | None = None, now: datetime | None = None
) -> dict[int, Compiled | None]:
    """Each saved segment's conditions as a predicate over `"crm_affiliate"` (crm's one compiler,
    crm.selectors.segments.segment_where), for earn_sql to build its members once per statement.
    Membership is as of `now` (default: now), not as of each event. None: the segment no longer
    exists, or its conditions no longer compile (a segment it includes was deleted): its rules
    match nobody. `only_ids`: the statement's affiliates (the engine's batch), so a condition's
    grouped pass over the events reads theirs only."""
    ids = sorted({int(segment_id) for segment_id in segment_ids})
    found = {segment.pk: segment for segment in Segment.objects.filter(pk__in=ids)}
    predicates: dict[int, Compiled | None] = {}
    for segment_id in ids:
        segment = found.get(segment_id)
        if segment is None:
            predicates[segment_id] = None
            continue
        try:
            where, params = segment_where(segment=segment, now=now, only_ids=only_ids)
        except SegmentInvalid:
            logger.warning("loyalty: segment %s no longer compiles; its rules match nobody", segment_id)
            predicates[segment_id] = None
        else:
            predicates[segment_id] = Compiled(where, params)
    return predicates


def segment_ctes(
    *, rules: Sequence[RuleSpec], segments: Mapping[int, Compiled | None] | None = None
) -> Compiled:
    """The CTEs `sg_<segment id>` (comma-separated, no trailing comma; "" when no rule names a
    segment) that _rule_condition's segment test reads: each segment's members among the
    affiliates of a CTE `ev` (it goes right after it), built once per statement. Any statement
    that uses _rule_condition on such rules includes them. `segments`: segment_members_where's,
    else compiled here (as of now, for whichever affiliates `ev` holds)."""
    segment_ids = sorted({int(rule.segment_id) for rule in rules if rule.segment_id})
    if segment_ids and segments is None:
        segments = segment_members_where(segment_ids=segment_ids)
    ctes: list[str] = []
    params: list[Any] = []
    for segment_id in segment_ids:
        where = (segments or {}).get(segment_id)
        if where is None:  # deleted (or no longer compiles): nobody is in it
            ctes.append(f"sg_{segment_id}(id) AS (SELECT NULL::bigint WHERE false)")
            continue
        ctes.append(
            f"sg_{segment_id} AS MATERIALIZED (SELECT {AFFILIATE}.id FROM {AFFILIATE} "
            f"WHERE {AFFILIATE}.id IN (SELECT DISTINCT affiliate_id FROM ev) AND ({where.sql}))"
        )
        params += where.params
    return Compiled(",\n".join(ctes), params)


def _condition_sql(cond: dict[str, Any]) -> Compiled:
    name, op, value = str(cond["field"]), cond["op"], cond.get("value")
    if name == "amount":
        if op == "exists":
            return Compiled("ev.amount IS NOT NULL")
        if op == "in":
            return Compiled("ev.amount = ANY(%s::numeric[])", [[Decimal(str(v)) for v in value or []]])
        return Compiled(f"ev.amount {OPS_NUMBER[op]} %s::numeric", [Decimal(str(value))])
    text = "(ev.properties ->> %s)"
    if op == "exists":
        return Compiled(f"{text} IS NOT NULL", [name])
    if op == "in":
        return Compiled(f"{text} = ANY(%s::text[])", [name, [str(v) for v in value or []]])
    if op in ("gt", "gte", "lt", "lte"):
        # A property that is no number never matches (and never fails the statement).
        return Compiled(
            f"(CASE WHEN {text} ~ %s THEN ({text})::numeric END) {OPS_NUMBER[op]} %s::numeric",
            [name, NUMERIC_TEXT, name, Decimal(str(value))],
        )
    if isinstance(value, bool):
        value = "true" if value else "false"
    return Compiled(f"{text} {OPS_TEXT[op]} %s", [name, str(value)])


def _rule_condition(rule: RuleSpec) -> Compiled:
    parts: list[str] = []
    params: list[Any] = []
    for cond in rule.conditions:
        piece = _condition_sql(cond)
        parts.append(piece.sql)
        params += piece.params
    for column, values in (("stage", rule.stages), ("tier", rule.tiers), ("plan", rule.plans)):
        if values:
            parts.append(f"ev.{column} = ANY(%s::text[])")
            params.append(list(values))
    if rule.segment_id:
        # Its members among the statement's affiliates: the CTE earn_sql builds once.
        parts.append(f"ev.affiliate_id IN (SELECT id FROM sg_{int(rule.segment_id)})")
    if rule.valid_from:
        parts.append("ev.local_day >= %s::date")
        params.append(rule.valid_from)
    if rule.valid_until:
        parts.append("ev.local_day <= %s::date")
        params.append(rule.valid_until)
    return Compiled(" AND ".join(parts) or "true", params)


def _points(rule: RuleSpec) -> Compiled:
    if rule.points_kind == "per_real":
        return Compiled("floor(coalesce(ev.amount, 0) * %s::numeric)::bigint", [rule.points])
    if rule.points_kind == "fixed":
        return Compiled("%s::bigint", [int(rule.points)])
    return Compiled("0::bigint")  # multipliers are computed from the others' points below


def needs_affiliate(rules: Sequence[RuleSpec]) -> bool:
    return any(rule.stages or rule.tiers or rule.plans for rule in rules)


def earn_sql(
    *,
    rules: Sequence[RuleSpec],
    events_where: Compiled,
    tz: str,
    ledger: str | None,
    ledger_table: str = "",
    segments: Mapping[int, Compiled | None] | None = None,
) -> Compiled:
    """A statement prefix `WITH ... final AS (...)`: every (event, rule) that earns, with columns
    event_id, affiliate_id, occurred_at, rule_id, tag, points. `events_where` filters crm_event
    (alias e). With `ledger` ("live"), pairs already in the ledger are left out and its earlier
    earns count toward the limits; the caller appends what to do with `final`. A rule's segment
    is one CTE per segment (its members among the events' affiliates, as of now): `segments`
    (segment_members_where's), else compiled here."""
    assert rules, "no rules"
    event_table = Event._meta.db_table
    affiliate_table = Affiliate._meta.db_table
    params: list[Any] = []
    join_affiliate = needs_affiliate(rules)
    affiliate_cols = (
        "a.stage, a.tier, a.plan"
        if join_affiliate
        else "NULL::text AS stage, NULL::text AS tier, NULL::text AS plan"
    )
    affiliate_join = f"JOIN {affiliate_table} a ON a.id = e.affiliate_id" if join_affiliate else ""
    types = sorted({rule.event_type for rule in rules})
    # The properties (jsonb) are carried only when a condition reads them.
    properties = "e.properties" if any(rule.conditions for rule in rules) else "NULL::jsonb AS properties"
    uses_day = any(rule.valid_from or rule.valid_until for rule in rules)
    local_day = "(e.occurred_at AT TIME ZONE %s)::date" if uses_day else "NULL::date"
    ev_sql = (
        f"ev AS MATERIALIZED (SELECT e.id, e.affiliate_id, e.type, e.occurred_at, e.amount, {properties}, "
        f"{local_day} AS local_day, {affiliate_cols} FROM {event_table} e {affiliate_join} "
        f"WHERE e.type = ANY(%s::text[]) AND ({events_where.sql}))"
    )
    if uses_day:
        params.append(tz)
    params += [types, *events_where.params]
    members = segment_ctes(rules=rules, segments=segments)
    params += members.params

    values = []
    for rule in rules:
        values.append("(%s::bigint, %s::text, %s::text, %s::text, %s::text, %s::int, %s::numeric)")
        params += [
            rule.id,
            rule.tag,
            rule.event_type,
            rule.points_kind,
            rule.limit_period,
            rule.limit_count,
            rule.points,
        ]
    rules_sql = f"r(rule_id, tag, event_type, kind, limit_period, limit_count, factor) AS (VALUES {', '.join(values)})"

    cond_cases: list[str] = []
    cond_params: list[Any] = []
    point_cases: list[tuple[str, list[Any]]] = []
    for rule in rules:
        cond = _rule_condition(rule)
        cond_cases.append(f"WHEN {int(rule.id)} THEN ({cond.sql})")
        cond_params += cond.params
        point = _points(rule)
        point_cases.append((f"WHEN {int(rule.id)} THEN {point.sql}", point.params))
    # Parameters follow the text's order: points CASE, then condition CASE.
    points_case = "CASE r.rule_id " + " ".join(p[0] for p in point_cases) + " END"
    cond_case = "CASE r.rule_id " + " ".join(cond_cases) + " ELSE false END"
    bucket = (
        "CASE r.limit_period WHEN 'day' THEN date_trunc('day', ev.occurred_at AT TIME ZONE %s) "
        "WHEN 'month' THEN date_trunc('month', ev.occurred_at AT TIME ZONE %s) "
        "WHEN 'ever' THEN 'epoch'::timestamp END"
    )
    not_earned = ""
    if ledger:
        not_earned = (
            f" AND NOT EXISTS (SELECT 1 FROM {ledger_table} l WHERE l.kind = 'earn' "
            "AND l.event_id = ev.id AND l.rule_id = r.rule_id)"
        )
    cand_sql = (
        f"cand AS MATERIALIZED (SELECT ev.id AS event_id, ev.affiliate_id, ev.occurred_at, r.rule_id, r.tag, r.kind, "
        f"r.limit_period, r.limit_count, r.factor, {points_case} AS points, {bucket} AS bucket "
        f"FROM ev JOIN r ON r.event_type = ev.type WHERE {cond_case}{not_earned})"
    )
    for _sql, point_params in point_cases:
        params += point_params
    params += [tz, tz]
    params += cond_params

    if ledger:
        prior_sql = (
            "prior AS (SELECT l.affiliate_id, l.rule_id, "
            "CASE r.limit_period WHEN 'day' THEN date_trunc('day', l.occurred_at AT TIME ZONE %s) "
            "WHEN 'month' THEN date_trunc('month', l.occurred_at AT TIME ZONE %s) ELSE 'epoch'::timestamp END AS bucket, "
            f"count(*) AS n FROM {ledger_table} l JOIN r ON r.rule_id = l.rule_id AND r.limit_period <> '' "
            "WHERE l.kind = 'earn' AND l.affiliate_id IN (SELECT DISTINCT affiliate_id FROM cand WHERE limit_period <> '') "
            "GROUP BY 1, 2, 3)"
        )
        params += [tz, tz]
        prior_join = "LEFT JOIN prior p ON p.affiliate_id = c.affiliate_id AND p.rule_id = c.rule_id AND p.bucket = c.bucket"
        prior_n = "coalesce(p.n, 0)"
    else:
        prior_sql = "prior AS (SELECT NULL::bigint AS affiliate_id, NULL::bigint AS rule_id, NULL::timestamp AS bucket, 0 AS n WHERE false)"
        prior_join = "LEFT JOIN prior p ON false"
        prior_n = "0"

    def limited(where: str, points: str = "c.points", source: str = "cand c") -> str:
        return (
            f"SELECT c.event_id, c.affiliate_id, c.occurred_at, c.rule_id, c.tag, {points} AS points FROM "
            f"(SELECT c.*, row_number() OVER (PARTITION BY c.affiliate_id, c.rule_id, c.bucket "
            f"ORDER BY c.occurred_at, c.event_id) AS rn FROM {source} WHERE {where} AND c.limit_period <> '') c "
            f"{prior_join} WHERE c.rn + {prior_n} <= c.limit_count "
            f"UNION ALL SELECT c.event_id, c.affiliate_id, c.occurred_at, c.rule_id, c.tag, {points} AS points "
            f"FROM {source} WHERE {where} AND c.limit_period = ''"
        )

    not_multiplier = "c.kind <> 'multiplier'"
    base_sql = f"base AS MATERIALIZED ({limited(not_multiplier)})"
    mult_src = (
        "(SELECT c.*, s.sum_points FROM cand c JOIN (SELECT event_id, tag, sum(points) AS sum_points FROM base "
        "GROUP BY 1, 2) s ON s.event_id = c.event_id AND s.tag = c.tag WHERE c.kind = 'multiplier') c"
    )
    mult_sql = f"mult AS ({limited('true', 'floor(c.sum_points * (c.factor - 1))::bigint', mult_src)})"
    final_sql = "final AS MATERIALIZED (SELECT * FROM base WHERE points > 0 UNION ALL SELECT * FROM mult WHERE points > 0)"
    sql = "WITH " + ",\n".join(
        [
            ev_sql,
            *([members.sql] if members.sql else []),
            rules_sql,
            cand_sql,
            prior_sql,
            base_sql,
            mult_sql,
            final_sql,
        ]
    )
    # The prior CTE's parameters come after cand's in the text; base/mult have none.
    return Compiled(sql, params)


# --- The simulator's aggregated statement ------------------------------------------------------
#
# The same rules, evaluated on per (affiliate, local day) aggregates instead of event x rule rows:
# one hash aggregation over the events (no fan-out, no sort of the events), then windows over the
# day rows for month/ever limits only. Exact where the order of events within a day does not
# matter; where it does (a per-R$ rule whose limit overflows, a multiplier whose entries depend on
# which events a limited rule took) the statement says so (`ambiguous` > 0) and the caller replays
# those affiliates with earn_sql. Rule sets it cannot express at all get None.


def _is_whole(value: Decimal) -> bool:
    return value == value.to_integral_value()


def aggregate_supported(rules: Sequence[RuleSpec]) -> bool:
    """Whether aggregate_sql can run these rules (else: earn_sql, row by row)."""
    for rule in rules:
        if rule.segment_id:  # its members are a CTE of earn_sql's (row by row)
            return False
        if rule.points_kind != "multiplier":
            continue
        if rule.limit_period or not _is_whole(rule.points) or rule.conditions:
            return False
        for other in _base_rules_of(rules, rule):
            if other.limit_period in ("month", "ever"):
                return False
    return True


def _base_rules_of(rules: Sequence[RuleSpec], mult: RuleSpec) -> list[RuleSpec]:
    return [
        r
        for r in rules
        if r.tag == mult.tag and r.event_type == mult.event_type and r.points_kind != "multiplier"
    ]


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


def aggregate_sql(*, rules: Sequence[RuleSpec], events_where: Compiled, tz: str) -> Compiled:
    """`WITH ... SELECT` one row: ambiguous (day rows the aggregates cannot settle), by_rule (json:
    [{rule_id, points, entries, affiliates}]), by_week (json: [{tag, week, points}]), and the
    CTE `per_affiliate` is inserted into loyalty_sim_total (tag, affiliate_id, points) when
    nothing is ambiguous. Same figures as summing earn_sql's `final` (tested)."""
    assert rules and aggregate_supported(rules)
    event_table = Event._meta.db_table
    affiliate_table = Affiliate._meta.db_table
    join_affiliate = needs_affiliate(rules)
    q = _Sql()
    affiliate_cols = (
        "a.stage, a.tier, a.plan"
        if join_affiliate
        else "NULL::text AS stage, NULL::text AS tier, NULL::text AS plan"
    )
    affiliate_join = f"JOIN {affiliate_table} a ON a.id = e.affiliate_id" if join_affiliate else ""
    properties = "e.properties" if any(rule.conditions for rule in rules) else "NULL::jsonb AS properties"
    q.add(
        f"WITH ev AS (SELECT e.affiliate_id, e.type, e.amount, {properties}, "
        f"(e.occurred_at AT TIME ZONE %s)::date AS local_day, {affiliate_cols} "
        f"FROM {event_table} e {affiliate_join} WHERE e.type = ANY(%s::text[]) AND (",
        [tz, sorted({rule.event_type for rule in rules})],
    )
    q.add(events_where.sql + ")),\n", events_where.params)

    def match(rule: RuleSpec, extra: str = "") -> Compiled:
        cond = _rule_condition(rule)
        return Compiled(f"ev.type = %s AND ({cond.sql}){extra}", [rule.event_type, *cond.params])

    def positive(rule: RuleSpec) -> Compiled:
        m, p = match(rule), _points(rule)
        return Compiled(f"({m.sql} AND {p.sql} > 0)", [*m.params, *p.params])

    # d: the day rows.
    q.add("d AS MATERIALIZED (SELECT ev.affiliate_id, ev.local_day AS day")
    for i, rule in enumerate(rules):
        if rule.points_kind == "multiplier":
            m = match(rule)
            q.add(f", bool_or({m.sql}) AS mm{i}", m.params)
            pos = [positive(r) for r in _base_rules_of(rules, rule)]
            unl = [positive(r) for r in _base_rules_of(rules, rule) if not r.limit_period]
            pos_sql = " OR ".join(p.sql for p in pos) or "false"
            unl_sql = " OR ".join(p.sql for p in unl) or "false"
            q.add(
                f", (count(*) FILTER (WHERE ({pos_sql})))::int AS mpos{i}", [x for p in pos for x in p.params]
            )
            q.add(
                f", (count(*) FILTER (WHERE ({pos_sql}) AND NOT ({unl_sql})))::int AS mamb{i}",
                [x for p in pos for x in p.params] + [x for p in unl for x in p.params],
            )
            continue
        m, p = match(rule), _points(rule)
        # int4 columns: sum(int4) is a bigint, sum(bigint) a (slow) numeric.
        q.add(f", (count(*) FILTER (WHERE {m.sql}))::int AS n{i}", m.params)
        if rule.points_kind == "per_real":
            q.add(
                f", coalesce(sum(({p.sql})::int) FILTER (WHERE {m.sql}), 0)::int AS s{i}",
                [*p.params, *m.params],
            )
            q.add(
                f", (count(*) FILTER (WHERE {m.sql} AND {p.sql} > 0))::int AS np{i}", [*m.params, *p.params]
            )
    q.add(" FROM ev GROUP BY 1, 2),\n")
    # w: d with, for month/ever limits, the rule's matches earlier in the period (b<i>).
    windowed = [
        (i, r)
        for i, r in enumerate(rules)
        if r.points_kind != "multiplier" and r.limit_period in ("month", "ever")
    ]
    if windowed:
        busy = " OR ".join(f"d.n{i} > 0" for i, _r in windowed)
        cols = []
        for i, rule in windowed:
            over = (
                "PARTITION BY d.affiliate_id ORDER BY date_trunc('month', d.day), d.day"
                if rule.limit_period == "ever"
                else "PARTITION BY d.affiliate_id, date_trunc('month', d.day) ORDER BY d.day"
            )
            cols.append(
                f"coalesce(sum(d.n{i}) OVER ({over} ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS b{i}"
            )
        zeros = ", ".join(f"0::bigint AS b{i}" for i, _r in windowed)
        q.add(
            f"w AS (SELECT d.*, {', '.join(cols)} FROM d WHERE {busy} "
            f"UNION ALL SELECT d.*, {zeros} FROM d WHERE NOT ({busy})),\n"
        )
    else:
        q.add("w AS (SELECT * FROM d),\n")
    # e: earned per rule and day row: points p<i>, entries c<i>, ambiguity.
    earned: dict[int, str] = {}
    exprs: list[str] = []
    amb: list[str] = []
    for i, rule in enumerate(rules):
        if rule.points_kind == "multiplier":
            continue
        limit = int(rule.limit_count)
        if rule.limit_period == "day":
            earned[i] = f"least(w.n{i}, {limit})"
        elif rule.limit_period:
            earned[i] = f"greatest(0, least(w.n{i}, {limit} - w.b{i}))"
        else:
            earned[i] = f"w.n{i}"
        if rule.points_kind == "fixed":
            fixed = int(rule.points)
            exprs.append(
                f"({earned[i]}) * {fixed} AS p{i}, CASE WHEN {fixed} > 0 THEN {earned[i]} ELSE 0 END AS c{i}"
            )
        else:
            exprs.append(f"w.s{i} AS p{i}, w.np{i} AS c{i}")
            if rule.limit_period:
                amb.append(f"({earned[i]}) < w.n{i}")
    for i, rule in enumerate(rules):
        if rule.points_kind != "multiplier":
            continue
        factor = int(rule.points) - 1
        members = [rules.index(r) for r in _base_rules_of(rules, rule)]
        total = (
            " + ".join(
                f"({earned[j]}) * {int(rules[j].points)}" if rules[j].points_kind == "fixed" else f"w.s{j}"
                for j in members
            )
            or "0"
        )
        exprs.append(
            f"CASE WHEN w.mm{i} THEN ({total}) * {factor} ELSE 0 END AS p{i}, "
            f"CASE WHEN w.mm{i} THEN w.mpos{i} ELSE 0 END AS c{i}"
        )
        overflow = " OR ".join(f"({earned[j]}) < w.n{j}" for j in members if rules[j].limit_period) or "false"
        amb.append(f"(w.mm{i} AND w.mamb{i} > 0 AND ({overflow}))")
    amb_sql = " OR ".join(amb) or "false"
    q.add(
        f"e AS (SELECT w.affiliate_id, date_trunc('week', w.day)::date AS week, "
        f"({amb_sql}) AS amb, {', '.join(exprs)} FROM w),\n"
    )
    # g: per affiliate and per week, in one pass.
    tags = sorted({rule.tag for rule in rules})
    assert all(re.match(r"^[a-z]+$", tag) for tag in tags), tags
    sums = ", ".join(f"sum(e.p{i}::int) AS p{i}, sum(e.c{i}::int) AS c{i}" for i in range(len(rules)))
    tag_sums = ", ".join(
        "(" + " + ".join(f"sum(e.p{i}::int)" for i, r in enumerate(rules) if r.tag == tag) + f") AS t_{tag}"
        for tag in tags
    )
    q.add(
        f"g AS MATERIALIZED (SELECT e.affiliate_id, e.week, GROUPING(e.affiliate_id) AS by_week, "
        f"count(*) FILTER (WHERE e.amb) AS amb, {sums}, {tag_sums} FROM e "
        "GROUP BY GROUPING SETS ((e.affiliate_id), (e.week))),\n"
    )
    amb_total = "(SELECT coalesce(sum(amb), 0) FROM g WHERE by_week = 1)"
    inserts = " UNION ALL ".join(
        f"SELECT %s, affiliate_id, t_{tag} FROM g WHERE by_week = 0 AND t_{tag} > 0" for tag in tags
    )
    q.add(
        f"ins AS (INSERT INTO loyalty_sim_total SELECT * FROM ({inserts}) x WHERE {amb_total} = 0)\n",
        list(tags),
    )
    by_rule = ", ".join(
        f"json_build_object('tag', %s, 'rule_id', {int(r.id)}, 'points', coalesce(sum(p{i}), 0), "
        f"'entries', coalesce(sum(c{i}), 0), 'affiliates', count(*) FILTER (WHERE c{i} > 0))"
        for i, r in enumerate(rules)
    )
    by_week = ", ".join(
        f"json_build_object('tag', %s, 'week', to_char(week, 'YYYY-MM-DD'), 'points', t_{tag})"
        for tag in tags
    )
    q.add(
        f"SELECT {amb_total}, (SELECT array_to_json(ARRAY[{by_rule}]) FROM g WHERE by_week = 0), "
        f"(SELECT coalesce(json_agg(x.j), '[]') FROM (SELECT unnest(ARRAY[{by_week}]) AS j FROM g "
        "WHERE by_week = 1) x)",
        [r.tag for r in rules] + list(tags),
    )
    return q.compiled()
