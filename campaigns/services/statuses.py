"""What became of each message: the statuses the sender and the providers report, stored once per
(message, status) in MessageStatusChange and applied to the message forward only.

Statuses arrive late, out of order and repeated (a provider retries its webhook; "read" may come
before "delivered"). `message_statuses_apply` takes a batch and:

- resolves each update to its message (our id, or the provider's message id on that channel);
- stores each (message, status) once (`messagestatus_once`: a repeat changes nothing);
- moves the message only to a status of a higher STATUS_RANK ("read" never becomes "delivered");
  a late status is kept in the history and fills its timestamp, but does not move the message;
- reaching a step of the way (sent < delivered < read < clicked) fills the earlier steps' missing
  timestamps: a message read was delivered, even if the provider never said so;
- puts one timeline event per new status on the affiliate (crm's event ingest, idempotent by
  `msg:<message id>:<status>`), the types registered as EventKinds by migration 0002;
- tries the next channel of the fallback chain (outbox.message_fallback) when a message fails;
- queues `message.delivered` and `message.failed` webhooks for the partners who subscribed.

One transaction for the batch; the messages concerned are locked in id order, so two webhooks
about the same message apply one after the other.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone

from campaigns.models import STATUS_RANK, Message, MessageStatus, MessageStatusChange
from crm.models import WebhookEvent
from crm.services.events import EventInput, events_ingest
from crm.services.webhooks import webhook_deliveries_enqueue_many

logger = logging.getLogger(__name__)

EVENT_SOURCE = "messaging"
# The timeline event of each status worth showing (campaigns/migrations/0002 registers the kinds).
MESSAGE_EVENT_TYPES: dict[str, str] = {
    MessageStatus.SENT: "message_sent",
    MessageStatus.DELIVERED: "message_delivered",
    MessageStatus.READ: "message_read",
    MessageStatus.CLICKED: "message_clicked",
    MessageStatus.BOUNCED: "message_bounced",
    MessageStatus.FAILED: "message_failed",
    MessageStatus.DEAD: "message_failed",
}
REPLIED_EVENT_TYPE = "message_replied"
# The way of a message that gets through: reaching one step implies the steps before it.
PROGRESS: tuple[tuple[str, str], ...] = (
    (MessageStatus.SENT, "sent_at"),
    (MessageStatus.DELIVERED, "delivered_at"),
    (MessageStatus.READ, "read_at"),
    (MessageStatus.CLICKED, "clicked_at"),
)
PROGRESS_STATUSES = frozenset(step for step, _column in PROGRESS)
FAILURES = frozenset({MessageStatus.FAILED, MessageStatus.BOUNCED, MessageStatus.DEAD})
# Failures after which the next channel of the chain is tried (a dead message is the sender's:
# it gave up retrying, and decides itself).
FALLBACK_ON = frozenset({MessageStatus.FAILED, MessageStatus.BOUNCED})
ERROR_MAX = 2000


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    """One status of one message: give `message_id`, or the provider's id (`provider_message_id`,
    narrowed by `channel` and/or `provider` when given). `detail` is kept with the status (the
    provider's error code and text, the clicked URL...); an "error" key becomes the message's error."""

    status: str
    at: datetime
    message_id: int | None = None
    provider_message_id: str = ""
    channel: str = ""
    provider: str = ""
    detail: dict[str, Any] = field(default_factory=dict)


def _resolve(updates: Sequence[StatusUpdate]) -> list[tuple[int, StatusUpdate]]:
    """Each update with its message id; an update no message matches is dropped (logged)."""
    by_provider_id = [u for u in updates if u.message_id is None and u.provider_message_id]
    candidates: dict[str, list[tuple[int, str, str]]] = {}
    if by_provider_id:
        rows = Message.objects.filter(
            provider_message_id__in={u.provider_message_id for u in by_provider_id}
        ).values_list("provider_message_id", "pk", "channel", "provider")
        for provider_message_id, pk, channel, provider in rows:
            candidates.setdefault(provider_message_id, []).append((pk, channel, provider))
    resolved: list[tuple[int, StatusUpdate]] = []
    for update in updates:
        if update.message_id is not None:
            resolved.append((update.message_id, update))
            continue
        matches = [
            pk
            for pk, channel, provider in candidates.get(update.provider_message_id, [])
            if (not update.channel or channel == update.channel)
            and (not update.provider or provider == update.provider)
        ]
        if len(matches) == 1:
            resolved.append((matches[0], update))
        else:
            logger.info(
                "status %s for provider id %r (%s): %s messages match, ignored",
                update.status,
                update.provider_message_id,
                update.channel or update.provider or "any channel",
                len(matches),
            )
    return resolved


def _insert_new(rows: list[tuple[int, str, datetime, dict[str, Any]]]) -> set[tuple[int, str]]:
    """Store the (message, status) rows not stored yet; returns those it stored."""
    table = connection.ops.quote_name(MessageStatusChange._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {table} (message_id, status, at, detail)
            SELECT m, s, a, d::jsonb
            FROM unnest(%s::bigint[], %s::varchar[], %s::timestamptz[], %s::text[]) AS u(m, s, a, d)
            ON CONFLICT (message_id, status) DO NOTHING
            RETURNING message_id, status
            """,  # noqa: S608 - the table name is the model's
            [
                [row[0] for row in rows],
                [row[1] for row in rows],
                [row[2] for row in rows],
                [json.dumps(row[3], cls=DjangoJSONEncoder) for row in rows],
            ],
        )
        return {(message_id, status) for message_id, status in cursor.fetchall()}


def _error_text(detail: dict[str, Any]) -> str:
    error = detail.get("error") or detail.get("reason") or ""
    return str(error)[:ERROR_MAX]


def _apply(message: Message, status: str, at: datetime, detail: dict[str, Any]) -> set[str]:
    """Apply one new status to `message` in memory; returns the fields it changed."""
    changed: set[str] = set()
    rank = STATUS_RANK[status]
    for step, column in PROGRESS if status in PROGRESS_STATUSES else ():
        # The status's own timestamp (the earliest report wins), and the missing earlier steps'.
        if STATUS_RANK[step] > rank:
            break
        current = getattr(message, column)
        if current is None or (step == status and at < current):
            setattr(message, column, at)
            changed.add(column)
    if status in FAILURES:
        if message.failed_at is None:
            message.failed_at = at
            changed.add("failed_at")
        error = _error_text(detail)
        if error and not message.error:
            message.error = error
            changed.add("error")
    if rank > STATUS_RANK.get(message.status, 0):
        message.status = status
        changed.add("status")
    return changed


def _webhook_payload(message: Message, *, at: datetime, refs: dict[int, tuple[str, str]]) -> dict[str, Any]:
    external_id, template = refs.get(message.pk, ("", ""))
    return {
        "message": {
            "id": message.pk,
            "channel": message.channel,
            "status": message.status,
            "source": message.source,
            "template": template,
            "campaign_id": message.campaign_id,
            "error": message.error,
        },
        "affiliate": {"id": message.affiliate_id, "external_id": external_id},
        "at": at,
    }


@transaction.atomic
def message_statuses_apply(*, updates: Sequence[StatusUpdate]) -> int:
    """Store and apply a batch of statuses (see the module doc). Returns how many (message,
    status) pairs were new; a repeated batch returns 0 and changes nothing."""
    unknown = sorted({u.status for u in updates if u.status not in STATUS_RANK})
    if unknown:
        raise ValueError(f"unknown message statuses: {', '.join(unknown)}")
    now = timezone.now()
    # The earliest report of each (message, status); a provider's clock ahead of ours is read as now.
    firsts: dict[tuple[int, str], tuple[datetime, dict[str, Any]]] = {}
    for message_id, update in _resolve(updates):
        at = min(update.at, now)
        key = (message_id, update.status)
        if key not in firsts or at < firsts[key][0]:
            firsts[key] = (at, dict(update.detail))
    if not firsts:
        return 0
    ids = sorted({message_id for message_id, _status in firsts})
    messages = {
        message.pk: message
        for message in Message.objects.select_for_update(no_key=True).filter(pk__in=ids).order_by("pk")
    }
    rows = [(mid, status, at, detail) for (mid, status), (at, detail) in firsts.items() if mid in messages]
    if not rows:
        return 0
    new = _insert_new(rows)
    # Oldest first, so a batch that holds "sent" and "read" reads as it happened.
    fresh = sorted(
        (row for row in rows if (row[0], row[1]) in new), key=lambda row: (row[2], STATUS_RANK[row[1]])
    )
    changed: dict[int, set[str]] = {}
    delivered_before = {pk for pk, message in messages.items() if message.delivered_at is not None}
    failed_before = {pk for pk, message in messages.items() if message.status in FAILURES}
    events: list[EventInput] = []
    first_at: dict[tuple[int, str], datetime] = {}
    for message_id, status, at, detail in fresh:
        message = messages[message_id]
        changed.setdefault(message_id, set()).update(_apply(message, status, at, detail))
        first_at.setdefault((message_id, status), at)
        event_type = MESSAGE_EVENT_TYPES.get(status)
        if event_type:
            events.append(
                EventInput(
                    event_id=f"msg:{message_id}:{status}",
                    type=event_type,
                    occurred_at=at,
                    affiliate_id=message.affiliate_id,
                    source=EVENT_SOURCE,
                    properties={
                        "message_id": message_id,
                        "channel": message.channel,
                        "campaign_id": message.campaign_id,
                        "template_id": message.template_id,
                        **({"error": _error_text(detail)} if status in FAILURES and detail else {}),
                        **(
                            {"url": detail["url"]}
                            if status == MessageStatus.CLICKED and "url" in detail
                            else {}
                        ),
                    },
                )
            )
    to_save = [messages[pk] for pk, fields in changed.items() if fields]
    if to_save:
        Message.objects.bulk_update(
            to_save, fields=sorted(set().union(*(changed[m.pk] for m in to_save))), batch_size=1000
        )
    if events:
        events_ingest(items=events, source=EVENT_SOURCE)

    now_delivered = [
        m for pk, m in messages.items() if m.delivered_at is not None and pk not in delivered_before
    ]
    now_failed = [m for pk, m in messages.items() if m.status in FAILURES and pk not in failed_before]
    _webhooks_enqueue(delivered=now_delivered, failed=now_failed, first_at=first_at)
    if now_failed:
        from campaigns.services.outbox import message_fallback  # the outbox imports this module

        for message in now_failed:
            if message.status in FALLBACK_ON and message.fallback:
                message_fallback(message=message)
    return len(new)


def _webhooks_enqueue(
    *, delivered: list[Message], failed: list[Message], first_at: dict[tuple[int, str], datetime]
) -> None:
    if not delivered and not failed:
        return
    refs = {
        pk: (external_id, slug)
        for pk, external_id, slug in Message.objects.filter(
            pk__in=[m.pk for m in (*delivered, *failed)]
        ).values_list("pk", "affiliate__external_id", "template__slug")
    }
    if delivered:
        webhook_deliveries_enqueue_many(
            event=WebhookEvent.MESSAGE_DELIVERED.value,
            payloads=[_webhook_payload(m, at=m.delivered_at or timezone.now(), refs=refs) for m in delivered],
        )
    if failed:
        webhook_deliveries_enqueue_many(
            event=WebhookEvent.MESSAGE_FAILED.value,
            payloads=[
                _webhook_payload(m, at=first_at.get((m.pk, m.status)) or timezone.now(), refs=refs)
                for m in failed
            ],
        )
