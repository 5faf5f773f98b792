"""Campaign tasks: the fan-out (long queue: bulk database work) and the per-UDN tick that starts
scheduled campaigns when their time comes, marks finished ones done and restarts a fan-out whose
worker died."""

from __future__ import annotations

from django.utils import timezone

from campaigns.services.campaigns import (
    FAN_OUT_TASK,
    campaign_fan_out,
    campaigns_due_start,
    campaigns_fan_out_rekick,
    campaigns_finish,
)
from crm.celery import app

TICK_TASK = "campaigns.campaigns_tick"


@app.task(name=FAN_OUT_TASK)
def campaign_fan_out_task(campaign_id: int) -> str:
    return campaign_fan_out(campaign_id=campaign_id)


@app.task(name=TICK_TASK)
def campaigns_tick() -> dict[str, object]:
    now = timezone.now()
    return {
        "started": campaigns_due_start(now=now),
        "finished": campaigns_finish(now=now),
        "fan_out_restarted": campaigns_fan_out_rekick(now=now),
    }
