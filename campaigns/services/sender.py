"""The sender: takes due outbox rows in batches and hands them to the channels' providers.

A batch is claimed with crm.services.duework (`OUTBOX`: FOR UPDATE SKIP LOCKED, the attempt
counted and the rows hidden for a lease in one short transaction; highest priority first, then
oldest due). Then, with no transaction open across the network, each message goes through the
guards that depend on the moment of sending, in priority order:

- the static guards again (consent may have been revoked since it was queued): suppressed with
  the reason, and the next channel of its chain tried;
- quiet hours (QuietHours, in the affiliate's time zone, else the UDN's): the message waits, due
  again when they end;
- frequency caps (FrequencyCap: the affiliate's sent messages on the channel in the rolling day
  or week, this batch's included): suppressed `frequency_cap`;
- the cross-UDN contact-pressure budget (campaigns.services.pressure; the slot keyed by the
  message's idempotency key, so a retry never counts twice): the message waits while a person's
  last slot is bid for (the higher priority wins it across UDNs), then for the next day, or is
  suppressed `pressure_budget` when its campaign's window ends first;

A test send (source `test`, campaigns.services.outbox.TEST_ADDRESS_KEY) goes to the tester's
address and skips the affiliate's guards above (only a disabled channel stops it);

then it is rendered (campaigns.templating; a failure is `render_error`) and sent through
`provider_for(channel).send(...)` in chunks the channel's rate allows (a Redis token bucket per
UDN and channel, `rate_per_second`), with the message's idempotency key, so a send repeated after
a crash is one message at the provider. Each chunk's outcome is recorded as soon as it is known
(statuses through campaigns.services.statuses): sent; a retryable error is retried on OUTBOX's
backoff and, after the last attempt, `dead` with the provider's error (then the next channel of
its chain is tried); a final error is `failed` (and the chain goes on).

A worker killed mid-batch loses nothing: its rows are due again when the lease ends and are sent
again with the same idempotency keys, which providers (and the sandbox) take once.
"""

from __future__ import annotations

import logging
import time
import zoneinfo
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from django_redis import get_redis_connection

from campaigns.models import (
    CampaignStatus,
    CapPeriod,
    ChannelConfig,
    FrequencyCap,
    Message,
    MessageSource,
    MessageStatus,
    QuietHours,
    SuppressionReason,
)
from campaigns.pressure.models import PressureBudget
from campaigns.services.guards import affiliate_address, channels_disabled, guard_static
from campaigns.services.outbox import message_fallback, message_test_address, message_variables
from campaigns.services.pressure import (
    PressureOutcome,
    pressure_budgets,
    pressure_next_try,
    pressure_person,
    pressure_release,
    pressure_reserve,
)
from crm.services.duework import DueSpec, due_claim, due_failed, due_succeeded

logger = logging.getLogger(__name__)

SEND_TASK = "campaigns.messages_send"
# Messages claimed at once: big enough that a provider's bulk call and the per-batch queries (caps,
# budgets, channel settings) are shared by many messages, small enough that a lease covers it.
SEND_BATCH = 200
# The waits after each failed attempt; after the last one the message is dead (6 attempts).
BACKOFF: tuple[timedelta, ...] = (
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(hours=1),
    timedelta(hours=6),
)
# A claimed batch is hidden this long: SEND_BATCH messages at the slowest rate a channel allows
# (1/s would be 200 s) plus the providers' timeouts; a dead worker's rows come back after it.
CLAIM_LEASE = timedelta(minutes=5)
# The longest a sender waits for the rate limit within a batch; the rest go back due.
RATE_WAIT_MAX = 2.0
# One run of the task sends at most this many batches, so one UDN's backlog does not hold a
# worker for long; the next tick (or the kick after an enqueue) takes over.
BATCHES_PER_RUN = 50
ERROR_MAX = 2000

OUTBOX = DueSpec(
    model=Message,
    status="status",
    due="due_at",
    attempts="attempts",
    pending=MessageStatus.QUEUED.value,
    succeeded=MessageStatus.SENT.value,
    dead=MessageStatus.DEAD.value,
    backoff=BACKOFF,
    batch=SEND_BATCH,
    lease=CLAIM_LEASE,
    rank="priority",
)


# --- rate limit ---------------------------------------------------------------------------------

# A token bucket in Redis: `rate` tokens a second up to `rate` (one second's burst); takes up to
# ARGV[2] tokens and returns how many it took. Redis' clock, so every worker shares one bucket.
_BUCKET = """
local rate = tonumber(ARGV[1])
local want = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or rate
local at = tonumber(state[2]) or now
tokens = math.min(rate, tokens + (now - at) * rate)
local take = math.min(want, math.floor(tokens))
tokens = tokens - take
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('EXPIRE', KEYS[1], 60)
return take
"""


def rate_take(*, channel: str, rate: int, want: int) -> int:
    """Take up to `want` send slots of this UDN's `channel` bucket; returns how many were given."""
    key = f"campaigns:rate:{connection.schema_name}:{channel}"  # type: ignore[attr-defined]
    return int(get_redis_connection("default").eval(_BUCKET, 1, key, rate, want))


# --- time-dependent guards ----------------------------------------------------------------------


def _zone(name: str, fallback: zoneinfo.ZoneInfo) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name) if name else fallback
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return fallback


def quiet_until(*, quiet: QuietHours | None, now: datetime, zone: zoneinfo.ZoneInfo) -> datetime | None:
    """When the quiet period `now` falls in ends (in `zone`), or None outside quiet hours."""
    if quiet is None or not quiet.enabled or quiet.start == quiet.end:
        return None
    local = now.astimezone(zone)
    moment = local.time().replace(tzinfo=None)
    start, end = quiet.start, quiet.end
    inside = (start <= moment < end) if start < end else (moment >= start or moment < end)
    if not inside:
        return None
    day = local.date() if moment < end else local.date() + timedelta(days=1)
    return datetime.combine(day, end, tzinfo=zone)


def _sent_counts(messages: Sequence[Message], *, now: datetime) -> dict[tuple[int, str], list[int]]:
    """{(affiliate, channel): [sent in the last day, sent in the last week]} for the batch."""
    counts: dict[tuple[int, str], list[int]] = defaultdict(lambda: [0, 0])
    if not messages:
        return counts
    table = connection.ops.quote_name(Message._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT affiliate_id, channel,
                   count(*) FILTER (WHERE sent_at > %(day)s), count(*)
            FROM {table}
            WHERE affiliate_id = ANY(%(affiliates)s) AND channel = ANY(%(channels)s)
              AND sent_at > %(week)s AND source <> %(test)s
            GROUP BY affiliate_id, channel
            """,  # noqa: S608 - the model's table
            {
                "affiliates": sorted({m.affiliate_id for m in messages}),
                "channels": sorted({m.channel for m in messages}),
                "day": now - timedelta(days=1),
                "week": now - timedelta(days=7),
                # A test send went to the marketer, not the affiliate: it uses up no cap.
                "test": MessageSource.TEST.value,
            },
        )
        for affiliate_id, channel, day, week in cursor.fetchall():
            counts[(affiliate_id, channel)] = [day, week]
    return counts


@dataclass
class _Batch:
    """What one batch decided, applied together."""

    now: datetime
    suppressed: dict[str, list[int]]
    waiting: dict[datetime, list[int]]
    to_fallback: list[Message]
    ready: dict[str, list[tuple[Message, dict[str, Any], str | None]]]


def _window_ends(message: Message) -> datetime | None:
    campaign = message.campaign
    if campaign is None or campaign.launched_at is None:
        return None
    return campaign.launched_at + timedelta(days=campaign.conversion_window_days)


def _judge(messages: Sequence[Message], *, now: datetime) -> _Batch:
    from campaigns.templating import RenderError, message_render

    batch = _Batch(
        now=now,
        suppressed=defaultdict(list),
        waiting=defaultdict(list),
        to_fallback=[],
        ready=defaultdict(list),
    )
    disabled = channels_disabled()
    caps = {(cap.channel, cap.period): cap.limit for cap in FrequencyCap.objects.all()}
    quiet = QuietHours.objects.first()
    budgets: dict[str, PressureBudget] = pressure_budgets()
    udn_zone = _zone(getattr(connection.tenant, "time_zone", ""), zoneinfo.ZoneInfo("America/Sao_Paulo"))  # type: ignore[attr-defined]
    sent = _sent_counts(messages, now=now) if caps else {}
    for message in messages:
        affiliate = message.affiliate
        campaign = message.campaign
        if campaign is not None and campaign.status == CampaignStatus.CANCELLED:
            batch.suppressed[SuppressionReason.CAMPAIGN_CANCELLED].append(message.pk)
            continue
        if campaign is not None and campaign.status == CampaignStatus.PAUSED:
            batch.waiting[now + CLAIM_LEASE].append(message.pk)
            continue
        test_address = message_test_address(message)
        if test_address is not None:
            # A test send to the marketer themself (campaigns.services.outbox.TEST_ADDRESS_KEY): the
            # affiliate's consent, caps, quiet hours and contact pressure are not theirs to spend.
            if message.channel in disabled:
                batch.suppressed[SuppressionReason.CHANNEL_DISABLED].append(message.pk)
                continue
            try:
                payload = message_render(
                    template=message.template,
                    affiliate=affiliate,
                    variables=message_variables(message),
                    message=message,
                    address=test_address,
                )
            except RenderError as error:
                logger.warning("test message %s: render failed: %s", message.pk, error)
                batch.suppressed[SuppressionReason.RENDER_ERROR].append(message.pk)
                continue
            batch.ready[message.channel].append((message, payload, None))
            continue
        reason = guard_static(
            affiliate=affiliate,
            channel=message.channel,
            template=message.template,
            now=now,
            disabled_channels=disabled,
        )
        if reason is not None:
            batch.suppressed[reason].append(message.pk)
            if message.fallback:
                batch.to_fallback.append(message)
            continue
        until = quiet_until(quiet=quiet, now=now, zone=_zone(affiliate.time_zone, udn_zone))
        if until is not None:
            batch.waiting[until].append(message.pk)
            continue
        if caps:
            counted = sent[(message.affiliate_id, message.channel)]
            day_cap, week_cap = (
                caps.get((message.channel, CapPeriod.DAY)),
                caps.get((message.channel, CapPeriod.WEEK)),
            )
            if (day_cap is not None and counted[0] >= day_cap) or (
                week_cap is not None and counted[1] >= week_cap
            ):
                batch.suppressed[SuppressionReason.FREQUENCY_CAP].append(message.pk)
                continue
        person = pressure_person(affiliate) if message.channel in budgets else None
        # The message's slot of the shared budget, keyed by its idempotency key (None: not counted).
        slot: str | None = None
        if person is not None:
            key = str(message.idempotency_key)
            decision = pressure_reserve(
                person=person, budget=budgets[message.channel], now=now, key=key, priority=message.priority
            )
            if decision.outcome == PressureOutcome.WAIT and decision.until is not None:
                batch.waiting[decision.until].append(message.pk)
                continue
            if decision.outcome != PressureOutcome.TAKEN:
                retry = pressure_next_try(now=now, window_ends=_window_ends(message))
                if retry is None:
                    batch.suppressed[SuppressionReason.PRESSURE_BUDGET].append(message.pk)
                else:
                    batch.waiting[retry].append(message.pk)
                continue
            slot = key
        try:
            payload = message_render(
                template=message.template,
                affiliate=affiliate,
                variables=message_variables(message),
                message=message,
            )
        except RenderError as error:
            logger.warning("message %s: render failed: %s", message.pk, error)
            if slot is not None:
                pressure_release(key=slot)
            batch.suppressed[SuppressionReason.RENDER_ERROR].append(message.pk)
            continue
        if caps:
            sent[(message.affiliate_id, message.channel)][0] += 1
            sent[(message.affiliate_id, message.channel)][1] += 1
        batch.ready[message.channel].append((message, payload, slot))
    return batch


# --- recording ----------------------------------------------------------------------------------


def _record_status(
    ids: Sequence[int], status: str, *, at: datetime, errors: dict[int, str] | None = None
) -> None:
    from campaigns.services.statuses import StatusUpdate, message_statuses_apply

    message_statuses_apply(
        updates=[
            StatusUpdate(
                message_id=pk,
                status=status,
                at=at,
                detail={"error": errors[pk]} if errors and errors.get(pk) else {},
            )
            for pk in ids
        ]
    )


def _apply_decisions(batch: _Batch) -> None:
    """Suppressed with their reasons, waiting ones due again later (their attempt not counted)."""
    with transaction.atomic():
        for reason, ids in batch.suppressed.items():
            Message.objects.filter(pk__in=ids).update(
                status=MessageStatus.SUPPRESSED, reason=reason, due_at=None
            )
        for until, ids in batch.waiting.items():
            due_succeeded(spec=OUTBOX, ids=ids, again_at=until)
        for message in batch.to_fallback:
            message_fallback(message=message)


def _provider_codes() -> dict[str, str]:
    return dict(ChannelConfig.objects.values_list("channel", "provider"))


def _send_channel(
    channel: str,
    items: list[tuple[Message, dict[str, Any], str | None]],
    *,
    now: datetime,
    provider_code: str,
) -> int:
    """Send one channel's ready messages in chunks the rate limit allows; returns how many left."""
    from campaigns.providers.base import OutgoingMessage, provider_for

    provider = provider_for(channel)
    config = ChannelConfig.objects.filter(channel=channel).first()
    rate = (
        config.rate_per_second
        if config is not None
        else ChannelConfig._meta.get_field("rate_per_second").default
    )
    sent_count = 0
    pending = list(items)
    waited = 0.0
    while pending:
        granted = rate_take(channel=channel, rate=rate, want=len(pending))
        if granted == 0:
            if waited >= RATE_WAIT_MAX:
                # Out of this batch's share of time: the rest go back due in a moment.
                _give_back(pending, now=now, again_at=now + timedelta(seconds=1))
                break
            pause = min(1.0 / rate, RATE_WAIT_MAX - waited)
            time.sleep(pause)
            waited += pause
            continue
        chunk, pending = pending[:granted], pending[granted:]
        outgoing = [
            OutgoingMessage(
                message_id=message.pk,
                idempotency_key=str(message.idempotency_key),
                channel=channel,
                address=message_test_address(message)
                or affiliate_address(affiliate=message.affiliate, channel=channel),
                payload=payload,
            )
            for message, payload, _person in chunk
        ]
        results: list[Any] | None = None
        failure = ""
        try:
            results = provider.send(outgoing)
        except Exception as error:  # noqa: BLE001 - a provider that could not answer: all retried
            logger.exception("provider %s for %s failed", provider_code, channel)
            failure = f"{type(error).__name__}: {error}"
        sent_count += _record_chunk(
            chunk, results, now=timezone.now(), provider_code=provider_code, failure=failure
        )
    return sent_count


def _give_back(
    items: Sequence[tuple[Message, dict[str, Any], str | None]], *, now: datetime, again_at: datetime
) -> None:
    for _message, _payload, slot in items:
        if slot is not None:
            pressure_release(key=slot)
    due_succeeded(spec=OUTBOX, ids=[message.pk for message, _p, _person in items], again_at=again_at)


def _record_chunk(
    chunk: list[tuple[Message, dict[str, Any], str | None]],
    results: list[Any] | None,
    *,
    now: datetime,
    provider_code: str,
    failure: str,
) -> int:
    """Record one provider call's outcomes, in one transaction: sent, retried (dead after the last
    attempt) or failed; the pressure slot of what did not leave is given back."""
    by_id = {result.message_id: result for result in results or []}
    ok: list[int] = []
    retry: dict[int, str] = {}
    final: dict[int, str] = {}
    for message, _payload, slot in chunk:
        result = by_id.get(message.pk)
        if result is not None and result.ok:
            ok.append(message.pk)
            continue
        error = (result.error if result is not None else failure or "no answer from the provider")[:ERROR_MAX]
        if result is None or result.retryable:
            retry[message.pk] = error
        else:
            final[message.pk] = error
        if slot is not None:
            pressure_release(key=slot)
    with transaction.atomic():
        for message, payload, _person in chunk:
            if message.pk in ok:
                due_succeeded(
                    spec=OUTBOX,
                    ids=[message.pk],
                    values={
                        "provider": provider_code,
                        "provider_message_id": by_id[message.pk].provider_message_id[:200],
                        "rendered": payload,
                        "error": "",
                    },
                )
        if ok:
            _record_status(ok, MessageStatus.SENT, at=now)
        dead: list[int] = []
        for pk, error in retry.items():
            dead += due_failed(
                spec=OUTBOX, ids=[pk], now=now, values={"error": error, "provider": provider_code}
            )
        if dead:
            _record_status(dead, MessageStatus.DEAD, at=now, errors=retry)
            for message in (
                Message.objects.filter(pk__in=dead).exclude(fallback=[]).select_related("affiliate")
            ):
                message_fallback(message=message)
        if final:
            for pk, error in final.items():
                Message.objects.filter(pk=pk).update(due_at=None, error=error, provider=provider_code)
            _record_status(list(final), MessageStatus.FAILED, at=now, errors=final)
    return len(ok)


# --- the loop -----------------------------------------------------------------------------------


def messages_send_batch(*, now: datetime | None = None, limit: int = SEND_BATCH) -> tuple[int, int]:
    """Claim one batch of due messages and deal with each; returns (claimed, sent)."""
    now = now or timezone.now()
    ids = due_claim(spec=OUTBOX, now=now, limit=limit)
    if not ids:
        return 0, 0
    messages = sorted(
        Message.objects.filter(pk__in=ids, status=MessageStatus.QUEUED).select_related(
            "affiliate", "template", "campaign"
        ),
        key=lambda m: (-m.priority, m.due_at or now, m.pk),
    )
    batch = _judge(messages, now=now)
    _apply_decisions(batch)
    codes = _provider_codes()
    sent = 0
    for channel, items in batch.ready.items():
        sent += _send_channel(channel, items, now=now, provider_code=codes.get(channel, "sandbox"))
    return len(ids), sent


def messages_send_due(*, max_batches: int = BATCHES_PER_RUN) -> int:
    """Send due messages batch after batch until none is due (or `max_batches`); returns how many
    were sent."""
    sent = 0
    for _ in range(max_batches):
        claimed, batch_sent = messages_send_batch()
        sent += batch_sent
        if claimed == 0:
            break
    return sent


def message_resend(*, message_ids: Sequence[int], by: str) -> int:
    """Queue dead messages again ("Reenviar"): due now, attempts from zero, the error kept until the
    next outcome replaces it. Returns how many were re-queued; others (not dead) are left alone."""
    with transaction.atomic():
        count = Message.objects.filter(pk__in=message_ids, status=MessageStatus.DEAD).update(
            status=MessageStatus.QUEUED, due_at=timezone.now(), attempts=0, failed_at=None
        )
        logger.info("%s re-queued %s dead message(s)", by, count)
        if count:
            from campaigns.services.outbox import messages_send_soon

            messages_send_soon()
    return count
