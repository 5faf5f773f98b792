"""Panels other apps add to the CRM's pages without the CRM importing them (as crm.hooks lets
them hear of events): an app registers a template and a context function by dotted path from its
AppConfig.ready(), and the affiliate page renders every registered panel below its own sections.

    # loyalty/apps.py, in ready()
    from crm.panels import affiliate_panel_register
    affiliate_panel_register(name="loyalty", template="loyalty/_affiliate_panel.html",
                             context="loyalty.views.affiliate_panel_context")

The context function is called as `context(request=request, affiliate=affiliate)` and returns a
dict for the template (None: the panel is not shown)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils.module_loading import import_string
from django.utils.safestring import SafeString, mark_safe


@dataclass(frozen=True)
class AffiliatePanel:
    name: str
    template: str
    context: str  # dotted path of `(request=, affiliate=) -> dict | None`


_AFFILIATE_PANELS: dict[str, AffiliatePanel] = {}


def affiliate_panel_register(*, name: str, template: str, context: str) -> None:
    """Add (or replace, by name) a panel of the affiliate page."""
    _AFFILIATE_PANELS[name] = AffiliatePanel(name=name, template=template, context=context)


def affiliate_panels_render(*, request: HttpRequest, affiliate: Any) -> list[SafeString]:
    """Every registered panel's HTML for `affiliate`, in registration order."""
    rendered: list[SafeString] = []
    for panel in _AFFILIATE_PANELS.values():
        context = import_string(panel.context)(request=request, affiliate=affiliate)
        if context is not None:
            rendered.append(mark_safe(render_to_string(panel.template, context, request=request)))  # noqa: S308
    return rendered
