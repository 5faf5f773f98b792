"""The outbox: a send is a `Message` row written in the caller's transaction (so it exists exactly
when what caused it does), taken later by the sender (campaigns.services.sender) when due. The
sender is kicked after commit; its periodic task is the safety net.

A fallback chain (e.g. WhatsApp → SMS → e-mail) is tried in order: the first channel the affiliate
can be reached on (campaigns.services.guards) gets the message, the rest stay on it as `fallback`;
when the provider reports that channel failed, `message_fallback` writes the next usable one.
When no channel of the chain is usable the message is still written, suppressed with the first
channel's reason (the one the sender wanted most), never silently dropped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from campaigns.models import (
    Campaign,
    Message,
    MessageSource,
    MessageStatus,
    MessageTemplate,
    SuppressionReason,
)
from campaigns.services.guards import channels_disabled, guard_static
from crm.models import Affiliate

# The template of each channel of the chain, kept on the message for a later fallback when it is
# not a campaign's (a campaign has them in `templates`): {channel: template id}. Never a
# template variable (the renderer is given `message_variables`, without it).
FALLBACK_TEMPLATES_KEY = "_fallback_templates"
# A test send's (source `test`, campaigns.services.testsend) own address: the tester's, where the
# sender delivers instead of the affiliate's. Such a message is sent to the marketer, not to the
# affiliate whose data fills it in, so the affiliate's consent, address, caps, quiet hours and
# contact-pressure budget do not apply to it (the channel being enabled still does).
TEST_ADDRESS_KEY = "_test_address"
_BOOKKEEPING = (FALLBACK_TEMPLATES_KEY, TEST_ADDRESS_KEY)


def message_variables(message: Message) -> dict[str, Any]:
    """The message's own variables for rendering, without the outbox's bookkeeping."""
    return {key: value for key, value in (message.variables or {}).items() if key not in _BOOKKEEPING}


def message_test_address(message: Message) -> str | None:
    """Where a test send goes (the tester's address), or None for any other message."""
    if message.source != MessageSource.TEST:
        return None
    return str((message.variables or {}).get(TEST_ADDRESS_KEY) or "") or None


def messages_send_soon() -> None:
    """Queue the sender after the current transaction commits (now when there is none)."""
    from campaigns.tasks.messages import messages_send

    transaction.on_commit(messages_send.delay)


def _first_usable(
    *,
    affiliate: Affiliate,
    chain: Sequence[str],
    templates: Mapping[str, MessageTemplate],
    now: datetime,
) -> tuple[int | None, SuppressionReason | None]:
    """The index in `chain` of the first channel that passes the static guards, or None with the
    first channel's reason."""
    first_reason: SuppressionReason | None = None
    for index, channel in enumerate(chain):
        reason = guard_static(affiliate=affiliate, channel=channel, template=templates[channel], now=now)
        if reason is None:
            return index, None
        first_reason = first_reason or reason
    return None, first_reason


@transaction.atomic
def message_enqueue(
    *,
    affiliate: Affiliate,
    templates: Mapping[str, MessageTemplate],
    chain: Sequence[str],
    source: str,
    campaign: Campaign | None = None,
    priority: int = 5,
    variables: Mapping[str, Any] | None = None,
    due_at: datetime | None = None,
) -> Message:
    """Write the outbox row for one message to `affiliate`: on the first channel of `chain` that
    passes the static guards, with the rest of the chain as its fallback; or suppressed with the
    first channel's reason when none does. Due at `due_at` (default now). Runs in the caller's
    transaction; the sender is queued after commit."""
    if not chain:
        raise ValueError("A message needs at least one channel.")
    missing = [channel for channel in chain if channel not in templates]
    if missing:
        raise ValueError(f"No template for channel(s): {', '.join(missing)}.")
    if source not in MessageSource.values:
        raise ValueError(f"Unknown message source: {source}.")
    now = timezone.now()
    stored_variables: dict[str, Any] = dict(variables or {})
    if source == MessageSource.TEST:
        if len(chain) != 1 or not stored_variables.get(TEST_ADDRESS_KEY):
            raise ValueError("A test send names one channel and the tester's address.")
        # The tester's own address: only the UDN's channel switch applies (see TEST_ADDRESS_KEY).
        disabled = chain[0] in channels_disabled()
        index, reason = (None, SuppressionReason.CHANNEL_DISABLED) if disabled else (0, None)
    else:
        index, reason = _first_usable(affiliate=affiliate, chain=chain, templates=templates, now=now)
    if campaign is None and len(chain) > 1:
        stored_variables[FALLBACK_TEMPLATES_KEY] = {channel: templates[channel].pk for channel in chain}
    if index is None:
        channel = chain[0]
        return Message.objects.create(
            affiliate=affiliate,
            campaign=campaign,
            template=templates[channel],
            channel=channel,
            fallback=list(chain[1:]),
            source=source,
            priority=priority,
            status=MessageStatus.SUPPRESSED,
            reason=reason or "",
            due_at=None,
            variables=stored_variables,
        )
    channel = chain[index]
    message = Message.objects.create(
        affiliate=affiliate,
        campaign=campaign,
        template=templates[channel],
        channel=channel,
        fallback=list(chain[index + 1 :]),
        source=source,
        priority=priority,
        status=MessageStatus.QUEUED,
        due_at=due_at or now,
        variables=stored_variables,
    )
    messages_send_soon()
    return message


def _fallback_templates(message: Message) -> dict[str, MessageTemplate]:
    """The templates the rest of `message`'s chain would use, by channel."""
    if message.campaign_id is not None:
        return {
            template.channel: template
            for template in MessageTemplate.objects.filter(
                campaigns=message.campaign_id, channel__in=message.fallback
            )
        }
    ids = (message.variables or {}).get(FALLBACK_TEMPLATES_KEY) or {}
    by_id = MessageTemplate.objects.in_bulk([ids[channel] for channel in message.fallback if channel in ids])
    return {channel: by_id[ids[channel]] for channel in message.fallback if ids.get(channel) in by_id}


@transaction.atomic
def message_fallback(*, message: Message) -> Message | None:
    """After `message` failed (the provider reported `failed` or `bounced`, or it died), write the
    next message of its fallback chain: the first remaining channel that passes the static
    guards, due now; when none is, the next message is written suppressed with the first remaining
    channel's reason (a refusal is always recorded). None when the chain is exhausted. A message
    falls back once: its `fallback` is emptied in the same transaction, under a row lock, so a
    failure reported twice writes one successor."""
    if not message.fallback:
        return None
    templates = _fallback_templates(message)
    chain = [channel for channel in message.fallback if channel in templates]
    if not chain:
        return None
    # One fallback per failed message, even if the failure is reported twice at once: lock it.
    locked = Message.objects.select_for_update().get(pk=message.pk)
    if locked.fallback == []:
        return None
    now = timezone.now()
    index, reason = _first_usable(affiliate=message.affiliate, chain=chain, templates=templates, now=now)
    # The failed message's chain is used up either way, so a repeated report does nothing.
    Message.objects.filter(pk=message.pk).update(fallback=[])
    channel = chain[0 if index is None else index]
    successor = Message.objects.create(
        affiliate_id=message.affiliate_id,
        campaign_id=message.campaign_id,
        template=templates[channel],
        channel=channel,
        fallback=chain[1:] if index is None else chain[index + 1 :],
        source=message.source,
        priority=message.priority,
        status=MessageStatus.SUPPRESSED if index is None else MessageStatus.QUEUED,
        reason=reason or "",
        due_at=None if index is None else now,
        variables=message.variables,
    )
    if index is not None:
        messages_send_soon()
    return successor
