"""Reading the outbox: the messages that died after their retries ("Falhas")."""

from __future__ import annotations

from django.db.models import QuerySet

from campaigns.models import Message, MessageStatus


def messages_dead() -> QuerySet[Message]:
    """Dead messages, the latest failure first, with what the page shows of each."""
    return (
        Message.objects.filter(status=MessageStatus.DEAD)
        .select_related("affiliate", "template", "campaign")
        .order_by("-failed_at", "-id")
    )
