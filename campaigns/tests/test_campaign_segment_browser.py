"""In the browser, the campaign form's live count follows the saved segment chosen, combined with
the list's filter typed (htmx, debounced): the segment's members the filter also picks."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from crm.models import Affiliate, Segment
from crm.services.segments import segment_save
from tenants.models import UDN

pytestmark = [pytest.mark.browser]

TAG = "segmento-browser"
CITY = "Vila Segmento Browser"


def _clean(udn: UDN) -> None:
    with tenant_context(udn):
        Segment.objects.filter(name="Na vila (browser)").delete()
        Affiliate.objects.filter(external_id__startswith="SB-").delete()


def test_the_live_count_follows_the_segment_and_the_filter(page, web_server, committed):
    from tenants.tests.factories import PASSWORD, make_user

    alpha = UDN.objects.get(slug="alpha")
    user = make_user("segmento.campanha@alpha.test", udn=alpha)
    committed.append(user.delete)
    committed.append(lambda: _clean(alpha))
    with tenant_context(alpha):
        # In the village: 0 and 1; tagged: 0 and 2. Both: 0 only.
        Affiliate.objects.create(external_id="SB-0", name="Ana Vila", city=CITY, tags=[TAG])
        Affiliate.objects.create(external_id="SB-1", name="Bia Vila", city=CITY)
        Affiliate.objects.create(external_id="SB-2", name="Caio Fora", city="Recife", tags=[TAG])
        segment = segment_save(
            name="Na vila (browser)",
            definition={
                "version": 1,
                "root": {
                    "kind": "group",
                    "op": "and",
                    "conditions": [{"kind": "field", "field": "city", "operator": "eq", "value": CITY}],
                },
            },
            by="browser",
        )
    base = f"http://alpha.localhost:{web_server}"

    page.goto(f"{base}/accounts/login/?next=/campaigns/new/")
    page.fill("#id_username", user.email)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/campaigns/new/")

    page.fill("[data-testid=audience-query]", f"tag={TAG}")
    page.locator("[data-testid=audience-count][data-count='2']").wait_for()
    page.select_option("[data-testid=audience-segment]", str(segment.pk))
    page.locator("[data-testid=audience-count][data-count='1']").wait_for()
    assert "que o filtro seleciona" in page.locator("[data-testid=audience-segment-note]").inner_text()
    page.fill("[data-testid=audience-query]", "")
    page.locator("[data-testid=audience-count][data-count='2']").wait_for()
    assert "todos os membros" in page.locator("[data-testid=audience-segment-note]").inner_text()
    page.select_option("[data-testid=audience-segment]", "")
    page.locator("[data-testid=audience-open-list]").wait_for()
