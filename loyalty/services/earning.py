"""Earning: events become ledger rows through the live rules, set-based and idempotently (the
ledger's unique (event, rule) among earns: a replayed event never earns twice), and reversal
events (`<kind>_refunded` / `<kind>_reversed` naming `original_event_id` in their properties)
undo what the original event earned, once.

crm.hooks.events_stored → on_events_stored → the `loyalty.earn` task on the default queue,
after the commit that stored the events."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction

from crm.hooks import AcceptedEvent
from crm.models import Event
from loyalty.models import LedgerEntry, Mission, Programme, RuleSet, RuleSetStatus
from loyalty.rules_sql import Compiled, RuleSpec, earn_sql, rule_spec, segment_members_where

EARN_TASK = "loyalty.earn"
REVERSAL_SUFFIXES = ("_refunded", "_reversed")
REVERSAL_PROPERTY = "original_event_id"
# Earning runs one at a time in a UDN (a transaction-scoped advisory lock): limits count what
# the ledger holds, and two batches of the same affiliate must not both see room for one more.
EARN_LOCK = 0x4C59_0001


def udn_time_zone() -> str:
    tenant: Any = getattr(connection, "tenant", None)
    return getattr(tenant, "time_zone", None) or "America/Sao_Paulo"


def programme_get() -> Programme | None:
    return Programme.objects.first()


def live_rules() -> list[RuleSpec]:
    live = RuleSet.objects.filter(status=RuleSetStatus.LIVE).first()
    if live is None:
        return []
    return [rule_spec(rule) for rule in live.rules.all()]


@dataclass(frozen=True)
class EarnResult:
    entries: int
    points: int
    reversed: int


def on_events_stored(events: list[AcceptedEvent]) -> None:
    """crm.hooks listener: queue the batch's earning (already after the commit)."""
    from loyalty.tasks import earn_task

    earn_task.delay([event.pk for event in events])


def _id_filter(event_pks: Sequence[int]) -> Compiled:
    return Compiled("e.id = ANY(%s::bigint[])", [list(event_pks)])


@transaction.atomic
def events_earn(*, event_pks: Sequence[int] | None = None, where: Compiled | None = None) -> EarnResult:
    """Apply the live rules to these events (by pk, or a crm_event filter on alias `e`), insert
    what they earn, reverse what reversal events undo, advance missions. Idempotent."""
    programme = programme_get()
    if programme is None:
        return EarnResult(0, 0, 0)
    events_where = where if where is not None else _id_filter(event_pks or [])
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [EARN_LOCK])
    entries = points = 0
    rules = live_rules()
    if rules:
        compiled = earn_sql(
            rules=rules,
            events_where=events_where,
            tz=udn_time_zone(),
            ledger="live",
            ledger_table=LedgerEntry._meta.db_table,
            segments=_segments(rules=rules, event_pks=event_pks),
        )
        sql = (
            compiled.sql
            + f"""
            , ins AS (
                INSERT INTO {LedgerEntry._meta.db_table}
                    (affiliate_id, kind, points, event_id, rule_id, occurred_at, expires_at, reason, created_by, created_at)
                SELECT affiliate_id, 'earn', points, event_id, rule_id, occurred_at,
                       occurred_at + make_interval(months => %s), '', '', now()
                FROM final
                ON CONFLICT (event_id, rule_id) WHERE kind = 'earn' DO NOTHING
                RETURNING points)
            SELECT count(*), coalesce(sum(points), 0) FROM ins"""
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [*compiled.params, programme.expiry_months])
            entries, points = cursor.fetchone()
    reversed_count = _reverse(events_where=events_where)
    if event_pks is not None:
        from loyalty.services.missions import missions_advance

        if Mission.objects.filter(active=True).exists():
            missions_advance(event_pks=list(event_pks))
    return EarnResult(int(entries), int(points), reversed_count)


def _segments(*, rules: list[RuleSpec], event_pks: Sequence[int] | None) -> dict[int, Compiled | None] | None:
    """The rules' segments as of now, compiled for the batch's affiliates only (a condition's
    grouped pass over the events then reads theirs, not the UDN's); earn_sql builds each one's
    members once in the statement. None: no rule names a segment (or a filter, not a batch)."""
    segment_ids = {rule.segment_id for rule in rules if rule.segment_id}
    if not segment_ids or event_pks is None:
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT DISTINCT affiliate_id FROM {Event._meta.db_table} WHERE id = ANY(%s::bigint[])",
            [list(event_pks)],
        )
        affiliate_ids = [row[0] for row in cursor.fetchall()]
    return segment_members_where(segment_ids=segment_ids, only_ids=affiliate_ids)


def _reverse(*, events_where: Compiled) -> int:
    """One negative `reverse` row per earn of each original event a reversal event names (an
    earn is reversed once: the ledger's unique `reverses`)."""
    table = LedgerEntry._meta.db_table
    suffix_like = [f"%{suffix}" for suffix in REVERSAL_SUFFIXES]
    sql = f"""
        INSERT INTO {table} (affiliate_id, kind, points, event_id, rule_id, reverses_id, occurred_at, reason, created_by, created_at)
        SELECT l.affiliate_id, 'reverse', -l.points, e.id, l.rule_id, l.id, e.occurred_at, '', '', now()
        FROM crm_event e
        JOIN crm_event o ON o.event_id = e.properties ->> %s AND o.affiliate_id = e.affiliate_id
        JOIN {table} l ON l.event_id = o.id AND l.kind IN ('earn', 'bonus')
        WHERE e.type LIKE ANY(%s::text[]) AND e.properties ? %s AND ({events_where.sql})
        ON CONFLICT (reverses_id) DO NOTHING"""
    with connection.cursor() as cursor:
        cursor.execute(sql, [REVERSAL_PROPERTY, suffix_like, REVERSAL_PROPERTY, *events_where.params])
        return cursor.rowcount
