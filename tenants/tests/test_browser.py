"""The flows a person really does, in Debian's chromium driven by Playwright."""

import pytest

from tenants.models import UDN

pytestmark = [pytest.mark.browser, pytest.mark.worker]


def test_sign_in_switch_udn_and_see_the_heartbeat(page, web_server, celery_worker_process, committed):
    from tenants.tests.factories import PASSWORD, make_user

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
    from tenants.tests.factories import PASSWORD, make_user

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


# --- layout and words (issue 9) -------------------------------------------------------------------


def _sign_in(page, base: str, email: str) -> None:
    from tenants.tests.factories import PASSWORD

    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", email)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


@pytest.fixture
def alpha_with_affiliates(committed):
    """UDN Alpha with a marketer and three affiliates: a lead, a depositor with a very long e-mail."""
    from decimal import Decimal

    from django_tenants.utils import tenant_context

    from crm.models import Affiliate, Stage
    from tenants.tests.factories import make_user

    alpha = UDN.objects.get(slug="alpha")
    user = make_user("layout.person@alpha.test", udn=alpha, first_name="Lúcia")
    committed.append(user.delete)
    with tenant_context(alpha):
        Affiliate.objects.bulk_create(
            [
                Affiliate(external_id="LAY-1", name="Lia Lead", cpf="12345678909", stage=Stage.LEAD),
                Affiliate(
                    external_id="LAY-2",
                    name="Maria das Graças Albuquerque",
                    cpf="52998224725",
                    email="maria.das.gracas.albuquerque.cavalcanti.de.souza@empresa-muito-longa.example.com.br",
                    phone="+5581987654321",
                    stage=Stage.APP_DOWNLOADED,
                    total_cash_in=Decimal("1234.56"),
                    tier="Prata",
                ),
            ]
        )

    def cleanup() -> None:
        with tenant_context(alpha):
            Affiliate.objects.filter(external_id__startswith="LAY-").delete()

    committed.append(cleanup)
    with tenant_context(alpha):
        depositor = Affiliate.objects.get(external_id="LAY-2")
    return alpha, user, depositor


def test_no_page_overflows_a_390_pixel_phone_and_the_menu_wraps(browser, web_server, alpha_with_affiliates):
    _alpha, user, depositor = alpha_with_affiliates
    context = browser.new_context(locale="pt-BR", viewport={"width": 390, "height": 844})
    phone = context.new_page()
    phone.set_default_timeout(15_000)
    base = f"http://alpha.localhost:{web_server}"
    try:
        _sign_in(phone, base, user.email)
        widths = {}
        for path in (
            "/",
            "/affiliates/",
            f"/affiliates/{depositor.pk}/",
            "/imports/",
            "/quality/",
            "/lake/",
            "/api-keys/",
            "/webhooks/",
        ):
            phone.goto(f"{base}{path}")
            widths[path] = phone.evaluate("document.documentElement.scrollWidth")
        nav_links = phone.locator(".mainnav a").count()
        nav_right = phone.evaluate(
            "Math.max(...[...document.querySelectorAll('.mainnav a')].map(a => a.getBoundingClientRect().right))"
        )
    finally:
        context.close()

    assert widths == dict.fromkeys(widths, 390)
    assert nav_links > 0 and nav_right <= 390  # every menu entry on screen


# Tab from the top of the page, opening each menu group (Enter on its summary) as focus reaches it;
# returns the links the keyboard reached inside the main menu, in order.
def _keyboard_reachable_links(page, presses: int = 150) -> list[str]:
    """Tab through the page until focus leaves the menu (`presses` is only a bound on a runaway
    walk: the menu grows with the product, 60 fell short of the 390 px menu's last entries)."""
    page.evaluate("document.activeElement && document.activeElement.blur()")
    reached: list[str] = []
    for _ in range(presses):
        page.keyboard.press("Tab")
        focus = page.evaluate(
            """() => {
                const el = document.activeElement;
                if (!el || !el.closest('#mainnav, .navtoggle')) return null;
                if (el.matches('.navtoggle')) return {kind: 'toggle', open: el.getAttribute('aria-expanded') === 'true'};
                if (el.matches('summary')) return {kind: 'summary', open: el.parentElement.open};
                const r = el.getBoundingClientRect();
                const visible = r.width > 0 && r.height > 0 && r.right <= innerWidth;
                return {kind: 'link', href: el.getAttribute('href'), visible};
            }"""
        )
        if focus is None:
            if reached:
                break  # past the menu
            continue
        if focus["kind"] in ("toggle", "summary") and not focus["open"]:
            page.keyboard.press("Enter")
        elif focus["kind"] == "link" and focus["visible"]:
            reached.append(focus["href"])
    return reached


def test_the_grouped_menu_fits_two_rows_and_every_entry_is_reachable_by_keyboard(
    browser, web_server, alpha_with_affiliates
):
    """The menu groups its pages (Dados, Mensagens, Integrações) so the header stays short at
    1280 px; at 390 px one "Menu" button opens it. Every page of the menu is reached with Tab and
    Enter alone, Falhas included."""
    _alpha, user, _depositor = alpha_with_affiliates
    base = f"http://alpha.localhost:{web_server}"
    results = {}
    for width, height in ((1280, 800), (390, 844)):
        context = browser.new_context(locale="pt-BR", viewport={"width": width, "height": height})
        page = context.new_page()
        page.set_default_timeout(15_000)
        try:
            _sign_in(page, base, user.email)
            row = page.locator(".switcher summary").evaluate("el => el.getBoundingClientRect().height")
            header = page.locator("header.topbar").evaluate("el => el.getBoundingClientRect().height")
            targets = page.evaluate(
                "[...document.querySelectorAll('#mainnav a')].map(a => a.getAttribute('href'))"
            )
            reached = _keyboard_reachable_links(page)
            overflow = page.evaluate("document.documentElement.scrollWidth")
            results[width] = (row, header, targets, reached, overflow)
        finally:
            context.close()

    for width, (row, header, targets, reached, overflow) in results.items():
        # Every page once (the count grows with the product: each app adds its pages).
        assert "/messages/failures/" in targets and len(set(targets)) == len(targets), (width, targets)
        assert reached == targets, width  # each entry once, in the menu's order
        assert overflow == width
        # at most two rows of the bar's tallest item (the space switcher), with padding and gap
        assert header <= 2 * row + 30, (width, header, row)


def test_cpf_and_badges_stay_on_one_line_and_long_emails_stay_inside_the_profile_card(
    page, web_server, alpha_with_affiliates
):
    _alpha, user, depositor = alpha_with_affiliates
    base = f"http://alpha.localhost:{web_server}"
    _sign_in(page, base, user.email)
    page.set_viewport_size({"width": 700, "height": 900})

    page.goto(f"{base}/affiliates/")
    cpf_cell = page.locator("[data-testid=affiliate-row] [data-testid=cpf]").first
    stage_badge = page.locator("[data-testid=affiliate-row] .badge.stage").first
    cpf_lines = cpf_cell.evaluate(
        "el => Math.round(el.getBoundingClientRect().height / parseFloat(getComputedStyle(el).lineHeight))"
    )
    assert cpf_cell.evaluate("el => getComputedStyle(el).whiteSpace") == "nowrap"
    assert stage_badge.evaluate("el => getComputedStyle(el).whiteSpace") == "nowrap"
    assert cpf_lines <= 2  # padding included: one line of text

    page.goto(f"{base}/affiliates/{depositor.pk}/")
    card = page.locator("[data-testid=profile-card]")
    overflow = card.evaluate("el => el.scrollWidth - el.clientWidth")
    email = card.locator("a[href^=mailto]")
    assert overflow == 0
    assert email.evaluate("el => el.getBoundingClientRect().right") <= card.evaluate(
        "el => el.getBoundingClientRect().right"
    )
    assert "Faltam R$\u00a0765,44 para o nível Ouro" in page.locator("[data-testid=tier-card]").inner_text()


def test_the_webhook_and_api_key_forms_look_like_the_other_forms(page, web_server, alpha_with_affiliates):
    _alpha, user, _depositor = alpha_with_affiliates
    base = f"http://alpha.localhost:{web_server}"
    _sign_in(page, base, user.email)
    style = "el => { const s = getComputedStyle(el); return [s.borderTopLeftRadius, s.borderTopColor, s.paddingLeft]; }"

    page.goto(f"{base}/api-keys/")
    text_input = page.locator("[data-testid=api-key-form] input[name=name]").evaluate(style)
    scopes = page.locator("[data-testid=api-key-form] fieldset")
    scope_labels = scopes.locator("label").all_inner_texts()
    scopes_border = scopes.evaluate("el => getComputedStyle(el).borderTopStyle")
    page.goto(f"{base}/webhooks/")
    url_input = page.locator("[data-testid=webhook-form] input[type=url]").evaluate(style)
    legend = page.locator("[data-testid=webhook-form] fieldset legend").evaluate(
        "el => getComputedStyle(el).fontWeight"
    )

    assert url_input == text_input and text_input[0] == "8px"
    assert scopes_border == "solid"
    assert legend == "600"
    assert any(label.startswith("Ler afiliados") for label in scope_labels)


def test_the_favicon_is_linked_and_served(page, web_server):
    base = f"http://localhost:{web_server}"

    response = page.request.get(f"{base}/favicon.ico")
    page.goto(f"{base}/accounts/login/")
    icons = page.locator("link[rel=icon]")
    svg = page.request.get(base + icons.first.get_attribute("href"))

    assert response.ok and response.headers["content-type"] in ("image/x-icon", "image/vnd.microsoft.icon")
    assert response.body()[:4] == b"\x00\x00\x01\x00"  # an ICO file
    assert icons.count() == 2 and svg.ok and b"<svg" in svg.body()
