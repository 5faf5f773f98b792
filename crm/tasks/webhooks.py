"""Sending webhook deliveries: beat runs it per UDN every 30 s (`webhooks-send@<schema>`), and
enqueueing queues it at once after commit. The delivery log's retention purge runs per UDN
nightly (`webhooks-purge@<schema>`)."""

from __future__ import annotations

from crm.celery import app
from crm.services.webhooks import PURGE_TASK, SEND_TASK, webhook_deliveries_purge, webhook_deliveries_send_due


@app.task(name=SEND_TASK, ignore_result=True)
def webhooks_send() -> int:
    """Send the due deliveries of the task's UDN; returns how many were delivered."""
    return webhook_deliveries_send_due()


@app.task(name=PURGE_TASK, ignore_result=True)
def webhooks_purge() -> int:
    """Delete the task's UDN's delivery log rows older than WEBHOOK_LOG_RETENTION_DAYS."""
    return webhook_deliveries_purge()
