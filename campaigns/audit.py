"""Campaigns' audit actions and what their entries are about, as people read them on the audit
page: registered in crm.audit_labels from CampaignsConfig.ready() (the CRM does not import
campaigns)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _


def campaigns_audit_labels_register() -> None:
    from campaigns.models import MessageTemplate
    from campaigns.services import templates
    from crm.audit_labels import audit_labels_register

    audit_labels_register(
        actions={
            templates.AUDIT_CREATED: _("Message template created"),
            templates.AUDIT_UPDATED: _("Message template changed"),
        },
        targets={templates.AUDIT_TARGET: _("Message template")},
        # A changed template's `fields` list names the template's fields.
        details={f.name: f.verbose_name for f in MessageTemplate._meta.fields},
    )
