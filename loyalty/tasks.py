"""Loyalty's Celery tasks (thin: one service call each). Earning on the default queue (seconds);
the simulator on the long queue (crm.queues.LONG_TASKS)."""

from __future__ import annotations

from django.utils import timezone

from crm.celery import app
from loyalty.services.earning import EARN_TASK, events_earn
from loyalty.services.simulation import SIMULATE_TASK, simulation_run

DAILY_TASK = "loyalty.daily"


@app.task(name=EARN_TASK, acks_late=True)
def earn_task(event_pks: list[int]) -> dict[str, int]:
    result = events_earn(event_pks=event_pks)
    return {"entries": result.entries, "points": result.points, "reversed": result.reversed}


@app.task(name=SIMULATE_TASK, acks_late=True)
def simulate_task(simulation_id: int) -> str:
    return simulation_run(simulation_id=simulation_id)


@app.task(name=DAILY_TASK)
def daily_task() -> dict[str, int]:
    from loyalty.services.ledger import expiry_warnings_send, points_expire
    from loyalty.services.rankings import ranking_alerts_send

    now = timezone.now()
    return {
        "expired": points_expire(now=now),
        "warned": expiry_warnings_send(now=now),
        "ranking_alerts": ranking_alerts_send(now=now),
    }
