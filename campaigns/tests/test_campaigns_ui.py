"""Campaign pages: the list (status, dd/mm/aaaa date, owner, search, status filter, pagination,
empty state), the form (live audience count equal to the list's, a template per channel, schedule in
the UDN's time zone), the page with its live progress and actions, the results (funnel chart and
table, conversion with the interval and "não significativo"), and who may do what."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.staticfiles import finders
from django_tenants.utils import tenant_context

from campaigns.models import (
    Campaign,
    CampaignHoldout,
    CampaignStatus,
    Message,
    MessageStatus,
    MessageTemplate,
)
from campaigns.selectors.campaigns import holdout_bucket
from campaigns.services.campaigns import CampaignDraft, campaign_fan_out, campaign_launch, campaign_save
from crm.models import Event
from crm.tests.factories import AffiliateFactory

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def templates(udn_a):
    with tenant_context(udn_a):
        return {
            channel: MessageTemplate.objects.create(
                slug=f"ui-{channel}", name=f"Modelo {channel}", channel=channel, subject="Oi", body_text="Oi"
            )
            for channel in ("email", "sms")
        }


def make_campaign(udn, templates, **overrides) -> Campaign:
    with tenant_context(udn):
        values = {
            "name": "Campanha de março",
            "audience_query": "",
            "channels": ["email"],
            "templates": {"email": templates["email"]},
        }
        return campaign_save(draft=CampaignDraft(**(values | overrides)), by="marina.marketing@alpha.test")


def test_the_list_shows_status_date_owner_and_audience(udn_a, marketer, client_for, templates):
    campaign = make_campaign(udn_a, templates)
    with tenant_context(udn_a):
        Campaign.objects.filter(pk=campaign.pk).update(created_at=datetime(2026, 3, 5, 13, 30, tzinfo=UTC))
    html = client_for(udn_a, marketer).get("/campaigns/").content.decode()
    assert "Campanhas" in html
    assert 'data-testid="campaign-row"' in html
    assert "Rascunho" in html  # the draft status, in Portuguese
    assert "05/03/2026 10:30" in html  # São Paulo time, dd/mm/aaaa hh:mm
    assert "marina.marketing@alpha.test" in html
    assert 'href="/campaigns/"' in html  # the menu entry


def test_the_list_searches_filters_by_status_and_pages(udn_a, marketer, client_for, templates):
    for n in range(27):
        make_campaign(udn_a, templates, name=f"Promo {n:02d}")
    other = make_campaign(udn_a, templates, name="Aniversário")
    with tenant_context(udn_a):
        Campaign.objects.filter(pk=other.pk).update(status=CampaignStatus.CANCELLED)
    client = client_for(udn_a, marketer)
    found = client.get("/campaigns/?q=anivers").content.decode()
    assert found.count('data-testid="campaign-row"') == 1
    cancelled = client.get("/campaigns/?status=cancelled").content.decode()
    assert cancelled.count('data-testid="campaign-row"') == 1 and "Aniversário" in cancelled
    first = client.get("/campaigns/").content.decode()
    assert first.count('data-testid="campaign-row"') == 25
    assert "Página 1 de 2" in first
    second = client.get("/campaigns/?page=2").content.decode()
    assert second.count('data-testid="campaign-row"') == 3
    none = client.get("/campaigns/?q=nada-disso").content.decode()
    assert 'data-testid="campaigns-empty"' in none


def test_the_empty_list_invites_a_first_campaign(udn_a, marketer, client_for):
    html = client_for(udn_a, marketer).get("/campaigns/").content.decode()
    assert 'data-testid="campaigns-empty"' in html
    assert "Nenhuma campanha ainda" in html


def test_the_live_count_is_the_count_the_affiliate_list_shows(udn_a, marketer, client_for):
    with tenant_context(udn_a):
        for n in range(9):
            AffiliateFactory(state="SP" if n % 3 else "RJ", consent_email=bool(n % 2))
    client = client_for(udn_a, marketer)
    for query in ("state=SP", "consent=email&state=SP", ""):
        listed = client.get(f"/affiliates/?{query}").content.decode()
        shown = int(re.search(r'data-testid="result-count" data-count="(\d+)"', listed).group(1))
        live = client.get("/campaigns/audience-count/", {"audience_query": query}, HTTP_HX_REQUEST="true")
        assert f'data-count="{shown}"' in live.content.decode()
    bad = client.get("/campaigns/audience-count/", {"audience_query": "state=ZZ"}).content.decode()
    assert 'role="alert"' in bad


def test_creating_a_campaign_through_the_form(udn_a, marketer, client_for, templates):
    with tenant_context(udn_a):
        AffiliateFactory(state="SP")
    client = client_for(udn_a, marketer)
    form = client.get("/campaigns/new/?audience=" + "%3Fstate%3DSP%26page%3D3").content.decode()
    assert 'value="state=SP"' in form
    assert "usar filtro atual da lista de afiliados" in form
    response = client.post(
        "/campaigns/new/",
        {
            "name": "Volta às aulas",
            "audience_query": "http://alpha.localhost/affiliates/?state=SP",
            "channel_1": "sms",
            "channel_2": "email",
            "channel_3": "",
            "template_sms": templates["sms"].pk,
            "template_email": templates["email"].pk,
            "priority": 7,
            "send_mode": "later",
            "send_at": "2026-04-01T09:30",
            "holdout_percent": 10,
            "goal_event": "cash_in",
            "conversion_window_days": 14,
        },
    )
    assert response.status_code == 302
    with tenant_context(udn_a):
        campaign = Campaign.objects.get(name="Volta às aulas")
        assert campaign.channels == ["sms", "email"]
        assert campaign.audience_query == "state=SP"
        assert campaign.audience_count == 1
        assert campaign.send_at == datetime(2026, 4, 1, 9, 30, tzinfo=ZoneInfo("America/Sao_Paulo"))
        assert (campaign.priority, campaign.holdout_percent, campaign.goal_event) == (7, 10, "cash_in")
        assert {t.pk for t in campaign.templates.all()} == {templates["sms"].pk, templates["email"].pk}


def test_the_form_says_what_is_missing(udn_a, marketer, client_for, templates):
    client = client_for(udn_a, marketer)
    fields = {
        "name": "X",
        "channel_1": "sms",
        "priority": 5,
        "holdout_percent": 0,
        "conversion_window_days": 7,
    }
    response = client.post("/campaigns/new/", fields | {"send_mode": "now"})
    assert response.status_code == 400
    assert "Escolha um modelo para sms." in response.content.decode()
    response = client.post(
        "/campaigns/new/", fields | {"send_mode": "later", "template_sms": templates["sms"].pk}
    )
    assert response.status_code == 400
    assert "Escolha a data e a hora do envio." in response.content.decode()
    with tenant_context(udn_a):
        assert not Campaign.objects.exists()


def test_analysts_read_but_cannot_create_or_act(udn_a, analyst, client_for, templates):
    campaign = make_campaign(udn_a, templates)
    client = client_for(udn_a, analyst)
    assert client.get("/campaigns/").status_code == 200
    assert client.get(f"/campaigns/{campaign.pk}/").status_code == 200
    assert client.get("/campaigns/new/").status_code == 403
    assert client.post(f"/campaigns/{campaign.pk}/launch/").status_code == 403
    with tenant_context(udn_a):
        assert Campaign.objects.get(pk=campaign.pk).status == CampaignStatus.DRAFT


def test_another_udns_member_cannot_open_a_campaign(udn_a, outsider, client_for, templates):
    campaign = make_campaign(udn_a, templates)
    response = client_for(udn_a, outsider).get(f"/campaigns/{campaign.pk}/")
    assert response.status_code in (302, 403)


def test_launch_pause_resume_and_cancel_from_the_page(udn_a, marketer, client_for, templates):
    with tenant_context(udn_a):
        for _ in range(3):
            AffiliateFactory(consent_email=True)
    campaign = make_campaign(udn_a, templates)
    client = client_for(udn_a, marketer)
    assert 'data-testid="campaign-launch"' in client.get(f"/campaigns/{campaign.pk}/").content.decode()
    client.post(f"/campaigns/{campaign.pk}/launch/")
    with tenant_context(udn_a):
        assert campaign_fan_out(campaign_id=campaign.pk) == "done"
    progress = client.get(
        f"/campaigns/{campaign.pk}/", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="campaign-progress"
    )
    html = progress.content.decode()
    assert html.startswith('<section id="campaign-progress"')
    assert 'hx-trigger="every 1s"' in html  # still sending: the bar keeps polling
    assert 'data-testid="campaign-pause"' in html
    client.post(f"/campaigns/{campaign.pk}/pause/")
    with tenant_context(udn_a):
        assert Campaign.objects.get(pk=campaign.pk).status == CampaignStatus.PAUSED
        assert not Message.objects.filter(campaign=campaign, due_at__isnull=False).exists()
    client.post(f"/campaigns/{campaign.pk}/resume/")
    client.post(f"/campaigns/{campaign.pk}/cancel/")
    with tenant_context(udn_a):
        assert Campaign.objects.get(pk=campaign.pk).status == CampaignStatus.CANCELLED
        assert set(Message.objects.filter(campaign=campaign).values_list("status", flat=True)) == {
            MessageStatus.CANCELLED
        }
    done = client.get(
        f"/campaigns/{campaign.pk}/", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="campaign-progress"
    )
    assert "every 1s" not in done.content.decode()  # finished: no more polling


def test_results_show_the_funnel_chart_and_table_and_the_conversion(udn_a, marketer, client_for, templates):
    with tenant_context(udn_a):
        people = [AffiliateFactory(consent_email=True) for _ in range(60)]
    campaign = make_campaign(udn_a, templates, holdout_percent=50, goal_event="cash_in")
    with tenant_context(udn_a):
        campaign_launch(campaign=campaign, now=NOW)
        campaign_fan_out(campaign_id=campaign.pk, now=NOW)
        rows = list(Message.objects.filter(campaign=campaign).order_by("pk"))
        Message.objects.filter(pk__in=[m.pk for m in rows[:5]]).update(
            status=MessageStatus.DELIVERED, due_at=None
        )
        treated = [m.affiliate_id for m in rows]
        Event.objects.create(
            event_id="conv-1", affiliate_id=treated[0], type="cash_in", occurred_at=NOW + timedelta(days=1)
        )
        held = CampaignHoldout.objects.filter(campaign=campaign).count()
        assert held == sum(holdout_bucket(campaign_id=campaign.pk, affiliate_id=p.pk) < 5000 for p in people)
    html = client_for(udn_a, marketer).get(f"/campaigns/{campaign.pk}/results/").content.decode()
    assert 'data-testid="funnel-chart"' in html
    assert "vendor/chartjs/chart.umd.min.js" in html
    assert 'id="funnel-data"' in html
    assert re.search(r'data-channel="email".*?data-step="delivered">5<', html, re.S)
    assert 'data-testid="conversion-difference"' in html
    assert '<th class="num">Entregues</th>' in html  # a column of messages: plural, as Enviadas/Lidas
    assert "não significativo" in html  # 1 conversion out of ~30 vs none: the interval contains 0
    assert "Intervalo de confiança de 95%" in html
    assert finders.find("vendor/chartjs/chart.umd.min.js") and finders.find("vendor/chartjs/LICENSE.md")


def test_results_without_a_goal_or_a_holdout_say_so(udn_a, marketer, client_for, templates):
    campaign = make_campaign(udn_a, templates)
    with tenant_context(udn_a):
        AffiliateFactory(consent_email=False)
        campaign_launch(campaign=campaign, now=NOW)
        campaign_fan_out(campaign_id=campaign.pk, now=NOW)
    html = client_for(udn_a, marketer).get(f"/campaigns/{campaign.pk}/results/").content.decode()
    assert "Esta campanha não tem evento de meta." in html
    assert "Sem consentimento para este canal" in html  # suppressed by reason
