"""The data-lake page: where exports go, the last runs, and "Export now"."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from crm.access import lake_destination_full_allowed
from crm.selectors.lake import lake_export_list
from crm.services.lake import destination_for_display, lake_export_request
from tenants.access import udn_write_required


def lake(request: HttpRequest) -> HttpResponse:
    exports = list(lake_export_list())
    context = {
        "destination": destination_for_display(
            destination=settings.LAKE_URL,
            full=lake_destination_full_allowed(user=request.user),
        ),
        "exports": exports,
        # While a run is in progress the table refreshes itself (htmx).
        "running": any(export.finished_at is None for export in exports),
    }
    return render(request, "crm/lake.html", context)


@require_POST
@udn_write_required
def lake_export(request: HttpRequest) -> HttpResponse:
    lake_export_request()
    messages.success(request, _("Export queued. It appears below as soon as a worker starts it."))
    return redirect("lake")
