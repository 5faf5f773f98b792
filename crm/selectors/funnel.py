"""The funnel figures (inside a UDN's schema): how many affiliates reached each stage."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Q, Sum

from crm.models import STAGE_ORDER, Affiliate, Event, EventType


@dataclass(frozen=True, slots=True)
class FunnelFigures:
    reached: dict[str, int]  # stage → affiliates at that stage or a later one (funnel order)
    total_cash_in: Decimal
    with_cashback: int
    with_cashout: int


def funnel_figures() -> FunnelFigures:
    """Cumulative counts per stage (lead ≥ registered ≥ ...), the total cash in, and how many
    affiliates had a cashback or a cashout: two aggregate queries."""
    stage_counts = {
        f"s{rank}": Count("pk", filter=Q(stage__in=STAGE_ORDER[rank:])) for rank in range(len(STAGE_ORDER))
    }
    row = Affiliate.objects.aggregate(**stage_counts, total=Sum("total_cash_in"))
    money = Event.objects.filter(type__in=[EventType.CASHBACK, EventType.CASHOUT]).aggregate(
        cashback=Count("affiliate_id", distinct=True, filter=Q(type=EventType.CASHBACK)),
        cashout=Count("affiliate_id", distinct=True, filter=Q(type=EventType.CASHOUT)),
    )
    return FunnelFigures(
        reached={stage: row[f"s{rank}"] for rank, stage in enumerate(STAGE_ORDER)},
        total_cash_in=row["total"] or Decimal("0.00"),
        with_cashback=money["cashback"],
        with_cashout=money["cashout"],
    )
