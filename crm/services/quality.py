"""Data-quality snapshots (one a day per UDN), computed by workers only."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from crm.models import AuditAction, AuditTarget, QualitySnapshot
from crm.selectors.quality import (
    COMPUTING_CACHE_KEY,
    COMPUTING_LEASE_SECONDS,
    quality_computing,
    quality_figures,
    udn_today,
)
from crm.selectors.quality_dashboard import QualityDashboard, quality_dashboard
from crm.services.audit import audit_record
from tenants.actors import SYSTEM_ACTOR


@transaction.atomic
def quality_snapshot_take(*, day: date | None = None) -> QualitySnapshot:
    """Compute the current UDN's figures now and store them as `day`'s snapshot (today in the
    UDN's time zone by default), replacing that day's earlier one. Slow on a big base (seconds
    a million affiliates): only workers call it (`quality_snapshot_compute`), never a page."""
    day = day or udn_today()
    figures = quality_figures()
    # INSERT ... ON CONFLICT (day) DO UPDATE: two takers on the same day never collide.
    (snapshot,) = QualitySnapshot.objects.bulk_create(
        [QualitySnapshot(day=day, figures=figures)],
        update_conflicts=True,
        unique_fields=["day"],
        update_fields=["figures", "taken_at"],
    )
    return snapshot


def quality_snapshot_compute() -> QualitySnapshot:
    """Today's snapshot, as the worker takes it (the nightly run and each "recalcular"): the page
    shows "em cálculo" from the moment it starts until the figures are stored, and never waits
    for them. The state is cleared whatever happens, so a failure never leaves the page stuck."""
    queued = quality_computing()
    state = {"queued_at": queued.queued_at if queued else None, "started_at": timezone.now()}
    cache.set(COMPUTING_CACHE_KEY, state, COMPUTING_LEASE_SECONDS)
    try:
        return quality_snapshot_take()
    finally:
        cache.delete(COMPUTING_CACHE_KEY)


def quality_recompute_request(*, automatic: bool = False) -> bool:
    """Queue a computation of the current UDN's figures unless one is queued or running (the
    cache's atomic add is the lock; it lapses after COMPUTING_LEASE_SECONDS should the worker
    die). True when this call queued it."""
    from crm.tasks.quality import quality_snapshot  # the tasks module imports this one

    state = {"queued_at": timezone.now(), "started_at": None}
    if not cache.add(COMPUTING_CACHE_KEY, state, COMPUTING_LEASE_SECONDS):
        return False
    # A page that finds its figures stale queues one by itself: the system's doing, not the reader's.
    audit_record(
        action=AuditAction.QUALITY_RECOMPUTE_REQUESTED,
        target_type=AuditTarget.QUALITY,
        changes={"automatic": automatic},
        actor=SYSTEM_ACTOR if automatic else None,
    )
    # Outside a transaction on_commit runs at once; inside one, only if it commits.
    transaction.on_commit(quality_snapshot.delay)
    return True


def quality_dashboard_open() -> QualityDashboard:
    """The UDN page's dashboard, from the stored figures only (never computed on request). When
    none are recent (QualityDashboard.stale) a computation is queued, and the page says so."""
    dashboard = quality_dashboard()
    if dashboard.stale and dashboard.computing is None:
        quality_recompute_request(automatic=True)
        dashboard = replace(dashboard, computing=quality_computing())
    return dashboard
