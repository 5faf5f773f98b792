"""Insights' Celery tasks (thin: one service call each). The full rebuild reads every event of a
UDN (minutes on a big base): the long queue (crm.queues.LONG_TASKS). A refresh of some days
follows each stored batch of events, on the default queue."""

from __future__ import annotations

from crm.celery import app
from crm.hooks import AcceptedEvent, AffiliateChanged, AffiliatesImported

REBUILD_TASK = "insights.rollups_rebuild"
REFRESH_TASK = "insights.rollups_refresh"
IMPORT_REFRESH_TASK = "insights.rollups_refresh_import"
WEEKLY_REPORT_TASK = "insights.weekly_report"
COORDINATOR_REPORT_TASK = "insights.weekly_report_coordinators"


def on_events_stored(events: list[AcceptedEvent]) -> None:
    """crm.hooks listener (after the commit): refresh the days these events touch."""
    rollups_refresh.delay([event.pk for event in events])


#: Beyond this many days touched by one batch (a backfill of old history), one full rebuild on the
#: long queue costs less than recomputing them here, day by day, batch after batch.
REFRESH_MAX_DAYS = 120
#: A rebuild asked for by backfilling batches is queued once in this many seconds.
REBUILD_DEBOUNCE_SECONDS = 600


#: The affiliate fields the rollups group by.
GROUPING_FIELDS = frozenset({"origin", "plan"})


def on_affiliates_changed(changes: list[AffiliateChanged]) -> None:
    """crm.hooks listener: an affiliate's origin or plan changed: its days are grouped anew."""
    ids = sorted({c.affiliate_id for c in changes if not c.created and GROUPING_FIELDS & set(c.fields)})
    if ids:
        rollups_refresh_affiliates.delay(ids)


@app.task(name="insights.rollups_refresh_affiliates", acks_late=True)
def rollups_refresh_affiliates(affiliate_ids: list[int]) -> dict[str, int]:
    from insights.services.rollups import rollup_days_of_affiliates

    return _refresh(rollup_days_of_affiliates(affiliate_ids=affiliate_ids))


def on_affiliates_imported(imports: list[AffiliatesImported]) -> None:
    """crm.hooks listener: an import that updated affiliates may have moved some to another origin
    or plan; one task a job (on the long queue: a big file moves thousands) finds which from the
    changes the import recorded and refreshes their days, or queues the debounced rebuild when they
    are more than REFRESH_MAX_DAYS."""
    for done in imports:
        if done.updated:
            rollups_refresh_import.delay(done.job_id)


@app.task(name=IMPORT_REFRESH_TASK, acks_late=True)
def rollups_refresh_import(job_id: str) -> dict[str, int]:
    from insights.services.rollups import rollup_days_of_import

    return _refresh(rollup_days_of_import(job_id=job_id, fields=sorted(GROUPING_FIELDS)))


@app.task(name=REFRESH_TASK, acks_late=True)
def rollups_refresh(event_pks: list[int]) -> dict[str, int]:
    from insights.services.rollups import rollup_days_affected

    return _refresh(rollup_days_affected(event_pks=event_pks))


def _refresh(days: list) -> dict[str, int]:
    from django.core.cache import cache

    from insights.services.rollups import rollups_refresh_days

    if len(days) > REFRESH_MAX_DAYS:
        # The cache key carries the schema (django_tenants.cache.make_key): one rebuild per UDN.
        if cache.add("insights:rebuild-queued", 1, timeout=REBUILD_DEBOUNCE_SECONDS):
            rollups_rebuild.delay()
        return {"days": len(days), "rows": 0}
    return {"days": len(days), "rows": rollups_refresh_days(days=days)}


@app.task(name=REBUILD_TASK, acks_late=True)
def rollups_rebuild() -> dict[str, float]:
    from insights.services.rollups import rollups_rebuild as rebuild

    result = rebuild()
    return {"seconds": result.seconds, "rows": result.rows}


@app.task(name=WEEKLY_REPORT_TASK)
def weekly_report() -> int:
    """The UDN's weekly report to its marketers (e-mails sent)."""
    from insights.services.report import weekly_report_send_udn

    return weekly_report_send_udn()


@app.task(name=COORDINATOR_REPORT_TASK)
def weekly_report_coordinators() -> int:
    """The shared space's weekly report to the coordinators (every UDN side by side)."""
    from insights.services.report import weekly_report_send_coordinators

    return weekly_report_send_coordinators()
