"""A segment that a journey (its trigger, a branch's condition) or a broadcast not yet sent uses is
not deleted: the CRM asks campaigns through crm.segment_uses, and its refusal names them."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from campaigns.models import CampaignStatus, MessageTemplate
from campaigns.services.campaigns import CampaignDraft, campaign_save
from campaigns.services.journeys import journey_archive, journey_save
from campaigns.tests.journey_helpers import published
from crm.models import Segment
from crm.selectors.segments import segment_uses
from crm.services.segments import SegmentInUse, segment_delete, segment_save

pytestmark = pytest.mark.django_db

RECIFE = {
    "version": 1,
    "root": {
        "kind": "group",
        "op": "and",
        "conditions": [{"kind": "field", "field": "city", "operator": "eq", "value": "Recife"}],
    },
}


def _in_segment(segment_id: int) -> dict:
    return {
        "version": 1,
        "root": {"kind": "group", "op": "and", "conditions": [{"kind": "segment", "segment_id": segment_id}]},
    }


@pytest.fixture
def segment(udn_a):
    with tenant_context(udn_a):
        MessageTemplate.objects.create(
            slug="t-email", name="Modelo", channel="email", subject="Oi", body_text="Oi"
        )
        yield segment_save(name="Recife", definition=RECIFE, by="t")


def _refusal(segment: Segment) -> str:
    with pytest.raises(SegmentInUse) as refused:
        segment_delete(segment=segment)
    assert Segment.objects.filter(pk=segment.pk).exists()
    return refused.value.message


def test_a_journey_triggered_by_entering_the_segment_keeps_it(segment):
    journey_save(
        name="Boas-vindas Recife",
        graph={
            "triggers": [{"type": "segment", "segment": segment.pk, "start": "fim"}],
            "steps": [{"id": "fim", "type": "exit"}],
        },
        by="m",
    )
    assert _refusal(segment) == (
        "O segmento “Recife” não pode ser excluído enquanto estiver em uso. "
        "Usado em: Jornada “Boas-vindas Recife” (gatilho)."
    )


def test_a_live_journey_whose_branch_asks_in_segment_keeps_it_until_archived(segment):
    journey = published(
        {
            "triggers": [{"type": "manual", "start": "decide"}],
            "steps": [
                {
                    "id": "decide",
                    "type": "branch",
                    "condition": _in_segment(segment.pk),
                    "yes": "y",
                    "no": "n",
                },
                {"id": "y", "type": "exit"},
                {"id": "n", "type": "exit"},
            ],
        },
        name="Recuperação",
    )
    # The draft is emptied after publishing: the live version still names the segment.
    journey_save(name="Recuperação", graph={"triggers": [], "steps": []}, by="m", journey=journey)
    assert [str(use) for use in segment_uses(segment_id=segment.pk)] == [
        "Jornada “Recuperação” (condição da etapa “decide”)"
    ]
    _refusal(segment)

    journey_archive(journey=journey)
    segment_delete(segment=segment)
    assert not Segment.objects.filter(pk=segment.pk).exists()


def test_a_broadcast_not_yet_sent_keeps_its_audience_segment(segment):
    draft = CampaignDraft(
        name="Black Friday Recife",
        audience_query="",
        channels=["email"],
        templates={"email": MessageTemplate.objects.get(slug="t-email")},
        segment_id=segment.pk,
    )
    campaign = campaign_save(draft=draft, by="m")
    assert "Usado em: Campanha “Black Friday Recife”." in _refusal(segment)

    # Sent: its audience was read when it went out; the segment may go.
    type(campaign).objects.filter(pk=campaign.pk).update(status=CampaignStatus.DONE)
    segment_delete(segment=segment)


def test_the_segment_page_lists_every_use_and_the_refusal_names_them(segment, udn_a, marketer, client_for):
    journey_save(
        name="Boas-vindas Recife",
        graph={
            "triggers": [{"type": "segment", "segment": segment.pk, "start": "fim"}],
            "steps": [{"id": "fim", "type": "exit"}],
        },
        by="m",
    )
    segment_save(name="Recife ativos", definition=_in_segment(segment.pk), by="t")
    writer = client_for(udn_a, marketer)
    page = writer.get(f"/segments/{segment.pk}/").content.decode()
    assert "Segmento “Recife ativos”" in page and "Jornada “Boas-vindas Recife” (gatilho)" in page
    refused = writer.post(f"/segments/{segment.pk}/delete/", follow=True).content.decode()
    assert "Usado em: Segmento “Recife ativos”; Jornada “Boas-vindas Recife” (gatilho)." in refused
