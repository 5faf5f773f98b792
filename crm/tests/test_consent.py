"""The consent ledger (LGPD): append-only history, current state = newest entry per channel."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django_tenants.utils import tenant_context

from crm.models import Affiliate, ConsentChange
from crm.services.consent import ConsentInput, consent_bulk_grant, consent_bulk_record, consent_change

T0 = datetime(2026, 5, 10, 14, 0, tzinfo=ZoneInfo("America/Sao_Paulo"))


@pytest.fixture
def joana(udn_a):
    with tenant_context(udn_a):
        yield Affiliate.objects.create(external_id="A-1", name="Joana da Silva")


def ledger(affiliate: Affiliate, channel: str) -> list[tuple[bool, datetime, str]]:
    return list(
        ConsentChange.objects.filter(affiliate=affiliate, channel=channel)
        .order_by("occurred_at", "id")
        .values_list("granted", "occurred_at", "source")
    )


def test_a_grant_is_written_to_the_ledger_and_becomes_the_current_state(joana):
    entry = consent_change(
        affiliate=joana,
        channel="whatsapp",
        granted=True,
        source="cadastro",
        proof="Aceite v3",
        occurred_at=T0,
    )

    joana.refresh_from_db()
    assert joana.consent_whatsapp is True
    assert (joana.consent_email, joana.consent_sms, joana.consent_push) == (False, False, False)
    assert (entry.channel, entry.granted, entry.proof) == ("whatsapp", True, "Aceite v3")


def test_a_late_arriving_older_change_is_kept_but_does_not_override_a_newer_one(joana):
    consent_change(affiliate=joana, channel="email", granted=False, source="descadastro", occurred_at=T0)
    # The sign-up grant from the day before reaches us only now.
    consent_change(
        affiliate=joana, channel="email", granted=True, source="cadastro", occurred_at=T0 - timedelta(days=1)
    )

    joana.refresh_from_db()
    assert joana.consent_email is False
    assert ledger(joana, "email") == [(True, T0 - timedelta(days=1), "cadastro"), (False, T0, "descadastro")]


def test_an_opt_out_takes_effect_at_once(joana):
    consent_change(affiliate=joana, channel="sms", granted=True, source="cadastro", occurred_at=T0)

    consent_change(affiliate=joana, channel="sms", granted=False, source="sms", proof="Resposta PARAR")

    assert joana.consent_sms is False  # the instance the caller holds
    assert Affiliate.objects.filter(pk=joana.pk, consent_sms=False).exists()


def test_history_rows_are_appended_never_rewritten(joana):
    first = consent_change(affiliate=joana, channel="push", granted=True, source="app", occurred_at=T0)
    consent_change(
        affiliate=joana, channel="push", granted=False, source="app", occurred_at=T0 + timedelta(hours=1)
    )
    consent_change(
        affiliate=joana, channel="push", granted=True, source="app", occurred_at=T0 + timedelta(hours=2)
    )

    assert [granted for granted, _at, _src in ledger(joana, "push")] == [True, False, True]
    first_again = ConsentChange.objects.get(pk=first.pk)
    assert (first_again.granted, first_again.occurred_at, first_again.recorded_at) == (
        True,
        T0,
        first.recorded_at,
    )
    joana.refresh_from_db()
    assert joana.consent_push is True


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"channel": "pombo-correio"}, "channel"),
        ({"source": ""}, "source"),
        ({"occurred_at": datetime(2026, 1, 1)}, "occurred_at"),  # naive on purpose
    ],
)
def test_bad_consent_input_is_refused_and_nothing_is_written(joana, kwargs, field):
    args = {"affiliate": joana, "channel": "email", "granted": True, "source": "cadastro"} | kwargs
    with pytest.raises(ValidationError) as caught:
        consent_change(**args)
    assert field in caught.value.message_dict
    assert not ConsentChange.objects.exists()


def test_bulk_grant_writes_one_entry_per_affiliate_and_channel(joana):
    pedro = Affiliate.objects.create(external_id="A-2", name="Pedro Alves")

    written = consent_bulk_grant(
        affiliate_ids=[joana.pk, pedro.pk],
        channels=["email", "whatsapp"],
        source="importacao",
        occurred_at=T0,
    )

    assert written == 4
    assert ConsentChange.objects.filter(granted=True, source="importacao").count() == 4
    assert Affiliate.objects.filter(consent_email=True, consent_whatsapp=True, consent_sms=False).count() == 2


def test_bulk_grants_older_than_an_opt_out_do_not_override_it(joana):
    consent_change(affiliate=joana, channel="email", granted=False, source="descadastro", occurred_at=T0)

    consent_bulk_record(
        entries=[
            ConsentInput(joana.pk, "email", True, T0 - timedelta(days=30), source="importacao"),
            ConsentInput(joana.pk, "whatsapp", True, T0 - timedelta(days=30), source="importacao"),
        ]
    )

    joana.refresh_from_db()
    assert (joana.consent_email, joana.consent_whatsapp) == (False, True)
    assert len(ledger(joana, "email")) == 2
