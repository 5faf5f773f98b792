"""The journeys' pages in pt-BR, not codes: the diagram's nodes (the step's kind, the trigger's
event) and exits, the triggers list, the counts' "Saíram" header, the affiliate page's "esperando
<evento>"; a draft's diagram has no counts; a campaign's audience shows its segment's name."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest
import time_machine
from django.utils import timezone
from django_tenants.utils import tenant_context

from campaigns.models import Enrollment, MessageTemplate
from campaigns.services.campaigns import CampaignDraft, campaign_save
from campaigns.services.journeys import journey_save, journeys_advance_due
from campaigns.tests.journey_helpers import happen, published
from crm.services.segments import segment_save
from crm.tests.factories import AffiliateFactory

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)

GRAPH = {
    "triggers": [{"type": "event", "event": "account_opened", "start": "espera"}],
    "steps": [
        {
            "id": "espera",
            "type": "wait_event",
            "event": "app_downloaded",
            "days": 2,
            "yes": "welcome",
            "no": None,
        },
        {
            "id": "welcome",
            "type": "send",
            "channels": ["email"],
            "templates": {"email": "a"},
            "next": "sorteio",
        },
        {
            "id": "sorteio",
            "type": "split",
            "arms": [
                {"name": "azul", "percent": 50, "next": "fim"},
                {"name": "verde", "percent": 50, "next": "fim"},
            ],
        },
        {"id": "fim", "type": "exit"},
    ],
}


@pytest.fixture
def clock(udn_a):
    with tenant_context(udn_a), time_machine.travel(NOW, tick=False) as traveller:
        MessageTemplate.objects.create(slug="a", name="A", channel="email", subject="Oi", body_text="Oi")
        yield traveller


def _elements(page: str, script_id: str) -> dict:
    found = re.search(rf'<script id="{script_id}" type="application/json">(.*?)</script>', page, re.S)
    assert found, script_id
    return json.loads(found.group(1))


def test_the_journey_page_shows_step_event_and_exit_labels_not_codes(clock, udn_a, marketer, client_for):
    journey = published(GRAPH)
    page = client_for(udn_a, marketer).get(f"/journeys/{journey.pk}/").content.decode()

    diagram = _elements(page, "journey-elements")
    nodes = {n["data"]["id"]: n["data"] for n in diagram["nodes"]}
    assert nodes["trigger-0"]["label"] == "Gatilho: Conta aberta"
    assert nodes["espera"]["kind_label"] == "Esperar um evento"
    assert nodes["welcome"]["kind_label"] == "Enviar mensagem"
    assert nodes["welcome"]["waiting"] == 0  # a published version has its counts
    edges = sorted((e["data"]["source"], e["data"]["target"], e["data"]["label"]) for e in diagram["edges"])
    assert edges == [
        ("espera", "welcome", "se aconteceu"),
        ("sorteio", "fim", "braço azul"),
        ("sorteio", "fim", "braço verde"),
        ("trigger-0", "espera", ""),
        ("welcome", "sorteio", ""),
    ]

    assert "Saíram</th>" in page and "Saiu</th>" not in page
    assert '<span class="muted small">Esperar um evento</span>' in page
    assert '<span class="muted small">wait_event</span>' not in page
    triggers = page.split('data-testid="draft-triggers"')[1].split("</table>")[0]
    assert "<td>Conta aberta</td>" in triggers and "account_opened" not in triggers


def test_a_drafts_diagram_has_no_counts(clock, udn_a, marketer, client_for):
    journey = journey_save(name="Rascunho", graph=GRAPH, by="marina@alpha.test")
    page = client_for(udn_a, marketer).get(f"/journeys/{journey.pk}/").content.decode()
    draft = _elements(page, "journey-draft-elements")
    steps = [n["data"] for n in draft["nodes"] if n["data"]["kind"] != "trigger"]
    assert steps and all("waiting" not in d and "exited" not in d for d in steps)
    assert {d["kind_label"] for d in steps} == {
        "Esperar um evento",
        "Enviar mensagem",
        "Divisão aleatória",
        "Saída",
    }


def test_the_affiliate_panel_names_the_event_a_journey_waits_for(clock, udn_a, marketer, client_for):
    published(GRAPH)
    person = AffiliateFactory(consent_email=True)
    happen(person, "account_opened")
    journeys_advance_due(now=timezone.now())
    assert Enrollment.objects.get(affiliate=person).waiting_for == "app_downloaded"
    page = client_for(udn_a, marketer).get(f"/affiliates/{person.pk}/").content.decode()
    assert "esperando App baixado até 12/03/2026" in page
    assert "app_downloaded" not in page


def test_campaign_detail_shows_the_segments_name(clock, udn_a, marketer, client_for):
    segment = segment_save(
        name="Nunca sacaram",
        definition={
            "version": 1,
            "root": {
                "kind": "group",
                "op": "and",
                "conditions": [{"kind": "event", "type": "cash_in", "operator": "gte", "value": 1}],
            },
        },
        by="t",
    )
    campaign = campaign_save(
        draft=CampaignDraft(
            name="Para o segmento",
            audience_query="",
            channels=["email"],
            templates={"email": MessageTemplate.objects.get(slug="a")},
            segment_id=segment.pk,
        ),
        by="m",
    )
    page = client_for(udn_a, marketer).get(f"/campaigns/{campaign.pk}/").content.decode()
    audience = page.split('data-testid="campaign-audience">')[1].split("</a>")[0]
    assert audience == "Nunca sacaram"
