"""An import job's life: it is registered with its file, its column mapping is checked and saved,
then each attempt of its run is queued for a worker (crm.services.imports.run claims it); people
cancel and retry, and the reaper marks failed the runs whose process died.

    queued ──claim──► running ──► done | failed | cancelled
      │                  │ (lease lapsed: the worker died)
      └──cancel──►  cancelled ◄── failed ──retry──► queued (next attempt)
"""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.importing import ATTRIBUTE_PREFIX
from crm.leases import (
    LEASE_SECONDS,
    lease_alive,
    lease_stop_clear,
    lease_stop_request,
    lease_stop_requested,
)
from crm.models import AuditAction, AuditTarget, ColumnMapping, ImportJob, ImportStatus
from crm.readers import header_key, source_open, source_row_estimate
from crm.selectors.imports import (
    FIELD_LABELS,
    import_job_cancellable,
    import_job_is_draft,
    import_lease_name,
    import_mapping_suggest,
)
from crm.services.audit import audit_record
from tenants.actors import audit_actor

logger = logging.getLogger(__name__)


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


# The counts an import's final audit entry carries.
IMPORT_COUNTERS = ("total_rows", "created", "updated", "unchanged", "rejected", "warned", "duplicates")


ACTIVE = (ImportStatus.QUEUED, ImportStatus.RUNNING)
RETRYABLE = (ImportStatus.FAILED, ImportStatus.CANCELLED)


@transaction.atomic
def import_job_discard(*, job: ImportJob) -> None:
    """Delete a draft (a job never queued): the job, its rows with problems and its stored upload
    (once this transaction commits; a command-line import's file on this machine is not ours to
    delete). ValidationError for a job that was ever queued: its run is history."""
    locked = ImportJob.objects.select_for_update().filter(pk=job.pk).first()
    if locked is None or not import_job_is_draft(job=locked):
        raise ValidationError(_("Only an import that was never started can be discarded."))
    stored = locked.file.name if locked.file else ""
    locked.rejected_rows.all().delete()
    audit_record(
        action=AuditAction.IMPORT_DISCARDED,
        target_type=AuditTarget.IMPORT,
        target_id=locked.pk,
        changes={"file": locked.display_name, "expected_rows": locked.expected_rows},
    )
    locked.delete()
    if stored:
        storage = locked.file.storage
        transaction.on_commit(lambda: storage.delete(stored))


@transaction.atomic
def import_job_cancel(*, job: ImportJob) -> ImportJob:
    """Cancel a queued job at once; ask a running one to stop at its next batch (a run already
    writing the base finishes: stopping it then would save nothing)."""
    if not import_job_cancellable(job=job):
        return job  # done, or already writing the base: it finishes (the page says so)
    if job.status == ImportStatus.QUEUED:
        ImportJob.objects.filter(pk=job.pk, status=ImportStatus.QUEUED).update(
            status=ImportStatus.CANCELLED, error=_("Cancelled before it started."), finished_at=timezone.now()
        )
    if job.status in ACTIVE:
        audit_record(
            action=AuditAction.IMPORT_CANCELLED,
            target_type=AuditTarget.IMPORT,
            target_id=job.pk,
            changes={"file": job.display_name, "status": job.status, "requested": True},
        )
        # Also for a queued job: its worker may be claiming it at this very moment.
        lease_stop_request(name=import_lease_name(job=job))
    job.refresh_from_db()
    return job


@transaction.atomic
def import_job_retry(*, job: ImportJob) -> ImportJob:
    """Queue a failed or cancelled job again, as a new attempt from a clean slate."""
    if job.status not in RETRYABLE:
        raise ValueError(f"only a failed or cancelled import can be retried, not a {job.status} one")
    job.rejected_rows.all().delete()
    for counter in IMPORT_COUNTERS:
        setattr(job, counter, 0)
    job.save(update_fields=list(IMPORT_COUNTERS))
    return import_queue(job=job)


def import_jobs_reap() -> int:
    """Mark failed (or cancelled, when that was asked) the running jobs whose lease lapsed: their
    process died. Returns how many. Runs on beat, inside each UDN."""
    reaped = 0
    started_before = timezone.now() - timedelta(seconds=LEASE_SECONDS)
    with transaction.atomic():
        # A row still locked belongs to a run whose transaction is alive: not dead, skip it.
        running = ImportJob.objects.select_for_update(skip_locked=True).filter(
            status=ImportStatus.RUNNING, started_at__lt=started_before
        )
        for job in running:
            lease = import_lease_name(job=job)
            if lease_alive(name=lease):
                continue
            if lease_stop_requested(name=lease):
                status, error = ImportStatus.CANCELLED, _("Cancelled before it changed the base.")
            else:
                status = ImportStatus.FAILED
                error = _(
                    "The import stopped: the process running it ended unexpectedly (restarted or out of"
                    " memory). Nothing was changed in the base; you can try again."
                )
            ImportJob.objects.filter(pk=job.pk).update(status=status, error=error, finished_at=timezone.now())
            audit_record(
                action=AuditAction.IMPORT_CANCELLED
                if status == ImportStatus.CANCELLED
                else AuditAction.IMPORT_FAILED,
                target_type=AuditTarget.IMPORT,
                target_id=job.pk,
                changes={"file": job.display_name, "attempt": job.attempt, "reaped": True},
            )
            lease_stop_clear(name=lease)
            logger.warning("import %s attempt %s reaped: its lease lapsed", job.pk, job.attempt)
            reaped += 1
    return reaped
