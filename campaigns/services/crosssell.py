"""A cross-sell or joint campaign of the shared space, inside one source UDN: its audience counted
here, its broadcast created and launched here (so affiliates' data never leaves the UDN), and what
comes back: counts, and the keyed CPF hashes (crm.persons.cpf_hash) of the people reached or
newly joined, for matching conversions across UDNs. Called by warroom inside the UDN's schema, by
import path."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Count, Q

from campaigns.models import Campaign, Message, MessageTemplate
from campaigns.selectors.campaigns import FUNNEL, REACHED, audience_count, audience_query_clean
from campaigns.services.calendar import CROSS_SELL_CREATOR_PREFIX
from campaigns.services.campaigns import CampaignDraft, campaign_launch, campaign_save
from campaigns.services.templates import template_save
from crm.models import Affiliate
from crm.persons import cpf_hash


def crosssell_audience_count(*, query: str) -> tuple[str, int]:
    """The affiliate list's filter as a campaign keeps it, and how many it selects here
    (ValidationError when the filter is bad)."""
    clean = audience_query_clean(query=query)
    return clean, audience_count(query=clean)


def _creator(key: str) -> str:
    return f"{CROSS_SELL_CREATOR_PREFIX}{key}"[:254]


@transaction.atomic
def crosssell_launch(
    *,
    key: str,
    name: str,
    channel: str,
    subject: str,
    body: str,
    audience_query: str,
    send_at: datetime | None,
) -> dict[str, Any]:
    """Create this UDN's broadcast for the shared campaign `key` (its template from the shared
    campaign's text) and launch it (scheduled when `send_at` is ahead). Safe to call again: the
    broadcast already made for `key` is returned as it is."""
    existing = Campaign.objects.filter(created_by=_creator(key)).first()
    if existing is None:
        template = template_save(
            template=MessageTemplate(channel=channel),
            data={"name": name, "subject": subject, "body_text": body, "title": name[:120]},
        )
        existing = campaign_save(
            draft=CampaignDraft(
                name=name,
                audience_query=audience_query,
                channels=[channel],
                templates={channel: template},
                send_at=send_at,
            ),
            by=_creator(key),
        )
        existing = campaign_launch(campaign=existing)
    return {"id": existing.pk, "status": existing.status, "audience": existing.audience_count}


def crosssell_results(*, campaign_id: int) -> dict[str, Any]:
    """The broadcast's counts: audience, sent, delivered, read, clicked, and its status."""
    campaign = Campaign.objects.filter(pk=campaign_id).first()
    if campaign is None:
        return {"status": "", "audience": 0, "sent": 0, "delivered": 0, "read": 0, "clicked": 0}
    counts = Message.objects.filter(campaign_id=campaign_id).aggregate(
        **{str(step): Count("pk", filter=Q(status__in=REACHED[step])) for step in FUNNEL}
    )
    return {
        "status": campaign.status,
        "audience": campaign.audience_count,
        **{k: int(v) for k, v in counts.items()},
    }


def crosssell_reached_persons(*, campaign_id: int) -> list[str]:
    """The keyed hashes of the people the broadcast reached (sent or further) who have a CPF."""
    sent = REACHED[FUNNEL[0]]
    reached = Message.objects.filter(campaign_id=campaign_id, status__in=sent).values("affiliate_id")
    cpfs = Affiliate.objects.filter(pk__in=reached).exclude(cpf="").values_list("cpf", flat=True)
    return sorted({cpf_hash(cpf=cpf) for cpf in cpfs.iterator(chunk_size=5000)})


def persons_joined_since(*, since: datetime) -> list[str]:
    """The keyed hashes of the affiliates with a CPF who joined this UDN since `since` (new
    customers: what a cross-sell campaign promoting this UDN converts to)."""
    cpfs = Affiliate.objects.filter(created_at__gte=since).exclude(cpf="").values_list("cpf", flat=True)
    return sorted({cpf_hash(cpf=cpf) for cpf in cpfs.iterator(chunk_size=5000)})
