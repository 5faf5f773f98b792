"""Template filters of the dashboards: `{{ value|insight:kind }}` (insights.formatting)."""

from __future__ import annotations

from typing import Any

from django import template

from insights.formatting import cell

register = template.Library()


@register.filter
def insight(value: Any, kind: str) -> str:
    return cell(value, kind)


@register.filter
def heat(value: Any) -> str:
    """The colour-scale class (heat-0 … heat-10) of a share in a retention table."""
    if value is None:
        return "heat-none"
    return f"heat-{min(10, max(0, round(float(value) * 10)))}"
