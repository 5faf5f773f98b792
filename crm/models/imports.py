"""Imports: the jobs, the rows with problems, the column mappings a UDN remembers."""

from __future__ import annotations

import uuid

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils.translation import gettext_lazy as _


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
