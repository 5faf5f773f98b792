"""Rollups follow the events as they arrive: crm's events_stored hook queues a refresh of the
days a batch touches, which a real Celery worker runs in the batch's UDN; a late event corrects
the past day it belongs to. The beat entries exist per UDN (rebuild on the long queue)."""

from __future__ import annotations

import time
from datetime import date

from django_tenants.utils import tenant_context

from crm.models import Affiliate, AffiliateChange, Event, ImportJob
from crm.queues import LONG_TASKS
from crm.services.events import EventInput, events_ingest
from crm.services.imports import affiliates_import, import_job_create
from insights.models import EventDay
from insights.services.rollups import rollups_rebuild, rollups_refresh_days
from insights.tasks import IMPORT_REFRESH_TASK, REBUILD_TASK
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


def test_an_import_moving_an_affiliate_to_another_origin_regroups_its_days_through_the_worker(
    django_db_setup, committed, celery_worker_process, tmp_path
):
    """No nightly rebuild: the import's affiliates_imported hook queues the refresh of the days of
    the affiliates it moved (found by the changes it recorded), on the long queue's real worker."""
    alpha = UDN.objects.get(slug="alpha")
    day = date(2025, 7, 14)

    def cleanup() -> None:
        with tenant_context(alpha):
            Event.objects.filter(event_id__startswith="inc-imp-").delete()
            AffiliateChange.objects.filter(affiliate__external_id="INC-IMP-1").delete()
            Affiliate.objects.filter(external_id="INC-IMP-1").delete()
            ImportJob.objects.filter(original_name__endswith="inc-imp.csv").delete()
            rollups_refresh_days(days=[day])

    committed.append(cleanup)

    def by_origin() -> dict[str, int]:
        rows = EventDay.objects.filter(day=day, type="cash_in").values_list("origin", "events")
        return {origin: n for origin, n in rows if n}

    with tenant_context(alpha):
        who = Affiliate.objects.create(external_id="INC-IMP-1", name="Pessoa Importada", origin="store")
        Event.objects.create(
            event_id="inc-imp-1", affiliate=who, type="cash_in", occurred_at=at(7, 14, 12, year=2025)
        )
        rollups_refresh_days(days=[day])
        assert by_origin() == {"store": 1}
        path = tmp_path / "inc-imp.csv"
        path.write_text("codigo,nome,origem\nINC-IMP-1,Pessoa Importada,site\n")
        job = affiliates_import(job=import_job_create(path=path))
        assert (job.updated, Affiliate.objects.get(pk=who.pk).origin) == (1, "site")
        assert _wait_for(lambda: by_origin() == {"site": 1}), f"not regrouped: {by_origin()}"


def test_beat_runs_the_rebuild_and_the_weekly_report_per_udn_and_the_rebuild_on_the_long_queue():
    tasks = {spec.task for spec in UDN_PERIODIC_TASKS.values()}
    assert {REBUILD_TASK, "insights.weekly_report"} <= tasks
    assert REBUILD_TASK in LONG_TASKS
    assert IMPORT_REFRESH_TASK in LONG_TASKS
