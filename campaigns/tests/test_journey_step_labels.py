"""The journeys' step log as people read it: the affiliate page's journeys panel (crm.panels) shows
each step's outcome, and the codes stored as reasons (channel, why not sent), in pt-BR; the
partner API's history keeps the codes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone, translation
from django_tenants.utils import tenant_context

from campaigns.models import Enrollment, JourneyStepLog, JourneyStepOutcome, MessageTemplate
from campaigns.selectors.journeys import step_log_display
from campaigns.services.journeys import journey_archive, journeys_advance_due
from campaigns.tests.journey_helpers import happen, path_of, published
from crm.tests.factories import AffiliateFactory

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)

GRAPH = {
    "triggers": [{"type": "event", "event": "account_opened", "start": "espera"}],
    "steps": [
        {"id": "espera", "type": "wait", "days": 1, "next": "envio"},
        {"id": "envio", "type": "send", "channels": ["email"], "templates": {"email": "a"}, "next": "pausa"},
        {"id": "pausa", "type": "wait", "days": 5, "next": None},
    ],
}


@pytest.fixture
def clock(udn_a):
    with tenant_context(udn_a), time_machine.travel(NOW, tick=False) as traveller:
        MessageTemplate.objects.create(slug="a", name="A", channel="email", subject="Oi", body_text="Oi")
        yield traveller


def test_the_affiliate_page_shows_each_steps_outcome_and_reason_in_portuguese(
    clock, udn_a, marketer, client_for
):
    journey = published(GRAPH)
    reached = AffiliateFactory(consent_email=True)
    refused = AffiliateFactory(consent_email=False)
    happen(reached, "account_opened")
    happen(refused, "account_opened")
    clock.shift(timedelta(days=1, minutes=1))
    journeys_advance_due(now=timezone.now())
    journey_archive(journey=journey)
    assert path_of(Enrollment.objects.get(affiliate=refused)) == [
        ("espera", "entered"),
        ("espera", "waited"),
        ("envio", "suppressed"),
        ("pausa", "archived"),
    ]

    client = client_for(udn_a, marketer)
    page = client.get(f"/affiliates/{reached.pk}/").content.decode()
    assert 'data-outcome="sent">Mensagem enviada</span> (E-mail)' in page
    assert ">Espera concluída<" in page and ">Entrou na etapa<" in page
    assert ">Jornada arquivada<" in page
    page = client.get(f"/affiliates/{refused.pk}/").content.decode()
    assert 'data-outcome="suppressed">Mensagem não enviada</span> (Sem consentimento para este canal)' in page
    for code in ("entered", "waited", "suppressed", "archived", "no_consent"):
        assert f">{code}<" not in page and f"({code})" not in page

    api_history = Enrollment.objects.get(affiliate=refused).log.values_list("outcome", "reason")
    assert ("suppressed", "no_consent") in list(api_history)  # the codes stay stored as they were
    assert not JourneyStepLog.objects.exclude(outcome__in=JourneyStepOutcome.values).exists()


def test_every_outcome_has_a_portuguese_label_and_unknown_codes_show_as_they_are(db):
    with translation.override("pt-br"):
        labels = {code: step_log_display(outcome=code, reason="")[0] for code in JourneyStepOutcome.values}
        assert step_log_display(outcome="webhook_failed", reason="HTTP 500") == ("Webhook falhou", "HTTP 500")
        assert step_log_display(outcome="mystery", reason="x") == ("mystery", "x")
    with translation.override("en"):
        english = {code: str(JourneyStepOutcome(code).label) for code in JourneyStepOutcome.values}
    untranslated = [code for code in labels if labels[code] == english[code]]
    assert untranslated == [], untranslated
    assert labels["yes"] == "Sim" and labels["webhook_queued"] == "Webhook na fila"
