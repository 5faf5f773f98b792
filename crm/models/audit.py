"""The audit log: who (a person, an API key, the system, an import) did which write, when."""

from __future__ import annotations

from django.contrib.postgres.indexes import BrinIndex
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class AuditActorKind(models.TextChoices):
    """Who an audit entry says acted (tenants.actors' kinds)."""

    USER = "user", _("Person")
    API_KEY = "api_key", pgettext_lazy("audit", "API key")
    SYSTEM = "system", _("System")
    IMPORT = "import", pgettext_lazy("audit", "Import")


class AuditAction(models.TextChoices):
    """The codes audit entries carry (stable: filters and partners' reports use them) and what
    people read for each. Not the field's choices: a new action needs no migration. The CRM's
    own; other apps register theirs in crm.audit_labels."""

    AFFILIATE_CREATED = "affiliate.created", _("Affiliate created")
    AFFILIATE_UPDATED = "affiliate.updated", _("Affiliate changed")
    AFFILIATES_UPSERTED = "affiliates.upserted", _("Affiliates sent in a batch")
    AFFILIATES_UPDATED = "affiliates.updated", _("Tags and attributes changed in a batch")
    CONSENT_GRANTED = "consent.granted", _("Consent granted")
    CONSENT_REVOKED = "consent.revoked", _("Consent revoked")
    CONSENT_BULK_RECORDED = "consent.bulk_recorded", _("Consents recorded in a batch")
    EVENTS_INGESTED = "events.ingested", _("Events received")
    IMPORT_CREATED = "import.created", _("Import: file sent")
    IMPORT_MAPPING_SAVED = "import.mapping_saved", _("Import: columns mapped")
    IMPORT_QUEUED = "import.queued", _("Import: queued")
    IMPORT_STARTED = "import.started", _("Import: started")
    IMPORT_FINISHED = "import.finished", _("Import: finished")
    IMPORT_FAILED = "import.failed", _("Import: failed")
    IMPORT_CANCELLED = "import.cancelled", _("Import: cancelled")
    IMPORT_DISCARDED = "import.discarded", _("Import: draft discarded")
    API_KEY_CREATED = "api_key.created", _("API key created")
    API_KEY_REVOKED = "api_key.revoked", _("API key revoked")
    WEBHOOK_SUBSCRIBED = "webhook.subscribed", _("Webhook subscribed")
    WEBHOOK_PAUSED = "webhook.paused", _("Webhook paused")
    WEBHOOK_RESUMED = "webhook.resumed", _("Webhook resumed")
    WEBHOOK_SECRET_ROTATED = "webhook.secret_rotated", _("Webhook secret rotated")
    WEBHOOK_REDELIVERED = "webhook.redelivered", _("Webhook delivery sent again")
    QUALITY_RECOMPUTE_REQUESTED = "quality.recompute_requested", _("Data quality recalculation requested")
    SEGMENT_CREATED = "segment.created", _("Segment created")
    SEGMENT_UPDATED = "segment.updated", _("Segment changed")
    SEGMENT_DELETED = "segment.deleted", _("Segment deleted")
    # Other apps' actions (campaigns', loyalty's) are theirs: they register their labels in
    # crm.audit_labels, which the audit page reads.


class AuditTarget(models.TextChoices):
    """What an audit entry is about (`target_type`)."""

    AFFILIATE = "affiliate", _("Affiliate")
    IMPORT = "import", pgettext_lazy("audit", "Import")
    API_KEY = "api_key", pgettext_lazy("audit", "API key")
    WEBHOOK = "webhook", _("Webhook")
    WEBHOOK_DELIVERY = "webhook_delivery", _("Webhook delivery")
    QUALITY = "quality", _("Data quality")
    SEGMENT = "segment", pgettext_lazy("audit", "Segment")


class AuditEntry(models.Model):
    """One write in this UDN: who (a person, an API key, the system, an import), when, what
    (`action`, a stable code such as "affiliate.updated"), on what (`target_type`, `target_id`)
    and the detail (`changes`: the fields' [old, new], or a batch's counts). Append-only; a bulk
    write (an import, a batch of events) is one entry that sums it up, never one per row.

    The actor is kept as text: people live in the public schema, and a foreign key from a UDN's
    schema would make deleting a person reach into every UDN's log."""

    at = models.DateTimeField(_("when"), default=timezone.now)
    actor_kind = models.CharField(_("actor kind"), max_length=16, choices=AuditActorKind.choices)
    actor_id = models.CharField(_("actor id"), max_length=64, blank=True)
    actor_label = models.CharField(_("who"), max_length=254, blank=True)
    action = models.CharField(_("action"), max_length=60)
    target_type = models.CharField(_("target type"), max_length=40, blank=True)
    target_id = models.CharField(_("target id"), max_length=64, blank=True)
    changes = models.JSONField(_("details"), default=dict, blank=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")
        ordering = ["-at", "-id"]
        indexes = [
            # An object's history (the affiliate page): its entries, newest first.
            models.Index(fields=["target_type", "target_id", "-at"], name="audit_target_time"),
            # The audit page's filters: by action, by who, newest first.
            models.Index(fields=["action", "-at"], name="audit_action_time"),
            models.Index(fields=["actor_label", "-at"], name="audit_actor_time"),
            # Rows are appended in time order: the page's period filter reads a BRIN of a few pages.
            BrinIndex(fields=["at"], name="audit_at_brin"),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.target_type}:{self.target_id} ({self.actor_label})"
