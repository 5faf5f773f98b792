"""Editing the programme's catalogue (rewards), missions and monthly budgets: one validation per
kind (`*_errors`, field → pt-BR message) that the forms show and the saves enforce; a reward
already redeemed or a mission already under way is deactivated instead of deleted (the ledger
and the redemptions keep pointing at it); a month's budget never goes below what it spent.
Every change is in the audit log, with the fields' [old, new]."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Model
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.models import EventKind, EventType
from crm.services.audit import audit_record
from crm.templatetags.crm_format import brl
from loyalty.models import BudgetMonth, Mission, MissionProgress, Redemption, Reward
from loyalty.services.ledger import LoyaltyInvalid
from loyalty.services.redemptions import budget_month_lock, month_of

REWARD_FIELDS = (
    "name",
    "kind",
    "description",
    "points_price",
    "cost",
    "stock",
    "available_from",
    "available_until",
    "active",
)
MISSION_FIELDS = ("name", "steps", "ordered", "period_days", "bonus_points", "starts_on", "ends_on", "active")

AUDIT_REWARD_CREATED = "loyalty.reward_created"
AUDIT_REWARD_UPDATED = "loyalty.reward_updated"
AUDIT_REWARD_DEACTIVATED = "loyalty.reward_deactivated"
AUDIT_REWARD_DELETED = "loyalty.reward_deleted"
AUDIT_MISSION_CREATED = "loyalty.mission_created"
AUDIT_MISSION_UPDATED = "loyalty.mission_updated"
AUDIT_MISSION_DEACTIVATED = "loyalty.mission_deactivated"
AUDIT_MISSION_DELETED = "loyalty.mission_deleted"
AUDIT_BUDGET_CHANGED = "loyalty.budget_changed"


def _period_error(start: date | None, end: date | None) -> str | None:
    if start and end and end < start:
        return _("The end comes before the start.")
    return None


def _apply(instance: Model, fields: tuple[str, ...], data: dict[str, Any]) -> dict[str, list[Any]]:
    """Set `data`'s fields on `instance`; the changed ones as {field: [old, new]}."""
    changes: dict[str, list[Any]] = {}
    for name in fields:
        if name not in data:
            continue
        old, new = getattr(instance, name), data[name]
        if old != new:
            changes[name] = [old, new]
            setattr(instance, name, new)
    return changes


# Rewards


def reward_errors(data: dict[str, Any]) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not (data.get("name") or "").strip():
        errors["name"] = _("Give the reward a name.")
    price = data.get("points_price")
    if price is not None and price <= 0:
        errors["points_price"] = _("The price in points must be greater than zero.")
    cost = data.get("cost")
    if cost is not None and cost < 0:
        errors["cost"] = _("The cost cannot be negative.")
    stock = data.get("stock")
    if stock is not None and stock < 0:
        errors["stock"] = _("The stock cannot be negative.")
    period = _period_error(data.get("available_from"), data.get("available_until"))
    if period:
        errors["available_until"] = period
    return errors


@transaction.atomic
def reward_save(*, data: dict[str, Any], reward: Reward | None = None) -> Reward:
    """Create a reward, or change `reward` (locked while it changes: redemptions lock it too)."""
    errors = reward_errors(data)
    if errors:
        raise LoyaltyInvalid(errors)
    created = reward is None
    reward = Reward() if reward is None else Reward.objects.select_for_update().get(pk=reward.pk)
    changes = _apply(reward, REWARD_FIELDS, data)
    if created or changes:
        reward.save()
        audit_record(
            action=AUDIT_REWARD_CREATED if created else AUDIT_REWARD_UPDATED,
            target_type="loyalty_reward",
            target_id=reward.pk,
            changes=changes,
        )
    return reward


@transaction.atomic
def reward_retire(*, reward: Reward) -> bool:
    """Delete a reward never redeemed; deactivate one with redemptions. True if deleted."""
    reward = Reward.objects.select_for_update().get(pk=reward.pk)
    if Redemption.objects.filter(reward=reward).exists():
        if reward.active:
            reward.active = False
            reward.save(update_fields=["active"])
            audit_record(
                action=AUDIT_REWARD_DEACTIVATED,
                target_type="loyalty_reward",
                target_id=reward.pk,
                changes={"active": [True, False]},
            )
        return False
    audit_record(
        action=AUDIT_REWARD_DELETED,
        target_type="loyalty_reward",
        target_id=reward.pk,
        changes={"name": reward.name},
    )
    reward.delete()
    return True


# Missions


def mission_errors(data: dict[str, Any], *, mission: Mission | None = None) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not (data.get("name") or "").strip():
        errors["name"] = _("Give the mission a name.")
    steps = list(data.get("steps") or [])
    known = set(EventType.values) | set(EventKind.objects.values_list("code", flat=True))
    unknown = [step for step in steps if step not in known]
    if not steps:
        errors["steps"] = _("A mission needs at least one step.")
    elif unknown:
        errors["steps"] = _("Unknown event kinds: %(kinds)s.") % {"kinds": ", ".join(unknown)}
    elif (
        mission is not None
        and mission.pk
        and steps != list(mission.steps)
        and MissionProgress.objects.filter(mission=mission).exists()
    ):
        errors["steps"] = _(
            "Affiliates are already doing this mission: its steps cannot change. "
            "Deactivate it and create a new one."
        )
    bonus = data.get("bonus_points")
    if bonus is not None and bonus <= 0:
        errors["bonus_points"] = _("The bonus must be greater than zero.")
    days = data.get("period_days")
    if days is not None and days < 1:
        errors["period_days"] = _("A mission needs at least one day to be completed.")
    period = _period_error(data.get("starts_on"), data.get("ends_on"))
    if period:
        errors["ends_on"] = period
    return errors


@transaction.atomic
def mission_save(*, data: dict[str, Any], mission: Mission | None = None) -> Mission:
    created = mission is None
    if mission is not None:
        mission = Mission.objects.select_for_update().get(pk=mission.pk)
    errors = mission_errors(data, mission=mission)
    if errors:
        raise LoyaltyInvalid(errors)
    if mission is None:
        mission = Mission()
    changes = _apply(mission, MISSION_FIELDS, data)
    if created or changes:
        mission.save()
        audit_record(
            action=AUDIT_MISSION_CREATED if created else AUDIT_MISSION_UPDATED,
            target_type="loyalty_mission",
            target_id=mission.pk,
            changes=changes,
        )
    return mission


@transaction.atomic
def mission_retire(*, mission: Mission) -> bool:
    """Delete a mission nobody started; deactivate one with progress. True if deleted."""
    mission = Mission.objects.select_for_update().get(pk=mission.pk)
    if MissionProgress.objects.filter(mission=mission).exists():
        if mission.active:
            mission.active = False
            mission.save(update_fields=["active"])
            audit_record(
                action=AUDIT_MISSION_DEACTIVATED,
                target_type="loyalty_mission",
                target_id=mission.pk,
                changes={"active": [True, False]},
            )
        return False
    audit_record(
        action=AUDIT_MISSION_DELETED,
        target_type="loyalty_mission",
        target_id=mission.pk,
        changes={"name": mission.name},
    )
    mission.delete()
    return True


# Budget


def budget_errors(*, month: date, budget: Decimal | None, spent: Decimal = Decimal("0")) -> dict[str, str]:
    errors: dict[str, str] = {}
    if month_of(month) < month_of(timezone.localdate()):
        errors["month"] = _("A past month's budget cannot change.")
    if budget is None:
        return errors
    if budget < 0:
        errors["budget"] = _("The budget cannot be negative.")
    elif budget < spent:
        errors["budget"] = _(
            "Redemptions already spent %(spent)s of %(month)s: the budget cannot be less than that."
        ) % {"spent": brl(spent), "month": f"{month:%m/%Y}"}
    return errors


@transaction.atomic
def budget_month_set(*, month: date, budget: Decimal) -> BudgetMonth:
    """Set a month's rewards budget (this month or a later one). The row is locked as a
    redemption locks it, so the check against what was spent holds until the commit."""
    month = month_of(month)
    errors = budget_errors(month=month, budget=None)
    if errors:
        raise LoyaltyInvalid(errors)
    row = budget_month_lock(month=month)
    errors = budget_errors(month=month, budget=budget, spent=row.spent)
    if errors:
        raise LoyaltyInvalid(errors)
    old = row.budget
    row.budget = budget
    row.save(update_fields=["budget"])
    audit_record(
        action=AUDIT_BUDGET_CHANGED,
        target_type="loyalty_budget",
        target_id=f"{month:%Y-%m}",
        changes={"budget": [old, budget]},
    )
    return row
