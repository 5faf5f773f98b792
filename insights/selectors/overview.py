"""The shared space's side-by-side view: each UDN's headline figures, computed inside its schema
by insights' own selector (aggregates only: no affiliate row leaves a UDN)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from django_tenants.utils import tenant_context

from insights.selectors.dashboards import Column, Filters, Page, Table, headline
from tenants.models import UDN, User
from tenants.selectors import udn_list, udn_list_for_user

HEADLINE_COLUMNS: tuple[tuple[str, Any, str], ...] = (
    ("entered", _("Entered the funnel"), "int"),
    ("activated", _("Activated the app"), "int"),
    ("activation_median", _("Median time to activate"), "upto"),
    ("activation_within_24h", _("Activated within 24 h"), "share"),
    ("share_cashback", _("With cashback"), "share"),
    ("share_activated_cash_in", _("App activated with cash in"), "share"),
    ("share_cashout", _("With cashout"), "share"),
    ("deposits", _("Deposits"), "int"),
    ("deposit_amount", _("Cash in"), "money"),
    ("first_deposits", _("First deposits"), "int"),
)


def overview_udns(*, user: User) -> list[UDN]:
    """UDNs whose figures `user` may compare: all for coordinators and superusers, else their own."""
    if user.is_superuser or user.is_coordinator:
        return list(udn_list())
    return list(udn_list_for_user(user=user))


def udn_headlines(*, udns: list[UDN], filters: Filters) -> list[tuple[UDN, dict[str, Any]]]:
    out = []
    for udn in udns:
        with tenant_context(udn):
            out.append((udn, headline(filters=filters)))
    return out


def overview_page(*, udns: list[UDN], filters: Filters) -> Page:
    figures = udn_headlines(udns=udns, filters=filters)
    table = Table(
        "udns",
        _("UDNs side by side"),
        [Column(_("UDN"), "text"), *(Column(label, kind) for _k, label, kind in HEADLINE_COLUMNS)],
        [(udn.name, *(values[key] for key, _l, _k in HEADLINE_COLUMNS)) for udn, values in figures],
        chart="bar",
        series=[4, 5, 6, 7],
    )
    return Page("overview", _("Indicators by UDN"), [table])
