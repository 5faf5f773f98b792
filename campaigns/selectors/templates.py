"""Message templates as the pages read them."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from campaigns.models import MessageTemplate
from crm.models import Affiliate
from crm.selectors.affiliates import AffiliateFilters, affiliate_search

AFFILIATE_CHOICES = 8  # matches offered for the preview: enough to tell namesakes apart


def template_list(*, search: str = "", channel: str = "") -> QuerySet[MessageTemplate]:
    """Templates by name, filtered by a text (name or code) and a channel."""
    rows = MessageTemplate.objects.all()
    if search.strip():
        text = search.strip()
        rows = rows.filter(Q(name__icontains=text) | Q(slug__icontains=text))
    if channel:
        rows = rows.filter(channel=channel)
    return rows.order_by("name", "pk")


def template_get(*, pk: int) -> MessageTemplate:
    return MessageTemplate.objects.get(pk=pk)


def template_preview_affiliates(*, search: str) -> list[Affiliate]:
    """Affiliates matching `search` as the affiliate list's search does (name with accents and
    case ignored, code, e-mail), for choosing whom a preview is filled in for."""
    if not search.strip():
        return []
    return list(affiliate_search(params=AffiliateFilters(q=search))[:AFFILIATE_CHOICES])


def template_preview_affiliate(*, pk: int) -> Affiliate | None:
    return Affiliate.objects.filter(pk=pk).first()
