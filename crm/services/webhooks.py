"""Outbound webhooks: subscriptions, the delivery queue (one row per event per subscription)
and the sender. Runs inside a UDN's schema.

Deliveries are due rows (`next_attempt_at`), never Celery countdowns, sent through
crm.services.duework (`DELIVERIES`): a sender claims due rows with FOR UPDATE SKIP LOCKED and
pushes their due time out by a lease in the same short transaction, so two senders never take the
same row and no transaction stays open across HTTP.

Each POST carries `X-UDN-Signature: t=<unix ts>,v1=<hex HMAC-SHA256("<ts>.<body>", secret)>`,
`X-UDN-Event` and `X-UDN-Delivery`. A 2xx is delivered; anything else is retried after 1 min,
5 min, 30 min, 2 h and 12 h, then the delivery is failed. For SECRET_OVERLAP after a secret is
rotated the header carries a second v1, made with the old secret (as Stripe does): a receiver
accepts a request when any v1 matches a secret it knows.

Every POST goes through crm.outbound (one parse, one resolution, a connection to the checked
address, timeouts, no redirects, a bounded read). Delivered and failed rows older than
WEBHOOK_LOG_RETENTION_DAYS are purged daily.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.hooks import AcceptedEvent, ConsentChanged, StageChange
from crm.models import (
    Affiliate,
    AuditAction,
    AuditTarget,
    Event,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEvent,
    WebhookSubscription,
)
from crm.outbound import OutboundError, outbound_request, outbound_url_refusal
from crm.services.audit import audit_record
from crm.services.duework import DueSpec, due_claim, due_failed, due_succeeded

logger = logging.getLogger(__name__)

SEND_TASK = "crm.webhooks_send"
PURGE_TASK = "crm.webhooks_purge"
TIMEOUT_SECONDS = 10
# The waits after each failed attempt; after the last one the delivery is failed (6 attempts).
BACKOFF: tuple[timedelta, ...] = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=12),
)
MAX_ATTEMPTS = len(BACKOFF) + 1
# At most this much of an answer is read and kept in the log (the rest is never downloaded).
RESPONSE_KEEP_BYTES = 2048
# A claimed row is hidden from other senders this long: enough for a full batch of timeouts
# (SEND_BATCH x TIMEOUT_SECONDS); if the sender dies, the row comes back due after it.
SEND_BATCH = 100
CLAIM_LEASE = timedelta(seconds=SEND_BATCH * TIMEOUT_SECONDS + 120)
SECRET_BYTES = 32
# How long the old secret keeps signing after a rotation: a day for a partner to deploy the new one.
SECRET_OVERLAP = timedelta(hours=24)
# The delivery queue as due work (crm.services.duework).
DELIVERIES = DueSpec(
    model=WebhookDelivery,
    status="status",
    due="next_attempt_at",
    attempts="attempts",
    pending=WebhookDeliveryStatus.PENDING.value,
    succeeded=WebhookDeliveryStatus.DELIVERED.value,
    dead=WebhookDeliveryStatus.FAILED.value,
    backoff=BACKOFF,
    batch=SEND_BATCH,
    lease=CLAIM_LEASE,
)
# Log rows deleted per statement by the retention purge: short transactions and bounded WAL
# bursts, so a large log is purged in many small steps beside the live senders.
PURGE_BATCH = 5000
USER_AGENT = "UDN-CRM-Webhooks/1"


class WebhookError(ValueError):
    """A subscription cannot be created as asked; `field` names the input at fault."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


def _table(model: type[Any]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def webhook_signature(*, signing_secrets: Sequence[str], timestamp: int, body: bytes) -> str:
    """The `X-UDN-Signature` header value for `body` sent at `timestamp` (unix seconds): one
    v1 per secret, the current secret's first."""
    signed = f"{timestamp}.".encode() + body
    macs = [hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest() for secret in signing_secrets]
    return ",".join([f"t={timestamp}", *(f"v1={mac}" for mac in macs)])


def webhook_signing_secrets(*, subscription: WebhookSubscription, now: datetime) -> list[str]:
    """The secrets a delivery is signed with at `now`: the current one, and the previous one
    while its overlap lasts."""
    expires = subscription.previous_secret_expires_at
    if subscription.previous_secret and expires is not None and now < expires:
        return [subscription.secret, subscription.previous_secret]
    return [subscription.secret]


def webhook_url_refusal(url: str) -> str | None:
    """Why deliveries may not go to `url`, or None: a malformed URL (user@, backslashes, other
    schemes) always; where WEBHOOK_ALLOW_PRIVATE_URLS is off (production), also a host that
    resolves to a loopback, private, link-local (cloud metadata) or other non-public address,
    since a partner must not make our workers call inside our network (SSRF). Checked when
    subscribing; every attempt is checked again by crm.outbound, which connects where it checked."""
    return outbound_url_refusal(url=url, allow_private=settings.WEBHOOK_ALLOW_PRIVATE_URLS)


# --- subscriptions ------------------------------------------------------------------------------


@transaction.atomic
def webhook_subscription_create(*, url: str, events: Sequence[str], created_by: str) -> WebhookSubscription:
    """A new active subscription of `url` to `events`, with a fresh random signing secret."""
    url = url.strip()
    clean = sorted({event for event in events})
    unknown = [event for event in clean if event not in WebhookEvent.values]
    if unknown:
        raise WebhookError(_("Unknown events: %(events)s.") % {"events": ", ".join(unknown)}, "events")
    if not clean:
        raise WebhookError(_("Choose at least one event."), "events")
    if refusal := webhook_url_refusal(url):
        raise WebhookError(refusal, "url")
    if len(url) > 500:
        raise WebhookError(_("The URL is too long (500 characters at most)."), "url")
    subscription = WebhookSubscription.objects.create(
        url=url, events=clean, secret=_new_secret(), created_by=created_by
    )
    audit_record(
        action=AuditAction.WEBHOOK_SUBSCRIBED,
        target_type=AuditTarget.WEBHOOK,
        target_id=subscription.pk,
        changes={"url": url, "events": clean},
    )
    return subscription


def _new_secret() -> str:
    return f"whsec_{secrets.token_urlsafe(SECRET_BYTES)}"


@transaction.atomic
def webhook_subscription_rotate_secret(
    *, subscription: WebhookSubscription, rotated_by: str
) -> WebhookSubscription:
    """A new signing secret for `subscription`. The current one keeps signing too (a second v1)
    for SECRET_OVERLAP, so the receiver can switch without refusing a delivery. Rotating again
    within the overlap retires the older one at once: only the latest two ever sign."""
    now = timezone.now()
    locked = WebhookSubscription.objects.select_for_update().get(pk=subscription.pk)
    locked.previous_secret, locked.secret = locked.secret, _new_secret()
    locked.previous_secret_expires_at = now + SECRET_OVERLAP
    locked.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at"])
    logger.info("webhook %s: secret rotated by %s", locked.pk, rotated_by)
    audit_record(
        action=AuditAction.WEBHOOK_SECRET_ROTATED,
        target_type=AuditTarget.WEBHOOK,
        target_id=locked.pk,
        changes={"url": locked.url, "previous_secret_expires_at": locked.previous_secret_expires_at},
    )
    return locked


@transaction.atomic
def webhook_subscription_set_active(
    *, subscription: WebhookSubscription, active: bool
) -> WebhookSubscription:
    """Pause or resume a subscription. Pausing leaves its pending deliveries to be sent."""
    changed = (
        WebhookSubscription.objects.filter(pk=subscription.pk).exclude(active=active).update(active=active)
    )
    subscription.active = active
    if changed:
        audit_record(
            action=AuditAction.WEBHOOK_RESUMED if active else AuditAction.WEBHOOK_PAUSED,
            target_type=AuditTarget.WEBHOOK,
            target_id=subscription.pk,
            changes={"url": subscription.url},
        )
    return subscription


# --- enqueueing ---------------------------------------------------------------------------------


def _send_soon() -> None:
    """Queue a send now (after commit); the periodic task is the safety net."""
    from crm.tasks.webhooks import webhooks_send

    transaction.on_commit(webhooks_send.delay)


def _listened(event: str) -> bool:
    """Whether an active subscription listens to `event`: a fixed statement, since every ingest
    asks (after its commit) before building any delivery."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT EXISTS (SELECT 1 FROM {_table(WebhookSubscription)}"  # noqa: S608
            " WHERE active AND events @> ARRAY[%s]::varchar[])",
            [event],
        )
        return bool(cursor.fetchone()[0])


def _deliveries_insert(*, event: str, payload: str, source: str, order: str, params: dict[str, Any]) -> int:
    """One INSERT ... SELECT of pending deliveries: for every active subscription `s` listening to
    `event`, one delivery per row of `source` (joined to `s`) with `payload` as its body; a send is
    queued when any was made. `payload`, `source` and `order` are SQL of the callers' own."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {_table(WebhookDelivery)}
                (subscription_id, event, payload, status, attempts, next_attempt_at,
                 last_response, last_error, created_at, redelivered_by)
            SELECT s.id, %(event)s, {payload}, 'pending', 0, %(now)s, '', '', %(now)s, ''
            FROM {_table(WebhookSubscription)} s
            {source}
            WHERE s.active AND s.events @> ARRAY[%(event)s]::varchar[]
            ORDER BY s.id, {order}
            """,  # noqa: S608 - the fragments are constants of this module
            {**params, "event": event, "now": timezone.now()},
        )
        queued = cursor.rowcount
    if queued:
        _send_soon()
    return queued


@transaction.atomic
def webhook_deliveries_enqueue_many(*, event: str, payloads: Sequence[dict[str, Any]]) -> int:
    """One delivery per payload per active subscription listening to `event`, in one INSERT.
    Returns the number of deliveries queued."""
    if event not in WebhookEvent.values:
        raise WebhookError(f"Unknown event: {event}.")
    if not payloads:
        return 0
    return _deliveries_insert(
        event=event,
        payload="p.value",
        source="CROSS JOIN jsonb_array_elements(%(body)s::jsonb) WITH ORDINALITY AS p(value, n)",
        order="p.n",
        params={"body": json.dumps(list(payloads), cls=DjangoJSONEncoder)},
    )


def webhook_deliveries_enqueue(*, event: str, payload: dict[str, Any]) -> int:
    """One delivery of `payload` per active subscription listening to `event` (one INSERT)."""
    return webhook_deliveries_enqueue_many(event=event, payloads=[payload])


def webhook_stage_changes_enqueue(*, changes: Sequence[StageChange]) -> int:
    """`affiliate.stage_changed` deliveries for `changes` in one INSERT; the affiliate's ids
    come from the table in the same statement."""
    event = WebhookEvent.AFFILIATE_STAGE_CHANGED.value
    # A full refresh after an import can change a million stages: build nothing if nobody listens.
    if not changes or not _listened(event):
        return 0
    rows = json.dumps(
        [{"a": c.affiliate_id, "o": c.old_stage, "n": c.new_stage, "t": c.changed_at} for c in changes],
        cls=DjangoJSONEncoder,
    )
    return _deliveries_insert(
        event=event,
        payload="""jsonb_build_object(
            'affiliate', jsonb_build_object('id', a.id, 'external_id', a.external_id),
            'old_stage', r.o, 'new_stage', r.n, 'changed_at', r.t)""",
        source=f"""CROSS JOIN jsonb_to_recordset(%(rows)s::jsonb) AS r(a bigint, o varchar, n varchar, t varchar)
            JOIN {_table(Affiliate)} a ON a.id = r.a""",
        order="a.id",
        params={"rows": rows},
    )


def webhook_consent_revocations_enqueue(*, changes: Sequence[ConsentChanged]) -> int:
    """`consent.revoked` deliveries for the opt-outs among `changes` (a grant announces nothing),
    in one INSERT; the affiliate's ids come from the table in the same statement."""
    event = WebhookEvent.CONSENT_REVOKED.value
    revoked = [change for change in changes if not change.granted]
    if not revoked or not _listened(event):
        return 0
    rows = json.dumps(
        [{"a": c.affiliate_id, "c": c.channel, "t": c.occurred_at, "s": c.source} for c in revoked],
        cls=DjangoJSONEncoder,
    )
    return _deliveries_insert(
        event=event,
        payload="""jsonb_build_object(
            'affiliate', jsonb_build_object('id', a.id, 'external_id', a.external_id),
            'channel', r.c, 'occurred_at', r.t, 'source', r.s)""",
        source=f"""CROSS JOIN jsonb_to_recordset(%(rows)s::jsonb) AS r(a bigint, c varchar, t varchar, s varchar)
            JOIN {_table(Affiliate)} a ON a.id = r.a""",
        order="a.id",
        params={"rows": rows},
    )


def webhook_events_enqueue(*, events: Sequence[AcceptedEvent]) -> int:
    """`event.received` deliveries for newly stored events, built from the timeline in one
    INSERT ... SELECT (the ingest hot path pays one tiny query when nobody listens). One
    statement: no transaction of its own around it."""
    event = WebhookEvent.EVENT_RECEIVED.value
    if not events or not _listened(event):
        return 0
    return _deliveries_insert(
        event=event,
        payload="""jsonb_build_object(
            'id', e.event_id, 'type', e.type, 'occurred_at', e.occurred_at,
            'source', e.source, 'amount', e.amount::text, 'properties', e.properties,
            'affiliate', jsonb_build_object('id', a.id, 'external_id', a.external_id))""",
        source=f"""JOIN {_table(Event)} e ON e.id = ANY(%(ids)s)
            JOIN {_table(Affiliate)} a ON a.id = e.affiliate_id""",
        order="e.id",
        params={"ids": [e.pk for e in events]},
    )


# --- sending ------------------------------------------------------------------------------------


def _claim(*, limit: int, now: datetime) -> list[WebhookDelivery]:
    """Take up to `limit` due deliveries (duework: SKIP LOCKED, the attempt counted, hidden for
    CLAIM_LEASE, committed at once), with their subscriptions."""
    ids = due_claim(spec=DELIVERIES, now=now, limit=limit)
    if not ids:
        return []
    return list(WebhookDelivery.objects.select_related("subscription").filter(pk__in=ids).order_by("id"))


def _body(delivery: WebhookDelivery) -> bytes:
    envelope = {
        "id": delivery.pk,
        "event": delivery.event,
        "created_at": delivery.created_at,
        "udn": getattr(connection, "schema_name", ""),
        "data": delivery.payload,
    }
    return json.dumps(envelope, cls=DjangoJSONEncoder, ensure_ascii=False).encode()


def _excerpt(head: bytes) -> str:
    """What the log keeps of an answer: its first RESPONSE_KEEP_BYTES as text, without control
    characters (newlines and tabs stay)."""
    text = head[:RESPONSE_KEEP_BYTES].decode("utf-8", errors="replace")
    return "".join(ch for ch in text if ch in "\n\t" or (ch.isprintable() and ch != "\x7f"))


def _post(delivery: WebhookDelivery) -> tuple[int | None, str, str]:
    """(status code, first bytes of the response, error) of one attempt. A refused URL is
    never called (so there is no answer to keep)."""
    body = _body(delivery)
    now = timezone.now()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-UDN-Event": delivery.event,
        "X-UDN-Delivery": str(delivery.pk),
        "X-UDN-Signature": webhook_signature(
            signing_secrets=webhook_signing_secrets(subscription=delivery.subscription, now=now),
            timestamp=int(now.timestamp()),
            body=body,
        ),
    }
    try:
        response = outbound_request(
            method="POST",
            url=delivery.subscription.url,
            body=body,
            headers=headers,
            timeout=TIMEOUT_SECONDS,
            max_body_bytes=RESPONSE_KEEP_BYTES,
            allow_private=settings.WEBHOOK_ALLOW_PRIVATE_URLS,
        )
    except OutboundError as error:
        return None, "", str(error)
    return response.status, _excerpt(response.head), ""


def _record(delivery: WebhookDelivery, code: int | None, response: str, error: str) -> None:
    """Save one attempt's outcome: delivered on a 2xx, else retried on the backoff schedule or
    failed after the last attempt (duework). An UPDATE, not save(): a subscription deleted
    meanwhile (cascade) is not an error here."""
    now = timezone.now()
    ok = code is not None and 200 <= code < 300
    values: dict[str, Any] = {
        "last_status_code": code,
        "last_response": response,
        "last_error": error or ("" if ok else f"HTTP {code}"),
    }
    if ok:
        due_succeeded(spec=DELIVERIES, ids=[delivery.pk], values={**values, "delivered_at": now})
        delivery.status = WebhookDeliveryStatus.DELIVERED
    elif due_failed(spec=DELIVERIES, ids=[delivery.pk], now=now, values=values):
        delivery.status = WebhookDeliveryStatus.FAILED


def webhook_deliveries_send_due(*, limit: int = SEND_BATCH) -> int:
    """Send up to `limit` due deliveries; returns how many were delivered (2xx).

    Each outcome is saved as soon as its POST returns (one UPDATE per delivery, not one at the
    end): a sender that dies midway must not send the finished ones again."""
    claimed = _claim(limit=limit, now=timezone.now())
    if not claimed:
        return 0
    delivered = 0
    for delivery in claimed:
        code, response, error = _post(delivery)
        _record(delivery, code, response, error)
        delivered += delivery.status == WebhookDeliveryStatus.DELIVERED
    return delivered


@transaction.atomic
def webhook_delivery_redeliver(*, delivery: WebhookDelivery, redelivered_by: str) -> WebhookDelivery:
    """Send a delivered or failed delivery again, now: it is pending and due again, with the
    whole retry schedule (attempts start over), the same id and the same body, so a receiver
    that deduplicates by `X-UDN-Delivery` recognises it. A pending one is already queued (and
    may be on its way this moment): WebhookError, nothing changes."""
    now = timezone.now()
    queued = (
        WebhookDelivery.objects.filter(pk=delivery.pk)
        .exclude(status=WebhookDeliveryStatus.PENDING)
        .update(
            status=WebhookDeliveryStatus.PENDING,
            attempts=0,
            next_attempt_at=now,
            delivered_at=None,
            redelivered_at=now,
            redelivered_by=redelivered_by,
        )
    )
    if not queued:
        raise WebhookError(_("This delivery is already queued to be sent."))
    audit_record(
        action=AuditAction.WEBHOOK_REDELIVERED,
        target_type=AuditTarget.WEBHOOK_DELIVERY,
        target_id=delivery.pk,
        changes={"event": delivery.event, "subscription": delivery.subscription_id},
    )
    _send_soon()
    delivery.refresh_from_db()
    return delivery


def webhook_deliveries_purge(*, now: datetime | None = None) -> int:
    """Delete delivered and failed deliveries created more than WEBHOOK_LOG_RETENTION_DAYS ago,
    PURGE_BATCH rows a statement (each its own short transaction); pending ones stay whatever
    their age. Also forgets previous secrets whose overlap has ended. Returns the rows deleted."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.WEBHOOK_LOG_RETENTION_DAYS)
    deleted = 0
    while True:
        with connection.cursor() as cursor:
            # The outer conditions are re-checked on rows changed meanwhile (a redelivery).
            cursor.execute(
                f"""
                DELETE FROM {_table(WebhookDelivery)}
                WHERE id IN (
                    SELECT id FROM {_table(WebhookDelivery)}
                    WHERE created_at < %(cutoff)s AND status <> 'pending'
                    LIMIT %(batch)s
                ) AND created_at < %(cutoff)s AND status <> 'pending'
                """,  # noqa: S608
                {"cutoff": cutoff, "batch": PURGE_BATCH},
            )
            batch = cursor.rowcount
        deleted += batch
        if batch < PURGE_BATCH:
            break
    WebhookSubscription.objects.filter(previous_secret_expires_at__lte=now).update(
        previous_secret="", previous_secret_expires_at=None
    )
    return deleted


# --- hooks (subscribed in CrmConfig.ready) --------------------------------------------------------


def on_stage_changes(changes: list[StageChange]) -> None:
    """After a commit that changed stages: queue `affiliate.stage_changed` deliveries."""
    webhook_stage_changes_enqueue(changes=changes)


def on_events(events: list[AcceptedEvent]) -> None:
    """After a commit that stored events: queue `event.received` deliveries."""
    webhook_events_enqueue(events=events)


def on_consent_changes(changes: list[ConsentChanged]) -> None:
    """After a commit that changed consent: queue `consent.revoked` deliveries for the opt-outs."""
    webhook_consent_revocations_enqueue(changes=changes)
