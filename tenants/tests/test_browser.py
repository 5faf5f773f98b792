"""The flows a person really does, in Debian's chromium driven by Playwright."""

import pytest

from tenants.models import UDN

pytestmark = [pytest.mark.browser, pytest.mark.worker]


def test_sign_in_switch_udn_and_see_the_heartbeat(page, web_server, celery_worker_process, committed):
    from conftest import PASSWORD, make_user

    alpha = UDN.objects.get(slug="alpha")
    UDN.objects.filter(pk=alpha.pk).update(last_tick_at=None)
    user = make_user("browser.person@alpha.test", udn=alpha, first_name="Beatriz")
    committed.append(user.delete)
    base = f"http://localhost:{web_server}"

    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", user.email)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")
    assert page.locator("h1").inner_text() == "Espaço compartilhado"

    page.click("[data-testid=udn-switcher] summary")
    page.click("[data-testid=udn-switcher] >> text=UDN Alpha")
    page.wait_for_url(f"http://alpha.localhost:{web_server}/")
    assert page.locator("h1").inner_text() == "UDN Alpha"
    assert page.locator("[data-heartbeat=none]").is_visible()

    page.click("[data-testid=heartbeat-ping]")
    page.locator("[data-heartbeat=ok]").wait_for(timeout=20_000)
    assert "segundo" in page.locator("[data-heartbeat=ok]").inner_text()
