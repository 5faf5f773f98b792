"""Sending the outbox: beat runs it per UDN every 10 s (`messages-send@<schema>`), and every
enqueue queues it at once after commit (campaigns.services.outbox.messages_send_soon)."""

from __future__ import annotations

from campaigns.services.sender import SEND_TASK, messages_send_due
from crm.celery import app


@app.task(name=SEND_TASK, ignore_result=True)
def messages_send() -> int:
    """Send the due messages of the task's UDN, batch after batch; returns how many were sent."""
    return messages_send_due()
