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


def test_pages_and_swagger_ui_run_under_the_content_security_policy(page, web_server, committed):
    """Chromium enforces the CSP: no violation on the pages a person opens, Swagger UI still draws
    the API's operations, and the language menu (a script from our static files) still works."""
    from conftest import PASSWORD, make_user

    alpha = UDN.objects.get(slug="alpha")
    user = make_user("csp.person@alpha.test", udn=alpha, first_name="Clara")
    committed.append(user.delete)
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    udn = f"http://alpha.localhost:{web_server}"

    page.goto(f"{udn}/api/v1/docs/")
    page.locator(".opblock").first.wait_for()

    page.goto(f"{udn}/accounts/login/")
    page.fill("#id_username", user.email)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{udn}/")
    for path in ("/affiliates/", "/quality/", "/api-keys/"):
        page.goto(f"{udn}{path}")
    page.select_option("#lang-select", "en")
    page.wait_for_function("document.documentElement.lang === 'en'")

    assert violations == []
