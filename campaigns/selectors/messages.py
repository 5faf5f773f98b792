"""Reading messages for the API: one message with its status history, the templates of a send's
chain, the affiliates a partner's reference names."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from campaigns.models import Message, MessageStatusChange, MessageTemplate
from crm.models import Affiliate
from crm.normalize import NormalizationError, cpf_normalize


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


def message_templates_for_chain(
    *, template: str | dict[str, str], chain: Sequence[str]
) -> dict[str, MessageTemplate]:
    """The template of each channel of `chain`: from a {channel: code} map (a code whose template
    is of another channel does not count), or from one code: for each channel the template
    `<code>-<channel>` when there is one, else `<code>` itself when it is that channel's. Channels
    with none are left out."""
    if isinstance(template, dict):
        wanted = {channel: template[channel] for channel in chain if channel in template}
        by_slug = {t.slug: t for t in MessageTemplate.objects.filter(slug__in=set(wanted.values()))}
        return {
            channel: by_slug[slug]
            for channel, slug in wanted.items()
            if slug in by_slug and by_slug[slug].channel == channel
        }
    by_slug = {
        t.slug: t
        for t in MessageTemplate.objects.filter(slug__in={template, *(f"{template}-{c}" for c in chain)})
    }
    chosen: dict[str, MessageTemplate] = {}
    for channel in chain:
        for slug in (f"{template}-{channel}", template):
            candidate = by_slug.get(slug)
            if candidate is not None and candidate.channel == channel:
                chosen[channel] = candidate
                break
    return chosen


def affiliates_by_reference(
    *, id: int | None = None, external_id: str | None = None, cpf: str | None = None
) -> list[Affiliate]:
    """The affiliates one reference names (by id, external id or CPF): none, one, or two for a
    CPF several affiliates share (enough to tell it is ambiguous). An invalid CPF names none."""
    if id is not None:
        return list(Affiliate.objects.filter(pk=id))
    if external_id:
        return list(Affiliate.objects.filter(external_id=external_id))
    try:
        normalised = cpf_normalize(cpf or "")
    except NormalizationError:
        return []
    return list(Affiliate.objects.filter(cpf=normalised).order_by("pk")[:2]) if normalised else []
