"""The demo base: believable people, a funnel that narrows, truths the services agree with."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import phonenumbers
import pytest
from django.db.models import Count, Max, Min
from django_tenants.utils import tenant_context
from validate_docbr import CPF

from crm import lifecycle
from crm.brazil import DDDS, STATE_TIME_ZONES, mobile_valid
from crm.channels import CHANNEL_CODES
from crm.demo import DEMO_UDNS, demo_load
from crm.demo.base import CITIES, PLANS, DemoBaseError, demo_base_load
from crm.models import Affiliate, ConsentChange, DepositTier, Event
from crm.services.events import affiliates_refresh_derived
from tenants.models import UDN, User

NOW = datetime(2026, 6, 30, 18, 0, tzinfo=ZoneInfo("America/Sao_Paulo"))
SIZE = 300


@pytest.fixture
def demo_a(udn_a):
    with tenant_context(udn_a):
        counts = demo_base_load(size=SIZE, seed=3, home_states=["BA", "PE", "CE"], now=NOW)
        yield counts


def test_the_people_have_valid_unique_cpfs_mobile_phones_and_real_places(demo_a):
    people = list(Affiliate.objects.all())
    assert len(people) == SIZE == demo_a["affiliates"]
    cpfs = [p.cpf for p in people]
    assert len(set(cpfs)) == SIZE and all(CPF().validate(cpf) for cpf in cpfs)
    places = {(city.name, city.state) for city in CITIES}
    for person in people:
        assert (person.city, person.state) in places
        assert person.time_zone == STATE_TIME_ZONES[person.state]
        if person.phone:
            assert mobile_valid(person.phone) and person.phone[3:5] == next(
                f"{city.ddd}" for city in CITIES if (city.name, city.state) == (person.city, person.state)
            )
            number = phonenumbers.parse(person.phone)
            assert phonenumbers.is_valid_number(number)
            assert phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.MOBILE
        assert person.email == "" or "@" in person.email
        assert 18 <= (NOW.date() - person.birth_date).days // 365 <= 87
    assert sum(1 for p in people if p.phone) > SIZE * 0.9
    assert sum(1 for p in people if p.state in {"BA", "PE", "CE"}) > SIZE * 0.7  # the home states
    fees = {name: fee for name, fee, _weight in PLANS}
    assert all(p.plan_fee == fees[p.plan] for p in people if p.plan)


def test_the_funnel_narrows_step_by_step(demo_a):
    reached = dict(
        Event.objects.values("type").annotate(n=Count("affiliate", distinct=True)).values_list("type", "n")
    )
    steps = [
        "lead_created",
        "registration_started",
        "form_completed",
        "account_opened",
        "app_downloaded",
        "app_activated",
        "cash_in",
        "cashout",
    ]
    assert reached["lead_created"] == SIZE
    assert all(reached[a] > reached[b] for a, b in zip(steps, steps[1:], strict=False))
    assert 0.75 < reached["registration_started"] / SIZE < 0.95
    assert 0.20 < reached["cash_in"] / SIZE < 0.40
    assert reached["cashback"] < reached["cash_in"]
    assert reached["support_ticket_closed"] <= reached["support_ticket_opened"]
    assert reached["consultation_scheduled"] > 0
    assert sum(demo_a["events_by_type"].values()) == Event.objects.count() == demo_a["events"]
    span = Event.objects.aggregate(oldest=Min("occurred_at"), newest=Max("occurred_at"))
    assert NOW - timedelta(days=181) < span["oldest"] and span["newest"] <= NOW
    amounts = list(Event.objects.filter(type="cash_in").values_list("amount", flat=True))
    assert all(Decimal("20") <= amount <= Decimal("12000") for amount in amounts)
    specialties = set(
        Event.objects.filter(type="consultation_scheduled").values_list("properties__specialty", flat=True)
    )
    assert specialties <= {
        "cardiologia",
        "clínica geral",
        "dermatologia",
        "ginecologia",
        "pediatria",
        "odontologia",
        "oftalmologia",
    }


def test_stages_and_tiers_are_the_ones_the_events_give(demo_a):
    assert demo_a["derived_corrected"] == 0
    assert affiliates_refresh_derived().changed == 0  # nothing left to correct
    stages = Counter(Affiliate.objects.values_list("stage", flat=True))
    assert set(stages) == {"lead", "registered", "app_downloaded", "activated", "cash_in", "cashout"}
    depositors = Affiliate.objects.filter(events__type="cash_in").distinct()
    assert not depositors.filter(tier="").exists()
    assert not depositors.exclude(stage__in=["cash_in", "cashout"]).exists()
    assert not Affiliate.objects.exclude(pk__in=depositors).exclude(tier="").exists()


def test_the_cities_area_codes_are_in_use():
    assert {f"{city.ddd}" for city in CITIES} <= set(DDDS)


def test_the_demo_s_stages_and_tiers_are_crm_lifecycle_s_and_a_full_recompute_s(demo_a):
    """The demo derives its columns with the lifecycle's array variant; they equal what the plain
    definition says from the stored events, and what the full refresh writes."""
    fields = ("id", "stage", "stage_changed_at", "total_cash_in", "tier")
    loaded = list(Affiliate.objects.order_by("id").values_list(*fields))
    bands = list(DepositTier.objects.values_list("min_total", "name"))
    timelines: dict[int, list] = {pk: [] for pk, *_rest in loaded}
    for pk, kind, at, amount in Event.objects.values_list("affiliate_id", "type", "occurred_at", "amount"):
        timelines[pk].append((kind, at, amount))
    expected = []
    for pk, timeline in timelines.items():
        derived = lifecycle.derive(timeline, bands)
        expected.append((pk, derived.stage, derived.stage_changed_at, derived.total_cash_in, derived.tier))
    assert loaded == expected
    assert len({row[1] for row in loaded}) == len(lifecycle.STAGE_RULES)  # every stage, tiers too
    assert {row[4] for row in loaded} >= {"", *(name for _minimum, name in bands[:2])}

    Affiliate.objects.update(stage="lead", stage_changed_at=None, total_cash_in=0, tier="")
    affiliates_refresh_derived(notify=False)
    assert list(Affiliate.objects.order_by("id").values_list(*fields)) == loaded


def test_the_per_affiliate_refresh_agrees_with_the_full_one(demo_a):
    fields = ("id", "stage", "stage_changed_at", "total_cash_in", "tier")
    truth = list(Affiliate.objects.order_by("id").values_list(*fields))
    Affiliate.objects.update(stage="lead", stage_changed_at=None, total_cash_in=0, tier="")

    result = affiliates_refresh_derived(affiliate_ids=[row[0] for row in truth])

    assert list(Affiliate.objects.order_by("id").values_list(*fields)) == truth
    assert len(result.stage_changes) == sum(1 for row in truth if row[1] != "lead")


def test_consent_state_is_the_newest_ledger_entry_and_a_few_opted_out(demo_a):
    newest = {}
    for change in ConsentChange.objects.order_by("occurred_at", "id"):
        newest[(change.affiliate_id, change.channel)] = change.granted
    for person in Affiliate.objects.all():
        for channel in CHANNEL_CODES:
            assert getattr(person, f"consent_{channel}") == newest.get((person.pk, channel), False)
    assert ConsentChange.objects.filter(granted=False).exists()
    granted = Counter(ConsentChange.objects.filter(granted=True).values_list("channel", flat=True))
    assert granted["email"] > granted["sms"] and granted["whatsapp"] > granted["push"]
    app_users = Event.objects.filter(type="app_downloaded").values("affiliate")
    assert not ConsentChange.objects.filter(channel="push").exclude(affiliate__in=app_users).exists()


def test_the_same_seed_and_time_give_the_same_base(demo_a, udn_b):
    def fingerprint():
        people = list(
            Affiliate.objects.order_by("external_id").values_list(
                "external_id", "cpf", "name", "email", "phone", "city", "stage", "tier", "total_cash_in"
            )
        )
        events = list(
            Event.objects.order_by("event_id").values_list(
                "event_id", "type", "occurred_at", "amount", "properties"
            )
        )
        return people, events

    first = fingerprint()
    with tenant_context(udn_b):
        demo_base_load(size=SIZE, seed=3, home_states=["BA", "PE", "CE"], now=NOW)
        assert fingerprint() == first
        Affiliate.objects.all().delete()
        demo_base_load(size=SIZE, seed=4, home_states=["BA", "PE", "CE"], now=NOW)
        assert fingerprint()[0] != first[0]


def test_a_udn_with_affiliates_is_not_loaded_again(demo_a):
    with pytest.raises(DemoBaseError):
        demo_base_load(size=10)
    assert Affiliate.objects.count() == SIZE


def test_loading_the_demo_twice_does_not_duplicate_anything(db):
    demo_load(base_size=40)
    udns = list(UDN.objects.filter(slug__in=[spec["slug"] for spec in DEMO_UDNS]))

    def counts():
        figures = {"users": User.objects.count()}
        for udn in udns:
            with tenant_context(udn):
                figures[udn.slug] = (
                    Affiliate.objects.count(),
                    Event.objects.count(),
                    ConsentChange.objects.count(),
                )
        return figures

    before = counts()
    demo_load(base_size=40)

    assert counts() == before
    assert len(udns) == 2 and all(before[udn.slug][0] == 40 for udn in udns)
    with tenant_context(UDN.objects.get(slug="nordeste")):  # the Nordeste base lives mostly there
        assert (
            Affiliate.objects.filter(state__in=["BA", "PE", "CE", "MA", "PI", "RN", "PB", "AL", "SE"]).count()
            > 25
        )
