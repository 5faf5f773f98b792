"""Segments: saved conditions over affiliates and events, and the membership kept for journeys."""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils.translation import gettext_lazy as _

from crm.models.affiliates import Affiliate


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
