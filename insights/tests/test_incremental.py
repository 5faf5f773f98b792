"""Rollups follow the events as they arrive: crm's events_stored hook queues a refresh of the
days a batch touches, which a real Celery worker runs in the batch's UDN; a late event corrects
the past day it belongs to. The beat entries exist per UDN (rebuild on the long queue)."""

from __future__ import annotations

import time
from datetime import date

from django_tenants.utils import tenant_context

from crm.models import Affiliate, Event
from crm.queues import LONG_TASKS
from crm.services.events import EventInput, events_ingest
from insights.models import EventDay
from insights.services.rollups import rollups_rebuild
from insights.tasks import REBUILD_TASK
from insights.tests.helpers import at
from tenants.models import UDN
from tenants.services import UDN_PERIODIC_TASKS


def _wait_for(check, *, seconds: float = 60) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return False


def _firsts(day: date) -> tuple[int, int]:
    row = EventDay.objects.filter(day=day, type="cash_in").values_list("events", "firsts").first()
    return row or (0, 0)


def test_stored_events_refresh_their_days_through_the_worker(
    django_db_setup, committed, celery_worker_process
):
    alpha = UDN.objects.get(slug="alpha")

    def cleanup() -> None:
        with tenant_context(alpha):
            Event.objects.filter(event_id__startswith="inc-").delete()
            Affiliate.objects.filter(external_id="INC-1").delete()
            rollups_rebuild()

    committed.append(cleanup)
    with tenant_context(alpha):
        who = Affiliate.objects.create(external_id="INC-1", name="Pessoa Incremental")
        rollups_rebuild()
        events_ingest(
            items=[
                EventInput(
                    event_id="inc-1",
                    type="cash_in",
                    occurred_at=at(3, 10, 12),
                    affiliate_id=who.pk,
                    properties={"amount": "10.00"},
                )
            ],  # fmt: skip
            source="test",
        )
        assert _wait_for(lambda: _firsts(date(2026, 3, 10)) == (1, 1)), "the worker did not refresh 10/03"
        # A late deposit, earlier: it becomes the first, and 10/03's deposit a repeat one.
        events_ingest(
            items=[
                EventInput(
                    event_id="inc-2",
                    type="cash_in",
                    occurred_at=at(3, 2, 12),
                    affiliate_id=who.pk,
                    properties={"amount": "5.00"},
                )
            ],  # fmt: skip
            source="test",
        )
        assert _wait_for(lambda: _firsts(date(2026, 3, 2)) == (1, 1)), "the late day was not computed"
        assert _wait_for(lambda: _firsts(date(2026, 3, 10)) == (1, 0)), "the former first was not corrected"


def test_beat_runs_the_rebuild_and_the_weekly_report_per_udn_and_the_rebuild_on_the_long_queue():
    tasks = {spec.task for spec in UDN_PERIODIC_TASKS.values()}
    assert {REBUILD_TASK, "insights.weekly_report"} <= tasks
    assert REBUILD_TASK in LONG_TASKS
