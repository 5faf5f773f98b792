"""Loyalty's reads: balances, ledgers, liability, budget months, catalogue, missions."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import QuerySet, Sum
from django.utils import timezone

from crm.models import Segment
from loyalty.models import BudgetMonth, LedgerEntry, Mission, MissionProgress, Programme, Reward, Rule


def balance(*, affiliate_id: int) -> int:
    return int(LedgerEntry.objects.filter(affiliate_id=affiliate_id).aggregate(s=Sum("points"))["s"] or 0)


def ledger(*, affiliate_id: int) -> QuerySet[LedgerEntry]:
    return (
        LedgerEntry.objects.filter(affiliate_id=affiliate_id)
        .select_related("rule")
        .order_by("-occurred_at", "-id")
    )


def liability() -> dict[str, Any]:
    """Points issued and not redeemed, expired or reversed (the sum of every balance) and their
    value in R$."""
    programme = Programme.objects.first()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT coalesce(sum(points), 0) FROM {LedgerEntry._meta.db_table}")
        points = int(cursor.fetchone()[0])
    value = (Decimal(points) * (programme.point_value if programme else Decimal(0))).quantize(Decimal("0.01"))
    return {"points": points, "value": value}


def budget_months(*, programme: Programme | None) -> list[dict[str, Any]]:
    today = timezone.localdate().replace(day=1)
    rows = {b.month: b for b in BudgetMonth.objects.all()[:12]}
    if today not in rows and programme is not None:
        rows[today] = BudgetMonth(month=today, budget=programme.monthly_budget, spent=Decimal(0))
    return [
        {
            "month": m,
            "budget": b.budget,
            "spent": b.spent,
            "left": b.budget - b.spent,
            "share": int(100 * b.spent / b.budget) if b.budget else 0,
        }
        for m, b in sorted(rows.items(), reverse=True)
    ]


def rewards_available(*, day: date | None = None) -> QuerySet[Reward]:
    from django.db.models import Q

    day = day or timezone.localdate()
    return (
        Reward.objects.filter(active=True)
        .filter(
            Q(available_from__isnull=True) | Q(available_from__lte=day),
            Q(available_until__isnull=True) | Q(available_until__gte=day),
        )
        .exclude(stock=0)
    )


def mission_progress(*, affiliate_id: int) -> list[dict[str, Any]]:
    rows = {p.mission_id: p for p in MissionProgress.objects.filter(affiliate_id=affiliate_id)}
    out = []
    for mission in Mission.objects.filter(active=True):
        row = rows.get(mission.pk)
        done = list(row.done) if row else []
        out.append(
            {
                "mission_id": mission.pk,
                "name": mission.name,
                "steps": [{"event_type": s, "done": i in done} for i, s in enumerate(mission.steps)],
                "done": len(done),
                "total": len(mission.steps),
                "completed_at": row.completed_at if row else None,
                "bonus_points": mission.bonus_points,
            }
        )
    return out


def rules_with_segments(*, rules: Iterable[Rule]) -> list[Rule]:
    """The rules, each with `segment_name` (its saved segment's, "" for none) and
    `segment_missing` (it names a segment that was deleted: it matches nobody), in one query."""
    rules = list(rules)
    ids = {rule.segment_id for rule in rules if rule.segment_id}
    names = dict(Segment.objects.filter(pk__in=ids).values_list("pk", "name")) if ids else {}
    for rule in rules:
        rule.segment_name = names.get(rule.segment_id, "") if rule.segment_id else ""  # type: ignore[attr-defined]
        rule.segment_missing = bool(rule.segment_id) and rule.segment_id not in names  # type: ignore[attr-defined]
    return rules
