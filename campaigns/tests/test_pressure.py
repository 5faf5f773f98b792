"""The cross-UDN contact-pressure budget: one person (same CPF) in two real UDN schemas."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from django_tenants.utils import tenant_context

from campaigns.models import ChannelConfig, Message, MessageStatus, MessageTemplate, SuppressionReason
from campaigns.pressure.models import ContactPressure, PressureBudget
from campaigns.services.outbox import message_enqueue
from campaigns.services.pressure import pressure_reserve
from campaigns.services.sender import messages_send_batch
from crm.persons import cpf_hash
from crm.tests.factories import AffiliateFactory

SP = ZoneInfo("America/Sao_Paulo")
NOON = datetime(2026, 6, 1, 12, 0, tzinfo=SP)
CPF = "52998224725"


@pytest.fixture
def clock():
    with time_machine.travel(NOON, tick=False) as traveller:
        yield traveller


def _setup(udn, *, priority: int) -> Message:
    with tenant_context(udn):
        ChannelConfig.objects.create(
            channel="email",
            provider="smtp",
            settings={"host": "127.0.0.1", "port": str(settings.EMAIL_PORT), "use_tls": "0", "use_ssl": "0"},
        )
        template = MessageTemplate.objects.create(
            slug="oi", name="Oi", channel="email", subject="Oi", body_text="Oi"
        )
        person = AffiliateFactory(cpf=CPF, consent_email=True)
        return message_enqueue(
            affiliate=person, templates={"email": template}, chain=["email"], source="api", priority=priority
        )


def test_two_udns_share_one_budget_and_the_loser_waits_for_the_next_day(udn_a, udn_b, smtp_server, clock):
    PressureBudget.objects.create(channel="email", per_day=1, per_week=5)
    in_alpha, in_beta = _setup(udn_a, priority=5), _setup(udn_b, priority=5)
    with tenant_context(udn_a):
        assert messages_send_batch() == (1, 1)
    with tenant_context(udn_b):
        assert messages_send_batch() == (1, 0)
        in_beta.refresh_from_db()
        assert (in_beta.status, in_beta.due_at) == (
            MessageStatus.QUEUED,
            datetime(2026, 6, 2, 0, 0, tzinfo=SP),
        )
    row = ContactPressure.objects.get()
    assert (row.person, row.channel, row.count) == (cpf_hash(cpf=CPF), "email", 1)  # a hash, never the CPF
    clock.move_to(datetime(2026, 6, 2, 0, 0, tzinfo=SP))
    with tenant_context(udn_b):
        assert messages_send_batch() == (1, 1)
    assert len(smtp_server) == 2
    with tenant_context(udn_a):
        in_alpha.refresh_from_db()
        assert in_alpha.status == MessageStatus.SENT


def test_the_higher_priority_claims_the_last_slot_first(udn_a, smtp_server, clock):
    PressureBudget.objects.create(channel="email", per_day=1, per_week=5)
    low = _setup(udn_a, priority=2)
    with tenant_context(udn_a):
        template = MessageTemplate.objects.get(slug="oi")
        high = message_enqueue(
            affiliate=low.affiliate, templates={"email": template}, chain=["email"], source="api", priority=9
        )
        messages_send_batch()
        high.refresh_from_db(), low.refresh_from_db()
        assert (high.status, low.status) == (MessageStatus.SENT, MessageStatus.QUEUED)


def test_a_campaign_message_whose_window_ends_is_suppressed_with_its_reason(udn_a, smtp_server, clock):
    from campaigns.models import Campaign

    PressureBudget.objects.create(channel="email", per_day=1, per_week=5)
    first = _setup(udn_a, priority=5)
    with tenant_context(udn_a):
        campaign = Campaign.objects.create(
            name="Relâmpago",
            channels=["email"],
            launched_at=NOON - timedelta(days=1),
            conversion_window_days=1,
        )
        late = message_enqueue(
            affiliate=first.affiliate,
            templates={"email": MessageTemplate.objects.get(slug="oi")},
            chain=["email"],
            source="campaign",
            campaign=campaign,
            priority=1,
        )
        messages_send_batch()
        late.refresh_from_db()
        assert (late.status, late.reason) == (MessageStatus.SUPPRESSED, SuppressionReason.PRESSURE_BUDGET)


def test_the_week_budget_counts_the_earlier_days(udn_a, clock):
    budget = PressureBudget.objects.create(channel="sms", per_day=5, per_week=2)
    person = cpf_hash(cpf=CPF)
    with tenant_context(udn_a):
        assert pressure_reserve(person=person, budget=budget, now=NOON - timedelta(days=3))
        assert pressure_reserve(person=person, budget=budget, now=NOON)
        assert not pressure_reserve(person=person, budget=budget, now=NOON)
        assert pressure_reserve(person=person, budget=budget, now=NOON + timedelta(days=4))


def test_two_senders_racing_for_the_last_slot_cannot_both_win(committed):
    """Two connections (two UDNs' senders) reserve the same person's last slot at the same moment,
    many times over: exactly one wins each time."""
    import threading

    from django.db import connections

    budget = PressureBudget(channel="push", per_day=1, per_week=7)
    persons = [cpf_hash(cpf=f"race-{n}") for n in range(25)]
    committed.append(lambda: ContactPressure.objects.filter(person__in=persons).delete())
    wins: dict[str, list[bool]] = {person: [] for person in persons}
    barrier = threading.Barrier(2)

    def sender() -> None:
        try:
            for person in persons:
                barrier.wait(timeout=30)
                wins[person].append(pressure_reserve(person=person, budget=budget, now=NOON))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=sender) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert all(sorted(results) == [False, True] for results in wins.values()), wins
    assert set(ContactPressure.objects.filter(person__in=persons).values_list("count", flat=True)) == {1}
