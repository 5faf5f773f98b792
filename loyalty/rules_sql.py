"""The one definition of what a rule earns, as SQL: the live engine (loyalty.services.earning)
runs `earn_sql`'s statement to insert ledger rows; the simulator (loyalty.simulation_sql) builds
its own statement, one row an event instead of one a matching (event, rule), from the same
pieces (_rule_condition, _points, segment_ctes), and is tested against what the engine issues.

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
