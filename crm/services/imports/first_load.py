"""The first import of a whole base (an empty table, a big file): its rows are COPYed straight into
crm_affiliate, without its indexes, in one transaction; the rows a COPY cannot take as they are
(no code, a key the file repeats) are merged the general way at the end."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

import polars as pl
from django.db import Error, connection, transaction

from crm.leases import lease_stop_close
from crm.models import ImportJob
from crm.readers import SourceFile
from crm.services.imports.jobs import import_lease_name
from crm.services.imports.sql import (
    AFFILIATE_COLUMNS,
    INSERT_SQL,
    NEW_AFFILIATE,
    PROBLEMS_COPY_SQL,
    UPSERT_TEXT_FIELDS,
)
from crm.services.imports.staging import (
    CopyData,
    Counts,
    Progress,
    copy_rows,
    csv_copy,
    file_read,
    pg_array,
    staged_merge,
    staging_copy,
    staging_create,
    timed_execute,
)

logger = logging.getLogger(__name__)

# A first import of a whole base (an empty table, a big file) loads the way PostgreSQL's manual
# advises for populating a table: COPY into it without its indexes, build them once at the end
# (several times cheaper than updating them row by row), ANALYZE. Smaller files take the general
# way, which does not hold the table while the file is read.
INITIAL_LOAD_MIN_ROWS = 50_000
# It keeps the file's valid rows in memory until the end (about 0.7 GB a million rows at peak, as
# measured): a bigger file streams through the staging table instead, whatever its size.
INITIAL_LOAD_MAX_ROWS = 3_000_000
# Enough to sort a few million keys in memory (shared with the parallel workers), not on disk.
INDEX_BUILD_MEMORY = "1GB"


def _base_is_empty(cursor) -> bool:
    cursor.execute("SELECT NOT EXISTS (SELECT 1 FROM crm_affiliate)")
    return bool(cursor.fetchone()[0])


def initial_load_fits(cursor, job: ImportJob) -> bool:
    return INITIAL_LOAD_MIN_ROWS <= job.expected_rows <= INITIAL_LOAD_MAX_ROWS and _base_is_empty(cursor)


def initial_load(cursor, job: ImportJob, source: SourceFile, on_progress: Progress | None) -> Counts | None:
    """COPY the rows straight into the empty table as they are read (the next batch is prepared
    meanwhile), in one transaction: all or nothing, so the job's counters, updated in it, only show
    at the end. The rows a COPY cannot take as they are (see `_merge_repeated`) are merged last.
    None when the table was no longer empty: the caller then takes the general way.

    The rows with problems are set aside meanwhile and written after the transaction, whatever its
    outcome: a load that fails still keeps its rejected rows, their reasons and its counters."""
    with tempfile.SpooledTemporaryFile(max_size=PROBLEMS_SPOOL_BYTES) as problems:
        try:
            counts = _initial_load_transaction(cursor, job, source, on_progress, problems)
        except Exception:
            _problems_keep_after_failure(cursor, job, problems)
            raise
        _problems_write(cursor, problems)
    return counts


# The initial load's rows with problems wait in memory up to this size, then in a temporary file.
PROBLEMS_SPOOL_BYTES = 32 * 1024 * 1024
# What a COPY is fed at a time from that file.
PROBLEMS_CHUNK_BYTES = 1024 * 1024


def _problems_write(cursor, problems: IO[bytes]) -> None:
    """COPY the rows with problems set aside (RejectedRow CSV rows) into RejectedRow."""
    if not problems.tell():
        return
    problems.seek(0)
    with cursor.copy(PROBLEMS_COPY_SQL) as copy:
        while chunk := problems.read(PROBLEMS_CHUNK_BYTES):
            copy.write(chunk)


def _problems_keep_after_failure(cursor, job: ImportJob, problems: IO[bytes]) -> None:
    """The load's transaction took the counters it wrote with it: write them, and the rows with problems,
    now. Best effort: the error that stopped the load is the one to report."""
    try:
        with transaction.atomic():
            _problems_write(cursor, problems)
            ImportJob.objects.filter(pk=job.pk).update(
                total_rows=job.total_rows, rejected=job.rejected, warned=job.warned
            )
    except Error:
        logger.exception("import %s: its rows with problems could not be kept", job.pk)


def _initial_load_transaction(
    cursor, job: ImportJob, source: SourceFile, on_progress: Progress | None, problems: IO[bytes]
) -> Counts | None:
    with transaction.atomic():
        cursor.execute("SET LOCAL synchronous_commit TO OFF")
        # Nobody may add affiliates meanwhile: the rows go in without the unique key's check.
        cursor.execute("LOCK TABLE crm_affiliate IN ACCESS EXCLUSIVE MODE")
        if not _base_is_empty(cursor):  # someone was quicker
            return None
        rebuild = _drop_indexes(cursor)
        with _defaults_for_copy(cursor):
            read = file_read(
                cursor,
                job=job,
                source=source,
                on_progress=on_progress,
                copy_valid=_affiliates_copy,
                keep_valid=True,
                keep_problems=problems.write,
            )
        # The rest only finishes the load: too late to cancel.
        lease_stop_close(name=import_lease_name(job=job))
        created = _merge_repeated(cursor, pl.concat(read)) if read else 0
        cursor.execute(f"SET LOCAL maintenance_work_mem = '{INDEX_BUILD_MEMORY}'")
        for sql in rebuild:
            timed_execute(cursor, sql)
        timed_execute(cursor, "ANALYZE crm_affiliate")
    return created, 0, 0, sum(valid.height for valid in read) - created


def _drop_indexes(cursor) -> list[str]:
    """Drop the unique key and the secondary indexes (not the primary key: other tables' foreign keys
    hang on it); return the statements that build them again."""
    cursor.execute(
        """
        SELECT i.relname, pg_get_indexdef(i.oid)
        FROM pg_index x
        JOIN pg_class i ON i.oid = x.indexrelid
        WHERE x.indrelid = 'crm_affiliate'::regclass AND NOT x.indisprimary
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.oid)
        """
    )
    secondary = cursor.fetchall()
    cursor.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = 'crm_affiliate'::regclass AND contype = 'u'"
    )
    unique = cursor.fetchall()
    for name, _definition in unique:
        cursor.execute(f'ALTER TABLE crm_affiliate DROP CONSTRAINT "{name}"')
    for name, _definition in secondary:
        cursor.execute(f'DROP INDEX "{name}"')
    return [
        f'ALTER TABLE crm_affiliate ADD CONSTRAINT "{name}" {definition}' for name, definition in unique
    ] + [definition for _name, definition in secondary]


@contextmanager
def _defaults_for_copy(cursor) -> Iterator[None]:
    """Give the columns of NEW_AFFILIATE their values as defaults while COPY runs: PostgreSQL then
    fills them in itself instead of parsing the same text on every row. Inside the transaction that
    holds the table, so nobody else ever sees them."""
    columns = ", ".join(f"ALTER {column} SET DEFAULT {value}" for column, value in NEW_AFFILIATE.items())
    cursor.execute(f"ALTER TABLE crm_affiliate {columns}")
    yield
    cursor.execute(
        f"ALTER TABLE crm_affiliate {', '.join(f'ALTER {column} DROP DEFAULT' for column in NEW_AFFILIATE)}"
    )


def _affiliates_copy(valid: pl.DataFrame) -> CopyData:
    """The rows whose key is known, COPYed into crm_affiliate as INSERT_SQL would insert them."""
    rows = (
        valid.filter(pl.col("key").is_not_null())
        .select(
            pl.col("key").alias("external_id"),
            *[
                pl.col(c).fill_null("") if c in UPSERT_TEXT_FIELDS else pl.col(c)
                for c in AFFILIATE_COLUMNS[1:]
            ],
        )
        .with_columns(
            pl.col("birth_date").cast(pl.Utf8),
            pg_array("tags").fill_null("{}"),
            pl.col("attributes").fill_null("{}"),
        )
    )
    return csv_copy(f"COPY crm_affiliate ({', '.join(AFFILIATE_COLUMNS)}) FROM STDIN (FORMAT csv)", rows)


def _merge_repeated(cursor, valid: pl.DataFrame) -> int:
    """Merge the rows a COPY cannot take as they are: those without a code (their key depends on the
    rest of the file) and those whose key the file repeats or may repeat once those keys are known
    (the same CPF, or the key "cpf:<CPF>"). They go the general way (KEYS_SQL, MERGE_SQL) and
    replace what the COPY put in. Returns how many affiliates the load created."""
    key = pl.col("key")
    copied = valid.height - valid.get_column("key").null_count()
    blank_cpfs = valid.filter(key.is_null()).get_column("cpf").unique()
    merge = valid.filter(
        key.is_null()
        | key.is_duplicated()
        | pl.col("cpf").is_in(blank_cpfs.implode())
        | key.is_in(("cpf:" + blank_cpfs).implode())
    )
    if merge.is_empty():
        return copied
    staging_create(cursor)
    copy_rows(cursor, staging_copy(merge))
    timed_execute(cursor, "DELETE FROM crm_affiliate WHERE external_id IN (SELECT key FROM import_staging)")
    deleted = cursor.rowcount
    # The deletes queue the deferred checks of the foreign keys to crm_affiliate, and ALTER TABLE
    # (rebuilding the unique key) refuses a table with pending checks: run them now.
    connection.check_constraints()
    merged, _staged, _distinct = staged_merge(cursor)
    timed_execute(cursor, INSERT_SQL.replace("{source}", merged))
    return copied - deleted + cursor.rowcount
