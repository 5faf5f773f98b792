"""Reading a file into PostgreSQL: each batch is prepared (crm.importing) in a thread while the
previous one is COPYed, its rows with problems go to RejectedRow, the job's counters follow; the
staging table, and the merge of the keys a file repeats. Shared by the general way (run) and the
first load of an empty base (first_load)."""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import polars as pl
from django.core.cache import cache
from django.db import DatabaseError, transaction
from django.utils import translation

from crm.importing import PreparedBatch, frame_prepare
from crm.models import ImportJob
from crm.readers import SourceFile, source_batches
from crm.selectors.imports import import_progress_key
from crm.services.imports.sql import (
    KEYS_SQL,
    MERGE_SQL,
    PROBLEMS_COPY_SQL,
    STAGING_COLUMNS,
    STAGING_TABLE_SQL,
)

logger = logging.getLogger(__name__)

Progress = Callable[[ImportJob], None]

Counts = tuple[int, int, int, int]  # created, updated, unchanged, repeated in the file


def pg_array(column: str) -> pl.Expr:
    """A list of strings as a PostgreSQL array literal for COPY: {"a","b"}."""
    # Inside an array element, `\` and `"` are escaped with a backslash (literal replacements: in a
    # regular expression's replacement they would be read differently).
    quoted = pl.col(column).list.eval(
        pl.lit('"')
        + pl.element().str.replace_all("\\", "\\\\", literal=True).str.replace_all('"', '\\"', literal=True)
        + pl.lit('"')
    )
    return (pl.lit("{") + quoted.list.join(",") + pl.lit("}")).alias(column)


# A COPY ... FROM STDIN statement and its rows, as CSV.
CopyData = tuple[str, bytes]


def csv_copy(sql: str, frame: pl.DataFrame) -> CopyData:
    buffer = io.BytesIO()
    frame.write_csv(buffer, include_header=False)
    return sql, buffer.getvalue()


def copy_rows(cursor, data: CopyData) -> None:
    sql, rows = data
    with cursor.copy(sql) as copy:
        copy.write(rows)


def staging_copy(valid: pl.DataFrame) -> CopyData:
    staged = valid.select(STAGING_COLUMNS).with_columns(pl.col("birth_date").cast(pl.Utf8), pg_array("tags"))
    return csv_copy(f"COPY import_staging ({', '.join(STAGING_COLUMNS)}) FROM STDIN (FORMAT csv)", staged)


def _problems_copy(job_id: str, problems: pl.DataFrame) -> CopyData:
    rows = problems.select(
        pl.lit(job_id).alias("job_id"),
        pl.col("_row").alias("row_number"),
        pg_array("_messages"),
        "_raw",
        "_imported",
    )
    return csv_copy(PROBLEMS_COPY_SQL, rows)


Encoded = TypeVar("Encoded")


def _prepared_batches(
    *, source: SourceFile, mapping: dict[str, str], encode: Callable[[PreparedBatch], Encoded]
) -> Iterator[tuple[int, PreparedBatch, Encoded]]:
    """Read, prepare and encode the next batch in a thread while the caller COPYs this one: polars
    releases the GIL, so normalising and writing CSV overlap PostgreSQL's work."""
    batches = source_batches(source)
    language = translation.get_language()

    def prepare_next() -> tuple[int, PreparedBatch, Encoded] | None:
        batch = next(batches, None)
        if batch is None:
            return None
        with translation.override(language):  # rejection reasons in the language of whoever started it
            prepared = frame_prepare(batch=batch, mapping=mapping)
        return batch.height, prepared, encode(prepared)

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-prepare") as pool:
        future = pool.submit(prepare_next)
        while (ready := future.result()) is not None:
            future = pool.submit(prepare_next)
            yield ready


# How long a run's live counters stay in the cache (far beyond any run).
PROGRESS_TTL_SECONDS = 6 * 60 * 60


def file_read(
    cursor,
    *,
    job: ImportJob,
    source: SourceFile,
    on_progress: Progress | None,
    copy_valid: Callable[[pl.DataFrame], CopyData],
    keep_valid: bool = False,
    keep_problems: Callable[[bytes], object] | None = None,
) -> list[pl.DataFrame]:
    """Read the whole file: COPY each batch's valid rows as `copy_valid` says and its rows with
    problems, with their reasons, into RejectedRow (or hand their COPY rows to `keep_problems`, to be
    written later); the job's counters follow. Returns every batch's valid rows when asked to keep
    them (memory then grows with the file)."""
    job_id = str(job.pk)

    def encode(prepared: PreparedBatch) -> tuple[CopyData | None, CopyData | None]:
        valid = copy_valid(prepared.valid) if prepared.valid.height else None
        return valid, _problems_copy(job_id, prepared.problems) if prepared.problems.height else None

    kept: list[pl.DataFrame] = []
    total = rejected = warned = 0
    progress_key = import_progress_key(job=job)
    for rows, prepared, (valid, problems) in _prepared_batches(
        source=source, mapping=job.mapping, encode=encode
    ):
        started = time.perf_counter()
        if valid is not None:
            copy_rows(cursor, valid)
        if problems is not None:
            if keep_problems is None:
                copy_rows(cursor, problems)
            else:
                keep_problems(problems[1])
        logger.info("import batch of %s staged in %.2fs", rows, time.perf_counter() - started)
        if keep_valid:
            kept.append(prepared.valid)
        total += rows
        rejected += prepared.rejected
        warned += prepared.warned
        ImportJob.objects.filter(pk=job.pk).update(total_rows=total, rejected=rejected, warned=warned)
        job.total_rows, job.rejected, job.warned = total, rejected, warned
        # Seen at once by the progress page, even inside a transaction (see import_job_live).
        live = {"total_rows": total, "rejected": rejected, "warned": warned}
        cache.set(progress_key, live, PROGRESS_TTL_SECONDS)
        if on_progress is not None:
            on_progress(job)
    return kept


# Temporary tables live in the session's own buffers (8 MB by default): a million staged rows
# would go to disk. Only settable before the session first touches a temporary table.
TEMP_BUFFERS = "512MB"


def staging_create(cursor) -> None:
    try:
        with transaction.atomic():
            cursor.execute(f"SET temp_buffers = '{TEMP_BUFFERS}'")
    except DatabaseError:
        logger.info("temp_buffers already fixed for this connection; staging with what it has")
    cursor.execute("DROP TABLE IF EXISTS import_staging")
    cursor.execute(STAGING_TABLE_SQL)


def timed_execute(cursor, sql: str, params: dict | None = None) -> None:
    started = time.perf_counter()
    cursor.execute(sql, params)
    logger.info("import step %.2fs: %s", time.perf_counter() - started, " ".join(sql.split())[:60])


def staged_merge(cursor) -> tuple[str, int, int]:
    """Give the staged rows their keys and merge the keys the file repeats; returns the table to
    upsert from, how many rows were staged and how many keys they have."""
    cursor.execute("SELECT EXISTS (SELECT 1 FROM import_staging WHERE key IS NULL)")
    if cursor.fetchone()[0]:
        for sql in KEYS_SQL:
            timed_execute(cursor, sql)
    timed_execute(cursor, "ANALYZE import_staging")
    cursor.execute("SELECT count(*), count(DISTINCT key) FROM import_staging")
    staged, distinct = cursor.fetchone()
    if distinct == staged:
        return "import_staging", staged, distinct
    timed_execute(cursor, "CREATE INDEX ON import_staging (key)")
    timed_execute(cursor, MERGE_SQL)
    timed_execute(cursor, "ANALYZE import_merged")
    return "import_merged", staged, distinct
