"""Affiliates: the standard shape of a member of a UDN, their stage, origin, deposit tiers and the record of changes to their data."""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.utils.translation import gettext_lazy as _

from crm.channels import CHANNELS
from crm.models.base import CPF_CHECK, PHONE_CHECK, Folded, MomentField


class Stage(models.TextChoices):
    """Lifecycle stages, in funnel order. Derived from events, never set by hand."""

    LEAD = "lead", _("Lead")
    REGISTERED = "registered", _("Registered")
    APP_DOWNLOADED = "app_downloaded", _("App downloaded")
    ACTIVATED = "activated", _("Activated")
    CASH_IN = "cash_in", _("Cash in")
    CASHOUT = "cashout", _("Cashout")


STAGE_ORDER: list[str] = [choice.value for choice in Stage]


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

    external_id = models.CharField(_("external id"), max_length=64)
    cpf = models.CharField(_("CPF"), max_length=11, blank=True, help_text=_("11 digits, no punctuation."))
    name = models.CharField(_("name"), max_length=200)
    email = models.EmailField(_("e-mail"), blank=True)
    phone = models.CharField(_("mobile phone"), max_length=20, blank=True, help_text=_("E.164"))
    # Where Telegram messages go (the bot learns it when the person starts a chat); blank until then.
    telegram_chat_id = models.CharField(
        _("Telegram chat id"), max_length=32, blank=True, default="", db_default=""
    )
    birth_date = models.DateField(_("birth date"), null=True, blank=True)
    city = models.CharField(_("city"), max_length=120, blank=True)
    state = models.CharField(_("state"), max_length=2, blank=True)
    plan = models.CharField(_("plan"), max_length=80, blank=True)
    plan_fee = models.DecimalField(_("monthly fee"), max_digits=10, decimal_places=2, null=True, blank=True)
    origin = models.CharField(_("origin"), max_length=16, choices=Origin.choices, blank=True)
    stage = models.CharField(_("stage"), max_length=16, choices=Stage.choices, default=Stage.LEAD)
    stage_changed_at = MomentField(_("stage changed at"), null=True, blank=True)
    tier = models.CharField(_("deposit tier"), max_length=40, blank=True)
    total_cash_in = models.DecimalField(_("total cash in"), max_digits=14, decimal_places=2, default=0)
    time_zone = models.CharField(_("time zone"), max_length=64, blank=True)
    tags = ArrayField(models.CharField(max_length=40), default=list, blank=True, verbose_name=_("tags"))
    attributes = models.JSONField(_("custom attributes"), default=dict, blank=True)
    # Current consent per channel of crm.channels (`consent_<code>`, one boolean each); the ledger
    # (ConsentChange) says when and why. Also a database default, so set-based writers (the
    # import's COPY and INSERT, the demo) need not name every channel.
    locals().update(
        {
            channel.consent_field: models.BooleanField(channel.consent_label, default=False, db_default=False)
            for channel in CHANNELS
        }
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    # No index: every derived-field update (each cash in, each stage reached) changes it, and an
    # indexed column would make each of those updates write every index anew instead of a HOT
    # update in place. Its readers scan: the nightly lake export, a sort of the list page.
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("affiliate")
        verbose_name_plural = _("affiliates")
        ordering = ["name"]
        # Every index is paid for on each imported row (a million at a time): only lookups that
        # need one get one. Meta indexes, not db_index, which adds a LIKE twin to each text index.
        indexes = [
            GinIndex(fields=["tags"], name="affiliate_tags_gin"),
            models.Index(fields=["cpf"], name="affiliate_cpf_idx"),
            models.Index(fields=["phone"], name="affiliate_phone_idx"),
            # The list's default order (see crm.selectors.affiliates.affiliate_search): a page of
            # 50 reads 50 entries, instead of folding and sorting the whole base each time.
            models.Index(Folded("name"), "name", "id", name="affiliate_name_sort_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["external_id"], name="affiliate_external_id_unique"),
            models.CheckConstraint(condition=CPF_CHECK, name="affiliate_cpf_digits"),
            models.CheckConstraint(condition=PHONE_CHECK, name="affiliate_phone_e164"),
            models.CheckConstraint(
                condition=models.Q(total_cash_in__gte=0), name="affiliate_cash_in_non_negative"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class DepositTier(models.Model):
    """A band of total cash in (e.g. Bronze / Prata / Ouro), configured per UDN."""

    name = models.CharField(_("name"), max_length=40, unique=True)
    min_total = models.DecimalField(
        _("from (total cash in, R$)"), max_digits=14, decimal_places=2, unique=True
    )
    color = models.CharField(_("colour"), max_length=7, default="#b08d57")

    class Meta:
        verbose_name = _("deposit tier")
        verbose_name_plural = _("deposit tiers")
        ordering = ["min_total"]
        constraints = [
            models.CheckConstraint(condition=models.Q(min_total__gt=0), name="tier_min_total_positive")
        ]

    def __str__(self) -> str:
        return self.name


class AffiliateChange(models.Model):
    """What an import (or another write) changed on an affiliate: {field: [old, new]}. Empty
    `changes` record the affiliate's creation (by an import, with its job, or through the API); the
    first load of a base records none (see crm.selectors.affiliates.affiliate_import_origin)."""

    affiliate = models.ForeignKey(Affiliate, on_delete=models.CASCADE, related_name="changes")
    import_job = models.ForeignKey("ImportJob", null=True, blank=True, on_delete=models.SET_NULL)
    changes = models.JSONField()
    source = models.CharField(max_length=40)
    changed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-changed_at", "-id"]

    def __str__(self) -> str:
        return ", ".join(self.changes)

    @property
    def is_creation(self) -> bool:
        """This row records the affiliate's creation, not a change of its data."""
        return not self.changes
