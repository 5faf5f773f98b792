"""Every figure of every dashboard page, read from the rollups, equals the same figure computed
straight from the events (insights.raw): on a random base, after a full rebuild, after
incremental refreshes with late events, on an empty base and on a single event."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django_tenants.utils import tenant_context

from insights import raw
from insights.selectors import dashboards
from insights.selectors.dashboards import Filters
from insights.services.rollups import rollup_days_affected, rollups_rebuild, rollups_refresh_days
from insights.tests.helpers import affiliate, at, event, random_base

FILTERS = [
    Filters(start=date(2026, 1, 1), end=date(2026, 6, 30)),
    Filters(start=date(2026, 2, 3), end=date(2026, 3, 17)),
    Filters(start=date(2026, 1, 1), end=date(2026, 6, 30), origin="site"),
    Filters(start=date(2026, 1, 10), end=date(2026, 4, 30), plan="Ouro"),
    Filters(start=date(2026, 1, 10), end=date(2026, 4, 30), origin="store", plan="Básico"),
]


@pytest.fixture
def udn(udn_a):
    with tenant_context(udn_a):
        yield udn_a


def assert_pages_match_raw(filters_list=FILTERS):
    for filters in filters_list:
        for code, page in dashboards.PAGES.items():
            assert page(filters=filters).rows() == raw.PAGES[code](filters=filters).rows(), (code, filters)


def test_every_page_matches_the_raw_events_after_a_rebuild(udn):
    random_base(1, affiliates=80)
    rollups_rebuild()
    assert_pages_match_raw()


def test_incremental_refresh_with_late_events_matches_raw_and_a_rebuild(udn):
    random_base(2, affiliates=50)
    rollups_rebuild()
    # New and late events: a first deposit before the known ones, an account opened weeks
    # before the recorded one (moves the start of its durations), a late utm touch, a ticket.
    from crm.models import Affiliate

    people = list(Affiliate.objects.order_by("pk")[:6])
    new = [
        event(people[0], "cash_in", at(1, 6, 9), "77.00", utm_source="meta"),
        event(people[1], "account_opened", at(1, 7, 8)),
        event(people[2], "lead_created", at(1, 2, 10), utm_source="google", utm_campaign="verao"),
        event(people[3], "app_activated", at(3, 1, 10)),
        event(people[4], "support_ticket_opened", at(2, 1, 10), ticket_id="late-1"),
        event(
            people[4], "support_ticket_closed", at(2, 1, 15), ticket_id="late-1", reason="senha redefinida"
        ),
        event(people[5], "cashback", at(4, 30, 23, 30), "3.00"),
    ]
    rollups_refresh_days(days=rollup_days_affected(event_pks=[e.pk for e in new]))
    assert_pages_match_raw()
    incremental = {f: {c: p(filters=f).rows() for c, p in dashboards.PAGES.items()} for f in FILTERS}
    rollups_rebuild()
    assert incremental == {f: {c: p(filters=f).rows() for c, p in dashboards.PAGES.items()} for f in FILTERS}


def test_an_empty_base_shows_no_figures(udn):
    rollups_rebuild()
    assert_pages_match_raw(FILTERS[:1])
    page = dashboards.time_page(filters=FILTERS[0])
    assert page.table("opened_to_activated_summary").rows == [(0, None, None, None, None, None)]
    volume = dashboards.volume_page(filters=FILTERS[0])
    assert volume.table("funnel").rows[0] == ("lead", 0, None, None, None)
    assert dashboards.deposits_page(filters=FILTERS[0]).table("deposits_by_month").rows == []


def test_a_single_event(udn):
    someone = affiliate(origin="store", plan="Ouro")
    created = event(someone, "account_opened", at(2, 10, 9))
    rollups_refresh_days(days=rollup_days_affected(event_pks=[created.pk]))
    assert_pages_match_raw(FILTERS[:2])
    funnel = dashboards.volume_page(filters=FILTERS[0]).table("funnel").rows
    assert [(step, n) for step, n, *_ in funnel] == [
        ("lead", 1), ("registered", 1), ("app_downloaded", 0), ("activated", 0), ("cash_in", 0), ("cashout", 0)
    ]  # fmt: skip
    cohort = dashboards.cohorts_page(filters=FILTERS[0]).table("cohort_activated").rows
    assert cohort[0][:4] == (date(2026, 2, 1), 1, 0.0, 0.0)


def test_the_day_is_the_udns_local_day(udn):
    someone = affiliate()
    # 23:30 in São Paulo on 31/01 is 02:30 UTC on 01/02: it is January's.
    created = event(someone, "cash_in", at(1, 31, 23, 30), "10.00")
    rollups_refresh_days(days=rollup_days_affected(event_pks=[created.pk]))
    rows = dashboards.deposits_page(filters=FILTERS[0]).table("deposits_by_month").rows
    assert [row[0] for row in rows] == [date(2026, 1, 1)]
    assert rows[0][1:3] == (1, __import__("decimal").Decimal("10.00"))
    assert_pages_match_raw(FILTERS[:1])


def test_batches_of_random_late_events_keep_every_page_equal_to_the_raw_events(udn):
    import random

    from crm.models import Affiliate

    rng = random.Random(7)
    random_base(3, affiliates=40)
    rollups_rebuild()
    people = list(Affiliate.objects.all())
    kinds = [
        "lead_created",
        "account_opened",
        "app_downloaded",
        "app_activated",
        "cash_in",
        "cashout",
        "cashback",
    ]
    for _round in range(4):
        batch = []
        for _ in range(8):
            who = rng.choice(people)
            when = at(1, 3) + timedelta(days=rng.uniform(0, 90), minutes=rng.uniform(0, 600))
            kind = rng.choice(kinds)
            amount = "12.34" if kind in ("cash_in", "cashout", "cashback") else None
            props = {"utm_source": rng.choice(["google", "meta"])} if rng.random() < 0.4 else {}
            batch.append(event(who, kind, when, amount, **props))
        rollups_refresh_days(days=rollup_days_affected(event_pks=[e.pk for e in batch]))
        assert_pages_match_raw(FILTERS[:3])


def test_an_affiliate_moved_to_another_origin_is_regrouped_on_its_days(udn):
    from crm.models import Affiliate
    from insights.services.rollups import rollup_days_of_affiliates

    random_base(4, affiliates=30)
    rollups_rebuild()
    moved = list(Affiliate.objects.exclude(origin="site").order_by("pk")[:3])
    Affiliate.objects.filter(pk__in=[a.pk for a in moved]).update(origin="site", plan="Ouro")
    rollups_refresh_days(days=rollup_days_of_affiliates(affiliate_ids=[a.pk for a in moved]))
    assert_pages_match_raw()
