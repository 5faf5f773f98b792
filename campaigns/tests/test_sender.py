"""The sender: the time-dependent guards (caps, quiet hours), sending over real SMTP, retries to
dead, resend, fallback."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from django_tenants.utils import tenant_context

from campaigns.models import (
    CapPeriod,
    ChannelConfig,
    FrequencyCap,
    Message,
    MessageStatus,
    MessageStatusChange,
    MessageTemplate,
    QuietHours,
    SuppressionReason,
)
from campaigns.services.outbox import message_enqueue
from campaigns.services.sender import OUTBOX, message_resend, messages_send_batch, messages_send_due
from crm.tests.factories import AffiliateFactory

SP = ZoneInfo("America/Sao_Paulo")
NOON = datetime(2026, 6, 1, 12, 0, tzinfo=SP)


@pytest.fixture
def alpha(udn_a, smtp_server):
    with tenant_context(udn_a), time_machine.travel(NOON, tick=False):
        ChannelConfig.objects.create(
            channel="email",
            provider="smtp",
            settings={"host": "127.0.0.1", "port": str(settings.EMAIL_PORT), "use_tls": "0", "use_ssl": "0"},
            rate_per_second=1000,
        )
        yield smtp_server


def email_template() -> MessageTemplate:
    return MessageTemplate.objects.get_or_create(
        slug="oi",
        defaults={"name": "Oi", "channel": "email", "subject": "Oi {{ primeiro_nome }}", "body_text": "Olá"},
    )[0]


def enqueue(affiliate, **kwargs) -> Message:
    return message_enqueue(
        affiliate=affiliate, templates={"email": email_template()}, chain=["email"], source="api", **kwargs
    )


def test_a_due_message_is_sent_over_smtp_with_its_idempotency_key_and_recorded(alpha):
    received = alpha
    message = enqueue(AffiliateFactory(consent_email=True))
    assert messages_send_due() == 1
    message.refresh_from_db()
    assert (message.status, message.due_at, message.sent_at) == (MessageStatus.SENT, None, NOON)
    assert message.provider == "smtp" and message.provider_message_id
    assert len(received) == 1 and str(message.idempotency_key) in received[0]["Message-ID"]
    assert list(MessageStatusChange.objects.filter(message=message).values_list("status", flat=True)) == [
        "sent"
    ]


def test_frequency_caps_count_the_rolling_day_and_week(alpha):
    FrequencyCap.objects.create(channel="email", period=CapPeriod.DAY, limit=1)
    FrequencyCap.objects.create(channel="email", period=CapPeriod.WEEK, limit=2)
    ana = AffiliateFactory(consent_email=True)
    first, second = enqueue(ana), enqueue(ana)
    messages_send_due()
    first.refresh_from_db(), second.refresh_from_db()
    assert first.status == MessageStatus.SENT
    assert (second.status, second.reason) == (MessageStatus.SUPPRESSED, SuppressionReason.FREQUENCY_CAP)
    with time_machine.travel(NOON + timedelta(days=1, minutes=1), tick=False):
        third = enqueue(ana)
        messages_send_due()
        third.refresh_from_db()
        assert third.status == MessageStatus.SENT  # a new day: the daily cap has room
        fourth = enqueue(ana)
    with time_machine.travel(NOON + timedelta(days=2, minutes=2), tick=False):
        messages_send_due()
        fourth.refresh_from_db()
        assert (fourth.status, fourth.reason) == (MessageStatus.SUPPRESSED, SuppressionReason.FREQUENCY_CAP)


def test_quiet_hours_hold_a_message_until_they_end_in_the_affiliates_time_zone(alpha):
    QuietHours.objects.create(start=time(21, 0), end=time(8, 0))
    manaus = AffiliateFactory(consent_email=True, state="AM", time_zone="America/Manaus")  # UTC-4
    paulista = AffiliateFactory(consent_email=True, time_zone="")  # the UDN's: São Paulo, UTC-3
    late = datetime(2026, 6, 1, 21, 30, tzinfo=SP)  # 20:30 in Manaus
    with time_machine.travel(late, tick=False):
        m_manaus, m_sp = enqueue(manaus), enqueue(paulista)
        messages_send_due()
        m_manaus.refresh_from_db(), m_sp.refresh_from_db()
        assert m_manaus.status == MessageStatus.SENT
        assert (m_sp.status, m_sp.due_at) == (MessageStatus.QUEUED, datetime(2026, 6, 2, 8, 0, tzinfo=SP))
        assert m_sp.attempts == 0  # waiting is not a failed attempt
    with time_machine.travel(datetime(2026, 6, 2, 7, 59, tzinfo=SP), tick=False):
        assert messages_send_due() == 0
    with time_machine.travel(datetime(2026, 6, 2, 8, 0, tzinfo=SP), tick=False):
        assert messages_send_due() == 1
        m_sp.refresh_from_db()
        assert m_sp.status == MessageStatus.SENT


def test_consent_revoked_after_queueing_suppresses_at_send_and_falls_back(alpha):
    sms = MessageTemplate.objects.create(slug="oi-sms", name="Oi SMS", channel="sms", body_text="Oi")
    bia = AffiliateFactory(consent_email=True, consent_sms=True)
    message = message_enqueue(
        affiliate=bia, templates={"email": email_template(), "sms": sms}, chain=["email", "sms"], source="api"
    )
    assert (message.channel, message.fallback) == ("email", ["sms"])
    type(bia).objects.filter(pk=bia.pk).update(consent_email=False)
    messages_send_batch()
    message.refresh_from_db()
    assert (message.status, message.reason) == (MessageStatus.SUPPRESSED, SuppressionReason.NO_CONSENT)
    successor = Message.objects.exclude(pk=message.pk).get(affiliate=bia)
    assert (successor.channel, successor.status, successor.fallback) == ("sms", MessageStatus.QUEUED, [])


def test_a_message_that_keeps_failing_is_dead_with_the_error_and_can_be_sent_again(alpha):
    ChannelConfig.objects.filter(channel="email").update(
        settings={"host": "127.0.0.1", "port": "9", "use_tls": "0", "use_ssl": "0"}  # nobody listens
    )
    message = enqueue(AffiliateFactory(consent_email=True))
    now = NOON
    for attempt in range(OUTBOX.max_attempts):
        with time_machine.travel(now, tick=False):
            claimed, sent = messages_send_batch()
            assert (claimed, sent) == (1, 0), attempt
        message.refresh_from_db()
        if message.status == MessageStatus.DEAD:
            break
        now = message.due_at
    assert (message.status, message.attempts, message.due_at) == (
        MessageStatus.DEAD,
        OUTBOX.max_attempts,
        None,
    )
    assert message.error

    ChannelConfig.objects.filter(channel="email").update(
        settings={"host": "127.0.0.1", "port": str(settings.EMAIL_PORT), "use_tls": "0", "use_ssl": "0"}
    )
    with time_machine.travel(now, tick=False):
        assert message_resend(message_ids=[message.pk], by="ana@udn") == 1
        assert messages_send_due() == 1
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT


def test_the_failures_page_lists_dead_messages_with_the_error_and_resends_them(
    alpha, udn_a, marketer, analyst, client_for
):
    message = enqueue(AffiliateFactory(consent_email=True, name="Carla Dias"))
    Message.objects.filter(pk=message.pk).update(
        status=MessageStatus.DEAD, due_at=None, attempts=6, error="550 mailbox unavailable", failed_at=NOON
    )
    page = client_for(udn_a, analyst).get("/messages/failures/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Falhas" in html and "Carla Dias" in html and "550 mailbox unavailable" in html
    assert "Reenviar" not in html  # analysts read, marketers act
    assert (
        client_for(udn_a, analyst).post("/messages/failures/resend/", {"message": message.pk}).status_code
        == 403
    )

    answer = client_for(udn_a, marketer).post("/messages/failures/resend/", {"message": message.pk})
    assert answer.status_code == 302
    message.refresh_from_db()
    assert (message.status, message.attempts, message.due_at) == (MessageStatus.QUEUED, 0, NOON)
    assert messages_send_due() == 1
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT


def test_the_rate_limit_gives_a_channel_at_most_its_rate_per_second(alpha):
    from campaigns.services.sender import rate_take

    assert rate_take(channel="sms", rate=5, want=8) == 5  # a second's worth at most
    assert rate_take(channel="sms", rate=5, want=8) == 0  # then it refills at 5 a second
    assert rate_take(channel="telegram", rate=5, want=3) == 3  # another channel has its own bucket


def test_the_claim_reads_pending_messages_in_priority_order_from_the_claim_index(alpha):
    """The claim (crm.services.duework with rank "priority") orders by priority, then due time: on
    a big outbox it must read the partial `message_claim` index in that order, not sort every due
    row for each batch."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from crm.services.duework import due_claim

    ana = AffiliateFactory(consent_email=True)
    template = email_template()
    table = connection.ops.quote_name(Message._meta.db_table)
    with connection.cursor() as cursor:
        # 30,000 messages: most already sent, the rest due at several priorities.
        cursor.execute(
            f"""
            INSERT INTO {table} (affiliate_id, template_id, channel, fallback, source, priority,
                status, reason, due_at, attempts, idempotency_key, provider, provider_message_id,
                variables, rendered, error, created_at)
            SELECT %(affiliate)s, %(template)s, 'email', '{{}}', 'campaign', 1 + (n / 5) %% 10,
                CASE WHEN n %% 5 = 0 THEN 'queued' ELSE 'sent' END, '',
                CASE WHEN n %% 5 = 0 THEN %(now)s - n * interval '1 second' END, 0,
                gen_random_uuid(), '', '', '{{}}', '{{}}', '', %(now)s
            FROM generate_series(1, 30000) n
            """,  # noqa: S608 - the model's table
            {"affiliate": ana.pk, "template": template.pk, "now": NOON},
        )
        cursor.execute(f"ANALYZE {table}")  # noqa: S608
    with CaptureQueriesContext(connection) as queries:
        claimed = due_claim(spec=OUTBOX, now=NOON, limit=5)
    [claim_sql] = [q["sql"] for q in queries.captured_queries if q["sql"].lstrip().startswith("UPDATE")]
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + claim_sql)
        plan = "\n".join(row for (row,) in cursor.fetchall())
    assert "message_claim" in plan, plan
    # And they are the highest priority's oldest due.
    assert set(Message.objects.filter(pk__in=claimed).values_list("priority", flat=True)) == {10}
