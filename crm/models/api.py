"""Partner API keys and their scopes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


class ApiScope(models.TextChoices):
    AFFILIATES_READ = "affiliates:read", "affiliates:read"
    AFFILIATES_WRITE = "affiliates:write", "affiliates:write"
    EVENTS_WRITE = "events:write", "events:write"
    SEGMENTS_READ = "segments:read", "segments:read"
    CAMPAIGNS_READ = "campaigns:read", "campaigns:read"
    WEBHOOKS_MANAGE = "webhooks:manage", "webhooks:manage"
    # Messaging's endpoints (campaigns registers them under /api/v1/messages/; the CRM names the
    # scopes, since a key's scopes are checked by the database).
    MESSAGES_READ = "messages:read", "messages:read"
    MESSAGES_WRITE = "messages:write", "messages:write"
    # Loyalty's endpoints (the loyalty app mounts them under /api/v1/loyalty/).
    LOYALTY_READ = "loyalty:read", "loyalty:read"
    LOYALTY_WRITE = "loyalty:write", "loyalty:write"
    # Journeys' endpoints (campaigns mounts them under /api/v1/journeys/) and the marketing spend
    # endpoint (insights, /api/v1/spend/).
    JOURNEYS_READ = "journeys:read", "journeys:read"
    JOURNEYS_WRITE = "journeys:write", "journeys:write"
    SPEND_WRITE = "spend:write", "spend:write"


#: The scopes a key can be given: those with endpoints. campaigns:read stays a value (keys made
#: earlier may carry it, and the column's choices need no migration) but is offered only once its
#: endpoints exist.
API_SCOPES_OFFERED: tuple[str, ...] = (
    ApiScope.AFFILIATES_READ,
    ApiScope.AFFILIATES_WRITE,
    ApiScope.EVENTS_WRITE,
    ApiScope.SEGMENTS_READ,
    ApiScope.WEBHOOKS_MANAGE,
    ApiScope.MESSAGES_READ,
    ApiScope.MESSAGES_WRITE,
    ApiScope.LOYALTY_READ,
    ApiScope.LOYALTY_WRITE,
    ApiScope.JOURNEYS_READ,
    ApiScope.JOURNEYS_WRITE,
    ApiScope.SPEND_WRITE,
)


# What people read for each scope (the identifiers above stay the values: they are the API
# contract, and model choices' labels would need a migration to change).
API_SCOPE_LABELS: dict[str, StrOrPromise] = {
    ApiScope.AFFILIATES_READ: _("Read affiliates"),
    ApiScope.AFFILIATES_WRITE: _("Create and change affiliates"),
    ApiScope.EVENTS_WRITE: _("Send events"),
    ApiScope.SEGMENTS_READ: _("Read segments"),
    ApiScope.CAMPAIGNS_READ: _("Read campaigns"),
    ApiScope.WEBHOOKS_MANAGE: _("Manage webhooks"),
    ApiScope.MESSAGES_READ: _("Read messages and their statuses"),
    ApiScope.MESSAGES_WRITE: _("Send messages"),
    ApiScope.LOYALTY_READ: _("Read loyalty points, rewards and missions"),
    ApiScope.LOYALTY_WRITE: _("Redeem loyalty rewards"),
    ApiScope.JOURNEYS_READ: _("Read journey enrollments and their history"),
    ApiScope.JOURNEYS_WRITE: _("Enrol affiliates into journeys"),
    ApiScope.SPEND_WRITE: _("Send marketing spend"),
}


class ApiKey(models.Model):
    """A partner system's key to this UDN's REST API. The key lives in the UDN's schema, so it
    opens this UDN only. Only the SHA-256 of the full key is stored; `prefix` finds the row and
    is shown in the UI to tell keys apart."""

    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(_("prefix"), max_length=8, unique=True)
    secret_hash = models.CharField(_("key hash (SHA-256)"), max_length=64)
    scopes = ArrayField(
        models.CharField(max_length=40, choices=ApiScope.choices), default=list, verbose_name=_("scopes")
    )
    created_by = models.CharField(_("created by"), max_length=254, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(prefix__regex=r"^[a-z0-9]{8}$"), name="apikey_prefix_format"
            ),
            models.CheckConstraint(
                # Every value of ApiScope, offered or not (keys made earlier may carry them).
                condition=models.Q(scopes__contained_by=list(ApiScope.values)),
                name="apikey_scopes_known",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
