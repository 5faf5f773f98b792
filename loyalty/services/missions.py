"""Missions: each new event may be a step of an active mission; progress per (affiliate,
mission) keeps the steps done; completing every step within the mission's days of the first
pays the bonus once (the ledger's unique (affiliate, mission) among bonuses). One step short,
the affiliate is nudged (messaging)."""

from __future__ import annotations

from datetime import timedelta
from functools import partial

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from crm.models import Event
from loyalty.models import EntryKind, LedgerEntry, Mission, MissionProgress
from loyalty.services.earning import programme_get


def _next_step(mission: Mission, done: list[int], event_type: str) -> int | None:
    """The index of the step this event completes, or None."""
    for index, step in enumerate(mission.steps):
        if index in done:
            continue
        if step == event_type:
            return index
        if mission.ordered:
            return None
    return None


@transaction.atomic
def missions_advance(*, event_pks: list[int]) -> int:
    """Advance missions with these events (in time order); returns how many were completed."""
    today = timezone.localdate()
    missions = list(
        Mission.objects.filter(active=True)
        .filter(Q(starts_on__isnull=True) | Q(starts_on__lte=today))
        .filter(Q(ends_on__isnull=True) | Q(ends_on__gte=today))
    )
    if not missions:
        return 0
    kinds = {step for mission in missions for step in mission.steps}
    events = list(
        Event.objects.filter(pk__in=event_pks, type__in=kinds)
        .order_by("occurred_at", "id")
        .values("affiliate_id", "type", "occurred_at")
    )
    if not events:
        return 0
    affiliates = {event["affiliate_id"] for event in events}
    progress = {
        (p.affiliate_id, p.mission_id): p
        for p in MissionProgress.objects.select_for_update().filter(
            affiliate_id__in=affiliates, mission__in=missions
        )
    }
    completed = 0
    programme = programme_get()
    for event in events:
        for mission in missions:
            key = (event["affiliate_id"], mission.pk)
            row = progress.get(key)
            if row is not None and row.completed_at is not None:
                continue
            if row is not None and event["occurred_at"] > row.started_at + timedelta(
                days=mission.period_days
            ):
                row.done, row.started_at, row.nudged_at = [], event["occurred_at"], None  # the window lapsed
            done = list(row.done) if row else []
            step = _next_step(mission, done, event["type"])
            if step is None:
                continue
            if row is None:
                row = MissionProgress(
                    mission=mission,
                    affiliate_id=event["affiliate_id"],
                    done=[],
                    started_at=event["occurred_at"],
                )
                progress[key] = row
            if not done:
                row.started_at = event["occurred_at"]
            row.done = sorted([*done, step])
            if len(row.done) == len(mission.steps):
                row.completed_at = event["occurred_at"]
                LedgerEntry.objects.create(
                    affiliate_id=event["affiliate_id"],
                    kind=EntryKind.BONUS,
                    points=mission.bonus_points,
                    mission=mission,
                    occurred_at=event["occurred_at"],
                    expires_at=event["occurred_at"]
                    + timedelta(days=30 * (programme.expiry_months if programme else 12)),
                )
                completed += 1
            elif (
                len(row.done) == len(mission.steps) - 1
                and row.nudged_at is None
                and programme
                and programme.alert_template
            ):
                from loyalty.services.notify import loyalty_message

                row.nudged_at = timezone.now()
                transaction.on_commit(
                    partial(
                        loyalty_message,
                        affiliate_id=row.affiliate_id,
                        template_code=programme.alert_template,
                        variables={"missao": mission.name},
                        dedupe=f"mission:{mission.pk}",
                    )
                )
            row.save()
    return completed
