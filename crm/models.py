"""The CRM core's data, in each UDN's schema: affiliates, their consent, their
event timeline, deposit tiers, imports and data-quality snapshots."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import BrinIndex, GinIndex
from django.db import models
from django.db.models.functions import Left, Length, Substr
from django.db.models.lookups import Exact, Range
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from crm.brazil import ACCENTED, CPF_LENGTH, PLAIN
from crm.channels import CHANNELS

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


class DigitsOnly(models.Func):
    """True when a text holds ASCII digits only (or nothing): `ltrim(text, '0123456789') = ''`.

    The check constraints on CPF and phone use it instead of a regular expression: every imported
    row is checked, and PostgreSQL strips a character set about twice as fast as it matches
    `^[0-9]+$` (measured: 1.3 s less a million rows on the two columns)."""

    template = "ltrim(%(expressions)s, '0123456789') = ''"
    output_field = models.BooleanField()


class MomentField(models.DateTimeField):  # type: ignore[type-arg]
    """A time a partner or a file gives (an event's, a consent's) and what derives from it.

    New values are bounded where they come in (crm.normalize.moment_in_range), but rows stored
    before that may hold any time PostgreSQL takes (year 1 at +05:00 is 1 BC in UTC), which Python
    cannot load, or can load but not show in a zone behind UTC. Reads clamp into the days every
    zone can show, so such a row still opens its pages, API answers and exports; NULL stays NULL.
    A plain DateTimeField to migrations (same column, nothing to migrate)."""

    READ_MIN = "0001-01-02 00:00:00+00"
    READ_MAX = "9999-12-30 00:00:00+00"

    def select_format(self, compiler: Any, sql: str, params: Any) -> Any:
        sql, params = super().select_format(compiler, sql, params)
        low, high = f"'{self.READ_MIN}'::timestamptz", f"'{self.READ_MAX}'::timestamptz"
        clamped = f"CASE WHEN {sql} < {low} THEN {low} WHEN {sql} > {high} THEN {high} ELSE {sql} END"
        return clamped, (*params, *params, *params)  # `sql` appears three times

    def deconstruct(self) -> Any:
        name, _path, args, kwargs = super().deconstruct()
        return name, "django.db.models.DateTimeField", args, kwargs


class Folded(models.Func):
    """SQL: a text in lower case without accents (`lower(translate(text, ACCENTED, PLAIN))`), the
    SQL twin of crm.brazil.fold over the letters crm.brazil.ACCENTED lists (tested value by value).
    PostgreSQL's `unaccent` is an extension (a migration and superuser rights); `translate()` is
    built in. Upper case is listed too, so the folding does not depend on the database's ctype;
    `lower()` then only needs ASCII.

    Name search matches on it, and names sort by it (then by the name itself), which is the
    Brazilian order: "Álvaro" before "Bruno", "Élio" beside "Elio". An ICU collation (pt-BR)
    would say the same, but the embedded PostgreSQL is built without ICU ("ICU is not supported
    in this build") and the databases sort with LC_COLLATE C; this works on any server, and its
    functions live in pg_catalog, so the index on it clones with the UDN template like any other.
    The letters are literals in the SQL (not parameters), so a query's expression is the
    index's, word for word."""

    template = f"lower(translate(%(expressions)s, '{ACCENTED}', '{PLAIN}'))"
    output_field = models.CharField()


# CPF: 11 digits, as normalised (or blank). Phone: E.164, "+" then 8 to 15 digits, the first not a
# zero (or blank): what `^[0-9]{11}$` and `^\+[1-9][0-9]{7,14}$` say, in cheaper terms.
# Shapes only (what is stored), looser than crm.brazil's rules: whatever those accept passes.
CPF_CHECK = models.Q(cpf="") | models.Q(Exact(Length("cpf"), CPF_LENGTH), DigitsOnly("cpf"))
PHONE_CHECK = models.Q(phone="") | models.Q(
    Range(Length("phone"), (9, 16)),
    Exact(Left("phone", 1), "+"),
    ~models.Q(Exact(Substr("phone", 2, 1), "0")),
    DigitsOnly(Substr("phone", 2)),
)


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


# The consent ledger's channels, as choices: crm.channels is the registry. (django-stubs types the
# functional API with plain names only, not (value, label) members.)
Channel = models.TextChoices(  # type: ignore[call-overload]
    "Channel", [(channel.code.upper(), (channel.code, channel.label)) for channel in CHANNELS]
)


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


class AuditActorKind(models.TextChoices):
    """Who an audit entry says acted (tenants.actors' kinds)."""

    USER = "user", _("Person")
    API_KEY = "api_key", pgettext_lazy("audit", "API key")
    SYSTEM = "system", _("System")
    IMPORT = "import", pgettext_lazy("audit", "Import")


class AuditAction(models.TextChoices):
    """The codes audit entries carry (stable: filters and partners' reports use them) and what
    people read for each. Not the field's choices: a new action needs no migration."""

    AFFILIATE_CREATED = "affiliate.created", _("Affiliate created")
    AFFILIATE_UPDATED = "affiliate.updated", _("Affiliate changed")
    AFFILIATES_UPSERTED = "affiliates.upserted", _("Affiliates sent in a batch")
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
    # Written by campaigns (crm never imports it: the codes are plain data here).
    MESSAGE_TEMPLATE_CREATED = "message_template.created", _("Message template created")
    MESSAGE_TEMPLATE_UPDATED = "message_template.updated", _("Message template changed")


class AuditTarget(models.TextChoices):
    """What an audit entry is about (`target_type`)."""

    AFFILIATE = "affiliate", _("Affiliate")
    IMPORT = "import", pgettext_lazy("audit", "Import")
    API_KEY = "api_key", pgettext_lazy("audit", "API key")
    WEBHOOK = "webhook", _("Webhook")
    WEBHOOK_DELIVERY = "webhook_delivery", _("Webhook delivery")
    QUALITY = "quality", _("Data quality")
    MESSAGE_TEMPLATE = "message_template", _("Message template")


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


class EventType(models.TextChoices):
    LEAD_CREATED = "lead_created", _("Lead created")
    REGISTRATION_STARTED = "registration_started", _("Registration started")
    FORM_COMPLETED = "form_completed", _("Form completed")
    ACCOUNT_OPENED = "account_opened", _("Account opened")
    APP_DOWNLOADED = "app_downloaded", _("App downloaded")
    APP_ACTIVATED = "app_activated", _("App activated")
    CASH_IN = "cash_in", _("Cash in")
    CASHBACK = "cashback", _("Cashback")
    CASHOUT = "cashout", _("Cashout")
    CONSULTATION_SCHEDULED = "consultation_scheduled", _("Consultation scheduled")
    SUPPORT_TICKET_OPENED = "support_ticket_opened", _("Support ticket opened")
    SUPPORT_TICKET_CLOSED = "support_ticket_closed", _("Support ticket closed")
    # Subscriptions (seed 004): the payment platform reports them; journeys renew and win back.
    PAYMENT_FAILED = "payment_failed", _("Payment failed")
    SUBSCRIPTION_RENEWED = "subscription_renewed", _("Subscription renewed")
    SUBSCRIPTION_CANCELLED = "subscription_cancelled", _("Subscription cancelled")


class EventKind(models.Model):
    """A custom event type this UDN registered (beyond EventType)."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    label = models.CharField(_("label"), max_length=80)
    description = models.TextField(_("description"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("custom event kind")
        verbose_name_plural = _("custom event kinds")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.label


class Event(models.Model):
    """One thing that happened to an affiliate. Append-only; `event_id` makes ingest idempotent."""

    event_id = models.CharField(_("event id"), max_length=100)
    # The (affiliate, occurred_at) index below serves the foreign key too: no second index.
    affiliate = models.ForeignKey(Affiliate, on_delete=models.CASCADE, related_name="events", db_index=False)
    type = models.CharField(_("type"), max_length=40)
    occurred_at = MomentField(_("occurred at"))
    source = models.CharField(_("source"), max_length=40, blank=True)
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2, null=True, blank=True)
    properties = models.JSONField(_("properties"), default=dict, blank=True)
    received_at = models.DateTimeField(_("received at"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("event")
        verbose_name_plural = _("events")
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["affiliate", "-occurred_at"], name="event_affiliate_time"),
            models.Index(fields=["type", "occurred_at"], name="event_type_time"),
        ]
        # A constraint, not unique=True, which would add a LIKE twin index paid on every insert.
        constraints = [models.UniqueConstraint(fields=["event_id"], name="event_event_id_unique")]

    def __str__(self) -> str:
        return f"{self.type} @ {self.occurred_at:%d/%m/%Y %H:%M}"


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


class ColumnMapping(models.Model):
    """A source header this UDN mapped to a standard field, remembered for the next import."""

    header = models.CharField(_("header (normalised)"), max_length=200, unique=True)
    field = models.CharField(_("field"), max_length=60)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["header"]

    def __str__(self) -> str:
        return f"{self.header} → {self.field}"


class ImportStatus(models.TextChoices):
    UPLOADED = "uploaded", _("Uploaded")
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


class ImportJob(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    file = models.FileField(_("file"), upload_to="imports/%Y/%m/", max_length=300)
    original_name = models.CharField(_("file name"), max_length=255)
    # The file's headers in their order (jsonb keeps no key order).
    headers = ArrayField(
        models.CharField(max_length=200), default=list, blank=True, verbose_name=_("headers")
    )
    mapping = models.JSONField(_("column mapping"), default=dict, blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=ImportStatus.choices, default=ImportStatus.UPLOADED
    )
    expected_rows = models.PositiveIntegerField(_("rows in the file (estimate)"), default=0)
    total_rows = models.PositiveIntegerField(_("rows read"), default=0)
    created = models.PositiveIntegerField(_("created"), default=0)
    updated = models.PositiveIntegerField(_("updated"), default=0)
    unchanged = models.PositiveIntegerField(_("unchanged"), default=0)
    rejected = models.PositiveIntegerField(_("rejected"), default=0)
    # Rows imported with a bad optional field left blank (also counted in created/updated/unchanged).
    warned = models.PositiveIntegerField(_("imported with warnings"), default=0)
    duplicates = models.PositiveIntegerField(_("duplicates in file"), default=0)
    error = models.TextField(_("error"), blank=True)
    # Users live in the public schema; a foreign key from a UDN schema would make deleting a
    # user cascade into every UDN's tables. Keep who did it as text.
    created_by = models.CharField(_("created by"), max_length=254, blank=True)
    source = models.CharField(_("source"), max_length=16, default="ui")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    # Each queueing (the first run, each retry) is a new attempt; a task runs only the attempt it was
    # queued for, so a message redelivered after its worker died never runs a job twice.
    attempt = models.PositiveIntegerField(_("attempt"), default=0)

    class Meta:
        verbose_name = _("import")
        verbose_name_plural = _("imports")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        """The file's name without its folders: a command-line import keeps the server path in
        `original_name`, which people in the UI have no business seeing."""
        return self.original_name.replace("\\", "/").rsplit("/", 1)[-1] or self.original_name


class RejectedRow(models.Model):
    """An import row with problems, kept with its number and every reason: rejected, or imported with
    its bad optional fields left blank (`imported`, the reasons are then warnings)."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="rejected_rows")
    row_number = models.PositiveIntegerField(_("row"))
    reasons = ArrayField(models.CharField(max_length=120), verbose_name=_("reasons"))
    imported = models.BooleanField(_("imported with warnings"), default=False)
    data = models.JSONField(_("row as read"))

    class Meta:
        ordering = ["job", "row_number"]
        indexes = [models.Index(fields=["job", "row_number"], name="rejected_job_row")]

    def __str__(self) -> str:
        return f"#{self.row_number}: {'; '.join(self.reasons)}"


class QualitySnapshot(models.Model):
    """The data-quality figures of one day (the nightly job stores one)."""

    day = models.DateField(_("day"), unique=True)
    figures = models.JSONField(_("figures"))
    taken_at = models.DateTimeField(_("taken at"), auto_now=True)

    class Meta:
        ordering = ["-day"]

    def __str__(self) -> str:
        return f"{self.day:%d/%m/%Y}"


class LakeExport(models.Model):
    """One run of the Parquet export; the newest finished one is the next run's watermark."""

    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    watermark = models.DateTimeField(
        help_text="rows changed before this moment are in this export or an older one"
    )
    affiliates = models.PositiveIntegerField(default=0)
    events = models.PositiveIntegerField(default=0)
    files = models.JSONField(default=list)
    destination = models.CharField(max_length=500)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.started_at:%d/%m/%Y %H:%M} → {self.destination}"


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


class Segment(models.Model):
    """A saved audience: a tree of conditions over affiliates and their events (its `definition`,
    the versioned JSON schema of crm.segmentation), compiled to one SQL query when read. A
    `tracked` segment keeps its members (SegmentMembership) so journeys hear who enters and
    leaves it."""

    name = models.CharField(_("name"), max_length=120)
    description = models.TextField(_("description"), blank=True)
    definition = models.JSONField(_("conditions"))
    tracked = models.BooleanField(
        _("membership kept"),
        default=False,
        help_text=_("Keep the members up to date (journeys listen to who enters and leaves)."),
    )
    # Derived from the definition on save (crm.segmentation.references_of): what the hooks route by
    # (the event types and fields a condition mentions, those of the segments it names included)
    # and the segments it names (cycles are refused).
    event_types = ArrayField(models.CharField(max_length=40), default=list, blank=True)
    fields = ArrayField(models.CharField(max_length=60), default=list, blank=True)
    segment_refs = ArrayField(models.BigIntegerField(), default=list, blank=True)
    member_count = models.PositiveIntegerField(_("members"), null=True, blank=True)
    counted_at = models.DateTimeField(_("counted at"), null=True, blank=True)
    refreshed_at = models.DateTimeField(_("membership refreshed at"), null=True, blank=True)
    created_by = models.CharField(_("created by"), max_length=254, blank=True)
    updated_by = models.CharField(_("changed by"), max_length=254, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("segment")
        verbose_name_plural = _("segments")
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["name"], name="segment_name_unique")]

    def __str__(self) -> str:
        return self.name


class SegmentMembership(models.Model):
    """An affiliate inside a tracked segment since `entered_at` (rows come and go set-based:
    crm.services.segments.segment_members_refresh)."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="memberships", db_index=False)
    affiliate = models.ForeignKey(Affiliate, on_delete=models.CASCADE, related_name="segment_memberships")
    entered_at = models.DateTimeField(_("entered at"))

    class Meta:
        verbose_name = _("segment membership")
        verbose_name_plural = _("segment memberships")
        # The unique (segment, affiliate) index serves the segment's foreign key and its refresh.
        constraints = [
            models.UniqueConstraint(fields=["segment", "affiliate"], name="segment_membership_unique")
        ]

    def __str__(self) -> str:
        return f"{self.segment_id} ∋ {self.affiliate_id}"
