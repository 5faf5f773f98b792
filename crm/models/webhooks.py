"""Outbound webhooks: subscriptions and deliveries."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import BrinIndex
from django.db import models
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


class WebhookEvent(models.TextChoices):
    """What a UDN can subscribe a URL to. Names are part of the partner contract: keep them."""

    AFFILIATE_STAGE_CHANGED = "affiliate.stage_changed", "affiliate.stage_changed"
    EVENT_RECEIVED = "event.received", "event.received"
    MESSAGE_FAILED = "message.failed", "message.failed"
    MESSAGE_DELIVERED = "message.delivered", "message.delivered"
    CONSENT_REVOKED = "consent.revoked", "consent.revoked"
    LOYALTY_REDEEMED = "loyalty.redeemed", "loyalty.redeemed"


#: The events a URL can subscribe to: those something sends. The consent ledger sends
#: consent.revoked; messaging (campaigns) sends message.delivered and message.failed through
#: crm.services.webhooks.webhook_deliveries_enqueue_many.
WEBHOOK_EVENTS_OFFERED: tuple[str, ...] = (
    WebhookEvent.AFFILIATE_STAGE_CHANGED,
    WebhookEvent.EVENT_RECEIVED,
    WebhookEvent.MESSAGE_DELIVERED,
    WebhookEvent.MESSAGE_FAILED,
    WebhookEvent.CONSENT_REVOKED,
    WebhookEvent.LOYALTY_REDEEMED,
)


# What people read for each webhook event (the identifiers stay the values, as for the scopes).
WEBHOOK_EVENT_LABELS: dict[str, StrOrPromise] = {
    WebhookEvent.AFFILIATE_STAGE_CHANGED: _("Affiliate changed stage"),
    WebhookEvent.EVENT_RECEIVED: _("Event received"),
    WebhookEvent.MESSAGE_FAILED: _("Message not delivered"),
    WebhookEvent.MESSAGE_DELIVERED: _("Message delivered"),
    WebhookEvent.CONSENT_REVOKED: _("Consent revoked"),
    WebhookEvent.LOYALTY_REDEEMED: _("Loyalty reward redeemed"),
}


class WebhookSubscription(models.Model):
    """A URL that receives this UDN's events, signed with `secret` (HMAC-SHA256)."""

    url = models.URLField(_("URL"), max_length=500)
    events = ArrayField(
        models.CharField(max_length=40, choices=WebhookEvent.choices), verbose_name=_("events")
    )
    # Shown in the UI (the receiver needs it to check signatures); lives in the UDN's schema only.
    secret = models.CharField(_("signing secret"), max_length=100)
    # After a rotation the old secret still signs (a second v1) until it expires, so a receiver
    # can switch secrets without refusing a delivery; after that it is ignored, then cleared.
    previous_secret = models.CharField(_("previous signing secret"), max_length=100, blank=True)
    previous_secret_expires_at = models.DateTimeField(_("previous secret valid until"), null=True, blank=True)
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    created_by = models.CharField(_("created by"), max_length=254, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("webhook subscription")
        verbose_name_plural = _("webhook subscriptions")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(events__contained_by=list(WebhookEvent.values)) & ~models.Q(events=[]),
                name="webhook_events_known",
            ),
            models.CheckConstraint(
                condition=(models.Q(previous_secret="") & models.Q(previous_secret_expires_at__isnull=True))
                | (~models.Q(previous_secret="") & models.Q(previous_secret_expires_at__isnull=False)),
                name="webhook_previous_secret_expires",
            ),
        ]

    def __str__(self) -> str:
        return self.url


class WebhookDeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")


class WebhookDelivery(models.Model):
    """One event for one subscription: a due row (`next_attempt_at`) that senders claim with
    FOR UPDATE SKIP LOCKED, retried with backoff, with the last response kept for the log."""

    subscription = models.ForeignKey(
        WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries", db_index=False
    )
    event = models.CharField(_("event"), max_length=40, choices=WebhookEvent.choices)
    payload = models.JSONField(_("payload"))
    status = models.CharField(
        _("status"),
        max_length=16,
        choices=WebhookDeliveryStatus.choices,
        default=WebhookDeliveryStatus.PENDING,
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(_("last status code"), null=True, blank=True)
    last_response = models.TextField(_("last response"), blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    # The last manual redelivery (UI or API): when, and by whom.
    redelivered_at = models.DateTimeField(_("redelivered at"), null=True, blank=True)
    redelivered_by = models.CharField(_("redelivered by"), max_length=254, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        indexes = [
            # The senders' claim: only pending rows, by due time (delivered ones leave the index).
            models.Index(
                fields=["next_attempt_at"],
                name="webhook_delivery_due",
                condition=models.Q(status=WebhookDeliveryStatus.PENDING),
            ),
            models.Index(fields=["subscription", "-created_at"], name="webhook_delivery_log"),
            # The retention purge's range (rows are appended in created_at order): a BRIN index
            # is a few pages and costs the ingest path next to nothing.
            BrinIndex(fields=["created_at"], name="webhook_delivery_created"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(status=WebhookDeliveryStatus.PENDING)
                | models.Q(next_attempt_at__isnull=False),
                name="webhook_delivery_pending_is_due",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.subscription_id} ({self.status})"
