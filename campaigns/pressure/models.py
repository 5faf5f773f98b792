"""How much all UDNs together send one person (matched by the keyed hash of the normalised CPF,
never the CPF itself) per channel per day, and the budget that caps it. Public schema."""

from __future__ import annotations

from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from crm.channels import CHANNEL_CHOICES


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


class PressureReservation(models.Model):
    """One message's slot of a person's budget (the ledger `ContactPressure.count` counts): keyed by
    the message's idempotency key, unique, so a message sent again after its worker died (the same
    key) holds one slot, never two. No UDN, no message id: a key says nothing outside its UDN."""

    key = models.UUIDField(_("message key"), unique=True)
    person = models.CharField(_("person (keyed hash)"), max_length=64)
    channel = models.CharField(_("channel"), max_length=16, choices=CHANNEL_CHOICES)
    day = models.DateField(_("day"))

    class Meta:
        verbose_name = _("contact-pressure reservation")
        verbose_name_plural = _("contact-pressure reservations")
        indexes = [models.Index(fields=["person", "channel", "day"], name="pressurereservation_person")]

    def __str__(self) -> str:
        return f"{self.channel} {self.day:%d/%m/%Y}"


class PressureBid(models.Model):
    """A sender's bid for a person's last slot of a day on a channel, at its message's priority
    (campaigns.services.pressure): the slot goes to the highest bid (the earliest among equals)
    once the bid has stood for the bidding window."""

    key = models.UUIDField(_("message key"), unique=True)
    person = models.CharField(_("person (keyed hash)"), max_length=64)
    channel = models.CharField(_("channel"), max_length=16, choices=CHANNEL_CHOICES)
    day = models.DateField(_("day"))
    priority = models.PositiveSmallIntegerField(_("priority"))
    # The bidder may take the slot from then on (if still the highest bid) ...
    matures_at = models.DateTimeField(_("matures at"))
    # ... and the bid is forgotten then (its sender never came back).
    expires_at = models.DateTimeField(_("expires at"))

    class Meta:
        verbose_name = _("contact-pressure bid")
        verbose_name_plural = _("contact-pressure bids")
        indexes = [models.Index(fields=["person", "channel", "day"], name="pressurebid_person")]

    def __str__(self) -> str:
        return f"{self.channel} {self.day:%d/%m/%Y} p{self.priority}"
