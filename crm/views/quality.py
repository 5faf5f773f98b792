"""Data quality: a UDN's page (its figures, trend and snapshots) and the shared space's
side-by-side view of every UDN the user may see.

The figures are computed by a worker (crm.tasks.quality), never while a page waits: the page
shows the newest stored ones with their time, and follows a computation under way."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from crm.selectors.quality import quality_computing
from crm.selectors.quality_overview import quality_overview_rows
from crm.services.quality import quality_dashboard_open, quality_recompute_request
from tenants.access import udn_write_required


@require_GET
def quality(request: HttpRequest) -> HttpResponse:
    """The UDN's data quality (members only: the UDN access middleware checks)."""
    return render(request, "crm/quality.html", {"dashboard": quality_dashboard_open()})


@require_GET
def quality_status(request: HttpRequest) -> HttpResponse:
    """htmx polls this while a computation is under way: the same "em cálculo" line while it
    lasts, then a reload of the page, which shows the new figures."""
    if not request.htmx:  # type: ignore[attr-defined]
        return redirect("quality")
    return _computing_or_reload(request)


def _computing_or_reload(request: HttpRequest) -> HttpResponse:
    computing = quality_computing()
    if computing is None:  # done (or it never started): the page shows what there is now
        return HttpResponse(headers={"HX-Refresh": "true"})
    return render(request, "crm/_quality_computing.html", {"computing": computing})


@require_POST
@udn_write_required
def quality_recompute(request: HttpRequest) -> HttpResponse:
    """ "Recalcular": queue a computation of today's figures (one at a time)."""
    queued = quality_recompute_request()
    if request.htmx:  # type: ignore[attr-defined]
        return _computing_or_reload(request)
    if queued:
        messages.success(request, _("The figures are being computed; they show here when ready."))
    else:
        messages.info(request, _("The figures are already being computed."))
    return redirect("quality")


@login_required
@require_GET
def quality_overview(request: HttpRequest) -> HttpResponse:
    """Shared space: each visible UDN's latest snapshot, aggregates only."""
    rows = quality_overview_rows(user=request.user)  # type: ignore[arg-type]
    return render(request, "tenants/quality_overview.html", {"rows": rows})
