"""The CRM core's data, in each UDN's schema, a module by concern; everything is importable from
`crm.models` as before (migrations name `crm.models.DigitsOnly` and `crm.models.Folded`)."""

from crm.models.affiliates import STAGE_ORDER, Affiliate, AffiliateChange, DepositTier, Origin, Stage
from crm.models.api import API_SCOPE_LABELS, API_SCOPES_OFFERED, ApiKey, ApiScope
from crm.models.audit import AuditAction, AuditActorKind, AuditEntry, AuditTarget
from crm.models.base import CPF_CHECK, PHONE_CHECK, DigitsOnly, Folded, MomentField
from crm.models.consent import Channel, ConsentChange
from crm.models.events import Event, EventKind, EventType
from crm.models.imports import ColumnMapping, ImportJob, ImportStatus, RejectedRow
from crm.models.quality import LakeExport, QualitySnapshot
from crm.models.segments import Segment, SegmentMembership
from crm.models.webhooks import (
    WEBHOOK_EVENT_LABELS,
    WEBHOOK_EVENTS_OFFERED,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEvent,
    WebhookSubscription,
)

__all__ = [
    "DigitsOnly",
    "MomentField",
    "Folded",
    "CPF_CHECK",
    "PHONE_CHECK",
    "Stage",
    "STAGE_ORDER",
    "Origin",
    "Channel",
    "Affiliate",
    "AuditActorKind",
    "AuditAction",
    "AuditTarget",
    "AuditEntry",
    "ConsentChange",
    "EventType",
    "EventKind",
    "Event",
    "DepositTier",
    "AffiliateChange",
    "ColumnMapping",
    "ImportStatus",
    "ImportJob",
    "RejectedRow",
    "QualitySnapshot",
    "LakeExport",
    "ApiScope",
    "API_SCOPES_OFFERED",
    "API_SCOPE_LABELS",
    "ApiKey",
    "WebhookEvent",
    "WEBHOOK_EVENTS_OFFERED",
    "WEBHOOK_EVENT_LABELS",
    "WebhookSubscription",
    "WebhookDeliveryStatus",
    "WebhookDelivery",
    "Segment",
    "SegmentMembership",
]
