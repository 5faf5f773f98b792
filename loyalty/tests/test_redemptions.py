"""Redemptions within budget and stock, under concurrent redemptions (two real connections);
the balance always equals the ledger's sum; FIFO expiry with time travel."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import connections
from django_tenants.utils import tenant_context

from loyalty.models import BudgetMonth, EntryKind, LedgerEntry, Redemption, Reward
from loyalty.services.ledger import LoyaltyError, balance_of, points_adjust, points_expire
from loyalty.services.redemptions import reward_redeem
from loyalty.tests.helpers import SP, affiliate, programme
from tenants.models import UDN


@pytest.fixture
def udn(udn_a):
    with tenant_context(udn_a):
        yield udn_a


def test_redeeming_takes_points_stock_and_budget(udn):
    programme(monthly_budget=Decimal("100"))
    who = affiliate()
    points_adjust(affiliate=who, points=500, reason="boas-vindas", by="ana@udn")
    reward = Reward.objects.create(
        name="Consulta", kind="consultation", points_price=200, cost=Decimal("40"), stock=2
    )
    reward_redeem(affiliate=who, reward_id=reward.pk, by="ana@udn")
    assert balance_of(affiliate_id=who.pk) == 300
    reward.refresh_from_db()
    assert reward.stock == 1
    assert BudgetMonth.objects.get().spent == Decimal("40")
    with pytest.raises(LoyaltyError) as refused:
        Reward.objects.filter(pk=reward.pk).update(points_price=400)
        reward_redeem(affiliate=who, reward_id=reward.pk, by="ana@udn")
    assert refused.value.code == "insufficient_points"


def test_budget_and_stock_run_out_with_clear_messages(udn):
    programme(monthly_budget=Decimal("50"))
    who = affiliate()
    points_adjust(affiliate=who, points=10_000, reason="teste", by="x")
    cheap = Reward.objects.create(
        name="Desconto", kind="discount", points_price=10, cost=Decimal("30"), stock=5
    )
    reward_redeem(affiliate=who, reward_id=cheap.pk, by="x")
    with pytest.raises(LoyaltyError) as budget:
        reward_redeem(affiliate=who, reward_id=cheap.pk, by="x")
    assert budget.value.code == "budget_exhausted"
    assert "orçamento" in budget.value.message
    free = Reward.objects.create(name="Brinde", kind="partner", points_price=10, cost=Decimal("0"), stock=1)
    reward_redeem(affiliate=who, reward_id=free.pk, by="x")
    with pytest.raises(LoyaltyError) as stock:
        reward_redeem(affiliate=who, reward_id=free.pk, by="x")
    assert stock.value.code == "out_of_stock"
    assert "estoque" in stock.value.message


def test_concurrent_redemptions_never_overspend_budget_or_stock(committed):
    # Committed data, seen by a second connection: not transaction=True, whose flush at teardown
    # would empty the shared tables (the session's UDNs) for every later test.
    udn_a = UDN.objects.get(slug="alpha")
    with tenant_context(udn_a):
        programme(monthly_budget=Decimal("60"))
        a, b = affiliate(), affiliate()
        for who in (a, b):
            points_adjust(affiliate=who, points=1000, reason="teste", by="x")
        budgeted = Reward.objects.create(
            name="Cashback", kind="cashback", points_price=100, cost=Decimal("40")
        )
        stocked = Reward.objects.create(
            name="Voucher", kind="consultation", points_price=100, cost=Decimal("0"), stock=1
        )
    for reward in (budgeted, stocked):
        # Two real connections (one a thread) redeem at the same moment; one wins.
        outcomes: list[object] = []
        barrier = threading.Barrier(2)

        def go(who, reward=reward, outcomes=outcomes, barrier=barrier):
            try:
                with tenant_context(udn_a):
                    barrier.wait()
                    outcomes.append(reward_redeem(affiliate=who, reward_id=reward.pk, by="x"))
            except LoyaltyError as error:
                outcomes.append(error)
            finally:
                connections.close_all()

        threads = [threading.Thread(target=go, args=(who,)) for who in (a, b)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wins = [o for o in outcomes if isinstance(o, Redemption)]
        refusals = [o for o in outcomes if isinstance(o, LoyaltyError)]
        assert len(wins) == 1, outcomes
        assert len(refusals) == 1, outcomes
    with tenant_context(udn_a):
        assert BudgetMonth.objects.get().spent == Decimal("40")
        assert Reward.objects.get(pk=stocked.pk).stock == 0
        LedgerEntry.objects.all().delete()
        Redemption.objects.all().delete()
        Reward.objects.all().delete()
        BudgetMonth.objects.all().delete()
        from loyalty.models import Programme

        Programme.objects.all().delete()
        a.delete()
        b.delete()


def test_expiry_is_fifo_with_time_travel(udn):
    programme(expiry_months=12)
    who = affiliate()
    with time_machine.travel(datetime(2025, 1, 10, 12, tzinfo=SP), tick=False):
        points_adjust(affiliate=who, points=100, reason="lote 1", by="x")
    with time_machine.travel(datetime(2025, 6, 10, 12, tzinfo=SP), tick=False):
        points_adjust(affiliate=who, points=50, reason="lote 2", by="x")
        points_adjust(affiliate=who, points=-30, reason="resgate manual", by="x")
    # The first lot (100) expires first; 30 of it were used: 70 expire, once.
    with time_machine.travel(datetime(2026, 1, 20, 12, tzinfo=SP), tick=False):
        assert points_expire() == 1
        assert points_expire() == 0
    assert balance_of(affiliate_id=who.pk) == 50
    assert LedgerEntry.objects.get(affiliate=who, kind=EntryKind.EXPIRE).points == -70
    with time_machine.travel(datetime(2026, 7, 1, 12, tzinfo=SP), tick=False):
        points_expire()
    assert balance_of(affiliate_id=who.pk) == 0


def test_balance_equals_ledger_sum_on_a_random_history(udn):
    import random

    rng = random.Random(15)
    programme(monthly_budget=Decimal("100000"))
    who = affiliate()
    reward = Reward.objects.create(name="Cashback", kind="cashback", points_price=37, cost=Decimal("1"))
    start = datetime(2025, 1, 1, tzinfo=SP)
    for step in range(60):
        with time_machine.travel(start + timedelta(days=7 * step), tick=False):
            action = rng.choice(["credit", "debit", "redeem", "expire"])
            try:
                if action == "credit":
                    points_adjust(affiliate=who, points=rng.randint(1, 200), reason="c", by="x")
                elif action == "debit":
                    points_adjust(affiliate=who, points=-rng.randint(1, 50), reason="d", by="x")
                elif action == "redeem":
                    reward_redeem(affiliate=who, reward_id=reward.pk, by="x")
                else:
                    points_expire()
            except LoyaltyError:
                pass
            total = sum(LedgerEntry.objects.filter(affiliate=who).values_list("points", flat=True))
            assert balance_of(affiliate_id=who.pk) == total
    assert LedgerEntry.objects.filter(affiliate=who, kind=EntryKind.REDEEM).exists()
