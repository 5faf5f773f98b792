from crm.celery import app
from crm.services.import_jobs import import_job_run, import_jobs_reap


@app.task(name="crm.import_run")
def import_run(job_id: str, attempt: int = 1) -> str:
    """Run a queued attempt of an import inside its UDN's schema (the `long` queue)."""
    return import_job_run(job_id=job_id, attempt=attempt)


@app.task(name="crm.imports_reap", ignore_result=True)
def imports_reap() -> int:
    """Beat, per UDN every minute: mark failed the imports whose worker died."""
    return import_jobs_reap()
