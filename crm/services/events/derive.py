"""What events derive on the affiliate: the lifecycle stage (and when it changed), the cash-in
total and the deposit tier, recomputed in SQL from the timeline. The statements are built from
crm.lifecycle's SQL fragments (STAGE_RULES, CASH_IN_TYPE, the tiers)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction

from crm import hooks, lifecycle
from crm.hooks import StageChange
from crm.models import Affiliate, Event


@dataclass(frozen=True, slots=True)
class RefreshResult:
    changed: int
    stage_changes: list[StageChange]

    def __int__(self) -> int:
        return self.changed


def quoted_table(model: type[Any]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


# --- derived fields -----------------------------------------------------------------------------


# Quoted for the statements below (the other fragments: lifecycle.sql_*).
CASH_IN_SQL = f"'{lifecycle.CASH_IN_TYPE}'"


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
            WHERE type = {CASH_IN_SQL} GROUP BY affiliate_id
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
                       sum(e.amount) FILTER (WHERE e.type = {CASH_IN_SQL}) AS total
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
    aff, event = quoted_table(Affiliate), quoted_table(Event)
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
    aff = quoted_table(Affiliate)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {aff} a SET tier = t.tier, updated_at = now()
            FROM (SELECT id, {lifecycle.sql_tier("total_cash_in")} AS tier FROM {aff}) t
            WHERE a.id = t.id AND a.tier <> t.tier
            """  # noqa: S608
        )
        return cursor.rowcount
