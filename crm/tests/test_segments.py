"""Segments: the conditions' schema and its errors, the compilation to one SQL query checked
against a known base (each operator, time windows, nesting, NOT, "in segment X"), cycles
refused, and the kept membership of tracked segments (entering, leaving, timeline, hook)."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.utils import timezone
from django.utils.translation import override
from django_tenants.utils import tenant_context

from crm import hooks
from crm.models import Affiliate, DepositTier, Event, Segment, SegmentMembership
from crm.segmentation import SegmentInvalid, definition_parse, describe
from crm.selectors.segments import segment_count, segment_members, segment_sql
from crm.services.events import EventInput, events_ingest
from crm.services.segments import (
    segment_members_refresh,
    segment_save,
    segments_concerned,
    segments_refresh,
    segments_refresh_affiliates,
)
from tenants.models import UDN

NOW = datetime(2026, 6, 10, 12, 0, tzinfo=timezone.get_fixed_timezone(-180))


def tree(*conditions: dict, op: str = "and") -> dict:
    return {"version": 1, "root": {"kind": "group", "op": op, "conditions": list(conditions)}}


def event(affiliate: Affiliate, kind: str, *, days_ago: float = 0, amount: str | None = None) -> None:
    Event.objects.create(
        event_id=f"{affiliate.external_id}-{kind}-{days_ago}-{amount}",
        affiliate=affiliate,
        type=kind,
        occurred_at=NOW - timedelta(days=days_ago),
        amount=Decimal(amount) if amount else None,
    )


@pytest.fixture
def base(udn_a):
    """Five affiliates whose differences each condition below picks out."""
    with tenant_context(udn_a), time_machine.travel(NOW, tick=False):
        DepositTier.objects.get_or_create(name="Ouro", defaults={"min_total": Decimal("1000")})
        ana = Affiliate.objects.create(
            external_id="S-ANA",
            name="Ana Souza",
            city="São Paulo",
            state="SP",
            stage="cash_in",
            tier="Ouro",
            tags=["vip", "app"],
            attributes={"course": "Investimentos", "score": 80},
            consent_whatsapp=True,
            plan_fee=Decimal("49.90"),
            birth_date=datetime(1990, 5, 1).date(),
        )
        bia = Affiliate.objects.create(
            external_id="S-BIA",
            name="Bia Lima",
            city="Recife",
            state="PE",
            stage="activated",
            tags=["app"],
            attributes={"course": "Saúde", "score": 40},
            consent_email=True,
        )
        caio = Affiliate.objects.create(
            external_id="S-CAIO",
            name="Caio Reis",
            city="sao paulo",
            state="SP",
            stage="app_downloaded",
        )
        davi = Affiliate.objects.create(external_id="S-DAVI", name="Davi Melo", city="Natal", stage="lead")
        eva = Affiliate.objects.create(
            external_id="S-EVA",
            name="Eva Dias",
            city="Recife",
            stage="cashout",
            tags=["vip"],
            plan_fee=Decimal("99.00"),
        )
        # Ana: 3 cash ins in the last 30 days (R$ 600), never a cashout.
        for days, amount in ((2, "100"), (10, "200"), (20, "300")):
            event(ana, "cash_in", days_ago=days, amount=amount)
        # Bia: 1 cash in in the window and 1 older (R$ 450 in all).
        event(bia, "cash_in", days_ago=5, amount="150")
        event(bia, "cash_in", days_ago=60, amount="300")
        # Caio: downloaded the app 3 days ago, never activated.
        event(caio, "app_downloaded", days_ago=3)
        # Davi: downloaded 2 days ago and activated 2 hours later; downloaded again an hour ago.
        event(davi, "app_downloaded", days_ago=2)
        event(davi, "app_activated", days_ago=2 - 2 / 24)
        # Eva: 2 cash ins (R$ 1.000) and a cashout.
        event(eva, "cash_in", days_ago=40, amount="400")
        event(eva, "cash_in", days_ago=1, amount="600")
        event(eva, "cashout", days_ago=1, amount="50")
        yield {"ana": ana, "bia": bia, "caio": caio, "davi": davi, "eva": eva}


def names(base, definition: dict) -> set[str]:
    with time_machine.travel(NOW, tick=False):
        found = {a.external_id for a in segment_members(definition=definition)}
        assert segment_count(definition=definition) == len(found)
    by_code = {a.external_id: key for key, a in base.items()}
    return {by_code[code] for code in found}


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"kind": "field", "field": "city", "operator": "eq", "value": "SAO PAULO"}, {"ana", "caio"}),
        ({"kind": "field", "field": "city", "operator": "ne", "value": "são paulo"}, {"bia", "davi", "eva"}),
        (
            {"kind": "field", "field": "city", "operator": "in", "value": ["Recife", "Natal"]},
            {"bia", "davi", "eva"},
        ),
        (
            {"kind": "field", "field": "city", "operator": "not_in", "value": ["recife"]},
            {"ana", "caio", "davi"},
        ),
        ({"kind": "field", "field": "name", "operator": "contains", "value": "li"}, {"bia"}),
        ({"kind": "field", "field": "name", "operator": "starts_with", "value": "e"}, {"eva"}),
        ({"kind": "field", "field": "state", "operator": "blank"}, {"davi", "eva"}),
        ({"kind": "field", "field": "state", "operator": "present"}, {"ana", "bia", "caio"}),
        ({"kind": "field", "field": "plan_fee", "operator": "gte", "value": "49,90"}, {"ana", "eva"}),
        ({"kind": "field", "field": "plan_fee", "operator": "lt", "value": "50"}, {"ana"}),
        ({"kind": "field", "field": "plan_fee", "operator": "blank"}, {"bia", "caio", "davi"}),
        ({"kind": "field", "field": "birth_date", "operator": "lt", "value": "01/01/2000"}, {"ana"}),
        ({"kind": "consent", "channel": "whatsapp", "value": True}, {"ana"}),
        ({"kind": "consent", "channel": "email", "value": False}, {"ana", "caio", "davi", "eva"}),
        ({"kind": "stage", "operator": "in", "value": ["lead", "cashout"]}, {"davi", "eva"}),
        ({"kind": "stage", "operator": "not_in", "value": ["lead"]}, {"ana", "bia", "caio", "eva"}),
        ({"kind": "stage", "operator": "reached", "value": "activated"}, {"ana", "bia", "eva"}),
        ({"kind": "tier", "operator": "in", "value": ["Ouro"]}, {"ana"}),
        ({"kind": "tier", "operator": "in", "value": [""]}, {"bia", "caio", "davi", "eva"}),
        ({"kind": "tags", "operator": "any", "value": ["vip", "nope"]}, {"ana", "eva"}),
        ({"kind": "tags", "operator": "all", "value": ["vip", "app"]}, {"ana"}),
        ({"kind": "tags", "operator": "none", "value": ["app"]}, {"caio", "davi", "eva"}),
        ({"kind": "attribute", "key": "course", "operator": "eq", "value": "saude"}, {"bia"}),
        ({"kind": "attribute", "key": "course", "operator": "present"}, {"ana", "bia"}),
        ({"kind": "attribute", "key": "course", "operator": "blank"}, {"caio", "davi", "eva"}),
        ({"kind": "attribute", "key": "course", "operator": "contains", "value": "invest"}, {"ana"}),
        ({"kind": "attribute", "key": "score", "operator": "gt", "value": 50}, {"ana"}),
        ({"kind": "attribute", "key": "score", "operator": "lte", "value": "40"}, {"bia"}),
    ],
)
def test_each_field_operator_picks_the_affiliates_it_says(base, condition, expected):
    assert names(base, tree(condition)) == expected


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        # "did cash_in at least 2 times in the last 30 days"
        ({"kind": "event", "type": "cash_in", "operator": "gte", "value": 2, "within_days": 30}, {"ana"}),
        # ever, at least 2 times
        ({"kind": "event", "type": "cash_in", "operator": "gte", "value": 2}, {"ana", "bia", "eva"}),
        # did it at all (in the window)
        (
            {"kind": "event", "type": "cash_in", "operator": "gte", "value": 1, "within_days": 30},
            {"ana", "bia", "eva"},
        ),
        (
            {"kind": "event", "type": "cash_in", "operator": "eq", "value": 1, "within_days": 30},
            {"bia", "eva"},
        ),
        # fewer than 2 (none included)
        (
            {"kind": "event", "type": "cash_in", "operator": "lt", "value": 2, "within_days": 30},
            {"bia", "caio", "davi", "eva"},
        ),
        # "never did cashout"
        ({"kind": "event", "type": "cashout", "operator": "eq", "value": 0}, {"ana", "bia", "caio", "davi"}),
        # "sum of cash_in amounts ≥ R$ 500"
        (
            {"kind": "event", "type": "cash_in", "measure": "sum", "operator": "gte", "value": "500"},
            {"ana", "eva"},
        ),
        (
            {
                "kind": "event",
                "type": "cash_in",
                "measure": "sum",
                "operator": "gte",
                "value": "500",
                "within_days": 30,
            },
            {"ana", "eva"},
        ),
        (
            {"kind": "event", "type": "cash_in", "measure": "sum", "operator": "lt", "value": "500"},
            {"bia", "caio", "davi"},
        ),
        (
            {
                "kind": "event",
                "type": "cash_in",
                "measure": "sum",
                "operator": "lt",
                "value": "500",
                "within_days": 30,
            },
            {"bia", "caio", "davi"},
        ),
        # "app_downloaded but no app_activated within 24 h of it"
        (
            {"kind": "sequence", "type": "app_downloaded", "then": "app_activated", "within_hours": 24},
            {"caio"},
        ),
        (
            {
                "kind": "sequence",
                "type": "app_downloaded",
                "then": "app_activated",
                "within_hours": 24,
                "followed": True,
            },
            {"davi"},
        ),
        # a window that leaves Caio's download out
        (
            {
                "kind": "sequence",
                "type": "app_downloaded",
                "then": "app_activated",
                "within_hours": 24,
                "within_days": 2,
            },
            set(),
        ),
    ],
)
def test_event_conditions_count_sum_and_time_windows(base, condition, expected):
    assert names(base, tree(condition)) == expected


def test_not_yet_activated_within_24h_waits_until_the_24h_have_passed(base, udn_a):
    with tenant_context(udn_a):
        event(base["davi"], "app_downloaded", days_ago=1 / 24)  # an hour ago: may still activate
        condition = {
            "kind": "sequence",
            "type": "app_downloaded",
            "then": "app_activated",
            "within_hours": 24,
        }
        assert names(base, tree(condition)) == {"caio"}


def test_nesting_or_inside_and_and_not(base):
    definition = tree(
        {"kind": "stage", "operator": "reached", "value": "activated"},
        {
            "kind": "group",
            "op": "or",
            "conditions": [
                {"kind": "field", "field": "city", "operator": "eq", "value": "Recife"},
                {"kind": "tags", "operator": "all", "value": ["vip", "app"]},
            ],
        },
        {"kind": "not", "condition": {"kind": "event", "type": "cashout", "operator": "gte", "value": 1}},
    )
    assert names(base, definition) == {"ana", "bia"}
    # NOT over a group, and NOT over a field whose value is missing (NULL) still holds.
    assert names(base, tree({"kind": "not", "condition": definition["root"]})) == {"caio", "davi", "eva"}
    assert names(
        base,
        tree(
            {
                "kind": "not",
                "condition": {"kind": "field", "field": "plan_fee", "operator": "gt", "value": 60},
            }
        ),
    ) == {"ana", "bia", "caio", "davi"}


def test_in_segment_x_inlines_its_conditions_and_cycles_are_refused(base, udn_a):
    with tenant_context(udn_a), time_machine.travel(NOW, tick=False):
        cash = segment_save(
            name="Fizeram cash in",
            definition=tree({"kind": "event", "type": "cash_in", "operator": "gte", "value": 1}),
            by="t",
        )
        assert cash.member_count == 3 and cash.counted_at == NOW
        vip = segment_save(
            name="VIP com cash in",
            definition=tree(
                {"kind": "segment", "segment_id": cash.pk},
                {"kind": "tags", "operator": "any", "value": ["vip"]},
            ),
            by="t",
        )
        assert names(base, vip.definition) == {"ana", "eva"}
        assert vip.event_types == ["cash_in"] and vip.segment_refs == [cash.pk]
        outside = tree({"kind": "not", "condition": {"kind": "segment", "segment_id": vip.pk}})
        assert names(base, outside) == {"bia", "caio", "davi"}

        # cash → vip → cash: refused, and nothing changed.
        with pytest.raises(SegmentInvalid) as refused:
            segment_save(
                name="Fizeram cash in",
                definition=tree({"kind": "segment", "segment_id": vip.pk}),
                by="t",
                segment=cash,
            )
        assert refused.value.errors == [
            "Um segmento não pode incluir a si mesmo, nem diretamente nem por meio de outro segmento."
        ]
        with pytest.raises(SegmentInvalid):
            segment_save(
                name="Eu", definition=tree({"kind": "segment", "segment_id": cash.pk}), by="t", segment=cash
            )
        cash.refresh_from_db()
        assert cash.segment_refs == []
        # The segment's own SQL: one statement, values as parameters.
        sql, params = segment_sql(segment=vip)
        assert sql.startswith('SELECT "crm_affiliate".id FROM "crm_affiliate" WHERE') and "vip" not in sql
        assert "cash_in" in params and ["vip"] in params


def test_user_values_never_enter_the_sql_text(base, udn_a):
    nasty = "x'); DROP TABLE crm_affiliate; --"
    definition = tree(
        {"kind": "field", "field": "city", "operator": "contains", "value": nasty},
        {"kind": "attribute", "key": nasty, "operator": "eq", "value": "100%_"},
    )
    with tenant_context(udn_a):
        sql, params = segment_sql(definition=definition)
        assert "DROP" not in sql and "100" not in sql
        assert names(base, definition) == set()
        assert Affiliate.objects.count() == 5


def test_errors_name_the_condition_in_portuguese(base, udn_a):
    definition = tree(
        {"kind": "field", "field": "city", "operator": "eq", "value": "Recife"},
        {
            "kind": "group",
            "op": "or",
            "conditions": [
                {"kind": "event", "type": "nao_existe", "operator": "gte", "value": 1},
                {"kind": "field", "field": "birth_date", "operator": "lt", "value": "ontem"},
            ],
        },
        {"kind": "tier", "operator": "in", "value": ["Platina"]},
    )
    with tenant_context(udn_a), override("pt-br"), pytest.raises(SegmentInvalid) as invalid:
        segment_save(name="Com erros", definition=definition, by="t")
    assert invalid.value.errors == [
        "Condição 2.1 (evento nao_existe): tipo de evento desconhecido.",
        "Condição 2.2 (campo data de nascimento): informe uma data (dd/mm/aaaa).",
        "Condição 3 (faixa): faixa desconhecida.",
    ]
    with tenant_context(udn_a), override("pt-br"):
        for bad, message in [
            ({"version": 2, "root": {}}, "Versão desconhecida do formato de segmento (esperada 1)."),
            (tree(), "Adicione ao menos uma condição."),
        ]:
            with pytest.raises(SegmentInvalid) as invalid:
                segment_save(name="X", definition=bad, by="t")
            assert invalid.value.errors == [message]
        with pytest.raises(SegmentInvalid) as invalid:
            segment_save(name="", definition=tree({"kind": "segment", "segment_id": 999999}), by="t")
        assert invalid.value.errors == ["Dê um nome ao segmento.", "O segmento 999999 não existe."]
        assert not Segment.objects.exists()


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"kind": "tags", "operator": "any", "value": ["vip", "sp"]}, "tem alguma das tags vip, sp"),
        ({"kind": "tags", "operator": "all", "value": ["vip", "sp"]}, "tem todas as tags vip, sp"),
        ({"kind": "tags", "operator": "none", "value": ["vip", "sp"]}, "não tem nenhuma das tags vip, sp"),
        (
            {"kind": "stage", "operator": "in", "value": ["cash_in", "cashout"]},
            "estágio é um destes: Cash in, Cashout",
        ),
        (
            {"kind": "stage", "operator": "not_in", "value": ["lead"]},
            "estágio não é nenhum destes: Lead",
        ),
        (
            {"kind": "stage", "operator": "reached", "value": ["activated"]},
            "estágio Ativado ou posterior",
        ),
        (
            {"kind": "tier", "operator": "in", "value": ["Ouro", ""]},
            "faixa é uma destas: Ouro, (sem faixa)",
        ),
        ({"kind": "tier", "operator": "not_in", "value": ["Ouro"]}, "faixa não é nenhuma destas: Ouro"),
        (
            {"kind": "field", "field": "city", "operator": "in", "value": ["Recife", "Olinda"]},
            "campo cidade é um destes: Recife, Olinda",
        ),
        (
            {"kind": "field", "field": "city", "operator": "not_in", "value": ["Recife"]},
            "campo cidade não é nenhum destes: Recife",
        ),
        # Not a list: the name alone, as in the errors.
        ({"kind": "field", "field": "city", "operator": "eq", "value": "Recife"}, "campo cidade"),
    ],
)
def test_describe_says_whether_a_list_condition_means_any_all_or_none(condition, expected):
    """Every list operator the parser accepts (tags any/all/none, stage in/not_in/reached, tier
    and text fields in/not_in) is read back with its meaning, for a branch's reason."""
    with override("pt-br"):
        assert describe(condition, values=True) == expected
        definition_parse(tree(condition), event_types=set(), tiers={"Ouro"})  # valid as written
        if isinstance(condition["value"], list):
            assert describe(condition) == describe({"kind": condition["kind"], "field": "city"})


# --- kept membership ----------------------------------------------------------------------------


@pytest.fixture
def heard():
    received: list[hooks.SegmentMembershipChanged] = []
    hooks.segment_membership_changed.subscribe(received.extend)
    yield received
    hooks.segment_membership_changed.unsubscribe(received.extend)


def test_membership_refresh_enters_and_leaves_with_timeline_events_and_the_hook(
    base, udn_a, heard, django_capture_on_commit_callbacks
):
    with tenant_context(udn_a), time_machine.travel(NOW, tick=False):
        with django_capture_on_commit_callbacks(execute=False):
            whatsapp = segment_save(
                name="Aceitam WhatsApp",
                definition=tree({"kind": "consent", "channel": "whatsapp", "value": True}),
                by="t",
                tracked=True,
            )
        with django_capture_on_commit_callbacks(execute=True):
            changes = segment_members_refresh(segment=whatsapp)
        assert [(c.affiliate_id, c.entered) for c in changes] == [(base["ana"].pk, True)]
        assert [(c.segment_id, c.affiliate_id, c.entered) for c in heard] == [
            (whatsapp.pk, base["ana"].pk, True)
        ]
        assert list(SegmentMembership.objects.values_list("affiliate_id", "entered_at")) == [
            (base["ana"].pk, NOW)
        ]
        entered = Event.objects.get(type="segment_entered")
        assert (entered.affiliate_id, entered.properties["segment_id"], entered.source) == (
            base["ana"].pk,
            whatsapp.pk,
            "segment",
        )
        # Nothing changed: nothing happens.
        assert segment_members_refresh(segment=whatsapp) == []

    later = NOW + timedelta(minutes=5)
    with tenant_context(udn_a), time_machine.travel(later, tick=False):
        Affiliate.objects.filter(pk=base["ana"].pk).update(consent_whatsapp=False)
        Affiliate.objects.filter(pk=base["bia"].pk).update(consent_whatsapp=True)
        heard.clear()
        with django_capture_on_commit_callbacks(execute=True):
            assert segments_refresh() == 2
        assert sorted((c.affiliate_id, c.entered) for c in heard) == [
            (base["ana"].pk, False),
            (base["bia"].pk, True),
        ]
        assert list(SegmentMembership.objects.values_list("affiliate_id", flat=True)) == [base["bia"].pk]
        left = Event.objects.get(type="segment_left")
        assert (left.affiliate_id, left.occurred_at, left.properties["segment_id"]) == (
            base["ana"].pk,
            later,
            whatsapp.pk,
        )
        whatsapp.refresh_from_db()
        assert (whatsapp.member_count, whatsapp.refreshed_at) == (1, later)


def test_an_untracked_segment_keeps_no_members(base, udn_a):
    with tenant_context(udn_a):
        plain = segment_save(
            name="Todos SP",
            definition=tree({"kind": "field", "field": "state", "operator": "eq", "value": "SP"}),
            by="t",
        )
        assert segment_members_refresh(segment=plain) == []
        assert not SegmentMembership.objects.exists()


def test_hooks_route_changes_to_the_tracked_segments_that_mention_them(
    base, udn_a, django_capture_on_commit_callbacks
):
    with tenant_context(udn_a), time_machine.travel(NOW, tick=False):
        with django_capture_on_commit_callbacks(execute=False):
            cashout = segment_save(
                name="Nunca sacaram",
                definition=tree({"kind": "event", "type": "cashout", "operator": "eq", "value": 0}),
                by="t",
                tracked=True,
            )
            email = segment_save(
                name="Aceitam e-mail",
                definition=tree({"kind": "consent", "channel": "email", "value": True}),
                by="t",
                tracked=True,
            )
            by_city = segment_save(
                name="Recife",
                definition=tree({"kind": "field", "field": "city", "operator": "eq", "value": "Recife"}),
                by="t",
                tracked=True,
            )
        assert segments_concerned(event_types={"cashout"}) == [cashout.pk]
        assert segments_concerned(event_types={"app_opened"}) == []
        assert segments_concerned(fields={"consent_email"}) == [email.pk]
        assert segments_concerned(fields={"city"}) == [by_city.pk]
        segments_refresh()
        assert set(
            SegmentMembership.objects.filter(segment=cashout).values_list("affiliate_id", flat=True)
        ) == {base[k].pk for k in ("ana", "bia", "caio", "davi")}

        # What the listeners' task runs: only those affiliates, only those segments.
        Event.objects.create(event_id="ana-out", affiliate=base["ana"], type="cashout", occurred_at=NOW)
        Affiliate.objects.filter(pk=base["caio"].pk).update(consent_email=True)
        segments_refresh_affiliates(segment_ids=[cashout.pk], affiliate_ids=[base["ana"].pk])
        segments_refresh_affiliates(segment_ids=[email.pk, by_city.pk], affiliate_ids=[base["caio"].pk])
        assert not SegmentMembership.objects.filter(segment=cashout, affiliate=base["ana"]).exists()
        assert SegmentMembership.objects.filter(segment=email, affiliate=base["caio"]).exists()
        assert Event.objects.filter(type="segment_left", affiliate=base["ana"]).count() == 1


@pytest.mark.worker
def test_an_event_refreshes_the_tracked_segment_through_the_hook_and_the_real_worker(
    django_db_setup, committed, celery_worker_process
):
    """events_ingest → hooks.events_stored (after the commit) → the task on the real worker →
    the affiliate leaves "never cashed out", with the timeline event and the journeys' hook."""
    alpha = UDN.objects.get(slug="alpha")

    def cleanup() -> None:
        with tenant_context(alpha):
            Segment.objects.filter(name="Nunca sacaram (worker)").delete()
            Affiliate.objects.filter(external_id__startswith="SW-").delete()

    committed.append(cleanup)
    with tenant_context(alpha):
        ana = Affiliate.objects.create(external_id="SW-1", name="Ana Worker")
        segment = segment_save(
            name="Nunca sacaram (worker)",
            definition=tree({"kind": "event", "type": "cashout", "operator": "eq", "value": 0}),
            by="t",
            tracked=True,
        )
        segment_members_refresh(segment=segment)
        assert SegmentMembership.objects.filter(segment=segment, affiliate=ana).exists()

        outcome = events_ingest(
            items=[
                EventInput(
                    event_id="sw-out",
                    type="cashout",
                    occurred_at=timezone.now(),
                    affiliate_id=ana.pk,
                    properties={"amount": "10"},
                )
            ],
            source="test",
        )[0]
        assert outcome.accepted
        deadline = time.monotonic() + 60
        while (
            SegmentMembership.objects.filter(segment=segment, affiliate=ana).exists()
            and time.monotonic() < deadline
        ):
            time.sleep(0.1)  # waiting for another process, not for the clock
        assert not SegmentMembership.objects.filter(segment=segment, affiliate=ana).exists()
        left = Event.objects.get(affiliate=ana, type="segment_left")
        assert left.properties["segment_id"] == segment.pk


def test_the_refresh_is_one_statement_whatever_the_base(base, udn_a, django_assert_max_num_queries):
    with tenant_context(udn_a), time_machine.travel(NOW, tick=False):
        segment = segment_save(
            name="Cash in recente",
            definition=tree(
                {"kind": "event", "type": "cash_in", "operator": "gte", "value": 1, "within_days": 30}
            ),
            by="t",
            tracked=True,
        )
        with django_assert_max_num_queries(9):  # lock, conditions' vocabulary, the statement, count
            changes = segment_members_refresh(segment=segment)
        assert len(changes) == 3
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM crm_event WHERE type = 'segment_entered'")
            assert cursor.fetchone() == (3,)


def test_a_refresh_of_some_affiliates_reads_only_their_events(base, udn_a):
    """The grouped pass of a count condition narrows to the affiliates refreshed (a hook's refresh
    after one affiliate's event must not aggregate the whole base's events)."""
    with tenant_context(udn_a), time_machine.travel(NOW, tick=False):
        segment = segment_save(
            name="Dois cash ins",
            definition=tree({"kind": "event", "type": "cash_in", "operator": "gte", "value": 2}),
            by="t",
            tracked=True,
        )
        from crm.selectors.segments import segment_where

        where, params = segment_where(segment=segment, only_ids=[base["bia"].pk])
        assert "affiliate_id = ANY(" in where and [base["bia"].pk] in params
        changes = segment_members_refresh(segment=segment, affiliate_ids=[base["bia"].pk, base["caio"].pk])
        assert [(c.affiliate_id, c.entered) for c in changes] == [(base["bia"].pk, True)]
        assert segment_members_refresh(segment=segment) != []  # the others (Ana, Eva) on the full refresh
        assert set(SegmentMembership.objects.values_list("affiliate_id", flat=True)) == {
            base["ana"].pk,
            base["bia"].pk,
            base["eva"].pk,
        }
