"""A marketer writes an SMS template in the browser: inserts a variable with a click, watches the
preview and the segment count follow the typing, previews it for a chosen affiliate, saves it."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from campaigns.models import MessageTemplate
from crm.models import Affiliate
from tenants.models import UDN

pytestmark = [pytest.mark.browser]


def _clean(udn: UDN) -> None:
    with tenant_context(udn):
        MessageTemplate.objects.filter(slug="aviso-browser").delete()
        Affiliate.objects.filter(external_id="TB-1").delete()


def test_writing_an_sms_template_with_live_preview_and_segment_count(page, web_server, committed):
    from tenants.tests.factories import PASSWORD, make_user

    alpha = UDN.objects.get(slug="alpha")
    user = make_user("modelos.pessoa@alpha.test", udn=alpha)
    committed.append(user.delete)
    committed.append(lambda: _clean(alpha))
    with tenant_context(alpha):
        Affiliate.objects.create(external_id="TB-1", name="Cecília Brandão", tier="Ouro")
    base = f"http://alpha.localhost:{web_server}"

    page.goto(f"{base}/accounts/login/?next=/templates/new/sms/")
    page.fill("#id_username", user.email)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/templates/new/sms/")

    page.fill("#id_name", "Aviso browser")
    page.fill("#id_slug", "aviso-browser")
    page.fill("#id_body_text", "Oi ")
    page.click("[data-insert-variable=primeiro_nome]")
    assert page.input_value("#id_body_text") == "Oi {{ primeiro_nome }}"
    page.locator("[data-testid=preview-text]", has_text="Oi Joana").wait_for()
    count = page.locator("#sms-count")
    assert count.get_attribute("data-encoding") == "GSM-7" and count.get_attribute("data-segments") == "1"

    page.locator("#id_body_text").press_sequentially(", ação" + " x" * 35)
    page.locator("#sms-count[data-encoding='UCS-2'][data-segments='2']").wait_for()

    page.fill("[data-testid=preview-search]", "cecilia")
    page.locator("[data-testid=preview-affiliate]").check()
    page.locator("[data-testid=preview-for]", has_text="Cecília Brandão").wait_for()
    assert page.locator("[data-testid=preview-text]").inner_text().startswith("Oi Cecília, ação")

    page.click("[data-testid=template-save]")
    page.wait_for_url(f"{base}/templates/*/")
    assert "Modelo “Aviso browser” salvo." in page.content()
    with tenant_context(alpha):
        assert MessageTemplate.objects.get(slug="aviso-browser").variables == ["primeiro_nome"]
