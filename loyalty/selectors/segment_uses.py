"""The loyalty rules that name a crm segment (registered in crm.segment_uses from
LoyaltyConfig.ready): those of the live rule set and of the draft. A retired rule set's rules
never run again."""

from __future__ import annotations

from django.utils.translation import pgettext

from crm.segment_uses import SegmentUse
from loyalty.models import Rule, RuleSetStatus


def loyalty_rules_using_segment(*, segment_id: int) -> list[SegmentUse]:
    rules = (
        Rule.objects.filter(
            segment_id=segment_id, rule_set__status__in=[RuleSetStatus.LIVE, RuleSetStatus.DRAFT]
        )
        .select_related("rule_set")
        .order_by("name", "id")
    )
    return [
        SegmentUse(
            kind=pgettext("segment use", "loyalty rule"),
            name=rule.name,
            detail=pgettext("segment use", "live")
            if rule.rule_set.status == RuleSetStatus.LIVE
            else pgettext("segment use", "draft"),
        )
        for rule in rules
    ]
