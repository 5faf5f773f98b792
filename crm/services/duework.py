"""Due work: rows that say when they are next due, taken by any number of workers at once, retried
on a backoff schedule and dead after the last attempt. Webhook deliveries use it; the message
outbox and journey enrollments are meant to. Never Celery countdowns or ETAs (beyond Redis'
visibility timeout they run twice): the row is the schedule, a periodic task the clock.

A worker's loop, for a table described by a `DueSpec`:

    ids = due_claim(spec=SPEC, now=timezone.now())      # short transaction, committed at once
    for row in Model.objects.filter(pk__in=ids):         # the slow part (HTTP, SMTP), no transaction
        ok = do_the_work(row)
        if ok:
            due_succeeded(spec=SPEC, ids=[row.pk], values={...})
        else:
            due_failed(spec=SPEC, ids=[row.pk], now=timezone.now(), values={...})

`due_claim` is one statement: UPDATE ... WHERE id IN (SELECT ... WHERE status = pending AND due <=
now ORDER BY due, id LIMIT n FOR UPDATE SKIP LOCKED) RETURNING id. It counts the attempt and moves
the row's due time out by the spec's lease, then commits. So:
- two workers never take the same row: the second one skips rows the first holds locked (it does
  not wait for them), and once the first commits those rows are no longer due;
- the lease lives in the due column itself (no lease column): a claimed row is simply due again
  when the lease ends, so if the worker died (killed, out of memory) the row comes back to
  whoever claims next, with no sweeper, and the one partial index on (due) WHERE status = pending
  serves both. The lease must outlast a whole batch of work (e.g. batch size x timeout);
- the attempt is counted at claim time, so an attempt that kills its worker still counts.

`due_succeeded` and `due_failed` record outcomes for a set of ids in one statement each. A
success leaves the pending status (due NULL), or with `again_at` stays pending and due then, its
attempts starting over (a journey enrollment moving on to its next step). A failure makes the row
due again after `spec.backoff[attempts - 1]`; after `len(spec.backoff) + 1` attempts it is dead
(due NULL). `values` sets other columns of the same rows (the last response, when delivered).
Record each outcome as soon as it is known when redoing the work is costly (a webhook POST): a
worker that dies midway then does not repeat finished ones; group ids by outcome when the work is
done in bulk (a provider's batch send answering per message).

Times come from the caller (`now`, the app's clock, which tests drive with time-machine), never
from the database's now().

Plugging in a table (the outbox, enrollments): give the model
- a status CharField with a pending value, a success value and a dead value;
- a nullable DateTimeField for the due time, NULL whenever the row is not pending, with a check
  constraint (status <> pending OR due IS NOT NULL) and a partial index on (due) WHERE status =
  pending (see WebhookDelivery);
- a PositiveSmallIntegerField for the attempts, default 0;
then declare a module-level `DueSpec` beside its service (webhooks: `DELIVERIES` in
crm/services/webhooks.py) with a named batch size and a lease that outlasts a batch, and call the
three functions from its sender task. Everything runs in the current (UDN) schema.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, models, transaction


@dataclass(frozen=True, kw_only=True)
class DueSpec:
    """How one table holds due work. Names are the model's field names."""

    model: type[models.Model]
    status: str
    due: str
    attempts: str
    # Status values: waiting or being worked on, done, given up.
    pending: str
    succeeded: str
    dead: str
    # The waits after each failed attempt; after the last one the row is dead.
    backoff: tuple[timedelta, ...]
    # Rows a claim takes at most, and how long they stay hidden from other workers: the lease
    # must cover the slowest batch, or a live worker's rows are claimed again before it is done.
    batch: int
    lease: timedelta
    # A field whose higher values are claimed first among the due rows (a message's priority),
    # before the due time; None: oldest due first.
    rank: str | None = None

    @property
    def max_attempts(self) -> int:
        return len(self.backoff) + 1


def _table(spec: DueSpec) -> str:
    return connection.ops.quote_name(spec.model._meta.db_table)


def _quoted_column(spec: DueSpec, field: Any) -> str:
    column = getattr(field, "column", None)
    if not isinstance(column, str):  # a reverse relation or a many-to-many: no column here
        raise ValueError(f"{spec.model.__name__}.{getattr(field, 'name', field)} is not a column")
    return connection.ops.quote_name(column)


def _column(spec: DueSpec, name: str) -> str:
    return _quoted_column(spec, spec.model._meta.get_field(name))


def _pk(spec: DueSpec) -> str:
    return _quoted_column(spec, spec.model._meta.pk)


def _set_values(spec: DueSpec, values: Mapping[str, Any] | None) -> tuple[str, dict[str, Any]]:
    """`, col = %(v0)s, ...` for the other columns an outcome sets, and their parameters (adapted
    by each field, as save() would)."""
    sql, params = "", {}
    for n, (name, value) in enumerate((values or {}).items()):
        field = spec.model._meta.get_field(name)
        sql += f", {_quoted_column(spec, field)} = %(v{n})s"
        params[f"v{n}"] = field.get_db_prep_save(value, connection)  # type: ignore[union-attr]
    return sql, params


def due_claim(*, spec: DueSpec, now: datetime, limit: int | None = None) -> list[int]:
    """Take up to `limit` (default `spec.batch`) due rows, oldest due first (highest `spec.rank`
    first, when the spec has one): lock them (skipping
    rows another worker holds), count the attempt and hide them for `spec.lease`, in one short
    transaction. Returns their ids, in id order."""
    table, pk = _table(spec), _pk(spec)
    status, due, attempts = _column(spec, spec.status), _column(spec, spec.due), _column(spec, spec.attempts)
    order = f"{due}, {pk}" if spec.rank is None else f"{_column(spec, spec.rank)} DESC, {due}, {pk}"
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {table} d
            SET {attempts} = d.{attempts} + 1, {due} = %(lease_until)s
            WHERE d.{pk} IN (
                SELECT {pk} FROM {table}
                WHERE {status} = %(pending)s AND {due} <= %(now)s
                ORDER BY {order}
                LIMIT %(limit)s
                FOR UPDATE SKIP LOCKED
            )
            RETURNING d.{pk}
            """,  # noqa: S608 - names come from the model's meta, values are parameters
            {
                "lease_until": now + spec.lease,
                "pending": spec.pending,
                "now": now,
                "limit": spec.batch if limit is None else limit,
            },
        )
        return sorted(row_id for (row_id,) in cursor.fetchall())


def due_take(*, spec: DueSpec, now: datetime, limit: int | None = None) -> list[int]:
    """For work done entirely in the database inside the caller's transaction (journey
    enrollments: a few statements move a batch): lock up to `limit` due rows, skipping rows
    another worker holds, and return their ids in id order. No lease and no attempt counted: the
    rows stay locked until the caller commits (the work is then recorded in the same commit) or
    rolls back (nothing happened; they are due again at once). A caller whose batch fails records
    it with `due_failed` in a new transaction, so a batch that always fails backs off and dies."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("due_take runs inside the transaction that does the work")
    table, pk = _table(spec), _pk(spec)
    status, due = _column(spec, spec.status), _column(spec, spec.due)
    order = f"{due}, {pk}" if spec.rank is None else f"{_column(spec, spec.rank)} DESC, {due}, {pk}"
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT {pk} FROM {table}
            WHERE {status} = %(pending)s AND {due} <= %(now)s
            ORDER BY {order}
            LIMIT %(limit)s
            FOR UPDATE SKIP LOCKED
            """,  # noqa: S608 - names come from the model's meta, values are parameters
            {"pending": spec.pending, "now": now, "limit": spec.batch if limit is None else limit},
        )
        return sorted(row_id for (row_id,) in cursor.fetchall())


def due_succeeded(
    *,
    spec: DueSpec,
    ids: Sequence[int],
    again_at: datetime | None = None,
    values: Mapping[str, Any] | None = None,
) -> int:
    """Record that the work of `ids` was done, in one UPDATE: status succeeded and no due time;
    or, with `again_at`, still pending, due then, its attempts starting over. `values` sets other
    fields of the same rows. Returns the rows updated (a row deleted meanwhile is not an error)."""
    if not ids:
        return 0
    extra, params = _set_values(spec, values)
    status, due, attempts = _column(spec, spec.status), _column(spec, spec.due), _column(spec, spec.attempts)
    pk = _pk(spec)
    if again_at is None:
        change = f"{status} = %(succeeded)s, {due} = NULL"
    else:
        change = f"{status} = %(pending)s, {due} = %(again_at)s, {attempts} = 0"
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {_table(spec)} SET {change}{extra} WHERE {pk} = ANY(%(ids)s)",  # noqa: S608
            {
                **params,
                "succeeded": spec.succeeded,
                "pending": spec.pending,
                "again_at": again_at,
                "ids": list(ids),
            },
        )
        return cursor.rowcount


def due_failed(
    *, spec: DueSpec, ids: Sequence[int], now: datetime, values: Mapping[str, Any] | None = None
) -> list[int]:
    """Record that an attempt at `ids` failed, in one UPDATE: each row is due again after the
    backoff for its attempt count (`spec.backoff[attempts - 1]` from `now`), or dead with no due
    time once it has had `spec.max_attempts`. `values` sets other fields of the same rows.
    Returns the ids that are now dead."""
    if not ids:
        return []
    extra, params = _set_values(spec, values)
    status, due, attempts = _column(spec, spec.status), _column(spec, spec.due), _column(spec, spec.attempts)
    pk = _pk(spec)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {_table(spec)}
            SET {status} = CASE WHEN {attempts} >= %(max)s THEN %(dead)s ELSE %(pending)s END,
                {due} = CASE WHEN {attempts} >= %(max)s THEN NULL
                             ELSE (%(next)s::timestamptz[])[{attempts}] END
                {extra}
            WHERE {pk} = ANY(%(ids)s)
            RETURNING {pk}, {status} = %(dead)s
            """,  # noqa: S608 - names come from the model's meta, values are parameters
            {
                **params,
                "max": spec.max_attempts,
                "dead": spec.dead,
                "pending": spec.pending,
                # SQL arrays count from 1: element n is the wait after the n-th attempt.
                "next": [now + wait for wait in spec.backoff],
                "ids": list(ids),
            },
        )
        return sorted(row_id for row_id, dead in cursor.fetchall() if dead)
