"""The simulator: figures against a hand-computed small history, and against what the live engine
actually issues on the same events; it never writes to the ledger."""

# ruff: noqa: S608 - the ledger's model table name and the simulator's own SQL fragments.

from __future__ import annotations

import random
import threading
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.db.models import Sum
from django_tenants.utils import tenant_context

from crm.models import Affiliate, Event
from loyalty.models import LedgerEntry, Programme, Rule, RuleSet, RuleSetStatus, Simulation, SimulationStatus
from loyalty.rules_sql import Compiled, rule_spec
from loyalty.services.earning import events_earn, udn_time_zone
from loyalty.services.programme import draft_get, rule_save
from loyalty.services.simulation import distribution, period_bounds, ranges_run, simulate, simulation_run
from loyalty.simulation_sql import local_time
from loyalty.tests.helpers import affiliate, at, event, live
from tenants.models import UDN


@pytest.fixture
def udn(udn_a):
    with tenant_context(udn_a):
        yield udn_a


def _history():
    ana, bia, caio = affiliate(plan="Ouro"), affiliate(plan="Prata"), affiliate(plan="Prata")
    events = [
        event(ana, "cash_in", at(2), "100"),  # week of 02/03
        event(ana, "cash_in", at(3), "50"),
        event(bia, "cash_in", at(10), "20"),  # week of 09/03
        event(bia, "cashout", at(11)),
        event(bia, "cashout", at(12)),
        event(caio, "app_downloaded", at(12)),
    ]
    return (ana, bia, caio), events


RULES = (
    {"event_type": "cash_in", "points_kind": "per_real", "points": Decimal("1")},
    {"event_type": "cashout", "points_kind": "fixed", "points": 30, "limit_period": "ever", "limit_count": 1},
    {"event_type": "cash_in", "points_kind": "multiplier", "points": 2, "plans": ["Ouro"]},
)


def test_simulation_matches_a_hand_computed_history(udn):
    rule_set = live(*RULES)
    (ana, bia, caio), _events = _history()
    start, end = period_bounds(start=date(2026, 3, 1), end=date(2026, 3, 31), tz="America/Sao_Paulo")
    rules = [rule_spec(rule, tag="draft") for rule in rule_set.rules.all()]
    result = simulate(rules=rules, start=start, end=end, tz="America/Sao_Paulo", chunks=3)
    by_code = {Rule.objects.get(pk=row["rule_id"]).code: row for row in result["by_rule"]}
    # ana: 100 + 50 per R$, doubled (Ouro): +150; bia: 20 per R$, one cashout (once ever) 30.
    assert by_code["r0"]["points"] == 170 and by_code["r0"]["affiliates"] == 2
    assert by_code["r1"]["points"] == 30 and by_code["r1"]["entries"] == 1
    assert by_code["r2"]["points"] == 150
    dist = result["distribution"]["draft"]
    assert dist["affiliates"] == 2 and dist["points"] == 350
    assert dist["median"] == 50  # totals 300 and 50: the lower middle (percentile_disc)
    weeks = {row["week"]: row["points"] for row in result["by_week"]}
    assert weeks == {"2026-03-02": 300, "2026-03-09": 50}
    assert not LedgerEntry.objects.exists()


def test_simulation_equals_what_the_engine_issues(udn):
    live(*RULES)
    _people, events = _history()
    # The draft differs: cash in earns 2 per R$, cashout twice a day.
    draft = draft_get()
    rule_save(
        rule_set=draft,
        data={
            "code": "cash",
            "name": "Cash in",
            "event_type": "cash_in",
            "points_kind": "per_real",
            "points": Decimal("2"),
        },
    )
    rule_save(
        rule_set=draft,
        data={
            "code": "out",
            "name": "Cashout",
            "event_type": "cashout",
            "points_kind": "fixed",
            "points": 10,
            "limit_period": "day",
            "limit_count": 2,
        },
    )
    simulation = Simulation.objects.create(
        rule_set=draft, period_start=date(2026, 3, 1), period_end=date(2026, 3, 31)
    )
    assert simulation_run(simulation_id=simulation.pk) == SimulationStatus.DONE
    simulation.refresh_from_db()
    assert not LedgerEntry.objects.exists()
    costs = simulation.result["costs"]
    # What the live engine issues on the same events is the simulation's "live" figure...
    events_earn(event_pks=[e.pk for e in events])
    issued = LedgerEntry.objects.aggregate(s=Sum("points"))["s"]
    assert costs["live"]["points"] == issued == 350
    # ...and once the draft is live, its "draft" figure.
    LedgerEntry.objects.all().delete()
    RuleSet.objects.filter(status=RuleSetStatus.LIVE).update(status=RuleSetStatus.RETIRED)
    RuleSet.objects.filter(pk=draft.pk).update(status=RuleSetStatus.LIVE)
    events_earn(event_pks=[e.pk for e in events])
    assert costs["draft"]["points"] == LedgerEntry.objects.aggregate(s=Sum("points"))["s"] == 2 * 170 + 20
    # R$: points x point value (0.05) x the expected redeemed share (0.6), against the month's budget.
    assert Decimal(costs["draft"]["projected_cost"]) == Decimal("10.80")
    assert costs["draft"]["budget"] == "1000.00"


def _random_history(seed: int, *, people: int = 12, events: int = 160, when=None):
    """Several events a day (so day limits overflow), on a few days of two months, amounts with
    cents, some below R$ 1 (per R$ rules that earn 0 still take a limit's slot), a property.
    `when(rng)`: an event's time (default: a few days of March and April 2026)."""
    rng = random.Random(seed)
    who = [affiliate(plan=rng.choice(["Ouro", "Prata"])) for _ in range(people)]
    for _ in range(events):
        kind = rng.choice(["cash_in", "cash_in", "cashout", "app_downloaded"])
        amount = str(Decimal(rng.randint(30, 9000)) / 100) if kind == "cash_in" else None
        moment = when(rng) if when else at(rng.randint(1, 6), rng.randint(0, 23), month=rng.choice([3, 4]))
        event(rng.choice(who), kind, moment, amount, channel=rng.choice(["app", "web"]))


LIMIT_CASES = {
    "day": {"limit_period": "day", "limit_count": 2},
    "month": {"limit_period": "month", "limit_count": 3},
    "ever": {"limit_period": "ever", "limit_count": 1},
    "ever_many": {"limit_period": "ever", "limit_count": 4},
    "none": {},
}


def _simulated(rule_set, *, start: date, end: date, chunks: int = 2):
    bounds = period_bounds(start=start, end=end, tz=udn_time_zone())
    rules = [rule_spec(rule, tag="draft") for rule in rule_set.rules.all()]
    return simulate(rules=rules, start=bounds[0], end=bounds[1], tz=udn_time_zone(), chunks=chunks)


def _issued() -> dict:
    """What the engine wrote into the ledger, in the simulator's figures (the distribution by
    PostgreSQL's percentile_disc and ntile over the affiliates' totals)."""
    table = LedgerEntry._meta.db_table
    earned = f"SELECT * FROM {table} WHERE kind = 'earn'"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT rule_id, sum(points), count(*), count(DISTINCT affiliate_id) FROM ({earned}) l GROUP BY 1"
        )
        by_rule = [
            {"tag": "draft", "rule_id": rule, "points": int(p), "entries": n, "affiliates": a}
            for rule, p, n, a in sorted(cursor.fetchall())
        ]
        cursor.execute(
            "SELECT to_char(date_trunc('week', occurred_at AT TIME ZONE %s), 'YYYY-MM-DD'), sum(points) "
            f"FROM ({earned}) l GROUP BY 1 ORDER BY 1",
            [udn_time_zone()],
        )
        by_week = [{"tag": "draft", "week": week, "points": int(p)} for week, p in cursor.fetchall()]
        cursor.execute(
            f"""WITH t AS (SELECT affiliate_id, sum(points) AS points FROM ({earned}) l GROUP BY 1)
                SELECT count(*), sum(points), percentile_disc(0.5) WITHIN GROUP (ORDER BY points),
                       percentile_disc(0.9) WITHIN GROUP (ORDER BY points),
                       percentile_disc(0.99) WITHIN GROUP (ORDER BY points),
                       (SELECT sum(points) FROM (SELECT points, ntile(100) OVER (ORDER BY points DESC) AS pct
                        FROM t) x WHERE pct = 1)
                FROM t"""
        )
        n, total, p50, p90, p99, top = cursor.fetchone()
    distribution = {
        "affiliates": n,
        "points": int(total),
        "median": int(p50),
        "p90": int(p90),
        "p99": int(p99),
        "top1_points": int(top),
    }
    return {"by_rule": by_rule, "by_week": by_week, "distribution": {"draft": distribution}}


MULTIPLIERS = (
    {"event_type": "cash_in", "points_kind": "multiplier", "points": 3, "plans": ["Ouro"]},
    # Two multipliers on one kind: each multiplies what the others than multipliers took.
    {"event_type": "cash_in", "points_kind": "multiplier", "points": 2},
    # A multiplier with a limit of its own: its first entry of the day only.
    {
        "event_type": "cashout",
        "points_kind": "multiplier",
        "points": 2,
        "limit_period": "day",
        "limit_count": 1,
    },
)


@pytest.mark.parametrize("limit", sorted(LIMIT_CASES))
@pytest.mark.parametrize("kind", ["fixed", "per_real"])
def test_simulation_equals_what_the_engine_issues_for_each_limit(udn, limit, kind):
    """Each limit kind, fixed and per R$, with a property condition, a day-limited rule beside
    and multipliers (one by plan, one limited): the simulator's figures by rule, by week and
    their distribution are those of what the engine writes into the ledger on the same events."""
    points = Decimal("7") if kind == "fixed" else Decimal("1.5")
    rule_set = live(
        {"event_type": "cash_in", "points_kind": kind, "points": points, **LIMIT_CASES[limit]},
        {"event_type": "cashout", "points_kind": kind, "points": points, **LIMIT_CASES[limit]},
        {
            "event_type": "app_downloaded",
            "points_kind": "fixed",
            "points": 20,
            "conditions": [{"field": "channel", "op": "eq", "value": "app"}],
            **LIMIT_CASES[limit],
        },
        {
            "event_type": "cash_in",
            "points_kind": "fixed",
            "points": 3,
            "limit_period": "day",
            "limit_count": 1,
        },
        *MULTIPLIERS,
    )
    _random_history(hash((limit, kind)) % 1000)
    simulated = _simulated(rule_set, start=date(2026, 3, 1), end=date(2026, 4, 30))
    assert simulated["distribution"]["draft"]["points"] > 0
    assert not LedgerEntry.objects.exists()
    events_earn(where=Compiled("true", []))
    assert simulated == _issued()
    # Ranges are independent: one range or seven give the same figures.
    assert _simulated(rule_set, start=date(2026, 3, 1), end=date(2026, 4, 30), chunks=7) == simulated


def test_simulation_equals_the_engine_across_clock_changes(udn):
    """Sao Paulo's clock went forward on 04/11/2018 and back on 17/02/2019: events around both,
    limits by day, month and ever. The local times the simulator derives from the zone's offsets
    are PostgreSQL's own, the clock is known not to be monotone over the period, and the figures
    are the engine's."""
    assert udn_time_zone() == "America/Sao_Paulo"
    rule_set = live(
        {
            "event_type": "cash_in",
            "points_kind": "per_real",
            "points": 1,
            "limit_period": "day",
            "limit_count": 2,
        },
        {
            "event_type": "cashout",
            "points_kind": "fixed",
            "points": 5,
            "limit_period": "month",
            "limit_count": 2,
        },
        {"event_type": "app_downloaded", "points_kind": "fixed", "points": 9, "limit_period": "ever"},
        *MULTIPLIERS,
    )
    changes = (datetime(2018, 11, 4, 3, tzinfo=UTC), datetime(2019, 2, 17, 2, tzinfo=UTC))
    _random_history(
        7,
        events=240,
        when=lambda rng: rng.choice(changes) + timedelta(minutes=rng.randint(-36 * 60, 36 * 60)),
    )
    start, end = period_bounds(start=date(2018, 10, 1), end=date(2019, 3, 31), tz=udn_time_zone())
    clock = local_time(tz=udn_time_zone(), start=start, end=end)
    assert not clock.monotone and len(clock.sql.params) == 5  # three stretches
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FILTER (WHERE {clock.sql.sql} = e.occurred_at AT TIME ZONE %s), count(*) FROM crm_event e",
            [*clock.sql.params, udn_time_zone()],
        )
        same, total = cursor.fetchone()
    assert same == total == 240
    simulated = _simulated(rule_set, start=date(2018, 10, 1), end=date(2019, 3, 31))
    events_earn(where=Compiled("true", []))
    assert simulated == _issued()
    # Without a clock change the zone's one offset is used, and the clock is monotone.
    calm = local_time(
        tz=udn_time_zone(), start=datetime(2025, 1, 1, tzinfo=UTC), end=datetime(2026, 1, 1, tzinfo=UTC)
    )
    assert calm.monotone and calm.sql.params == ["-03:00:00"]


def test_distribution_is_postgresql_percentile_disc_and_ntile(db):
    rng = random.Random(5)
    for n in (1, 2, 7, 99, 100, 101, 1234):
        totals = [rng.choice([rng.randint(1, 50), rng.randint(1, 5000)]) for _ in range(n)]
        with connection.cursor() as cursor:
            cursor.execute(
                """WITH t AS (SELECT unnest(%s::bigint[]) AS points)
                   SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY points),
                          percentile_disc(0.9) WITHIN GROUP (ORDER BY points),
                          percentile_disc(0.99) WITHIN GROUP (ORDER BY points),
                          (SELECT sum(points) FROM (SELECT points, ntile(100) OVER (ORDER BY points DESC) AS pct
                           FROM t) x WHERE pct = 1)
                   FROM t""",
                [totals],
            )
            p50, p90, p99, top = cursor.fetchone()
        counts = {value: totals.count(value) for value in set(totals)}
        assert distribution(counts) == {
            "affiliates": n,
            "points": sum(totals),
            "median": p50,
            "p90": p90,
            "p99": p99,
            "top1_points": top,
        }, n


def test_ranges_run_on_several_connections_with_the_figures_of_one(committed):
    """Outside a transaction the ranges run on several connections at once (each this UDN's, in
    a transaction of its own), with the figures the ranges give one after the other on the
    caller's connection (inside a transaction, whose rows only that connection would see)."""
    alpha = UDN.objects.get(slug="alpha")
    with tenant_context(alpha):
        known = set(Affiliate.objects.values_list("pk", flat=True))

        def clean() -> None:
            with tenant_context(alpha):
                made = Affiliate.objects.exclude(pk__in=known)
                Event.objects.filter(affiliate__in=made).delete()
                made.delete()
                Rule.objects.all().delete()
                RuleSet.objects.all().delete()
                Programme.objects.all().delete()

        committed.append(clean)
        rule_set = live(*RULES, *MULTIPLIERS)
        _random_history(11)
        # Each of three ranges waits for the other two: three lanes, three connections.
        meet = threading.Barrier(3, timeout=60)

        def where(cursor, _bounds):
            meet.wait()
            cursor.execute("SELECT pg_backend_pid(), current_schema()")
            return cursor.fetchone()

        lanes = list(ranges_run(ranges=[(1, 1), (2, 2), (3, 3)], run=where, lanes=3))
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            mine = cursor.fetchone()[0]
        assert len({pid for pid, _schema in lanes}) == 3 and mine not in {pid for pid, _schema in lanes}
        assert {schema for _pid, schema in lanes} == {alpha.schema_name}
        spread = _simulated(rule_set, start=date(2026, 3, 1), end=date(2026, 4, 30), chunks=5)
        with transaction.atomic():
            alone = _simulated(rule_set, start=date(2026, 3, 1), end=date(2026, 4, 30), chunks=5)
        assert spread == alone and spread["distribution"]["draft"]["points"] > 0


def test_a_failed_simulation_shows_a_reference_in_portuguese_not_the_database_error(
    udn_a, marketer, client_for, monkeypatch, caplog
):
    import loyalty.services.simulation as simulation_service

    # A statement PostgreSQL refuses (as a rule set naming a missing segment table once did).
    monkeypatch.setattr(
        simulation_service, "simulate_sql", lambda **_kwargs: Compiled("SELECT count(*) FROM sg_1", [])
    )
    with tenant_context(udn_a):
        live(*RULES)
        affiliate()
        simulation = Simulation.objects.create(
            rule_set=draft_get(), period_start=date(2026, 3, 1), period_end=date(2026, 3, 31)
        )
        with caplog.at_level("ERROR", logger="loyalty.services.simulation"):
            assert simulation_run(simulation_id=simulation.pk) == SimulationStatus.FAILED
        simulation.refresh_from_db()
    assert "sg_1" not in simulation.error and simulation.error.startswith(f"SIM-{simulation.pk}-")
    # The exception is in the log, under the reference the page shows.
    (record,) = [r for r in caplog.records if r.name == "loyalty.services.simulation"]
    assert simulation.error in record.getMessage()
    assert 'relation "sg_1" does not exist' in str(record.exc_info[1])
    html = client_for(udn_a, marketer).get(f"/loyalty/simulations/{simulation.pk}/").content.decode()
    assert "A simulação falhou; a equipe técnica foi avisada. Referência: " + simulation.error in html
    assert "sg_1" not in html and "does not exist" not in html
