"""A marketer imports a messy file in the browser: mapping → preview → import → rejected rows."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from crm.models import Affiliate, ImportJob
from crm.tests.helpers import UGLY
from tenants.models import UDN

pytestmark = [pytest.mark.browser, pytest.mark.worker]


def _clean(udn: UDN) -> None:
    with tenant_context(udn):
        ImportJob.objects.all().delete()
        Affiliate.objects.all().delete()


def test_map_preview_import_and_download_the_rejected_rows(
    page, web_server, celery_worker_process, committed
):
    from tenants.tests.factories import PASSWORD, make_user

    alpha = UDN.objects.get(slug="alpha")
    user = make_user("importa.pessoa@alpha.test", udn=alpha, first_name="Iara")
    committed.append(user.delete)
    committed.append(lambda: _clean(alpha))
    base = f"http://alpha.localhost:{web_server}"

    page.goto(f"{base}/accounts/login/?next=/imports/")
    page.fill("#id_username", user.email)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/imports/")

    page.set_input_files("[data-testid=upload-form] input[type=file]", str(UGLY))
    page.click("[data-testid=upload-form] button[type=submit]")
    page.wait_for_url("**/mapping/")
    assert page.locator("select[data-header='Celular']").input_value() == "phone"
    assert page.locator("select[data-header='Observação']").input_value() == ""
    assert page.locator("input.attr-name:visible").count() == 0  # only asked for a custom attribute
    page.select_option("select[data-header='Observação']", "attr")
    name_box = page.locator("input.attr-name:visible")
    assert name_box.count() == 1 and name_box.input_value() == "Observação"  # the header by default
    page.focus("select[data-header='Observação']")
    page.keyboard.press("Tab")  # the box is next in the keyboard order
    assert page.evaluate("document.activeElement.classList.contains('attr-name')")
    page.click("form.card button[type=submit]")

    page.wait_for_url("**/preview/")
    assert page.locator("tr.is-rejected").count() == 4
    assert page.locator("tr.is-warned").count() == 3  # imported, the bad phone or birth date left blank
    assert page.locator("tr.is-warned .badge.warn").first.inner_text() == "telefone sem DDD"
    # The reasons wrap: the table fits its card and the page, nothing to scroll sideways.
    assert page.evaluate(
        """() => {
            const table = document.querySelector("table.preview");
            const root = document.documentElement;
            return table.scrollWidth <= table.parentElement.clientWidth && root.scrollWidth <= root.clientWidth;
        }"""
    )
    page.click("[data-testid=run-import]")

    page.locator("[data-testid=import-progress][data-status=done]").wait_for(timeout=30_000)
    assert page.locator("[data-testid=stat-created]").inner_text() == "7"
    assert page.locator("[data-testid=stat-rejected]").inner_text() == "4"
    assert page.locator("[data-testid=stat-warned]").inner_text() == "3"
    with page.expect_download() as download_info:
        page.click("[data-testid=download-rejected]")
    content = download_info.value.path().read_text(encoding="utf-8-sig")
    lines = content.strip().splitlines()
    assert len(lines) == 8 and lines[1].startswith("4;")
    with tenant_context(alpha):
        assert Affiliate.objects.get(external_id="A001").attributes == {"Observação": "cliente antiga"}
