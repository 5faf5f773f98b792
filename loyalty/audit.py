"""Loyalty's audit actions, what its entries are about and their details' keys, as people read
them on the audit page: registered in crm.audit_labels from LoyaltyConfig.ready() (the CRM does
not import loyalty)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _


def loyalty_audit_labels_register() -> None:
    from crm.audit_labels import audit_labels_register
    from loyalty.models import Mission, Reward
    from loyalty.services import catalogue
    from loyalty.services.ledger import AUDIT_ADJUSTED
    from loyalty.services.programme import AUDIT_PUBLISHED

    fields = {f.name: f.verbose_name for model in (Reward, Mission) for f in model._meta.fields}
    audit_labels_register(
        actions={
            AUDIT_ADJUSTED: _("Loyalty: points adjusted"),
            AUDIT_PUBLISHED: _("Loyalty: rules published"),
            catalogue.AUDIT_REWARD_CREATED: _("Loyalty: reward created"),
            catalogue.AUDIT_REWARD_UPDATED: _("Loyalty: reward changed"),
            catalogue.AUDIT_REWARD_DEACTIVATED: _("Loyalty: reward deactivated"),
            catalogue.AUDIT_REWARD_DELETED: _("Loyalty: reward deleted"),
            catalogue.AUDIT_MISSION_CREATED: _("Loyalty: mission created"),
            catalogue.AUDIT_MISSION_UPDATED: _("Loyalty: mission changed"),
            catalogue.AUDIT_MISSION_DEACTIVATED: _("Loyalty: mission deactivated"),
            catalogue.AUDIT_MISSION_DELETED: _("Loyalty: mission deleted"),
            catalogue.AUDIT_BUDGET_CHANGED: _("Loyalty: monthly budget changed"),
        },
        targets={
            "loyalty_rules": _("Loyalty rules"),
            "loyalty_reward": _("Reward"),
            "loyalty_mission": _("Mission"),
            "loyalty_budget": _("Rewards budget"),
        },
        details={
            **{name: fields[name] for name in (*catalogue.REWARD_FIELDS, *catalogue.MISSION_FIELDS)},
            "points": _("points"),
            "reason": _("reason"),
            "entry": _("ledger entry"),
            "budget": _("budget"),
        },
    )
