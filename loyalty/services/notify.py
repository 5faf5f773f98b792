"""Loyalty's messages (expiry warnings, ranking and mission alerts) through messaging's outbox."""

from __future__ import annotations

from typing import Any

from django.core.cache import cache
from django.db import transaction

from crm.models import Affiliate

# One message per affiliate and reason (dedupe key) within this long.
DEDUPE_SECONDS = 7 * 24 * 3600


def loyalty_message(*, affiliate_id: int, template_code: str, variables: dict[str, Any], dedupe: str) -> bool:
    """Enqueue the template named `template_code` (its channels, in the order found) to the
    affiliate; False when there is no such template or it was already sent for `dedupe`."""
    from campaigns.models import MessageSource, MessageTemplate
    from campaigns.services.outbox import message_enqueue

    templates = {t.channel: t for t in MessageTemplate.objects.filter(slug=template_code)}
    if not templates:
        return False
    if not cache.add(f"loyalty:msg:{affiliate_id}:{dedupe}", 1, DEDUPE_SECONDS):
        return False
    affiliate = Affiliate.objects.get(pk=affiliate_id)
    with transaction.atomic():
        message_enqueue(
            affiliate=affiliate,
            templates=templates,
            chain=list(templates),
            source=MessageSource.LOYALTY,
            variables=variables,
        )
    return True
