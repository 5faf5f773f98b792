"""The cross-UDN contact-pressure budget: one person (same CPF) in two real UDN schemas."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from django_tenants.utils import tenant_context

from campaigns.models import ChannelConfig, Message, MessageStatus, MessageTemplate, SuppressionReason
from campaigns.pressure.models import ContactPressure, PressureBid, PressureBudget, PressureReservation
from campaigns.services.outbox import message_enqueue
from campaigns.services.pressure import (
    BID_GRACE,
    BID_WINDOW,
    TOP_PRIORITY,
    PressureDecision,
    PressureOutcome,
    pressure_release,
    pressure_reserve,
)
from campaigns.services.sender import CLAIM_LEASE, messages_send_batch
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
        assert messages_send_batch() == (1, 0)  # alpha bids for the last slot first
    with tenant_context(udn_b):
        assert messages_send_batch() == (1, 0)  # beta's equal bid comes second: outbid
    clock.move_to(NOON + BID_WINDOW)
    with tenant_context(udn_a):
        assert messages_send_batch() == (1, 1)
    clock.move_to(NOON + BID_WINDOW + BID_GRACE)
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
        assert messages_send_batch() == (1, 0)  # the new day's only slot is the last: a bid
    clock.move_to(datetime(2026, 6, 2, 0, 0, tzinfo=SP) + BID_WINDOW)
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
        assert messages_send_batch() == (2, 0)  # high bids, low is outbid
        clock.move_to(NOON + BID_WINDOW)
        assert messages_send_batch() == (1, 1)
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
        messages_send_batch()  # first bids for the last slot, late is outbid
        clock.move_to(NOON + BID_WINDOW)
        assert messages_send_batch() == (1, 1)
        clock.move_to(NOON + BID_WINDOW + BID_GRACE)
        assert messages_send_batch() == (1, 0)
        late.refresh_from_db()
        assert (late.status, late.reason) == (MessageStatus.SUPPRESSED, SuppressionReason.PRESSURE_BUDGET)


def test_the_week_budget_counts_the_earlier_days(udn_a, clock):
    budget = PressureBudget.objects.create(channel="sms", per_day=5, per_week=2)
    person = cpf_hash(cpf=CPF)
    taken, spent = PressureDecision(PressureOutcome.TAKEN), PressureDecision(PressureOutcome.SPENT)

    def reserve(now: datetime) -> PressureDecision:
        return pressure_reserve(
            person=person, budget=budget, now=now, key=str(uuid.uuid4()), priority=TOP_PRIORITY
        )

    with tenant_context(udn_a):
        assert reserve(NOON - timedelta(days=3)) == taken
        assert reserve(NOON) == taken
        assert reserve(NOON) == spent
        assert reserve(NOON + timedelta(days=4)) == taken


def _in_another_connection(fn: Callable[[], Any]) -> Any:
    """Run `fn` on a thread of its own, so on a database connection of its own (another sender)."""
    from django.db import connections

    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = fn()
        except BaseException as error:  # noqa: BLE001 - handed back to the test
            outcome["error"] = error
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=60)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def test_two_senders_racing_for_the_last_slot_cannot_both_win_and_the_higher_priority_does(committed):
    """Two connections (two UDNs' senders) bid for the same person's last slot at the same moment,
    many times over, one with the higher priority (in turn); when the window closes both try to
    take it at once: exactly one wins each time, and it is the higher priority."""
    from django.db import connections

    budget = PressureBudget(channel="push", per_day=1, per_week=7)
    persons = [cpf_hash(cpf=f"race-{n}") for n in range(25)]

    def cleanup() -> None:
        for model in (ContactPressure, PressureBid, PressureReservation):
            model.objects.filter(person__in=persons).delete()

    committed.append(cleanup)
    wins: dict[str, dict[int, bool]] = {person: {} for person in persons}
    barrier = threading.Barrier(2)

    def sender(me: int) -> None:
        try:
            for n, person in enumerate(persons):
                priority = 8 if n % 2 == me else 3
                key = str(uuid.uuid4())
                barrier.wait(timeout=30)
                pressure_reserve(person=person, budget=budget, now=NOON, key=key, priority=priority)
                barrier.wait(timeout=30)
                decision = pressure_reserve(
                    person=person, budget=budget, now=NOON + BID_WINDOW, key=key, priority=priority
                )
                wins[person][priority] = decision.outcome == PressureOutcome.TAKEN
        finally:
            connections.close_all()

    threads = [threading.Thread(target=sender, args=(me,)) for me in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert all(results == {8: True, 3: False} for results in wins.values()), wins
    assert set(ContactPressure.objects.filter(person__in=persons).values_list("count", flat=True)) == {1}
    assert PressureReservation.objects.filter(person__in=persons).count() == len(persons)


def _committed_udn_setup(udn, *, priority: int, committed: list) -> Message:
    """Committed data in `udn` (another connection must see it): e-mail to the test SMTP server, a
    template and one person with the shared CPF, and a message queued for them now. Written as a
    row, not through message_enqueue (whose kick would reach a worker after the commit)."""
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
        message = Message.objects.create(
            affiliate=person, template=template, channel="email", source="campaign", priority=priority,
            status=MessageStatus.QUEUED, due_at=NOON,
        )  # fmt: skip

    def cleanup() -> None:
        with tenant_context(udn):
            Message.objects.filter(pk=message.pk).delete()
            template.delete()
            person.delete()
            ChannelConfig.objects.filter(channel="email").delete()

    committed.append(cleanup)
    return message


def test_across_two_udns_the_higher_priority_wins_the_last_slot_though_it_came_second(
    committed, smtp_server, clock
):
    """Alpha's sender reaches the person's last e-mail slot first with a priority-3 message; beta's,
    on its own connection, comes 10 s later with a priority-8 one. Beta's message gets the slot and
    leaves; alpha's waits and, the day's budget spent, is due again the next day."""
    from tenants.models import UDN

    udn_a, udn_b = UDN.objects.get(slug="alpha"), UDN.objects.get(slug="beta")
    PressureBudget.objects.create(channel="email", per_day=1, per_week=5)
    person = cpf_hash(cpf=CPF)

    def cleanup() -> None:
        PressureBudget.objects.filter(channel="email").delete()
        for model in (ContactPressure, PressureBid, PressureReservation):
            model.objects.filter(person=person).delete()

    committed.append(cleanup)
    low = _committed_udn_setup(udn_a, priority=3, committed=committed)
    high = _committed_udn_setup(udn_b, priority=8, committed=committed)

    def send(udn) -> tuple[int, int]:
        with tenant_context(udn):
            return messages_send_batch()

    def beta_sends() -> tuple[int, int]:
        return _in_another_connection(lambda: send(udn_b))

    assert send(udn_a) == (1, 0)  # alpha bids first
    clock.move_to(NOON + timedelta(seconds=10))
    assert beta_sends() == (1, 0)  # beta outbids it
    clock.move_to(NOON + BID_WINDOW)
    assert send(udn_a) == (1, 0)  # alpha's window closed, but a higher bid stands: it waits
    assert beta_sends() == (0, 0)  # beta's window is still open
    clock.move_to(NOON + timedelta(seconds=10) + BID_WINDOW)
    assert beta_sends() == (1, 1)
    clock.move_to(NOON + timedelta(seconds=10) + BID_WINDOW + BID_GRACE)
    assert send(udn_a) == (1, 0)  # the slot is gone: the next day
    with tenant_context(udn_a):
        low.refresh_from_db()
        assert (low.status, low.due_at) == (MessageStatus.QUEUED, datetime(2026, 6, 2, 0, 0, tzinfo=SP))
    with tenant_context(udn_b):
        high.refresh_from_db()
        assert high.status == MessageStatus.SENT
    assert len(smtp_server) == 1
    assert ContactPressure.objects.get(person=person).count == 1
    assert not PressureBid.objects.filter(person=person).exists()


def test_a_top_priority_message_takes_the_last_slot_at_once(udn_a, clock):
    budget = PressureBudget.objects.create(channel="sms", per_day=1, per_week=7)
    person = cpf_hash(cpf=CPF)
    with tenant_context(udn_a):
        first = pressure_reserve(person=person, budget=budget, now=NOON, key=str(uuid.uuid4()), priority=9)
        top = pressure_reserve(person=person, budget=budget, now=NOON, key=str(uuid.uuid4()), priority=10)
    assert first == PressureDecision(PressureOutcome.WAIT, until=NOON + BID_WINDOW)
    assert top == PressureDecision(PressureOutcome.TAKEN)


def test_a_slot_is_counted_once_per_message_and_given_back_once(udn_a, clock):
    budget = PressureBudget.objects.create(channel="sms", per_day=3, per_week=7)
    person = cpf_hash(cpf=CPF)
    key = str(uuid.uuid4())
    with tenant_context(udn_a):
        for _ in range(3):
            assert pressure_reserve(person=person, budget=budget, now=NOON, key=key, priority=5).outcome == (
                PressureOutcome.TAKEN
            )
        assert ContactPressure.objects.get(person=person).count == 1
        pressure_release(key=key)
        pressure_release(key=key)
        assert ContactPressure.objects.get(person=person).count == 0
        assert not PressureReservation.objects.filter(key=key).exists()


def test_a_worker_killed_after_the_provider_took_the_message_does_not_count_it_twice(
    udn_a, smtp_server, clock, monkeypatch
):
    """The provider accepted the message, then the worker died before recording it: when the lease
    ends the message is claimed and sent again (same idempotency key), and the person's shared
    budget still counts it once."""
    from campaigns.services import sender

    PressureBudget.objects.create(channel="email", per_day=5, per_week=10)
    message = _setup(udn_a, priority=5)

    def killed(*args: object, **kwargs: object) -> int:
        raise KeyboardInterrupt("worker killed")  # the process ends here, nothing recorded

    with tenant_context(udn_a):
        monkeypatch.setattr(sender, "_record_chunk", killed)
        with pytest.raises(KeyboardInterrupt):
            messages_send_batch()
        monkeypatch.undo()
        assert len(smtp_server) == 1
        assert ContactPressure.objects.get().count == 1
        clock.move_to(NOON + CLAIM_LEASE)
        assert messages_send_batch() == (1, 1)
        message.refresh_from_db()
        assert message.status == MessageStatus.SENT
    assert ContactPressure.objects.get().count == 1
    assert list(PressureReservation.objects.values_list("key", flat=True)) == [message.idempotency_key]
