"""A rule that requires a saved crm segment: members earn, others don't (through the real hook path
and in the statement's set-based membership), the simulator agrees with the engine, an unknown
segment is refused in pt-BR, a rule whose segment was deleted matches nobody and the rules page
says so, a draft rule keeps its segment from deletion, and the editor offers the segments."""

from __future__ import annotations

import time
from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import tenant_context

from crm.models import Affiliate, Event, Segment
from crm.services.events import EventInput, events_ingest
from crm.services.segments import SegmentInUse, segment_delete, segment_save
from loyalty.models import LedgerEntry, Programme, Rule, RuleSet, RuleSetStatus, Simulation, SimulationStatus
from loyalty.services.earning import events_earn
from loyalty.services.ledger import LoyaltyInvalid
from loyalty.services.programme import draft_get, rule_errors, rule_save
from loyalty.services.simulation import simulation_run
from loyalty.tests.helpers import affiliate, at, event, live, programme
from tenants.models import UDN


def tree(*conditions: dict) -> dict:
    return {"version": 1, "root": {"kind": "group", "op": "and", "conditions": list(conditions)}}


RECIFE = tree({"kind": "field", "field": "city", "operator": "eq", "value": "Recife"})
# A grouped pass over the events (count >= 2): compiled for the batch's affiliates only.
TWO_CASHOUTS = tree({"kind": "event", "type": "cashout", "measure": "count", "operator": "gte", "value": 2})

SEGMENT_RULE = {"event_type": "cash_in", "points_kind": "fixed", "points": 10}
UNKNOWN_SEGMENT = "Segmento desconhecido: escolha um dos segmentos salvos desta UDN."


def points(who: Affiliate) -> int:
    return LedgerEntry.objects.filter(affiliate=who).aggregate(s=Sum("points"))["s"] or 0


@pytest.fixture
def udn(udn_a):
    with tenant_context(udn_a):
        yield udn_a


# --- earning ---------------------------------------------------------------------------------


def test_members_earn_and_others_do_not_with_one_statement(udn):
    recife = segment_save(name="Recife", definition=RECIFE, by="t")
    twice = segment_save(name="Sacaram duas vezes", definition=TWO_CASHOUTS, by="t")
    live(
        {**SEGMENT_RULE, "segment_id": recife.pk},
        {"event_type": "cash_in", "points_kind": "fixed", "points": 3, "segment_id": twice.pk},
        {"event_type": "cash_in", "points_kind": "fixed", "points": 1},  # no segment: anyone
    )
    ana, bia, caio = affiliate(city="Recife"), affiliate(city="Olinda"), affiliate(city="Olinda")
    event(caio, "cashout", at(1))
    event(caio, "cashout", at(1, 13))
    event(ana, "cashout", at(1))
    evs = [
        event(ana, "cash_in", at(2), "50"),
        event(bia, "cash_in", at(2), "50"),
        event(caio, "cash_in", at(2), "50"),
    ]
    with CaptureQueriesContext(connection) as queries:
        events_earn(event_pks=[e.pk for e in evs])
    assert (points(ana), points(bia), points(caio)) == (10 + 1, 1, 3 + 1)
    # Each segment's members are one CTE of the one earning statement, not a query per affiliate.
    earning = [q["sql"] for q in queries.captured_queries if "FROM final" in q["sql"]]
    assert len(earning) == 1
    assert f"sg_{recife.pk} AS MATERIALIZED" in earning[0] and f"sg_{twice.pk} AS MATERIALIZED" in earning[0]
    # The grouped pass over the cashouts reads the batch's affiliates' only.
    assert ".affiliate_id = ANY(" in earning[0]
    assert not [
        q
        for q in queries.captured_queries
        if 'FROM "crm_affiliate" WHERE' in q["sql"] and "INSERT" not in q["sql"]
    ]


def test_a_rule_whose_segment_was_deleted_matches_nobody_and_the_page_says_so(udn_a, marketer, client_for):
    with tenant_context(udn_a):
        recife = segment_save(name="Recife", definition=RECIFE, by="t")
        live({**SEGMENT_RULE, "name": "Cash in em Recife", "segment_id": recife.pk})
        RuleSet.objects.filter(status=RuleSetStatus.DRAFT).delete()
        draft_get()  # the next draft, a copy of the live rules
        # Deleted past the registry (as an older deletion path would): the rule is left dangling.
        Segment.objects.filter(pk=recife.pk).delete()
        ana = affiliate(city="Recife")
        events_earn(event_pks=[event(ana, "cash_in", at(2), "50").pk])
        assert points(ana) == 0
    page = client_for(udn_a, marketer).get("/loyalty/rules/")
    html = page.content.decode()
    assert page.status_code == 200
    # Live and the draft copied from it: both say it.
    assert html.count("O segmento desta regra foi excluído: ela não vale para ninguém.") == 2


@pytest.mark.worker
def test_a_member_earns_through_the_hook_and_the_real_worker_a_non_member_does_not(
    django_db_setup, committed, celery_worker_process
):
    """events_ingest → crm.hooks.events_stored (after the commit) → loyalty.earn on the real
    worker → the live segment rule's statement."""
    alpha = UDN.objects.get(slug="alpha")

    def cleanup() -> None:
        with tenant_context(alpha):
            LedgerEntry.objects.filter(affiliate__external_id__startswith="LYS-").delete()
            Rule.objects.all().delete()
            RuleSet.objects.all().delete()
            Programme.objects.all().delete()
            Segment.objects.filter(name="Recife (fidelidade)").delete()
            Event.objects.filter(affiliate__external_id__startswith="LYS-").delete()
            Affiliate.objects.filter(external_id__startswith="LYS-").delete()

    committed.append(cleanup)
    with tenant_context(alpha):
        recife = segment_save(name="Recife (fidelidade)", definition=RECIFE, by="t")
        live({**SEGMENT_RULE, "segment_id": recife.pk})
        ana = Affiliate.objects.create(external_id="LYS-1", name="Ana Recife", city="Recife")
        bia = Affiliate.objects.create(external_id="LYS-2", name="Bia Olinda", city="Olinda")
        outcomes = events_ingest(
            items=[
                EventInput(
                    event_id=f"lys-{who.pk}",
                    type="cash_in",
                    occurred_at=timezone.now(),
                    affiliate_id=who.pk,
                    properties={"amount": "40.00"},
                )
                for who in (ana, bia)
            ],
            source="test",
        )
        assert all(outcome.accepted for outcome in outcomes)
        deadline = time.monotonic() + 60
        while not LedgerEntry.objects.filter(affiliate=ana).exists() and time.monotonic() < deadline:
            time.sleep(0.1)  # waiting for another process, not for the clock
        # One batch, one statement: when Ana's row is there, Bia's would be too.
        assert points(ana) == 10
        assert points(bia) == 0


# --- the simulator -----------------------------------------------------------------------------


def test_the_simulator_equals_the_engine_with_a_segment_rule(udn):
    recife = segment_save(name="Recife", definition=RECIFE, by="t")
    live({"event_type": "cash_in", "points_kind": "per_real", "points": Decimal("1")})
    ana, bia = affiliate(city="Recife"), affiliate(city="Olinda")
    events = [
        event(ana, "cash_in", at(2), "100"),
        event(ana, "cash_in", at(3), "50"),
        event(bia, "cash_in", at(3), "70"),
    ]
    RuleSet.objects.filter(status=RuleSetStatus.DRAFT, rules__isnull=True).delete()
    draft = draft_get()  # a copy of the live rules, plus:
    rule_save(
        rule_set=draft,
        data={
            "code": "recife",
            "name": "Recife em dobro",
            "event_type": "cash_in",
            "points_kind": "multiplier",
            "points": Decimal("2"),
            "segment_id": recife.pk,
        },
    )
    simulation = Simulation.objects.create(
        rule_set=draft, period_start=date(2026, 3, 1), period_end=date(2026, 3, 31)
    )
    assert simulation_run(simulation_id=simulation.pk) == SimulationStatus.DONE
    simulation.refresh_from_db()
    costs = simulation.result["costs"]
    assert not LedgerEntry.objects.exists()
    # Doubled for Ana (Recife) only: 2 x 150 + 70.
    assert costs["draft"]["points"] == 370
    assert costs["live"]["points"] == 220
    RuleSet.objects.filter(status=RuleSetStatus.LIVE).update(status=RuleSetStatus.RETIRED)
    RuleSet.objects.filter(pk=draft.pk).update(status=RuleSetStatus.LIVE)
    events_earn(event_pks=[e.pk for e in events])
    assert LedgerEntry.objects.aggregate(s=Sum("points"))["s"] == costs["draft"]["points"]
    assert (points(ana), points(bia)) == (300, 70)


# --- validation, deletion, the editor ----------------------------------------------------------


def test_an_unknown_segment_is_refused_in_portuguese_by_save_and_the_live_check(udn_a, marketer, client_for):
    with tenant_context(udn_a):
        programme()
        draft = draft_get()
        data = {"code": "x", "name": "X", **SEGMENT_RULE, "segment_id": 987654}
        assert rule_errors(data, rule_set=draft) == {"segment_id": UNKNOWN_SEGMENT}
        with pytest.raises(LoyaltyInvalid) as refused:
            rule_save(rule_set=draft, data=data)
        assert refused.value.errors == {"segment_id": UNKNOWN_SEGMENT}
        assert not draft.rules.exists()
        recife = segment_save(name="Recife", definition=RECIFE, by="t")
        assert rule_errors({**data, "segment_id": recife.pk}, rule_set=draft) == {}
    client = client_for(udn_a, marketer)
    form = {
        "code": "x",
        "name": "X",
        "event_type": "cash_in",
        "points_kind": "fixed",
        "points": "10",
        "limit_count": "1",
        "segment_id": "987654",
    }
    checked = client.post("/loyalty/rules/validate/", form).content.decode()
    assert UNKNOWN_SEGMENT in checked
    saved = client.post("/loyalty/rules/add/", form)
    assert saved.status_code == 400 and UNKNOWN_SEGMENT in saved.content.decode()
    with tenant_context(udn_a):
        assert not Rule.objects.filter(rule_set__status=RuleSetStatus.DRAFT).exists()


def test_a_draft_rule_keeps_its_segment_from_deletion(udn):
    programme()
    recife = segment_save(name="Recife", definition=RECIFE, by="t")
    rule_save(
        rule_set=draft_get(), data={"code": "r", "name": "Só Recife", **SEGMENT_RULE, "segment_id": recife.pk}
    )
    with pytest.raises(SegmentInUse) as refused:
        segment_delete(segment=recife)
    assert "Regra de fidelidade “Só Recife” (rascunho)" in refused.value.message
    Rule.objects.all().delete()
    segment_delete(segment=recife)
    assert not Segment.objects.exists()


def test_the_editor_offers_the_udns_segments_and_saves_the_chosen_one(udn_a, marketer, client_for):
    with tenant_context(udn_a):
        programme()
        recife = segment_save(name="Recife", definition=RECIFE, by="t")
    client = client_for(udn_a, marketer)
    html = client.get("/loyalty/rules/").content.decode()
    assert '<label for="id_segment_id">Segmento</label>' in html
    assert '<select name="segment_id" aria-describedby="id_segment_id_helptext" id="id_segment_id">' in html
    assert '<option value="" selected>Qualquer afiliado</option>' in html
    assert f'<option value="{recife.pk}">Recife</option>' in html
    saved = client.post(
        "/loyalty/rules/add/",
        {
            "code": "recife",
            "name": "Só Recife",
            "event_type": "cash_in",
            "points_kind": "fixed",
            "points": "10",
            "limit_count": "1",
            "segment_id": str(recife.pk),
        },
    )
    assert saved.status_code == 302
    with tenant_context(udn_a):
        rule = Rule.objects.get(code="recife")
        assert rule.segment_id == recife.pk
    edit = client.get(f"/loyalty/rules/{rule.pk}/").content.decode()
    assert f'<option value="{recife.pk}" selected>Recife</option>' in edit
    assert "Segmento: Recife" in client.get("/loyalty/rules/").content.decode()
