"""The static guards: each refusal and its reason, and the SQL form agreeing with the scalar one
value by value."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django_tenants.utils import tenant_context

from campaigns.models import ChannelConfig, InboundMessage, MessageTemplate, SuppressionReason
from campaigns.services.guards import guard_static, guard_static_sql
from crm.channels import CHANNEL_CODES
from crm.models import Affiliate
from crm.services.consent import consent_change
from crm.tests.factories import AffiliateFactory

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=ZoneInfo("America/Sao_Paulo"))


@pytest.fixture
def alpha(udn_a):
    with tenant_context(udn_a), time_machine.travel(NOW, tick=False):
        yield udn_a


def free_text_template() -> MessageTemplate:
    return MessageTemplate.objects.create(slug="livre", name="Livre", channel="whatsapp", body_text="Oi")


def test_each_refusal_has_its_reason(alpha):
    ok = AffiliateFactory(consent_email=True, consent_whatsapp=True)
    assert guard_static(affiliate=ok, channel="email") is None

    never = AffiliateFactory()
    assert guard_static(affiliate=never, channel="email") == SuppressionReason.NO_CONSENT

    quitter = AffiliateFactory(consent_email=True)
    consent_change(affiliate=quitter, channel="email", granted=False, source="sair")
    quitter.refresh_from_db()
    assert guard_static(affiliate=quitter, channel="email") == SuppressionReason.OPTED_OUT

    no_email = AffiliateFactory(email="", consent_email=True)
    assert guard_static(affiliate=no_email, channel="email") == SuppressionReason.NO_ADDRESS
    no_chat = AffiliateFactory(consent_telegram=True)
    assert guard_static(affiliate=no_chat, channel="telegram") == SuppressionReason.NO_ADDRESS

    ChannelConfig.objects.create(channel="email", enabled=False)
    assert guard_static(affiliate=ok, channel="email") == SuppressionReason.CHANNEL_DISABLED


def test_whatsapp_free_text_only_inside_the_24_hour_window(alpha):
    template = free_text_template()
    approved = MessageTemplate.objects.create(
        slug="boas-vindas", name="Boas-vindas", channel="whatsapp", wa_template_name="boas_vindas"
    )
    maria = AffiliateFactory(consent_whatsapp=True)
    assert (
        guard_static(affiliate=maria, channel="whatsapp", template=template)
        == SuppressionReason.OUTSIDE_WINDOW
    )
    assert guard_static(affiliate=maria, channel="whatsapp", template=approved) is None

    InboundMessage.objects.create(
        channel="whatsapp", affiliate=maria, from_address=maria.phone, provider_message_id="wamid.1",
        received_at=NOW - timedelta(hours=23, minutes=59),
    )  # fmt: skip
    assert guard_static(affiliate=maria, channel="whatsapp", template=template) is None
    with time_machine.travel(NOW + timedelta(minutes=2), tick=False):
        assert guard_static(affiliate=maria, channel="whatsapp", template=template) == (
            SuppressionReason.OUTSIDE_WINDOW
        )


def test_the_sql_guard_agrees_with_the_scalar_one_value_by_value(alpha):
    """Every combination of consent on the channel, consent elsewhere, a revocation in the ledger,
    an address, the WhatsApp window, for every channel, enabled and disabled."""
    affiliates = []
    for n, (own, other, revoked, address, inbound) in enumerate(itertools.product([False, True], repeat=5)):
        affiliate = AffiliateFactory(
            external_id=f"G-{n}",
            email="g@example.com" if address else "",
            phone=AffiliateFactory.build().phone if address else "",
            telegram_chat_id="123" if address else "",
            attributes={"push_token": "fcm-token"} if address else {},
        )
        if revoked:
            for channel in CHANNEL_CODES:
                consent_change(affiliate=affiliate, channel=channel, granted=False, source="sair")
        values = {f"consent_{c}": other for c in CHANNEL_CODES}
        Affiliate.objects.filter(pk=affiliate.pk).update(**values)
        if inbound:
            InboundMessage.objects.create(
                channel="whatsapp", affiliate=affiliate, from_address="x", provider_message_id=f"in-{n}",
                received_at=NOW - timedelta(hours=2),
            )  # fmt: skip
        affiliates.append((affiliate.pk, own))
    template = free_text_template()
    seen = set()
    for disabled in (False, True):
        if disabled:
            for channel in CHANNEL_CODES:
                ChannelConfig.objects.update_or_create(channel=channel, defaults={"enabled": False})
        for channel in CHANNEL_CODES:
            for pk, own in affiliates:
                Affiliate.objects.filter(pk=pk).update(**{f"consent_{channel}": own})
            for free_text in (False, True):
                with connection.cursor() as cursor:
                    cursor.execute(
                        f"SELECT a.id, {guard_static_sql(channel, free_text=free_text)} FROM crm_affiliate a"  # noqa: S608
                    )
                    sql = dict(cursor.fetchall())
                for affiliate in Affiliate.objects.filter(pk__in=[pk for pk, _own in affiliates]):
                    expected = guard_static(
                        affiliate=affiliate, channel=channel, template=template if free_text else None
                    )
                    assert sql[affiliate.pk] == (expected.value if expected else None), (
                        channel,
                        affiliate.pk,
                    )
                    seen.add(expected)
    # Every reason the static guards give was met at least once.
    assert seen == {
        None,
        SuppressionReason.NO_CONSENT,
        SuppressionReason.OPTED_OUT,
        SuppressionReason.NO_ADDRESS,
        SuppressionReason.OUTSIDE_WINDOW,
        SuppressionReason.CHANNEL_DISABLED,
    }
