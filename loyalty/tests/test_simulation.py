"""The simulator: figures against a hand-computed small history, and against what the live engine
actually issues on the same events; it never writes to the ledger."""

from __future__ import annotations

import random
from datetime import date
from decimal import Decimal

import pytest
from django.db.models import Sum
from django_tenants.utils import tenant_context

from loyalty.models import LedgerEntry, Rule, RuleSet, RuleSetStatus, Simulation, SimulationStatus
from loyalty.rules_sql import Compiled, rule_spec
from loyalty.services.earning import events_earn
from loyalty.services.programme import draft_get, rule_save
from loyalty.services.simulation import period_bounds, simulate, simulation_run
from loyalty.tests.helpers import affiliate, at, event, live


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


def _random_history(seed: int, *, people: int = 12, events: int = 160):
    """Several events a day (so day limits overflow), on a few days of two months, amounts with
    cents, some below R$ 1 (per R$ rules that earn 0 still take a limit's slot), a property."""
    rng = random.Random(seed)
    who = [affiliate(plan=rng.choice(["Ouro", "Prata"])) for _ in range(people)]
    for _ in range(events):
        kind = rng.choice(["cash_in", "cash_in", "cashout", "app_downloaded"])
        amount = str(Decimal(rng.randint(30, 9000)) / 100) if kind == "cash_in" else None
        event(
            rng.choice(who),
            kind,
            at(rng.randint(1, 6), rng.randint(0, 23), month=rng.choice([3, 4])),
            amount,
            channel=rng.choice(["app", "web"]),
        )


LIMIT_CASES = {
    "day": {"limit_period": "day", "limit_count": 2},
    "month": {"limit_period": "month", "limit_count": 3},
    "ever": {"limit_period": "ever", "limit_count": 1},
    "ever_many": {"limit_period": "ever", "limit_count": 4},
    "none": {},
}


def _figures(rule_set, *, aggregated: bool):
    start, end = period_bounds(start=date(2026, 3, 1), end=date(2026, 4, 30), tz="America/Sao_Paulo")
    rules = [rule_spec(rule, tag="draft") for rule in rule_set.rules.all()]
    return simulate(
        rules=rules, start=start, end=end, tz="America/Sao_Paulo", chunks=2, aggregated=aggregated
    )


@pytest.mark.parametrize("limit", sorted(LIMIT_CASES))
@pytest.mark.parametrize("kind", ["fixed", "per_real"])
def test_aggregated_simulation_equals_the_row_by_row_one_and_the_engine(udn, limit, kind):
    """Each limit kind, fixed and per R$, with a property condition and a multiplier beside a
    day-limited rule: the aggregated statement's figures are the row-by-row statement's, and both
    are what the engine writes into the ledger on the same events."""
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
        {"event_type": "cash_in", "points_kind": "multiplier", "points": 3, "plans": ["Ouro"]},
    )
    _random_history(hash((limit, kind)) % 1000)
    if limit in ("month", "ever", "ever_many") or (kind, limit) == ("fixed", "day"):
        # A multiplier beside a month/ever limit is computed row by row, and beside an overflowing
        # day limit too when its entries depend on which events the limit took (the per R$ case
        # keeps it: its ranges go row by row, still compared).
        Rule.objects.filter(rule_set=rule_set, points_kind="multiplier").delete()
    aggregated = _figures(rule_set, aggregated=True)
    rows = _figures(rule_set, aggregated=False)
    # Fixed points never need the events' order; per R$ under an overflowing limit does.
    assert aggregated.pop("ranges_aggregated") == (2 if kind == "fixed" or limit == "none" else 0)
    assert rows.pop("ranges_aggregated") == 0
    assert aggregated == rows
    assert aggregated["distribution"]["draft"]["points"] > 0
    events_earn(where=Compiled("true", []))
    by_rule = {row["rule_id"]: row for row in aggregated["by_rule"]}
    for rule in rule_set.rules.all():
        issued = LedgerEntry.objects.filter(rule=rule)
        expected = by_rule.get(rule.pk, {"points": 0, "entries": 0})
        assert (issued.aggregate(s=Sum("points"))["s"] or 0, issued.count()) == (
            expected["points"],
            expected["entries"],
        ), rule.code
