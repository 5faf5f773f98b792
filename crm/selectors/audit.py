"""Reads of a UDN's audit log: an object's history and the audit page's search, and how an
entry reads to people (action, who, details in pt-BR). Runs inside a UDN's schema."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm.audit_labels import audit_action_labels, audit_detail_labels, audit_target_labels
from crm.importing import ATTRIBUTE_PREFIX
from crm.models import Affiliate, AuditActorKind, AuditEntry, AuditTarget, Channel, ImportStatus
from crm.selectors.affiliates import cpf_for_display

# What people read for the keys an entry's details carry (others are shown as they are).
DETAIL_LABELS = {
    "accepted": gettext_lazy("accepted"),
    "affiliates": gettext_lazy("affiliates"),
    "applied": gettext_lazy("applied"),
    "attempt": gettext_lazy("attempt"),
    "automatic": gettext_lazy("automatic"),
    "channel": gettext_lazy("channel"),
    "channels": gettext_lazy("channels"),
    "created": gettext_lazy("created"),
    "definition": gettext_lazy("conditions"),
    "description": gettext_lazy("description"),
    "duplicate": gettext_lazy("duplicates"),
    "duplicates": gettext_lazy("repeated in the file"),
    "entries": gettext_lazy("entries"),
    "error": gettext_lazy("error"),
    "event": gettext_lazy("event"),
    "events": gettext_lazy("events"),
    "expected_rows": gettext_lazy("rows (estimate)"),
    "fields": gettext_lazy("fields"),
    "file": gettext_lazy("file"),
    "granted": gettext_lazy("granted"),
    "mapping": gettext_lazy("columns"),
    "name": gettext_lazy("name"),
    "occurred_at": gettext_lazy("when"),
    "prefix": gettext_lazy("prefix"),
    "previous_secret_expires_at": gettext_lazy("previous secret valid until"),
    "proof": gettext_lazy("proof"),
    "reaped": gettext_lazy("stopped process"),
    "records": gettext_lazy("records"),
    "rejected": gettext_lazy("rejected"),
    "requested": gettext_lazy("requested"),
    "revoked": gettext_lazy("revoked"),
    "scopes": gettext_lazy("scopes"),
    "source": gettext_lazy("source"),
    "sources": gettext_lazy("sources"),
    "stage_changes": gettext_lazy("stage changes"),
    "status": gettext_lazy("status"),
    "subscription": gettext_lazy("subscription"),
    "total_rows": gettext_lazy("rows read"),
    "tracked": gettext_lazy("kept up to date"),
    "types": gettext_lazy("types"),
    "unchanged": gettext_lazy("unchanged"),
    "updated": gettext_lazy("updated"),
    "url": gettext_lazy("URL"),
    "warned": gettext_lazy("with warnings"),
}


@dataclass(frozen=True)
class AuditFilters:
    """The audit page's search: free text (who, the action's code, the target's id), an action,
    a kind of actor, a kind of target and a period (days in the UDN's time zone, inclusive)."""

    q: str = ""
    action: str = ""
    actor_kind: str = ""
    target_type: str = ""
    since: date | None = None
    until: date | None = None

    @property
    def is_filtered(self) -> bool:
        return any((self.q, self.action, self.actor_kind, self.target_type, self.since, self.until))


def audit_for_target(*, target_type: str, target_id: object) -> QuerySet[AuditEntry]:
    """An object's history, newest first (the audit_target_time index)."""
    return AuditEntry.objects.filter(target_type=target_type, target_id=str(target_id)).order_by("-at", "-id")


def _day_start(day: date, tz: tzinfo) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min), tz)


def audit_search(*, filters: AuditFilters, tz: tzinfo) -> QuerySet[AuditEntry]:
    """The log, newest first, narrowed by `filters` (days start at midnight in `tz`)."""
    entries = AuditEntry.objects.order_by("-at", "-id")
    if filters.q:
        text = filters.q.strip()
        entries = entries.filter(
            Q(actor_label__icontains=text) | Q(action__icontains=text) | Q(target_id=text)
        )
    if filters.action:
        entries = entries.filter(action=filters.action)
    if filters.actor_kind:
        entries = entries.filter(actor_kind=filters.actor_kind)
    if filters.target_type:
        entries = entries.filter(target_type=filters.target_type)
    if filters.since:
        entries = entries.filter(at__gte=_day_start(filters.since, tz))
    if filters.until:
        entries = entries.filter(at__lt=_day_start(filters.until + timedelta(days=1), tz))
    return entries


@dataclass(frozen=True)
class AuditRow:
    """An entry as people read it."""

    entry: AuditEntry
    action: str
    actor_kind: str
    actor_label: str
    target: str
    target_url: str
    details: list[tuple[str, str]]


def _value(value: Any, tz: tzinfo) -> str:
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if value is None or value == "":
        return "—"
    if isinstance(value, list):
        return ", ".join(_value(item, tz) for item in value) or "—"
    if isinstance(value, dict):
        return ", ".join(f"{key} → {_value(item, tz)}" for key, item in value.items()) or "—"
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] == "T":
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
        return (
            timezone.localtime(moment, tz).strftime("%d/%m/%Y %H:%M") if timezone.is_aware(moment) else value
        )
    if isinstance(value, int):
        return f"{value:,}".replace(",", ".")
    return str(value)


def _field_label(name: str) -> str:
    try:
        field = Affiliate._meta.get_field(name)
    except FieldDoesNotExist:  # another object's field (a segment's, an app's), or one since removed
        return str(_detail_label(name))
    return str(getattr(field, "verbose_name", name))


def _target_label(target: str) -> str:
    """Where an import sent a column, as people read it: a field's label, an attribute's name."""
    if not target:
        return _("ignored")
    if target.startswith(ATTRIBUTE_PREFIX):
        return _("%(name)s (attribute)") % {"name": target.removeprefix(ATTRIBUTE_PREFIX)}
    return capfirst(_field_label(target))


def _field_value(name: str, value: Any, tz: tzinfo, *, full_cpf: bool) -> str:
    """One value of an affiliate's field, the CPF as the policy shows it to this reader (a
    segment's conditions as their JSON)."""
    if name == "cpf" and isinstance(value, str) and value:
        return cpf_for_display(cpf=value, full=full_cpf)
    if name == "definition" and isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return _value(value, tz)


def _details(entry: AuditEntry, tz: tzinfo, *, full_cpf: bool) -> list[tuple[str, str]]:
    changes = entry.changes if isinstance(entry.changes, dict) else {}
    rows: list[tuple[str, str]] = []
    channels = dict(Channel.choices)
    statuses = dict(ImportStatus.choices)
    for key, value in changes.items():
        if key == "fields" and isinstance(value, dict):  # {field: [old, new]}
            for name, pair in value.items():
                old, new = pair if isinstance(pair, list) and len(pair) == 2 else (None, pair)
                shown = (_field_value(name, side, tz, full_cpf=full_cpf) for side in (old, new))
                rows.append((_field_label(name), " → ".join(shown)))
            continue
        if key in ("cpf", "definition"):
            rows.append((_field_label(key), _field_value(key, value, tz, full_cpf=full_cpf)))
            continue
        if key == "fields" and isinstance(value, list):
            rows.append((str(DETAIL_LABELS[key]), ", ".join(_field_label(name) for name in value)))
            continue
        if key == "channel" and isinstance(value, str):
            value = str(channels.get(value, value))
        if key == "mapping" and isinstance(value, dict):  # {file column: standard field or "attr:name"}
            value = {header: _target_label(str(target)) for header, target in value.items()}
        if key == "status" and isinstance(value, str):
            value = str(statuses.get(value, value))
        rows.append((str(_detail_label(key)), _value(value, tz)))
    return rows


def _detail_label(key: str) -> str:
    """A detail's key as people read it: the CRM's label, or the one an app registered."""
    label = DETAIL_LABELS.get(key) or audit_detail_labels().get(key)
    return str(label) if label is not None else key


def _target_url(entry: AuditEntry) -> str:
    if not entry.target_id:
        return ""
    if entry.target_type == AuditTarget.AFFILIATE and entry.target_id.isdigit():
        return reverse("affiliate-detail", args=[int(entry.target_id)])
    if entry.target_type == AuditTarget.IMPORT:
        return reverse("import-detail", args=[entry.target_id])
    return ""


def _actor_label(entry: AuditEntry) -> str:
    """Who, beside the kind's badge: nothing more for the system (its label is only "system")."""
    if entry.actor_kind == AuditActorKind.SYSTEM:
        return ""
    return entry.actor_label


def audit_rows(entries: Iterable[AuditEntry], *, tz: tzinfo, full_cpf: bool = False) -> list[AuditRow]:
    """The entries as people read them; times in the details in `tz` (the UDN's), CPFs in the
    details by the CPF policy (`cpf_full_allowed`: masked unless `full_cpf`)."""
    actions = audit_action_labels()  # the CRM's and the other apps' (crm.audit_labels)
    kinds = dict(AuditActorKind.choices)
    targets = audit_target_labels()
    rows = []
    for entry in entries:
        target = str(targets.get(entry.target_type, entry.target_type))
        rows.append(
            AuditRow(
                entry=entry,
                action=str(actions.get(entry.action, entry.action)),
                actor_kind=str(kinds.get(entry.actor_kind, entry.actor_kind)),
                actor_label=_actor_label(entry),
                target=f"{target} #{entry.target_id}" if entry.target_id else target,
                target_url=_target_url(entry),
                details=_details(entry, tz, full_cpf=full_cpf),
            )
        )
    return rows
