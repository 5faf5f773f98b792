"""Keeping tracked segments' members: beat runs the full refresh per UDN every 5 minutes
(`segments-refresh@<schema>`; time windows move without any event), and the hooks queue a refresh
of the affiliates an event, a consent or a change of data concerns (crm.services.segments)."""

from __future__ import annotations

from crm.celery import app
from crm.services.segments import REFRESH_AFFILIATES_TASK, REFRESH_TASK
from crm.services.segments import segments_refresh as refresh
from crm.services.segments import segments_refresh_affiliates as refresh_affiliates


@app.task(name=REFRESH_TASK, ignore_result=True)
def segments_refresh(segment_ids: list[int] | None = None) -> int:
    """Refresh the task's UDN's tracked segments (or those of `segment_ids`); returns the changes."""
    return refresh(segment_ids=segment_ids)


@app.task(name=REFRESH_AFFILIATES_TASK, ignore_result=True)
def segments_refresh_affiliates(segment_ids: list[int], affiliate_ids: list[int]) -> int:
    """Refresh only these affiliates of these tracked segments; returns the changes."""
    return refresh_affiliates(segment_ids=segment_ids, affiliate_ids=affiliate_ids)
