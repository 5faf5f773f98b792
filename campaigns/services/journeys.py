"""Journeys: publishing versions, enrolling affiliates and moving enrollments through the steps.

Execution (issue 12):
- event-driven: crm.hooks.events_stored (after the ingest commits) queues `journeys.on_events`,
  which converts enrollments whose journey's goal the event is, wakes those waiting for it and
  enrols affiliates into journeys it triggers (`journeys_on_events`);
- time-driven: the per-UDN beat tick (`journeys.tick`) takes due enrollments in batches
  (`journeys_advance_due`).

An enrollment is due work (crm.services.duework): active rows with a `due_at`. A batch is taken
with `due_take` (FOR UPDATE SKIP LOCKED, inside the transaction that moves it), so two workers
never take the same enrollment, and a worker that dies rolls its batch back: nothing half-done is
committed and the rows are due again. A batch that fails is recorded with `due_failed` (backoff,
then status failed).

Advancing is set-based: the batch is grouped by (version, step); each group moves with a few
statements whatever its size (a send step: one INSERT ... SELECT of outbox rows through the
static guards' SQL plus its log rows; a branch: one query of its condition, a segment definition
compiled by crm.segmentation for the group's affiliates; one UPDATE per step
the group comes to rest at). Steps that run at once (send, branch, split, update, webhook, exit)
are chained inside the same transaction; a group rests at a wait (due when it ends), a wait for
an event (due at its deadline, woken by the event) or the end.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns.journey_graph import (
    IMMEDIATE,
    branch_definition,
    branch_reason,
    graph_errors,
    step_duration,
    steps_by_id,
)
from campaigns.models import (
    Enrollment,
    EnrollmentStatus,
    Journey,
    JourneyStatus,
    JourneyStepLog,
    JourneyStepOutcome,
    JourneyVersion,
    JourneyWebhookCall,
    JourneyWebhookCallStatus,
    Message,
    MessageSource,
    MessageStatus,
    MessageTemplate,
    ReentryRule,
    SuppressionReason,
)
from campaigns.services.guards import guard_static_sql, template_is_free_text
from campaigns.services.outbox import FALLBACK_TEMPLATES_KEY
from crm.models import Affiliate, Event
from crm.segmentation import AFFILIATE, SegmentInvalid
from crm.selectors.segments import segment_where
from crm.services.affiliates import affiliates_tags_attributes_update
from crm.services.duework import DueSpec, due_claim, due_failed, due_succeeded, due_take
from crm.services.webhooks import BACKOFF as WEBHOOK_BACKOFF
from tenants.actors import SYSTEM, Actor, actor_bound

logger = logging.getLogger(__name__)

#: Enrollments a batch takes: a few statements move a whole batch, so it is large; small enough
#: that a batch's transaction holds its row locks for about a second at 1M due.
ADVANCE_BATCH = 20_000
#: Immediate steps chained inside one batch at most (a graph cannot loop forever in a tick).
MAX_CHAIN = 50
#: A paused journey's enrollments are looked at again this much later.
PAUSE_RECHECK = timedelta(hours=1)
#: Webhook steps: seconds a call may take.
WEBHOOK_TIMEOUT = 5.0
#: Webhook calls a sender claims at once; the lease covers them all timing out, and then some.
WEBHOOK_SEND_BATCH = 50
#: Steps an enrollment stands at before it reaches its trigger's start step.
ENTRY = ">"

ENROLLMENTS = DueSpec(
    model=Enrollment,
    status="status",
    due="due_at",
    attempts="attempts",
    pending=EnrollmentStatus.ACTIVE,
    succeeded=EnrollmentStatus.COMPLETED,
    dead=EnrollmentStatus.FAILED,
    backoff=(timedelta(minutes=1), timedelta(minutes=10), timedelta(hours=1)),
    batch=ADVANCE_BATCH,
    lease=timedelta(minutes=5),
)

#: A webhook step's calls as due work: the partner webhooks' backoff (1 min, 5 min, 30 min, 2 h,
#: 12 h), then failed.
WEBHOOK_CALLS = DueSpec(
    model=JourneyWebhookCall,
    status="status",
    due="due_at",
    attempts="attempts",
    pending=JourneyWebhookCallStatus.PENDING,
    succeeded=JourneyWebhookCallStatus.DELIVERED,
    dead=JourneyWebhookCallStatus.FAILED,
    backoff=WEBHOOK_BACKOFF,
    batch=WEBHOOK_SEND_BATCH,
    lease=timedelta(seconds=WEBHOOK_SEND_BATCH * WEBHOOK_TIMEOUT + 60),
)

ADVANCE_TASK = "campaigns.journeys_advance"
WEBHOOKS_TASK = "campaigns.journey_webhooks_send"
EVENTS_TASK = "campaigns.journeys_on_events"

# --- bookkeeping --------------------------------------------------------------------------------------


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


def _t(model: Any) -> str:
    return _q(model._meta.db_table)


def bucket(*, journey_id: int, affiliate_id: int, salt: str) -> float:
    """Where an affiliate falls for one journey's `salt` (the holdout, a split step), in [0, 100):
    md5 of journey, salt and affiliate, so the same affiliate always lands on the same side."""
    digest = hashlib.md5(f"{journey_id}:{salt}:{affiliate_id}".encode(), usedforsecurity=False).hexdigest()
    return int(digest[:8], 16) % 10_000 / 100


def bucket_sql(*, journey_id: int, salt: str, affiliate: str) -> str:
    """`bucket` in SQL over the affiliate id expression `affiliate` (salt: letters, digits, - _)."""
    prefix = f"{int(journey_id)}:{salt}:".replace("'", "")
    return (
        f"(mod(('x' || lpad(substr(md5('{prefix}' || ({affiliate})::text), 1, 8), 16, '0'))"
        f"::bit(64)::bigint, 10000) / 100.0)"
    )


def _kick(task: str, *args: Any) -> None:
    from crm.celery import app

    transaction.on_commit(lambda: app.send_task(task, args=args))


# --- journeys -----------------------------------------------------------------------------------------


def _template_codes() -> set[str]:
    return set(MessageTemplate.objects.values_list("slug", flat=True))


@transaction.atomic
def journey_save(
    *,
    name: str,
    graph: dict[str, Any],
    by: str,
    journey: Journey | None = None,
    goal_event: str = "",
    holdout_percent: int = 0,
    reentry: str = ReentryRule.NEVER,
    reentry_days: int = 0,
    description: str = "",
) -> Journey:
    """Create a journey or change its draft (a live journey goes on running its published
    version until the draft is published)."""
    errors: dict[str, list[str]] = {}
    if not name.strip():
        errors["name"] = [_("Give the journey a name.")]
    if not 0 <= holdout_percent <= 50:
        errors["holdout_percent"] = [_("The holdout goes from 0% to 50%.")]
    if reentry not in ReentryRule.values:
        errors["reentry"] = [_("Choose a re-entry rule.")]
    if errors:
        raise ValidationError(errors)
    if journey is None:
        journey = Journey(created_by=by, webhook_secret=secrets.token_hex(24))
    else:
        journey = Journey.objects.select_for_update().get(pk=journey.pk)
        if journey.status == JourneyStatus.ARCHIVED:
            raise ValidationError(_("An archived journey cannot be changed."))
    journey.name = name.strip()
    journey.description = description
    journey.draft_graph = graph
    journey.goal_event = goal_event.strip()
    journey.holdout_percent = holdout_percent
    journey.reentry = reentry
    journey.reentry_days = reentry_days if reentry == ReentryRule.AFTER_DAYS else 0
    journey.save()
    return journey


def journey_latest_version(*, journey: Journey) -> JourneyVersion | None:
    return journey.versions.order_by("-number").first()


@transaction.atomic
def journey_publish(*, journey: Journey, by: str, now: datetime | None = None) -> JourneyVersion:
    """Freeze the draft as a new version and make the journey live: new enrollments take it;
    affiliates already inside finish on the version they entered."""
    now = now or timezone.now()
    journey = Journey.objects.select_for_update().get(pk=journey.pk)
    if journey.status == JourneyStatus.ARCHIVED:
        raise ValidationError(_("An archived journey cannot be published."))
    errors = graph_errors(journey.draft_graph, templates=_template_codes())
    if errors:
        raise ValidationError(errors)
    latest = journey_latest_version(journey=journey)
    version = JourneyVersion.objects.create(
        journey=journey,
        number=(latest.number + 1) if latest else 1,
        graph=journey.draft_graph,
        published_at=now,
        published_by=by,
    )
    was_paused = journey.status == JourneyStatus.PAUSED
    journey.status = JourneyStatus.LIVE
    journey.save(update_fields=["status", "updated_at"])
    if was_paused:
        _held_release(journey=journey, now=now)
    return version


def _held_release(*, journey: Journey, now: datetime) -> None:
    """Enrollments held while the journey was paused are due now (a wait still running, whose
    due time is further than a recheck, stays as it is)."""
    Enrollment.objects.filter(
        journey=journey, status=EnrollmentStatus.ACTIVE, due_at__lte=now + PAUSE_RECHECK
    ).update(due_at=now)
    _kick(ADVANCE_TASK)


@transaction.atomic
def journey_pause(*, journey: Journey) -> Journey:
    """Stop enrolling and hold the enrollments where they are (the tick leaves them alone)."""
    journey = Journey.objects.select_for_update().get(pk=journey.pk)
    if journey.status != JourneyStatus.LIVE:
        raise ValidationError(_("Only a live journey can be paused."))
    journey.status = JourneyStatus.PAUSED
    journey.save(update_fields=["status", "updated_at"])
    return journey


@transaction.atomic
def journey_resume(*, journey: Journey, now: datetime | None = None) -> Journey:
    now = now or timezone.now()
    journey = Journey.objects.select_for_update().get(pk=journey.pk)
    if journey.status != JourneyStatus.PAUSED:
        raise ValidationError(_("Only a paused journey can be resumed."))
    journey.status = JourneyStatus.LIVE
    journey.save(update_fields=["status", "updated_at"])
    _held_release(journey=journey, now=now)
    return journey


@transaction.atomic
def journey_archive(*, journey: Journey, now: datetime | None = None) -> Journey:
    """End the journey: every affiliate still inside exits (logged as such)."""
    now = now or timezone.now()
    journey = Journey.objects.select_for_update().get(pk=journey.pk)
    if journey.status == JourneyStatus.ARCHIVED:
        raise ValidationError(_("The journey is already archived."))
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH gone AS (
                UPDATE {_t(Enrollment)} SET status = %(exited)s, due_at = NULL, waiting_for = '',
                       finished_at = %(now)s
                WHERE journey_id = %(journey)s AND status = %(active)s
                RETURNING id, step
            )
            INSERT INTO {_t(JourneyStepLog)} (enrollment_id, step, at, outcome, reason)
            SELECT id, step, %(now)s, %(outcome)s, '' FROM gone
            """,  # noqa: S608
            {
                "exited": EnrollmentStatus.EXITED,
                "active": EnrollmentStatus.ACTIVE,
                "now": now,
                "journey": journey.pk,
                "outcome": JourneyStepOutcome.ARCHIVED.value,
            },
        )
    journey.status = JourneyStatus.ARCHIVED
    journey.save(update_fields=["status", "updated_at"])
    return journey


# --- enrolling ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One affiliate to enrol: why (`key`, unique per journey and affiliate) and the variables its
    messages get (`context`, e.g. {"evento": {...}})."""

    affiliate_id: int
    key: str
    context: dict[str, Any] = field(default_factory=dict)


def _live_versions() -> list[tuple[Journey, JourneyVersion]]:
    """Each live journey with its latest version."""
    journeys = list(Journey.objects.filter(status=JourneyStatus.LIVE))
    latest: dict[int, JourneyVersion] = {}
    for version in JourneyVersion.objects.filter(journey__in=journeys).order_by("journey_id", "number"):
        latest[version.journey_id] = version
    return [(journey, latest[journey.pk]) for journey in journeys if journey.pk in latest]


def enrollments_create(
    *, journey: Journey, version: JourneyVersion, start: str, entries: Sequence[Entry], now: datetime
) -> list[int]:
    """Enrol `entries` into `version` at trigger step `start`, in one statement: those the
    re-entry rule or an active enrollment keeps out, and a cause already enrolled (its key), are
    skipped. Holdout by a stable hash. Returns the new enrollments' ids (due now)."""
    if not entries:
        return []
    if journey.reentry == ReentryRule.NEVER:
        blocked = "TRUE"
        params_extra: dict[str, Any] = {}
    else:
        blocked = "(p.status = %(active)s OR p.finished_at > %(since)s)"
        params_extra = {"since": now - timedelta(days=journey.reentry_days)}
    sql = f"""
        INSERT INTO {_t(Enrollment)} (
            journey_id, version_id, affiliate_id, step, step_at, status, due_at, attempts,
            waiting_for, deadline_at, holdout, entry_key, context, entered_at
        )
        SELECT %(journey)s, %(version)s, x.affiliate_id, %(step)s, %(now)s, %(active)s, %(now)s, 0,
               '', NULL, {bucket_sql(journey_id=journey.pk, salt="holdout", affiliate="x.affiliate_id")}
                         < %(holdout)s,
               x.key, x.ctx, %(now)s
        FROM (
            SELECT DISTINCT ON (u.affiliate_id) u.affiliate_id, u.key, u.ctx
            FROM unnest(%(affiliates)s::bigint[], %(keys)s::text[], %(contexts)s::jsonb[])
                 AS u(affiliate_id, key, ctx)
            JOIN {_t(Affiliate)} a ON a.id = u.affiliate_id
            ORDER BY u.affiliate_id, u.key
        ) x
        WHERE NOT EXISTS (
            SELECT 1 FROM {_t(Enrollment)} p
            WHERE p.journey_id = %(journey)s AND p.affiliate_id = x.affiliate_id AND {blocked}
        )
        ON CONFLICT DO NOTHING
        RETURNING id
    """  # noqa: S608 - names from the models, values are parameters
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            {
                "journey": journey.pk,
                "version": version.pk,
                "step": ENTRY + start,
                "now": now,
                "active": EnrollmentStatus.ACTIVE,
                "holdout": journey.holdout_percent,
                "affiliates": [entry.affiliate_id for entry in entries],
                "keys": [entry.key for entry in entries],
                "contexts": [json.dumps(entry.context) for entry in entries],
                **params_extra,
            },
        )
        ids = [row[0] for row in cursor.fetchall()]
    if ids:
        _kick(ADVANCE_TASK)
    return ids


def _manual_start(version: JourneyVersion) -> str:
    for trigger in version.graph.get("triggers", []):
        if trigger.get("type") == "manual":
            return str(trigger["start"])
    raise ValidationError(_("This journey takes no manual or API enrollment (it has no manual trigger)."))


@transaction.atomic
def enrollment_create_manual(
    *,
    journey: Journey,
    affiliate: Affiliate,
    key: str,
    context: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> tuple[Enrollment, bool]:
    """Enrol one affiliate by hand or through the API (the journey must be live and have a manual
    trigger). Idempotent by `key`: the same key returns the enrollment it made. Returns
    (enrollment, created); ValidationError when the re-entry rule or an active enrollment keeps
    the affiliate out."""
    now = now or timezone.now()
    entry_key = f"api:{key}"
    existing = Enrollment.objects.filter(journey=journey, affiliate=affiliate, entry_key=entry_key).first()
    if existing is not None:
        return existing, False
    if journey.status != JourneyStatus.LIVE:
        raise ValidationError(_("Only a live journey takes enrollments."))
    version = journey_latest_version(journey=journey)
    assert version is not None  # a live journey has been published
    ids = enrollments_create(
        journey=journey,
        version=version,
        start=_manual_start(version),
        entries=[Entry(affiliate_id=affiliate.pk, key=entry_key, context=context or {})],
        now=now,
    )
    if not ids:
        existing = Enrollment.objects.filter(
            journey=journey, affiliate=affiliate, entry_key=entry_key
        ).first()
        if existing is not None:  # the same key, enrolled by a concurrent request
            return existing, False
        raise ValidationError(_("The affiliate is already in this journey or may not enter it again yet."))
    return Enrollment.objects.get(pk=ids[0]), True


# --- events -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EventRef:
    """An event stored on a timeline, as the journeys need it (from crm.hooks.AcceptedEvent)."""

    pk: int
    affiliate_id: int
    type: str
    occurred_at: datetime


def _goals_reach(*, events: Sequence[EventRef], now: datetime) -> int:
    """Active enrollments of journeys whose goal one of `events` is, converted, in one statement
    (an event that happened before the affiliate entered does not count)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH ev AS (
                SELECT * FROM unnest(%(affiliates)s::bigint[], %(types)s::text[], %(times)s::timestamptz[])
                    AS u(affiliate_id, type, occurred_at)
            ), done AS (
                UPDATE {_t(Enrollment)} e
                SET status = %(converted)s, due_at = NULL, waiting_for = '', finished_at = %(now)s
                FROM {_t(Journey)} j, ev
                WHERE e.status = %(active)s AND j.id = e.journey_id AND j.goal_event <> ''
                  AND ev.affiliate_id = e.affiliate_id AND ev.type = j.goal_event
                  AND ev.occurred_at >= e.entered_at
                RETURNING e.id, e.step, j.goal_event
            )
            INSERT INTO {_t(JourneyStepLog)} (enrollment_id, step, at, outcome, reason)
            SELECT id, step, %(now)s, %(outcome)s, goal_event FROM done
            """,  # noqa: S608
            {
                "affiliates": [e.affiliate_id for e in events],
                "types": [e.type for e in events],
                "times": [e.occurred_at for e in events],
                "converted": EnrollmentStatus.CONVERTED,
                "active": EnrollmentStatus.ACTIVE,
                "now": now,
                "outcome": JourneyStepOutcome.GOAL.value,
            },
        )
        return cursor.rowcount


def _waiting_wake(*, events: Sequence[EventRef], now: datetime) -> int:
    """Enrollments waiting for one of `events` become due now (the step decides yes or no)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {_t(Enrollment)} e SET due_at = %(now)s
            FROM unnest(%(affiliates)s::bigint[], %(types)s::text[]) AS u(affiliate_id, type)
            WHERE e.status = %(active)s AND e.waiting_for = u.type AND e.affiliate_id = u.affiliate_id
              AND e.due_at > %(now)s
            """,  # noqa: S608
            {
                "affiliates": [e.affiliate_id for e in events],
                "types": [e.type for e in events],
                "active": EnrollmentStatus.ACTIVE,
                "now": now,
            },
        )
        return cursor.rowcount


def _event_context(event: Event) -> dict[str, Any]:
    properties = event.properties if isinstance(event.properties, dict) else {}
    values = {**properties, "tipo": event.type}
    if event.amount is not None:
        values["valor"] = str(event.amount)
    return {"evento": values}


def journeys_on_events(*, events: Sequence[EventRef], now: datetime | None = None) -> dict[str, int]:
    """What events do to the journeys: goals convert, waits for them wake, and the journeys they
    trigger enrol the affiliates (after the waits moved on, so an affiliate finishing one passage
    by the event may start the next with it)."""
    now = now or timezone.now()
    if not events:
        return {}
    with transaction.atomic():
        converted = _goals_reach(events=events, now=now)
        woken = _waiting_wake(events=events, now=now)
    advanced = journeys_advance_due(now=now) if woken else 0
    enrolled = 0
    types = {event.type for event in events}
    with transaction.atomic():
        targets = [
            (journey, version, trigger)
            for journey, version in _live_versions()
            for trigger in version.graph.get("triggers", [])
            if trigger.get("type") == "event" and trigger.get("event") in types
        ]
        if targets:
            rows = {
                e.pk: e for e in Event.objects.filter(pk__in=[ev.pk for ev in events if ev.type in types])
            }
            for journey, version, trigger in targets:
                entries = [
                    Entry(
                        affiliate_id=ev.affiliate_id, key=f"ev:{ev.pk}", context=_event_context(rows[ev.pk])
                    )
                    for ev in events
                    if ev.type == trigger["event"] and ev.pk in rows
                ]
                enrolled += len(
                    enrollments_create(
                        journey=journey,
                        version=version,
                        start=str(trigger["start"]),
                        entries=entries,
                        now=now,
                    )
                )
    if enrolled:
        advanced += journeys_advance_due(now=now)
    return {"converted": converted, "woken": woken, "enrolled": enrolled, "advanced": advanced}


def journeys_on_segment_changes(*, changes: Sequence[Any], now: datetime | None = None) -> int:
    """Affiliates entering a segment enrol into the journeys that segment triggers. `changes`
    carry `segment_id`, `affiliate_id` and `entered` (crm.hooks.segment_membership_changed)."""
    now = now or timezone.now()
    entered: dict[int, list[int]] = defaultdict(list)
    for change in changes:
        if getattr(change, "entered", False):
            entered[int(change.segment_id)].append(int(change.affiliate_id))
    if not entered:
        return 0
    total = 0
    with transaction.atomic():
        for journey, version in _live_versions():
            for trigger in version.graph.get("triggers", []):
                if trigger.get("type") == "segment" and trigger.get("segment") in entered:
                    entries = [
                        Entry(affiliate_id=a, key=f"segment:{trigger['segment']}:{now.isoformat()}")
                        for a in entered[trigger["segment"]]
                    ]
                    total += len(
                        enrollments_create(
                            journey=journey,
                            version=version,
                            start=str(trigger["start"]),
                            entries=entries,
                            now=now,
                        )
                    )
    return total


# --- date triggers --------------------------------------------------------------------------------


def _udn_zone_name() -> str:
    tenant = getattr(connection, "tenant", None)
    return str(getattr(tenant, "time_zone", "") or "America/Sao_Paulo")


def _local_today(now: datetime) -> date:
    import zoneinfo

    return now.astimezone(zoneinfo.ZoneInfo(_udn_zone_name())).date()


def _date_expression(field_name: str) -> str:
    if field_name == "birth_date":
        return "a.birth_date"
    key = field_name.split(".", 1)[1].replace("'", "")
    # Only well-formed ISO dates are read (a typo in one affiliate's attribute is not an error).
    return (
        f"(CASE WHEN a.attributes ->> '{key}' ~ '^\\d{{4}}-(0[1-9]|1[0-2])-(0[1-9]|[12]\\d|3[01])$'"
        f" THEN to_date(a.attributes ->> '{key}', 'YYYY-MM-DD') END)"
    )


def journeys_dates_enrol(*, now: datetime) -> int:
    """Once a day (UDN time) per live journey: enrol the affiliates whose date trigger falls today
    (`date + offset_days = today`; with `yearly`, month and day only)."""
    today = _local_today(now)
    total = 0
    for journey, version in _live_versions():
        triggers = [t for t in version.graph.get("triggers", []) if t.get("type") == "date"]
        if not triggers or journey.dates_checked_on == today:
            continue
        with transaction.atomic():
            locked = Journey.objects.select_for_update(skip_locked=True).filter(pk=journey.pk).first()
            if locked is None or locked.dates_checked_on == today:
                continue
            for trigger in triggers:
                day = today - timedelta(days=int(trigger.get("offset_days") or 0))
                expression = _date_expression(str(trigger["field"]))
                if trigger.get("yearly"):
                    where = (
                        f"extract(month FROM {expression}) = %(m)s AND extract(day FROM {expression}) = %(d)s"
                    )
                else:
                    where = f"{expression} = %(day)s"
                with connection.cursor() as cursor:
                    cursor.execute(
                        f"SELECT a.id, {expression} FROM {_t(Affiliate)} a WHERE {where}",  # noqa: S608
                        {"m": day.month, "d": day.day, "day": day},
                    )
                    found = cursor.fetchall()
                entries = [
                    Entry(
                        affiliate_id=affiliate_id,
                        key=f"date:{trigger['field']}:{today.isoformat()}",
                        context={"evento": {"data": value.isoformat() if value else ""}},
                    )
                    for affiliate_id, value in found
                ]
                total += len(
                    enrollments_create(
                        journey=locked, version=version, start=str(trigger["start"]), entries=entries, now=now
                    )
                )
            Journey.objects.filter(pk=journey.pk).update(dates_checked_on=today)
    return total


# --- advancing -------------------------------------------------------------------------------------


@dataclass
class Row:
    id: int
    affiliate_id: int
    journey_id: int
    version_id: int
    step: str
    step_at: datetime
    deadline_at: datetime | None
    holdout: bool


@dataclass
class Batch:
    """What one batch wrote: log rows (enrollment, step, outcome, reason) and rest points."""

    now: datetime
    logs: list[tuple[int, str, str, str]] = field(default_factory=list)
    moved: int = 0

    def log(self, rows: Iterable[Row], step: str, outcome: str, reason: str = "") -> None:
        self.logs.extend((row.id, step, outcome, reason) for row in rows)


def _versions(ids: Iterable[int]) -> dict[int, JourneyVersion]:
    return JourneyVersion.objects.select_related("journey").in_bulk(list(set(ids)))


def journeys_advance_due(
    *, now: datetime | None = None, batch: int = ADVANCE_BATCH, max_batches: int = 1_000
) -> int:
    """Advance every due enrollment (the tick), batch after batch, each in its own transaction.
    Returns how many enrollments were taken."""
    now = now or timezone.now()
    taken = 0
    for _round in range(max_batches):
        ids: list[int] = []
        try:
            with transaction.atomic():
                ids = due_take(spec=ENROLLMENTS, now=now, limit=batch)
                if not ids:
                    return taken
                _advance(ids=ids, now=now)
        except Exception:
            logger.exception("journeys: a batch of %s enrollments failed", len(ids))
            if not ids:
                raise
            with transaction.atomic():
                # due_take counts no attempt (a rolled-back batch left nothing): count this one.
                Enrollment.objects.filter(pk__in=ids).update(attempts=F("attempts") + 1)
                due_failed(spec=ENROLLMENTS, ids=ids, now=now)
        taken += len(ids)
    return taken


def _load(ids: Sequence[int]) -> list[Row]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, affiliate_id, journey_id, version_id, step, step_at, deadline_at, holdout"  # noqa: S608
            f" FROM {_t(Enrollment)} WHERE id = ANY(%(ids)s)",
            {"ids": list(ids)},
        )
        return [Row(*values) for values in cursor.fetchall()]


def _advance(*, ids: Sequence[int], now: datetime) -> None:
    """Move the taken enrollments `ids` (locked by the caller's transaction) as far as they go."""
    rows = _load(ids)
    versions = _versions(row.version_id for row in rows)
    out = Batch(now=now)
    # Enrollments of a journey that is not live: a paused one holds, looked at again later.
    held = [row.id for row in rows if versions[row.version_id].journey.status != JourneyStatus.LIVE]
    if held:
        Enrollment.objects.filter(pk__in=held).update(due_at=now + PAUSE_RECHECK, attempts=0)
    pending = [row for row in rows if versions[row.version_id].journey.status == JourneyStatus.LIVE]
    for _depth in range(MAX_CHAIN):
        if not pending:
            break
        groups: dict[tuple[int, str], list[Row]] = defaultdict(list)
        for row in pending:
            groups[(row.version_id, row.step)].append(row)
        pending = []
        for (version_id, step_id), group in groups.items():
            pending.extend(_step_run(version=versions[version_id], step_id=step_id, rows=group, out=out))
    if pending:  # a loop of immediate steps: go on at the next tick
        _rest(rows=pending, version_steps={}, out=out, at_once=True)
    _logs_write(out)


def _step_run(*, version: JourneyVersion, step_id: str, rows: list[Row], out: Batch) -> list[Row]:
    """Run one step for a group at it; returns the rows that move on to an immediate step (to run
    in this batch). Rows that come to rest are written here."""
    steps = steps_by_id(version.graph)
    if step_id.startswith(ENTRY):
        target = step_id[len(ENTRY) :]
        out.log(rows, target, JourneyStepOutcome.ENTERED)
        return _go(rows=rows, target=target, steps=steps, out=out)
    step = steps.get(step_id)
    if step is None:  # cannot happen with a published graph; end rather than loop
        _end(rows=rows, status=EnrollmentStatus.EXITED, out=out)
        return []
    kind = step["type"]
    if kind == "wait":
        out.log(rows, step_id, JourneyStepOutcome.WAITED)
        return _go(rows=rows, target=step.get("next"), steps=steps, out=out)
    if kind == "wait_event":
        return _wait_event(step=step, rows=rows, steps=steps, out=out)
    if kind == "send":
        _send(version=version, step=step, rows=rows, out=out)
        return _go(rows=rows, target=step.get("next"), steps=steps, out=out)
    if kind == "branch":
        return _branch(step=step, rows=rows, steps=steps, out=out)
    if kind == "split":
        return _split(version=version, step=step, rows=rows, steps=steps, out=out)
    if kind == "update":
        _update(version=version, step=step, rows=rows, out=out)
        return _go(rows=rows, target=step.get("next"), steps=steps, out=out)
    if kind == "webhook":
        _webhook(version=version, step=step, rows=rows, out=out)
        return _go(rows=rows, target=step.get("next"), steps=steps, out=out)
    # exit
    out.log(rows, step_id, JourneyStepOutcome.EXIT)
    _end(rows=rows, status=EnrollmentStatus.EXITED, out=out)
    return []


def _go(*, rows: list[Row], target: str | None, steps: dict[str, dict[str, Any]], out: Batch) -> list[Row]:
    """Rows move to `target`: an immediate step runs in this batch (returned), a wait rests; no
    target ends the journey (completed)."""
    if not rows:
        return []
    if target is None:
        _end(rows=rows, status=EnrollmentStatus.COMPLETED, out=out)
        return []
    step = steps[target]
    moved = [replace(row, step=target, step_at=out.now, deadline_at=None) for row in rows]
    if step["type"] in IMMEDIATE:
        return moved
    _rest(rows=moved, version_steps=steps, out=out)
    return []


def _rest(
    *, rows: list[Row], version_steps: dict[str, dict[str, Any]], out: Batch, at_once: bool = False
) -> None:
    """Write where `rows` now stand (all at the same step, or `at_once`: due now) in one UPDATE."""
    now = out.now
    ids = [row.id for row in rows]
    step = version_steps.get(rows[0].step, {}) if not at_once else {}
    params: dict[str, Any] = {"ids": ids, "step": rows[0].step, "now": now}
    waiting, deadline = "''", "NULL"
    if at_once:
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {_t(Enrollment)} e SET step = x.step, step_at = %(now)s, due_at = %(now)s,"  # noqa: S608
                f" attempts = 0, waiting_for = '', deadline_at = NULL"
                f" FROM unnest(%(ids)s::bigint[], %(steps)s::text[]) AS x(id, step) WHERE e.id = x.id",
                {"ids": ids, "steps": [row.step for row in rows], "now": now},
            )
        return
    if step.get("type") == "wait" and step.get("until"):
        params["until"] = step["until"]
        params["zone"] = _udn_zone_name()
        local = "(%(now)s::timestamptz AT TIME ZONE COALESCE(NULLIF(a.time_zone, ''), %(zone)s))"
        today = f"((date_trunc('day', {local}) + %(until)s::time) AT TIME ZONE COALESCE(NULLIF(a.time_zone, ''), %(zone)s))"
        due = f"(CASE WHEN {today} > %(now)s THEN {today} ELSE {today} + interval '1 day' END)"
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {_t(Enrollment)} e SET step = %(step)s, step_at = %(now)s, due_at = {due},"  # noqa: S608
                f" attempts = 0, waiting_for = '', deadline_at = NULL"
                f" FROM {_t(Affiliate)} a WHERE a.id = e.affiliate_id AND e.id = ANY(%(ids)s)",
                params,
            )
        out.moved += len(ids)
        return
    params["due"] = now + step_duration(step)
    if step.get("type") == "wait_event":
        waiting, deadline = "%(event)s", "%(due)s"
        params["event"] = step["event"]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {_t(Enrollment)} SET step = %(step)s, step_at = %(now)s, due_at = %(due)s,"  # noqa: S608
            f" attempts = 0, waiting_for = {waiting}, deadline_at = {deadline} WHERE id = ANY(%(ids)s)",
            params,
        )
    out.moved += len(ids)


def _end(*, rows: list[Row], status: str, out: Batch) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {_t(Enrollment)} SET status = %(status)s, step = x.step, step_at = %(now)s,"  # noqa: S608
            f" due_at = NULL, waiting_for = '', deadline_at = NULL, finished_at = %(now)s"
            f" FROM unnest(%(ids)s::bigint[], %(steps)s::text[]) AS x(id, step)"
            f" WHERE {_t(Enrollment)}.id = x.id",
            {"status": status, "now": out.now, "ids": [r.id for r in rows], "steps": [r.step for r in rows]},
        )
    out.moved += len(rows)


def _logs_write(out: Batch) -> None:
    if not out.logs:
        return
    enrollment_ids, steps, outcomes, reasons = zip(*out.logs, strict=True)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {_t(JourneyStepLog)} (enrollment_id, step, at, outcome, reason)"  # noqa: S608
            f" SELECT u.e, u.s, %(now)s, u.o, u.r"
            f" FROM unnest(%(e)s::bigint[], %(s)s::text[], %(o)s::text[], %(r)s::text[]) AS u(e, s, o, r)",
            {
                "now": out.now,
                "e": list(enrollment_ids),
                "s": list(steps),
                "o": list(outcomes),
                "r": list(reasons),
            },
        )


def _wait_event(
    *, step: dict[str, Any], rows: list[Row], steps: dict[str, dict[str, Any]], out: Batch
) -> list[Row]:
    """Yes for those whose event came while they waited, no for those whose deadline passed;
    the rest (woken by an older event) wait on until their deadline."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT e.id FROM {_t(Enrollment)} e
            WHERE e.id = ANY(%(ids)s) AND EXISTS (
                SELECT 1 FROM {_t(Event)} ev
                WHERE ev.affiliate_id = e.affiliate_id AND ev.type = %(event)s
                  AND ev.occurred_at >= e.step_at AND ev.occurred_at <= COALESCE(e.deadline_at, %(now)s)
                  -- the event that enrolled it is not one it waits for
                  AND e.entry_key <> 'ev:' || ev.id
            )
            """,  # noqa: S608
            {"ids": [r.id for r in rows], "event": step["event"], "now": out.now},
        )
        seen = {row_id for (row_id,) in cursor.fetchall()}
    yes = [r for r in rows if r.id in seen]
    no = [r for r in rows if r.id not in seen and (r.deadline_at is None or r.deadline_at <= out.now)]
    early = [r for r in rows if r.id not in seen and r.deadline_at is not None and r.deadline_at > out.now]
    if early:
        Enrollment.objects.filter(pk__in=[r.id for r in early]).update(due_at=F("deadline_at"), attempts=0)
    out.log(yes, step["id"], JourneyStepOutcome.YES, step["event"])
    out.log(no, step["id"], JourneyStepOutcome.NO, step["event"])
    return _go(rows=yes, target=step.get("yes"), steps=steps, out=out) + _go(
        rows=no, target=step.get("no"), steps=steps, out=out
    )


def _branch(
    *, step: dict[str, Any], rows: list[Row], steps: dict[str, dict[str, Any]], out: Batch
) -> list[Row]:
    """The condition, a segment definition, compiled by crm.segmentation into one query over the
    group's affiliates (its event passes restricted to them). The log says which way each went
    and why: the condition read back. A condition that no longer compiles (a segment it names was
    deleted) stops those enrollments with the reason, not the whole batch."""
    definition = branch_definition(step.get("condition"))
    affiliate_ids = [r.affiliate_id for r in rows]
    try:
        where, params = segment_where(definition=definition, now=out.now, only_ids=affiliate_ids)
    except SegmentInvalid as invalid:
        out.log(rows, step["id"], JourneyStepOutcome.FAILED, "; ".join(invalid.errors)[:200])
        _end(rows=rows, status=EnrollmentStatus.FAILED, out=out)
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {AFFILIATE}.id FROM {AFFILIATE} WHERE ({where}) AND {AFFILIATE}.id = ANY(%s::bigint[])",  # noqa: S608
            [*params, affiliate_ids],
        )
        true = {a for (a,) in cursor.fetchall()}
    label = str(step.get("label") or "").strip()
    reason = branch_reason(definition)
    reason = f"{label}: {reason}"[:200] if label else reason
    yes = [r for r in rows if r.affiliate_id in true]
    no = [r for r in rows if r.affiliate_id not in true]
    out.log(yes, step["id"], JourneyStepOutcome.YES, reason)
    out.log(no, step["id"], JourneyStepOutcome.NO, reason)
    return _go(rows=yes, target=step.get("yes"), steps=steps, out=out) + _go(
        rows=no, target=step.get("no"), steps=steps, out=out
    )


def split_arm(*, journey_id: int, step: dict[str, Any], affiliate_id: int) -> dict[str, Any]:
    """The arm of split `step` an affiliate takes: stable (a hash of journey, step and affiliate)."""
    point = bucket(journey_id=journey_id, affiliate_id=affiliate_id, salt=f"split-{step['id']}")
    upper = 0.0
    for arm in step["arms"]:
        upper += float(arm["percent"])
        if point < upper:
            return dict(arm)
    return dict(step["arms"][-1])


def _split(
    *,
    version: JourneyVersion,
    step: dict[str, Any],
    rows: list[Row],
    steps: dict[str, dict[str, Any]],
    out: Batch,
) -> list[Row]:
    by_arm: dict[str, list[Row]] = defaultdict(list)
    targets: dict[str, str | None] = {}
    for row in rows:
        arm = split_arm(journey_id=version.journey_id, step=step, affiliate_id=row.affiliate_id)
        by_arm[arm["name"]].append(row)
        targets[arm["name"]] = arm.get("next")
    moved: list[Row] = []
    for name, group in by_arm.items():
        percent = next(a["percent"] for a in step["arms"] if a["name"] == name)
        out.log(group, step["id"], JourneyStepOutcome.ARM, f"{name} ({percent}%)")
        moved += _go(rows=group, target=targets[name], steps=steps, out=out)
    return moved


def journey_actor(journey: Journey) -> Actor:
    """Who acts when a journey's steps change affiliates: the journey itself, as the system."""
    return Actor(
        kind=SYSTEM, id=f"journey:{journey.pk}", label=_("Journey “%(name)s”") % {"name": journey.name}
    )


def _update(*, version: JourneyVersion, step: dict[str, Any], rows: list[Row], out: Batch) -> None:
    """Tags and attributes of the group's affiliates through the CRM core's bulk write (one
    statement: each affected affiliate's history, one audit entry by the journey, the
    affiliate_changed hook after the commit)."""
    add = [str(t) for t in step.get("add_tags") or []]
    remove = [str(t) for t in step.get("remove_tags") or []]
    attributes = step.get("attributes") or {}
    with actor_bound(journey_actor(version.journey)):
        changed = set(
            affiliates_tags_attributes_update(
                affiliate_ids=[r.affiliate_id for r in rows],
                add_tags=add,
                remove_tags=remove,
                attributes=attributes,
                source=f"journey:{version.journey_id}",
                now=out.now,
            )
        )
    summary = ", ".join([*(f"+{t}" for t in add), *(f"-{t}" for t in remove), *attributes])[:200]
    out.log([r for r in rows if r.affiliate_id in changed], step["id"], JourneyStepOutcome.UPDATED, summary)
    out.log(
        [r for r in rows if r.affiliate_id not in changed], step["id"], JourneyStepOutcome.UNCHANGED, summary
    )


def _webhook(*, version: JourneyVersion, step: dict[str, Any], rows: list[Row], out: Batch) -> None:
    """Record the group's calls, one INSERT: each is due work the journeys' webhook task sends
    after this batch commits, outside any transaction, retried with backoff
    (`journey_webhooks_send_due`). The enrollments move on at once; each call's outcome is added
    to its enrollment's log when it is known. The body is fixed here, so a retry sends the same."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {_t(JourneyWebhookCall)} (
                enrollment_id, step, url, payload, status, due_at, attempts, last_status_code,
                last_error, created_at, finished_at
            )
            SELECT u.e, %(step)s, %(url)s,
                   jsonb_build_object(
                       'event', 'journey.step', 'journey', %(journey)s::bigint, 'version', %(version)s::int,
                       'step', %(step)s::text, 'enrollment', u.e, 'affiliate_id', u.a, 'at', %(at)s::text
                   ),
                   %(pending)s, %(now)s, 0, NULL, '', %(now)s, NULL
            FROM unnest(%(e)s::bigint[], %(a)s::bigint[]) AS u(e, a)
            """,  # noqa: S608 - names from the models, values are parameters
            {
                "step": step["id"],
                "url": str(step["url"]),
                "journey": version.journey_id,
                "version": version.number,
                "at": out.now.isoformat(),
                "pending": JourneyWebhookCallStatus.PENDING.value,
                "now": out.now,
                "e": [r.id for r in rows],
                "a": [r.affiliate_id for r in rows],
            },
        )
    out.log(
        rows, step["id"], JourneyStepOutcome.WEBHOOK_QUEUED, (urlsplit(str(step["url"])).hostname or "")[:200]
    )
    _kick(WEBHOOKS_TASK)


def _webhook_post(call: JourneyWebhookCall, *, now: datetime) -> tuple[int | None, str]:
    """(HTTP status, error) of one attempt: POSTed through crm.outbound (the checked address,
    timeouts, no redirects), signed as the API's webhooks (X-UDN-Signature with the journey's
    secret; X-UDN-Delivery names the call, the same on every retry)."""
    from crm.outbound import OutboundError, outbound_request
    from crm.services.webhooks import USER_AGENT, webhook_signature

    body = json.dumps(call.payload, ensure_ascii=False).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-UDN-Event": "journey.step",
        "X-UDN-Delivery": f"journey-call-{call.pk}",
        "X-UDN-Signature": webhook_signature(
            signing_secrets=[call.enrollment.journey.webhook_secret],
            timestamp=int(now.timestamp()),
            body=body,
        ),
    }
    try:
        response = outbound_request(
            method="POST",
            url=call.url,
            body=body,
            headers=headers,
            timeout=WEBHOOK_TIMEOUT,
            max_body_bytes=1024,
            allow_private=settings.WEBHOOK_ALLOW_PRIVATE_URLS,
        )
    except OutboundError as error:
        return None, str(error)
    if 200 <= response.status < 300:
        return response.status, ""
    return response.status, f"HTTP {response.status}"


@transaction.atomic
def _webhook_record(call: JourneyWebhookCall, *, code: int | None, error: str, now: datetime) -> bool:
    """Save one attempt's outcome (duework: delivered, or due again after the backoff, or failed
    after the last attempt); a delivered or failed call adds a row to its enrollment's log.
    Returns whether it was delivered."""
    values: dict[str, Any] = {"last_status_code": code, "last_error": error[:500]}
    if not error:
        due_succeeded(spec=WEBHOOK_CALLS, ids=[call.pk], values={**values, "finished_at": now})
        outcome, reason = JourneyStepOutcome.WEBHOOK, f"HTTP {code}"
    elif due_failed(spec=WEBHOOK_CALLS, ids=[call.pk], now=now, values=values):
        JourneyWebhookCall.objects.filter(pk=call.pk).update(finished_at=now)
        outcome = JourneyStepOutcome.WEBHOOK_FAILED
        reason = _("Gave up after %(n)s attempts; the last: %(error)s") % {
            "n": WEBHOOK_CALLS.max_attempts,
            "error": error,
        }
    else:
        return False
    JourneyStepLog.objects.create(
        enrollment_id=call.enrollment_id, step=call.step, at=now, outcome=outcome, reason=reason[:200]
    )
    return outcome == JourneyStepOutcome.WEBHOOK


def journey_webhooks_send_due(*, limit: int = WEBHOOK_SEND_BATCH) -> int:
    """Send up to `limit` due webhook calls (claimed with crm.services.duework: SKIP LOCKED,
    hidden for the lease, committed at once; no transaction is open while a call is under way).
    Each outcome is saved as soon as its POST returns, so a sender that dies midway does not
    call the finished ones again. Returns how many were delivered."""
    ids = due_claim(spec=WEBHOOK_CALLS, now=timezone.now(), limit=limit)
    if not ids:
        return 0
    delivered = 0
    calls = JourneyWebhookCall.objects.select_related("enrollment__journey").filter(pk__in=ids).order_by("id")
    for call in calls:
        code, error = _webhook_post(call, now=timezone.now())
        delivered += _webhook_record(call, code=code, error=error, now=timezone.now())
    return delivered


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _send(*, version: JourneyVersion, step: dict[str, Any], rows: list[Row], out: Batch) -> None:
    """The outbox rows of a send step for a group, in one INSERT ... SELECT per channel chain
    (mode "all": one per channel), through the static guards' SQL; log rows say on which channel
    each went or why not. Held-out enrollments get no message."""
    held = [r for r in rows if r.holdout]
    out.log(held, step["id"], JourneyStepOutcome.HELD_OUT)
    treated = [r for r in rows if not r.holdout]
    if not treated:
        return
    codes = step["templates"]
    found = {t.slug: t for t in MessageTemplate.objects.filter(slug__in=set(codes.values()))}
    channels = [c for c in step["channels"] if codes.get(c) in found]
    chains = [[c] for c in channels] if step.get("mode") == "all" else [channels]
    for chain in chains:
        if not chain:
            continue
        templates = {c: found[codes[c]] for c in chain}
        sent = _send_chain(step=step, chain=chain, templates=templates, rows=treated, now=out.now)
        for row in treated:
            status, value = sent.get(row.id, (JourneyStepOutcome.SUPPRESSED, SuppressionReason.NO_ADDRESS))
            out.logs.append((row.id, step["id"], status, value))


def _send_chain(
    *,
    step: dict[str, Any],
    chain: list[str],
    templates: dict[str, MessageTemplate],
    rows: list[Row],
    now: datetime,
) -> dict[int, tuple[str, str]]:
    reasons = [guard_static_sql(c, free_text=template_is_free_text(templates[c]), now=now) for c in chain]
    reason_columns = ", ".join(f"{sql} AS r{i}" for i, sql in enumerate(reasons))
    ok = [f"r{i} IS NULL" for i in range(len(chain))]
    any_ok = " OR ".join(ok)

    def pick(values: list[str], otherwise: str) -> str:
        whens = " ".join(f"WHEN {ok[i]} THEN {value}" for i, value in enumerate(values))
        return f"CASE {whens} ELSE {otherwise} END"

    def array(items: list[str]) -> str:
        return (
            "ARRAY[" + ", ".join(_literal(c) for c in items) + "]::varchar[]" if items else "'{}'::varchar[]"
        )

    channel = pick([_literal(c) for c in chain], _literal(chain[0]))
    template = pick([str(int(templates[c].pk)) for c in chain], str(int(templates[chain[0]].pk)))
    fallback = pick([array(chain[i + 1 :]) for i in range(len(chain))], array(chain[1:]))
    extra: dict[str, Any] = {}
    if len(chain) > 1:  # outbox.message_fallback reads the chain's templates from the message
        extra[FALLBACK_TEMPLATES_KEY] = {c: templates[c].pk for c in chain}
    sql = f"""
        WITH src AS MATERIALIZED (
            SELECT e.id AS enrollment_id, a.id AS affiliate_id,
                   COALESCE(e.context, '{{}}'::jsonb) || %(extra)s::jsonb AS variables, {reason_columns}
            FROM {_t(Enrollment)} e JOIN {_t(Affiliate)} a ON a.id = e.affiliate_id
            WHERE e.id = ANY(%(ids)s)
        ),
        written AS (
            INSERT INTO {_t(Message)} (
                affiliate_id, campaign_id, template_id, channel, fallback, source, priority, status,
                reason, due_at, attempts, idempotency_key, provider, provider_message_id, variables,
                rendered, error, created_at
            )
            SELECT affiliate_id, NULL, {template}, {channel}, {fallback}, %(source)s, %(priority)s,
                   CASE WHEN {any_ok} THEN %(queued)s ELSE %(suppressed)s END,
                   CASE WHEN {any_ok} THEN '' ELSE r0 END,
                   CASE WHEN {any_ok} THEN %(now)s::timestamptz END,
                   0, gen_random_uuid(), '', '', variables, '{{}}'::jsonb, '', %(now)s
            FROM src
            RETURNING affiliate_id, channel, status, reason
        )
        SELECT s.enrollment_id, w.channel, w.status, w.reason
        FROM written w JOIN src s ON s.affiliate_id = w.affiliate_id
    """  # noqa: S608 - names from the models' meta, guards' SQL from code, values are parameters
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            {
                "ids": [r.id for r in rows],
                "extra": json.dumps(extra),
                "source": MessageSource.JOURNEY.value,
                "priority": int(step.get("priority") or 5),
                "queued": MessageStatus.QUEUED.value,
                "suppressed": MessageStatus.SUPPRESSED.value,
                "now": now,
            },
        )
        results = cursor.fetchall()
    if any(status == MessageStatus.QUEUED for _e, _c, status, _r in results):
        from campaigns.services.outbox import messages_send_soon

        messages_send_soon()
    return {
        enrollment_id: (JourneyStepOutcome.SENT, channel)
        if status == MessageStatus.QUEUED
        else (JourneyStepOutcome.SUPPRESSED, reason)
        for enrollment_id, channel, status, reason in results
    }


# --- the tick --------------------------------------------------------------------------------------


def journeys_tick(*, now: datetime | None = None) -> dict[str, int]:
    """The per-UDN beat: today's date triggers, then every due enrollment."""
    now = now or timezone.now()
    enrolled = journeys_dates_enrol(now=now)
    return {"enrolled": enrolled, "advanced": journeys_advance_due(now=now)}


# --- listeners (subscribed in CampaignsConfig.ready) ----------------------------------------------------


def on_events_stored(events: list[Any]) -> None:
    """crm.hooks.events_stored, after the ingest committed: the journeys' task takes it."""
    from crm.celery import app

    app.send_task(
        EVENTS_TASK, args=[[[e.pk, e.affiliate_id, e.type, e.occurred_at.isoformat()] for e in events]]
    )


def on_segment_membership_changed(changes: list[Any]) -> None:
    """crm.hooks.segment_membership_changed: affiliates entering segments that trigger journeys."""
    from crm.celery import app

    entered = [
        [int(c.segment_id), int(c.affiliate_id), True] for c in changes if getattr(c, "entered", False)
    ]
    if entered:
        app.send_task("campaigns.journeys_on_segments", args=[entered])


# --- ready-made journeys ---------------------------------------------------------------------------


@transaction.atomic
def journey_from_preset(*, key: str, by: str) -> Journey:
    """A draft copy of ready-made journey `key` (campaigns.journey_presets), with the message
    templates it uses created where this UDN has none of that code (its own are kept)."""
    from campaigns.journey_presets import PRESETS

    preset = PRESETS.get(key)
    if preset is None:
        raise ValidationError(_("There is no such ready-made journey."))
    for spec in preset.templates:
        MessageTemplate.objects.get_or_create(
            slug=spec.slug,
            defaults={
                "name": spec.name,
                "channel": spec.channel,
                "subject": spec.subject,
                "title": spec.title,
                "body_text": spec.body_text,
                "wa_template_name": spec.wa_template_name,
                "wa_parameters": list(spec.wa_parameters),
                "created_by": by,
            },
        )
    journey = journey_save(
        name=str(preset.name),
        description=str(preset.description),
        graph=json.loads(json.dumps(preset.graph)),
        by=by,
        goal_event=preset.goal_event,
        holdout_percent=preset.holdout_percent,
        reentry=preset.reentry,
        reentry_days=preset.reentry_days,
    )
    Journey.objects.filter(pk=journey.pk).update(preset=key)
    journey.preset = key
    return journey
