"""The dashboards (a UDN's space: /insights/<page>/) and the side-by-side view of every UDN (the
shared space: /insights/). Thin: parse the filters, call one selector, render or download."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from crm.spreadsheets import attachment_disposition
from insights.formatting import LABEL_KINDS, cell, code_label, csv_cell, heat_class
from insights.selectors import dashboards
from insights.selectors.channels import channels_page
from insights.selectors.overview import overview_page, overview_udns
from insights.services.spend import SpendImportError, spend_import_csv
from tenants.access import udn_write_required
from tenants.selectors import udn_list_for_user
from tenants.urlhelpers import space_url

#: Days a page shows when no period is asked for.
DEFAULT_DAYS = 90
#: The longest period a page computes (beyond it the filter is clipped).
MAX_DAYS = 3 * 366

PAGES: dict[str, Any] = {**dashboards.PAGES, "channels": channels_page}
PAGE_ORDER = ("time", "volume", "cohorts", "deposits", "attribution", "channels")
PAGE_LABELS = {
    "time": _("Time"),
    "volume": _("Volume and funnel"),
    "cohorts": _("Cohorts"),
    "deposits": _("Deposits"),
    "attribution": _("End-to-end analytics"),
    "channels": _("Channels and campaigns"),
}


def _parse_day(raw: str) -> date | None:
    for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.strptime(raw.strip(), fmt).date()
        except ValueError:
            continue
    return None


def filters_from(request: HttpRequest, *, time_zone: str) -> dashboards.Filters:
    today = timezone.localtime(timezone.now(), ZoneInfo(time_zone)).date()
    end = _parse_day(request.GET.get("end", "")) or today
    start = _parse_day(request.GET.get("start", "")) or end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        start, end = end, start
    start = max(start, end - timedelta(days=MAX_DAYS))
    return dashboards.Filters(
        start=start,
        end=end,
        origin=request.GET.get("origin", "")[:16],
        plan=request.GET.get("plan", "")[:80],
    )


def table_csv(table: dashboards.Table, *, filename: str) -> HttpResponse:
    """A table as the data hub writes CSV: UTF-8 with a BOM, `;`, dd/mm/aaaa, decimal comma."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, delimiter=";")
    writer.writerow([str(column.label) for column in table.columns])
    for row in table.rows:
        writer.writerow(
            [csv_cell(value, column.kind) for value, column in zip(row, table.columns, strict=False)]
        )
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = attachment_disposition(filename)
    return response


def chart_of(table: dashboards.Table) -> str:
    """The Chart.js data of a table: its first column as labels, its charted columns as series
    (durations in hours, shares in %)."""
    if not table.chart or table.chart == "heat" or not table.rows:
        return ""

    def number(value: Any, kind: str) -> float | None:
        if value is None:
            return None
        if kind in ("duration", "upto"):
            return round(float(value) / 3600, 2)
        if kind == "share":
            return round(float(value) * 100, 2)
        return float(value)

    first = table.columns[0]
    labels = [cell(row[0], first.kind) for row in table.rows]
    if table.chart == "histogram":
        labels = [f"{cell(row[0], 'duration')}–{cell(row[1], 'duration')}" for row in table.rows]
    datasets = [
        {
            "label": str(table.columns[i].label),
            "kind": table.columns[i].kind,
            "data": [number(row[i], table.columns[i].kind) for row in table.rows],
        }
        for i in table.series
    ]
    return json.dumps(
        {"type": "line" if table.chart == "line" else "bar", "labels": labels, "datasets": datasets}
    )


@dataclass(frozen=True)
class Shown:
    """A table as the page shows it: its cells formatted once, in Python (a template filter per
    cell costs more than the figures themselves on the bigger pages)."""

    table: dashboards.Table
    chart: str
    rows: list[list[tuple[str, str]]]


def shown(tables: list[dashboards.Table]) -> list[Shown]:
    out = []
    for table in tables:
        heat = table.chart == "heat"
        kinds = [column.kind for column in table.columns]
        rows = []
        for row in table.rows:
            cells = []
            for value, kind in zip(row, kinds, strict=False):
                css = "" if kind == "text" or kind in LABEL_KINDS else "num"
                if heat and kind == "share":
                    css += " " + heat_class(value)
                cells.append((cell(value, kind), css))
            rows.append(cells)
        out.append(Shown(table=table, chart=chart_of(table), rows=rows))
    return out


@require_GET
def dashboard(request: HttpRequest, page: str = "time") -> HttpResponse:
    """A UDN's dashboard page (members only: the UDN access middleware checks)."""
    if page not in PAGES:
        raise Http404
    udn = request.tenant  # type: ignore[attr-defined]
    filters = filters_from(request, time_zone=udn.time_zone)
    result = PAGES[page](filters=filters)
    wanted = request.GET.get("csv")
    if wanted:
        table = next((t for t in result.tables if t.key == wanted), None)
        if table is None:
            raise Http404
        return table_csv(
            table, filename=f"{table.key}-{udn.slug}-{filters.start:%Y%m%d}-{filters.end:%Y%m%d}.csv"
        )
    query = request.GET.copy()
    query.pop("csv", None)
    choices = dashboards.filter_choices()
    udns = [
        (other, space_url(request, other, f"/insights/{page}/?{query.urlencode()}"))
        for other in udn_list_for_user(user=request.user)  # type: ignore[arg-type]
    ]
    return render(
        request,
        "insights/dashboard.html",
        {
            "page": result,
            "page_code": page,
            "pages": [(code, PAGE_LABELS[code]) for code in PAGE_ORDER],
            "filters": filters,
            "choices": choices,
            "origin_options": [(code, code_label(code, "origin")) for code in choices["origins"] if code],
            "tables": shown(result.tables),
            "query": query.urlencode(),
            "udns": udns,
            "current_udn_pk": udn.pk,
        },
    )


@require_POST
@udn_write_required
def spend_import(request: HttpRequest) -> HttpResponse:
    """Upload a CSV of marketing spend (day; source; campaign; amount), upserted by day, source
    and campaign."""
    upload = request.FILES.get("file")
    if upload is None:
        messages.error(request, _("Choose a CSV file."))
        return redirect("insights-page", page="attribution")
    try:
        result = spend_import_csv(data=upload.read(), actor=request.user)  # type: ignore[arg-type]
    except SpendImportError as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request,
            _("Spend imported: %(rows)s rows, %(rejected)s rejected.")
            % {"rows": result.rows, "rejected": len(result.rejected)},
        )
        for line, reason in result.rejected[:10]:
            messages.warning(request, _("Line %(line)s: %(reason)s") % {"line": line, "reason": reason})
    return redirect("insights-page", page="attribution")


@login_required
@require_GET
def overview(request: HttpRequest) -> HttpResponse:
    """The shared space: every visible UDN's headline figures side by side (aggregates only)."""
    udns = overview_udns(user=request.user)  # type: ignore[arg-type]
    chosen = request.GET.getlist("udn")
    if chosen:
        udns = [udn for udn in udns if udn.slug in chosen]
    filters = filters_from(request, time_zone="America/Sao_Paulo")
    page = overview_page(udns=udns, filters=filters)
    if request.GET.get("csv"):
        return table_csv(
            page.tables[0], filename=f"insights-udns-{filters.start:%Y%m%d}-{filters.end:%Y%m%d}.csv"
        )
    query = request.GET.copy()
    query.pop("csv", None)
    return render(
        request,
        "insights/overview.html",
        {
            "page": page,
            "filters": filters,
            "all_udns": overview_udns(user=request.user),  # type: ignore[arg-type]
            "chosen": {udn.slug for udn in udns},
            "tables": shown(page.tables),
            "query": query.urlencode(),
        },
    )
