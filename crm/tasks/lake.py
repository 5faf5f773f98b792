"""The data-lake export as a Celery task (beat runs it nightly per UDN; "Export now" queues it)."""

from __future__ import annotations

import logging

from crm.celery import app
from crm.services.lake import LakeExportBusy, lake_export_run

logger = logging.getLogger(__name__)


@app.task(name="crm.lake_export")
def lake_export() -> dict[str, object]:
    """Runs inside the UDN's schema (the schema travels with the task)."""
    try:
        export = lake_export_run()
    except LakeExportBusy:
        logger.info("lake export skipped: another export of this UDN is running")
        return {"skipped": "busy"}
    return {
        "id": export.pk,
        "affiliates": export.affiliates,
        "events": export.events,
        "files": len(export.files),
    }
