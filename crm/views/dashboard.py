"""The UDN space's pages."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_POST

from crm.selectors.affiliates import affiliate_count
from tenants.access import udn_write_required
from tenants.selectors import heartbeat_of
from tenants.services import udn_tick_request


def home(request: HttpRequest) -> HttpResponse:
    context = {"heartbeat": heartbeat_of(udn=request.tenant), "affiliates": affiliate_count()}  # type: ignore[attr-defined]
    return render(request, "crm/home.html", context)


def heartbeat(request: HttpRequest) -> HttpResponse:
    """htmx partial: the worker heartbeat badge, polled by the dashboard."""
    return render(request, "crm/_heartbeat.html", {"heartbeat": heartbeat_of(udn=request.tenant)})  # type: ignore[attr-defined]


@require_POST
@udn_write_required
def heartbeat_ping(request: HttpRequest) -> HttpResponse:
    """Queue a tick now (from this UDN's request, so it runs in this UDN's schema)."""
    udn_tick_request()
    return render(
        request,
        "crm/_heartbeat.html",
        {"heartbeat": heartbeat_of(udn=request.tenant), "pinged": True},  # type: ignore[attr-defined]
    )
