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
