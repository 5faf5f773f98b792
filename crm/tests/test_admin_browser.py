"""The Django admin in the browser: in Portuguese, and under the Content-Security-Policy."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.browser]

ADMIN_PAGES = ("/admin/", "/admin/tenants/udn/", "/admin/crm/auditentry/", "/admin/auth/group/")


def test_admin_pages_log_no_csp_violation_and_say_in_portuguese_where_udn_data_lives(
    page, web_server, committed
):
    """django-tenants' app list (on every admin page) and Django's change list without actions
    (the audit log) carry inline <style> elements: they must carry the request's nonce."""
    from tenants.tests.factories import PASSWORD, make_user

    admin = make_user("admin.csp@shared.test")
    admin.is_staff = admin.is_superuser = True
    admin.save(update_fields=["is_staff", "is_superuser"])
    committed.append(admin.delete)
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(f"{page.url}: {message.text}")
            if "Content Security Policy" in message.text
            else None
        ),
    )
    base = f"http://localhost:{web_server}"
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", admin.email)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    texts = {}
    for path in ADMIN_PAGES:
        response = page.goto(f"{base}{path}")
        assert response is not None and response.status == 200, path
        texts[path] = page.locator("body").inner_text()

    assert violations == []
    for path, text in texts.items():
        assert "Not available for" not in text, path
    assert "Indisponível aqui: cada UDN guarda estes dados no seu próprio espaço." in texts["/admin/"]
