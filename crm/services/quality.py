"""Data-quality snapshots (one a day per UDN) and the drops worth a warning."""

from __future__ import annotations

from datetime import date
from typing import Any, NamedTuple

from django.core.cache import cache
from django.db import transaction

from crm.models import QualitySnapshot
from crm.selectors.quality import (
    CONSENT_CHANNELS,
    FIGURES_CACHE_KEY,
    FIGURES_CACHE_SECONDS,
    QUALITY_FIELDS,
    quality_figures,
    udn_today,
)

#: A percentage that falls by at least this many points between snapshots is flagged.
DROP_THRESHOLD_POINTS = 5.0


@transaction.atomic
def quality_snapshot_take(*, day: date | None = None) -> QualitySnapshot:
    """Compute the current UDN's figures now and store them as `day`'s snapshot (today in the
    UDN's time zone by default), replacing that day's earlier one. The fresh figures also
    replace the UDN page's cached ones once this commits."""
    day = day or udn_today()
    figures = quality_figures()
    # INSERT ... ON CONFLICT (day) DO UPDATE: two takers on the same day never collide.
    (snapshot,) = QualitySnapshot.objects.bulk_create(
        [QualitySnapshot(day=day, figures=figures)],
        update_conflicts=True,
        unique_fields=["day"],
        update_fields=["figures", "taken_at"],
    )
    if day == udn_today():
        transaction.on_commit(lambda: cache.set(FIGURES_CACHE_KEY, figures, FIGURES_CACHE_SECONDS))
    return snapshot


class QualityDrop(NamedTuple):
    """A percentage that fell: `group` is "score", "completeness" or "consent"; `field` the
    standard field or channel ("score" for the score)."""

    group: str
    field: str
    before: float
    after: float

    @property
    def points(self) -> float:
        return round(self.before - self.after, 1)


def _percentages(figures: dict[str, Any]) -> dict[tuple[str, str], float | None]:
    values: dict[tuple[str, str], float | None] = {("score", "score"): figures.get("score")}
    completeness = figures.get("completeness") or {}
    values.update({("completeness", name): completeness.get(name) for name in QUALITY_FIELDS})
    consent = figures.get("consent") or {}
    values.update({("consent", ch): consent.get(ch) for ch in CONSENT_CHANNELS})
    return values


def quality_drops(
    *, today: dict[str, Any], previous: dict[str, Any], threshold_points: float = DROP_THRESHOLD_POINTS
) -> list[QualityDrop]:
    """The score, completeness and consent percentages that fell by `threshold_points` or
    more from `previous` to `today` (two figures dicts). Missing values (an empty base)
    are never flagged. Score first, then completeness, then consent, in field order."""
    before, after = _percentages(previous), _percentages(today)
    drops = []
    for key, old in before.items():
        new = after.get(key)
        if old is None or new is None:
            continue
        if round(old - new, 1) >= threshold_points:
            drops.append(QualityDrop(group=key[0], field=key[1], before=old, after=new))
    return drops
