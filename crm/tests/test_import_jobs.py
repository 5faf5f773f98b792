"""An import job's life: claimed once per attempt, cancelled, retried, reaped when its worker died;
and run by the same prefork workers, on the same queues, as `./dev up` runs them."""

from __future__ import annotations

import os
import re
import signal
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.utils import timezone
from django_tenants.utils import tenant_context

from crm.celery import app
from crm.leases import _renew as renew
from crm.leases import lease_hold, lease_stop_close, lease_stop_request, lease_stop_requested
from crm.models import Affiliate, ImportJob, ImportStatus
from crm.selectors.imports import import_job_cancellable
from crm.services.imports import (
    affiliates_import,
    import_job_cancel,
    import_job_create,
    import_job_retry,
    import_job_run,
    import_jobs_reap,
    import_lease_name,
    import_queue,
)
from tenants.models import UDN
from tenants.services import TICK_TASK
from tenants.tests.helpers import wait_for

HEADER = "Código;Nome;CPF\n"


def write_base(path: Path, rows: int, *, prefix: str = "J") -> Path:
    with path.open("w", encoding="utf-8") as out:
        out.write(HEADER)
        out.writelines(f"{prefix}{n:07d};Pessoa Número {n};\n" for n in range(rows))
    return path


# --- the life of a job, in this process --------------------------------------------------------


def test_a_cancelled_queued_import_is_never_run(udn_a, tmp_path):
    with tenant_context(udn_a):
        job = import_queue(job=import_job_create(path=write_base(tmp_path / "b.csv", 3)))

        job = import_job_cancel(job=job)
        outcome = import_job_run(job_id=str(job.pk), attempt=job.attempt)

        assert job.status == ImportStatus.CANCELLED
        assert outcome == "skipped"
        assert not Affiliate.objects.exists()


def test_an_attempt_runs_once_and_a_superseded_attempt_never(udn_a, tmp_path):
    with tenant_context(udn_a):
        job = import_queue(job=import_job_create(path=write_base(tmp_path / "b.csv", 3)))

        first = import_job_run(job_id=str(job.pk), attempt=job.attempt)
        # The broker delivers the same message again (its worker died after finishing).
        again = import_job_run(job_id=str(job.pk), attempt=job.attempt)
        stale = import_job_run(job_id=str(job.pk), attempt=job.attempt - 1)

        assert (first, again, stale) == ("done", "skipped", "skipped")
        assert Affiliate.objects.count() == 3


def test_a_run_asked_to_stop_ends_cancelled_without_touching_the_base(udn_a, tmp_path):
    with tenant_context(udn_a):
        job = import_queue(job=import_job_create(path=write_base(tmp_path / "b.csv", 5)))
        ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.RUNNING)
        lease_stop_request(name=import_lease_name(job=job))

        job = affiliates_import(job=job)

        assert job.status == ImportStatus.CANCELLED
        assert job.error == "Cancelada antes de alterar a base."
        assert not Affiliate.objects.exists()


def test_a_run_whose_lease_lapsed_is_reaped_as_failed_and_a_live_one_is_not(udn_a, tmp_path):
    with tenant_context(udn_a):
        dead = import_queue(job=import_job_create(path=write_base(tmp_path / "a.csv", 2)))
        alive = import_queue(job=import_job_create(path=write_base(tmp_path / "b.csv", 2)))
        ImportJob.objects.update(status=ImportStatus.RUNNING, started_at=timezone.now())
        renew(import_lease_name(job=dead))  # the dead run renewed its lease once, then its process ended
        reaped_at_once = import_jobs_reap()
        with (
            time_machine.travel(timezone.now() + timedelta(minutes=2), tick=False),
            lease_hold(name=import_lease_name(job=alive)),  # the live run renews its lease as time goes by
        ):
            reaped_later = import_jobs_reap()

        dead.refresh_from_db()
        alive.refresh_from_db()
        assert (reaped_at_once, reaped_later) == (0, 1)
        assert dead.status == ImportStatus.FAILED
        assert "terminou inesperadamente" in dead.error
        assert alive.status == ImportStatus.RUNNING


def test_retry_starts_a_clean_new_attempt(udn_a, tmp_path):
    with tenant_context(udn_a):
        job = import_queue(job=import_job_create(path=write_base(tmp_path / "b.csv", 4)))
        ImportJob.objects.filter(pk=job.pk).update(
            status=ImportStatus.FAILED, total_rows=2, rejected=1, warned=1, error="x"
        )

        job = import_job_retry(job=ImportJob.objects.get(pk=job.pk))
        assert (job.total_rows, job.rejected, job.warned) == (0, 0, 0)  # as the page shows it until it runs
        outcome = import_job_run(job_id=str(job.pk), attempt=job.attempt)

        job.refresh_from_db()
        assert (job.attempt, outcome, job.status, job.error) == (2, "done", ImportStatus.DONE, "")
        assert job.total_rows == 4 and job.created == 4


def test_cancel_and_retry_buttons_for_marketers_only(udn_a, marketer, analyst, client_for, tmp_path):
    with tenant_context(udn_a):
        job = import_queue(job=import_job_create(path=write_base(tmp_path / "b.csv", 2)))
    url = f"/imports/{job.pk}/"

    as_analyst = client_for(udn_a, analyst)
    assert 'data-testid="import-cancel"' not in as_analyst.get(url).content.decode()
    assert as_analyst.post(f"{url}cancel/").status_code == 403

    as_marketer = client_for(udn_a, marketer)
    assert 'data-testid="import-cancel"' in as_marketer.get(url).content.decode()
    page = as_marketer.post(f"{url}cancel/", follow=True).content.decode()
    assert "Importação cancelada." in page and 'data-testid="import-retry"' in page
    with tenant_context(udn_a):
        assert ImportJob.objects.get(pk=job.pk).status == ImportStatus.CANCELLED


def test_long_work_and_ticks_go_to_separate_queues():
    route = app.amqp.router.route
    assert route({}, "crm.import_run")["queue"].name == "long"
    assert route({}, "crm.lake_export")["queue"].name == "long"
    assert route({}, TICK_TASK)["queue"].name == "default"
    assert route({}, "crm.webhooks_send")["queue"].name == "default"


# --- the real workers -------------------------------------------------------------------------

worker = pytest.mark.worker


def _threads(pid: int) -> list[str]:
    tasks = Path(f"/proc/{pid}/task")
    return [(tasks / tid / "comm").read_text().strip() for tid in os.listdir(tasks)]


def _children(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _clean(udn: UDN, prefix: str) -> None:
    with tenant_context(udn):
        ImportJob.objects.all().delete()
        # Straight to SQL: these affiliates have nothing hanging on them, and the ORM's collector
        # would load hundreds of thousands of rows first.
        Affiliate.objects.filter(external_id__startswith=prefix)._raw_delete(Affiliate.objects.db)


@worker
def test_the_worker_parents_never_start_polars_threads_before_forking(celery_workers):
    """polars' thread pool (threads polars-0, polars-1...) is not fork-safe: a parent that started
    it leaves its forked children stuck. (Importing polars starts only its out-of-core cleaner.)"""
    for pid in (proc.pid for proc in celery_workers.values()):
        assert not [t for t in _threads(pid) if re.fullmatch(r"polars-\d+", t)], _threads(pid)


@worker
def test_an_import_queued_like_the_ui_does_finishes_in_the_prefork_worker(
    celery_workers, committed, tmp_path
):
    alpha = UDN.objects.get(slug="alpha")
    committed.append(lambda: _clean(alpha, "Q"))
    with tenant_context(alpha):
        job = import_queue(job=import_job_create(path=write_base(tmp_path / "q.csv", 20, prefix="Q")))

        assert wait_for(lambda: ImportJob.objects.get(pk=job.pk).status == ImportStatus.DONE, 60)
        assert Affiliate.objects.filter(external_id__startswith="Q").count() == 20


@worker
def test_ticks_run_while_the_long_queue_is_busy(celery_workers, committed, tmp_path):
    alpha = UDN.objects.get(slug="alpha")
    committed.append(lambda: _clean(alpha, "B"))
    long_worker = celery_workers["worker-long"].pid
    os.kill(long_worker, signal.SIGSTOP)  # the long queue's only worker, busy for as long as we like
    try:
        with tenant_context(alpha):
            job = import_queue(job=import_job_create(path=write_base(tmp_path / "b.csv", 5, prefix="B")))
        tick = app.send_task(TICK_TASK, headers={"_schema_name": "alpha"}).get(timeout=30)
        with tenant_context(alpha):
            assert ImportJob.objects.get(pk=job.pk).status == ImportStatus.QUEUED
    finally:
        os.kill(long_worker, signal.SIGCONT)
    assert tick["schema"] == "alpha"
    with tenant_context(alpha):
        assert wait_for(lambda: ImportJob.objects.get(pk=job.pk).status == ImportStatus.DONE, 60)


@worker
def test_an_import_whose_worker_was_killed_is_reaped_then_retried_to_the_end(
    celery_workers, committed, tmp_path
):
    alpha = UDN.objects.get(slug="alpha")
    committed.append(lambda: _clean(alpha, "K"))
    path = write_base(tmp_path / "k.csv", 300_000, prefix="K")
    with tenant_context(alpha):
        job = import_queue(job=import_job_create(path=path))
        assert wait_for(lambda: ImportJob.objects.get(pk=job.pk).status == ImportStatus.RUNNING, 60)
        (child,) = _children(celery_workers["worker-long"].pid)
        os.kill(child, signal.SIGKILL)  # the process running the import dies mid-file

        # The broker hands the message to a new child, which finds nothing to claim; the job is
        # left running until its lease lapses, then beat's reaper marks it failed.
        with time_machine.travel(timezone.now() + timedelta(minutes=2), tick=True):
            assert wait_for(lambda: import_jobs_reap() == 1, 30)
        job.refresh_from_db()
        assert job.status == ImportStatus.FAILED
        assert "tentar novamente" in job.error
        assert not Affiliate.objects.filter(external_id__startswith="K").exists()

        job = import_job_retry(job=job)
        assert wait_for(lambda: ImportJob.objects.get(pk=job.pk).status == ImportStatus.DONE, 180)
        assert Affiliate.objects.filter(external_id__startswith="K").count() == 300_000


def test_once_an_import_writes_the_base_cancelling_is_refused_and_the_page_says_so(
    udn_a, marketer, client_for, tmp_path
):
    with tenant_context(udn_a):
        job = import_queue(job=import_job_create(path=write_base(tmp_path / "b.csv", 3)))
        ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.RUNNING)
        job.refresh_from_db()
        assert import_job_cancellable(job=job)
        lease_stop_close(name=import_lease_name(job=job))  # the run finished reading: it writes now

        assert not import_job_cancellable(job=job)
        assert import_job_cancel(job=job).status == ImportStatus.RUNNING
        assert not lease_stop_requested(name=import_lease_name(job=job))

    client = client_for(udn_a, marketer)
    page = client.post(f"/imports/{job.pk}/cancel/", follow=True).content.decode()
    assert "Tarde demais para cancelar" in page
    assert 'data-testid="import-cancel"' not in page and 'data-testid="import-writing"' in page
