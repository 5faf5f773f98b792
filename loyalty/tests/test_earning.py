"""Earning: each points kind, conditions, limits, idempotent replay, reversal."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db.models import Sum
from django_tenants.utils import tenant_context

from loyalty.models import LedgerEntry
from loyalty.services.earning import events_earn
from loyalty.services.ledger import balance_of
from loyalty.tests.helpers import affiliate, at, event, live


@pytest.fixture
def udn(udn_a):
    with tenant_context(udn_a):
        yield udn_a


def points(who) -> int:
    return LedgerEntry.objects.filter(affiliate=who).aggregate(s=Sum("points"))["s"] or 0


def test_fixed_per_real_and_multiplier_points(udn):
    live(
        {"event_type": "cash_in", "points_kind": "per_real", "points": Decimal("2")},
        {"event_type": "cash_in", "points_kind": "fixed", "points": 10},
        {"event_type": "cash_in", "points_kind": "multiplier", "points": 3, "plans": ["Ouro"]},
    )
    gold, plain = affiliate(plan="Ouro"), affiliate(plan="Prata")
    evs = [event(gold, "cash_in", at(2), "50.70"), event(plain, "cash_in", at(2), "50.70")]
    result = events_earn(event_pks=[e.pk for e in evs])
    # 2 x 50.70 = 101 (floor) + 10 = 111; the multiplier (x3) adds 2 x 111 for Ouro only.
    assert points(plain) == 111
    assert points(gold) == 111 + 222
    assert result.entries == 5


def test_conditions_on_properties_and_stage(udn):
    live(
        {
            "event_type": "cash_in",
            "points_kind": "fixed",
            "points": 5,
            "conditions": [
                {"field": "channel", "op": "eq", "value": "app"},
                {"field": "amount", "op": "gte", "value": 100},
            ],
            "stages": ["cash_in"],
        }
    )
    who, lead = affiliate(stage="cash_in"), affiliate(stage="lead")
    evs = [
        event(who, "cash_in", at(2), "100", channel="app"),
        event(who, "cash_in", at(3), "99", channel="app"),
        event(who, "cash_in", at(4), "500", channel="web"),
        event(lead, "cash_in", at(4), "500", channel="app"),
    ]
    events_earn(event_pks=[e.pk for e in evs])
    assert points(who) == 5
    assert points(lead) == 0


@pytest.mark.parametrize(
    ("period", "count", "expected"),
    [("day", 2, 2 + 1 + 1), ("month", 3, 3 + 1), ("ever", 1, 1)],
)
def test_limits_per_day_month_and_once_ever(udn, period, count, expected):
    live(
        {
            "event_type": "cashout",
            "points_kind": "fixed",
            "points": 1,
            "limit_period": period,
            "limit_count": count,
        }
    )
    who = affiliate()
    # March 2: three; March 3: one; April 1: one (São Paulo days).
    whens = [at(2, 9), at(2, 10), at(2, 23), at(3, 1), at(1, 12, month=4)]
    first = [event(who, "cashout", w) for w in whens[:2]]
    events_earn(event_pks=[e.pk for e in first])  # the limit also counts what earlier batches earned
    rest = [event(who, "cashout", w) for w in whens[2:]]
    events_earn(event_pks=[e.pk for e in rest])
    assert points(who) == expected


def test_validity_period(udn):
    from datetime import date

    live(
        {
            "event_type": "app_downloaded",
            "points_kind": "fixed",
            "points": 7,
            "valid_from": date(2026, 3, 3),
            "valid_until": date(2026, 3, 5),
        }
    )
    who = affiliate()
    evs = [event(who, "app_downloaded", w) for w in (at(2), at(3), at(5, 23), at(6))]
    events_earn(event_pks=[e.pk for e in evs])
    assert points(who) == 14


def test_replayed_events_never_earn_twice(udn):
    live(
        {
            "event_type": "cash_in",
            "points_kind": "fixed",
            "points": 10,
            "limit_period": "day",
            "limit_count": 5,
        }
    )
    who = affiliate()
    evs = [event(who, "cash_in", at(2, h)) for h in (9, 10)]
    pks = [e.pk for e in evs]
    events_earn(event_pks=pks)
    again = events_earn(event_pks=pks)
    events_earn(event_pks=pks + pks)
    assert again.entries == 0
    assert points(who) == 20
    assert LedgerEntry.objects.filter(affiliate=who).count() == 2


def test_a_refund_reverses_what_the_cash_in_earned_once(udn):
    live({"event_type": "cash_in", "points_kind": "per_real", "points": 1})
    who = affiliate()
    original = event(who, "cash_in", at(2), "80")
    events_earn(event_pks=[original.pk])
    refund = event(who, "cash_in_refunded", at(3), "80", original_event_id=original.event_id)
    events_earn(event_pks=[refund.pk])
    events_earn(event_pks=[refund.pk])  # replayed
    assert points(who) == 0
    assert balance_of(affiliate_id=who.pk) == 0
    assert LedgerEntry.objects.filter(affiliate=who, kind="reverse").count() == 1
