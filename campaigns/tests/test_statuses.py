"""Statuses coming back: stored once per (message, status), never moving a message backwards, each
new one on the affiliate's timeline, a failure falling back along the chain, partners told of
deliveries and failures."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django_tenants.utils import tenant_context

from campaigns.models import Message, MessageStatus, MessageStatusChange, MessageTemplate
from campaigns.services.outbox import message_enqueue
from campaigns.services.statuses import StatusUpdate, message_statuses_apply
from crm.models import Event, WebhookDelivery, WebhookEvent
from crm.tests.factories import AffiliateFactory, WebhookSubscriptionFactory

SP = ZoneInfo("America/Sao_Paulo")
T0 = datetime(2026, 6, 1, 12, 0, tzinfo=SP)


@pytest.fixture
def alpha(udn_a):
    with tenant_context(udn_a), time_machine.travel(T0 + timedelta(hours=2), tick=False):
        yield udn_a


def template(channel: str, slug: str | None = None) -> MessageTemplate:
    return MessageTemplate.objects.get_or_create(
        slug=slug or f"oi-{channel}",
        defaults={
            "name": f"Oi ({channel})",
            "channel": channel,
            "body_text": "Olá {{ primeiro_nome }}",
            "subject": "Oi",
            "wa_template_name": "boas_vindas" if channel == "whatsapp" else "",
        },
    )[0]


def sent_message(*, channel: str = "whatsapp", provider_id: str = "wamid.A1", **fields) -> Message:
    affiliate = fields.pop("affiliate", None) or AffiliateFactory()
    return Message.objects.create(
        affiliate=affiliate,
        template=template(channel),
        channel=channel,
        source="api",
        status=MessageStatus.SENT,
        provider="sandbox",
        provider_message_id=provider_id,
        sent_at=T0,
        **fields,
    )


def history(message: Message) -> list[tuple[str, datetime]]:
    return list(
        MessageStatusChange.objects.filter(message=message).order_by("at").values_list("status", "at")
    )


def timeline(message: Message) -> list[tuple[str, str]]:
    return sorted(
        Event.objects.filter(affiliate_id=message.affiliate_id, type__startswith="message_").values_list(
            "type", "event_id"
        )
    )


def test_statuses_out_of_order_never_move_a_message_backwards(alpha):
    message = sent_message()
    read_at, delivered_at = T0 + timedelta(minutes=5), T0 + timedelta(minutes=1)

    message_statuses_apply(
        updates=[StatusUpdate(status="read", at=read_at, provider_message_id="wamid.A1", channel="whatsapp")]
    )
    message.refresh_from_db()
    # Read implies delivered: the missing step is filled with the time known so far.
    assert (message.status, message.read_at, message.delivered_at) == ("read", read_at, read_at)

    # "delivered" arrives late: kept in the history, its real time taken, the message stays read.
    stored = message_statuses_apply(
        updates=[
            StatusUpdate(
                status="delivered", at=delivered_at, provider_message_id="wamid.A1", channel="whatsapp"
            )
        ]
    )
    message.refresh_from_db()
    assert stored == 1
    assert (message.status, message.read_at, message.delivered_at) == ("read", read_at, delivered_at)
    assert history(message) == [("delivered", delivered_at), ("read", read_at)]


def test_a_repeated_status_is_stored_once_and_changes_nothing(alpha):
    message = sent_message()
    batch = [
        StatusUpdate(status="delivered", at=T0 + timedelta(minutes=1), message_id=message.pk),
        StatusUpdate(status="delivered", at=T0 + timedelta(minutes=3), message_id=message.pk),  # a retry
        StatusUpdate(status="read", at=T0 + timedelta(minutes=4), message_id=message.pk),
    ]

    assert message_statuses_apply(updates=batch) == 2
    first = Message.objects.get(pk=message.pk)
    assert message_statuses_apply(updates=batch) == 0
    assert message_statuses_apply(updates=batch[:1]) == 0

    again = Message.objects.get(pk=message.pk)
    assert (again.status, again.delivered_at, again.read_at) == (
        "read",
        T0 + timedelta(minutes=1),  # the earliest report of the batch
        T0 + timedelta(minutes=4),
    )
    assert (again.delivered_at, again.read_at) == (first.delivered_at, first.read_at)
    assert [status for status, _at in history(message)] == ["delivered", "read"]
    assert Event.objects.filter(affiliate_id=message.affiliate_id).count() == 2


def test_each_new_status_goes_on_the_affiliate_timeline_once(alpha):
    message = sent_message()
    message_statuses_apply(updates=[StatusUpdate(status="sent", at=T0, message_id=message.pk)])
    message_statuses_apply(
        updates=[
            StatusUpdate(status="delivered", at=T0 + timedelta(minutes=1), message_id=message.pk),
            StatusUpdate(
                status="clicked",
                at=T0 + timedelta(minutes=9),
                message_id=message.pk,
                detail={"url": "https://app.example/x"},
            ),
        ]
    )
    message_statuses_apply(
        updates=[StatusUpdate(status="clicked", at=T0 + timedelta(minutes=20), message_id=message.pk)]
    )

    assert timeline(message) == [
        ("message_clicked", f"msg:{message.pk}:clicked"),
        ("message_delivered", f"msg:{message.pk}:delivered"),
        ("message_sent", f"msg:{message.pk}:sent"),
    ]
    clicked = Event.objects.get(event_id=f"msg:{message.pk}:clicked")
    assert clicked.occurred_at == T0 + timedelta(minutes=9)
    assert clicked.properties["url"] == "https://app.example/x"
    assert clicked.properties["message_id"] == message.pk and clicked.properties["channel"] == "whatsapp"
    message.refresh_from_db()
    # Clicked implies read: the way is filled.
    assert message.status == "clicked" and message.read_at == T0 + timedelta(minutes=9)


def test_a_status_for_an_unknown_provider_id_or_another_channel_is_ignored(alpha):
    message = sent_message(provider_id="same-id")
    stored = message_statuses_apply(
        updates=[
            StatusUpdate(status="delivered", at=T0, provider_message_id="nobody"),
            StatusUpdate(status="delivered", at=T0, provider_message_id="same-id", channel="sms"),
        ]
    )
    message.refresh_from_db()
    assert stored == 0 and message.status == "sent" and history(message) == []


def test_a_failure_is_terminal_keeps_the_error_and_is_a_timeline_event(alpha):
    message = sent_message()
    message_statuses_apply(
        updates=[
            StatusUpdate(
                status="failed",
                at=T0 + timedelta(minutes=1),
                message_id=message.pk,
                detail={"error": "131026 Message undeliverable"},
            )
        ]
    )
    message_statuses_apply(
        updates=[StatusUpdate(status="delivered", at=T0 + timedelta(minutes=2), message_id=message.pk)]
    )

    message.refresh_from_db()
    assert (message.status, message.error, message.failed_at) == (
        "failed",
        "131026 Message undeliverable",
        T0 + timedelta(minutes=1),
    )
    failed = Event.objects.get(event_id=f"msg:{message.pk}:failed")
    assert failed.type == "message_failed" and failed.properties["error"] == "131026 Message undeliverable"


def test_a_provider_failure_falls_back_to_the_next_channel_once(alpha):
    ana = AffiliateFactory(consent_whatsapp=True, consent_sms=True)
    first = message_enqueue(
        affiliate=ana,
        templates={"whatsapp": template("whatsapp"), "sms": template("sms")},
        chain=["whatsapp", "sms"],
        source="api",
    )
    assert (first.channel, first.fallback) == ("whatsapp", ["sms"])
    Message.objects.filter(pk=first.pk).update(
        status=MessageStatus.SENT, provider="sandbox", provider_message_id="wamid.F1", due_at=None
    )
    failure = StatusUpdate(status="failed", at=T0, provider_message_id="wamid.F1", channel="whatsapp")

    message_statuses_apply(updates=[failure])
    message_statuses_apply(updates=[failure])  # the provider reports it twice

    successors = Message.objects.filter(affiliate=ana).exclude(pk=first.pk)
    assert [(m.channel, m.status) for m in successors] == [("sms", MessageStatus.QUEUED)]
    first.refresh_from_db()
    assert first.status == "failed" and first.fallback == []


def test_partners_hear_of_deliveries_and_failures(alpha, django_capture_on_commit_callbacks):
    WebhookSubscriptionFactory(
        events=[WebhookEvent.MESSAGE_DELIVERED.value, WebhookEvent.MESSAGE_FAILED.value]
    )
    ok = sent_message(provider_id="wamid.OK")
    bad = sent_message(provider_id="wamid.BAD")

    with django_capture_on_commit_callbacks():
        message_statuses_apply(
            updates=[
                StatusUpdate(status="read", at=T0 + timedelta(minutes=2), message_id=ok.pk),
                StatusUpdate(status="delivered", at=T0 + timedelta(minutes=1), message_id=ok.pk),
                StatusUpdate(
                    status="failed", at=T0 + timedelta(minutes=3), message_id=bad.pk, detail={"error": "x"}
                ),
            ]
        )
        message_statuses_apply(
            updates=[StatusUpdate(status="delivered", at=T0 + timedelta(minutes=1), message_id=ok.pk)]
        )

    deliveries = {d.event: d.payload for d in WebhookDelivery.objects.all()}
    assert WebhookDelivery.objects.count() == 2  # once each, whatever the order and repeats
    delivered = deliveries["message.delivered"]
    assert delivered["message"]["id"] == ok.pk and delivered["message"]["status"] == "read"
    assert delivered["affiliate"] == {"id": ok.affiliate_id, "external_id": ok.affiliate.external_id}
    assert delivered["message"]["template"] == "oi-whatsapp"
    failed = deliveries["message.failed"]
    assert (failed["message"]["id"], failed["message"]["status"], failed["message"]["error"]) == (
        bad.pk,
        "failed",
        "x",
    )


def test_an_unknown_status_is_refused(alpha):
    message = sent_message()
    with pytest.raises(ValueError, match="unknown message statuses"):
        message_statuses_apply(updates=[StatusUpdate(status="seen", at=T0, message_id=message.pk)])
