"""A marketer asks for fresh data-quality figures in the browser and sees them arrive."""

from __future__ import annotations

import re

import pytest
from django_tenants.utils import tenant_context

from crm.models import Affiliate, QualitySnapshot
from crm.services.quality import quality_snapshot_take
from tenants.models import UDN

pytestmark = [pytest.mark.browser, pytest.mark.worker]


def _clean(udn: UDN) -> None:
    with tenant_context(udn):
        QualitySnapshot.objects.all().delete()
        Affiliate.objects.filter(external_id__startswith="QB-").delete()


def test_recompute_shows_the_computing_state_then_the_new_figures(
    page, web_server, celery_worker_process, committed
):
    from tenants.tests.factories import PASSWORD, make_user

    alpha = UDN.objects.get(slug="alpha")
    user = make_user("qualidade.pessoa@alpha.test", udn=alpha)
    committed.append(user.delete)
    committed.append(lambda: _clean(alpha))
    with tenant_context(alpha):
        Affiliate.objects.create(external_id="QB-1", name="Ana")
        quality_snapshot_take()
        Affiliate.objects.create(external_id="QB-2", name="Bia")  # not in the stored figures yet
    base = f"http://alpha.localhost:{web_server}"

    page.goto(f"{base}/accounts/login/?next=/quality/")
    page.fill("#id_username", user.email)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/quality/")

    total = page.locator("[data-testid=quality-total] .bignum")
    assert total.get_attribute("data-value") == "1"  # the stored figures, not computed for the page
    assert re.fullmatch(
        r"Calculados em \d\d/\d\d/\d{4} às \d\d:\d\d\.",
        page.locator("[data-testid=quality-computed-at]").inner_text(),
    )

    page.click("[data-testid=quality-recompute]")
    # "Em cálculo" while the worker computes (it may be quicker than the eye); once the figures
    # are stored the page notices and reloads by itself.
    page.locator("[data-testid=quality-total] .bignum[data-value='2']").wait_for(timeout=30_000)
    assert page.locator("[data-testid=quality-computing]").count() == 0
    assert page.locator("[data-testid=quality-recompute]").is_visible()


def test_the_page_follows_a_computation_longer_than_a_poll_and_reloads_when_it_ends(
    page, web_server, celery_worker_process, committed
):
    """The worker is held (the snapshot table locked) while the page polls several times: the page
    keeps polling "Em cálculo" and, once the figures are stored, reloads by itself with them."""
    from django.db import connection, transaction

    from tenants.tests.factories import PASSWORD, make_user

    alpha = UDN.objects.get(slug="alpha")
    user = make_user("qualidade.lenta@alpha.test", udn=alpha)
    committed.append(user.delete)
    committed.append(lambda: _clean(alpha))
    with tenant_context(alpha):
        Affiliate.objects.create(external_id="QB-1", name="Ana")
        quality_snapshot_take()
        Affiliate.objects.create(external_id="QB-2", name="Bia")
    base = f"http://alpha.localhost:{web_server}"
    page.goto(f"{base}/accounts/login/?next=/quality/")
    page.fill("#id_username", user.email)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/quality/")

    polls: list[int] = []
    page.on("response", lambda r: polls.append(r.status) if "/quality/status/" in r.url else None)
    table = f'"{alpha.schema_name}"."{QualitySnapshot._meta.db_table}"'
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")  # the worker waits on it
        page.click("[data-testid=quality-recompute]")
        page.locator("[data-testid=quality-computing]").wait_for()
        for _ in range(3):  # three polls that find it still computing
            with page.expect_response(lambda r: "/quality/status/" in r.url, timeout=10_000):
                pass
        assert page.locator("[data-testid=quality-computing]").is_visible()
    page.locator("[data-testid=quality-total] .bignum[data-value='2']").wait_for(timeout=30_000)
    assert len(polls) >= 3
    assert page.locator("[data-testid=quality-computing]").count() == 0


def test_the_shared_quality_table_scrolls_inside_its_card_on_a_phone_with_a_hint(
    browser, web_server, committed
):
    """At 390 px the UDNs' table is wider than the screen: the page itself does not overflow, the
    table scrolls inside its card, a note and an edge shadow say so, and scrolling it reaches the
    last column (nothing cut off out of reach)."""
    from tenants.tests.factories import PASSWORD, make_user

    user = make_user("coord.mobile@shared.test", is_coordinator=True)
    committed.append(user.delete)
    for udn in UDN.objects.filter(slug__in=("alpha", "beta")):
        committed.append(lambda udn=udn: _clean(udn))
        with tenant_context(udn):
            Affiliate.objects.create(external_id="QB-1", name="Ana", cpf="52998224725")
            quality_snapshot_take()
    context = browser.new_context(locale="pt-BR", viewport={"width": 390, "height": 844})
    phone = context.new_page()
    phone.set_default_timeout(15_000)
    base = f"http://localhost:{web_server}"
    try:
        phone.goto(f"{base}/accounts/login/?next=/quality/")
        phone.fill("#id_username", user.email)
        phone.fill("#id_password", PASSWORD)
        phone.click("button[type=submit]")
        phone.wait_for_url(f"{base}/quality/")
        scroller = phone.get_by_test_id("quality-overview-scroll")
        assert phone.get_by_test_id("quality-overview-scroll-note").is_visible()
        page_width = phone.evaluate("document.documentElement.scrollWidth")
        box = scroller.evaluate(
            """el => { const r = el.getBoundingClientRect(); const s = getComputedStyle(el);
                return {left: r.left, right: r.right, scroll: el.scrollWidth, client: el.clientWidth,
                        overflow: s.overflowX, shadows: s.backgroundImage}; }"""
        )
        card_scrolls = phone.evaluate(
            "(() => { const c = document.querySelector('[data-testid=quality-overview]').closest('.card');"
            " return c.scrollWidth > c.clientWidth; })()"
        )
        scroller.evaluate("el => { el.scrollLeft = el.scrollWidth; }")
        last = phone.locator("[data-testid=quality-overview] tr[data-udn] td").last
        last_box = last.evaluate("el => el.getBoundingClientRect().toJSON()")
        first_cell = phone.locator("[data-testid=quality-overview] tr[data-udn] td").first
        first_box = first_cell.evaluate("el => el.getBoundingClientRect().toJSON()")
    finally:
        context.close()

    assert page_width == 390  # the page does not scroll sideways
    assert box["left"] >= 0 and box["right"] <= 390  # the scroll area is on screen
    assert box["overflow"] == "auto" and box["scroll"] > box["client"]  # the table scrolls in it
    assert not card_scrolls  # the card is not what scrolls (it would carry no hint)
    assert box["shadows"].count("gradient(") == 4  # the edge shadows
    assert box["left"] <= last_box["left"] and last_box["right"] <= box["right"] + 1  # reached
    assert first_box["right"] <= box["left"]  # the first column scrolled away, not squeezed
