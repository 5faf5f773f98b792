from typing import Any

from crm.celery import app
from crm.services.imports import import_job_run, import_jobs_reap
from tenants.actors import IMPORT, Actor, actor_bound


@app.task(name="crm.import_run")
def import_run(job_id: str, attempt: int = 1, actor: dict[str, Any] | None = None) -> str:
    """Run a queued attempt of an import inside its UDN's schema (the `long` queue), acting for
    whoever queued it (`actor`, tenants.actors.Actor.as_dict; an import actor when absent)."""
    with actor_bound(Actor.from_dict(actor) or Actor(kind=IMPORT, label="import")):
        return import_job_run(job_id=job_id, attempt=attempt)


@app.task(name="crm.imports_reap", ignore_result=True)
def imports_reap() -> int:
    """Beat, per UDN every minute: mark failed the imports whose worker died."""
    return import_jobs_reap()
