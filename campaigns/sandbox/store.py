"""The sandbox's database side (plain Django ORM, run on the sandbox's one database thread): which
UDNs exist, a UDN's channel credentials and host, and recording what arrived in its outbox."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django_tenants.utils import schema_context

from campaigns.models import SandboxMessage
from campaigns.providers.base import ChannelAccess, channel_access
from tenants.selectors import udn_list


def udn_exists(schema: str) -> bool:
    return udn_list().filter(schema_name=schema).exists()


def udn_host(schema: str) -> str:
    """The UDN's primary host name (callbacks go to it, as a provider's webhooks go to the URL the
    UDN registered)."""
    udn = udn_list().get(schema_name=schema)
    domain = udn.get_primary_domain()
    return domain.domain if domain is not None else f"{udn.schema_name}.localhost"


def access_for(schema: str, channel: str) -> ChannelAccess:
    with schema_context(schema):
        return channel_access(channel)


def sandbox_message_record(
    schema: str,
    *,
    channel: str,
    to: str,
    provider_message_id: str,
    payload: dict[str, Any],
    subject: str = "",
    body_text: str = "",
    body_html: str = "",
) -> bool:
    """Keep a received message in the UDN's outbox; False when it was there already (a retry)."""
    with schema_context(schema):
        try:
            with transaction.atomic():
                SandboxMessage.objects.create(
                    channel=channel,
                    to=to[:254],
                    subject=subject[:300],
                    body_text=body_text,
                    body_html=body_html,
                    payload=payload,
                    provider_message_id=provider_message_id,
                )
        except IntegrityError:
            return False
    return True
