"""Loyalty, in each UDN's schema: the programme and its versioned rules, the append-only points
ledger, rewards and redemptions within a monthly budget, missions, ranking snapshots and rule
simulations. Points are whole numbers; money is Decimal in R$."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from crm.models import Affiliate, Event


class Programme(models.Model):
    """The UDN's one programme (`key` is always 1)."""

    key = models.PositiveSmallIntegerField(default=1, unique=True, editable=False)
    name = models.CharField(_("name"), max_length=120)
    currency_name = models.CharField(_("point currency name"), max_length=40, default="pontos")
    point_value = models.DecimalField(_("point value (R$)"), max_digits=10, decimal_places=4, default=0.01)
    expiry_months = models.PositiveSmallIntegerField(_("points expire after (months)"), default=12)
    expiry_warning_days = models.PositiveSmallIntegerField(_("warn this many days before expiry"), default=15)
    expiry_warning_template = models.CharField(_("expiry warning template (code)"), max_length=80, blank=True)
    alert_template = models.CharField(
        _("ranking and mission alert template (code)"), max_length=80, blank=True
    )
    monthly_budget = models.DecimalField(_("monthly budget (R$)"), max_digits=14, decimal_places=2, default=0)
    expected_redemption_rate = models.DecimalField(
        _("expected share of points redeemed"), max_digits=4, decimal_places=3, default=0.6
    )
    ranking_top_n = models.PositiveSmallIntegerField(_("ranking alerts: top N"), default=10)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("loyalty programme")
        verbose_name_plural = _("loyalty programmes")
        constraints = [models.CheckConstraint(condition=models.Q(key=1), name="programme_single")]

    def __str__(self) -> str:
        return self.name


class RuleSetStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    LIVE = "live", _("Live")
    RETIRED = "retired", _("Retired")


class RuleSet(models.Model):
    """A version of the programme's rules: one draft being edited, one live, older ones retired."""

    programme = models.ForeignKey(Programme, on_delete=models.CASCADE, related_name="rule_sets")
    version = models.PositiveIntegerField(_("version"))
    status = models.CharField(_("status"), max_length=10, choices=RuleSetStatus.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(_("published at"), null=True, blank=True)
    published_by = models.CharField(_("published by"), max_length=254, blank=True)

    class Meta:
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(fields=["programme", "version"], name="ruleset_version_unique"),
            models.UniqueConstraint(
                fields=["programme", "status"],
                condition=models.Q(status__in=["draft", "live"]),
                name="ruleset_one_draft_one_live",
            ),
        ]

    def __str__(self) -> str:
        return f"v{self.version} ({self.status})"


class PointsKind(models.TextChoices):
    FIXED = "fixed", _("Fixed points")
    PER_REAL = "per_real", _("Points per R$ of the amount")
    MULTIPLIER = "multiplier", _("Multiplier of the other rules' points")


class LimitPeriod(models.TextChoices):
    NONE = "", _("No limit")
    DAY = "day", _("Per day")
    MONTH = "month", _("Per month")
    EVER = "ever", _("Ever")


class Rule(models.Model):
    """Turns an event into points. `conditions`: [{"field": "channel", "op": "eq", "value": "app"}]
    on the event's properties (`amount` names the event's amount); `stages`, `tiers`, `plans`:
    the affiliate must be in one of them (empty: any); `segment_id`: a crm segment, when segments
    exist. `points`: the fixed points, the points per R$ 1, or the factor of a multiplier."""

    rule_set = models.ForeignKey(RuleSet, on_delete=models.CASCADE, related_name="rules")
    # Kept from version to version, so the live and a draft's rule can be compared.
    code = models.SlugField(_("code"), max_length=60)
    name = models.CharField(_("name"), max_length=120)
    event_type = models.CharField(_("event kind"), max_length=40)
    conditions = models.JSONField(_("conditions on the event"), default=list, blank=True)
    stages = models.JSONField(_("stages"), default=list, blank=True)
    tiers = models.JSONField(_("tiers"), default=list, blank=True)
    plans = models.JSONField(_("plans"), default=list, blank=True)
    segment_id = models.IntegerField(_("segment"), null=True, blank=True)
    points_kind = models.CharField(_("points"), max_length=12, choices=PointsKind.choices)
    points = models.DecimalField(_("points / factor"), max_digits=12, decimal_places=4)
    limit_period = models.CharField(_("limit"), max_length=8, choices=LimitPeriod.choices, blank=True)
    limit_count = models.PositiveIntegerField(_("times per period"), default=1)
    valid_from = models.DateField(_("valid from"), null=True, blank=True)
    valid_until = models.DateField(_("valid until"), null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["rule_set", "code"], name="rule_code_unique"),
            models.CheckConstraint(condition=models.Q(points__gt=0), name="rule_points_positive"),
            models.CheckConstraint(condition=models.Q(limit_count__gte=1), name="rule_limit_count_positive"),
        ]

    def __str__(self) -> str:
        return self.name


class EntryKind(models.TextChoices):
    EARN = "earn", _("Earned")
    REDEEM = "redeem", _("Redeemed")
    EXPIRE = "expire", _("Expired")
    ADJUST = "adjust", _("Adjustment")
    REVERSE = "reverse", _("Reversed")
    BONUS = "bonus", _("Mission bonus")


class LedgerEntry(models.Model):
    """One movement of an affiliate's points. Append-only: the balance is the sum of `points`.
    An earn names its event and rule (each pair earns once); a reverse names the earn it undoes
    (each once); a positive entry with `expires_at` is a lot the FIFO expiry reads."""

    id = models.BigAutoField(primary_key=True)
    affiliate = models.ForeignKey(Affiliate, on_delete=models.CASCADE, related_name="+", db_index=False)
    kind = models.CharField(_("kind"), max_length=10, choices=EntryKind.choices)
    points = models.BigIntegerField(_("points"))
    event = models.ForeignKey(
        Event,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    rule = models.ForeignKey(
        Rule, on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False
    )
    reverses = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="reversed_by"
    )
    redemption = models.ForeignKey(
        "Redemption", on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False
    )
    mission = models.ForeignKey(
        "Mission", on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False
    )
    occurred_at = models.DateTimeField(_("when"))
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    created_by = models.CharField(_("by"), max_length=254, blank=True)
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name = _("points entry")
        verbose_name_plural = _("points entries")
        indexes = [
            models.Index(fields=["affiliate", "occurred_at"], name="ledger_affiliate_time"),
            models.Index(fields=["occurred_at"], name="ledger_time"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["event", "rule"], condition=models.Q(kind="earn"), name="ledger_event_rule_once"
            ),
            models.UniqueConstraint(
                fields=["affiliate", "mission"],
                condition=models.Q(kind="bonus"),
                name="ledger_mission_bonus_once",
            ),
            models.CheckConstraint(condition=~models.Q(points=0), name="ledger_points_nonzero"),
            models.CheckConstraint(
                condition=~models.Q(kind="earn")
                | models.Q(event__isnull=False, rule__isnull=False, points__gt=0),
                name="ledger_earn_has_event_rule",
            ),
            models.CheckConstraint(
                condition=~models.Q(kind__in=["redeem", "expire", "reverse"]) | models.Q(points__lt=0),
                name="ledger_debits_negative",
            ),
            models.CheckConstraint(
                condition=~models.Q(kind="adjust") | ~models.Q(reason=""), name="ledger_adjust_has_reason"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.points:+d}"


class RewardKind(models.TextChoices):
    CASHBACK = "cashback", _("Cashback credit")
    DISCOUNT = "discount", _("Discount")
    CONSULTATION = "consultation", _("Consultation voucher")
    PARTNER = "partner", _("Partner product")


class Reward(models.Model):
    name = models.CharField(_("name"), max_length=120)
    kind = models.CharField(_("kind"), max_length=16, choices=RewardKind.choices)
    description = models.TextField(_("description"), blank=True)
    points_price = models.PositiveIntegerField(_("price in points"))
    cost = models.DecimalField(_("cost (R$)"), max_digits=12, decimal_places=2)
    stock = models.PositiveIntegerField(_("stock"), null=True, blank=True, help_text=_("Empty: unlimited."))
    available_from = models.DateField(_("available from"), null=True, blank=True)
    available_until = models.DateField(_("available until"), null=True, blank=True)
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["points_price", "name"]
        verbose_name = _("reward")
        verbose_name_plural = _("rewards")
        constraints = [
            models.CheckConstraint(condition=models.Q(points_price__gt=0), name="reward_price_positive"),
            models.CheckConstraint(condition=models.Q(cost__gte=0), name="reward_cost_non_negative"),
        ]

    def __str__(self) -> str:
        return self.name


class BudgetMonth(models.Model):
    """A month's budget and what redemptions spent of it; redemptions lock this row."""

    month = models.DateField(_("month"), unique=True)
    budget = models.DecimalField(_("budget (R$)"), max_digits=14, decimal_places=2)
    spent = models.DecimalField(_("spent (R$)"), max_digits=14, decimal_places=2, default=0)

    class Meta:
        ordering = ["-month"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(spent__lte=models.F("budget")), name="budget_not_exceeded"
            )
        ]

    def __str__(self) -> str:
        return f"{self.month:%m/%Y}"


class Redemption(models.Model):
    id = models.BigAutoField(primary_key=True)
    affiliate = models.ForeignKey(Affiliate, on_delete=models.CASCADE, related_name="+")
    reward = models.ForeignKey(Reward, on_delete=models.PROTECT, related_name="redemptions")
    points = models.PositiveIntegerField(_("points"))
    cost = models.DecimalField(_("cost (R$)"), max_digits=12, decimal_places=2)
    month = models.DateField(_("budget month"))
    created_at = models.DateTimeField(_("redeemed at"), auto_now_add=True)
    created_by = models.CharField(_("by"), max_length=254, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("redemption")
        verbose_name_plural = _("redemptions")

    def __str__(self) -> str:
        return f"{self.reward_id} → {self.affiliate_id}"


class Mission(models.Model):
    """Steps (event kinds), in order or not, each done within `period_days` of the first; a bonus
    on completion."""

    name = models.CharField(_("name"), max_length=120)
    steps = models.JSONField(_("steps (event kinds)"), default=list)
    ordered = models.BooleanField(_("steps in order"), default=True)
    period_days = models.PositiveSmallIntegerField(_("days to complete"), default=7)
    bonus_points = models.PositiveIntegerField(_("bonus points"))
    starts_on = models.DateField(_("starts on"), null=True, blank=True)
    ends_on = models.DateField(_("ends on"), null=True, blank=True)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("mission")
        verbose_name_plural = _("missions")

    def __str__(self) -> str:
        return self.name


class MissionProgress(models.Model):
    mission = models.ForeignKey(Mission, on_delete=models.CASCADE, related_name="progress")
    affiliate = models.ForeignKey(Affiliate, on_delete=models.CASCADE, related_name="+", db_index=False)
    done = models.JSONField(_("steps done"), default=list)  # step indexes
    started_at = models.DateTimeField(_("started at"))
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)
    nudged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["affiliate", "mission"], name="mission_progress_once"),
        ]

    def __str__(self) -> str:
        return f"{self.mission_id}: {len(self.done)}"


class RankingPosition(models.Model):
    """The last computed position of an affiliate in a ranking (to alert on climbs and falls)."""

    ranking = models.CharField(max_length=140)  # "overall", "city:São Paulo", "plan:Ouro"
    affiliate = models.ForeignKey(Affiliate, on_delete=models.CASCADE, related_name="+", db_index=False)
    position = models.PositiveIntegerField()
    computed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["ranking", "affiliate"], name="ranking_position_once"),
        ]

    def __str__(self) -> str:
        return f"{self.ranking} #{self.position}"


class SimulationStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class Simulation(models.Model):
    rule_set = models.ForeignKey(RuleSet, on_delete=models.CASCADE, related_name="simulations")
    period_start = models.DateField(_("from"))
    period_end = models.DateField(_("to"))
    status = models.CharField(
        max_length=10, choices=SimulationStatus.choices, default=SimulationStatus.QUEUED
    )
    progress = models.PositiveSmallIntegerField(default=0)
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    created_by = models.CharField(max_length=254, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.period_start} – {self.period_end}"
