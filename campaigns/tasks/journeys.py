"""Journey tasks (default queue): the per-UDN tick (`journeys-tick@<schema>`: date triggers and
due enrollments), the advance kicked after an enrollment is made, the events' task queued by
crm.hooks.events_stored after an ingest commits, and the sender of webhook steps' calls."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone

from campaigns.services.journeys import (
    ADVANCE_TASK,
    EVENTS_TASK,
    WEBHOOKS_TASK,
    EventRef,
    journey_webhooks_send_due,
    journeys_advance_due,
    journeys_on_events,
    journeys_on_segment_changes,
    journeys_tick,
)
from crm.celery import app

TICK_TASK = "campaigns.journeys_tick"
SEGMENTS_TASK = "campaigns.journeys_on_segments"


@app.task(name=TICK_TASK, ignore_result=True)
def journeys_tick_task() -> dict[str, int]:
    return journeys_tick(now=timezone.now())


@app.task(name=ADVANCE_TASK, ignore_result=True)
def journeys_advance_task() -> int:
    return journeys_advance_due(now=timezone.now())


@app.task(name=WEBHOOKS_TASK, ignore_result=True)
def journey_webhooks_send_task() -> int:
    """Send the due calls of webhook steps (queued after a batch records them; the periodic
    `journey-webhooks@<schema>` is the safety net and the retries' clock)."""
    return journey_webhooks_send_due()


@app.task(name=EVENTS_TASK, ignore_result=True)
def journeys_on_events_task(events: list[list[Any]]) -> dict[str, int]:
    """`events`: [pk, affiliate_id, type, occurred_at ISO] each (JSON-safe)."""
    refs = [
        EventRef(
            pk=int(pk), affiliate_id=int(affiliate_id), type=str(kind), occurred_at=datetime.fromisoformat(at)
        )
        for pk, affiliate_id, kind, at in events
    ]
    return journeys_on_events(events=refs, now=timezone.now())


@app.task(name=SEGMENTS_TASK, ignore_result=True)
def journeys_on_segments_task(changes: list[list[Any]]) -> int:
    """`changes`: [segment_id, affiliate_id, entered] each."""

    class Change:
        def __init__(self, segment_id: int, affiliate_id: int, entered: bool) -> None:
            self.segment_id, self.affiliate_id, self.entered = segment_id, affiliate_id, entered

    return journeys_on_segment_changes(changes=[Change(*c) for c in changes], now=timezone.now())
