"""The programme and its rule versions: one draft being edited, one live; publishing the draft
makes it live (the old live retires) and starts a new draft as its copy."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.models import EventKind, EventType, Segment
from crm.services.audit import audit_record
from crm.services.events import MONEY_EVENT_TYPES
from loyalty.models import LimitPeriod, PointsKind, Programme, Rule, RuleSet, RuleSetStatus
from loyalty.rules_sql import condition_errors
from loyalty.services.ledger import LoyaltyError, LoyaltyInvalid

AUDIT_PUBLISHED = "loyalty.published"

RULE_FIELDS = (
    "code",
    "name",
    "event_type",
    "conditions",
    "stages",
    "tiers",
    "plans",
    "segment_id",
    "points_kind",
    "points",
    "limit_period",
    "limit_count",
    "valid_from",
    "valid_until",
)


@transaction.atomic
def programme_save(**fields: Any) -> Programme:
    programme = Programme.objects.select_for_update().first() or Programme(name=fields.get("name") or "")
    for name, value in fields.items():
        setattr(programme, name, value)
    programme.save()
    if not programme.rule_sets.exists():
        RuleSet.objects.create(programme=programme, version=1, status=RuleSetStatus.DRAFT)
    return programme


def draft_get() -> RuleSet:
    programme = Programme.objects.first()
    if programme is None:
        raise LoyaltyError(_("Set up the programme first."), code="no_programme")
    draft = programme.rule_sets.filter(status=RuleSetStatus.DRAFT).first()
    if draft is None:
        draft = _draft_from_live(programme)
    return draft


def _draft_from_live(programme: Programme) -> RuleSet:
    version = (programme.rule_sets.order_by("-version").values_list("version", flat=True).first() or 0) + 1
    draft = RuleSet.objects.create(programme=programme, version=version, status=RuleSetStatus.DRAFT)
    live = programme.rule_sets.filter(status=RuleSetStatus.LIVE).first()
    if live is not None:
        Rule.objects.bulk_create(
            [
                Rule(rule_set=draft, **{name: getattr(rule, name) for name in RULE_FIELDS})
                for rule in live.rules.all()
            ]
        )
    return draft


def rule_errors(
    data: dict[str, Any], *, rule_set: RuleSet | None = None, rule: Rule | None = None
) -> dict[str, str]:
    """Field → what is wrong (pt-BR): the one validation of a rule, run by the editor as the
    marketer types (htmx) and by `rule_save`. With `rule_set`, the code must be free in it
    (`rule`: the rule being edited)."""
    errors: dict[str, str] = {}
    known = set(EventType.values) | set(EventKind.objects.values_list("code", flat=True))
    if data.get("event_type") not in known:
        errors["event_type"] = _("Unknown event kind.")
    elif data.get("points_kind") == PointsKind.PER_REAL and data.get("event_type") not in MONEY_EVENT_TYPES:
        errors["points_kind"] = _("Points per R$ need an event kind that carries an amount (%(kinds)s).") % {
            "kinds": ", ".join(str(EventType(kind).label) for kind in sorted(MONEY_EVENT_TYPES))
        }
    if rule_set is not None and data.get("code"):
        taken = Rule.objects.filter(rule_set=rule_set, code=data["code"])
        if rule is not None and rule.pk:
            taken = taken.exclude(pk=rule.pk)
        if taken.exists():
            errors["code"] = _("Another rule of this draft already uses this code.")
    if data.get("points_kind") not in PointsKind.values:
        errors["points_kind"] = _("Choose how points are counted.")
    try:
        if float(data.get("points") or 0) <= 0:
            errors["points"] = _("Points must be greater than zero.")
    except (TypeError, ValueError):
        errors["points"] = _("Points must be a number.")
    if (
        "points" not in errors
        and data.get("points_kind") == PointsKind.MULTIPLIER
        and float(data.get("points") or 0) <= 1
    ):
        errors["points"] = _("A multiplier must be greater than 1.")
    if (data.get("limit_period") or "") not in LimitPeriod.values:
        errors["limit_period"] = _("Unknown limit.")
    limit_count = data.get("limit_count")
    if limit_count is not None and (not isinstance(limit_count, int) or limit_count < 1):
        errors["limit_count"] = _("The limit must be at least once.")
    elif (limit_count or 1) > 1 and not data.get("limit_period"):
        errors["limit_count"] = _(
            "Choose the limit's period (per day, per month or ever) for more than once."
        )
    if condition_errors(data.get("conditions") or []):
        errors["conditions"] = _("Each condition needs a property, an operator and a value.")
    # A saved segment of this UDN (its members are those of the moment the event earns).
    segment_id = data.get("segment_id")
    if segment_id not in (None, "") and (
        not isinstance(segment_id, int) or not Segment.objects.filter(pk=segment_id).exists()
    ):
        errors["segment_id"] = _("Unknown segment: choose one of this UDN's saved segments.")
    start, end = data.get("valid_from"), data.get("valid_until")
    if start and end and end < start:
        errors["valid_until"] = _("The end comes before the start.")
    return errors


@transaction.atomic
def rule_save(*, rule_set: RuleSet, data: dict[str, Any], rule: Rule | None = None) -> Rule:
    if rule_set.status != RuleSetStatus.DRAFT:
        raise LoyaltyError(_("Only the draft's rules can be changed."), code="not_draft")
    errors = rule_errors(data, rule_set=rule_set, rule=rule)
    if errors:
        raise LoyaltyInvalid(errors)
    rule = rule or Rule(rule_set=rule_set)
    for name in RULE_FIELDS:
        if name in data:
            setattr(rule, name, data[name])
    rule.limit_period = rule.limit_period or ""
    rule.segment_id = rule.segment_id or None
    rule.save()
    return rule


@transaction.atomic
def rule_set_publish(*, rule_set: RuleSet, by: str) -> RuleSet:
    if rule_set.status != RuleSetStatus.DRAFT:
        raise LoyaltyError(_("Only a draft can be published."), code="not_draft")
    if not rule_set.rules.exists():
        raise LoyaltyError(_("A rule set needs at least one rule."), code="empty")
    RuleSet.objects.filter(programme=rule_set.programme, status=RuleSetStatus.LIVE).update(
        status=RuleSetStatus.RETIRED
    )
    rule_set.status = RuleSetStatus.LIVE
    rule_set.published_at = timezone.now()
    rule_set.published_by = by
    rule_set.save()
    audit_record(action=AUDIT_PUBLISHED, target_type="loyalty_rules", target_id=rule_set.version, changes={})
    _draft_from_live(rule_set.programme)
    return rule_set
