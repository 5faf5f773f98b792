"""The simulator: figures against a hand-computed small history, and against what the live engine
actually issues on the same events; it never writes to the ledger."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.db.models import Sum
from django_tenants.utils import tenant_context

from loyalty.models import LedgerEntry, Rule, RuleSet, RuleSetStatus, Simulation, SimulationStatus
from loyalty.rules_sql import rule_spec
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
