"""Test helpers: a joint campaign in a few lines, and UDN rows made through the app registry (the
shared space's code, tests included, imports no UDN app's models)."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from django.apps import apps
from django.utils import timezone
from django_tenants.utils import tenant_context

from tenants.models import UDN, User
from warroom.models import JointCampaign
from warroom.services.joint import JointDraft, joint_campaign_save


def joint(
    *,
    by: User,
    name: str,
    promoting: UDN,
    sources: list[UDN],
    start: date,
    end: date | None = None,
    channel: str = "email",
) -> JointCampaign:
    return joint_campaign_save(
        draft=JointDraft(
            kind="cross_sell",
            name=name,
            promoting_udn=promoting,
            product="Cartão Saúde",
            channel=channel,
            subject="Conheça o Cartão Saúde",
            body="Olá! Conheça o Cartão Saúde.",
            start_date=start,
            end_date=end or start,
            goal="100 adesões",
            budget=Decimal("1500.00"),
            sources=sources,
        ),
        by=by,
    )


def udn_model(label: str) -> Any:
    return apps.get_model(label)


def broadcast_in(udn: UDN, *, name: str, day: date, channel: str = "email", audience: int = 10) -> int:
    """A scheduled broadcast inside `udn`'s schema (its id there)."""
    with tenant_context(udn):
        campaign = udn_model("campaigns.Campaign").objects.create(
            name=name,
            channels=[channel],
            status="scheduled",
            send_at=datetime.combine(day, time(10, 0), tzinfo=timezone.get_current_timezone()),
            audience_count=audience,
        )
        return int(campaign.pk)


def journey_in(
    udn: UDN,
    *,
    name: str,
    published: datetime,
    channels: tuple[str, ...] = ("whatsapp",),
    enrolled: int = 0,
    status: str = "live",
) -> int:
    """A published journey inside `udn`'s schema with `enrolled` affiliates in it now (its id)."""
    with tenant_context(udn):
        graph = {
            "triggers": [{"type": "manual"}],
            "steps": [{"id": "hello", "type": "send", "channels": list(channels), "templates": {}}],
        }
        journey = udn_model("campaigns.Journey").objects.create(name=name, status=status, draft_graph=graph)
        version = udn_model("campaigns.JourneyVersion").objects.create(
            journey=journey, number=1, graph=graph, published_at=published
        )
        Affiliate = udn_model("crm.Affiliate")
        Enrollment = udn_model("campaigns.Enrollment")
        for n in range(enrolled):
            affiliate = Affiliate.objects.create(external_id=f"J-{journey.pk}-{n}", name=f"Pessoa {n}")
            Enrollment.objects.create(
                journey=journey,
                version=version,
                affiliate=affiliate,
                step="hello",
                step_at=published,
                due_at=published,
                entry_key=f"manual:{n}",
                entered_at=published,
            )
        return int(journey.pk)
