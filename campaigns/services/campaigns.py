"""Broadcast campaigns: a draft (audience, fallback chain with a template per channel, priority,
when, holdout, goal), its launch, the set-based fan-out, pause, resume and cancel.

The fan-out writes every recipient's outbox row in SQL, a batch of affiliate ids per statement: the
audience (the affiliate list's own filter), the static guards of each channel of the chain
(campaigns.services.guards.guard_static_sql: the first channel an affiliate can be reached on is
used, and an affiliate none can take gets a `suppressed` row with the first channel's reason) and
the holdout (a stable hash of campaign and affiliate, campaigns.selectors.campaigns.holdout_bucket)
go into one INSERT ... SELECT; no Python loop over affiliates. Each batch commits with the
campaign's progress (`fanned_out`), so a fan-out that dies resumes after the last committed batch.

Pause holds the campaign's queued messages (due time NULL: the sender claims only due rows) and
resume makes them due again; cancel turns them into `cancelled` with the reason
`campaign_cancelled`. Scheduled campaigns start from the per-UDN beat (`campaigns_due_start`),
never from a Celery ETA."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns.models import (
    PENDING_STATUSES,
    Campaign,
    CampaignHoldout,
    CampaignStatus,
    Message,
    MessageSource,
    MessageStatus,
    MessageTemplate,
    SuppressionReason,
)
from campaigns.selectors.campaigns import (
    audience_filters,
    audience_query_clean,
    campaign_audience,
    campaign_templates,
    holdout_bucket_sql,
    holdout_threshold,
)
from campaigns.services.guards import guard_static_sql, template_is_free_text
from crm.channels import CHANNEL_CODES
from crm.models import Affiliate

logger = logging.getLogger(__name__)

#: Affiliate ids per fan-out statement: large enough that a million recipients take ~20
#: statements (each commits with the progress bar's figure), small enough that a batch holds its
#: locks for about a second and the progress bar moves.
FAN_OUT_BATCH = 50_000
#: The Celery task that fans a campaign out (long queue: crm.queues.LONG_TASKS).
FAN_OUT_TASK = "campaigns.campaign_fan_out"
#: The sender (campaigns.services.sender), kicked when a batch made messages due.
SEND_TASK = "campaigns.messages_send"
#: Statuses whose campaign may still be edited.
EDITABLE = (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED)


@dataclass(frozen=True, kw_only=True)
class CampaignDraft:
    """What a person sets on a campaign before launching it."""

    name: str
    audience_query: str
    channels: list[str]
    templates: dict[str, MessageTemplate]
    priority: int = 5
    send_at: datetime | None = None
    holdout_percent: int = 0
    goal_event: str = ""
    conversion_window_days: int = 7
    # A saved segment the audience is kept within (crm.selectors.segments): its members that the
    # list's filter also picks.
    segment_id: int | None = None


def _draft_errors(draft: CampaignDraft) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if not draft.name.strip():
        errors.setdefault("name", []).append(_("Give the campaign a name."))
    try:
        audience_filters(query=draft.audience_query)
    except ValidationError as exc:
        errors.setdefault("audience_query", []).extend(exc.messages)
    if draft.segment_id is not None:
        try:
            campaign_audience(query="", segment_id=draft.segment_id).exists()  # compiles, still there
        except ValidationError as exc:
            errors.setdefault("segment", []).extend(exc.messages)
    if not draft.channels:
        errors.setdefault("channels", []).append(_("Choose at least one channel."))
    if len(set(draft.channels)) != len(draft.channels):
        errors.setdefault("channels", []).append(_("A channel appears only once in the chain."))
    for channel in draft.channels:
        if channel not in CHANNEL_CODES:
            errors.setdefault("channels", []).append(
                _("Unknown channel: %(channel)s.") % {"channel": channel}
            )
            continue
        template = draft.templates.get(channel)
        if template is None:
            errors.setdefault("channels", []).append(
                _("Choose a template for %(channel)s.") % {"channel": channel}
            )
        elif template.channel != channel:
            errors.setdefault("channels", []).append(
                _("The template “%(template)s” is not a %(channel)s template.")
                % {"template": template.name, "channel": channel}
            )
    if not 1 <= draft.priority <= 10:
        errors.setdefault("priority", []).append(_("The priority goes from 1 to 10."))
    if not 0 <= draft.holdout_percent <= 50:
        errors.setdefault("holdout_percent", []).append(_("The holdout goes from 0% to 50%."))
    if not 1 <= draft.conversion_window_days <= 90:
        errors.setdefault("conversion_window_days", []).append(
            _("The conversion window goes from 1 to 90 days.")
        )
    return errors


@transaction.atomic
def campaign_save(*, draft: CampaignDraft, by: str, campaign: Campaign | None = None) -> Campaign:
    """Create a draft, or change a draft or scheduled campaign. ValidationError (by field) when the
    audience filter is bad, a channel lacks its template or a value is out of range."""
    if campaign is not None:
        campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if campaign.status not in EDITABLE:
            raise ValidationError(_("A campaign can only be changed before it starts."))
    errors = _draft_errors(draft)
    if errors:
        raise ValidationError(errors)
    if campaign is None:
        campaign = Campaign(created_by=by)
    campaign.name = draft.name.strip()
    campaign.audience_query = audience_query_clean(query=draft.audience_query)
    campaign.segment_id = draft.segment_id
    campaign.channels = list(draft.channels)
    campaign.priority = draft.priority
    campaign.send_at = draft.send_at
    campaign.holdout_percent = draft.holdout_percent
    campaign.goal_event = draft.goal_event
    campaign.conversion_window_days = draft.conversion_window_days
    campaign.audience_count = _audience(campaign).count()
    campaign.save()
    campaign.templates.set([draft.templates[channel] for channel in draft.channels])
    return campaign


def _audience(campaign: Campaign) -> Any:
    """The campaign's audience query: the list's filter, within its segment when it has one."""
    return campaign_audience(query=campaign.audience_query, segment_id=campaign.segment_id)


def _kick(task: str, *args: object) -> None:
    from crm.celery import app

    transaction.on_commit(lambda: app.send_task(task, args=args))


def _start(campaign: Campaign, *, now: datetime) -> None:
    campaign.status = CampaignStatus.FANNING_OUT
    campaign.launched_at = now
    campaign.fanned_out = 0
    campaign.holdout_count = 0
    campaign.audience_count = _audience(campaign).count()
    campaign.save(update_fields=["status", "launched_at", "fanned_out", "holdout_count", "audience_count"])
    _kick(FAN_OUT_TASK, campaign.pk)


@transaction.atomic
def campaign_launch(*, campaign: Campaign, now: datetime | None = None) -> Campaign:
    """Send a draft now (fan-out queued on commit) or, when its time is still ahead, schedule it
    (the beat starts it then)."""
    now = now or timezone.now()
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.status != CampaignStatus.DRAFT:
        raise ValidationError(_("Only a draft can be launched."))
    _audience(campaign)  # still valid (tiers may have changed, a segment may be gone)
    if campaign.send_at is not None and campaign.send_at > now:
        campaign.status = CampaignStatus.SCHEDULED
        campaign.save(update_fields=["status"])
    else:
        _start(campaign, now=now)
    return campaign


@transaction.atomic
def campaign_unschedule(*, campaign: Campaign) -> Campaign:
    """A scheduled campaign back to a draft."""
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.status != CampaignStatus.SCHEDULED:
        raise ValidationError(_("Only a scheduled campaign can go back to draft."))
    campaign.status = CampaignStatus.DRAFT
    campaign.save(update_fields=["status"])
    return campaign


def campaigns_due_start(*, now: datetime) -> list[int]:
    """Start every scheduled campaign whose time has come (the per-UDN beat calls this): each in a
    transaction of its own, skipping rows another worker holds."""
    started: list[int] = []
    while True:
        with transaction.atomic():
            campaign = (
                Campaign.objects.select_for_update(skip_locked=True)
                .filter(status=CampaignStatus.SCHEDULED, send_at__lte=now)
                .order_by("send_at", "pk")
                .first()
            )
            if campaign is None:
                return started
            _start(campaign, now=now)
            started.append(campaign.pk)


@transaction.atomic
def campaign_pause(*, campaign: Campaign) -> Campaign:
    """Hold the campaign's queued messages (the sender takes due rows only); the fan-out goes on
    writing the rest, held too."""
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.status not in (CampaignStatus.FANNING_OUT, CampaignStatus.SENDING):
        raise ValidationError(_("Only a campaign that is sending can be paused."))
    Message.objects.filter(campaign=campaign, status=MessageStatus.QUEUED).update(due_at=None)
    campaign.status = CampaignStatus.PAUSED
    campaign.save(update_fields=["status"])
    return campaign


@transaction.atomic
def campaign_resume(*, campaign: Campaign, now: datetime | None = None) -> Campaign:
    """Make the held messages due again; the campaign goes on preparing (if its fan-out is still
    running) or sending."""
    now = now or timezone.now()
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.status != CampaignStatus.PAUSED:
        raise ValidationError(_("Only a paused campaign can be resumed."))
    held = Message.objects.filter(campaign=campaign, status=MessageStatus.QUEUED, due_at__isnull=True)
    resumed = held.update(due_at=now)
    campaign.status = CampaignStatus.FANNING_OUT if _fan_out_running(campaign) else CampaignStatus.SENDING
    campaign.save(update_fields=["status"])
    if resumed:
        _kick(SEND_TASK)
    return campaign


@transaction.atomic
def campaign_cancel(*, campaign: Campaign, now: datetime | None = None) -> Campaign:
    """Stop a campaign: its queued messages become `cancelled` (reason `campaign_cancelled`); those
    a sender holds right now finish; the fan-out stops at its next batch."""
    now = now or timezone.now()
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.status in (CampaignStatus.CANCELLED, CampaignStatus.DONE, CampaignStatus.DRAFT):
        raise ValidationError(_("This campaign cannot be cancelled."))
    Message.objects.filter(campaign=campaign, status=MessageStatus.QUEUED).update(
        status=MessageStatus.CANCELLED, reason=SuppressionReason.CAMPAIGN_CANCELLED, due_at=None
    )
    campaign.status = CampaignStatus.CANCELLED
    campaign.finished_at = now
    campaign.save(update_fields=["status", "finished_at"])
    return campaign


def campaigns_finish(*, now: datetime) -> int:
    """Mark done every sending campaign none of whose messages is still pending (the beat)."""
    pending = Message.objects.filter(campaign__status=CampaignStatus.SENDING, status__in=PENDING_STATUSES)
    return (
        Campaign.objects.filter(status=CampaignStatus.SENDING)
        .exclude(pk__in=pending.values("campaign_id"))
        .update(status=CampaignStatus.DONE, finished_at=now)
    )


# --- the fan-out ----------------------------------------------------------------------------------


def _lock_key(campaign_id: int) -> tuple[str, int]:
    """An advisory lock per UDN schema and campaign: one fan-out of a campaign at a time."""
    return f"{connection.schema_name}:campaign-fan-out", int(campaign_id)  # type: ignore[attr-defined]


@contextmanager
def _fan_out_lock(campaign_id: int) -> Iterator[bool]:
    space, key = _lock_key(campaign_id)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(hashtext(%s), %s)", [space, key])
        acquired = bool(cursor.fetchone()[0])
    try:
        yield acquired
    finally:
        if acquired:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(hashtext(%s), %s)", [space, key])


def _fan_out_running(campaign: Campaign) -> bool:
    """Whether a fan-out of `campaign` holds its lock right now (in any process)."""
    space, key = _lock_key(campaign.pk)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND classid = hashtext(%s)::oid AND objid = %s::oid AND objsubid = 2)",
            [space, key],
        )
        return bool(cursor.fetchone()[0])


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _array(channels: list[str]) -> str:
    if not channels:
        return "'{}'::varchar[]"
    return "ARRAY[" + ", ".join(_literal(c) for c in channels) + "]::varchar[]"


@dataclass(frozen=True)
class FanOutPlan:
    """The statement of one batch, with `%(lo)s`/`%(hi)s` for the batch's id range."""

    sql: str
    params: dict[str, Any]


def fan_out_plan(*, campaign: Campaign, now: datetime, lo: int, hi: int) -> FanOutPlan:
    """The INSERT ... SELECT that writes one batch of a campaign: holdout rows, then one message
    row per other affiliate (first channel of the chain that passes the static guards, or
    suppressed with the first channel's reason). Returns (holdout rows, message rows, due rows)."""
    templates = campaign_templates(campaign=campaign)
    chain = list(campaign.channels)
    # The batch's id range inside the audience's query too, so both sides read an index range
    # rather than the audience of the whole base for each batch.
    audience = _audience(campaign).filter(pk__gt=lo, pk__lte=hi).values("pk")
    audience_sql, audience_params = audience.query.sql_with_params()
    # The audience's own placeholders are positional; ours are named: make theirs literal-safe.
    params: dict[str, Any] = {f"aud{i}": value for i, value in enumerate(audience_params)}
    audience_sql = audience_sql % tuple(f"%(aud{i})s" for i in range(len(audience_params)))

    reasons = [
        guard_static_sql(channel, free_text=template_is_free_text(templates[channel]), now=now)
        for channel in chain
    ]
    reason_columns = ", ".join(f"{sql} AS r{i}" for i, sql in enumerate(reasons))
    ok = [f"r{i} IS NULL" for i in range(len(chain))]
    any_ok = " OR ".join(ok)

    def pick(values: list[str], otherwise: str) -> str:
        whens = " ".join(f"WHEN {ok[i]} THEN {value}" for i, value in enumerate(values))
        return f"CASE {whens} ELSE {otherwise} END"

    channel = pick([_literal(c) for c in chain], _literal(chain[0]))
    template = pick([str(int(templates[c].pk)) for c in chain], str(int(templates[chain[0]].pk)))
    fallback = pick([_array(chain[i + 1 :]) for i in range(len(chain))], "'{}'::varchar[]")
    paused = campaign.status == CampaignStatus.PAUSED

    aff = _q(Affiliate._meta.db_table)
    holdouts = _q(CampaignHoldout._meta.db_table)
    messages = _q(Message._meta.db_table)
    params |= {
        "campaign": campaign.pk,
        "threshold": holdout_threshold(percent=campaign.holdout_percent),
        "priority": campaign.priority,
        "source": MessageSource.CAMPAIGN.value,
        "queued": MessageStatus.QUEUED.value,
        "suppressed": MessageStatus.SUPPRESSED.value,
        "due": None if paused else now,
        "now": now,
    }
    sql = f"""
        WITH aud AS MATERIALIZED (
            SELECT a.id AS affiliate_id, {holdout_bucket_sql(campaign_id=campaign.pk)} AS bucket,
                   {reason_columns}
            FROM {aff} a
            WHERE a.id > %(lo)s AND a.id <= %(hi)s AND a.id IN ({audience_sql})
        ),
        held AS (
            INSERT INTO {holdouts} (campaign_id, affiliate_id)
            SELECT %(campaign)s, affiliate_id FROM aud WHERE bucket < %(threshold)s
            ON CONFLICT DO NOTHING
            RETURNING 1
        ),
        written AS (
            INSERT INTO {messages} (
                affiliate_id, campaign_id, template_id, channel, fallback, source, priority, status,
                reason, due_at, attempts, idempotency_key, provider, provider_message_id, variables,
                rendered, error, created_at
            )
            SELECT affiliate_id, %(campaign)s, {template}, {channel}, {fallback}, %(source)s,
                   %(priority)s,
                   CASE WHEN {any_ok} THEN %(queued)s ELSE %(suppressed)s END,
                   CASE WHEN {any_ok} THEN '' ELSE r0 END,
                   CASE WHEN {any_ok} THEN %(due)s::timestamptz END,
                   0, gen_random_uuid(), '', '', '{{}}'::jsonb, '{{}}'::jsonb, '', %(now)s
            FROM aud WHERE bucket >= %(threshold)s
            RETURNING status
        )
        SELECT (SELECT count(*) FROM held),
               (SELECT count(*) FROM written),
               (SELECT count(*) FROM written WHERE status = %(queued)s)
    """  # noqa: S608 - names from the models' meta, guards' SQL from code, values are parameters
    return FanOutPlan(sql=sql, params=params)


def _resume_after(campaign: Campaign) -> int:
    """The highest affiliate id a committed batch of this campaign covered (0: none yet)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT GREATEST(COALESCE((SELECT max(affiliate_id) FROM {_q(Message._meta.db_table)}"  # noqa: S608
            f" WHERE campaign_id = %(c)s), 0), COALESCE((SELECT max(affiliate_id) FROM"
            f" {_q(CampaignHoldout._meta.db_table)} WHERE campaign_id = %(c)s), 0))",
            {"c": campaign.pk},
        )
        return int(cursor.fetchone()[0])


def _batch(*, campaign_id: int, lo: int, hi: int, now: datetime) -> bool:
    """Write one batch in one transaction with the campaign's progress; False when the campaign
    stopped (cancelled) or is gone."""
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().filter(pk=campaign_id).first()
        if campaign is None or campaign.status not in (CampaignStatus.FANNING_OUT, CampaignStatus.PAUSED):
            return False
        plan = fan_out_plan(campaign=campaign, now=now, lo=lo, hi=hi)
        with connection.cursor() as cursor:
            cursor.execute(plan.sql, plan.params | {"lo": lo, "hi": hi})
            held, written, due = cursor.fetchone()
        Campaign.objects.filter(pk=campaign_id).update(
            fanned_out=campaign.fanned_out + held + written,
            holdout_count=campaign.holdout_count + held,
        )
        if due:
            _kick(SEND_TASK)
    return True


def campaign_fan_out(*, campaign_id: int, now: datetime | None = None, batch: int = FAN_OUT_BATCH) -> str:
    """Write the campaign's outbox rows, batch after batch (the long-queue task). Safe to run
    again: a second run while one runs does nothing, and a run after a crash resumes after the last
    committed batch. Returns what it did, for the task's result."""
    with _fan_out_lock(campaign_id) as acquired:
        if not acquired:
            return "already running"
        campaign = Campaign.objects.filter(pk=campaign_id).first()
        if campaign is None or campaign.status not in (CampaignStatus.FANNING_OUT, CampaignStatus.PAUSED):
            return "not fanning out"
        now = now or timezone.now()
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT max(id) FROM {_q(Affiliate._meta.db_table)}")  # noqa: S608
            top = int(cursor.fetchone()[0] or 0)
        lo = _resume_after(campaign)
        while lo < top:
            hi = min(lo + batch, top)
            if not _batch(campaign_id=campaign_id, lo=lo, hi=hi, now=now):
                return "stopped"
            lo = hi
        with transaction.atomic():
            campaign = Campaign.objects.select_for_update().get(pk=campaign_id)
            # What was written is the audience (the base may have changed since it was counted).
            campaign.audience_count = campaign.fanned_out
            if campaign.status == CampaignStatus.FANNING_OUT:
                pending = Message.objects.filter(campaign=campaign, status__in=PENDING_STATUSES).exists()
                campaign.status = CampaignStatus.SENDING if pending else CampaignStatus.DONE
                if not pending:
                    campaign.finished_at = timezone.now()
            campaign.save(update_fields=["audience_count", "status", "finished_at"])
        return "done"


def campaigns_fan_out_rekick(*, now: datetime, stale_after_seconds: int = 300) -> list[int]:
    """Queue the fan-out again for campaigns still preparing whose fan-out holds no lock (a worker
    died mid-way) and that started more than `stale_after_seconds` ago (the beat)."""
    kicked = []
    stale = now - timedelta(seconds=stale_after_seconds)
    for campaign in Campaign.objects.filter(status=CampaignStatus.FANNING_OUT, launched_at__lt=stale):
        if not _fan_out_running(campaign):
            with transaction.atomic():
                _kick(FAN_OUT_TASK, campaign.pk)
            kicked.append(campaign.pk)
    return kicked
