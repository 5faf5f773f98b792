"""The UDN's data-quality page: the newest stored figures (crm.selectors.quality) in words and
tables, their trend as an inline SVG chart drawn server-side, and what fell since an earlier day.
Runs inside the current UDN's schema."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, cast

from django.db import models
from django.utils import timezone

from crm.models import Affiliate, Channel, QualitySnapshot
from crm.selectors.quality import (
    CONSENT_CHANNELS,
    FIGURES_MAX_AGE,
    INVALID_FIELDS,
    QUALITY_FIELDS,
    TREND_SNAPSHOTS,
    QualityComputing,
    quality_computing,
    quality_drops,
    quality_snapshot_list,
)

# --- trend chart (inline SVG, drawn server-side) -----------------------------------------------------


@dataclass(frozen=True)
class TrendSeries:
    key: str
    label_key: str  # "score" or a field name; the template turns it into words
    color: str
    points: str  # SVG polyline "x,y x,y ..."
    last: float | None


@dataclass(frozen=True)
class AxisLabel:
    x: float
    y: float
    text: str


@dataclass(frozen=True)
class TrendChart:
    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    series: list[TrendSeries]
    x_labels: list[AxisLabel]
    y_labels: list[AxisLabel]  # also the grid lines


CHART_WIDTH, CHART_HEIGHT = 720, 260
CHART_PAD_LEFT, CHART_PAD_RIGHT, CHART_PAD_TOP, CHART_PAD_BOTTOM = 44, 16, 12, 30
CHART_MAX_X_LABELS = 7
# (series key, where in the figures, colour)
TREND_SERIES: tuple[tuple[str, str, str], ...] = (
    ("score", "score", "#0b6e4f"),
    ("cpf", "completeness", "#3b3f8f"),
    ("phone", "completeness", "#b54708"),
    ("email", "completeness", "#7a5af8"),
)


def _trend_value(figures: dict[str, Any], key: str, where: str) -> float | None:
    value = figures.get("score") if where == "score" else (figures.get(where) or {}).get(key)
    return float(value) if isinstance(value, int | float) else None


def quality_trend_chart(*, snapshots: list[QualitySnapshot]) -> TrendChart | None:
    """The score and key completeness over `snapshots` (oldest first) as SVG geometry;
    None with fewer than two snapshots. x follows the calendar (gaps show as gaps in
    spacing), y is 0-100 %."""
    if len(snapshots) < 2:
        return None
    first, last = snapshots[0].day, snapshots[-1].day
    span = max((last - first).days, 1)
    left, right = CHART_PAD_LEFT, CHART_WIDTH - CHART_PAD_RIGHT
    top, bottom = CHART_PAD_TOP, CHART_HEIGHT - CHART_PAD_BOTTOM

    def x_of(day: date) -> float:
        return round(left + (right - left) * (day - first).days / span, 1)

    def y_of(value: float) -> float:
        return round(bottom - (bottom - top) * max(0.0, min(100.0, value)) / 100.0, 1)

    series = []
    for key, where, color in TREND_SERIES:
        values = [(snap.day, _trend_value(snap.figures, key, where)) for snap in snapshots]
        points = " ".join(f"{x_of(day)},{y_of(value)}" for day, value in values if value is not None)
        series.append(TrendSeries(key=key, label_key=key, color=color, points=points, last=values[-1][1]))

    step = max(1, -(-len(snapshots) // CHART_MAX_X_LABELS))  # ceil division
    picks = list(range(0, len(snapshots), step))
    if picks[-1] != len(snapshots) - 1:
        if x_of(snapshots[-1].day) - x_of(snapshots[picks[-1]].day) < 48:
            picks.pop()  # keep labels from overlapping; the last day always shows
        picks.append(len(snapshots) - 1)
    x_labels = [
        AxisLabel(x=x_of(snapshots[i].day), y=bottom + 18, text=snapshots[i].day.strftime("%d/%m"))
        for i in picks
    ]
    y_labels = [AxisLabel(x=left - 6, y=y_of(v), text=f"{v}%") for v in (0, 25, 50, 75, 100)]
    return TrendChart(
        width=CHART_WIDTH,
        height=CHART_HEIGHT,
        left=left,
        right=right,
        top=top,
        bottom=bottom,
        series=series,
        x_labels=x_labels,
        y_labels=y_labels,
    )


# --- the UDN page ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FigureRow:
    """One line of a table on the page: a field (or channel) with its words and numbers."""

    key: str
    label: str
    percent: float | None = None
    count: int | None = None


@dataclass(frozen=True)
class DropRow:
    """A flagged drop with the words for its field (see quality_drops)."""

    group: str
    field: str
    label: str
    before: float
    after: float
    points: float


def _field_label(name: str) -> str:
    return str(cast(models.Field, Affiliate._meta.get_field(name)).verbose_name)


def _channel_label(channel: str) -> str:
    return str(Channel(channel).label)


@dataclass(frozen=True)
class QualityDashboard:
    figures: dict[str, Any] | None  # the newest snapshot's; None before the first is computed
    computed_at: datetime | None
    snapshots: list[QualitySnapshot]  # oldest first
    previous: QualitySnapshot | None  # the newest snapshot of a day before the newest one's
    drops: list[DropRow] = field(default_factory=list)
    chart: TrendChart | None = None
    computing: QualityComputing | None = None

    @property
    def stale(self) -> bool:
        """No figures yet, or older than FIGURES_MAX_AGE: time to compute them again."""
        return self.computed_at is None or self.computed_at < timezone.now() - FIGURES_MAX_AGE

    @property
    def _shown(self) -> dict[str, Any]:
        """The figures the tables list (the page shows no table before there are any)."""
        if self.figures is None:
            raise ValueError("no figures computed yet")
        return self.figures

    @property
    def completeness_rows(self) -> list[FigureRow]:
        completeness, filled = self._shown["completeness"], self._shown["filled"]
        return [
            FigureRow(key=name, label=_field_label(name), percent=completeness[name], count=filled[name])
            for name in QUALITY_FIELDS
        ]

    @property
    def invalid_rows(self) -> list[FigureRow]:
        return [
            FigureRow(key=name, label=_field_label(name), count=self._shown["invalid"][name])
            for name in INVALID_FIELDS
        ]

    @property
    def consent_rows(self) -> list[FigureRow]:
        return [
            FigureRow(key=ch, label=_channel_label(ch), percent=self._shown["consent"][ch])
            for ch in CONSENT_CHANNELS
            if ch in self._shown["consent"]  # a snapshot from before a channel existed lacks it
        ]

    @property
    def recent_snapshots(self) -> list[QualitySnapshot]:
        """The newest few, newest first (a table under the chart)."""
        return self.snapshots[::-1][:RECENT_SNAPSHOTS]


#: Snapshots listed under the chart.
RECENT_SNAPSHOTS = 7


def _drop_label(group: str, name: str) -> str:
    if group == "completeness":
        return _field_label(name)
    if group == "consent":
        return _channel_label(name)
    return name


def _computed_at(snapshot: QualitySnapshot) -> datetime:
    """When `snapshot`'s figures were computed (when it was stored, for one that does not say)."""
    computed_at = snapshot.figures.get("computed_at")
    return datetime.fromisoformat(computed_at) if isinstance(computed_at, str) else snapshot.taken_at


def quality_dashboard(*, snapshots: int = TREND_SNAPSHOTS) -> QualityDashboard:
    """Everything the UDN's data-quality page shows: the newest stored figures and when they were
    computed, the snapshots and their chart, what fell since the newest snapshot of an earlier
    day, and whether a computation is under way. One query (the snapshots) and one cache read:
    the figures themselves are computed by a worker (crm.services.quality), never here."""
    stored = quality_snapshot_list(limit=snapshots)
    latest = stored[-1] if stored else None
    figures = latest.figures if latest is not None else None
    previous = None
    if latest is not None:
        previous = next((snap for snap in reversed(stored) if snap.day < latest.day), None)
    drops = []
    if figures is not None and previous is not None:
        drops = quality_drops(today=figures, previous=previous.figures)
    return QualityDashboard(
        figures=figures,
        computed_at=_computed_at(latest) if latest is not None else None,
        computing=quality_computing(),
        snapshots=stored,
        previous=previous,
        drops=[
            DropRow(
                group=drop.group,
                field=drop.field,
                label=_drop_label(drop.group, drop.field),
                before=drop.before,
                after=drop.after,
                points=drop.points,
            )
            for drop in drops
        ],
        chart=quality_trend_chart(snapshots=stored),
    )
