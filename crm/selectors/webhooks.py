"""Reads of the webhook subscriptions and their delivery log (inside a UDN's schema)."""

from __future__ import annotations

from django.db.models import QuerySet

from crm.models import WebhookDelivery, WebhookSubscription


def webhook_subscription_list() -> QuerySet[WebhookSubscription]:
    """Active ones first, newest first."""
    return WebhookSubscription.objects.order_by("-active", "-created_at", "-id")


def webhook_delivery_log(*, subscription: WebhookSubscription | None = None) -> QuerySet[WebhookDelivery]:
    """Deliveries, newest first (of one subscription, or of all)."""
    deliveries = WebhookDelivery.objects.select_related("subscription").order_by("-created_at", "-id")
    if subscription is not None:
        deliveries = deliveries.filter(subscription=subscription)
    return deliveries
