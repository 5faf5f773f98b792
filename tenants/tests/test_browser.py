"""The flows a person really does, in Debian's chromium driven by Playwright."""

import os
import shutil

import pytest

from tenants.models import UDN

pytestmark = [pytest.mark.browser, pytest.mark.worker]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail("Debian's chromium is not installed (apt-get install chromium); .ci/run installs it")
    # Playwright's sync API runs an event loop in this thread; our ORM calls here are plain sync code.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, request):
    from conftest import ARTIFACTS

    context = browser.new_context(locale="pt-BR", viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()


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
