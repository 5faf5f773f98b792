"""Data quality snapshots and lake exports."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


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
