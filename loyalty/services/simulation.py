"""The simulator: a draft rule set replayed over the UDN's real events of a period, beside the
live rules, WITHOUT writing to the ledger: points by rule, by week, and the distribution of the
affiliates' totals. loyalty.simulation_sql's statement sums what the engine's (earn_sql) would
issue, with the same conditions and points (tested against the engine's ledger), one row an event
instead of one a matching (event, rule). The affiliates are cut into id ranges (limits are per
affiliate, so the ranges are independent): the progress bar's steps, run on a few connections at
once."""

from __future__ import annotations

import json
import logging
import math
import queue
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.utils import timezone

from crm.models import Affiliate
from loyalty.models import RuleSet, RuleSetStatus, Simulation, SimulationStatus
from loyalty.rules_sql import RuleSpec, rule_spec, segment_members_where
from loyalty.services.earning import programme_get, udn_time_zone
from loyalty.simulation_sql import local_time, simulate_sql

logger = logging.getLogger(__name__)

SIMULATE_TASK = "loyalty.simulate"
# Affiliate-id ranges a simulation is cut into: the progress bar's steps (a multiple of
# CONNECTIONS, so that the lanes finish together).
CHUNKS = 12
# A range's events are sorted once in memory (a background job's statement; spilling to disk
# would double its time).
WORK_MEM = "256MB"
# Ranges run on up to this many connections at once: PostgreSQL runs a range's statement in one
# process (its windows and grouping have no parallel plan), so the ranges are what spreads a
# simulation over the server's cores, as the leader and max_parallel_workers_per_gather (2)
# spread a parallel summing pass. One when the caller holds a transaction (a test): only its
# connection sees its rows.
CONNECTIONS = 3


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
    connections: int = CONNECTIONS,
    progress: Any = None,
) -> dict[str, Any]:
    """The figures (see the module); `progress(percent)` is called after each range."""
    by_rule: dict[tuple[str, int], dict[str, int]] = {}
    by_week: dict[tuple[str, str], int] = {}
    # Per tag: how many affiliates earned each total (merged over the ranges).
    totals: dict[str, dict[int, int]] = {}
    if not rules:
        return _empty()
    with connection.cursor() as cursor:
        cursor.execute("SELECT min(id), max(id) FROM " + Affiliate._meta.db_table)
        low, high = cursor.fetchone()
    low, high = low or 0, high or 0
    step = max(1, (high - low + chunks) // chunks)
    clock = local_time(tz=tz, start=start, end=end)
    segment_ids = {rule.segment_id for rule in rules if rule.segment_id}
    segments = segment_members_where(segment_ids=segment_ids) if segment_ids else None

    def run(cursor: Any, bounds: tuple[int, int]) -> list[Any]:
        compiled = simulate_sql(
            rules=rules,
            start=start,
            end=end,
            first=bounds[0],
            last=bounds[1],
            clock=clock,
            segments=segments,
        )
        cursor.execute(compiled.sql, compiled.params)
        return [json.loads(value) if isinstance(value, str) else value or [] for value in cursor.fetchone()]

    ranges = [(first, first + step - 1) for first in range(low, high + 1, step)]
    lanes = 1 if connection.in_atomic_block else min(connections, len(ranges))
    for done, (rule_rows, week_rows, total_rows) in enumerate(
        ranges_run(ranges=ranges, run=run, lanes=lanes)
    ):
        for row in rule_rows:
            if not int(row["entries"]):
                continue
            slot = by_rule.setdefault(
                (row["tag"], row["rule_id"]), {"points": 0, "entries": 0, "affiliates": 0}
            )
            for name in ("points", "entries", "affiliates"):
                slot[name] += int(row[name])
        for row in week_rows:
            if int(row["points"] or 0):
                key = (row["tag"], row["week"])
                by_week[key] = by_week.get(key, 0) + int(row["points"])
        for tag, points, affiliates in total_rows:
            counts = totals.setdefault(tag, {})
            counts[int(points)] = counts.get(int(points), 0) + int(affiliates)
        if progress is not None:
            progress(min(99, int(100 * (done + 1) / len(ranges))))
    return {
        "by_rule": [
            {"tag": tag, "rule_id": rule_id, **values} for (tag, rule_id), values in sorted(by_rule.items())
        ],
        "by_week": [
            {"tag": tag, "week": week, "points": points} for (tag, week), points in sorted(by_week.items())
        ],
        "distribution": {tag: distribution(counts) for tag, counts in totals.items()},
    }


def ranges_run(
    *, ranges: list[tuple[int, int]], run: Callable[[Any, tuple[int, int]], Any], lanes: int
) -> Iterator[Any]:
    """`run(cursor, range)` for each range, on `lanes` connections at once (this one when 1), each
    in a transaction of its own with the simulator's work_mem; what they return as they finish.
    A lane's connection is this UDN's and closed when the lane ends; a lane's error is raised."""
    if lanes <= 1:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL work_mem = '{WORK_MEM}'")
            for bounds in ranges:
                yield run(cursor, bounds)
        return
    tenant = connection.tenant  # type: ignore[attr-defined]
    todo: queue.SimpleQueue[tuple[int, int]] = queue.SimpleQueue()
    for bounds in ranges:
        todo.put(bounds)
    results: queue.SimpleQueue[Any] = queue.SimpleQueue()

    def lane() -> None:
        try:
            connection.set_tenant(tenant)  # type: ignore[attr-defined]
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(f"SET LOCAL work_mem = '{WORK_MEM}'")
                while True:
                    try:
                        bounds = todo.get_nowait()
                    except queue.Empty:
                        return
                    results.put((None, run(cursor, bounds)))
        except Exception as error:  # handed to the caller, which raises it
            results.put((error, None))
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=lanes) as pool:
        for _ in range(lanes):
            pool.submit(lane)
        try:
            for _ in ranges:
                error, figures = results.get()
                if error is not None:
                    raise error
                yield figures
        finally:  # on an error, the lanes take no further range
            while not todo.empty():
                todo.get_nowait()


def distribution(counts: dict[int, int]) -> dict[str, int]:
    """The affiliates' totals (`counts`: how many affiliates earned each total) summed, their
    median, p90 and p99 as PostgreSQL's percentile_disc gives them (the first total at position
    ceil(fraction x n) in ascending order), and the points of the top 1% (ntile(100)'s first
    tile by points, descending: the ceil(n / 100) largest totals)."""
    values = sorted(counts.items())
    n = sum(counts.values())

    def percentile(fraction: float) -> int:
        position, seen = max(1, math.ceil(fraction * n)), 0
        for value, count in values:
            seen += count
            if seen >= position:
                return value
        return 0

    left, top = -(-n // 100), 0
    for value, count in reversed(values):
        taken = min(count, left)
        top, left = top + value * taken, left - taken
        if not left:
            break
    return {
        "affiliates": n,
        "points": sum(value * count for value, count in values),
        "median": percentile(0.5),
        "p90": percentile(0.9),
        "p99": percentile(0.99),
        "top1_points": top,
    }


def _empty() -> dict[str, Any]:
    return {"by_rule": [], "by_week": [], "distribution": {}}


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


def failure_reference(*, simulation_id: int) -> str:
    """What a failed run shows the user instead of the database's message (which names tables and
    columns): a code the technical team finds in the log line of the exception."""
    return f"SIM-{simulation_id}-{uuid.uuid4().hex[:8].upper()}"


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
    except Exception:  # logged in full; the row (and the page) keeps only the log's reference
        reference = failure_reference(simulation_id=simulation.pk)
        logger.exception("loyalty simulation %s failed (reference %s)", simulation.pk, reference)
        Simulation.objects.filter(pk=simulation.pk).update(
            status=SimulationStatus.FAILED, error=reference, finished_at=timezone.now()
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
