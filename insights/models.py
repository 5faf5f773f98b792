"""Insights' rollups, in each UDN's schema: daily aggregates computed from the events by SQL
(insights.services.rollups), which the dashboards read instead of the raw timeline, and the
marketing spend the end-to-end analytics divide by.

Every rollup row is keyed by a local day of the UDN (its time zone): a refresh of some days
deletes their rows and computes them anew, so a late event corrects the day it belongs to."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class EventDay(models.Model):
    """Events of one type on one day, by the affiliate's origin and plan: how many, how many were
    the affiliate's first of that type (`firsts`), and their amounts."""

    day = models.DateField()
    origin = models.CharField(max_length=16)
    plan = models.CharField(max_length=80)
    type = models.CharField(max_length=40)
    events = models.IntegerField()
    firsts = models.IntegerField()
    amount = models.DecimalField(max_digits=18, decimal_places=2)
    first_amount = models.DecimalField(max_digits=18, decimal_places=2)

    class Meta:
        indexes = [models.Index(fields=["type", "day"], name="insights_eventday_type_day")]

    def __str__(self) -> str:
        return f"{self.day:%d/%m/%Y} {self.type}: {self.events}"


class DepositDay(models.Model):
    """Cash in on one day by the affiliate's current deposit tier: count and amount, and the
    affiliates' first deposits among them."""

    day = models.DateField(db_index=True)
    tier = models.CharField(max_length=40)
    deposits = models.IntegerField()
    amount = models.DecimalField(max_digits=18, decimal_places=2)
    firsts = models.IntegerField()
    first_amount = models.DecimalField(max_digits=18, decimal_places=2)

    def __str__(self) -> str:
        return f"{self.day:%d/%m/%Y} {self.tier}: {self.deposits}"


class DurationDay(models.Model):
    """Durations of one metric (e.g. account opened → app activated) started on `day`, by origin
    and plan, counted per histogram bucket (insights.metrics.BUCKET_BOUNDS) with their sum in
    seconds: percentiles come from the bucket counts, means from the sums."""

    day = models.DateField()
    origin = models.CharField(max_length=16)
    plan = models.CharField(max_length=80)
    metric = models.CharField(max_length=40)
    bucket = models.SmallIntegerField()
    n = models.IntegerField()
    seconds = models.BigIntegerField()

    class Meta:
        indexes = [models.Index(fields=["metric", "day"], name="insights_durationday_metric")]

    def __str__(self) -> str:
        return f"{self.day:%d/%m/%Y} {self.metric} #{self.bucket}: {self.n}"


class CohortDay(models.Model):
    """Affiliates who entered the funnel on `day` (their first lifecycle event), by origin and
    plan, who first reached `milestone` `months` calendar months later (`entered`, months 0: the
    cohort's size)."""

    day = models.DateField()
    origin = models.CharField(max_length=16)
    plan = models.CharField(max_length=80)
    milestone = models.CharField(max_length=24)
    months = models.SmallIntegerField()
    n = models.IntegerField()

    class Meta:
        indexes = [models.Index(fields=["day"], name="insights_cohortday_day")]

    def __str__(self) -> str:
        return f"{self.day:%d/%m/%Y} {self.milestone} +{self.months}: {self.n}"


class AttributionDay(models.Model):
    """Conversions (new leads, activations, first deposits) on `day` credited to a source and
    campaign (`utm_source`/`utm_campaign` of the affiliate's events up to the conversion) by the
    first-touch or the last-touch rule."""

    day = models.DateField(db_index=True)
    model = models.CharField(max_length=8)  # "first" | "last"
    conversion = models.CharField(max_length=16)  # "lead" | "activation" | "deposit"
    source = models.CharField(max_length=100)
    campaign = models.CharField(max_length=100)
    n = models.IntegerField()
    amount = models.DecimalField(max_digits=18, decimal_places=2)

    def __str__(self) -> str:
        return f"{self.day:%d/%m/%Y} {self.model} {self.conversion} {self.source}: {self.n}"


class RollupState(models.Model):
    """When the rollups were last rebuilt in full (one row)."""

    rebuilt_at = models.DateTimeField(null=True)
    seconds = models.FloatField(null=True)

    def __str__(self) -> str:
        return f"{self.rebuilt_at}"


class Spend(models.Model):
    """Marketing spend of one day on one source and campaign (imported or pushed by API)."""

    day = models.DateField(_("day"))
    source = models.CharField(_("source"), max_length=100)
    campaign = models.CharField(_("campaign"), max_length=100, blank=True)
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("marketing spend")
        verbose_name_plural = _("marketing spend")
        ordering = ["-day", "source", "campaign"]
        constraints = [
            models.UniqueConstraint(fields=["day", "source", "campaign"], name="insights_spend_unique"),
            models.CheckConstraint(condition=models.Q(amount__gte=0), name="insights_spend_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.day:%d/%m/%Y} {self.source}/{self.campaign}: {self.amount}"


class MilestoneDay(models.Model):
    """Affiliates who first reached `milestone` (insights.metrics.MILESTONES, and
    `activated_cash_in`: both activated and deposited) on `day`, by origin and plan."""

    day = models.DateField()
    origin = models.CharField(max_length=16)
    plan = models.CharField(max_length=80)
    milestone = models.CharField(max_length=24)
    n = models.IntegerField()

    class Meta:
        indexes = [models.Index(fields=["milestone", "day"], name="insights_milestoneday_ms")]

    def __str__(self) -> str:
        return f"{self.day:%d/%m/%Y} {self.milestone}: {self.n}"
