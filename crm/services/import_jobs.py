"""An import job's life around its run: a worker claims the attempt it was queued for, people cancel
and retry, and the reaper marks failed the runs whose process died.

    queued ──claim──► running ──► done | failed | cancelled
      │                  │ (lease lapsed: the worker died)
      └──cancel──►  cancelled ◄── failed ──retry──► queued (next attempt)
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.models import AuditAction, AuditTarget, ImportJob, ImportStatus
from crm.readers import ImportFileError
from crm.services.audit import audit_record
from crm.services.imports import IMPORT_COUNTERS, affiliates_import, import_lease_name, import_queue
from crm.services.leases import (
    LEASE_SECONDS,
    lease_alive,
    lease_stop_clear,
    lease_stop_request,
    lease_stop_requested,
)

logger = logging.getLogger(__name__)

ACTIVE = (ImportStatus.QUEUED, ImportStatus.RUNNING)
RETRYABLE = (ImportStatus.FAILED, ImportStatus.CANCELLED)
COUNTERS = IMPORT_COUNTERS


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


@transaction.atomic
def import_job_cancel(*, job: ImportJob) -> ImportJob:
    """Cancel a queued job at once; ask a running one to stop at its next batch (a run already
    writing the base finishes: stopping it then would save nothing)."""
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
    for counter in COUNTERS:
        setattr(job, counter, 0)
    job.save(update_fields=list(COUNTERS))
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
