"""The audit page of a UDN: every write, who did it and when, with search and filters. Any
member reads it (analysts included); nobody changes it (the log has no write but the services')."""

from __future__ import annotations

from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from django import forms
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_safe

from crm.audit_labels import audit_action_labels, audit_target_labels
from crm.models import AuditActorKind, AuditEntry
from crm.selectors.affiliates import cpf_full_allowed
from crm.selectors.audit import AuditFilters, audit_rows, audit_search

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

AUDIT_PAGE_SIZE = 50
#: A filter value the page does not know (a hand-edited or outdated URL): said, never ignored.
UNKNOWN_VALUE = {"invalid_choice": _("Unknown value “%(value)s”: choose one from the list.")}


def _action_choices() -> list[tuple[str, StrOrPromise]]:
    """Every action, the CRM's and the other apps' (crm.audit_labels, filled in their ready())."""
    return [("", _("Any action")), *audit_action_labels().items()]


def _target_choices() -> list[tuple[str, StrOrPromise]]:
    return [("", _("Anything")), *audit_target_labels().items()]


class AuditFilterForm(forms.Form):
    """The audit page's search and filters, read from the query string (all optional; a bad value
    is said on the form, and the page then lists nothing rather than the whole log)."""

    q = forms.CharField(
        label=_("Search"),
        required=False,
        max_length=200,
        widget=forms.TextInput(
            attrs={
                "type": "search",
                "placeholder": _("Who (e-mail or key), action or id"),
                "autocomplete": "off",
            }
        ),
    )
    action = forms.ChoiceField(
        label=_("Action"),
        required=False,
        choices=_action_choices,
        error_messages=UNKNOWN_VALUE,
    )
    actor_kind = forms.ChoiceField(
        label=_("Done by"),
        required=False,
        choices=[("", _("Anyone")), *AuditActorKind.choices],
        error_messages=UNKNOWN_VALUE,
    )
    target_type = forms.ChoiceField(
        label=_("About"),
        required=False,
        choices=_target_choices,
        error_messages=UNKNOWN_VALUE,
    )
    since = forms.DateField(
        label=_("From"),
        required=False,
        input_formats=["%Y-%m-%d", "%d/%m/%Y"],
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    until = forms.DateField(
        label=_("To"),
        required=False,
        input_formats=["%Y-%m-%d", "%d/%m/%Y"],
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )

    def to_filters(self) -> AuditFilters:
        data = self.cleaned_data if self.is_bound and not self.errors else {}
        return AuditFilters(
            q=data.get("q") or "",
            action=data.get("action") or "",
            actor_kind=data.get("actor_kind") or "",
            target_type=data.get("target_type") or "",
            since=data.get("since"),
            until=data.get("until"),
        )


@require_safe
def audit_page(request: HttpRequest) -> HttpResponse:
    """/audit/: the log, newest first, 50 a page."""
    form = AuditFilterForm(request.GET)
    form.is_valid()
    tz = ZoneInfo(request.tenant.time_zone)  # type: ignore[attr-defined]
    entries = audit_search(filters=form.to_filters(), tz=tz) if not form.errors else AuditEntry.objects.none()
    page = Paginator(entries, AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
    full_cpf = cpf_full_allowed(membership=request.membership)  # type: ignore[attr-defined]
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "form": form,
        "page": page,
        "rows": audit_rows(page, tz=tz, full_cpf=full_cpf),
        "querystring": query.urlencode(),
        "filtered": form.to_filters().is_filtered,
    }
    return render(request, "crm/audit.html", context)
