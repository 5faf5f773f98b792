"""Storing events: idempotent ingest by event id, in one prepared statement a batch that resolves
the affiliates, inserts the events and moves the derived fields of those affiliates forward from
the new events alone (the same rules as crm.services.events.derive's full recomputation)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any

import psycopg
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm import hooks, lifecycle
from crm.hooks import AcceptedEvent, StageChange
from crm.models import Affiliate, AuditAction, AuditTarget, Event, EventKind
from crm.services.audit import audit_record
from crm.services.events.derive import CASH_IN_SQL, quoted_table
from crm.services.events.inputs import (
    ENCODER,
    FUTURE_TOLERANCE,
    STANDARD_EVENT_TYPES,
    Candidate,
    EventInput,
    EventOutcome,
    IngestOutcomes,
    OutcomeStatus,
    Rejected,
    event_candidate,
)


def event_types_known() -> set[str]:
    """The standard event types plus this UDN's custom event kinds."""
    return set(STANDARD_EVENT_TYPES) | set(EventKind.objects.values_list("code", flat=True))


# --- ingest -------------------------------------------------------------------------------------


@cache  # built on first use: it names the tables, known once the apps are loaded
def _ingest_sql() -> str:
    """The whole ingest of a batch in one statement (one round trip; `events_ingest` runs it in a
    transaction, so reading its rows back may fail without leaving it committed). For each candidate, in order: resolve its affiliate (by id,
    external id or CPF; two hits on a CPF make it ambiguous), keep the first resolved occurrence of
    each event id, insert those in event-id order (concurrent batches with overlapping ids then wait
    for each other instead of deadlocking) and skip ids already stored; then move the derived fields
    of the affiliates of the inserted events forward: the stage only ever moves to a further one (an
    older event of the current stage moves stage_changed_at earlier), cash in adds up, the tier
    follows the total — the values `_refresh` would recompute from the whole timeline. The
    affiliates are locked in id order and the update builds on the values read under the lock.
    Returns one row per candidate ("o": index, affiliate, hits,
    occurrence, pk) and one per stage change ("c": affiliate, old stage, new stage, when)."""
    aff, event, stages = quoted_table(Affiliate), quoted_table(Event), lifecycle.sql_stages()
    return f"""
        WITH input AS MATERIALIZED (
            SELECT * FROM jsonb_to_recordset(%(rows)s::jsonb) AS r(
                i int, e varchar, t varchar, o timestamptz, s varchar, m numeric, p jsonb,
                k text, a bigint, v varchar)
        ),
        ranked AS MATERIALIZED (
            SELECT input.*, found.ids,
                   CASE WHEN cardinality(found.ids) = 1 THEN
                       row_number() OVER (PARTITION BY input.e, cardinality(found.ids) = 1 ORDER BY input.i)
                   END AS nth
            FROM input CROSS JOIN LATERAL (
                SELECT array_agg(f.id) AS ids FROM (
                    SELECT x.id FROM {aff} x WHERE input.k = 'i' AND x.id = input.a
                    UNION ALL
                    SELECT x.id FROM {aff} x WHERE input.k = 'x' AND x.external_id = input.v
                    UNION ALL
                    (SELECT x.id FROM {aff} x WHERE input.k = 'c' AND x.cpf = input.v LIMIT 2)
                ) f
            ) found
        ),
        inserted AS (
            INSERT INTO {event} (event_id, affiliate_id, type, occurred_at, source, amount, properties, received_at)
            SELECT e, ids[1], t, o, s, m, p, %(received_at)s FROM ranked WHERE nth = 1 ORDER BY e
            ON CONFLICT (event_id) DO NOTHING
            RETURNING id, event_id, affiliate_id, type, occurred_at, amount
        ),
        adv AS (
            SELECT ins.affiliate_id AS id, max(r.rank) AS rank,
                   (array_agg(ins.occurred_at ORDER BY r.rank DESC, ins.occurred_at))[1] AS at,
                   coalesce(sum(ins.amount) FILTER (WHERE ins.type = {CASH_IN_SQL}), 0) AS cash
            FROM inserted ins JOIN (VALUES {lifecycle.sql_stage_ranks()}) AS r(type, rank) ON r.type = ins.type
            GROUP BY ins.affiliate_id
        ),
        locked AS MATERIALIZED (
            SELECT l.*, v.rank AS new_rank, v.at AS new_at, v.cash
            FROM (SELECT * FROM adv ORDER BY id) v CROSS JOIN LATERAL (
                SELECT a.id, a.stage, a.stage_changed_at, a.total_cash_in,
                       coalesce(array_position({stages}, a.stage) - 1, 0) AS rank
                FROM {aff} a WHERE a.id = v.id FOR NO KEY UPDATE
            ) l
        ),
        computed AS (
            SELECT id, stage AS old_stage, stage_changed_at AS old_at,
                   CASE WHEN new_rank > rank THEN ({stages})[new_rank + 1] ELSE stage END AS stage,
                   CASE WHEN new_rank > rank THEN new_at
                        WHEN new_rank = rank AND (stage_changed_at IS NULL OR new_at < stage_changed_at)
                            THEN new_at
                        ELSE stage_changed_at END AS at,
                   total_cash_in + cash AS total, cash > 0 AS money
            FROM locked
        ),
        updated AS (
            UPDATE {aff} a
            SET stage = c.stage, stage_changed_at = c.at, total_cash_in = c.total,
                tier = CASE WHEN c.money THEN {lifecycle.sql_tier("c.total")} ELSE a.tier END, updated_at = now()
            FROM computed c
            WHERE a.id = c.id AND (c.money OR c.stage <> c.old_stage OR c.at IS DISTINCT FROM c.old_at)
            RETURNING a.id, c.old_stage, a.stage, a.stage_changed_at
        )
        SELECT 'o', r.i, r.ids[1], cardinality(r.ids), r.nth, ins.id, NULL, NULL, NULL::timestamptz
        FROM ranked r LEFT JOIN inserted ins ON r.nth = 1 AND ins.event_id = r.e
        UNION ALL
        SELECT 'c', NULL, u.id, NULL, NULL, NULL, u.old_stage, u.stage, u.stage_changed_at
        FROM updated u WHERE u.stage <> u.old_stage
    """  # noqa: S608


_REF_KINDS = {"affiliate_id": "i", "external_id": "x", "cpf": "c"}


def _ingest_run(candidates: list[Candidate], *, received_at: datetime) -> list[tuple[Any, ...]]:
    """Run `_ingest_sql` for the candidates, as a prepared statement: a single event would otherwise
    spend more on planning the statement (about a millisecond) than on running it. PostgreSQL plans
    it again by itself when the connection's search_path (the UDN) changes."""
    document = ENCODER.encode(
        [
            {
                "i": n,
                "e": c.event_id,
                "t": c.type,
                "o": c.occurred_at,
                "s": c.source,
                "m": c.amount,
                "p": c.properties,
                "k": _REF_KINDS[c.ref_kind],
                "a": c.ref if c.ref_kind == "affiliate_id" else None,
                "v": None if c.ref_kind == "affiliate_id" else c.ref,
            }
            for n, c in enumerate(candidates)
        ]
    )
    params = {"rows": document.decode(), "received_at": received_at}
    # Django's cursor sets the UDN's search_path; the statement then goes through a psycopg cursor
    # of the same connection (same transaction), binding on the server, which is what prepares.
    with (
        connection.cursor() as django_cursor,
        connection.wrap_database_errors,
        psycopg.Cursor(django_cursor.cursor.connection) as cursor,
    ):
        cursor.execute(_ingest_sql(), params, prepare=True)
        return cursor.fetchall()


# No savepoint: inside a caller's transaction a failure here is the caller's failure too.
@transaction.atomic(savepoint=False)
def events_ingest(*, items: Sequence[EventInput], source: str) -> IngestOutcomes:
    """Store a batch of events; one outcome per item, in input order (see the module doc).

    `source` is the default for items without their own (e.g. the API client's name). Unknown
    types are rejected unless registered as an EventKind. Accepted events move the derived
    fields of their affiliates; stage changes are on the result and go to the listeners (after
    the commit: its own transaction's, or the caller's)."""
    if not items:
        return IngestOutcomes()
    now = timezone.now()
    latest = now + FUTURE_TOLERANCE
    # The UDN's custom kinds are read only when a batch has a type that is not a standard one.
    standard = all(isinstance(item.type, str) and item.type in STANDARD_EVENT_TYPES for item in items)
    known = STANDARD_EVENT_TYPES if standard else event_types_known()
    outcomes: list[EventOutcome | None] = [None] * len(items)
    candidates: list[Candidate] = []
    for index, item in enumerate(items):
        try:
            candidates.append(event_candidate(index, item, known=known, default_source=source, latest=latest))
        except Rejected as rejected:
            outcomes[index] = EventOutcome(
                event_id=item.event_id if isinstance(item.event_id, str) else "",
                status="rejected",
                code=rejected.code,
                message=rejected.message,
                field=rejected.field,
            )

    accepted: list[AcceptedEvent] = []
    stage_changes: list[StageChange] = []
    for kind, n, affiliate_id, hits, nth, pk, old_stage, new_stage, changed_at in (
        _ingest_run(candidates, received_at=now) if candidates else ()
    ):
        if kind == "c":
            stage_changes.append(
                StageChange(
                    affiliate_id=affiliate_id, old_stage=old_stage, new_stage=new_stage, changed_at=changed_at
                )
            )
            continue
        cand = candidates[n]
        outcomes[cand.index] = _outcome(cand, affiliate_id=affiliate_id, hits=hits, nth=nth, pk=pk)
        if pk is not None:
            accepted.append(
                AcceptedEvent(
                    pk=pk,
                    event_id=cand.event_id,
                    affiliate_id=affiliate_id,
                    type=cand.type,
                    occurred_at=cand.occurred_at,
                    amount=cand.amount,
                )
            )

    stage_changes.sort(key=lambda change: change.affiliate_id)
    if stage_changes:
        hooks.stage_changed.send(stage_changes)
    if accepted:
        hooks.events_stored.send(accepted)
    done = [outcome for outcome in outcomes if outcome is not None]
    assert len(done) == len(items), "every item gets an outcome"
    result = IngestOutcomes(done, stage_changes)
    # One entry for the request's batch (its counts), never one per event.
    affiliates = {event.affiliate_id for event in accepted}
    audit_record(
        action=AuditAction.EVENTS_INGESTED,
        target_type=AuditTarget.AFFILIATE,
        target_id=next(iter(affiliates)) if len(affiliates) == 1 else "",
        changes={
            **result.tally(),
            "affiliates": len(affiliates),
            "stage_changes": len(stage_changes),
            "types": sorted({event.type for event in accepted}),
            "source": source,
        },
    )
    return result


def _outcome(
    cand: Candidate, *, affiliate_id: int | None, hits: int | None, nth: int | None, pk: int | None
) -> EventOutcome:
    """What became of a candidate, from its row of `_ingest_sql`."""
    status: OutcomeStatus
    if hits == 1 and nth == 1 and pk is not None:
        return EventOutcome(
            event_id=cand.event_id,
            status="accepted",
            pk=pk,
            affiliate_id=affiliate_id,
            warnings=cand.warnings,
        )
    if not hits:
        status, code, field = "rejected", "affiliate_not_found", cand.ref_kind
        message = _("No affiliate with this %(field)s.") % {"field": cand.ref_kind}
    elif hits > 1:
        status, code, field = "rejected", "affiliate_ambiguous", cand.ref_kind
        message = _("Several affiliates have this CPF; use the affiliate id or external id.")
    elif nth != 1:
        status, code, field = "duplicate", "duplicate_in_batch", "event_id"
        message = _("This event id appears earlier in the batch.")
    else:
        status, code, field = "duplicate", "duplicate", "event_id"
        message = _("This event was already recorded.")
    return EventOutcome(
        event_id=cand.event_id,
        status=status,
        code=code,
        message=message,
        field=field,
        affiliate_id=affiliate_id if status == "duplicate" else None,
    )


def event_record(*, item: EventInput, source: str) -> EventOutcome:
    """Store one event (events_ingest of one)."""
    return events_ingest(items=[item], source=source)[0]
