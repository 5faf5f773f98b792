"""Data quality: a UDN's page (its figures, trend and snapshots) and the shared space's
side-by-side view of every UDN the user may see."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from crm.selectors.quality import quality_dashboard, quality_overview_rows
from crm.services.quality import quality_snapshot_take
from tenants.access import udn_write_required


@require_GET
def quality(request: HttpRequest) -> HttpResponse:
    """The UDN's data quality (members only: the UDN access middleware checks)."""
    return render(request, "crm/quality.html", {"dashboard": quality_dashboard()})


@require_POST
@udn_write_required
def quality_snapshot(request: HttpRequest) -> HttpResponse:
    """Take today's snapshot now; htmx gets the refreshed trend section back."""
    snapshot = quality_snapshot_take()
    if request.htmx:  # type: ignore[attr-defined]
        context = {"dashboard": quality_dashboard(), "taken": snapshot}
        return render(request, "crm/_quality_trend.html", context)
    messages.success(request, _("Snapshot of %(day)s saved.") % {"day": snapshot.day.strftime("%d/%m/%Y")})
    return redirect("quality")


@login_required
@require_GET
def quality_overview(request: HttpRequest) -> HttpResponse:
    """Shared space: each visible UDN's latest snapshot, aggregates only."""
    rows = quality_overview_rows(user=request.user)  # type: ignore[arg-type]
    return render(request, "tenants/quality_overview.html", {"rows": rows})
