"""The affiliate list (search, filters, CSV and XLSX export) and the affiliate page.

Every member of the UDN may read them, analysts included (UDNAccessMiddleware lets only
members in); none of them writes."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm.access import affiliate_get
from crm.channels import CHANNELS
from crm.forms import AffiliateFilterForm
from crm.models import Affiliate, AffiliateChange, AuditTarget, Event, EventType, ImportJob, Origin, Stage
from crm.panels import affiliate_panels_render
from crm.selectors.affiliates import (
    EXPORT_COLUMNS,
    AffiliateFilters,
    ImportOrigin,
    TimelineKind,
    TimelineLoaded,
    TimelineRow,
    affiliate_consent_history,
    affiliate_exists,
    affiliate_export_rows,
    affiliate_import_origin,
    affiliate_list,
    affiliate_sort_key,
    affiliate_tier_progress,
    affiliate_timeline,
    affiliate_timeline_load,
    cpf_for_display,
    cpf_full_allowed,
    deposit_tier_list,
    event_kind_labels,
)
from crm.selectors.audit import audit_for_target, audit_rows
from crm.spreadsheets import attachment_disposition, csv_safe, xlsx_response
from crm.templatetags.crm_format import brl, phone_br

LIST_PAGE_SIZE = 50
TIMELINE_PAGE_SIZE = 50
#: The affiliate page's history (its audit entries), a page at a time.
HISTORY_PAGE_SIZE = 20
#: Rows written to the CSV stream per chunk: fewer, larger writes than one per row.
CSV_ROWS_PER_CHUNK = 500

# htmx requests aimed at these elements get only the fragment they replace.
RESULTS_TARGET = "affiliate-results"
TIMELINE_MORE_TARGET = "timeline-more"


#: The list's "sort by" choices (keys from the selector's whitelist).
SORT_OPTIONS = (
    ("name", gettext_lazy("Name (A–Z)")),
    ("-name", gettext_lazy("Name (Z–A)")),
    ("-updated_at", gettext_lazy("Recently updated")),
    ("updated_at", gettext_lazy("Least recently updated")),
    ("-created_at", gettext_lazy("Newest")),
    ("created_at", gettext_lazy("Oldest")),
    ("stage", gettext_lazy("Stage (funnel order)")),
    ("-stage", gettext_lazy("Stage (furthest first)")),
    ("-total_cash_in", gettext_lazy("Highest cash in")),
    ("total_cash_in", gettext_lazy("Lowest cash in")),
)


def _htmx_target(request: HttpRequest) -> str | None:
    htmx = getattr(request, "htmx", None)
    if not htmx or htmx.history_restore_request:
        return None
    return htmx.target  # type: ignore[no-any-return]


def _filters_of(request: HttpRequest) -> tuple[AffiliateFilterForm, AffiliateFilters | None]:
    """The form and its filters; None for the filters when a value is bad (the form says which):
    leaving that filter out would show affiliates it excludes."""
    form = AffiliateFilterForm(request.GET, tiers=[tier.name for tier in deposit_tier_list()])
    if not form.is_valid():
        return form, None
    return form, form.to_filters()


def affiliate_list_page(request: HttpRequest) -> HttpResponse:
    """/affiliates/: search, filters, sortable columns, 50 a page. htmx requests aimed at the
    results get the results fragment only."""
    form, filters = _filters_of(request)
    context: dict[str, Any] = {
        "form": form,
        "sort": affiliate_sort_key(sort=request.GET.get("sort", "")),
        "sort_options": SORT_OPTIONS,
    }
    if filters is not None:
        full_cpf = cpf_full_allowed(membership=request.membership)  # type: ignore[attr-defined]
        paginator = Paginator(affiliate_list(params=filters, full_cpf=full_cpf), LIST_PAGE_SIZE)
        context |= {
            "page": paginator.get_page(request.GET.get("page")),
            "filtered": filters.is_filtered,
            # An empty page says "import your base" only when there is no base at all.
            "base_empty": paginator.count == 0 and (not filters.is_filtered or not affiliate_exists()),
        }
    partial = _htmx_target(request) == RESULTS_TARGET
    template = "crm/affiliate_list_results.html" if partial else "crm/affiliate_list.html"
    response = render(request, template, {**context, "partial": partial})
    patch_vary_headers(response, ("HX-Request", "HX-Target"))
    return response


# --- CSV export -----------------------------------------------------------------------------------


class _Echo:
    """A file-like object whose write() hands the line back, for csv.writer in a generator."""

    def write(self, value: str) -> str:
        return value


def _csv_amount(value: Decimal) -> str:
    """1234.5 → "1.234,50" (Brazilian separators, no currency sign: Excel reads it as a number)."""
    sign = "-" if value < 0 else ""
    whole, cents = f"{abs(value):.2f}".split(".")
    return f"{sign}{int(whole):,}".replace(",", ".") + f",{cents}"


def _export_cell(
    column: str, value: Any, *, tz: ZoneInfo, labels: dict[str, dict[str, str]]
) -> str | Decimal:
    """A value as a person reads it: text, or a Decimal for an amount."""
    if value is None:
        return ""
    if column in labels:
        return labels[column].get(value, value)
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, datetime):
        return timezone.localtime(value, tz).strftime("%d/%m/%Y")
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, Decimal):
        return value
    if isinstance(value, list):
        return ", ".join(value)
    return str(value)


def _export_header() -> list[str]:
    names = {
        "cpf_shown": _("CPF"),
        **{channel.consent_field: capfirst(str(channel.consent_label)) for channel in CHANNELS},
    }
    # Sentence case throughout, as the consent columns are: "Código externo", "Data de nascimento".
    fields = {
        field.name: capfirst(str(field.verbose_name))
        for field in Affiliate._meta.get_fields()
        if field.concrete
    }
    return [names.get(column) or fields[column] for column in EXPORT_COLUMNS]


def _export_table(rows: Iterable[tuple[Any, ...]], *, tz: ZoneInfo) -> Iterator[list[str | Decimal]]:
    """The export's header, then each row's cells (see `_export_cell`): the CSV and the XLSX share it."""
    labels = {
        "origin": {value: str(label) for value, label in Origin.choices},
        "stage": {value: str(label) for value, label in Stage.choices},
    }
    yield list(_export_header())
    for row in rows:
        yield [
            _export_cell(column, value, tz=tz, labels=labels)
            for column, value in zip(EXPORT_COLUMNS, row, strict=True)
        ]


def _csv_stream(rows: Iterable[tuple[Any, ...]], *, tz: ZoneInfo) -> Iterator[str]:
    """UTF-8 with a BOM (so Excel picks the encoding), `;`-separated (Excel's separator where
    the decimal comma is used), dates dd/mm/aaaa, amounts 1.234,56, no cell a formula."""
    writer = csv.writer(_Echo(), delimiter=";")
    chunk: list[str] = ["\ufeff"]
    for cells in _export_table(rows, tz=tz):
        chunk.append(
            writer.writerow(
                [_csv_amount(cell) if isinstance(cell, Decimal) else csv_safe(cell) for cell in cells]
            )
        )
        if len(chunk) >= CSV_ROWS_PER_CHUNK:
            yield "".join(chunk)
            chunk = []
    if chunk:
        yield "".join(chunk)


def _export_rows(request: HttpRequest, filters: AffiliateFilters) -> Iterator[tuple[Any, ...]]:
    full_cpf = cpf_full_allowed(membership=request.membership)  # type: ignore[attr-defined]
    return affiliate_export_rows(params=filters, full_cpf=full_cpf)


def _export_name(request: HttpRequest, extension: str) -> tuple[ZoneInfo, str]:
    udn = request.tenant  # type: ignore[attr-defined]
    tz = ZoneInfo(udn.time_zone)
    stamp = timezone.localtime(timezone.now(), tz).strftime("%Y%m%d-%H%M")
    return tz, f"affiliates-{udn.slug}-{stamp}.{extension}"


def _bad_filters(form: AffiliateFilterForm) -> HttpResponse:
    """An export asked with a bad filter value: what is wrong, instead of a file of the whole base."""
    problems = "\n".join(
        f"{form.fields[name].label or name}: {' '.join(str(error) for error in errors)}"
        for name, errors in form.errors.items()
    )
    return HttpResponse(
        _("Nothing exported: fix the filters.") + "\n" + problems,
        status=400,
        content_type="text/plain; charset=utf-8",
    )


def affiliate_export(request: HttpRequest) -> HttpResponseBase:
    """/affiliates/export.csv: the filtered set (the list's query string), streamed."""
    form, filters = _filters_of(request)
    if filters is None:
        return _bad_filters(form)
    tz, filename = _export_name(request, "csv")
    response = StreamingHttpResponse(
        _csv_stream(_export_rows(request, filters), tz=tz), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = attachment_disposition(filename)
    return response


def affiliate_export_xlsx(request: HttpRequest) -> HttpResponseBase:
    """/affiliates/export.xlsx: the same set and columns as the CSV, every cell text (amounts as
    numbers), so Excel runs no formula and shows a phone as +5511..."""
    form, filters = _filters_of(request)
    if filters is None:
        return _bad_filters(form)
    tz, filename = _export_name(request, "xlsx")
    rows = _export_table(_export_rows(request, filters), tz=tz)
    return xlsx_response(rows=rows, filename=filename, title=_("Affiliates"))


# --- the affiliate page ---------------------------------------------------------------------------

# Names of icons in static/icons/sprite.svg (rendered with {% icon %}).
EVENT_ICONS: dict[str, str] = {
    EventType.LEAD_CREATED: "file-pen-line",
    EventType.REGISTRATION_STARTED: "file-pen-line",
    EventType.FORM_COMPLETED: "file-pen-line",
    EventType.ACCOUNT_OPENED: "file-pen-line",
    EventType.APP_DOWNLOADED: "smartphone",
    EventType.APP_ACTIVATED: "circle-check",
    EventType.CASH_IN: "wallet",
    EventType.CASHBACK: "gift",
    EventType.CASHOUT: "banknote",
    EventType.CONSULTATION_SCHEDULED: "stethoscope",
    EventType.SUPPORT_TICKET_OPENED: "headphones",
    EventType.SUPPORT_TICKET_CLOSED: "headphones",
}
CUSTOM_EVENT_ICON = "circle-dot"
# The property shown beside an event of these types.
EVENT_DETAIL_PROPERTY: dict[str, str] = {
    EventType.CONSULTATION_SCHEDULED: "specialty",
    EventType.SUPPORT_TICKET_OPENED: "reason",
    EventType.SUPPORT_TICKET_CLOSED: "reason",
}


@dataclass(frozen=True)
class FieldChange:
    """One field of a data change as a person reads it (its label, the value before and after)."""

    label: str
    old: str
    new: str


@dataclass(frozen=True)
class TimelineEntry:
    """An event (`event`), a change of the affiliate's data (`fields`, `job` when an import made it)
    or the affiliate's creation (`created`), as the timeline shows it."""

    kind: TimelineKind
    at: datetime
    icon: str
    label: str
    detail: str = ""
    event: Event | None = None
    job: ImportJob | None = None
    source: str = ""
    created: bool = False
    fields: tuple[FieldChange, ...] = ()


# Sources of AffiliateChange rows other than an import: the API records `api:<key prefix>`.
API_SOURCE_PREFIX = "api"
UI_SOURCE = "ui"
CHANGE_ICONS = {"import": "database", API_SOURCE_PREFIX: "key"}
OTHER_CHANGE_ICON = "file-text"


def _source_kind(source: str) -> str:
    return source.split(":", 1)[0]


def _change_label(*, source: str, job: ImportJob | None, created: bool) -> str:
    """What happened, by whom: "Dados atualizados pela importação" (the file's name follows, linked),
    "Criado pela API"..."""
    kind = _source_kind(source)
    if job is not None:
        return _("Created by the import") if created else _("Data updated by the import")
    if kind == "import":  # its job was deleted since
        return _("Created by an import") if created else _("Data updated by an import")
    if kind == API_SOURCE_PREFIX:
        return _("Created through the API") if created else _("Data updated through the API")
    if kind == UI_SOURCE:
        return _("Created in the CRM") if created else _("Data updated in the CRM")
    return _("Created") if created else _("Data updated")


def _change_value(name: str, value: Any, *, full_cpf: bool, choices: dict[str, dict[str, str]]) -> str:
    """One side of a change as the page shows that field (the CPF by the page's policy). The values
    come as an import records them (text, tags as an array literal) or as JSON (the API's)."""
    if value is None or value in ("", [], {}, "{}"):
        return "—"
    if name == "cpf":
        return cpf_for_display(cpf=str(value), full=full_cpf) or "—"
    if name in choices:
        return choices[name].get(str(value), str(value))
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, dict):
        return "; ".join(f"{key}: {item}" for key, item in sorted(value.items()))
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    text = str(value)
    if name == "tags" and text.startswith("{") and text.endswith("}"):
        return ", ".join(tag.strip('"') for tag in text[1:-1].split(","))
    if name == "phone":
        return phone_br(text)
    if name == "plan_fee":
        return brl(text)
    if name == "birth_date":
        try:
            return date.fromisoformat(text).strftime("%d/%m/%Y")
        except ValueError:
            return text
    return text


def _change_fields(change: AffiliateChange, *, full_cpf: bool) -> tuple[FieldChange, ...]:
    changes = change.changes if isinstance(change.changes, dict) else {}
    labels = {field.name: str(capfirst(str(field.verbose_name))) for field in Affiliate._meta.concrete_fields}
    choices = {
        "origin": {value: str(label) for value, label in Origin.choices},
        "stage": {value: str(label) for value, label in Stage.choices},
    }
    fields = []
    for name, pair in changes.items():
        old, new = pair if isinstance(pair, list) and len(pair) == 2 else (None, pair)
        fields.append(
            FieldChange(
                label=labels.get(name) or str(name),
                old=_change_value(name, old, full_cpf=full_cpf, choices=choices),
                new=_change_value(name, new, full_cpf=full_cpf, choices=choices),
            )
        )
    return tuple(fields)


def _timeline_entries(
    rows: Iterable[TimelineRow],
    *,
    loaded: TimelineLoaded,
    origin: ImportOrigin | None,
    custom_labels: dict[str, str],
    full_cpf: bool,
) -> list[TimelineEntry]:
    standard = dict(EventType.choices)
    entries = []
    for row in rows:
        if row.kind == "origin" and origin is not None:
            entries.append(
                TimelineEntry(
                    kind=row.kind,
                    at=row.at,
                    icon=CHANGE_ICONS["import"],
                    label=_("Created by the first import of the base")
                    if origin.first
                    else _("Created by the import"),
                    job=origin.job,
                    source="import",
                    created=True,
                )
            )
        elif row.kind == "change" and (change := loaded.changes.get(row.pk)) is not None:
            entries.append(
                TimelineEntry(
                    kind=row.kind,
                    at=change.changed_at,
                    icon=CHANGE_ICONS.get(_source_kind(change.source), OTHER_CHANGE_ICON),
                    label=_change_label(
                        source=change.source, job=change.import_job, created=change.is_creation
                    ),
                    job=change.import_job,
                    source=change.source,
                    created=change.is_creation,
                    fields=_change_fields(change, full_cpf=full_cpf),
                )
            )
        elif row.kind == "event" and (event := loaded.events.get(row.pk)) is not None:
            key = EVENT_DETAIL_PROPERTY.get(event.type)
            props = event.properties if isinstance(event.properties, dict) else {}
            entries.append(
                TimelineEntry(
                    kind=row.kind,
                    at=event.occurred_at,
                    icon=EVENT_ICONS.get(event.type, CUSTOM_EVENT_ICON),
                    label=str(standard.get(event.type) or custom_labels.get(event.type) or event.type),
                    detail=str(props.get(key) or "") if key else "",
                    event=event,
                    source=event.source,
                )
            )
    return entries


def affiliate_page(request: HttpRequest, pk: int) -> HttpResponse:
    """/affiliates/<pk>/: profile, consent, tier, attributes, tags and the timeline: its events and
    the changes to its data (imports, the API), 50 at a time; htmx's "load more" asks for the next
    page's entries only."""
    affiliate = affiliate_get(user=request.user, pk=pk)
    full_cpf = cpf_full_allowed(membership=request.membership)  # type: ignore[attr-defined]
    origin = affiliate_import_origin(affiliate=affiliate)
    page = Paginator(affiliate_timeline(affiliate=affiliate, origin=origin), TIMELINE_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    context: dict[str, Any] = {
        "affiliate": affiliate,
        "cpf_shown": cpf_for_display(cpf=affiliate.cpf, full=full_cpf),
        "page": page,
        "timeline": _timeline_entries(
            page,
            loaded=affiliate_timeline_load(rows=page),
            origin=origin,
            custom_labels=event_kind_labels(),
            full_cpf=full_cpf,
        ),
    }
    if _htmx_target(request) == TIMELINE_MORE_TARGET:
        response = render(request, "crm/affiliate_timeline.html", context)
    else:
        tiers = deposit_tier_list()
        history = Paginator(
            audit_for_target(target_type=AuditTarget.AFFILIATE, target_id=affiliate.pk), HISTORY_PAGE_SIZE
        ).get_page(request.GET.get("history"))
        context.update(
            {
                "history": history,
                "history_rows": audit_rows(
                    history,
                    tz=ZoneInfo(request.tenant.time_zone),  # type: ignore[attr-defined]
                    full_cpf=full_cpf,
                ),
                "consent_now": [
                    (channel.code, channel.label, getattr(affiliate, channel.consent_field))
                    for channel in CHANNELS
                ],
                "consent_history": list(affiliate_consent_history(affiliate=affiliate)),
                "tier_progress": affiliate_tier_progress(total_cash_in=affiliate.total_cash_in, tiers=tiers),
                "tier_color": next((tier.color for tier in tiers if tier.name == affiliate.tier), None),
                "attributes": sorted(affiliate.attributes.items())
                if isinstance(affiliate.attributes, dict)
                else [],
                # Other apps' sections (loyalty's points...), registered in crm.panels.
                "panels": affiliate_panels_render(request=request, affiliate=affiliate),
            }
        )
        response = render(request, "crm/affiliate_detail.html", context)
    patch_vary_headers(response, ("HX-Request", "HX-Target"))
    return response
