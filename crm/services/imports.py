"""Importing affiliates from CSV/XLSX: the UI, the Celery task and `import_affiliates` share this.

The run, per batch of the file: map the columns, normalise them vectorised (crm.normalize),
COPY the rows to import into a temporary staging table and the rows with problems, with their
row number and reasons, into RejectedRow: the rejected ones (no usable code or CPF, no name) and
those imported with a bad optional field left blank (warnings; see crm.normalize.REJECTING_REASONS).
Then, in one transaction: resolve keys (external id,
falling back to the CPF), merge rows repeated in the file (newest non-blank value per
field), record what changes, and upsert everything with one INSERT ... ON CONFLICT.

A big file into an empty base (the first import of a UDN) skips the staging table: its rows are
COPYed straight into crm_affiliate, without its indexes, in one transaction (see `_initial_load`).
"""

from __future__ import annotations

import io
import logging
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TypeVar

import polars as pl
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import DatabaseError, Error, connection, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from crm.fields import LOADED_FIELDS, MERGED_FIELDS, MERGED_TEXT_FIELDS, STANDARD_FIELDS, columns_sql
from crm.models import AuditAction, AuditTarget, ColumnMapping, ImportJob, ImportStatus
from crm.normalize import frame_normalize, reason_message
from crm.readers import (
    EXTRA_PREFIX,
    PROBLEM_COLUMN,
    UNCLOSED_QUOTE,
    ImportFileError,
    SourceFile,
    header_key,
    source_batches,
    source_open,
    source_row_estimate,
)
from crm.selectors.imports import ATTRIBUTE_PREFIX, EXTRA_KEY, FIELD_LABELS, import_progress_key
from crm.services.audit import audit_record
from crm.services.leases import lease_hold, lease_stop_requested
from tenants.actors import audit_actor

logger = logging.getLogger(__name__)

Progress = Callable[[ImportJob], None]

# Columns of the staging table, in COPY order.
STAGING_COLUMNS = ["_row", *LOADED_FIELDS, "attributes", "key"]
# Text fields an import may change on an existing affiliate (blank values in the file never erase).
UPSERT_TEXT_FIELDS = list(MERGED_TEXT_FIELDS)


def import_job_create(
    *, upload: UploadedFile | None = None, path: Path | None = None, created_by: str = "", source: str = "ui"
) -> ImportJob:
    """Register a file to import: an upload (stored under MEDIA_ROOT) or a path on this machine."""
    if upload is not None:
        job = ImportJob(original_name=upload.name or "arquivo", created_by=created_by, source=source)
        job.file.save(upload.name or "arquivo.csv", upload, save=False)
    elif path is not None:
        job = ImportJob(original_name=str(path), created_by=created_by, source=source)
    else:
        raise ValueError("give an upload or a path")
    file_path = import_job_path(job=job, path=path)
    source_file = source_open(file_path)  # ImportFileError for an unreadable file: nothing is saved
    source_file.close()
    job.headers = source_file.headers
    job.expected_rows = source_row_estimate(source_file)
    from crm.selectors.imports import import_mapping_suggest

    job.mapping = import_mapping_suggest(headers=source_file.headers)
    with transaction.atomic():
        job.save()
        audit_record(
            action=AuditAction.IMPORT_CREATED,
            target_type=AuditTarget.IMPORT,
            target_id=job.pk,
            changes={"file": job.display_name, "expected_rows": job.expected_rows, "source": source},
        )
    return job


def import_job_path(*, job: ImportJob, path: Path | None = None) -> Path:
    if path is not None:
        return path
    if job.file:
        return Path(job.file.path)
    return Path(job.original_name)


def import_mapping_clean(*, headers: list[str], mapping: dict[str, str]) -> dict[str, str]:
    """Check a column mapping; ValidationError says what is wrong, per field."""
    errors: list[str] = []
    unknown_headers = [h for h in mapping if h not in headers]
    if unknown_headers:
        errors.append(_("Unknown columns: %(cols)s.") % {"cols": ", ".join(unknown_headers)})
    cleaned = {header: mapping.get(header, "") or "" for header in headers}
    targets = [t for t in cleaned.values() if t]
    for target in targets:
        if not target.startswith(ATTRIBUTE_PREFIX) and target not in FIELD_LABELS:
            errors.append(_("“%(target)s” is not a field you can import into.") % {"target": target})
        elif target.startswith(ATTRIBUTE_PREFIX) and not target[len(ATTRIBUTE_PREFIX) :].strip():
            errors.append(_("Give the custom attribute a name."))
    repeated = sorted({t for t in targets if targets.count(t) > 1})
    if repeated:
        errors.append(
            _("Each field can come from one column only: %(fields)s.") % {"fields": ", ".join(repeated)}
        )
    if "name" not in targets:
        errors.append(_("Choose the column with the name."))
    if "external_id" not in targets and "cpf" not in targets:
        errors.append(_("Choose the column with the UDN's code or the CPF, to recognise each affiliate."))
    if errors:
        raise ValidationError(errors)
    return cleaned


@transaction.atomic
def import_mapping_save(*, job: ImportJob, mapping: dict[str, str]) -> ImportJob:
    """Store the mapping on the job and remember it for this UDN's next import."""
    job.mapping = import_mapping_clean(headers=job.headers, mapping=mapping)
    job.save(update_fields=["mapping"])
    for header, target in job.mapping.items():
        if target:
            ColumnMapping.objects.update_or_create(header=header_key(header), defaults={"field": target})
        else:
            ColumnMapping.objects.filter(header=header_key(header)).delete()
    audit_record(
        action=AuditAction.IMPORT_MAPPING_SAVED,
        target_type=AuditTarget.IMPORT,
        target_id=job.pk,
        changes={"mapping": {header: target for header, target in job.mapping.items() if target}},
    )
    return job


@transaction.atomic
def import_queue(*, job: ImportJob) -> ImportJob:
    """Hand a new attempt of the run to a worker (once this transaction commits); the page follows
    its progress. Counters and rejected rows of an earlier attempt are cleared when it starts."""
    from crm.tasks.imports import import_run

    job.status = ImportStatus.QUEUED
    job.attempt += 1
    job.error = ""
    job.finished_at = None
    job.save(update_fields=["status", "attempt", "error", "finished_at"])
    audit_record(
        action=AuditAction.IMPORT_QUEUED,
        target_type=AuditTarget.IMPORT,
        target_id=job.pk,
        changes={"file": job.display_name, "attempt": job.attempt},
    )
    # The worker acts for whoever queued the run: its entries carry that person (or key).
    job_id, attempt, actor = str(job.pk), job.attempt, audit_actor().as_dict()
    transaction.on_commit(lambda: import_run.delay(job_id, attempt, actor))
    return job


# --- the run --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PreparedBatch:
    """A batch split in two: `valid`, the rows to import (standard fields, `attributes` JSON text,
    `key`), and `problems`, the rows with reasons (`_row`, `_reasons` codes, `_messages` for people,
    `_raw` the row as read, JSON, `_imported`: true when the row is imported all the same, its bad
    optional fields left blank, false when it is rejected)."""

    valid: pl.DataFrame
    problems: pl.DataFrame

    @property
    def warned(self) -> int:
        """Rows imported with warnings."""
        return int(self.problems.get_column("_imported").sum())

    @property
    def rejected(self) -> int:
        return self.problems.height - self.warned


def frame_prepare(*, batch: pl.DataFrame, mapping: dict[str, str]) -> PreparedBatch:
    """Map a raw batch (file columns + _row) to the standard fields, normalise, and split."""
    headers = [
        c for c in batch.columns if c not in ("_row", PROBLEM_COLUMN) and not c.startswith(EXTRA_PREFIX)
    ]
    extras = [c for c in batch.columns if c.startswith(EXTRA_PREFIX)]
    renames = {
        h: t for h, t in mapping.items() if t and not t.startswith(ATTRIBUTE_PREFIX) and h in batch.columns
    }
    standard = batch.select(
        "_row",
        *[pl.col(h).alias(t) for h, t in renames.items()],
        *[pl.lit("").alias(f) for f in STANDARD_FIELDS if f not in renames.values()],
    )
    normalised = frame_normalize(standard)
    attribute_columns = {
        t[len(ATTRIBUTE_PREFIX) :].strip(): h
        for h, t in mapping.items()
        if t.startswith(ATTRIBUTE_PREFIX) and h in batch.columns
    }
    if attribute_columns:
        attributes = pl.struct(
            [pl.col(h).alias(k) for k, h in attribute_columns.items()]
        ).struct.json_encode()
    else:
        attributes = pl.lit("{}")
    extra = (
        pl.concat_str([pl.col(c) for c in extras], separator=";").str.strip_chars(";")
        if extras
        else pl.lit("")
    )
    # frame_normalize keeps the row order, so the raw side is glued on, not joined.
    # frame_normalize lets a blank code take the CPF; the import instead resolves such rows against
    # the base first (an affiliate already known by that CPF keeps its code), so they get no key yet.
    code = next((h for h, t in renames.items() if t == "external_id"), None)
    blank_code = pl.col(code).str.strip_chars() == "" if code else pl.lit(True)
    side = batch.select(
        attributes.alias("attributes"),
        extra.alias("_extra"),
        blank_code.alias("_blank_code"),
        # A row the reader could only read in part (see crm.readers.PROBLEM_COLUMN) is rejected.
        (pl.col(PROBLEM_COLUMN) if PROBLEM_COLUMN in batch.columns else pl.lit("")).alias("_problem"),
    )
    combined = pl.concat([normalised, side], how="horizontal").with_columns(
        pl.when(pl.col("_blank_code"))
        .then(pl.lit(None, pl.Utf8))
        .otherwise(pl.col("external_id"))
        .alias("key")
    )
    # Imported: a usable identity and a name (bad optional fields are blank already, see frame_normalize).
    is_valid = ~pl.col("_rejected") & (pl.col("_extra") == "") & (pl.col("_problem") == "")
    flags = combined.select(is_valid.alias("valid"), (pl.col("_reasons").list.len() > 0).alias("reasons"))
    valid = combined.filter(flags.get_column("valid"))
    # The rarer rows with problems get the costly parts: messages and the row as read.
    problem_mask = flags.select(~pl.col("valid") | pl.col("reasons")).to_series()
    rejected = combined.filter(problem_mask).select(
        "_row", "_reasons", "_extra", "_problem", is_valid.alias("_imported")
    )
    raw = batch.filter(problem_mask).select(pl.struct([pl.col(h) for h in headers]).alias("_raw_struct"))
    rejected = pl.concat([rejected, raw], how="horizontal")
    too_many = (
        pl.when(pl.col("_extra") != "")
        .then(pl.lit(["too_many_columns"]))
        .otherwise(pl.lit([], pl.List(pl.Utf8)))
    )
    problem = (
        pl.when(pl.col("_problem") != "")
        .then(pl.concat_list("_problem"))
        .otherwise(pl.lit([], pl.List(pl.Utf8)))
    )
    rejected = rejected.with_columns(pl.concat_list(too_many, problem, pl.col("_reasons")).alias("_reasons"))
    messages = {code: _reason_text(code) for code in _all_codes(rejected)}
    rejected = rejected.with_columns(
        pl.col("_reasons")
        .list.eval(pl.element().replace_strict(messages, default=pl.element()))
        .alias("_messages"),
        pl.when(pl.col("_extra") != "")
        .then(
            pl.col("_raw_struct").struct.with_fields(pl.col("_extra").alias(EXTRA_KEY)).struct.json_encode()
        )
        .otherwise(pl.col("_raw_struct").struct.json_encode())
        .alias("_raw"),
    ).drop("_raw_struct", "_extra", "_problem")
    return PreparedBatch(
        valid=valid.drop("_reasons", "_rejected", "_extra", "_blank_code", "_problem"), problems=rejected
    )


def _all_codes(frame: pl.DataFrame) -> list[str]:
    return frame.select(pl.col("_reasons").explode().drop_nulls().unique()).to_series().to_list()


def _reason_text(code: str) -> str:
    if code == "too_many_columns":
        return _("more columns than the header (a separator inside a value?)")
    if code == UNCLOSED_QUOTE:
        return _('a quote (") is not closed properly (the line was read as plain text)')
    return str(reason_message(code))


def _pg_array(column: str) -> pl.Expr:
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


def _csv_copy(sql: str, frame: pl.DataFrame) -> CopyData:
    buffer = io.BytesIO()
    frame.write_csv(buffer, include_header=False)
    return sql, buffer.getvalue()


def _copy(cursor, data: CopyData) -> None:
    sql, rows = data
    with cursor.copy(sql) as copy:
        copy.write(rows)


def _staging_copy(valid: pl.DataFrame) -> CopyData:
    staged = valid.select(STAGING_COLUMNS).with_columns(pl.col("birth_date").cast(pl.Utf8), _pg_array("tags"))
    return _csv_copy(f"COPY import_staging ({', '.join(STAGING_COLUMNS)}) FROM STDIN (FORMAT csv)", staged)


PROBLEMS_COPY_SQL = (
    "COPY crm_rejectedrow (job_id, row_number, reasons, data, imported) FROM STDIN (FORMAT csv)"
)


def _problems_copy(job_id: str, problems: pl.DataFrame) -> CopyData:
    rows = problems.select(
        pl.lit(job_id).alias("job_id"),
        pl.col("_row").alias("row_number"),
        _pg_array("_messages"),
        "_raw",
        "_imported",
    )
    return _csv_copy(PROBLEMS_COPY_SQL, rows)


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


def _read(
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
            _copy(cursor, valid)
        if problems is not None:
            if keep_problems is None:
                _copy(cursor, problems)
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


def _create_staging(cursor) -> None:
    try:
        with transaction.atomic():
            cursor.execute(f"SET temp_buffers = '{TEMP_BUFFERS}'")
    except DatabaseError:
        logger.info("temp_buffers already fixed for this connection; staging with what it has")
    cursor.execute("DROP TABLE IF EXISTS import_staging")
    cursor.execute(_STAGING_TABLE_SQL)


_STAGING_TABLE_SQL = f"CREATE TEMP TABLE import_staging (_row bigint, {columns_sql(LOADED_FIELDS)}, attributes jsonb, key text)"


# Field by field the latest staged value (crm.fields), generated once.
_LATEST_SQL = "".join(f"{field.latest_sql()} AS {field.name},\n        " for field in MERGED_FIELDS)
_MERGED_NAMES = ", ".join(field.name for field in MERGED_FIELDS)


def merged_rows_sql(source: str, *, where: str = "TRUE") -> str:
    """One row per key of the staged rows in `source` (columns _row, key and the standard fields):
    field by field the value of the latest row that has one, tags as a whole from the latest row
    with tags, attributes merged (later rows win). Shared by the import and the API's bulk upsert."""
    return f"""
    SELECT key,
        {_LATEST_SQL}coalesce(jsonb_object_agg(kv.k, kv.v ORDER BY _row) FILTER (WHERE kv.k IS NOT NULL), '{{}}') AS attributes
    FROM {source}
    LEFT JOIN LATERAL jsonb_each(attributes) AS kv(k, v) ON kv.v <> '""'
    WHERE {where}
    GROUP BY key
    """  # noqa: S608 - constant names only


# Only the keys the file repeats are aggregated; the others are copied as they are.
MERGE_SQL = f"""
    CREATE TEMP TABLE import_merged AS
    {merged_rows_sql("import_staging", where="key IN (SELECT key FROM import_staging GROUP BY key HAVING count(*) > 1)")}
    UNION ALL
    SELECT key, {_MERGED_NAMES}, attributes
    FROM import_staging
    WHERE key IN (SELECT key FROM import_staging GROUP BY key HAVING count(*) = 1)
"""  # noqa: S608 - constant names only

CHANGES_SQL = f"""
    INSERT INTO crm_affiliatechange (affiliate_id, import_job_id, changes, source, changed_at)
    SELECT a.id, %(job)s, ch.changes, 'import', now()
    FROM {{source}} m
    JOIN crm_affiliate a ON a.external_id = m.key
    CROSS JOIN LATERAL (
        SELECT jsonb_object_agg(f, jsonb_build_array(o, n)) AS changes
        FROM (VALUES
            {", ".join(f.change_sql(f"a.{f.name}", f"m.{f.name}") for f in MERGED_FIELDS if f.name in STANDARD_FIELDS)}
        ) AS v(f, o, n)
        WHERE n IS NOT NULL AND n <> '' AND n IS DISTINCT FROM o
    ) AS ch
    WHERE ch.changes IS NOT NULL
"""  # noqa: S608 - constant names only

# What an affiliate created by an import starts with, beside the file's fields (SQL expressions).
# The consent fields (one per channel) and the channels' other addresses have a database default.
NEW_AFFILIATE = {
    "stage": "'lead'",
    "tier": "''",
    "total_cash_in": "0",
    "created_at": "now()",
    "updated_at": "now()",
}
# The file's fields as crm_affiliate names them, in COPY order.
AFFILIATE_COLUMNS = [*LOADED_FIELDS, "attributes"]

# Built from the constant field lists above, never from input.
_inserted = ", ".join(["key", *(field.inserted_sql(field.name) for field in MERGED_FIELDS)])
INSERT_SQL = f"""
    INSERT INTO crm_affiliate ({", ".join(AFFILIATE_COLUMNS)}, {", ".join(NEW_AFFILIATE)})
    SELECT {_inserted}, coalesce(attributes, '{{}}'),
        {", ".join(NEW_AFFILIATE.values())}
    FROM {{source}}
"""  # noqa: S608

_kept = [field.kept_sql(f"EXCLUDED.{field.name}", f"crm_affiliate.{field.name}") for field in MERGED_FIELDS]
_updated = ",\n".join(f"{field.name} = {kept}" for field, kept in zip(MERGED_FIELDS, _kept, strict=True))
_old = ", ".join(f"crm_affiliate.{field.name}" for field in MERGED_FIELDS)
_new = ", ".join(_kept)
UPSERT_SQL = f"""
    WITH upserted AS (
        {INSERT_SQL}
        ON CONFLICT (external_id) DO UPDATE SET
            {_updated},
            attributes = crm_affiliate.attributes || EXCLUDED.attributes,
            updated_at = now()
        WHERE ({_old}, crm_affiliate.attributes)
          IS DISTINCT FROM
              ({_new}, crm_affiliate.attributes || EXCLUDED.attributes)
        RETURNING (xmax = 0) AS inserted
    )
    SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM upserted
"""  # noqa: S608

# Rows without the UDN's code (their key is still NULL) are known by the CPF: the code of the
# newest row of this file with that CPF, else of the affiliate already in the base (the oldest, if the
# base has the CPF twice), else a new affiliate keyed "cpf:<CPF>". Run only when such rows exist.
KEYS_SQL = [
    """
    UPDATE import_staging s SET key = f.key
    FROM (SELECT DISTINCT ON (cpf) cpf, key FROM import_staging
          WHERE key IS NOT NULL AND cpf IN (SELECT cpf FROM import_staging WHERE key IS NULL)
          ORDER BY cpf, _row DESC) f
    WHERE s.key IS NULL AND s.cpf = f.cpf
    """,
    """
    UPDATE import_staging s SET key = a.external_id
    FROM (SELECT DISTINCT ON (cpf) cpf, external_id FROM crm_affiliate
          WHERE cpf IN (SELECT cpf FROM import_staging WHERE key IS NULL)
          ORDER BY cpf, id) a
    WHERE s.key IS NULL AND s.cpf = a.cpf
    """,
    "UPDATE import_staging SET key = 'cpf:' || cpf WHERE key IS NULL",
]


Counts = tuple[int, int, int, int]  # created, updated, unchanged, repeated in the file


# The counts an import's final audit entry carries.
IMPORT_COUNTERS = ("total_rows", "created", "updated", "unchanged", "rejected", "warned", "duplicates")


class ImportCancelled(Exception):
    """Someone asked the run to stop (import_job_cancel)."""


def import_lease_name(*, job: ImportJob) -> str:
    """The lease a run of `job` holds (crm.services.leases): alive while its process is."""
    return f"import:{job.pk}:{job.attempt}"


def affiliates_import(
    *, job: ImportJob, path: Path | None = None, on_progress: Progress | None = None
) -> ImportJob:
    """Run an import to the end. Rejected rows are stored as they are found; affiliates change in one
    transaction at the end. ImportFileError when the file cannot be read (the job is marked failed)."""
    with transaction.atomic():
        ImportJob.objects.filter(pk=job.pk).update(
            status=ImportStatus.RUNNING, started_at=timezone.now(), error=""
        )
        job.refresh_from_db()
        audit_record(
            action=AuditAction.IMPORT_STARTED,
            target_type=AuditTarget.IMPORT,
            target_id=job.pk,
            changes={"file": job.display_name, "attempt": job.attempt, "expected_rows": job.expected_rows},
        )
    job.rejected_rows.all().delete()  # a re-run starts clean
    try:
        source = source_open(import_job_path(job=job, path=path))
    except ImportFileError as exc:
        _fail(job, str(exc))
        raise
    lease = import_lease_name(job=job)

    def progress(job: ImportJob) -> None:
        # Between batches: the only points where stopping loses nothing (the base changes at the end).
        if lease_stop_requested(name=lease):
            raise ImportCancelled
        if on_progress is not None:
            on_progress(job)

    try:
        with lease_hold(name=lease), connection.cursor() as cursor:
            counts = _initial_load(cursor, job, source, progress) if _initial_load_fits(cursor, job) else None
            if counts is None:
                counts = _staged_upsert(cursor, job, source, progress)
    except ImportCancelled:
        with transaction.atomic():
            ImportJob.objects.filter(pk=job.pk).update(
                status=ImportStatus.CANCELLED,
                error=_("Cancelled before it changed the base."),
                finished_at=timezone.now(),
            )
            job.refresh_from_db()
            audit_record(
                action=AuditAction.IMPORT_CANCELLED,
                target_type=AuditTarget.IMPORT,
                target_id=job.pk,
                changes={"file": job.display_name, "total_rows": job.total_rows},
            )
        return job
    except ImportFileError as exc:
        _fail(job, str(exc))
        raise
    except Exception as exc:
        logger.exception("import %s failed", job.pk)
        _fail(job, f"{type(exc).__name__}: {exc}")
        raise
    finally:
        source.close()
        _drop_temp_tables()
    created, updated, unchanged, duplicates = counts
    with transaction.atomic():
        ImportJob.objects.filter(pk=job.pk).update(
            status=ImportStatus.DONE,
            created=created,
            updated=updated,
            unchanged=unchanged,
            duplicates=duplicates,
            finished_at=timezone.now(),
        )
        job.refresh_from_db()
        # One entry for the whole file: its counts, never a row per affiliate (AffiliateChange
        # keeps what changed on each, linked to the job).
        audit_record(
            action=AuditAction.IMPORT_FINISHED,
            target_type=AuditTarget.IMPORT,
            target_id=job.pk,
            changes={
                "file": job.display_name,
                **{name: getattr(job, name) for name in IMPORT_COUNTERS},
            },
        )
    return job


def _timed_execute(cursor, sql: str, params: dict | None = None) -> None:
    started = time.perf_counter()
    cursor.execute(sql, params)
    logger.info("import step %.2fs: %s", time.perf_counter() - started, " ".join(sql.split())[:60])


def _staged_upsert(cursor, job: ImportJob, source: SourceFile, on_progress: Progress | None) -> Counts:
    """The general way: stage the whole file, then merge, record the changes and upsert in one
    transaction."""
    _create_staging(cursor)
    _read(cursor, job=job, source=source, on_progress=on_progress, copy_valid=_staging_copy)
    with transaction.atomic():
        # An import can be re-run (upserts are idempotent): not waiting for the WAL flush is safe here.
        cursor.execute("SET LOCAL synchronous_commit TO OFF")
        merged, staged, distinct = _merge_staged(cursor)
        _timed_execute(cursor, CHANGES_SQL.replace("{source}", merged), {"job": str(job.pk)})
        _timed_execute(cursor, UPSERT_SQL.replace("{source}", merged))
        created, updated = cursor.fetchone()
    return created, updated, distinct - created - updated, staged - distinct


def _merge_staged(cursor) -> tuple[str, int, int]:
    """Give the staged rows their keys and merge the keys the file repeats; returns the table to
    upsert from, how many rows were staged and how many keys they have."""
    cursor.execute("SELECT EXISTS (SELECT 1 FROM import_staging WHERE key IS NULL)")
    if cursor.fetchone()[0]:
        for sql in KEYS_SQL:
            _timed_execute(cursor, sql)
    _timed_execute(cursor, "ANALYZE import_staging")
    cursor.execute("SELECT count(*), count(DISTINCT key) FROM import_staging")
    staged, distinct = cursor.fetchone()
    if distinct == staged:
        return "import_staging", staged, distinct
    _timed_execute(cursor, "CREATE INDEX ON import_staging (key)")
    _timed_execute(cursor, MERGE_SQL)
    _timed_execute(cursor, "ANALYZE import_merged")
    return "import_merged", staged, distinct


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


def _initial_load_fits(cursor, job: ImportJob) -> bool:
    return INITIAL_LOAD_MIN_ROWS <= job.expected_rows <= INITIAL_LOAD_MAX_ROWS and _base_is_empty(cursor)


def _initial_load(cursor, job: ImportJob, source: SourceFile, on_progress: Progress | None) -> Counts | None:
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
            read = _read(
                cursor,
                job=job,
                source=source,
                on_progress=on_progress,
                copy_valid=_affiliates_copy,
                keep_valid=True,
                keep_problems=problems.write,
            )
        created = _merge_repeated(cursor, pl.concat(read)) if read else 0
        cursor.execute(f"SET LOCAL maintenance_work_mem = '{INDEX_BUILD_MEMORY}'")
        for sql in rebuild:
            _timed_execute(cursor, sql)
        _timed_execute(cursor, "ANALYZE crm_affiliate")
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
            _pg_array("tags").fill_null("{}"),
            pl.col("attributes").fill_null("{}"),
        )
    )
    return _csv_copy(f"COPY crm_affiliate ({', '.join(AFFILIATE_COLUMNS)}) FROM STDIN (FORMAT csv)", rows)


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
    _create_staging(cursor)
    _copy(cursor, _staging_copy(merge))
    _timed_execute(cursor, "DELETE FROM crm_affiliate WHERE external_id IN (SELECT key FROM import_staging)")
    deleted = cursor.rowcount
    # The deletes queue the deferred checks of the foreign keys to crm_affiliate, and ALTER TABLE
    # (rebuilding the unique key) refuses a table with pending checks: run them now.
    connection.check_constraints()
    merged, _staged, _distinct = _merge_staged(cursor)
    _timed_execute(cursor, INSERT_SQL.replace("{source}", merged))
    return copied - deleted + cursor.rowcount


def _drop_temp_tables() -> None:
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS import_staging")
        cursor.execute("DROP TABLE IF EXISTS import_merged")


def _fail(job: ImportJob, message: str) -> None:
    with transaction.atomic():
        ImportJob.objects.filter(pk=job.pk).update(
            status=ImportStatus.FAILED, error=message, finished_at=timezone.now()
        )
        job.refresh_from_db()
        audit_record(
            action=AuditAction.IMPORT_FAILED,
            target_type=AuditTarget.IMPORT,
            target_id=job.pk,
            changes={"file": job.display_name, "error": message[:500]},
        )
