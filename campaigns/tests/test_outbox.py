"""The outbox: a message is written in the caller's transaction and the sender kicked on commit;
fallback chains; and a real worker killed mid-batch loses nothing and duplicates nothing."""

from __future__ import annotations

import os
import signal
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_tenants.utils import tenant_context

from campaigns.models import (
    ChannelConfig,
    Message,
    MessageStatus,
    MessageStatusChange,
    MessageTemplate,
    SuppressionReason,
)
from campaigns.services.outbox import message_enqueue, message_fallback
from campaigns.services.sender import CLAIM_LEASE, messages_send_due
from crm.models import Affiliate
from crm.tests.factories import AffiliateFactory
from tenants.models import UDN
from tenants.tests.helpers import wait_for


def _templates() -> dict[str, MessageTemplate]:
    return {
        channel: MessageTemplate.objects.create(
            slug=f"oi-{channel}", name=f"Oi {channel}", channel=channel, subject="Oi", body_text="Oi",
            wa_template_name="oi" if channel == "whatsapp" else "",
        )
        for channel in ("whatsapp", "sms", "email")
    }  # fmt: skip


def test_the_message_is_written_in_the_callers_transaction_and_the_sender_kicked_on_commit(
    udn_a, django_capture_on_commit_callbacks
):
    with tenant_context(udn_a):
        templates = _templates()
        ana = AffiliateFactory(consent_email=True)
        with django_capture_on_commit_callbacks() as callbacks:
            message = message_enqueue(affiliate=ana, templates=templates, chain=["email"], source="api")
        # One kick, held until the caller's transaction commits.
        assert len(callbacks) == 1 and callbacks[0].__self__.name == "campaigns.messages_send"
        assert (message.status, message.channel) == (MessageStatus.QUEUED, "email")

        with transaction.atomic():
            rolled_back = message_enqueue(affiliate=ana, templates=templates, chain=["email"], source="api")
            transaction.set_rollback(True)
        assert not Message.objects.filter(pk=rolled_back.pk).exists()  # no cause, no message


def test_the_first_usable_channel_of_the_chain_is_used_and_a_refusal_is_recorded(udn_a):
    with tenant_context(udn_a):
        templates = _templates()
        no_whatsapp = AffiliateFactory(consent_sms=True, consent_email=True)
        message = message_enqueue(
            affiliate=no_whatsapp, templates=templates, chain=["whatsapp", "sms", "email"], source="api"
        )
        assert (message.channel, message.fallback, message.status) == ("sms", ["email"], MessageStatus.QUEUED)

        nobody = AffiliateFactory()
        refused = message_enqueue(
            affiliate=nobody, templates=templates, chain=["whatsapp", "sms"], source="api"
        )
        assert (refused.status, refused.reason, refused.channel, refused.due_at) == (
            MessageStatus.SUPPRESSED,
            SuppressionReason.NO_CONSENT,
            "whatsapp",
            None,
        )


def test_a_failed_message_falls_back_once_to_the_next_usable_channel(udn_a):
    with tenant_context(udn_a):
        templates = _templates()
        bia = AffiliateFactory(consent_whatsapp=True, consent_email=True)
        message = message_enqueue(
            affiliate=bia, templates=templates, chain=["whatsapp", "sms", "email"], source="api"
        )
        Message.objects.filter(pk=message.pk).update(status=MessageStatus.FAILED, due_at=None)
        message.refresh_from_db()
        successor = message_fallback(message=message)
        assert successor is not None
        # SMS has no consent: skipped; e-mail is next, with nothing after it.
        assert (successor.channel, successor.fallback, successor.status) == (
            "email",
            [],
            MessageStatus.QUEUED,
        )
        assert successor.template == templates["email"]
        message.refresh_from_db()
        assert message_fallback(message=message) is None  # a repeated failure report writes nothing more
        assert Message.objects.filter(affiliate=bia).count() == 2


def test_a_failure_reported_through_the_statuses_falls_back(udn_a):
    from campaigns.services.statuses import StatusUpdate, message_statuses_apply

    with tenant_context(udn_a):
        templates = _templates()
        caio = AffiliateFactory(consent_whatsapp=True, consent_sms=True)
        message = message_enqueue(
            affiliate=caio, templates=templates, chain=["whatsapp", "sms"], source="api"
        )
        Message.objects.filter(pk=message.pk).update(status=MessageStatus.SENT, due_at=None)
        message_statuses_apply(
            updates=[StatusUpdate(message_id=message.pk, status=MessageStatus.FAILED, at=timezone.now())]
        )
        assert list(
            Message.objects.filter(affiliate=caio).order_by("pk").values_list("channel", "status")
        ) == [
            ("whatsapp", MessageStatus.FAILED),
            ("sms", MessageStatus.QUEUED),
        ]


def _children(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _clean(udn: UDN) -> None:
    with tenant_context(udn):
        Message.objects.all().delete()
        MessageTemplate.objects.all().delete()
        ChannelConfig.objects.all().delete()
        Affiliate.objects.filter(external_id__startswith="KO-").delete()


MESSAGES = 120


@pytest.mark.worker
def test_a_worker_killed_mid_batch_loses_nothing_and_duplicates_nothing(
    celery_workers, committed, smtp_server
):
    """The real default-queue worker sends a batch slowly (20 a second); its processes are killed
    with SIGKILL while it is in the middle. Its claimed rows come back when their lease ends and are
    sent with the same idempotency keys (the SMTP Message-ID): every message reaches the receiver,
    each key is recorded sent once, and a key the receiver saw twice is one the dead worker had
    handed over without living to record it."""
    received = smtp_server
    alpha = UDN.objects.get(slug="alpha")
    committed.append(lambda: _clean(alpha))
    with tenant_context(alpha):
        ChannelConfig.objects.create(
            channel="email",
            provider="smtp",
            settings={"host": "127.0.0.1", "port": str(settings.EMAIL_PORT), "use_tls": "0", "use_ssl": "0"},
            rate_per_second=20,
        )
        template = MessageTemplate.objects.create(
            slug="ko", name="KO", channel="email", subject="Oi", body_text="Oi"
        )
        with transaction.atomic():
            messages = [
                message_enqueue(
                    affiliate=AffiliateFactory(external_id=f"KO-{n}", consent_email=True),
                    templates={"email": template},
                    chain=["email"],
                    source="api",
                )
                for n in range(MESSAGES)
            ]
        keys = {str(m.idempotency_key): m.pk for m in messages}
        # Mid-batch: some messages are out, most are not.
        assert wait_for(lambda: len(received) >= 15, 60)
        for child in _children(celery_workers["worker"].pid):
            os.kill(child, signal.SIGKILL)
        at_kill = len(received)
        assert at_kill < MESSAGES

        # The master replaces its children; the dead ones' rows are leased, so nothing more is sent
        # until the lease ends. Then (our clock past the lease) the sender takes them up again.
        # As beat would as time goes by: a tick past each lease (a tick that hits the rate limit leaves
        # the rest for a later one), until nothing is left to send.
        later = timezone.now()

        def tick_past_the_lease() -> bool:
            nonlocal later
            later += CLAIM_LEASE + timedelta(seconds=5)
            with time_machine.travel(later, tick=False):
                messages_send_due()
            return not Message.objects.filter(status=MessageStatus.QUEUED).exists()

        assert wait_for(tick_past_the_lease, 120)

        seen = Counter(mail["Message-ID"].strip("<>").split("@")[0] for mail in received)
        assert set(seen) == set(keys)  # nothing lost
        assert Message.objects.filter(status=MessageStatus.SENT).count() == MESSAGES
        sent_once = Counter(
            MessageStatusChange.objects.filter(status=MessageStatus.SENT).values_list("message_id", flat=True)
        )
        assert set(sent_once) == set(keys.values()) and set(sent_once.values()) == {1}  # recorded once
        # At most the rate limit's one-second chunk in flight per killed process was handed over twice.
        repeated = [key for key, count in seen.items() if count > 1]
        assert len(repeated) <= 2 * 20, repeated
