"""What the local sandbox received for this UDN ("Caixa de saída")."""

from __future__ import annotations

from django.db.models import QuerySet

from campaigns.models import SandboxMessage


def sandbox_message_list(*, channel: str = "", recipient: str = "") -> QuerySet[SandboxMessage]:
    """Newest first; `channel` filters, `recipient` matches part of the address (case ignored)."""
    messages = SandboxMessage.objects.order_by("-received_at", "-id")
    if channel:
        messages = messages.filter(channel=channel)
    if recipient.strip():
        messages = messages.filter(to__icontains=recipient.strip())
    return messages
