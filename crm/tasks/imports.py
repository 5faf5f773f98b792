from crm.celery import app
from crm.models import ImportJob
from crm.readers import ImportFileError
from crm.services.imports import affiliates_import


@app.task(name="crm.import_run")
def import_run(job_id: str) -> str:
    """Run a queued import inside its UDN's schema; the job row carries progress and the outcome."""
    job = ImportJob.objects.get(pk=job_id)
    try:
        job = affiliates_import(job=job)
    except ImportFileError as exc:
        return f"failed: {exc}"  # recorded on the job; an unreadable file is not worth a retry
    return job.status
