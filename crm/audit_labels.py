"""What people read for the audit codes other apps record, without the CRM importing them (as
crm.panels and crm.segment_uses): crm.services.audit.audit_record takes any action code, and an app
that records its own registers their labels from its AppConfig.ready(); the audit page, its
filters and the admin read them all here, the CRM's own (crm.models.AuditAction, AuditTarget)
first.

    # loyalty/apps.py, in ready()
    from crm.audit_labels import audit_labels_register
    audit_labels_register(
        actions={"loyalty.adjusted": _("Points adjusted")},
        targets={"loyalty_reward": _("Reward")},
        details={"points": _("points")},
    )

`details` names the keys of the entries' details (`changes`) that the CRM does not know."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from crm.models import AuditAction, AuditTarget

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

_ACTIONS: dict[str, StrOrPromise] = {}
_TARGETS: dict[str, StrOrPromise] = {}
_DETAILS: dict[str, StrOrPromise] = {}


def audit_labels_register(
    *,
    actions: Mapping[str, StrOrPromise],
    targets: Mapping[str, StrOrPromise] | None = None,
    details: Mapping[str, StrOrPromise] | None = None,
) -> None:
    """Add (or replace, by code) the labels of an app's audit actions, targets and detail keys.
    A code of the CRM's own is refused: its label is the CRM's."""
    taken = [code for code in actions if code in AuditAction.values] + [
        code for code in targets or {} if code in AuditTarget.values
    ]
    if taken:
        raise ValueError(f"audit codes already the CRM's: {', '.join(taken)}")
    _ACTIONS.update(actions)
    _TARGETS.update(targets or {})
    _DETAILS.update(details or {})


def audit_action_labels() -> dict[str, StrOrPromise]:
    """{action code: label}: the CRM's, then the registered ones, in registration order."""
    return {**dict(AuditAction.choices), **_ACTIONS}


def audit_target_labels() -> dict[str, StrOrPromise]:
    """{target type: label}: the CRM's, then the registered ones."""
    return {**dict(AuditTarget.choices), **_TARGETS}


def audit_detail_labels() -> dict[str, StrOrPromise]:
    """{detail key: label} registered by the apps (the CRM's own are crm.selectors.audit's)."""
    return dict(_DETAILS)
