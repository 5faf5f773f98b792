"""The data-quality snapshot: nightly (beat runs it per UDN as `quality-snapshot@<schema>`) and
whenever the UDN page queues a computation ("recalcular", or no recent figures)."""

from __future__ import annotations

from crm.celery import app
from crm.services.quality import quality_snapshot_compute


@app.task(name="crm.quality_snapshot")
def quality_snapshot() -> dict[str, object]:
    """Store today's figures of the UDN whose schema the task carries."""
    snapshot = quality_snapshot_compute()
    return {"day": snapshot.day.isoformat(), "score": snapshot.figures.get("score")}
