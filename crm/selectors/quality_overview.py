"""The shared space's side-by-side view of data quality: each UDN's latest snapshot, aggregates
only, for the UDNs a user may compare. Runs from the public schema, entering each UDN's."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from django_tenants.utils import tenant_context

from crm.models import QualitySnapshot
from tenants.models import UDN, User
from tenants.selectors import udn_list, udn_list_for_user


@dataclass(frozen=True)
class QualityOverviewRow:
    """One UDN's latest snapshot, aggregates only; `day` is None when it has none yet."""

    udn: UDN
    day: date | None = None
    total: int | None = None
    score: float | None = None
    completeness: dict[str, float | None] = field(default_factory=dict)
    consent: dict[str, float | None] = field(default_factory=dict)
    duplicates_cpf: int | None = None
    duplicates_phone: int | None = None


def quality_overview_udns(*, user: User) -> list[UDN]:
    """UDNs whose quality `user` may compare: all for coordinators and superusers, else their own."""
    if user.is_superuser or user.is_coordinator:
        return list(udn_list())
    return list(udn_list_for_user(user=user))


def quality_overview_rows(*, user: User) -> list[QualityOverviewRow]:
    """Each visible UDN's latest QualitySnapshot, read inside its schema (one query a UDN)."""
    rows = []
    for udn in quality_overview_udns(user=user):
        with tenant_context(udn):
            snapshot = QualitySnapshot.objects.order_by("-day").only("day", "figures").first()
        if snapshot is None:
            rows.append(QualityOverviewRow(udn=udn))
            continue
        figures = snapshot.figures
        completeness = figures.get("completeness") or {}
        consent = figures.get("consent") or {}
        duplicates = figures.get("duplicates") or {}
        rows.append(
            QualityOverviewRow(
                udn=udn,
                day=snapshot.day,
                total=figures.get("total"),
                score=figures.get("score"),
                completeness={name: completeness.get(name) for name in ("cpf", "phone", "email")},
                consent={ch: consent.get(ch) for ch in ("email", "whatsapp")},
                duplicates_cpf=duplicates.get("cpf_affiliates"),
                duplicates_phone=duplicates.get("phone_affiliates"),
            )
        )
    return rows
