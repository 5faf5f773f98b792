"""The shared coordination space (public schema): joint and cross-sell campaigns with each source
UDN's decision and results as aggregates, the War Room board (columns, actions, checklists,
comments, activity) and the per-user calendar feed tokens.

Nothing here holds a UDN's personal data: audiences are a filter and a count chosen inside the UDN,
results are counts, and people reached by a cross-sell campaign are kept only as the keyed hash of
their normalised CPF (crm.persons.cpf_hash), for matching conversions across UDNs."""

from __future__ import annotations

import secrets
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from crm.channels import CHANNEL_CHOICES
from tenants.models import UDN


class JointKind(models.TextChoices):
    JOINT = "joint", _("Joint campaign")
    CROSS_SELL = "cross_sell", _("Cross-sell campaign")


class JointStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    PROPOSED = "proposed", _("Proposed")
    APPROVED = "approved", _("Approved")
    SCHEDULED = "scheduled", _("Scheduled")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    CANCELLED = "cancelled", _("Cancelled")


class JointCampaign(models.Model):
    """A campaign planned in the shared space: the promoting UDN's product sent to the bases of
    the source UDNs, each of which approves it and chooses its own audience."""

    kind = models.CharField(_("kind"), max_length=16, choices=JointKind.choices, default=JointKind.CROSS_SELL)
    name = models.CharField(_("name"), max_length=160)
    promoting_udn = models.ForeignKey(
        UDN, on_delete=models.PROTECT, related_name="promoted_campaigns", verbose_name=_("promoting UDN")
    )
    product = models.CharField(_("product"), max_length=160, blank=True)
    channel = models.CharField(_("channel"), max_length=16, choices=CHANNEL_CHOICES)
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    body = models.TextField(_("message"), blank=True)
    start_date = models.DateField(_("starts on"))
    end_date = models.DateField(_("ends on"))
    goal = models.CharField(_("goal"), max_length=200, blank=True)
    budget = models.DecimalField(
        _("budget (R$)"),
        max_digits=12,
        decimal_places=2,
        default=Decimal("0.00"),
        validators=[MinValueValidator(0)],
    )
    status = models.CharField(
        _("status"), max_length=16, choices=JointStatus.choices, default=JointStatus.DRAFT
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    launched_at = models.DateTimeField(_("launched at"), null=True, blank=True)

    class Meta:
        verbose_name = _("joint campaign")
        verbose_name_plural = _("joint campaigns")
        ordering = ["start_date", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_date__gte=F("start_date")), name="jointcampaign_dates_ordered"
            ),
        ]
        indexes = [models.Index(fields=["start_date", "end_date"], name="jointcampaign_dates")]

    def __str__(self) -> str:
        return self.name


class Decision(models.TextChoices):
    PENDING = "pending", _("Awaiting decision")
    APPROVED = "approved", _("Approved")
    DECLINED = "declined", _("Declined")


class JointSource(models.Model):
    """One source UDN of a joint campaign: its decision, its audience (a saved filter of its own
    affiliate list, chosen by its marketers) and the campaign's results there, as counts."""

    campaign = models.ForeignKey(JointCampaign, on_delete=models.CASCADE, related_name="sources")
    udn = models.ForeignKey(UDN, on_delete=models.PROTECT, related_name="+", verbose_name=_("UDN"))
    audience_query = models.TextField(_("audience (list filter)"), blank=True)
    decision = models.CharField(
        _("decision"), max_length=12, choices=Decision.choices, default=Decision.PENDING
    )
    comment = models.TextField(_("comment"), blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    # The broadcast campaign launch created inside the UDN's schema (its id there).
    udn_campaign_id = models.BigIntegerField(null=True, blank=True)
    udn_campaign_status = models.CharField(max_length=16, blank=True)
    audience = models.PositiveIntegerField(_("audience"), default=0)
    sent = models.PositiveIntegerField(_("sent"), default=0)
    delivered = models.PositiveIntegerField(_("delivered"), default=0)
    read = models.PositiveIntegerField(_("read"), default=0)
    clicked = models.PositiveIntegerField(_("clicked"), default=0)
    converted = models.PositiveIntegerField(_("converted"), default=0)
    results_at = models.DateTimeField(_("results updated at"), null=True, blank=True)

    class Meta:
        verbose_name = _("source UDN")
        verbose_name_plural = _("source UDNs")
        ordering = ["udn__name"]
        constraints = [models.UniqueConstraint(fields=["campaign", "udn"], name="jointsource_once")]

    def __str__(self) -> str:
        return f"{self.campaign} ← {self.udn}"


class CrossSellReach(models.Model):
    """A person a source UDN's broadcast reached, as the keyed hash of the normalised CPF only:
    conversions in the promoting UDN are matched on it."""

    source = models.ForeignKey(JointSource, on_delete=models.CASCADE, related_name="reach")
    person = models.CharField(_("person (keyed hash)"), max_length=64)

    class Meta:
        verbose_name = _("person reached")
        verbose_name_plural = _("people reached")
        constraints = [models.UniqueConstraint(fields=["source", "person"], name="crosssellreach_once")]

    def __str__(self) -> str:
        return self.person[:12]


# --- the War Room board -------------------------------------------------------------------------


class BoardColumn(models.Model):
    name = models.CharField(_("name"), max_length=60)
    position = models.PositiveIntegerField(_("position"), default=0)
    wip_limit = models.PositiveIntegerField(_("WIP limit"), null=True, blank=True)
    # Actions in a column marked done are never overdue.
    is_done = models.BooleanField(_("done column"), default=False)

    class Meta:
        verbose_name = _("board column")
        verbose_name_plural = _("board columns")
        ordering = ["position", "pk"]

    def __str__(self) -> str:
        return self.name


class Action(models.Model):
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    team = models.CharField(_("responsible team"), max_length=120, blank=True)
    udns = models.ManyToManyField(UDN, related_name="+", blank=True, verbose_name=_("UDNs involved"))
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="warroom_actions",
        verbose_name=_("owner"),
    )
    deadline = models.DateField(_("deadline"), null=True, blank=True)
    campaign = models.ForeignKey(
        JointCampaign,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="actions",
        verbose_name=_("linked campaign"),
    )
    column = models.ForeignKey(
        BoardColumn, on_delete=models.PROTECT, related_name="actions", verbose_name=_("status")
    )
    position = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("action")
        verbose_name_plural = _("actions")
        ordering = ["column__position", "position", "pk"]
        indexes = [models.Index(fields=["deadline"], name="action_deadline")]

    def __str__(self) -> str:
        return self.title


class ChecklistItem(models.Model):
    action = models.ForeignKey(Action, on_delete=models.CASCADE, related_name="checklist")
    text = models.CharField(_("item"), max_length=300)
    done = models.BooleanField(_("done"), default=False)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("checklist item")
        verbose_name_plural = _("checklist items")
        ordering = ["position", "pk"]

    def __str__(self) -> str:
        return self.text


class Comment(models.Model):
    action = models.ForeignKey(Action, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    body = models.TextField(_("comment"))
    attachment = models.FileField(_("attachment"), upload_to="warroom/%Y/%m/", blank=True)
    mentions = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="+", blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("comment")
        verbose_name_plural = _("comments")
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return self.body[:60]


class Activity(models.Model):
    """Who changed what, when (the board's and the campaigns' activity log)."""

    action = models.ForeignKey(
        Action, on_delete=models.CASCADE, null=True, blank=True, related_name="activity"
    )
    campaign = models.ForeignKey(
        JointCampaign, on_delete=models.CASCADE, null=True, blank=True, related_name="activity"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    # What happened, as a code of warroom.activity.VERBS and its parameters, translated when shown
    # (the reader's language, not the writer's). `verb` keeps the text of rows written before the
    # codes that the migration could not recognise.
    code = models.CharField(_("what"), max_length=40, blank=True)
    params = models.JSONField(default=dict, blank=True)
    verb = models.CharField(_("what"), max_length=300, blank=True)
    at = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("activity")
        verbose_name_plural = _("activity")
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        return self.text

    @property
    def text(self) -> str:
        """What happened, in the active language."""
        from warroom.activity import activity_text

        return activity_text(code=self.code, params=self.params) if self.code else self.verb


class CalendarSettings(models.Model):
    """The shared calendar's settings the coordinators edit (one row; without it, the defaults
    of settings.py apply)."""

    #: The fatigue window: two campaigns on one base and channel closer than this many days warn.
    conflict_days = models.PositiveSmallIntegerField(
        _("fatigue window (days)"), validators=[MaxValueValidator(60)]
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("calendar settings")
        verbose_name_plural = _("calendar settings")
        constraints = [
            models.CheckConstraint(condition=Q(pk=1), name="calendarsettings_one_row"),
            models.CheckConstraint(condition=Q(conflict_days__lte=60), name="calendarsettings_days_range"),
        ]

    def __str__(self) -> str:
        return str(self.conflict_days)


def _feed_token() -> str:
    return secrets.token_urlsafe(32)


class CalendarFeed(models.Model):
    """A person's secret iCalendar URL; revoking gives a new token (the old URL stops at once)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_feed"
    )
    token = models.CharField(max_length=64, unique=True, default=_feed_token)
    created_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("calendar feed")
        verbose_name_plural = _("calendar feeds")

    def __str__(self) -> str:
        return str(self.user)
