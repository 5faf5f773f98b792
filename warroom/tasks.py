"""The shared space's periodic work (public schema; crm.settings CELERY_BEAT_SCHEDULE)."""

from __future__ import annotations

from crm.celery import app


@app.task(name="warroom.actions_due_notify")
def actions_due_notify() -> int:
    from warroom.services.notify import notify_due

    return notify_due()


@app.task(name="warroom.joint_results_refresh")
def joint_results_refresh() -> int:
    from warroom.services.joint import joint_results_refresh_all

    return joint_results_refresh_all()
