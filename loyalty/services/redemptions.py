"""Redeeming a reward: points out of the affiliate's balance, the reward's stock and the month's
budget down, in one transaction that locks the budget row and the reward row (SELECT ... FOR
UPDATE), so concurrent redemptions never overspend either; a clear refusal otherwise. The
`loyalty.redeemed` webhook goes out on commit."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.models import Affiliate
from crm.services.webhooks import webhook_deliveries_enqueue
from loyalty.models import BudgetMonth, EntryKind, LedgerEntry, Redemption, Reward
from loyalty.services.earning import programme_get
from loyalty.services.ledger import LoyaltyError, affiliate_lock, balance_of

WEBHOOK_EVENT = "loyalty.redeemed"


def month_of(day: date) -> date:
    return day.replace(day=1)


def budget_month_lock(*, month: date) -> BudgetMonth:
    """The month's budget row, locked (made from the programme's monthly budget if missing)."""
    programme = programme_get()
    default = programme.monthly_budget if programme is not None else Decimal("0")
    BudgetMonth.objects.get_or_create(month=month, defaults={"budget": default})
    return BudgetMonth.objects.select_for_update().get(month=month)


@transaction.atomic
def reward_redeem(*, affiliate: Affiliate, reward_id: int, by: str) -> Redemption:
    today = timezone.localdate()
    affiliate_lock(affiliate_id=affiliate.pk)
    # Budget first, then the reward: every redemption locks in the same order (no deadlock).
    budget = budget_month_lock(month=month_of(today))
    try:
        reward = Reward.objects.select_for_update().get(pk=reward_id)
    except Reward.DoesNotExist:
        raise LoyaltyError(_("This reward does not exist."), code="reward_not_found") from None
    if (
        not reward.active
        or (reward.available_from and today < reward.available_from)
        or (reward.available_until and today > reward.available_until)
    ):
        raise LoyaltyError(_("This reward is not available now."), code="reward_unavailable")
    if reward.stock is not None and reward.stock <= 0:
        raise LoyaltyError(_("This reward is out of stock."), code="out_of_stock")
    if budget.spent + reward.cost > budget.budget:
        raise LoyaltyError(
            _("This month's rewards budget has run out: redemptions resume next month."),
            code="budget_exhausted",
        )
    balance = balance_of(affiliate_id=affiliate.pk)
    if balance < reward.points_price:
        raise LoyaltyError(
            _("Not enough points: the balance is %(balance)s and the reward costs %(price)s.")
            % {"balance": balance, "price": reward.points_price},
            code="insufficient_points",
        )
    if reward.stock is not None:
        reward.stock -= 1
        reward.save(update_fields=["stock"])
    budget.spent += reward.cost
    budget.save(update_fields=["spent"])
    redemption = Redemption.objects.create(
        affiliate=affiliate,
        reward=reward,
        points=reward.points_price,
        cost=reward.cost,
        month=budget.month,
        created_by=by,
    )
    LedgerEntry.objects.create(
        affiliate=affiliate,
        kind=EntryKind.REDEEM,
        points=-reward.points_price,
        redemption=redemption,
        occurred_at=timezone.now(),
        created_by=by,
    )
    payload = {
        "redemption_id": redemption.pk,
        "affiliate_id": affiliate.pk,
        "external_id": affiliate.external_id,
        "reward": {"id": reward.pk, "name": reward.name, "kind": reward.kind},
        "points": redemption.points,
        "cost": str(redemption.cost),
        "redeemed_at": redemption.created_at.isoformat(),
    }
    webhook_deliveries_enqueue(event=WEBHOOK_EVENT, payload=payload)
    return redemption
