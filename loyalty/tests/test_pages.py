"""Loyalty's pages answer in pt-BR, and the affiliate page shows the points panel (crm.panels)."""

from __future__ import annotations

from decimal import Decimal

from django_tenants.utils import tenant_context

from loyalty.models import Reward
from loyalty.services.ledger import points_adjust
from loyalty.tests.helpers import affiliate, programme


def test_pages_and_affiliate_panel_and_staff_redemption(udn_a, marketer, analyst, client_for):
    with tenant_context(udn_a):
        programme(currency_name="estrelas")
        who = affiliate()
        points_adjust(affiliate=who, points=150, reason="boas-vindas", by="x")
        reward = Reward.objects.create(
            name="Consulta", kind="consultation", points_price=100, cost=Decimal("5")
        )
    client = client_for(udn_a, marketer)
    for name in ("", "rules/", "rewards/", "budget/", "missions/", "rankings/"):
        response = client.get(f"/loyalty/{name}")
        assert response.status_code == 200, name
    page = client.get(f"/affiliates/{who.pk}/").content.decode()
    assert 'data-testid="loyalty-panel"' in page and "150</span> estrelas" in page
    assert (
        client_for(udn_a, analyst)
        .post(f"/loyalty/affiliates/{who.pk}/redeem/", {"reward": reward.pk})
        .status_code
        == 403
    )
    client.post(f"/loyalty/affiliates/{who.pk}/redeem/", {"reward": reward.pk})
    page = client.get(f"/affiliates/{who.pk}/").content.decode()
    assert "50</span> estrelas" in page and "Resgatado" in page
