"""An import's run: a worker claims the attempt it was queued for, then the file is read batch by
batch into a staging table and the rows with problems into RejectedRow (crm.services.imports.staging);
in one transaction at the end the keys are resolved, rows the file repeats merged, the changes
recorded and everything upserted (crm.services.imports.sql). A big file into an empty base takes
the first load instead (crm.services.imports.first_load)."""

from __future__ import annotations

import logging
from pathlib import Path

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm import hooks
from crm.hooks import AffiliatesImported
from crm.leases import lease_hold, lease_stop_close, lease_stop_requested
from crm.models import AuditAction, AuditTarget, ImportJob, ImportStatus
from crm.readers import ImportFileError, SourceFile, source_open
from crm.services.audit import audit_record
from crm.services.imports import first_load
from crm.services.imports.jobs import IMPORT_COUNTERS, import_job_path, import_lease_name
from crm.services.imports.sql import CHANGES_SQL, UPSERT_SQL
from crm.services.imports.staging import (
    Counts,
    Progress,
    file_read,
    staged_merge,
    staging_copy,
    staging_create,
    timed_execute,
)

logger = logging.getLogger(__name__)


class ImportCancelled(Exception):
    """Someone asked the run to stop (import_job_cancel)."""


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
            counts = (
                first_load.initial_load(cursor, job, source, progress)
                if first_load.initial_load_fits(cursor, job)
                else None
            )
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
        if created or updated:
            hooks.affiliates_imported.send(
                [AffiliatesImported(job_id=str(job.pk), created=created, updated=updated)]
            )
    return job


def _staged_upsert(cursor, job: ImportJob, source: SourceFile, on_progress: Progress | None) -> Counts:
    """The general way: stage the whole file, then merge, record the changes and upsert in one
    transaction."""
    staging_create(cursor)
    file_read(cursor, job=job, source=source, on_progress=on_progress, copy_valid=staging_copy)
    lease_stop_close(name=import_lease_name(job=job))  # from here on the base changes: too late to cancel
    with transaction.atomic():
        # An import can be re-run (upserts are idempotent): not waiting for the WAL flush is safe here.
        cursor.execute("SET LOCAL synchronous_commit TO OFF")
        merged, staged, distinct = staged_merge(cursor)
        timed_execute(cursor, CHANGES_SQL.replace("{source}", merged), {"job": str(job.pk)})
        # Into an empty base (a first import too big or too small for the first load), the
        # creations are not recorded one by one: the job, found by its run's times, says it.
        cursor.execute("SELECT EXISTS (SELECT 1 FROM crm_affiliate)")
        params = {"job": str(job.pk), "source": "import", "record_created": cursor.fetchone()[0]}
        timed_execute(cursor, UPSERT_SQL.replace("{source}", merged), params)
        created, updated = cursor.fetchone()
    return created, updated, distinct - created - updated, staged - distinct


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


def import_job_run(*, job_id: str, attempt: int) -> str:
    """Run attempt `attempt` of the job if it is still queued for it; what happened, as a word.

    The claim is one conditional UPDATE: a cancelled job, a newer attempt, or a message the broker
    delivers again after its worker died (the run it started was reaped meanwhile) all find nothing
    to claim, so no attempt ever runs twice."""
    claimed = ImportJob.objects.filter(pk=job_id, attempt=attempt, status=ImportStatus.QUEUED).update(
        status=ImportStatus.RUNNING, started_at=timezone.now()
    )
    if not claimed:
        logger.info("import %s attempt %s: nothing to run (cancelled, reaped or superseded)", job_id, attempt)
        return "skipped"
    job = ImportJob.objects.get(pk=job_id)
    try:
        job = affiliates_import(job=job)
    except ImportFileError as exc:
        return f"failed: {exc}"  # recorded on the job; an unreadable file is not worth a retry
    return job.status
