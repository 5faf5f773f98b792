"""`./dev bench loyalty`: loyalty at volume, two lines.

- `loyalty.earn_events_per_second`: BENCH_LOYALTY_EVENTS (default 1,000,000) events through the
  live rules (per R$, fixed with a 3-a-day limit, once-ever, a multiplier by plan) into the ledger
  by the engine (loyalty.services.earning.events_earn, in batches of EARN_BATCH events), beside
  raw COPY of the same ledger rows into the same (emptied) table. Target ≥ 0.25 of COPY's rate.
- `loyalty.simulation_seconds`: a year of BENCH_LOYALTY_SIM_EVENTS (default 10,000,000) events of
  BENCH_LOYALTY_SIM_AFFILIATES (default 1,000,000) affiliates simulated (a draft beside the live
  rules, loyalty.services.simulation.simulate), beside one SQL pass that only sums the same events
  by kind. Target ≤ 5x that pass.
"""

from __future__ import annotations

import io
import itertools
import os
import sys
import time
from collections.abc import Iterator
from datetime import date
from decimal import Decimal

from django.db import connection
from django_tenants.utils import tenant_context

from devtools.benchmarks import Result, benchmark
from tenants.models import UDN
from tenants.selectors import udn_list
from tenants.services import udn_provision

EARN_EVENTS = int(os.environ.get("BENCH_LOYALTY_EVENTS", "1000000"))
SIM_EVENTS = int(os.environ.get("BENCH_LOYALTY_SIM_EVENTS", "10000000"))
SIM_AFFILIATES = int(os.environ.get("BENCH_LOYALTY_SIM_AFFILIATES", "1000000"))
# Events per engine call (one transaction each): what a busy ingest hands the earn task, times 100.
EARN_BATCH = 100_000
COPY_CHUNK_BYTES = 4 << 20  # what a COPY write carries per call
YEAR = (date(2025, 1, 1), date(2025, 12, 31))
_counter = itertools.count(1)


def _log(text: str) -> None:
    print(f"    {text}", file=sys.stderr, flush=True)


def _fresh_udn(prefix: str) -> UDN:
    slug = f"{prefix}-{next(_counter):02d}"
    while udn_list().filter(slug=slug).exists():
        slug = f"{prefix}-{next(_counter):02d}"
    return udn_provision(name=f"Bench {slug}", slug=slug)


def _base(*, affiliates: int, events: int) -> None:
    """`affiliates` affiliates (a third on plan Ouro) and `events` events over 2025 (cash in 60%,
    cashout 20%, app downloads 20%), each by one INSERT ... SELECT."""
    from crm.models import Affiliate, Event

    aff, ev = (connection.ops.quote_name(m._meta.db_table) for m in (Affiliate, Event))
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {aff} (external_id, cpf, name, email, phone, city, state, plan, origin, stage, tier,
                               total_cash_in, time_zone, tags, attributes, created_at, updated_at)
            SELECT 'L' || g, '', 'Pessoa ' || g, '', '', CASE WHEN mod(g, 2) = 0 THEN 'Recife' ELSE 'Natal' END,
                   '', CASE WHEN mod(g, 3) = 0 THEN 'Ouro' ELSE 'Prata' END, '', 'cash_in', '', 0,
                   'America/Sao_Paulo', '{{}}', '{{}}', now(), now()
            FROM generate_series(1::bigint, %s::bigint) g""",  # noqa: S608 - model table names
            [affiliates],
        )
        cursor.execute(f"SELECT min(id) FROM {aff}")  # noqa: S608 - a model table name
        first = cursor.fetchone()[0]
        cursor.execute(
            f"""
            INSERT INTO {ev} (event_id, affiliate_id, type, occurred_at, source, amount, properties, received_at)
            SELECT 'b' || g, %s + mod(g * 7919, %s),
                   CASE WHEN mod(g, 5) < 3 THEN 'cash_in' WHEN mod(g, 5) = 3 THEN 'cashout' ELSE 'app_downloaded' END,
                   timestamptz '2025-01-01 03:00+00' + (mod(g * 104729, 31536000)) * interval '1 second', 'bench',
                   CASE WHEN mod(g, 5) < 3 THEN (10 + mod(g, 490))::numeric ELSE NULL END, '{{}}', now()
            FROM generate_series(1::bigint, %s::bigint) g""",  # noqa: S608 - model table names
            [first, affiliates, events],
        )
        cursor.execute(f"ANALYZE {aff}")
        cursor.execute(f"ANALYZE {ev}")


def _rules(*, tag_live: bool = True) -> None:
    from loyalty.models import Rule, RuleSet, RuleSetStatus
    from loyalty.services.programme import programme_save

    programme = programme_save(name="Bench", point_value=Decimal("0.01"), monthly_budget=Decimal("100000"))
    live = RuleSet.objects.create(programme=programme, version=2, status=RuleSetStatus.LIVE)
    for code, fields in {
        "cash": {"event_type": "cash_in", "points_kind": "per_real", "points": 1},
        "cash3": {
            "event_type": "cash_in",
            "points_kind": "fixed",
            "points": 10,
            "limit_period": "day",
            "limit_count": 3,
        },
        "out1": {"event_type": "cashout", "points_kind": "fixed", "points": 50, "limit_period": "ever"},
        "app": {
            "event_type": "app_downloaded",
            "points_kind": "fixed",
            "points": 100,
            "limit_period": "ever",
        },
        "gold": {"event_type": "cash_in", "points_kind": "multiplier", "points": 2, "plans": ["Ouro"]},
    }.items():
        Rule.objects.create(rule_set=live, code=code, name=code, **fields)


def earn() -> Iterator[Result]:
    from crm.models import Event
    from loyalty.models import LedgerEntry
    from loyalty.rules_sql import Compiled
    from loyalty.services.earning import events_earn

    n = EARN_EVENTS
    with tenant_context(_fresh_udn("loy")):
        _log(f"base: {n // 10:,} affiliates, {n:,} events")
        _base(affiliates=max(1, n // 10), events=n)
        _rules()
        low, high = (Event.objects.order_by(o).values_list("id", flat=True).first() for o in ("id", "-id"))
        assert low is not None and high is not None
        _log(f"earning {n:,} events")
        started = time.perf_counter()
        for first in range(low, high + 1, EARN_BATCH):
            events_earn(where=Compiled("e.id BETWEEN %s AND %s", [first, first + EARN_BATCH - 1]))
        earn_seconds = time.perf_counter() - started
        table = connection.ops.quote_name(LedgerEntry._meta.db_table)
        columns = "affiliate_id, kind, points, event_id, rule_id, occurred_at, expires_at, reason, created_by, created_at"
        buffer = io.BytesIO()
        with connection.cursor() as cursor:
            with cursor.copy(f"COPY {table} ({columns}) TO STDOUT") as copy:
                for block in copy:
                    buffer.write(block)
            rows = LedgerEntry.objects.count()
            cursor.execute(f"TRUNCATE {table}")
            _log(f"raw COPY of {rows:,} ledger rows")
            data = buffer.getvalue()
            started = time.perf_counter()
            with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for start in range(0, len(data), COPY_CHUNK_BYTES):
                    copy.write(data[start : start + COPY_CHUNK_BYTES])
            copy_seconds = time.perf_counter() - started
        _log(f"earning {earn_seconds:.1f} s ({rows:,} entries), raw COPY {copy_seconds:.1f} s")
    yield Result(
        name="loyalty.earn_events_per_second",
        value=n / earn_seconds,
        unit="events/s",
        target="≥ 0.25 of raw COPY of the same ledger rows",
        baseline_name=f"raw COPY of the {rows:,} ledger rows {n:,} events earned",
        baseline_value=n / copy_seconds,
    )


def simulation() -> Iterator[Result]:
    from loyalty.models import RuleSet, RuleSetStatus
    from loyalty.services.simulation import period_bounds, simulate, simulation_rules

    with tenant_context(_fresh_udn("loysim")):
        _log(f"base: {SIM_AFFILIATES:,} affiliates, {SIM_EVENTS:,} events over a year")
        _base(affiliates=SIM_AFFILIATES, events=SIM_EVENTS)
        _rules()
        draft = RuleSet.objects.get(status=RuleSetStatus.DRAFT)
        from loyalty.models import Rule

        for rule in RuleSet.objects.get(status=RuleSetStatus.LIVE).rules.all():
            rule.pk, rule.rule_set = None, draft  # type: ignore[assignment]
            if rule.code == "cash":
                rule.points = Decimal("2")
            rule.save()
        assert Rule.objects.filter(rule_set=draft).exists()
        start, end = period_bounds(start=YEAR[0], end=YEAR[1], tz="America/Sao_Paulo")
        from crm.models import Event

        table = connection.ops.quote_name(Event._meta.db_table)
        _log("one summing pass")
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT type, count(*), sum(amount) FROM {table} WHERE occurred_at >= %s AND occurred_at < %s GROUP BY type",  # noqa: S608
                [start, end],
            )
            cursor.fetchall()
        sum_seconds = time.perf_counter() - started
        _log("simulation (draft beside live)")
        started = time.perf_counter()
        result = simulate(
            rules=simulation_rules(rule_set=draft), start=start, end=end, tz="America/Sao_Paulo"
        )
        sim_seconds = time.perf_counter() - started
        _log(
            f"simulation {sim_seconds:.1f} s, summing pass {sum_seconds:.1f} s; draft {result['distribution'].get('draft')}"
        )
    yield Result(
        name="loyalty.simulation_seconds",
        value=sim_seconds,
        unit="s",
        target="≤ 5x one SQL pass summing the same events",
        baseline_name=f"one pass summing {SIM_EVENTS:,} events",
        baseline_value=sum_seconds,
    )


@benchmark("loyalty")
def loyalty() -> Iterator[Result]:
    yield from earn()
    yield from simulation()
