"""The pt-BR way of showing the dashboards' values (pages, CSV downloads, e-mail): 1.234,
R$ 1.234,56, 12,3%, dd/mm/aaaa, durations as "6 h" / "1,5 d"."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _

from crm.spreadsheets import csv_safe

DASH = "—"


def thousands(n: int) -> str:
    return f"{n:,}".replace(",", ".")


def decimal_br(value: float | Decimal, places: int) -> str:
    text = f"{abs(value):,.{places}f}"
    whole, _sep, frac = text.partition(".")
    sign = "-" if value < 0 else ""
    return sign + whole.replace(",", ".") + ("," + frac if frac else "")


def money(value: Decimal | float | int) -> str:
    return "R$\u00a0" + decimal_br(Decimal(value), 2)


def percent(value: float) -> str:
    return decimal_br(value * 100, 1) + "%"


def duration(seconds: float | int | None) -> str:
    """A duration in the unit that reads best: "45 min", "6 h", "1,5 d"."""
    if seconds is None:
        return _("over a year")
    seconds = float(seconds)
    if seconds < 3600:
        return f"{decimal_br(seconds / 60, 0)} min"
    if seconds < 86400 * 2:
        hours = seconds / 3600
        return f"{decimal_br(hours, 0 if hours == int(hours) else 1)} h"
    days = seconds / 86400
    return f"{decimal_br(days, 0 if days == int(days) else 1)} d"


#: Column kinds whose values are codes shown by their pt-BR label (origin, milestone, channel).
LABEL_KINDS = ("origin", "milestone", "channel")


def code_label(value: str, kind: str) -> str:
    """The pt-BR label of an origin, funnel milestone or channel code (the code itself when unknown)."""
    from crm.channels import CHANNEL_CHOICES
    from crm.models import Origin
    from insights import metrics
    from insights.selectors.dashboards import VOLUME_MILESTONES

    labels: dict[str, Any]
    if kind == "origin":
        labels = dict(Origin.choices)
    elif kind == "channel":
        labels = dict(CHANNEL_CHOICES)
    else:
        labels = {code: m.label for code, m in metrics.MILESTONE_BY_CODE.items()} | dict(VOLUME_MILESTONES)
    return str(labels.get(value, value))


def cell(value: Any, kind: str) -> str:
    """A value of a dashboard table, as a page shows it."""
    if value is None:
        return DASH
    if kind in LABEL_KINDS and value != "":
        return code_label(str(value), kind)
    if kind == "int":
        return thousands(int(value))
    if kind == "money":
        return money(value)
    if kind == "share":
        return percent(float(value))
    if kind == "duration":
        return duration(value)
    if kind == "upto":  # a percentile read on the histogram: the upper bound of its bucket
        return _("up to %(duration)s") % {"duration": duration(value)}
    if kind in ("date", "week") and isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    if kind == "month" and isinstance(value, date):
        return value.strftime("%m/%Y")
    if kind == "float":
        return decimal_br(float(value), 1)
    return str(value) if value != "" else _("(blank)")


def csv_cell(value: Any, kind: str) -> str:
    """A value as the CSV downloads write it (Excel pt-BR: decimal comma, no currency sign, no
    thousands separator in numbers; durations in hours)."""
    if value is None:
        return ""
    if kind == "int":
        return str(int(value))
    if kind == "money":
        return decimal_br(Decimal(value), 2).replace(".", "")
    if kind == "share":
        return decimal_br(float(value) * 100, 2).replace(".", "")
    if kind in ("duration", "upto"):
        return decimal_br(float(value) / 3600, 2).replace(".", "")
    if kind in ("date", "week", "month") and isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    if kind in LABEL_KINDS and value != "":
        return csv_safe(code_label(str(value), kind))
    return csv_safe(str(value))


def heat_class(value: Any) -> str:
    """The colour-scale class (heat-0 … heat-10) of a share in a retention table."""
    if value is None:
        return "heat-none"
    return f"heat-{min(10, max(0, round(float(value) * 10)))}"
