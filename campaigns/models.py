"""Per-UDN messaging: channel settings, templates, broadcast campaigns and the outbox.

A message is a row of `Message` from the moment something decides to send it (a campaign's fan-out,
the partner API, a journey step) until its last status: the outbox and the record of what happened
are the same row. Senders claim due rows with crm.services.duework; statuses from providers move
a message forward only (`STATUS_RANK`), and each is kept in `MessageStatusChange`.
"""

from __future__ import annotations

import uuid

from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from crm.channels import CHANNEL_CHOICES
from crm.models import Affiliate


class Provider(models.TextChoices):
    """How a channel's messages leave: the local sandbox (the default, nothing leaves the machine)
    or a real provider speaking the same protocol."""

    SANDBOX = "sandbox", _("Sandbox (local)")
    SMTP = "smtp", _("SMTP server")
    WHATSAPP_CLOUD = "whatsapp_cloud", _("WhatsApp Cloud API")
    SMS_GATEWAY = "sms_gateway", _("SMS gateway (Zenvia API v2)")
    FCM = "fcm", _("Firebase Cloud Messaging (HTTP v1)")
    TELEGRAM = "telegram", _("Telegram Bot API")


class ChannelConfig(models.Model):
    """How this UDN sends on one channel. Secrets are stored encrypted (campaigns.secrets) and never
    shown again once saved; `settings` holds what is not secret (host, sender, ids)."""

    channel = models.CharField(_("channel"), max_length=16, choices=CHANNEL_CHOICES, unique=True)
    provider = models.CharField(
        _("provider"), max_length=20, choices=Provider.choices, default=Provider.SANDBOX
    )
    settings = models.JSONField(_("settings"), default=dict, blank=True)
    secrets = models.TextField(_("secrets (encrypted)"), blank=True, editable=False)
    # Provider rate limits: messages a second this UDN may hand to the provider.
    rate_per_second = models.PositiveIntegerField(
        _("messages per second"), default=50, validators=[MinValueValidator(1), MaxValueValidator(10_000)]
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    updated_by = models.CharField(_("updated by"), max_length=254, blank=True)

    class Meta:
        verbose_name = _("channel settings")
        verbose_name_plural = _("channel settings")
        ordering = ["channel"]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} · {self.get_provider_display()}"


class CapPeriod(models.TextChoices):
    DAY = "day", _("per day")
    WEEK = "week", _("per week")


class FrequencyCap(models.Model):
    """At most `limit` messages to one affiliate on `channel` in a day or a week (the UDN's time zone,
    rolling window), whatever campaign or journey sends them."""

    channel = models.CharField(_("channel"), max_length=16, choices=CHANNEL_CHOICES)
    period = models.CharField(_("period"), max_length=8, choices=CapPeriod.choices)
    limit = models.PositiveIntegerField(_("at most"), validators=[MinValueValidator(1)])

    class Meta:
        verbose_name = _("frequency cap")
        verbose_name_plural = _("frequency caps")
        ordering = ["channel", "period"]
        constraints = [
            models.UniqueConstraint(fields=["channel", "period"], name="frequencycap_channel_period")
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()}: {self.limit} {self.get_period_display()}"


class QuietHours(models.Model):
    """No message leaves between `start` and `end` in the affiliate's time zone (the UDN's when the
    affiliate's is unknown): due messages wait for `end`, they are not dropped. One row per UDN."""

    singleton = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    start = models.TimeField(_("quiet from"), default="21:00")
    end = models.TimeField(_("quiet until"), default="08:00")
    enabled = models.BooleanField(_("enabled"), default=True)

    class Meta:
        verbose_name = _("quiet hours")
        verbose_name_plural = _("quiet hours")
        constraints = [models.CheckConstraint(condition=Q(singleton=1), name="quiethours_single_row")]

    def __str__(self) -> str:
        return f"{self.start:%H:%M}–{self.end:%H:%M}"


class MessageTemplate(models.Model):
    """What a message says on one channel, with variables (`{{ primeiro_nome }}`...) checked when it
    is saved (campaigns.templating). Which fields matter depends on the channel."""

    slug = models.SlugField(_("code"), max_length=80, unique=True)
    name = models.CharField(_("name"), max_length=120)
    channel = models.CharField(_("channel"), max_length=16, choices=CHANNEL_CHOICES)
    # E-mail
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    body_html = models.TextField(_("HTML body"), blank=True)
    # E-mail's text part; SMS, Telegram and WhatsApp free text; push body.
    body_text = models.TextField(_("text"), blank=True)
    # Push title
    title = models.CharField(_("title"), max_length=120, blank=True)
    # Push and Telegram button target, e-mail call to action: a deep link into the app.
    link_url = models.CharField(_("link"), max_length=500, blank=True)
    button_text = models.CharField(_("button text"), max_length=60, blank=True)
    # WhatsApp: an approved template (Cloud API template message) or free text (24-hour window only).
    wa_template_name = models.CharField(_("approved WhatsApp template"), max_length=120, blank=True)
    wa_language = models.CharField(_("template language"), max_length=12, blank=True, default="pt_BR")
    wa_parameters = ArrayField(
        models.CharField(max_length=200), default=list, blank=True, verbose_name=_("template parameters")
    )
    # The variables the template uses, found when it was saved.
    variables = ArrayField(models.CharField(max_length=60), default=list, blank=True, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    created_by = models.CharField(_("created by"), max_length=254, blank=True)

    class Meta:
        verbose_name = _("message template")
        verbose_name_plural = _("message templates")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SCHEDULED = "scheduled", _("Scheduled")
    FANNING_OUT = "fanning_out", _("Preparing the audience")
    SENDING = "sending", _("Sending")
    PAUSED = "paused", _("Paused")
    CANCELLED = "cancelled", _("Cancelled")
    DONE = "done", _("Done")


class Campaign(models.Model):
    """A broadcast: an audience (a saved filter of the affiliate list, later a segment), a channel or
    a fallback chain with a template each, when, a priority, an optional holdout and a goal."""

    name = models.CharField(_("name"), max_length=160)
    status = models.CharField(
        _("status"), max_length=16, choices=CampaignStatus.choices, default=CampaignStatus.DRAFT
    )
    # The affiliate list's query string (crm.forms.AffiliateFilterForm) this campaign goes to.
    audience_query = models.TextField(_("audience (list filter)"), blank=True)
    segment_id = models.BigIntegerField(_("segment"), null=True, blank=True)
    # The fallback chain: the first channel the affiliate can be reached on is used; the next when the
    # provider reports failure.
    channels = ArrayField(
        models.CharField(max_length=16, choices=CHANNEL_CHOICES), verbose_name=_("channels")
    )
    templates = models.ManyToManyField(MessageTemplate, related_name="campaigns", verbose_name=_("templates"))
    # Wins the last slot of a contact-pressure budget over a campaign of lower priority.
    priority = models.PositiveSmallIntegerField(
        _("priority"), default=5, validators=[MinValueValidator(1), MaxValueValidator(10)]
    )
    send_at = models.DateTimeField(_("send at"), null=True, blank=True)
    holdout_percent = models.PositiveSmallIntegerField(
        _("holdout (%)"), default=0, validators=[MaxValueValidator(50)]
    )
    goal_event = models.CharField(_("goal event"), max_length=40, blank=True)
    conversion_window_days = models.PositiveSmallIntegerField(
        _("conversion window (days)"), default=7, validators=[MinValueValidator(1), MaxValueValidator(90)]
    )
    # Progress of the fan-out (the audience is counted first, then written in batches).
    audience_count = models.PositiveIntegerField(_("audience"), default=0)
    fanned_out = models.PositiveIntegerField(_("prepared"), default=0)
    holdout_count = models.PositiveIntegerField(_("holdout"), default=0)
    created_by = models.CharField(_("created by"), max_length=254, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    launched_at = models.DateTimeField(_("launched at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(channels__len__gt=0), name="campaign_has_a_channel"),
        ]

    def __str__(self) -> str:
        return self.name


class CampaignHoldout(models.Model):
    """An affiliate kept out of a campaign as its control group (stable: the same affiliate always
    falls on the same side for a campaign)."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="holdouts")
    affiliate = models.ForeignKey(Affiliate, on_delete=models.CASCADE, related_name="+", db_index=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "affiliate"], name="campaignholdout_once"),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id}: {self.affiliate_id}"


class MessageStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    SUPPRESSED = "suppressed", _("Not sent")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    DELIVERED = "delivered", _("Delivered")
    READ = "read", _("Read")
    CLICKED = "clicked", _("Clicked")
    BOUNCED = "bounced", _("Bounced")
    FAILED = "failed", _("Failed")
    DEAD = "dead", _("Failed after retries")
    CANCELLED = "cancelled", _("Cancelled")


# A status only replaces one of a lower rank: "read" never becomes "delivered".
STATUS_RANK: dict[str, int] = {
    MessageStatus.QUEUED: 0,
    MessageStatus.SENDING: 1,
    MessageStatus.SENT: 2,
    MessageStatus.DELIVERED: 3,
    MessageStatus.READ: 4,
    MessageStatus.CLICKED: 5,
    # Terminal states.
    MessageStatus.SUPPRESSED: 10,
    MessageStatus.CANCELLED: 10,
    MessageStatus.BOUNCED: 10,
    MessageStatus.FAILED: 10,
    MessageStatus.DEAD: 10,
}
PENDING_STATUSES = (MessageStatus.QUEUED, MessageStatus.SENDING)


class SuppressionReason(models.TextChoices):
    """Why a message was not sent (kept on the message)."""

    NO_CONSENT = "no_consent", _("No consent for this channel")
    OPTED_OUT = "opted_out", _("Opted out of all messages")
    NO_ADDRESS = "no_address", _("No address for this channel")
    FREQUENCY_CAP = "frequency_cap", _("Frequency cap reached")
    PRESSURE_BUDGET = "pressure_budget", _("Cross-UDN contact budget reached")
    OUTSIDE_WINDOW = "outside_window", _("Outside the WhatsApp 24-hour window")
    CHANNEL_DISABLED = "channel_disabled", _("Channel disabled")
    HOLDOUT = "holdout", _("Held out (control group)")
    CAMPAIGN_CANCELLED = "campaign_cancelled", _("Campaign cancelled")
    RENDER_ERROR = "render_error", _("The template could not be filled in")


class MessageSource(models.TextChoices):
    CAMPAIGN = "campaign", _("Campaign")
    API = "api", _("Partner API")
    JOURNEY = "journey", _("Journey")
    TEST = "test", _("Test send")
    # Loyalty's own messages (expiry warnings, ranking and mission alerts), told apart in reports.
    LOYALTY = "loyalty", _("Loyalty programme")


class Message(models.Model):
    """One message to one affiliate on one channel: the outbox row, then the record of its fate."""

    id = models.BigAutoField(primary_key=True)
    affiliate = models.ForeignKey(Affiliate, on_delete=models.CASCADE, related_name="+", db_index=False)
    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, null=True, blank=True, related_name="messages"
    )
    template = models.ForeignKey(MessageTemplate, on_delete=models.PROTECT, related_name="messages")
    channel = models.CharField(_("channel"), max_length=16, choices=CHANNEL_CHOICES)
    # The channels still to try, in order, should this one fail (the rest of a fallback chain).
    fallback = ArrayField(models.CharField(max_length=16), default=list, blank=True)
    source = models.CharField(_("source"), max_length=12, choices=MessageSource.choices)
    priority = models.PositiveSmallIntegerField(_("priority"), default=5)
    status = models.CharField(
        _("status"), max_length=12, choices=MessageStatus.choices, default=MessageStatus.QUEUED
    )
    reason = models.CharField(_("reason"), max_length=24, choices=SuppressionReason.choices, blank=True)
    # Due work (crm.services.duework): when the sender may take it; cleared once it left or died.
    due_at = models.DateTimeField(_("due at"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    # Passed to the provider so that a retry never sends twice.
    idempotency_key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    provider = models.CharField(_("provider"), max_length=20, blank=True)
    provider_message_id = models.CharField(_("provider's id"), max_length=200, blank=True)
    # Variables beyond the affiliate's (the triggering event's, the API caller's).
    variables = models.JSONField(_("variables"), default=dict, blank=True)
    # What was sent, as the provider received it (subject, text, parameters...).
    rendered = models.JSONField(_("content"), default=dict, blank=True)
    error = models.TextField(_("provider's error"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)
    clicked_at = models.DateTimeField(_("clicked at"), null=True, blank=True)
    failed_at = models.DateTimeField(_("failed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["-created_at"]
        indexes = [
            # The sender's claim: pending rows by due time.
            models.Index(fields=["due_at"], name="message_due", condition=Q(status__in=PENDING_STATUSES)),
            # ... in the order the sender claims them (crm.services.duework with rank "priority":
            # highest priority first, then oldest due), read from the index instead of sorting
            # every due row of a big campaign for each batch.
            models.Index(
                fields=["-priority", "due_at"], name="message_claim", condition=Q(status__in=PENDING_STATUSES)
            ),
            # Frequency caps and an affiliate's messages.
            models.Index(fields=["affiliate", "channel", "sent_at"], name="message_affiliate_sent"),
            models.Index(fields=["campaign", "status"], name="message_campaign_status"),
            models.Index(
                fields=["provider_message_id"],
                name="message_provider_id",
                condition=~Q(provider_message_id=""),
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.channel} → {self.affiliate_id}"


class MessageStatusChange(models.Model):
    """A status a message reached, as the provider (or the sender) reported it; once per status."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="status_changes")
    status = models.CharField(_("status"), max_length=12, choices=MessageStatus.choices)
    at = models.DateTimeField(_("when"))
    detail = models.JSONField(_("detail"), default=dict, blank=True)

    class Meta:
        ordering = ["message", "at"]
        constraints = [models.UniqueConstraint(fields=["message", "status"], name="messagestatus_once")]

    def __str__(self) -> str:
        return f"#{self.message_id} {self.status}"


class InboundMessage(models.Model):
    """A message an affiliate sent us (a WhatsApp or SMS reply, a Telegram message): it opens
    WhatsApp's 24-hour customer-service window and may be an opt-out ("SAIR", "PARAR"...)."""

    channel = models.CharField(_("channel"), max_length=16, choices=CHANNEL_CHOICES)
    affiliate = models.ForeignKey(
        Affiliate, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    from_address = models.CharField(_("from"), max_length=200)
    text = models.TextField(_("text"), blank=True)
    provider_message_id = models.CharField(_("provider's id"), max_length=200, unique=True)
    received_at = models.DateTimeField(_("received at"))
    opt_out = models.BooleanField(_("opt-out"), default=False)

    class Meta:
        ordering = ["-received_at"]
        indexes = [models.Index(fields=["affiliate", "channel", "received_at"], name="inbound_affiliate")]

    def __str__(self) -> str:
        return f"{self.channel} ← {self.from_address}"


class SandboxMessage(models.Model):
    """What the local sandbox received for this UDN, for the "Caixa de saída" page: the message as
    the person would get it."""

    channel = models.CharField(_("channel"), max_length=16, choices=CHANNEL_CHOICES)
    to = models.CharField(_("to"), max_length=254)
    subject = models.CharField(_("subject"), max_length=300, blank=True)
    body_text = models.TextField(_("text"), blank=True)
    body_html = models.TextField(_("HTML"), blank=True)
    payload = models.JSONField(_("as received"), default=dict)
    provider_message_id = models.CharField(_("provider's id"), max_length=200, unique=True)
    received_at = models.DateTimeField(_("received at"), auto_now_add=True)

    class Meta:
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"{self.channel} → {self.to}"


# --- journeys ---------------------------------------------------------------------------------------


class JourneyStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    LIVE = "live", _("Live")
    PAUSED = "paused", _("Paused")
    ARCHIVED = "archived", _("Archived")


class ReentryRule(models.TextChoices):
    NEVER = "never", _("Never")
    AFTER_DAYS = "after_days", _("After some days")


class Journey(models.Model):
    """A behaviour-driven automation: a versioned graph of steps (campaigns.services.journeys).
    `draft_graph` is the editor's working copy; publishing freezes it as a new `JourneyVersion`,
    and new enrollments take the latest version while those inside finish on theirs."""

    name = models.CharField(_("name"), max_length=160)
    description = models.TextField(_("description"), blank=True)
    status = models.CharField(
        _("status"), max_length=12, choices=JourneyStatus.choices, default=JourneyStatus.DRAFT
    )
    draft_graph = models.JSONField(_("graph (draft)"), default=dict, blank=True)
    reentry = models.CharField(
        _("re-entry"), max_length=12, choices=ReentryRule.choices, default=ReentryRule.NEVER
    )
    reentry_days = models.PositiveSmallIntegerField(
        _("re-entry after (days)"), default=0, validators=[MaxValueValidator(3650)]
    )
    holdout_percent = models.PositiveSmallIntegerField(
        _("holdout (%)"), default=0, validators=[MaxValueValidator(50)]
    )
    goal_event = models.CharField(_("goal event"), max_length=40, blank=True)
    # The ready-made journey it was copied from (campaigns.services.journey_presets), if any.
    preset = models.CharField(_("ready-made journey"), max_length=40, blank=True)
    # Signs the webhook steps' requests (X-UDN-Signature, as the API's webhooks).
    webhook_secret = models.CharField(max_length=64, blank=True, editable=False)
    # The last day (UDN time) its date triggers enrolled the day's affiliates: once a day.
    dates_checked_on = models.DateField(null=True, blank=True, editable=False)
    created_by = models.CharField(_("created by"), max_length=254, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("journey")
        verbose_name_plural = _("journeys")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(holdout_percent__lte=50), name="journey_holdout_at_most_half"),
        ]

    def __str__(self) -> str:
        return self.name


class JourneyVersion(models.Model):
    """A published, frozen graph of a journey: {"triggers": [...], "steps": [...]}, each step with
    its id and its edges (next / yes / no / arms)."""

    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField(_("version"))
    graph = models.JSONField(_("graph"))
    published_at = models.DateTimeField(_("published at"))
    published_by = models.CharField(_("published by"), max_length=254, blank=True)

    class Meta:
        verbose_name = _("journey version")
        verbose_name_plural = _("journey versions")
        ordering = ["journey", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["journey", "number"], name="journeyversion_number_once"),
        ]

    def __str__(self) -> str:
        return f"{self.journey_id} v{self.number}"


class EnrollmentStatus(models.TextChoices):
    ACTIVE = "active", _("In the journey")
    COMPLETED = "completed", _("Completed")
    CONVERTED = "converted", _("Converted")
    EXITED = "exited", _("Exited")
    FAILED = "failed", _("Stopped after errors")


class Enrollment(models.Model):
    """One affiliate's passage through one version of a journey. Due work (crm.services.duework):
    an active enrollment is due at `due_at` (its wait ends, its event's deadline, or now for a step
    that runs at once) and is taken by the journeys' tick in batches."""

    id = models.BigAutoField(primary_key=True)
    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="enrollments")
    version = models.ForeignKey(JourneyVersion, on_delete=models.PROTECT, related_name="enrollments")
    affiliate = models.ForeignKey(Affiliate, on_delete=models.CASCADE, related_name="+", db_index=False)
    step = models.CharField(_("current step"), max_length=40)
    step_at = models.DateTimeField(_("at this step since"))
    status = models.CharField(
        _("status"), max_length=12, choices=EnrollmentStatus.choices, default=EnrollmentStatus.ACTIVE
    )
    due_at = models.DateTimeField(_("due at"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    # A wait-for-event step: the event type and when the "did not" exit is taken.
    waiting_for = models.CharField(_("waiting for"), max_length=40, blank=True)
    deadline_at = models.DateTimeField(_("deadline"), null=True, blank=True)
    holdout = models.BooleanField(_("held out"), default=False)
    # What made it enter, unique per journey and affiliate: "ev:<event pk>", "date:<day>",
    # "api:<key>", "segment:<id>:<at>": the same cause never enrols twice.
    entry_key = models.CharField(max_length=120)
    # Variables for its messages: {"evento": {...the triggering event's properties}}.
    context = models.JSONField(default=dict, blank=True)
    entered_at = models.DateTimeField(_("entered at"))
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("enrollment")
        verbose_name_plural = _("enrollments")
        ordering = ["-entered_at"]
        indexes = [
            models.Index(
                fields=["due_at"], name="enrollment_due", condition=Q(status=EnrollmentStatus.ACTIVE)
            ),
            models.Index(fields=["affiliate", "journey"], name="enrollment_affiliate"),
            models.Index(
                fields=["waiting_for", "affiliate"],
                name="enrollment_waiting",
                condition=Q(status=EnrollmentStatus.ACTIVE) & ~Q(waiting_for=""),
            ),
            models.Index(fields=["journey", "version", "status", "step"], name="enrollment_counts"),
        ]
        constraints = [
            # One passage at a time per journey and affiliate (re-entry starts after it ends).
            models.UniqueConstraint(
                fields=["journey", "affiliate"],
                condition=Q(status=EnrollmentStatus.ACTIVE),
                name="enrollment_one_active",
            ),
            models.UniqueConstraint(
                fields=["journey", "affiliate", "entry_key"], name="enrollment_entry_once"
            ),
            models.CheckConstraint(
                condition=~Q(status=EnrollmentStatus.ACTIVE) | Q(due_at__isnull=False),
                name="enrollment_active_is_due",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.journey_id}: {self.affiliate_id} @ {self.step}"


class JourneyStepOutcome(models.TextChoices):
    """What came of a step (JourneyStepLog.outcome): the codes the engine writes, stable (the
    partner API's history returns them), and the labels people read on the affiliate's page.
    Not the field's choices (the log is written by SQL; a label added here needs no migration)."""

    ENTERED = "entered", _("Entered the step")
    WAITED = "waited", _("Wait over")
    YES = "yes", _("Yes")
    NO = "no", _("No")
    ARM = "arm", _("Split arm")
    SENT = "sent", _("Message sent")
    SUPPRESSED = "suppressed", _("Message not sent")
    HELD_OUT = "held_out", _("Held out (control group)")
    UPDATED = "updated", _("Updated")
    UNCHANGED = "unchanged", _("Nothing to change")
    WEBHOOK_QUEUED = "webhook_queued", _("Webhook queued")
    WEBHOOK = "webhook", _("Webhook delivered")
    WEBHOOK_FAILED = "webhook_failed", _("Webhook failed")
    FAILED = "failed", _("Failed")
    EXIT = "exit", _("Exited")
    GOAL = "goal", _("Goal reached (conversion)")
    ARCHIVED = "archived", _("Journey archived")


class JourneyStepLog(models.Model):
    """A step an enrollment passed and what came of it (a `JourneyStepOutcome` code): which exit,
    and why ("did app_downloaded within 24 h", "arm B (50%)", "sent on whatsapp", "no consent")."""

    id = models.BigAutoField(primary_key=True)
    enrollment = models.ForeignKey(Enrollment, on_delete=models.CASCADE, related_name="log", db_index=False)
    step = models.CharField(_("step"), max_length=40)
    at = models.DateTimeField(_("when"))
    outcome = models.CharField(_("outcome"), max_length=40)
    reason = models.CharField(_("reason"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("journey step")
        verbose_name_plural = _("journey steps")
        ordering = ["enrollment", "at", "id"]
        indexes = [models.Index(fields=["enrollment", "at"], name="journeysteplog_enrollment")]

    def __str__(self) -> str:
        return f"{self.enrollment_id} {self.step}: {self.outcome}"


class JourneyWebhookCallStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")


class JourneyWebhookCall(models.Model):
    """A webhook step's call for one enrollment: due work (crm.services.duework) written by the
    step inside its batch and sent by the journeys' webhook task outside any transaction, retried
    with backoff. The body is fixed when the step runs (a retry sends the same one); its outcome
    is added to the enrollment's step log."""

    id = models.BigAutoField(primary_key=True)
    enrollment = models.ForeignKey(
        Enrollment, on_delete=models.CASCADE, related_name="webhook_calls", db_index=False
    )
    step = models.CharField(_("step"), max_length=40)
    url = models.CharField(_("URL"), max_length=2000)
    payload = models.JSONField(_("payload"))
    status = models.CharField(
        _("status"),
        max_length=12,
        choices=JourneyWebhookCallStatus.choices,
        default=JourneyWebhookCallStatus.PENDING,
    )
    due_at = models.DateTimeField(_("due at"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_status_code = models.PositiveSmallIntegerField(_("last HTTP status"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("created at"))
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("journey webhook call")
        verbose_name_plural = _("journey webhook calls")
        ordering = ["id"]
        indexes = [
            models.Index(
                fields=["due_at"],
                name="journeywebhookcall_due",
                condition=Q(status=JourneyWebhookCallStatus.PENDING),
            ),
            models.Index(fields=["enrollment"], name="journeywebhookcall_enrollment"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status=JourneyWebhookCallStatus.PENDING) | Q(due_at__isnull=False),
                name="journeywebhookcall_pending_is_due",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.enrollment_id} {self.step}: {self.status}"
