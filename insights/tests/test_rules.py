"""Each figure against a base computed by hand: time metrics and their histogram buckets, access
support tickets, deposits by month (growth, first vs repeat), cohorts, the funnel, the shares of
the base, first- and last-touch attribution with cost per conversion."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django_tenants.utils import tenant_context

from insights import metrics, raw
from insights.selectors import dashboards
from insights.selectors.dashboards import Filters
from insights.services.rollups import rollup_days_affected, rollups_rebuild, rollups_refresh_days
from insights.services.spend import SpendRow, spend_upsert
from insights.tests.helpers import affiliate, at, event

Q1 = Filters(start=date(2026, 1, 1), end=date(2026, 3, 31))


@pytest.fixture
def udn(udn_a):
    with tenant_context(udn_a):
        yield udn_a


def both(page: str, filters: Filters = Q1) -> dashboards.Page:
    rollups_rebuild()
    result = dashboards.PAGES[page](filters=filters)
    assert result.rows() == raw.PAGES[page](filters=filters).rows()
    return result


def test_time_to_download_percentiles_histogram_and_the_24_hour_window(udn):
    opened = at(2, 2, 9)
    for minutes in (10, 150, 20 * 60, 3 * 24 * 60):
        who = affiliate(origin="site" if minutes < 1000 else "store")
        event(who, "account_opened", opened)
        event(who, "app_downloaded", opened + timedelta(minutes=minutes))
    # Downloaded before the account was opened: not a duration. Not opened: not counted.
    odd = affiliate()
    event(odd, "account_opened", opened)
    event(odd, "app_downloaded", opened - timedelta(hours=1))
    event(affiliate(), "app_downloaded", opened)
    page = both("time")
    # 10 min is in [10, 15 min); 2 h 30 in [2 h, 3 h); 20 h in [20 h, 24 h); 3 d in [3 d, 4 d).
    n, median, p75, p90, mean, within = page.table("opened_to_downloaded_summary").rows[0]
    assert (n, median, p75, p90) == (4, 3 * 3600, 24 * 3600, 4 * 86400)
    assert mean == (600 + 9000 + 72000 + 259200) / 4
    assert within == 0.75
    histogram = {row[0]: row[2] for row in page.table("opened_to_downloaded_histogram").rows}
    assert sum(histogram.values()) == 4
    assert histogram[600] == histogram[7200] == histogram[72000] == histogram[3 * 86400] == 1
    by_origin = {row[0]: row[1:3] for row in page.table("opened_to_downloaded_by_origin").rows}
    assert by_origin == {"site": (2, 900), "store": (2, 24 * 3600)}
    weekly = page.table("opened_to_downloaded_weekly").rows
    assert weekly == [(date(2026, 2, 2), 4, 3 * 3600, 4 * 86400, 0.75)]


def test_access_ticket_resolution_pairs_tickets_and_keeps_access_reasons_only(udn):
    who = affiliate()
    event(who, "support_ticket_opened", at(3, 2, 10), ticket_id="A")
    event(who, "support_ticket_closed", at(3, 2, 12, 30), ticket_id="A", reason="senha redefinida")
    event(who, "support_ticket_opened", at(3, 3, 10), ticket_id="B")
    event(who, "support_ticket_closed", at(3, 3, 11), ticket_id="B", reason="dúvida esclarecida")
    event(who, "support_ticket_opened", at(3, 4, 10), ticket_id="C")  # still open
    rows = both("time").table("support_access_weekly").rows
    assert rows == [(date(2026, 3, 2), 1, 3 * 3600, 3 * 3600, 1.0)]


def test_deposits_by_month_growth_first_versus_repeat_and_the_tier_each_reached(udn):
    # The UDN's tiers (crm's defaults): Bronze from R$ 0,01, Prata from R$ 500, Ouro from R$ 2.000.
    a, b = affiliate(), affiliate()
    event(a, "cash_in", at(1, 10), "100.00")  # total 100: Bronze
    event(a, "cash_in", at(2, 5), "450.00")  # total 550: Prata
    event(b, "cash_in", at(2, 20), "2000.00")  # total 2.000: Ouro
    event(b, "cash_in", at(3, 1), "25.50")  # total 2.025,50: Ouro
    event(b, "cashout", at(3, 2), "10.00")  # money out: not a deposit
    page = both("deposits")
    assert page.table("deposits_by_month").rows == [
        (date(2026, 1, 1), 1, Decimal("100.00"), None, 1, Decimal("100.00"), 0, Decimal("0.00")),
        (date(2026, 2, 1), 2, Decimal("2450.00"), 23.5, 1, Decimal("2000.00"), 1, Decimal("450.00")),
        (date(2026, 3, 1), 1, Decimal("25.50"), pytest.approx(25.5 / 2450 - 1), 0, Decimal("0.00"), 1,
         Decimal("25.50")),
    ]  # fmt: skip
    assert page.table("deposits_by_tier").rows == [
        (date(2026, 1, 1), "Bronze", 1, Decimal("100.00")),
        (date(2026, 2, 1), "Ouro", 1, Decimal("2000.00")),
        (date(2026, 2, 1), "Prata", 1, Decimal("450.00")),
        (date(2026, 3, 1), "Ouro", 1, Decimal("25.50")),
    ]
    # A late deposit before them all lifts a's February deposit into Ouro, once refreshed.
    late = event(a, "cash_in", at(1, 2), "1500.00")
    rollups_refresh_days(days=rollup_days_affected(event_pks=[late.pk]))
    tiers = dashboards.deposits_page(filters=Q1).table("deposits_by_tier").rows
    assert (date(2026, 2, 1), "Ouro", 2, Decimal("2450.00")) in tiers
    assert tiers == raw.deposits_page(filters=Q1).table("deposits_by_tier").rows


def test_monthly_cohorts_of_activation(udn):
    a, b, c = affiliate(), affiliate(), affiliate()
    event(a, "registration_started", at(1, 15))
    event(a, "app_activated", at(2, 2))
    event(b, "lead_created", at(1, 20))
    event(b, "app_activated", at(1, 25))
    event(c, "account_opened", at(2, 3))
    rows = both("cohorts").table("cohort_activated").rows
    nothing = (None,) * (dashboards.COHORT_MONTHS - 3)
    assert rows == [
        (date(2026, 1, 1), 2, 0.5, 1.0, 1.0, *nothing),
        (date(2026, 2, 1), 1, 0.0, 0.0, *nothing, None),
    ]


def test_the_funnel_counts_each_step_with_conversion_and_median_time(udn):
    a, b = affiliate(), affiliate()
    event(a, "lead_created", at(1, 5, 10))
    event(a, "account_opened", at(1, 5, 11))
    event(a, "app_downloaded", at(1, 5, 13))
    event(b, "lead_created", at(1, 6, 10))
    page = both("volume")
    funnel = {row[0]: row[1:] for row in page.table("funnel").rows}
    assert funnel["lead"] == (2, None, 1.0, None)
    assert funnel["registered"] == (1, 0.5, 0.5, 3600 + 1800)  # 1 h: the bucket [1 h, 1 h 30)
    assert funnel["app_downloaded"] == (1, 1.0, 0.5, 3 * 3600)  # 2 h: [2 h, 3 h)
    assert funnel["activated"] == (0, 0.0, 0.0, None)


def test_shares_of_the_base_and_their_weekly_trend(udn):
    people = [affiliate() for _ in range(4)]
    for who in people:
        event(who, "lead_created", at(1, 5))
    event(people[0], "cashback", at(1, 7), "5.00")
    event(people[1], "app_activated", at(1, 8))
    event(people[1], "cash_in", at(1, 14), "10.00")  # activated with cash in from 14/01
    event(people[2], "cashout", at(1, 20), "1.00")
    page = both("volume", Filters(start=date(2026, 1, 5), end=date(2026, 1, 18)))
    assert page.table("volume_shares").rows == [
        ("cashback", 1, 4, 0.25),
        ("activated_cash_in", 1, 4, 0.25),
        ("cashout", 0, 4, 0.0),
    ]
    assert page.table("volume_weekly").rows == [
        (date(2026, 1, 11), 4, 0.25, 0.0, 0.0),
        (date(2026, 1, 18), 4, 0.25, 0.25, 0.0),
    ]


def test_first_and_last_touch_attribution_and_cost_per_conversion(udn):
    a, b = affiliate(), affiliate()
    event(a, "lead_created", at(1, 1, 9), utm_source="google", utm_campaign="verao")
    event(a, "form_completed", at(1, 3, 9), utm_source="meta", utm_campaign="x")
    event(a, "cash_in", at(1, 5, 9), "100.00")
    event(a, "app_activated", at(1, 10, 9), utm_source="tiktok")  # after the deposit: not its touch
    event(b, "cash_in", at(1, 6, 9), "40.00")  # no utm anywhere
    spend_upsert(
        rows=[
            SpendRow(date(2026, 1, 1), "google", "verao", Decimal("300.00")),
            SpendRow(date(2026, 1, 2), "meta", "x", Decimal("50.00")),
            SpendRow(date(2026, 4, 2), "meta", "x", Decimal("999.00")),  # outside the period
        ]
    )
    page = both("attribution")
    first = {row[0]: row[1:] for row in page.table("attribution_first").rows}
    last = {row[0]: row[1:] for row in page.table("attribution_last").rows}
    none = metrics.UNATTRIBUTED
    # source: leads, activations, first deposits, their amount, spend, per lead, per activation, per deposit
    assert first["google"] == (1, 1, 1, Decimal("100.00"), Decimal("300.00"), Decimal("300.00"),
                               Decimal("300.00"), Decimal("300.00"))  # fmt: skip
    assert first["meta"] == (0, 0, 0, Decimal("0.00"), Decimal("50.00"), None, None, None)
    assert first[none] == (1, 0, 1, Decimal("40.00"), None, None, None, None)
    assert last["meta"] == (0, 0, 1, Decimal("100.00"), Decimal("50.00"), None, None, Decimal("50.00"))
    assert last["google"][:3] == (1, 0, 0)
    assert last["tiktok"][:3] == (0, 1, 0)
    assert page.table("spend").rows == [
        ("google", "verao", Decimal("300.00")),
        ("meta", "x", Decimal("50.00")),
    ]
