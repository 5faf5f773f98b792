"""The event timeline: idempotent ingest, per-item outcomes, stage and tier derivation."""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import pytest
from django.db import connection
from django.db.models import Sum
from django.utils import timezone
from django_tenants.utils import tenant_context

from crm import hooks, lifecycle
from crm.models import STAGE_ORDER, Affiliate, DepositTier, Event, EventKind, EventType
from crm.services.events import (
    MONEY_EVENT_TYPES,
    EventInput,
    affiliates_refresh_derived,
    event_record,
    event_types_known,
    events_ingest,
    ingest,
    tiers_recompute,
)
from crm.tests.factories import AffiliateFactory
from tenants.models import UDN

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.get_fixed_timezone(-180))


def ev(event_id: str, kind: str, affiliate: Affiliate, *, minutes: int = 0, **properties) -> EventInput:
    return EventInput(
        event_id=event_id,
        type=kind,
        occurred_at=T0 + timedelta(minutes=minutes),
        affiliate_id=affiliate.pk,
        properties=properties,
    )


@pytest.fixture
def in_a(udn_a):
    with tenant_context(udn_a):
        yield udn_a


@pytest.fixture
def joana(in_a) -> Affiliate:
    return Affiliate.objects.create(external_id="A-1", name="Joana da Silva", cpf="52998224725")


def test_the_same_event_id_twice_is_a_duplicate_and_stored_once(joana):
    first = event_record(item=ev("e-1", "lead_created", joana), source="api")
    again = event_record(item=ev("e-1", "lead_created", joana, minutes=5), source="api")

    assert first.status == "accepted" and first.pk is not None
    assert again.status == "duplicate" and again.code == "duplicate"
    assert Event.objects.filter(event_id="e-1").count() == 1
    assert Event.objects.get(event_id="e-1").occurred_at == T0


def test_a_batch_gets_one_outcome_per_item_in_order_and_keeps_the_good_ones(joana):
    event_record(item=ev("old", "lead_created", joana), source="api")
    items = [
        ev("g-1", "registration_started", joana, minutes=1),
        ev("bad-type", "teleported", joana),
        ev("old", "lead_created", joana),  # already stored
        ev("g-2", "cash_in", joana, minutes=2, amount="150.00"),
        ev("g-1", "registration_started", joana, minutes=9),  # twice in this batch
        ev("bad-money", "cashout", joana, minutes=3, amount=-10),
        EventInput(event_id="nobody", type="lead_created", occurred_at=T0, external_id="NOPE"),
    ]

    outcomes = events_ingest(items=items, source="app-backend")

    assert [(o.event_id, o.status, o.code) for o in outcomes] == [
        ("g-1", "accepted", ""),
        ("bad-type", "rejected", "unknown_type"),
        ("old", "duplicate", "duplicate"),
        ("g-2", "accepted", ""),
        ("g-1", "duplicate", "duplicate_in_batch"),
        ("bad-money", "rejected", "amount_not_positive"),
        ("nobody", "rejected", "affiliate_not_found"),
    ]
    assert outcomes.tally() == {"accepted": 2, "duplicate": 2, "rejected": 3}
    stored = dict(Event.objects.values_list("event_id", "source"))
    assert stored == {"old": "api", "g-1": "app-backend", "g-2": "app-backend"}
    assert Event.objects.get(event_id="g-2").amount == Decimal("150.00")


def test_unknown_types_are_rejected_until_registered_as_an_event_kind(joana):
    item = ev("w-1", "webinar_attended", joana)
    assert event_record(item=item, source="cursos").code == "unknown_type"

    EventKind.objects.create(code="webinar_attended", label="Webinar assistido")

    assert "webinar_attended" in event_types_known()
    outcome = event_record(item=item, source="cursos")
    assert outcome.status == "accepted"
    joana.refresh_from_db()
    assert joana.stage == "lead"  # custom kinds do not move the stage


@pytest.mark.parametrize(
    ("amount", "code"),
    [
        (None, "amount_required"),
        ("", "amount_required"),
        ("dez reais", "amount_invalid"),
        (True, "amount_invalid"),
        ("NaN", "amount_invalid"),
        (0, "amount_not_positive"),
        ("-5.00", "amount_not_positive"),
        ("10.005", "amount_precision"),
        ("1e15", "amount_too_large"),
    ],
)
def test_money_events_need_a_positive_amount_and_say_which_field(joana, amount, code):
    properties = {} if amount is None else {"amount": amount}
    outcome = event_record(item=ev("m-1", "cash_in", joana, **properties), source="pagamentos")

    assert (outcome.status, outcome.code, outcome.field) == ("rejected", code, "properties.amount")
    assert not Event.objects.exists()


@pytest.mark.parametrize(
    ("amount", "stored"), [("19,90", "19.90"), (120, "120.00"), (0.1, "0.10"), ("7.5", "7.50")]
)
def test_money_amounts_are_stored_as_decimals_with_two_places(joana, amount, stored):
    outcome = event_record(item=ev("m-1", "cashback", joana, amount=amount), source="pagamentos")

    assert outcome.status == "accepted"
    assert Event.objects.get().amount == Decimal(stored)


def test_expected_properties_are_soft_the_event_is_kept_with_a_warning(joana):
    outcome = event_record(item=ev("c-1", "consultation_scheduled", joana), source="agenda")
    fine = event_record(
        item=ev("c-2", "consultation_scheduled", joana, specialty="pediatria"), source="agenda"
    )

    assert outcome.status == "accepted" and outcome.warnings == ("properties.specialty",)
    assert fine.status == "accepted" and fine.warnings == ()


def test_naive_or_far_future_times_are_rejected(joana):
    naive = EventInput(
        event_id="n", type="lead_created", occurred_at=datetime(2026, 1, 1), affiliate_id=joana.pk
    )
    future = EventInput(
        event_id="f",
        type="lead_created",
        occurred_at=timezone.now() + timedelta(days=2),
        affiliate_id=joana.pk,
    )

    outcomes = events_ingest(items=[naive, future], source="api")

    assert [(o.code, o.field) for o in outcomes] == [
        ("occurred_at_invalid", "occurred_at"),
        ("occurred_at_future", "occurred_at"),
    ]


def test_affiliates_are_found_by_external_id_or_cpf_and_an_ambiguous_cpf_is_refused(joana):
    Affiliate.objects.create(external_id="B-1", name="Gêmeo 1", cpf="11144477735")
    Affiliate.objects.create(external_id="B-2", name="Gêmeo 2", cpf="11144477735")
    items = [
        EventInput(event_id="x-1", type="lead_created", occurred_at=T0, external_id="A-1"),
        EventInput(event_id="x-2", type="form_completed", occurred_at=T0, cpf="529.982.247-25"),
        EventInput(event_id="x-3", type="lead_created", occurred_at=T0, cpf="111.444.777-35"),
        EventInput(event_id="x-4", type="lead_created", occurred_at=T0, cpf="123"),
        EventInput(event_id="x-5", type="lead_created", occurred_at=T0),
    ]

    outcomes = events_ingest(items=items, source="api")

    assert [(o.status, o.code, o.affiliate_id) for o in outcomes] == [
        ("accepted", "", joana.pk),
        ("accepted", "", joana.pk),
        ("rejected", "affiliate_ambiguous", None),
        ("rejected", "cpf_invalid", None),
        ("rejected", "affiliate_required", None),
    ]


def _journey(affiliate: Affiliate) -> list[EventInput]:
    return [
        ev("j-lead", "lead_created", affiliate, minutes=0),
        ev("j-reg", "registration_started", affiliate, minutes=10),
        ev("j-form", "form_completed", affiliate, minutes=20),
        ev("j-acct", "account_opened", affiliate, minutes=30),
        ev("j-down", "app_downloaded", affiliate, minutes=60),
        ev("j-act", "app_activated", affiliate, minutes=70),
        ev("j-cash1", "cash_in", affiliate, minutes=100, amount="300.00"),
        ev("j-cons", "consultation_scheduled", affiliate, minutes=110, specialty="cardiologia"),
        ev("j-cash2", "cash_in", affiliate, minutes=120, amount="250.50"),
    ]


def test_stage_is_the_furthest_reached_whatever_order_the_events_arrive_in(joana):
    items = _journey(joana)
    random.Random(7).shuffle(items)
    for item in items:  # one at a time, out of order
        event_record(item=item, source="api")

    joana.refresh_from_db()
    assert joana.stage == "cash_in"
    assert joana.stage_changed_at == T0 + timedelta(minutes=100)  # the first event that reached it
    assert joana.total_cash_in == Decimal("550.50")
    assert joana.tier == "Prata"


def test_a_late_older_event_never_moves_the_stage_back(joana):
    event_record(item=ev("late-act", "app_activated", joana, minutes=70), source="app")
    event_record(item=ev("late-reg", "registration_started", joana, minutes=10), source="api")
    event_record(item=ev("late-act-2", "app_activated", joana, minutes=200), source="app")

    joana.refresh_from_db()
    assert joana.stage == "activated"
    assert joana.stage_changed_at == T0 + timedelta(minutes=70)


def test_an_older_event_of_the_same_stage_moves_stage_changed_at_earlier(joana):
    event_record(item=ev("d-2", "app_downloaded", joana, minutes=90), source="app")
    event_record(item=ev("d-1", "app_downloaded", joana, minutes=40), source="app")

    joana.refresh_from_db()
    assert (joana.stage, joana.stage_changed_at) == ("app_downloaded", T0 + timedelta(minutes=40))


def test_moving_forward_from_the_new_events_agrees_with_a_recompute_from_the_whole_timeline(in_a):
    """Ingest advances the derived fields from each batch's new events alone; whatever the
    batches, their order and the repeats, a full recompute from the timeline finds nothing to fix."""
    people = AffiliateFactory.create_batch(12)
    kinds = [
        "lead_created",
        "registration_started",
        "app_downloaded",
        "app_activated",
        "cash_in",
        "cashback",
        "cashout",
        "consultation_scheduled",
    ]
    rng = random.Random(11)
    items = []
    for i in range(400):
        kind = rng.choice(kinds)
        money = (
            {"amount": f"{rng.randint(1, 900)}.{rng.randint(0, 99):02d}"}
            if kind in {"cash_in", "cashback", "cashout"}
            else {}
        )
        items.append(ev(f"r-{i}", kind, rng.choice(people), minutes=rng.randint(0, 5000), **money))
    items += rng.sample(items, 40)  # repeats: duplicates, never counted twice
    rng.shuffle(items)
    while items:
        size = rng.randint(1, 60)
        batch, items = items[:size], items[size:]
        events_ingest(items=batch, source="api")

    assert Affiliate.objects.exclude(stage="lead").exists()
    assert affiliates_refresh_derived().changed == 0


DERIVED = ("id", "stage", "stage_changed_at", "total_cash_in", "tier")


def _derived_by_the_rules() -> list[tuple]:
    """crm.lifecycle.derive over each affiliate's stored timeline: the plain definition."""
    bands = list(DepositTier.objects.values_list("min_total", "name"))
    timelines: dict[int, list] = {pk: [] for pk in Affiliate.objects.values_list("id", flat=True)}
    for pk, kind, at, amount in Event.objects.values_list("affiliate_id", "type", "occurred_at", "amount"):
        timelines[pk].append((kind, at, amount))
    rows = []
    for pk, timeline in sorted(timelines.items()):
        derived = lifecycle.derive(timeline, bands)
        rows.append((pk, derived.stage, derived.stage_changed_at, derived.total_cash_in, derived.tier))
    return rows


def _stored_derived() -> list[tuple]:
    return list(Affiliate.objects.order_by("id").values_list(*DERIVED))


SUBSCRIPTION_TYPES = (
    EventType.PAYMENT_FAILED,
    EventType.SUBSCRIPTION_RENEWED,
    EventType.SUBSCRIPTION_CANCELLED,
)


def _varied_history(people: list[Affiliate], rng: random.Random) -> list[EventInput]:
    """Every event type (a custom one too), people stopping at every stage, money in every band,
    several events of one stage (some at the same minute), repeats; the last three get nothing."""
    EventKind.objects.create(code="webinar_attended", label="Webinar")
    items, subscription_events = [], []
    for n, person in enumerate(people[:-3]):
        ceiling = n % len(STAGE_ORDER)  # the furthest stage this person's events may reach
        kinds = [
            kind
            for kind in [*EventType.values, "webinar_attended"]
            if lifecycle.RANK_BY_EVENT_TYPE.get(kind, 0) <= ceiling and kind not in SUBSCRIPTION_TYPES
        ]
        # The subscription types (added later, no stage, no money) once each, outside the random
        # draw, so the history's stages and deposit bands stay the ones the seed gave.
        subscription_events += [ev(f"s-{n}-{kind}", kind, person, minutes=n) for kind in SUBSCRIPTION_TYPES]
        kinds += (
            [lifecycle.CASH_IN_TYPE] * 4 if lifecycle.CASH_IN_TYPE in kinds else []
        )  # deposits: every band
        for i in range(rng.randint(5, 40)):
            kind = rng.choice(kinds) if i else lifecycle.STAGE_RULES[ceiling].event_types[0]  # it reaches it
            money = {"amount": f"{rng.choice([3, 40, 150, 400, 1500])}.{rng.randint(0, 99):02d}"}
            minutes = rng.randint(0, 60) * 5
            extra = money if kind in MONEY_EVENT_TYPES else {}
            items.append(ev(f"v-{n}-{i}", kind, person, minutes=minutes, **extra))
    return items + rng.sample(items, 50) + subscription_events


def test_ingest_and_both_refreshes_derive_what_the_lifecycle_rules_say(in_a):
    """One specification (crm.lifecycle), three generated statements: the ingest's forward move,
    the per-affiliate refresh and the full refresh each end where `derive` says, on a varied history."""
    DepositTier.objects.create(name="Diamante", min_total=Decimal("3000.00"))
    people = AffiliateFactory.create_batch(20)
    rng = random.Random(5)
    items = _varied_history(people, rng)
    rng.shuffle(items)
    while items:
        size = rng.randint(1, 80)
        batch, items = items[:size], items[size:]
        events_ingest(items=batch, source="api")
    truth = _derived_by_the_rules()
    assert _stored_derived() == truth  # the ingest path
    assert {row[1] for row in truth} == set(STAGE_ORDER)
    assert {row[4] for row in truth} == {"", "Bronze", "Prata", "Ouro", "Diamante"}
    assert sum(1 for row in truth if row[2] is None) == 3

    some = [row[0] for row in truth[::2]]
    Affiliate.objects.update(stage="cashout", stage_changed_at=T0, total_cash_in=Decimal("9.99"), tier="Ouro")
    assert int(affiliates_refresh_derived(affiliate_ids=some)) == len(some)
    assert [row for row in _stored_derived() if row[0] in some] == [row for row in truth if row[0] in some]

    assert int(affiliates_refresh_derived()) == len(truth) - len(some)  # the full refresh
    assert _stored_derived() == truth


def test_the_array_variant_derives_what_the_lifecycle_rules_say(in_a):
    """crm.lifecycle.derive_arrays (the demo's) against `derive`, on the same varied history."""
    people = AffiliateFactory.create_batch(20)
    events_ingest(items=_varied_history(people, random.Random(6)), source="api")
    ids = [pk for pk, *_rest in _stored_derived()]
    index = {pk: i for i, pk in enumerate(ids)}
    rows = list(Event.objects.values_list("affiliate_id", "type", "occurred_at", "amount"))
    kinds = sorted({kind for _pk, kind, _at, _amount in rows})
    bands = list(DepositTier.objects.values_list("min_total", "name"))
    derived = lifecycle.derive_arrays(
        n=len(ids),
        owner=np.array([index[pk] for pk, *_rest in rows]),
        kind=np.array([kinds.index(kind) for _pk, kind, _at, _amount in rows]),
        kinds=kinds,
        at=np.array([int(at.timestamp()) for _pk, _kind, at, _amount in rows]),
        cents=np.array([int(amount * 100) if amount is not None else -1 for *_rest, amount in rows]),
        bands=bands,
    )
    got = [
        (
            pk,
            STAGE_ORDER[derived.rank[i]],
            None if derived.reached_at[i] < 0 else datetime.fromtimestamp(int(derived.reached_at[i]), UTC),
            Decimal(int(derived.total[i])) / 100,
            derived.tier[i],
        )
        for i, pk in enumerate(ids)
    ]
    assert got == _derived_by_the_rules()


def test_the_tier_follows_cash_in_and_is_recomputed_when_the_bands_change(joana):
    event_record(item=ev("t-1", "cash_in", joana, amount="100.00"), source="pagamentos")
    joana.refresh_from_db()
    assert (joana.total_cash_in, joana.tier) == (Decimal("100.00"), "Bronze")

    event_record(item=ev("t-2", "cash_in", joana, minutes=1, amount="1900.00"), source="pagamentos")
    event_record(item=ev("t-3", "cashout", joana, minutes=2, amount="500.00"), source="pagamentos")
    joana.refresh_from_db()
    assert (joana.total_cash_in, joana.tier, joana.stage) == (Decimal("2000.00"), "Ouro", "cashout")

    DepositTier.objects.filter(name="Ouro").update(min_total=Decimal("5000.00"))
    DepositTier.objects.create(name="Diamante", min_total=Decimal("10000.00"))
    assert tiers_recompute() == 1
    joana.refresh_from_db()
    assert joana.tier == "Prata"


def test_no_cash_in_means_no_tier(joana):
    event_record(item=ev("cb", "cashback", joana, amount="5.00"), source="pagamentos")
    joana.refresh_from_db()
    assert (joana.total_cash_in, joana.tier) == (Decimal("0.00"), "")


def test_stage_changes_are_reported_and_listeners_hear_them_after_commit(
    joana, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr(hooks.stage_changed, "listeners", [])
    heard = []
    hooks.stage_changed.subscribe(heard.extend)
    other = Affiliate.objects.create(external_id="A-2", name="Pedro Alves")

    with django_capture_on_commit_callbacks(execute=True):
        outcomes = events_ingest(
            items=[
                ev("s-1", "account_opened", joana, minutes=5),
                ev("s-2", "lead_created", joana),
                ev("s-3", "consultation_scheduled", other, specialty="pediatria"),
            ],
            source="api",
        )
        assert heard == []  # nothing before the commit

    changes = [(c.affiliate_id, c.old_stage, c.new_stage) for c in outcomes.stage_changes]
    assert changes == [(joana.pk, "lead", "registered")]
    assert [(c.affiliate_id, c.new_stage) for c in heard] == [(joana.pk, "registered")]
    # The same event again is a duplicate and changes nothing.
    again = events_ingest(items=[ev("s-1", "account_opened", joana, minutes=5)], source="api")
    assert again.stage_changes == []


def test_a_full_refresh_recomputes_derived_fields_from_the_events(joana):
    for item in _journey(joana)[:5]:
        event_record(item=item, source="api")
    Affiliate.objects.filter(pk=joana.pk).update(stage="lead", tier="Ouro", total_cash_in=Decimal("9.99"))

    result = affiliates_refresh_derived()

    assert result.changed == 1
    assert [(c.old_stage, c.new_stage) for c in result.stage_changes] == [("lead", "app_downloaded")]
    joana.refresh_from_db()
    assert (joana.stage, joana.tier, joana.total_cash_in) == ("app_downloaded", "", Decimal("0.00"))
    assert affiliates_refresh_derived().changed == 0


def test_a_batch_of_a_thousand_takes_one_statement(in_a, django_assert_max_num_queries, monkeypatch):
    people = Affiliate.objects.bulk_create(
        Affiliate(external_id=f"P-{i}", name=f"Pessoa {i}", cpf=f"{i:011d}") for i in range(1, 301)
    )
    items = []
    for i in range(1000):
        person = people[i % len(people)]
        ref = [{"affiliate_id": person.pk}, {"external_id": person.external_id}, {"cpf": person.cpf}][i % 3]
        kind = ["lead_created", "cash_in", "app_downloaded", "consultation_scheduled"][i // 300]
        items.append(
            EventInput(
                event_id=f"bulk-{i}",
                type=kind,
                occurred_at=T0 + timedelta(seconds=i),
                properties={"amount": "10.00"} if kind == "cash_in" else {"specialty": "pediatria"},
                **ref,
            )
        )

    runs = []
    real_run = ingest._ingest_run
    monkeypatch.setattr(
        ingest, "_ingest_run", lambda *args, **kwargs: runs.append(1) or real_run(*args, **kwargs)
    )
    # The one statement goes by a psycopg cursor (prepared); the ORM's one is the batch's audit
    # entry (one for the 1,000 events, never one each).
    with django_assert_max_num_queries(1):
        outcomes = events_ingest(items=items, source="bench")

    assert runs == [1]
    assert outcomes.tally()["accepted"] == 1000
    assert (
        Affiliate.objects.filter(stage="cash_in", total_cash_in=Decimal("10.00"), tier="Bronze").count()
        == 300
    )


def test_the_prepared_statement_writes_into_the_udn_of_the_moment(udn_a, udn_b):
    """One connection, one prepared statement, two UDNs in turn: each event lands in its own UDN's
    schema (PostgreSQL plans the statement again when the search_path changes)."""
    people = {}
    for udn in (udn_a, udn_b):
        with tenant_context(udn):
            people[udn.slug] = Affiliate.objects.create(external_id="SAME-1", name=f"Pessoa {udn.slug}")
    for round_ in range(7):  # past psycopg's and PostgreSQL's thresholds for preparing and planning
        for udn in (udn_a, udn_b):
            with tenant_context(udn):
                item = EventInput(
                    event_id=f"{udn.slug}-{round_}",
                    type="app_downloaded",
                    occurred_at=T0,
                    external_id="SAME-1",
                )
                assert event_record(item=item, source="api").affiliate_id == people[udn.slug].pk
    for udn in (udn_a, udn_b):
        with tenant_context(udn):
            assert set(Event.objects.values_list("event_id", flat=True)) == {
                f"{udn.slug}-{n}" for n in range(7)
            }
            assert Affiliate.objects.get().stage == "app_downloaded"


def test_concurrent_batches_for_the_same_affiliate_lose_no_cash(django_db_setup, committed):
    """Two API workers ingesting at once (two connections, committed data): each recompute
    sees the other's committed events, so after every round the total is the sum of the events."""
    alpha = UDN.objects.get(slug="alpha")
    with tenant_context(alpha):
        person = Affiliate.objects.create(external_id="RACE-1", name="Rita Corrida")

    def cleanup() -> None:
        with tenant_context(alpha):
            Affiliate.objects.filter(pk=person.pk).delete()

    committed.append(cleanup)
    rounds = 12
    together = threading.Barrier(2)
    errors: list[BaseException] = []
    totals: list[tuple[Decimal, Decimal]] = []

    def worker(name: str) -> None:
        try:
            with tenant_context(alpha):
                for n in range(rounds):
                    together.wait()
                    items = [
                        ev(f"{name}-{n}-{k}", "cash_in", person, minutes=n, amount="1.00") for k in range(20)
                    ]
                    events_ingest(items=items, source=name)
                    together.wait()
                    if name == "w1":
                        stored = Affiliate.objects.get(pk=person.pk).total_cash_in
                        totals.append(
                            (stored, Event.objects.filter(affiliate=person).aggregate(s=Sum("amount"))["s"])
                        )
        except BaseException as exc:  # re-raised in the test thread below
            together.abort()
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(name,)) for name in ("w1", "w2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(totals) == rounds
    assert all(stored == summed for stored, summed in totals)
    with tenant_context(alpha):
        person.refresh_from_db()
        assert (person.total_cash_in, person.stage) == (Decimal(2 * rounds * 20), "cash_in")


# --- bounds -------------------------------------------------------------------------------------


def test_event_in_year_0001_is_refused_and_times_from_1900_are_taken(joana):
    def at(event_id: str, when: datetime) -> EventInput:
        return EventInput(event_id=event_id, type="lead_created", occurred_at=when, affiliate_id=joana.pk)

    plus5 = timezone.get_fixed_timezone(300)
    outcomes = events_ingest(
        items=[
            at("y1", datetime(1, 1, 1, tzinfo=plus5)),
            at("y1899", datetime(1899, 12, 31, 23, 59, 59, tzinfo=UTC)),
            at("y1900", datetime(1900, 1, 1, tzinfo=UTC)),
        ],
        source="api",
    )

    assert [(o.event_id, o.status, o.code, o.field) for o in outcomes] == [
        ("y1", "rejected", "occurred_at_too_old", "occurred_at"),
        ("y1899", "rejected", "occurred_at_too_old", "occurred_at"),
        ("y1900", "accepted", "", ""),
    ]
    assert list(Event.objects.values_list("event_id", flat=True)) == ["y1900"]


def test_affiliate_ids_beyond_a_bigint_and_nul_in_references_are_rejected_not_raised(joana):
    base = {"type": "lead_created", "occurred_at": T0}
    outcomes = events_ingest(
        items=[
            EventInput(event_id="big", affiliate_id=2**63, **base),
            EventInput(event_id="nul-x", external_id="A-\x001", **base),
            EventInput(event_id="nul\x00id", affiliate_id=joana.pk, **base),
            EventInput(event_id="nul-source", affiliate_id=joana.pk, source="a\x00", **base),
            EventInput(event_id="max", affiliate_id=2**63 - 1, **base),
            EventInput(event_id="good", affiliate_id=joana.pk, **base),
        ],
        source="api",
    )

    assert [(o.status, o.code, o.field) for o in outcomes] == [
        ("rejected", "affiliate_id_invalid", "affiliate_id"),
        ("rejected", "external_id_invalid", "external_id"),
        ("rejected", "event_id_invalid", "event_id"),
        ("rejected", "source_invalid", "source"),
        ("rejected", "affiliate_not_found", "affiliate_id"),
        ("accepted", "", ""),
    ]


def test_a_failure_reading_the_result_back_commits_nothing(django_db_setup, committed, monkeypatch):
    alpha = UDN.objects.get(slug="alpha")
    with tenant_context(alpha):
        person = Affiliate.objects.create(external_id="READ-1", name="Rui Leitura")

    def cleanup() -> None:
        with tenant_context(alpha):
            Affiliate.objects.filter(pk=person.pk).delete()

    committed.append(cleanup)

    def broken(*args, **kwargs):
        raise RuntimeError("reading the rows back failed")

    monkeypatch.setattr(ingest, "_outcome", broken)
    with tenant_context(alpha):
        with pytest.raises(RuntimeError):
            events_ingest(items=[ev("r-1", "cash_in", person, amount="10.00")], source="api")

        assert not Event.objects.filter(affiliate=person).exists()
        person.refresh_from_db()
        assert (person.stage, person.total_cash_in) == ("lead", 0)
