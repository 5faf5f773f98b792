"""A marketer opens the dashboards in the browser, sees the charts drawn (Chart.js, served
locally), changes the period, the origin and the UDN filters and downloads a table as CSV; a
coordinator compares the UDNs side by side and narrows them down."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django_tenants.utils import tenant_context

from crm.models import Affiliate
from insights.services.rollups import rollups_rebuild
from insights.tests.helpers import at, event
from tenants.models import UDN

pytestmark = [pytest.mark.browser]


def _clean(udn: UDN) -> None:
    with tenant_context(udn):
        Affiliate.objects.filter(external_id__startswith="IB-").delete()
        rollups_rebuild()


def test_dashboards_open_draw_and_follow_the_filters(page, web_server, committed):
    from tenants.tests.factories import PASSWORD, make_user

    alpha, beta = UDN.objects.get(slug="alpha"), UDN.objects.get(slug="beta")
    user = make_user("indicadores.pessoa@alpha.test", udn=alpha)
    make_user_beta = user.memberships.create(udn=beta, role="analyst")
    committed.append(user.delete)
    committed.append(lambda: _clean(alpha))
    del make_user_beta
    with tenant_context(alpha):
        for n, (origin, minutes) in enumerate((("site", 30), ("site", 90), ("store", 600), ("store", 3000))):
            who = Affiliate.objects.create(
                external_id=f"IB-{n}", name=f"Pessoa {n}", origin=origin, plan="Ouro"
            )
            event(who, "account_opened", at(3, 2 + n, 9))
            event(who, "app_downloaded", at(3, 2 + n, 9) + timedelta(minutes=minutes))
            event(who, "app_activated", at(3, 2 + n, 9) + timedelta(minutes=minutes * 2))
            event(who, "cash_in", at(3, 10 + n, 9), "1500.00")
        rollups_rebuild()
    base = f"http://alpha.localhost:{web_server}"
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)

    page.goto(f"{base}/accounts/login/?next=/")
    page.fill("#id_username", user.email)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")
    page.click("nav.mainnav summary >> text=Indicadores")
    page.click("nav.mainnav >> text=Tempo")
    page.wait_for_url(f"{base}/insights/time/")

    page.fill("[data-testid=filter-start]", "2026-03-01")
    page.fill("[data-testid=filter-end]", "2026-03-31")
    page.click("[data-testid=filter-apply]")
    page.wait_for_url("**/insights/time/?start=2026-03-01&end=2026-03-31*")
    summary = page.locator("[data-testid=insight-opened_to_downloaded_summary] tbody tr td")
    assert summary.first.inner_text() == "4"
    # Chart.js drew into the canvas (it sizes it and keeps an instance per canvas).
    assert page.evaluate("() => !!window.Chart && document.querySelectorAll('canvas[data-chart]').length > 0")
    assert page.evaluate(
        "() => [...document.querySelectorAll('canvas[data-chart]')].every(c => window.Chart.getChart(c))"
    )

    page.select_option("[data-testid=filter-origin]", "store")
    page.click("[data-testid=filter-apply]")
    page.wait_for_url("**origin=store*")
    assert summary.first.inner_text() == "2"

    page.click("[data-testid=tab-deposits]")
    page.wait_for_url("**/insights/deposits/?*origin=store*")
    assert "R$\u00a03.000,00" in page.locator("[data-testid=insight-deposits_by_month]").inner_text()
    with page.expect_download() as download:
        page.click("[data-testid=csv-deposits_by_month]")
    assert download.value.suggested_filename.startswith("deposits_by_month-alpha-20260301-20260331")

    page.click("[data-testid=tab-cohorts]")
    page.wait_for_url("**/insights/cohorts/**")
    assert page.locator("[data-testid=insight-cohort_activated] td.heat-10").count() >= 1

    # The UDN filter takes the same page and filters to the other UDN.
    options = page.locator("[data-testid=filter-udn] option")
    assert options.count() == 2
    assert errors == []


def test_a_coordinator_compares_udns_and_narrows_them_down(page, web_server, committed):
    from tenants.tests.factories import PASSWORD, make_user

    user = make_user("coordenacao.indicadores@shared.test", is_coordinator=True)
    committed.append(user.delete)
    base = f"http://localhost:{web_server}"
    page.goto(f"{base}/accounts/login/?next=/insights/")
    page.fill("#id_username", user.email)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/insights/")
    table = page.locator("[data-testid=insight-udns] tbody")
    assert "UDN Alpha" in table.inner_text() and "UDN Beta" in table.inner_text()
    page.uncheck("[data-testid=filter-udn-beta]")  # every UDN is ticked at first
    page.click("[data-testid=filter-apply]")
    page.wait_for_url("**udn=alpha*")
    assert "UDN Alpha" in table.inner_text() and "UDN Beta" not in table.inner_text()
