"""The CRM core's data, in each UDN's schema."""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.utils.translation import gettext_lazy as _


class Stage(models.TextChoices):
    """Lifecycle stages, in funnel order. Derived from events, never set by hand."""

    LEAD = "lead", _("Lead")
    REGISTERED = "registered", _("Registered")
    APP_DOWNLOADED = "app_downloaded", _("App downloaded")
    ACTIVATED = "activated", _("Activated")
    CASH_IN = "cash_in", _("Cash in")
    CASHOUT = "cashout", _("Cashout")


class Origin(models.TextChoices):
    STORE = "store", _("Store")
    SITE = "site", _("Website")
    WHATSAPP = "whatsapp", _("WhatsApp")
    PARTNER = "partner", _("Partner")
    REFERRAL = "referral", _("Referral")
    EVENT = "event", _("Event")
    OTHER = "other", _("Other")


class Affiliate(models.Model):
    """A member (or lead, at stage `lead`) of this UDN, in the standard shape."""

    external_id = models.CharField(_("external id"), max_length=64, unique=True)
    cpf = models.CharField(
        _("CPF"), max_length=11, blank=True, db_index=True, help_text=_("11 digits, no punctuation.")
    )
    name = models.CharField(_("name"), max_length=200)
    email = models.EmailField(_("e-mail"), blank=True)
    phone = models.CharField(
        _("mobile phone"), max_length=20, blank=True, db_index=True, help_text=_("E.164")
    )
    birth_date = models.DateField(_("birth date"), null=True, blank=True)
    city = models.CharField(_("city"), max_length=120, blank=True)
    state = models.CharField(_("state"), max_length=2, blank=True)
    plan = models.CharField(_("plan"), max_length=80, blank=True)
    origin = models.CharField(_("origin"), max_length=16, choices=Origin.choices, blank=True)
    stage = models.CharField(
        _("stage"), max_length=16, choices=Stage.choices, default=Stage.LEAD, db_index=True
    )
    tier = models.CharField(_("deposit tier"), max_length=40, blank=True, db_index=True)
    time_zone = models.CharField(_("time zone"), max_length=64, blank=True)
    tags = ArrayField(models.CharField(max_length=40), default=list, blank=True, verbose_name=_("tags"))
    attributes = models.JSONField(_("custom attributes"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("affiliate")
        verbose_name_plural = _("affiliates")
        ordering = ["name"]
        indexes = [GinIndex(fields=["tags"], name="affiliate_tags_gin")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(cpf="") | models.Q(cpf__regex=r"^[0-9]{11}$"), name="affiliate_cpf_digits"
            ),
            models.CheckConstraint(
                condition=models.Q(phone="") | models.Q(phone__regex=r"^\+[1-9][0-9]{7,14}$"),
                name="affiliate_phone_e164",
            ),
        ]

    def __str__(self) -> str:
        return self.name
