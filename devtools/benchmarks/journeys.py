"""`./dev bench journeys`: segments and journeys at volume. Halves, each a function of this module
that `journeys()` runs in turn (add a half as a function and one line there):

- `enrollment_half` (devtools/benchmarks/journey_enrollments.py): advancing due enrollments;
- `segment_half`: a 4-condition segment (stage reached, WhatsApp consent, "cash_in at least 2
  times in the last 30 days", "never did cashout") counted by crm.selectors.segments.segment_count
  over BENCH_SEGMENT_AFFILIATES affiliates (default 1,000,000) and ten times as many events, beside
  a hand-written query for the same conditions (one grouped pass over the events with FILTER
  aggregates, joined to the affiliates) in the same run. Line `journeys.segment_count_ms`; target
  within 1.25× of the hand-written query and under 1 s.
"""

from __future__ import annotations

import itertools
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta

from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context

from devtools.benchmarks import Result, benchmark
from tenants.models import UDN
from tenants.selectors import udn_list
from tenants.services import udn_provision

SEGMENT_AFFILIATES = int(os.environ.get("BENCH_SEGMENT_AFFILIATES", "1000000"))
EVENTS_PER_AFFILIATE = 10
# Both queries run this many times each, alternating, after one warm-up each: the median counts.
SEGMENT_REPEAT = 5
# The event mix of the generated timeline: (type, share in tenths of a percent, amount or None).
EVENT_MIX = (
    ("app_downloaded", 100, None),
    ("app_activated", 80, None),
    ("cash_in", 300, "mod(g, 500) + 10"),
    ("cashback", 150, "mod(g, 40) + 1"),
    ("cashout", 50, "mod(g, 300) + 5"),
    ("consultation_scheduled", 120, None),
    ("support_ticket_opened", 100, None),
    ("support_ticket_closed", 100, None),
)
HISTORY_DAYS = 180

_counter = itertools.count(1)

SEGMENT = {
    "version": 1,
    "root": {
        "kind": "group",
        "op": "and",
        "conditions": [
            {"kind": "stage", "operator": "reached", "value": "activated"},
            {"kind": "consent", "channel": "whatsapp", "value": True},
            {
                "kind": "event",
                "type": "cash_in",
                "measure": "count",
                "operator": "gte",
                "value": 2,
                "within_days": 30,
            },
            {"kind": "event", "type": "cashout", "measure": "count", "operator": "eq", "value": 0},
        ],
    },
}

# The same conditions as a person would write them: one pass over the two types' events with an
# aggregate per condition, joined to the affiliates.
HAND_WRITTEN = """
    SELECT count(*)
    FROM crm_affiliate a
    JOIN (
        SELECT affiliate_id,
               count(*) FILTER (WHERE type = 'cash_in' AND occurred_at >= %(since)s) AS recent_cash_ins,
               count(*) FILTER (WHERE type = 'cashout') AS cashouts
        FROM crm_event
        WHERE type IN ('cash_in', 'cashout')
        GROUP BY affiliate_id
    ) e ON e.affiliate_id = a.id
    WHERE a.stage IN ('activated', 'cash_in', 'cashout')
      AND a.consent_whatsapp
      AND e.recent_cash_ins >= 2
      AND e.cashouts = 0
"""


def _fresh_udn(prefix: str) -> UDN:
    slug = f"{prefix}-{next(_counter):02d}"
    while udn_list().filter(slug=slug).exists():
        slug = f"{prefix}-{next(_counter):02d}"
    return udn_provision(name=f"Bench {slug}", slug=slug)


def _base(n: int) -> None:
    """`n` affiliates and `n` × EVENTS_PER_AFFILIATE events, each table in one INSERT ... SELECT
    over generate_series with its secondary indexes dropped and built again after (PostgreSQL's
    advice for populating a table). Events come in time order for affiliates spread over the base,
    as a timeline fills."""
    from crm.models import Affiliate, Event

    events = n * EVENTS_PER_AFFILIATE
    stages = (
        "(ARRAY['lead','registered','app_downloaded','activated','cash_in','cashout'])[1 + mod(g * 7, 6)]"
    )
    cases, low = [], 0
    for kind, share, _amount in EVENT_MIX:
        cases.append(f"WHEN mod(g * 13, 1000) < {low + share} THEN '{kind}'")
        low += share
    kind_sql = "CASE " + " ".join(cases) + " ELSE 'cashback' END"
    amount_cases = " ".join(
        f"WHEN '{kind}' THEN ({amount})::numeric" for kind, _s, amount in EVENT_MIX if amount
    )
    aff, event = (connection.ops.quote_name(m._meta.db_table) for m in (Affiliate, Event))
    with connection.schema_editor() as editor:
        for index in Event._meta.indexes:
            editor.remove_index(Event, index)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {aff} (external_id, cpf, name, email, phone, city, state, plan, origin, stage, tier,
                               total_cash_in, time_zone, tags, attributes, consent_whatsapp, consent_email,
                               created_at, updated_at)
            SELECT 'J' || g, '', 'Pessoa ' || g, 'p' || g || '@example.com', '', 'Recife', 'PE', '', '',
                   {stages}, '', 0, 'America/Recife', '{{}}', '{{}}', mod(g, 3) <> 0, true, now(), now()
            FROM generate_series(1, %(n)s) g
            """,  # noqa: S608 - names and fragments are this module's constants
            {"n": n},
        )
        cursor.execute(f"SELECT min(id) FROM {aff}")  # noqa: S608
        first = cursor.fetchone()[0]  # type: ignore[index]
        print(f"    {events:,} events", file=sys.stderr, flush=True)
        cursor.execute(
            f"""
            INSERT INTO {event} (event_id, affiliate_id, type, occurred_at, source, amount, properties,
                                 received_at)
            SELECT 'j' || g, %(first)s + mod(g * 7919, %(n)s), k.kind,
                   now() - make_interval(secs => (%(events)s - g)::double precision * %(span)s / %(events)s),
                   'bench', CASE k.kind {amount_cases} END, '{{}}', now()
            FROM generate_series(1::bigint, %(events)s) g, LATERAL (SELECT {kind_sql} AS kind) k
            """,  # noqa: S608
            {"first": first, "n": n, "events": events, "span": HISTORY_DAYS * 86400},
        )
    print("    indexes and statistics", file=sys.stderr, flush=True)
    with connection.schema_editor() as editor:
        for index in Event._meta.indexes:
            editor.add_index(Event, index)
    with connection.cursor() as cursor:
        # As autovacuum leaves an insert-mostly table (it vacuums after inserts too): the visibility
        # map lets the segments' index-only scans skip the heap.
        cursor.execute(f"VACUUM ANALYZE {aff}")
        cursor.execute(f"VACUUM ANALYZE {event}")


def _median_ms(runs: list[float]) -> float:
    return statistics.median(runs) * 1000


def segment_half() -> Iterator[Result]:
    from crm.selectors.segments import segment_count

    n = SEGMENT_AFFILIATES
    udn = _fresh_udn("seg")
    try:
        with tenant_context(udn):
            print(f"    base of {n:,} affiliates", file=sys.stderr, flush=True)
            _base(n)
            now = timezone.now()
            since = now - timedelta(days=30)

            def compiled() -> int:
                return segment_count(definition=SEGMENT, now=now)

            def hand() -> int:
                with connection.cursor() as cursor:
                    cursor.execute(HAND_WRITTEN, {"since": since})
                    return int(cursor.fetchone()[0])  # type: ignore[index]

            if compiled() != hand():  # also the warm-up of both
                raise RuntimeError(f"the segment counts {compiled()}, the hand-written query {hand()}")
            times: dict[Callable[[], int], list[float]] = {compiled: [], hand: []}
            for _ in range(SEGMENT_REPEAT):
                for query, runs in times.items():
                    started = time.perf_counter()
                    query()
                    runs.append(time.perf_counter() - started)
            ours, theirs = _median_ms(times[compiled]), _median_ms(times[hand])
            print(
                f"    segment {ours:.0f} ms, hand-written {theirs:.0f} ms ({compiled():,} match)",
                file=sys.stderr,
            )
    finally:
        udn.delete(force_drop=True)
    yield Result(
        name="journeys.segment_count_ms",
        value=ours,
        unit="ms",
        target=f"≤ 1.25× the hand-written query and under 1000 ms ({n:,} affiliates, {n * EVENTS_PER_AFFILIATE:,} events)",
        baseline_name="hand-written SQL for the same conditions",
        baseline_value=theirs,
    )


@benchmark("journeys")
def journeys() -> Iterator[Result]:
    from devtools.benchmarks.journey_enrollments import enrollment_half

    yield from segment_half()
    yield from enrollment_half()
