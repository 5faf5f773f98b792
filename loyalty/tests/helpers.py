"""Test helpers for loyalty: a programme with live rules, events made directly."""

from __future__ import annotations

import itertools
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from crm.models import Affiliate, Event
from loyalty.models import Rule, RuleSet, RuleSetStatus
from loyalty.services.programme import programme_save

SP = ZoneInfo("America/Sao_Paulo")
_ids = itertools.count(1)


def at(day: int, hour: int = 12, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=SP)


def programme(**fields: Any):
    defaults = {"name": "Clube", "point_value": Decimal("0.05"), "monthly_budget": Decimal("1000")}
    return programme_save(**{**defaults, **fields})


def live(*rules: dict[str, Any]) -> RuleSet:
    """A live rule set of `rules` (Rule fields; code defaults to r<n>)."""
    prog = programme()
    version = RuleSet.objects.filter(programme=prog).count() + 1
    RuleSet.objects.filter(status=RuleSetStatus.LIVE).update(status=RuleSetStatus.RETIRED)
    rule_set = RuleSet.objects.create(programme=prog, version=version, status=RuleSetStatus.LIVE)
    for index, fields in enumerate(rules):
        Rule.objects.create(rule_set=rule_set, **{"code": f"r{index}", "name": f"Regra {index}", **fields})
    return rule_set


def affiliate(**fields: Any) -> Affiliate:
    n = next(_ids)
    return Affiliate.objects.create(
        external_id=f"L-{n}-{datetime.now().timestamp()}", name=f"Pessoa {n}", **fields
    )


def event(who: Affiliate, kind: str, when: datetime, amount: str | None = None, **properties: Any) -> Event:
    return Event.objects.create(
        event_id=f"lt-{next(_ids)}-{when.timestamp()}-{who.pk}",
        affiliate=who,
        type=kind,
        occurred_at=when,
        amount=Decimal(amount) if amount is not None else None,
        properties=properties,
    )
