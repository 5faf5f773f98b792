"""The event timeline: idempotent ingest (by event id) and what events derive on the
affiliate — the lifecycle stage and the deposit tier. Runs inside a UDN's schema.

Ingest is built for volume (API batches of 1,000, and single events at hundreds a
second): items are validated in plain Python, then one prepared statement resolves their
affiliates, inserts them (`ON CONFLICT DO NOTHING`) and moves the derived fields of
those affiliates forward from the new events alone — one round trip, in a transaction
(the caller's, or its own), so a failure reading the result back commits nothing either.
A bad item never rejects the good ones; a repeated event id
(already stored, or twice in the batch) is a duplicate, not an error.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any, Literal

import msgspec
import psycopg
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm import hooks, lifecycle
from crm.hooks import AcceptedEvent, StageChange
from crm.models import (
    Affiliate,
    AuditAction,
    AuditTarget,
    Event,
    EventKind,
    EventType,
)
from crm.normalize import MOMENT_MIN, moment_in_range
from crm.services.audit import audit_record

# --- the rules ----------------------------------------------------------------------------------

# The stage and tier derivation is specified in crm.lifecycle (STAGE_RULES, CASH_IN_TYPE, the
# tiers); the statements below are built from its SQL fragments.
MONEY_EVENT_TYPES = frozenset({EventType.CASH_IN.value, EventType.CASHBACK.value, EventType.CASHOUT.value})
# Expected, not required: an event without them is kept, and the outcome carries a warning.
EXPECTED_PROPERTIES: dict[str, str] = {
    EventType.CONSULTATION_SCHEDULED: "specialty",
    EventType.SUPPORT_TICKET_CLOSED: "reason",
}
STANDARD_EVENT_TYPES = frozenset(EventType.values)

CENT = Decimal("0.01")
AMOUNT_MAX = Decimal("999999999999.99")  # Event.amount: max_digits=14, decimal_places=2
# Partner clocks drift a little; an event further in the future than this is a bug upstream
# and would put a stage change on the timeline before it happened.
FUTURE_TOLERANCE = timedelta(hours=1)
EVENT_ID_MAX = Event._meta.get_field("event_id").max_length or 100
SOURCE_MAX = Event._meta.get_field("source").max_length or 40
EXTERNAL_ID_MAX = Affiliate._meta.get_field("external_id").max_length or 64
AFFILIATE_ID_MAX = 2**63 - 1  # Affiliate.id is a bigint


# --- inputs and outcomes ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EventInput:
    """One event as a caller hands it in. Give one affiliate reference: `affiliate_id`,
    `external_id` or `cpf` (if several are given, the first in that order is used)."""

    event_id: str
    type: str
    occurred_at: datetime
    affiliate_id: int | None = None
    external_id: str | None = None
    cpf: str | None = None
    source: str = ""
    properties: dict[str, Any] = field(default_factory=dict)


OutcomeStatus = Literal["accepted", "duplicate", "rejected"]


@dataclass(frozen=True, slots=True)
class EventOutcome:
    """What happened to one input item. `code` is stable (for machines), `message` is for people,
    `field` is the path of the offending value (e.g. "properties.amount"). `warnings` lists the
    paths of expected-but-missing properties of an accepted event."""

    event_id: str
    status: OutcomeStatus
    code: str = ""
    message: str = ""
    field: str = ""
    pk: int | None = None
    affiliate_id: int | None = None
    warnings: tuple[str, ...] = ()

    @property
    def accepted(self) -> bool:
        return self.status == "accepted"


class IngestOutcomes(list[EventOutcome]):
    """The per-item outcomes of `events_ingest`, in input order, plus the stage changes the
    ingest caused (for webhooks and journeys)."""

    stage_changes: list[StageChange]

    def __init__(self, outcomes: Iterable[EventOutcome] = (), stage_changes: list[StageChange] | None = None):
        super().__init__(outcomes)
        self.stage_changes = stage_changes or []

    def tally(self) -> dict[str, int]:
        """How many items were accepted, duplicate, rejected."""
        counts = {"accepted": 0, "duplicate": 0, "rejected": 0}
        for outcome in self:
            counts[outcome.status] += 1
        return counts


@dataclass(frozen=True, slots=True)
class RefreshResult:
    changed: int
    stage_changes: list[StageChange]

    def __int__(self) -> int:
        return self.changed


# --- validation ---------------------------------------------------------------------------------


class _Rejected(Exception):
    def __init__(self, code: str, message: str, field: str) -> None:
        super().__init__(code)
        self.code, self.message, self.field = code, message, field


def _parse_amount(raw: object) -> Decimal:
    """A positive money amount with at most two decimal places, from a JSON number or string
    ("19.90"; "19,90" is read as a decimal comma)."""
    path = "properties.amount"
    if raw is None or raw == "":
        raise _Rejected("amount_required", _("This event type needs an amount."), path)
    if isinstance(raw, bool):
        raise _Rejected("amount_invalid", _("The amount must be a number."), path)
    try:
        if isinstance(raw, Decimal):
            value = raw
        elif isinstance(raw, int):
            value = Decimal(raw)
        elif isinstance(raw, float):
            if not math.isfinite(raw):
                raise InvalidOperation
            value = Decimal(repr(raw))
        elif isinstance(raw, str):
            text = raw.strip()
            if "," in text and "." not in text:
                text = text.replace(",", ".")
            value = Decimal(text)
        else:
            raise InvalidOperation
    except (InvalidOperation, ValueError):
        raise _Rejected("amount_invalid", _("The amount must be a number."), path) from None
    if not value.is_finite():
        raise _Rejected("amount_invalid", _("The amount must be a number."), path)
    if value <= 0:
        raise _Rejected("amount_not_positive", _("The amount must be greater than zero."), path)
    if value > AMOUNT_MAX:
        raise _Rejected("amount_too_large", _("The amount is too large."), path)
    quantized = value.quantize(CENT)
    if quantized != value:
        raise _Rejected("amount_precision", _("The amount has more than two decimal places."), path)
    return quantized


_NOT_DIGITS = re.compile(r"\D")


def _digits(value: str) -> str:
    return _NOT_DIGITS.sub("", value)


@dataclass(slots=True)
class _Candidate:
    index: int
    event_id: str
    type: str
    occurred_at: datetime
    source: str
    amount: Decimal | None
    properties: msgspec.Raw  # encoded JSON
    ref_kind: str  # "affiliate_id" | "external_id" | "cpf"
    ref: Any
    warnings: tuple[str, ...]


def _json_default(value: Any) -> Any:
    """Values msgspec does not encode natively (lazy strings...), as Django would write them."""
    return DjangoJSONEncoder().default(value)


# One encoder for the batch (msgspec: a batch is 1,000 properties objects and one document of
# rows); decimals as JSON numbers, which PostgreSQL reads into numeric columns exactly.
_ENCODER = msgspec.json.Encoder(enc_hook=_json_default, decimal_format="number")


def _candidate(
    index: int, item: EventInput, *, known: AbstractSet[str], default_source: str, latest: datetime
) -> _Candidate:
    event_id = item.event_id
    if not isinstance(event_id, str) or not event_id.strip():
        raise _Rejected("event_id_required", _("Give the event an id."), "event_id")
    if len(event_id) > EVENT_ID_MAX:
        raise _Rejected(
            "event_id_invalid",
            _("The event id is longer than %(n)s characters.") % {"n": EVENT_ID_MAX},
            "event_id",
        )
    if "\x00" in event_id:
        raise _Rejected("event_id_invalid", _("Text must not contain NUL characters."), "event_id")
    kind = item.type
    if not isinstance(kind, str) or kind not in known:
        raise _Rejected(
            "unknown_type",
            _("Unknown event type “%(type)s”: register it as a custom event kind first.") % {"type": kind},
            "type",
        )
    occurred_at = item.occurred_at
    if not isinstance(occurred_at, datetime) or timezone.is_naive(occurred_at):
        raise _Rejected("occurred_at_invalid", _("Give when it happened, with a time zone."), "occurred_at")
    if occurred_at > latest:
        raise _Rejected("occurred_at_future", _("The event happens in the future."), "occurred_at")
    if not moment_in_range(occurred_at, latest=latest):
        raise _Rejected(
            "occurred_at_too_old",
            _("The event happens before %(date)s.") % {"date": f"{MOMENT_MIN:%d/%m/%Y}"},
            "occurred_at",
        )
    source = item.source or default_source
    if not isinstance(source, str) or len(source) > SOURCE_MAX:
        raise _Rejected(
            "source_invalid", _("The source is longer than %(n)s characters.") % {"n": SOURCE_MAX}, "source"
        )
    if "\x00" in source:
        raise _Rejected("source_invalid", _("Text must not contain NUL characters."), "source")
    properties = item.properties if item.properties is not None else {}
    if not isinstance(properties, dict):
        raise _Rejected("properties_invalid", _("Properties must be an object."), "properties")
    try:
        properties_json = _ENCODER.encode(properties)
    except (TypeError, ValueError, msgspec.EncodeError):
        raise _Rejected("properties_invalid", _("Properties must be plain JSON."), "properties") from None
    if b"\\u0000" in properties_json:  # PostgreSQL's jsonb cannot hold NUL
        raise _Rejected("properties_invalid", _("Properties must not contain NUL characters."), "properties")
    amount = _parse_amount(properties.get("amount")) if kind in MONEY_EVENT_TYPES else None
    expected = EXPECTED_PROPERTIES.get(kind)
    warnings = (f"properties.{expected}",) if expected and properties.get(expected) in (None, "") else ()

    ref: Any
    if item.affiliate_id is not None:
        ref_kind, ref = "affiliate_id", item.affiliate_id
        if isinstance(ref, bool) or not isinstance(ref, int) or not 0 < ref <= AFFILIATE_ID_MAX:
            raise _Rejected(
                "affiliate_id_invalid", _("The affiliate id must be a positive integer."), ref_kind
            )
    elif item.external_id:
        ref_kind, ref = "external_id", item.external_id
        if not isinstance(ref, str) or len(ref) > EXTERNAL_ID_MAX or "\x00" in ref:
            raise _Rejected("external_id_invalid", _("The external id is not valid."), ref_kind)
    elif item.cpf:
        ref_kind, ref = "cpf", _digits(str(item.cpf))
        if len(ref) != 11:
            raise _Rejected("cpf_invalid", _("A CPF has 11 digits."), ref_kind)
    else:
        raise _Rejected(
            "affiliate_required", _("Say whose event it is: affiliate id, external id or CPF."), "affiliate"
        )
    return _Candidate(
        index=index,
        event_id=event_id,
        type=kind,
        occurred_at=occurred_at,
        source=source,
        amount=amount,
        properties=msgspec.Raw(properties_json),
        ref_kind=ref_kind,
        ref=ref,
        warnings=warnings,
    )


# --- queries ------------------------------------------------------------------------------------


def _table(model: type[Any]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def event_types_known() -> set[str]:
    """The standard event types plus this UDN's custom event kinds."""
    return set(STANDARD_EVENT_TYPES) | set(EventKind.objects.values_list("code", flat=True))


# --- derived fields -----------------------------------------------------------------------------


# Quoted for the statements below (the other fragments: lifecycle.sql_*).
_CASH_IN = f"'{lifecycle.CASH_IN_TYPE}'"


def _derived_all_sql(aff: str, event: str) -> str:
    """Derived values of every affiliate: one pass over all events, grouped (hash aggregates)."""
    return f"""
        target AS (SELECT id, stage FROM {aff}),
        hits AS (
            SELECT e.affiliate_id, r.rank, min(e.occurred_at) AS first_at
            FROM {event} e JOIN (VALUES {lifecycle.sql_stage_ranks()}) AS r(type, rank) ON r.type = e.type
            GROUP BY e.affiliate_id, r.rank
        ),
        best AS (
            SELECT DISTINCT ON (affiliate_id) affiliate_id, rank, first_at
            FROM hits ORDER BY affiliate_id, rank DESC
        ),
        cash AS (
            SELECT affiliate_id, sum(amount) AS total FROM {event}
            WHERE type = {_CASH_IN} GROUP BY affiliate_id
        ),
        derived AS (
            SELECT t.id, t.stage AS old_stage, b.rank, b.first_at, c.total
            FROM target t
            LEFT JOIN best b ON b.affiliate_id = t.id
            LEFT JOIN cash c ON c.affiliate_id = t.id
        )
    """  # noqa: S608


def _derived_some_sql(aff: str, event: str) -> str:
    """Derived values of the affiliates in %s: per affiliate, through the (affiliate, time) index,
    so the cost follows the batch, not the size of the timeline."""
    return f"""
        derived AS (
            SELECT t.id, t.stage AS old_stage, d.rank, d.first_at, d.total
            FROM {aff} t
            LEFT JOIN LATERAL (
                SELECT max(r.rank) AS rank,
                       (array_agg(e.occurred_at ORDER BY r.rank DESC, e.occurred_at)
                            FILTER (WHERE r.rank IS NOT NULL))[1] AS first_at,
                       sum(e.amount) FILTER (WHERE e.type = {_CASH_IN}) AS total
                FROM {event} e LEFT JOIN (VALUES {lifecycle.sql_stage_ranks()}) AS r(type, rank) ON r.type = e.type
                WHERE e.affiliate_id = t.id
            ) d ON TRUE
            WHERE t.id = ANY(%s)
        )
    """  # noqa: S608


def _refresh(affiliate_ids: Sequence[int] | None) -> RefreshResult:
    """Recompute stage, stage_changed_at, total_cash_in and tier from the events, in SQL.

    Concurrency: for a given set, the affiliates are locked first (in id order, FOR NO KEY
    UPDATE, which does not conflict with the key-share locks inserting their events took),
    then recomputed in a second statement, whose fresh snapshot sees every event committed
    by whoever held the locks before us. A full refresh instead blocks new events while it runs.
    """
    aff, event = _table(Affiliate), _table(Event)
    params: list[Any] = []
    with connection.cursor() as cursor:
        if affiliate_ids is None:
            cursor.execute(f"LOCK TABLE {event} IN SHARE MODE")
            derived = _derived_all_sql(aff, event)
        else:
            ids = sorted(set(affiliate_ids))
            if not ids:
                return RefreshResult(changed=0, stage_changes=[])
            cursor.execute(
                f"SELECT id FROM {aff} WHERE id = ANY(%s) ORDER BY id FOR NO KEY UPDATE",  # noqa: S608
                [ids],
            )
            derived, params = _derived_some_sql(aff, event), [ids]
        cursor.execute(
            f"""
            WITH {derived},
            computed AS (
                SELECT id, old_stage,
                       ({lifecycle.sql_stages()})[coalesce(rank, 0) + 1] AS stage,
                       first_at AS stage_changed_at,
                       coalesce(total, 0)::numeric(14, 2) AS total
                FROM derived
            ),
            tiered AS (
                SELECT computed.*, {lifecycle.sql_tier("computed.total")} AS tier FROM computed
            )
            UPDATE {aff} a
            SET stage = t.stage, stage_changed_at = t.stage_changed_at, total_cash_in = t.total,
                tier = t.tier, updated_at = now()
            FROM tiered t
            WHERE a.id = t.id
              AND (a.stage, a.stage_changed_at, a.total_cash_in, a.tier)
                  IS DISTINCT FROM (t.stage, t.stage_changed_at, t.total, t.tier)
            RETURNING a.id, t.old_stage, a.stage, a.stage_changed_at
            """,  # noqa: S608
            params,
        )
        rows = cursor.fetchall()
    changes = [
        StageChange(affiliate_id=pk, old_stage=old, new_stage=new, changed_at=at)
        for pk, old, new, at in rows
        if old != new
    ]
    changes.sort(key=lambda change: change.affiliate_id)
    return RefreshResult(changed=len(rows), stage_changes=changes)


@transaction.atomic
def affiliates_refresh_derived(
    *, affiliate_ids: Sequence[int] | None = None, notify: bool = True
) -> RefreshResult:
    """Recompute the derived fields (stage, stage_changed_at, total_cash_in, tier) of the given
    affiliates (None: all of them) from their events. Returns the number of rows changed and
    the stage changes; with `notify`, stage-change listeners hear of them on commit."""
    result = _refresh(affiliate_ids)
    if notify and result.stage_changes:
        hooks.stage_changed.send(result.stage_changes)
    return result


@transaction.atomic
def tiers_recompute() -> int:
    """Re-band every affiliate after the deposit tiers changed; returns rows changed."""
    aff = _table(Affiliate)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {aff} a SET tier = t.tier, updated_at = now()
            FROM (SELECT id, {lifecycle.sql_tier("total_cash_in")} AS tier FROM {aff}) t
            WHERE a.id = t.id AND a.tier <> t.tier
            """  # noqa: S608
        )
        return cursor.rowcount


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
    aff, event, stages = _table(Affiliate), _table(Event), lifecycle.sql_stages()
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
                   coalesce(sum(ins.amount) FILTER (WHERE ins.type = {_CASH_IN}), 0) AS cash
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


def _ingest_run(candidates: list[_Candidate], *, received_at: datetime) -> list[tuple[Any, ...]]:
    """Run `_ingest_sql` for the candidates, as a prepared statement: a single event would otherwise
    spend more on planning the statement (about a millisecond) than on running it. PostgreSQL plans
    it again by itself when the connection's search_path (the UDN) changes."""
    document = _ENCODER.encode(
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
    candidates: list[_Candidate] = []
    for index, item in enumerate(items):
        try:
            candidates.append(_candidate(index, item, known=known, default_source=source, latest=latest))
        except _Rejected as rejected:
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
    cand: _Candidate, *, affiliate_id: int | None, hits: int | None, nth: int | None, pk: int | None
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
