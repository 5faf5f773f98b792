"""A saved segment as a broadcast campaign's audience: its conditions compiled into the list
filter's query (the segment's members that the filter also picks), through the draft, the form,
its live count and the fan-out."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from django.core.exceptions import ValidationError
from django_tenants.utils import tenant_context

from campaigns.models import CampaignStatus, Message, MessageTemplate
from campaigns.services.campaigns import CampaignDraft, campaign_fan_out, campaign_launch, campaign_save
from crm.models import Affiliate, Event
from crm.services.segments import segment_save

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
NEVER_CASHED_OUT = {
    "version": 1,
    "root": {
        "kind": "group",
        "op": "and",
        "conditions": [
            {"kind": "event", "type": "cash_in", "operator": "gte", "value": 1},
            {"kind": "event", "type": "cashout", "operator": "eq", "value": 0},
        ],
    },
}


@pytest.fixture
def space(udn_a):
    with tenant_context(udn_a):
        MessageTemplate.objects.create(
            slug="t-email", name="Modelo", channel="email", subject="Oi", body_text="Oi"
        )
        people = [
            Affiliate.objects.create(
                external_id=f"CS-{n}", name=f"Pessoa {n}", email=f"p{n}@example.com", consent_email=True
            )
            for n in range(5)
        ]
        for person in people[:3]:
            Event.objects.create(
                event_id=f"ci-{person.pk}", affiliate=person, type="cash_in", occurred_at=NOW
            )
        Event.objects.create(event_id="co", affiliate=people[0], type="cashout", occurred_at=NOW)
        yield people


def _draft(**overrides) -> CampaignDraft:
    values = {
        "name": "Para quem nunca sacou",
        "audience_query": "",
        "channels": ["email"],
        "templates": {"email": MessageTemplate.objects.get(channel="email")},
    }
    return CampaignDraft(**(values | overrides))


def test_a_segment_is_the_audience_of_the_fan_out(space):
    segment = segment_save(name="Nunca sacaram", definition=NEVER_CASHED_OUT, by="t")
    campaign = campaign_save(draft=_draft(segment_id=segment.pk), by="m")
    assert (campaign.segment_id, campaign.audience_query, campaign.audience_count) == (segment.pk, "", 2)
    campaign = campaign_launch(campaign=campaign, now=NOW)
    assert campaign.status == CampaignStatus.FANNING_OUT
    assert campaign_fan_out(campaign_id=campaign.pk, now=NOW, batch=2) == "done"
    sent = sorted(Message.objects.filter(campaign=campaign).values_list("affiliate_id", flat=True))
    assert sent == [space[1].pk, space[2].pk]


def test_a_missing_segment_is_refused_on_the_segment_field(space):
    with pytest.raises(ValidationError) as refused:
        campaign_save(draft=_draft(segment_id=999_999), by="m")
    assert refused.value.message_dict == {"segment": ["O segmento não existe mais."]}


def test_the_campaign_form_offers_the_saved_segments(udn_a, marketer, client_for, space):
    with tenant_context(udn_a):
        segment = segment_save(name="Nunca sacaram", definition=NEVER_CASHED_OUT, by="t")
        template = MessageTemplate.objects.get(channel="email")
    client = client_for(udn_a, marketer)
    page = client.get("/campaigns/new/").content.decode()
    assert f'<option value="{segment.pk}">Nunca sacaram</option>' in page
    response = client.post(
        "/campaigns/new/",
        {
            "name": "Pelo formulário",
            "audience_query": "",
            "segment": str(segment.pk),
            "priority": "5",
            "send_mode": "now",
            "holdout_percent": "0",
            "conversion_window_days": "7",
            "channel_1": "email",
            "template_email": str(template.pk),
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    with tenant_context(udn_a):
        from campaigns.models import Campaign

        saved = Campaign.objects.get(name="Pelo formulário")
        assert (saved.segment_id, saved.audience_count) == (segment.pk, 2)
    detail = client.get(f"/campaigns/{saved.pk}/").content.decode()
    assert f'href="/segments/{segment.pk}/"' in detail


def test_the_segment_and_the_list_filter_combine_in_the_saved_audience(space):
    Affiliate.objects.filter(pk__in=[space[1].pk, space[3].pk]).update(state="SP")
    segment = segment_save(name="Nunca sacaram", definition=NEVER_CASHED_OUT, by="t")
    # Never cashed out: people 1 and 2; in SP: people 1 and 3; both: person 1 only.
    campaign = campaign_save(draft=_draft(segment_id=segment.pk, audience_query="state=SP"), by="m")
    assert (campaign.audience_query, campaign.audience_count) == ("state=SP", 1)
    campaign = campaign_launch(campaign=campaign, now=NOW)
    assert campaign_fan_out(campaign_id=campaign.pk, now=NOW, batch=2) == "done"
    assert list(Message.objects.filter(campaign=campaign).values_list("affiliate_id", flat=True)) == [
        space[1].pk
    ]


def test_the_live_count_follows_the_chosen_segment_with_the_filter(udn_a, marketer, client_for, space):
    with tenant_context(udn_a):
        Affiliate.objects.filter(pk__in=[space[1].pk, space[3].pk]).update(state="SP")
        segment = segment_save(name="Nunca sacaram", definition=NEVER_CASHED_OUT, by="t")
    client = client_for(udn_a, marketer)

    def live(**params: str) -> str:
        response = client.get("/campaigns/audience-count/", params, HTTP_HX_REQUEST="true")
        assert response.status_code == 200
        return response.content.decode()

    assert 'data-count="5"' in live(audience_query="", segment="")
    assert 'data-count="2"' in live(audience_query="state=SP", segment="")
    whole = live(audience_query="", segment=str(segment.pk))
    assert 'data-count="2"' in whole and "todos os membros do segmento “Nunca sacaram”" in whole
    assert f'href="/segments/{segment.pk}/"' in whole and 'data-testid="audience-open-list"' not in whole
    both = live(audience_query="state=SP", segment=str(segment.pk))
    assert 'data-count="1"' in both and "membros do segmento “Nunca sacaram” que o filtro seleciona" in both
    gone = live(audience_query="", segment="999999")
    assert 'role="alert"' in gone and "O segmento não existe mais." in gone and 'data-count=""' in gone
    bad = live(audience_query="state=ZZ", segment=str(segment.pk))
    assert 'role="alert"' in bad

    # The form asks for the count when the segment changes too (debounced), sending the filter
    # along; the filter's requests send the segment. An existing campaign opens with its count.
    page = client.get("/campaigns/new/").content.decode()
    select = re.search(r'<select name="segment"[^>]*>', page).group(0)
    assert 'hx-get="/campaigns/audience-count/"' in select and "delay:400ms" in select
    assert "hx-include=\"[name='audience_query']\"" in select
    assert "hx-include=\"[name='segment']\"" in page
    with tenant_context(udn_a):
        campaign = campaign_save(draft=_draft(segment_id=segment.pk, audience_query="state=SP"), by="m")
    edit = client.get(f"/campaigns/{campaign.pk}/edit/").content.decode()
    assert 'data-count="1"' in edit and f'<option value="{segment.pk}" selected>' in edit
