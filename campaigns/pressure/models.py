"""How much all UDNs together send one person (matched by the keyed hash of the normalised CPF,
never the CPF itself) per channel per day, and the budget that caps it. Public schema."""

from __future__ import annotations

from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from crm.channels import CHANNELS

CHANNEL_CHOICES = [(channel.code, channel.label) for channel in CHANNELS]


class PressureBudget(models.Model):
    """At most this many messages a person gets on a channel from all UDNs together."""

    channel = models.CharField(_("channel"), max_length=16, choices=CHANNEL_CHOICES, unique=True)
    per_day = models.PositiveIntegerField(_("per day"), validators=[MinValueValidator(1)])
    per_week = models.PositiveIntegerField(_("per week"), validators=[MinValueValidator(1)])

    class Meta:
        verbose_name = _("contact-pressure budget")
        verbose_name_plural = _("contact-pressure budgets")
        ordering = ["channel"]

    def __str__(self) -> str:
        return f"{self.get_channel_display()}: {self.per_day}/{self.per_week}"


class ContactPressure(models.Model):
    """Messages sent to one person (keyed hash) on one channel on one day (São Paulo's day), by all
    UDNs together."""

    person = models.CharField(_("person (keyed hash)"), max_length=64)
    channel = models.CharField(_("channel"), max_length=16, choices=CHANNEL_CHOICES)
    day = models.DateField(_("day"))
    count = models.PositiveIntegerField(_("messages"), default=0)

    class Meta:
        verbose_name = _("contact pressure")
        verbose_name_plural = _("contact pressure")
        constraints = [
            models.UniqueConstraint(fields=["person", "channel", "day"], name="contactpressure_person_day"),
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.day:%d/%m/%Y}: {self.count}"
