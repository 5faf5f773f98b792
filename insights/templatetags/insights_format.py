"""Template filters of the dashboards: `{{ value|insight:kind }}` (insights.formatting)."""

from __future__ import annotations

from typing import Any

from django import template

from insights.formatting import cell, heat_class

register = template.Library()


@register.filter
def insight(value: Any, kind: str) -> str:
    return cell(value, kind)


@register.filter
def heat(value: Any) -> str:
    return heat_class(value)
