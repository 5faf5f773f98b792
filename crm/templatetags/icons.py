"""{% icon "name" %}: an icon from the locally served SVG sprite (static/icons/sprite.svg, Lucide).

Icons are never emoji: many machines have no emoji font and show empty boxes instead."""

from __future__ import annotations

from django import template
from django.templatetags.static import static
from django.utils.html import format_html
from django.utils.safestring import SafeString

register = template.Library()

SPRITE = "icons/sprite.svg"


@register.simple_tag
def icon(name: str, label: str = "", css: str = "") -> SafeString:
    """Decorative by default (hidden from screen readers); with a label it is announced as an image."""
    classes = f"icon icon-{name} {css}".strip()
    if label:
        return format_html(
            '<svg class="{}" role="img" aria-label="{}" focusable="false"><use href="{}#{}"></use></svg>',
            classes,
            label,
            static(SPRITE),
            name,
        )
    return format_html(
        '<svg class="{}" aria-hidden="true" focusable="false"><use href="{}#{}"></use></svg>',
        classes,
        static(SPRITE),
        name,
    )
