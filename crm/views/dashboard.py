"""The UDN space's pages."""

from __future__ import annotations

from datetime import timedelta

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_POST

from crm.selectors.affiliates import affiliate_count
from tenants.access import udn_write_required
from tenants.selectors import heartbeat_of
from tenants.services import udn_tick_request


def home(request: HttpRequest) -> HttpResponse:
    context = {"heartbeat": heartbeat_of(udn=request.tenant), "affiliates": affiliate_count()}  # type: ignore[attr-defined]
    return render(request, "crm/home.html", context)


# How long a "Tick now" keeps the badge polling every second for the worker's answer; after that it
# goes back to its usual pace and says the worker has not answered.
TICK_WAIT = timedelta(seconds=60)


def heartbeat(request: HttpRequest) -> HttpResponse:
    """htmx partial: the worker heartbeat badge, polled by the dashboard. With `after` (the time
    of a "Tick now") it keeps polling fast until a tick newer than that arrives."""
    beat = heartbeat_of(udn=request.tenant)  # type: ignore[attr-defined]
    after = parse_datetime(request.GET.get("after", ""))
    context: dict[str, object] = {"heartbeat": beat}
    if after is not None and timezone.is_aware(after) and (beat.at is None or beat.at < after):
        if timezone.now() - after < TICK_WAIT:
            context["waiting_since"] = after
        else:
            context["no_answer"] = True
    return render(request, "crm/_heartbeat.html", context)


@require_POST
@udn_write_required
def heartbeat_ping(request: HttpRequest) -> HttpResponse:
    """Queue a tick now (from this UDN's request, so it runs in this UDN's schema); the badge
    then polls every second until the worker's answer arrives."""
    asked_at = timezone.now()
    udn_tick_request()
    return render(
        request,
        "crm/_heartbeat.html",
        {"heartbeat": heartbeat_of(udn=request.tenant), "waiting_since": asked_at},  # type: ignore[attr-defined]
    )
