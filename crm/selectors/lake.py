"""Reads over the data-lake exports (run inside the UDN's schema)."""

from __future__ import annotations

from django.db.models import DurationField, ExpressionWrapper, F, QuerySet

from crm.models import LakeExport


def lake_export_list(*, limit: int = 20) -> QuerySet[LakeExport]:
    """The newest exports first, each with `duration` (None while it runs)."""
    duration = ExpressionWrapper(F("finished_at") - F("started_at"), output_field=DurationField())
    return LakeExport.objects.annotate(duration=duration).order_by("-started_at", "-id")[:limit]
