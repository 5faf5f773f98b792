"""The consent ledger (LGPD): every grant and opt-out, append-only."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from crm.channels import CHANNELS
from crm.models.affiliates import Affiliate
from crm.models.audit import AuditEntry
from crm.models.base import MomentField

# The consent ledger's channels, as choices: crm.channels is the registry. (django-stubs types the
# functional API with plain names only, not (value, label) members.)
Channel = models.TextChoices(  # type: ignore[call-overload]
    "Channel", [(channel.code.upper(), (channel.code, channel.label)) for channel in CHANNELS]
)


class ConsentChange(models.Model):
    """Append-only consent ledger (LGPD): who granted or revoked which channel, when, how."""

    affiliate = models.ForeignKey(Affiliate, on_delete=models.CASCADE, related_name="consent_changes")
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    granted = models.BooleanField(_("granted"))
    occurred_at = MomentField(_("when"))
    source = models.CharField(_("source"), max_length=60)
    proof = models.TextField(
        _("proof"), blank=True, help_text=_("What the person agreed to, or how they opted out.")
    )
    recorded_at = models.DateTimeField(auto_now_add=True)
    # Who recorded it (LGPD proof): the audit entry of the write, one for a whole bulk batch. No
    # index: entries are never deleted, and the ledger is read by affiliate, not by entry.
    audit_entry = models.ForeignKey(
        AuditEntry,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="consent_changes",
        db_index=False,
        verbose_name=_("audit entry"),
    )

    class Meta:
        verbose_name = _("consent change")
        verbose_name_plural = _("consent changes")
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["affiliate", "channel", "-occurred_at"], name="consent_affiliate_channel")
        ]

    def __str__(self) -> str:
        return f"{self.channel} {'+' if self.granted else '-'} {self.occurred_at:%d/%m/%Y}"
