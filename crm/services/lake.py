"""Export of the current UDN's affiliates and events to the data lake, as Parquet.

Layout (Hive-style partitions, readable by Spark, DuckDB, Athena, pyarrow.dataset...):

    <destination>/affiliates/udn=<slug>/date=<day of the run>/part-<export id>.parquet
    <destination>/events/udn=<slug>/date=<day the event occurred>/part-<export id>.parquet

Days are in the UDN's time zone. The column schemas below are the documented standard
(docs/lake.md); change them only together with that document.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import zoneinfo
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import fsspec
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.channels import CHANNELS
from crm.fields import FIELDS, StandardField
from crm.models import Affiliate, Event, LakeExport
from crm.persons import cpf_hash_key

logger = logging.getLogger(__name__)

# Rows fetched from the server-side cursor at a time, and so the largest Parquet row group.
# 50,000 rows of ~25 columns are some tens of MB as Python objects: memory stays flat for a
# base of millions, and row groups are big enough for columnar scans to be efficient.
BATCH_ROWS = 50_000
# Parquet compression: zstd is read everywhere that matters (Spark, DuckDB, Athena, pyarrow)
# and makes files about a third smaller than snappy at a similar speed.
COMPRESSION = "zstd"
ERROR_MAX_CHARS = 2_000
DESTINATION_MAX_CHARS = 500  # LakeExport.destination's max_length
# A transaction open longer than this is taken as stuck (an idle session), not as a writer
# about to commit: it no longer holds the watermark back, or the lake would stop for good.
STUCK_TRANSACTION = timedelta(hours=1)

UTC_MICROS = pa.timestamp("us", tz="UTC")


def _micros(column: str) -> str:
    """SQL: an aware timestamp as integer microseconds since the epoch (exact; cheaper to
    turn into Arrow than Python datetimes)."""
    return f"(EXTRACT(EPOCH FROM {column}) * 1000000)::bigint"


def _standard(name: str) -> tuple[pa.Field, str]:
    """A standard field's column (crm.fields): its Arrow type and the SQL that reads it (optional
    text blank becomes NULL, a date comes as days since the epoch)."""
    spec: StandardField = FIELDS[name]
    if spec.kind == "text":
        sql = name if spec.required else f"NULLIF({name}, '')"
        return pa.field(name, pa.string(), nullable=not spec.required), sql
    if spec.kind == "date":
        return pa.field(name, pa.date32()), f"{name} - DATE '1970-01-01'"
    if spec.kind == "decimal":
        assert spec.digits is not None
        return pa.field(name, pa.decimal128(*spec.digits)), name
    return pa.field(name, pa.list_(pa.string()), nullable=False), name  # tags: [] when none


# The affiliate columns in schema order, each with the SQL that reads it (`udn` is a constant
# added per batch; `cpf` is hashed in Python). The standard fields come from crm.fields, the
# consent columns from crm.channels: one per channel, in registry order.
_AFFILIATE_COLUMNS: list[tuple[pa.Field, str]] = [
    (pa.field("id", pa.int64(), nullable=False), "id"),
    _standard("external_id"),
    (pa.field("cpf_hash", pa.string()), "cpf"),
    *(
        _standard(name)
        for name in ("name", "email", "phone", "birth_date", "city", "state", "plan", "plan_fee", "origin")
    ),
    (pa.field("stage", pa.string(), nullable=False), "stage"),
    (pa.field("tier", pa.string()), "NULLIF(tier, '')"),
    (pa.field("total_cash_in", pa.decimal128(14, 2), nullable=False), "total_cash_in"),
    _standard("tags"),
    *((pa.field(c.consent_field, pa.bool_(), nullable=False), c.consent_field) for c in CHANNELS),
    (pa.field("created_at", UTC_MICROS, nullable=False), _micros("created_at")),
    (pa.field("updated_at", UTC_MICROS, nullable=False), _micros("updated_at")),
]
AFFILIATE_SCHEMA = pa.schema(
    [*(column for column, _sql in _AFFILIATE_COLUMNS), pa.field("udn", pa.string(), nullable=False)]
)

EVENT_SCHEMA = pa.schema(
    [
        pa.field("id", pa.int64(), nullable=False),
        pa.field("event_id", pa.string(), nullable=False),
        pa.field("affiliate_id", pa.int64(), nullable=False),
        pa.field("affiliate_external_id", pa.string(), nullable=False),
        pa.field("type", pa.string(), nullable=False),
        pa.field("occurred_at", UTC_MICROS, nullable=False),
        pa.field("source", pa.string()),
        pa.field("amount", pa.decimal128(14, 2)),
        pa.field("properties", pa.string(), nullable=False),
        pa.field("received_at", UTC_MICROS, nullable=False),
        pa.field("udn", pa.string(), nullable=False),
    ]
)


# The SELECT lists give every column of the schema but `udn` (a constant added per batch),
# in schema order; blank optional text becomes NULL. `cpf` is hashed in Python.
_AFFILIATE_SQL = f"""
    SELECT {", ".join(sql for _column, sql in _AFFILIATE_COLUMNS)}
      FROM {Affiliate._meta.db_table}
     WHERE updated_at >= %(since)s AND updated_at < %(until)s
     ORDER BY id
"""  # noqa: S608 - only table names are interpolated

# Ordered by occurrence, so the events of one local day arrive together and only one
# Parquet writer is open at a time. The last column is the local day (days since the epoch).
_EVENT_SQL = f"""
    SELECT e.id, e.event_id, e.affiliate_id, a.external_id, e.type, {_micros("e.occurred_at")},
           NULLIF(e.source, ''), e.amount, e.properties::text, {_micros("e.received_at")},
           (e.occurred_at AT TIME ZONE %(time_zone)s)::date - DATE '1970-01-01'
      FROM {Event._meta.db_table} e
      JOIN {Affiliate._meta.db_table} a ON a.id = e.affiliate_id
     WHERE e.received_at >= %(since)s AND e.received_at < %(until)s
     ORDER BY e.occurred_at, e.id
"""  # noqa: S608 - only table names are interpolated

EPOCH_DAY = date(1970, 1, 1)
FIRST_DAY, LAST_DAY = (date.min - EPOCH_DAY).days, (date.max - EPOCH_DAY).days
BEGINNING = datetime(1970, 1, 1, tzinfo=zoneinfo.ZoneInfo("UTC"))


class LakeExportBusy(Exception):
    """Another export of this UDN is running; this one did not start."""


def destination_for_display(*, destination: str, full: bool = True) -> str:
    """The destination without a password (URLs like s3://key:secret@bucket are allowed). Not
    `full`: only a neutral label (what kind of storage), for people who are not administrators:
    a server's folders or a bucket's name tell them nothing they need and an attacker a lot."""
    parts = urlsplit(destination)
    if not full:
        if len(parts.scheme) <= 1 or parts.scheme == "file":  # a path (or C:\\...) on the server
            return _("a folder on the server")
        return _("%(scheme)s storage") % {"scheme": parts.scheme}
    if parts.password is None:
        return destination
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


@dataclass
class _ParquetSink:
    """One open Parquet file at a time under `root`; remembers what it wrote, can take it back."""

    fs: Any
    root: str
    slug: str
    export_id: int
    files: list[str] = field(default_factory=list)
    _key: tuple[str, date] | None = None
    _file: Any = None
    _writer: pq.ParquetWriter | None = None

    def write(self, *, dataset: str, day: date, table: pa.Table) -> None:
        if self._key != (dataset, day):
            self.close()
            relative = f"{dataset}/udn={self.slug}/date={day.isoformat()}/part-{self.export_id}.parquet"
            # Each (dataset, day) comes once per run (events are ordered by time), so a
            # partition's file is never reopened and overwritten.
            assert relative not in self.files, relative
            path = f"{self.root}/{relative}"
            self.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
            self.files.append(relative)
            self._file = self.fs.open(path, "wb")
            self._writer = pq.ParquetWriter(self._file, table.schema, compression=COMPRESSION)
            self._key = (dataset, day)
        assert self._writer is not None
        self._writer.write_table(table)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._file.close()
        self._writer = self._file = self._key = None

    def abort(self) -> None:
        """Close and delete what this run wrote (best effort: the run fails anyway)."""
        try:
            self.close()
        except Exception:
            logger.exception("lake export %s: closing the open file failed", self.export_id)
        for relative in self.files:
            try:
                self.fs.rm(f"{self.root}/{relative}")
            except Exception:  # a missing or undeletable file must not hide the cause
                logger.warning("lake export %s: could not delete %s", self.export_id, relative)


def _batches(sql: str, params: dict[str, Any]) -> Iterator[list[tuple]]:
    """Rows from a server-side cursor, BATCH_ROWS at a time (call inside a transaction, so
    PostgreSQL streams them instead of materialising a WITH HOLD cursor)."""
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(BATCH_ROWS):
            yield rows


def _constant(value: str, length: int) -> pa.Array:
    return pa.repeat(pa.scalar(value, pa.string()), length)


def _cpf_hashes(cpfs: tuple[str, ...], *, keyed: Any) -> list[str | None]:
    """HMACs of a column of CPFs; copying a keyed HMAC skips the key set-up per value."""
    hashes: list[str | None] = []
    for cpf in cpfs:
        if cpf:
            mac = keyed.copy()
            mac.update(cpf.encode())
            hashes.append(mac.hexdigest())
        else:
            hashes.append(None)
    return hashes


def _affiliates_table(rows: list[tuple], *, slug: str, keyed: Any) -> pa.Table:
    columns: list[Any] = list(zip(*rows, strict=True))
    columns[2] = _cpf_hashes(columns[2], keyed=keyed)
    arrays = [pa.array(values, type=f.type) for values, f in zip(columns, AFFILIATE_SCHEMA, strict=False)]
    arrays.append(_constant(slug, len(rows)))
    return pa.Table.from_arrays(arrays, schema=AFFILIATE_SCHEMA)


def _events_tables(rows: list[tuple], *, slug: str) -> Iterator[tuple[date, pa.Table]]:
    """One table per local day in the batch (rows come ordered by time)."""
    columns = list(zip(*rows, strict=True))
    local_days = columns.pop()
    arrays = [pa.array(values, type=f.type) for values, f in zip(columns, EVENT_SCHEMA, strict=False)]
    arrays.append(_constant(slug, len(rows)))
    table = pa.Table.from_arrays(arrays, schema=EVENT_SCHEMA)
    runs = pc.run_end_encode(pa.array(local_days, pa.int32()))
    start = 0
    for end, day in zip(runs.run_ends.to_pylist(), runs.values.to_pylist(), strict=True):
        # An event stored before times were bounded may fall outside the days Python can name
        # (year 1 at +05:00 is 1 BC): it goes to the first (or last) one, keeping its exact time.
        yield EPOCH_DAY + timedelta(days=min(max(day, FIRST_DAY), LAST_DAY)), table.slice(start, end - start)
        start = end


def _previous_watermark(*, destination: str) -> datetime | None:
    """The watermark of the newest successful export to `destination` (incremental runs are
    per destination: a one-off export elsewhere does not make the main lake skip rows)."""
    return (
        LakeExport.objects.filter(destination=destination, finished_at__isnull=False, error="")
        .order_by("-watermark")
        .values_list("watermark", flat=True)
        .first()
    )


def _watermark_at(now: datetime) -> datetime:
    """`now`, held back to the start of the oldest transaction still open on the database.

    Rows carry the time they were written (`updated_at`, `received_at`), but become visible
    only when their transaction commits: an import that wrote at 03:40 and commits at 03:50
    would be invisible to an export at 03:45 and older than its watermark, so lost for
    good. Its rows are at least as new as its transaction's start, so they fall into the
    next run. Transactions open longer than STUCK_TRANSACTION are ignored.
    """
    with connection.cursor() as cursor:
        # pg_stat_activity is read once per transaction; the caller may be inside one.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT min(xact_start) FROM pg_stat_activity"
            " WHERE datname = current_database() AND backend_type = 'client backend'"
            " AND pid <> pg_backend_pid() AND xact_start > clock_timestamp() - make_interval(secs => %s)",
            [STUCK_TRANSACTION.total_seconds()],
        )
        oldest = cursor.fetchone()[0]
    return now if oldest is None else min(now, oldest)


@contextmanager
def _export_lock(schema: str) -> Iterator[None]:
    """One export per UDN at a time (the nightly job and "Export now" may meet): two runs
    from the same watermark would write the same rows twice."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(hashtext(%s))", [f"crm.lake_export:{schema}"])
        if not cursor.fetchone()[0]:
            raise LakeExportBusy(schema)
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(hashtext(%s))", [f"crm.lake_export:{schema}"])


def lake_export_run(*, destination: str | None = None, full: bool = False) -> LakeExport:
    """Export the current UDN's affiliates and events changed since the last successful
    export to the same destination (everything with `full`), and record the run.

    `destination` is a path or any fsspec URL (`file://`, `memory://`, `s3://`... with the
    filesystem's package installed); default `settings.LAKE_URL`. The run's watermark is
    taken at its start: rows changed during the run go out with the next one. On failure
    the files written are deleted, the error is recorded on the LakeExport row and the
    exception propagates; the next run starts again from the last successful watermark.
    Raises LakeExportBusy when an export of this UDN is already running.

    Not one atomic block: the LakeExport row is committed first so the page shows the run
    while it works, and the rows are read inside their own transaction (server-side cursor).
    """
    udn: Any = connection.tenant  # type: ignore[attr-defined]
    if udn is None or getattr(udn, "is_public", True):
        raise RuntimeError("lake_export_run runs inside a UDN (tenant_context / --udn).")
    target = (destination or settings.LAKE_URL).rstrip("/") or "/"
    recorded = destination_for_display(destination=target)
    if len(recorded) > DESTINATION_MAX_CHARS:
        raise ValueError(f"The lake destination is too long: {recorded[:80]}…")
    fs, root = fsspec.core.url_to_fs(target)
    local_zone = zoneinfo.ZoneInfo(udn.time_zone)

    with _export_lock(udn.schema_name):
        since = None if full else _previous_watermark(destination=recorded)
        until = _watermark_at(timezone.now())
        if since is not None and until < since:
            until = since  # a transaction open since before the last run: export nothing yet
        export = LakeExport.objects.create(watermark=until, destination=recorded)
        sink = _ParquetSink(fs=fs, root=root.rstrip("/"), slug=udn.slug, export_id=export.pk)
        params = {"since": since or BEGINNING, "until": until, "time_zone": udn.time_zone}
        run_day = timezone.localtime(export.started_at, local_zone).date()
        affiliates = events = 0
        try:
            with transaction.atomic():
                keyed = hmac.new(cpf_hash_key(), digestmod=hashlib.sha256)
                for rows in _batches(_AFFILIATE_SQL, params):
                    table = _affiliates_table(rows, slug=udn.slug, keyed=keyed)
                    sink.write(dataset="affiliates", day=run_day, table=table)
                    affiliates += len(rows)
                for rows in _batches(_EVENT_SQL, params):
                    for day, table in _events_tables(rows, slug=udn.slug):
                        sink.write(dataset="events", day=day, table=table)
                    events += len(rows)
            sink.close()
        except Exception as exc:
            sink.abort()
            LakeExport.objects.filter(pk=export.pk).update(
                finished_at=timezone.now(), error=f"{type(exc).__name__}: {exc}"[:ERROR_MAX_CHARS]
            )
            raise
        export.affiliates, export.events, export.files = affiliates, events, sink.files
        export.finished_at = timezone.now()
        export.save(update_fields=["affiliates", "events", "files", "finished_at"])
    logger.info(
        "lake export %s of %s: %s affiliates, %s events, %s files",
        export.pk,
        udn.slug,
        affiliates,
        events,
        len(sink.files),
    )
    return export


def lake_export_request() -> None:
    """Queue an export of the current UDN now (once this transaction commits; the task
    carries the schema it was queued from)."""
    from crm.tasks.lake import lake_export

    transaction.on_commit(lambda: lake_export.delay())
