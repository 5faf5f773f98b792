"""The nightly data-quality snapshot (beat runs it per UDN as `quality-snapshot@<schema>`)."""

from __future__ import annotations

from crm.celery import app
from crm.services.quality import quality_snapshot_take


@app.task(name="crm.quality_snapshot")
def quality_snapshot() -> dict[str, object]:
    """Store today's figures of the UDN whose schema the task carries."""
    snapshot = quality_snapshot_take()
    return {"day": snapshot.day.isoformat(), "score": snapshot.figures.get("score")}
