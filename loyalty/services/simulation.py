"""The simulator: a draft rule set replayed over the UDN's real events of a period, beside the
live rules, WITHOUT writing to the ledger. The same statement as the engine's
(loyalty.rules_sql.earn_sql), run without the ledger, its rows summed instead of inserted: points
by rule, by week, per affiliate (into a temporary table, for the distribution). One pass over the
events, cut into affiliate-id ranges (limits are per affiliate, so the ranges are independent)
for the progress bar."""

from __future__ import annotations

import json
import logging
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.utils import timezone

from crm.models import Affiliate
from loyalty.models import RuleSet, RuleSetStatus, Simulation, SimulationStatus
from loyalty.rules_sql import Compiled, RuleSpec, aggregate_sql, aggregate_supported, earn_sql, rule_spec
from loyalty.services.earning import programme_get, udn_time_zone

logger = logging.getLogger(__name__)

SIMULATE_TASK = "loyalty.simulate"
# Affiliate-id ranges a simulation is cut into: the progress bar's steps.
CHUNKS = 10
# The aggregated statement hashes a range's day rows in memory (a background job's statement).
WORK_MEM = "256MB"
# Off: at the bench's shape (10 events a person over a year, so about one event per day row) the
# day aggregates save nothing and their ~25 FILTER columns cost more than the row-by-row statement
# (1M events: 28 s against 11 s in the same conditions). Exact (tested); kept for sparse rule sets
# over dense histories and for the next step (fewer columns, per-rule aggregation).
USE_AGGREGATES = False


def period_bounds(*, start: date, end: date, tz: str) -> tuple[datetime, datetime]:
    zone = ZoneInfo(tz)
    return (
        datetime.combine(start, time.min, tzinfo=zone),
        datetime.combine(end + timedelta(days=1), time.min, tzinfo=zone),
    )


@transaction.atomic
def simulation_start(*, rule_set: RuleSet, start: date, end: date, by: str) -> Simulation:
    simulation = Simulation.objects.create(
        rule_set=rule_set, period_start=start, period_end=end, created_by=by
    )
    from loyalty.tasks import simulate_task

    transaction.on_commit(lambda: simulate_task.delay(simulation.pk))
    return simulation


def simulation_rules(*, rule_set: RuleSet) -> list[RuleSpec]:
    """The simulated set tagged "draft" and the live set tagged "live" (none if it is the same)."""
    rules = [rule_spec(rule, tag="draft") for rule in rule_set.rules.all()]
    live = RuleSet.objects.filter(status=RuleSetStatus.LIVE).exclude(pk=rule_set.pk).first()
    if rule_set.status == RuleSetStatus.LIVE:
        live = rule_set
    if live is not None:
        rules += [rule_spec(rule, tag="live") for rule in live.rules.all()]
    return rules


def simulate(
    *,
    rules: list[RuleSpec],
    start: datetime,
    end: datetime,
    tz: str,
    chunks: int = CHUNKS,
    progress: Any = None,
    aggregated: bool = USE_AGGREGATES,
) -> dict[str, Any]:
    """The figures (see the module); `progress(percent)` is called after each range. `aggregated`:
    on day aggregates (loyalty.rules_sql.aggregate_sql) where they apply, else row by row."""
    by_rule: dict[tuple[str, int], dict[str, int]] = {}
    by_week: dict[tuple[str, str], int] = {}
    if not rules:
        return _empty()
    with connection.cursor() as cursor:
        cursor.execute("SELECT min(id), max(id) FROM " + Affiliate._meta.db_table)
        low, high = cursor.fetchone()
    low, high = low or 0, high or 0
    step = max(1, (high - low + chunks) // chunks)
    with transaction.atomic(), connection.cursor() as cursor:
        # Dropped at commit; a caller's outer transaction (a test) may still hold the last one.
        cursor.execute("DROP TABLE IF EXISTS loyalty_sim_total")
        cursor.execute(
            "CREATE TEMP TABLE loyalty_sim_total (tag text, affiliate_id bigint, points bigint) ON COMMIT DROP"
        )
        cursor.execute(f"SET LOCAL work_mem = '{WORK_MEM}'")
        aggregated = aggregated and aggregate_supported(rules)
        ranges_aggregated = 0
        for index, first in enumerate(range(low, high + 1, step)):
            where = Compiled(
                "e.occurred_at >= %s AND e.occurred_at < %s AND e.affiliate_id BETWEEN %s AND %s",
                [start, end, first, first + step - 1],
            )
            figures = _chunk_aggregated(cursor, rules=rules, where=where, tz=tz) if aggregated else None
            ranges_aggregated += figures is not None
            if figures is None:  # not expressible on aggregates, or this range needs the events' order
                figures = _chunk_rows(cursor, rules=rules, where=where, tz=tz)
            for row in figures["by_rule"]:
                slot = by_rule.setdefault(
                    (row["tag"], row["rule_id"]), {"points": 0, "entries": 0, "affiliates": 0}
                )
                for name in ("points", "entries", "affiliates"):
                    slot[name] += int(row[name])
            for row in figures["by_week"]:
                if int(row["points"] or 0):
                    by_week[(row["tag"], row["week"])] = by_week.get((row["tag"], row["week"]), 0) + int(
                        row["points"]
                    )
            if progress is not None:
                progress(min(99, int(100 * (index + 1) / chunks)))
        cursor.execute(
            """SELECT tag, count(*), coalesce(sum(points), 0),
                      percentile_disc(0.5) WITHIN GROUP (ORDER BY points),
                      percentile_disc(0.9) WITHIN GROUP (ORDER BY points),
                      percentile_disc(0.99) WITHIN GROUP (ORDER BY points)
               FROM loyalty_sim_total GROUP BY tag"""
        )
        distribution = {
            tag: {
                "affiliates": int(n),
                "points": int(total),
                "median": int(p50 or 0),
                "p90": int(p90 or 0),
                "p99": int(p99 or 0),
            }
            for tag, n, total, p50, p90, p99 in cursor.fetchall()
        }
        cursor.execute(
            """SELECT tag, coalesce(sum(points), 0) FROM (SELECT tag, points,
                   ntile(100) OVER (PARTITION BY tag ORDER BY points DESC) AS pct FROM loyalty_sim_total) t
               WHERE pct = 1 GROUP BY tag"""
        )
        for tag, top in cursor.fetchall():
            distribution.setdefault(tag, {})["top1_points"] = int(top)
    return {
        "by_rule": [
            {"tag": tag, "rule_id": rule_id, **values} for (tag, rule_id), values in sorted(by_rule.items())
        ],
        "by_week": [
            {"tag": tag, "week": week, "points": points} for (tag, week), points in sorted(by_week.items())
        ],
        "distribution": distribution,
        # How many of the ranges were computed on day aggregates (the others row by row).
        "ranges_aggregated": ranges_aggregated,
    }


def _chunk_aggregated(
    cursor: Any, *, rules: list[RuleSpec], where: Compiled, tz: str
) -> dict[str, Any] | None:
    """One range on day aggregates (loyalty.rules_sql.aggregate_sql); None (nothing written) when
    a day row needs the events' order."""
    compiled = aggregate_sql(rules=rules, events_where=where, tz=tz)
    cursor.execute(compiled.sql, compiled.params)
    ambiguous, by_rule, by_week = cursor.fetchone()
    if int(ambiguous):
        return None
    by_rule, by_week = (json.loads(v) if isinstance(v, str) else v for v in (by_rule, by_week))
    return {"by_rule": [row for row in by_rule or [] if int(row["entries"])], "by_week": by_week or []}


def _chunk_rows(cursor: Any, *, rules: list[RuleSpec], where: Compiled, tz: str) -> dict[str, Any]:
    """One range row by row: the engine's own statement (earn_sql), its rows summed."""
    compiled = earn_sql(rules=rules, events_where=where, tz=tz, ledger=None)
    sql = (
        compiled.sql
        + """
        , tot AS (INSERT INTO loyalty_sim_total SELECT tag, affiliate_id, sum(points) FROM final GROUP BY 1, 2)
        SELECT json_build_object(
            'by_rule', (SELECT coalesce(json_agg(x), '[]') FROM (SELECT tag, rule_id, sum(points) AS points,
                sum(n) AS entries, count(*) AS affiliates FROM (SELECT tag, rule_id, affiliate_id,
                sum(points) AS points, count(*) AS n FROM final GROUP BY 1, 2, 3) per GROUP BY 1, 2) x),
            'by_week', (SELECT coalesce(json_agg(y), '[]') FROM (SELECT tag,
                to_char(date_trunc('week', occurred_at AT TIME ZONE %s), 'YYYY-MM-DD') AS week,
                sum(points) AS points FROM final GROUP BY 1, 2) y))"""
    )
    cursor.execute(sql, [*compiled.params, tz])
    figures = cursor.fetchone()[0]
    return json.loads(figures) if isinstance(figures, str) else figures


def _empty() -> dict[str, Any]:
    return {"by_rule": [], "by_week": [], "distribution": {}, "ranges_aggregated": 0}


def _costs(result: dict[str, Any], *, start: date, end: date) -> dict[str, Any]:
    programme = programme_get()
    point_value = programme.point_value if programme else Decimal("0")
    rate = programme.expected_redemption_rate if programme else Decimal("0")
    months = Decimal(max(1, round(((end - start).days + 1) / 30.44)))
    budget = (programme.monthly_budget if programme else Decimal("0")) * months
    costs = {}
    for tag, dist in result["distribution"].items():
        points = Decimal(dist.get("points", 0))
        redeemed = (points * rate).quantize(Decimal("1"))
        cost = (redeemed * point_value).quantize(Decimal("0.01"))
        costs[tag] = {
            "points": int(points),
            "issued_value": str((points * point_value).quantize(Decimal("0.01"))),
            "projected_redeemed_points": int(redeemed),
            "projected_cost": str(cost),
            "budget": str(budget.quantize(Decimal("0.01"))),
            "budget_share": float(cost / budget) if budget else None,
        }
    return costs


def simulation_run(*, simulation_id: int) -> str:
    simulation = Simulation.objects.select_related("rule_set").get(pk=simulation_id)
    if simulation.status not in (SimulationStatus.QUEUED, SimulationStatus.RUNNING):
        return simulation.status
    Simulation.objects.filter(pk=simulation.pk).update(status=SimulationStatus.RUNNING, progress=0)
    tz = udn_time_zone()
    start, end = period_bounds(start=simulation.period_start, end=simulation.period_end, tz=tz)

    def progress(percent: int) -> None:
        # A connection of its own would be needed inside the transaction; the cache is enough.
        from django.core.cache import cache

        cache.set(f"loyalty:simulation:{simulation.pk}:progress", percent, 3600)

    try:
        rules = simulation_rules(rule_set=simulation.rule_set)
        result = simulate(rules=rules, start=start, end=end, tz=tz, progress=progress)
        result["costs"] = _costs(result, start=simulation.period_start, end=simulation.period_end)
        result["rules"] = {str(rule.id): {"tag": rule.tag, "event_type": rule.event_type} for rule in rules}
    except Exception as error:  # kept on the row for the page; the worker logs it
        logger.exception("loyalty simulation %s failed", simulation.pk)
        Simulation.objects.filter(pk=simulation.pk).update(
            status=SimulationStatus.FAILED, error=str(error)[:2000], finished_at=timezone.now()
        )
        return SimulationStatus.FAILED
    Simulation.objects.filter(pk=simulation.pk).update(
        status=SimulationStatus.DONE, progress=100, result=result, finished_at=timezone.now()
    )
    return SimulationStatus.DONE


def simulation_progress(*, simulation: Simulation) -> int:
    from django.core.cache import cache

    if simulation.status == SimulationStatus.DONE:
        return 100
    return int(cache.get(f"loyalty:simulation:{simulation.pk}:progress", simulation.progress) or 0)
