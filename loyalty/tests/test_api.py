"""Loyalty's partner API: scopes, UDN isolation, idempotent redemptions and their webhook."""

from __future__ import annotations

from decimal import Decimal

from django_tenants.utils import tenant_context

from crm.models import WebhookDelivery
from crm.services.webhooks import webhook_subscription_create
from crm.tests.helpers import Api, error_of, make_key
from loyalty.models import Redemption, Reward
from loyalty.services.ledger import points_adjust
from loyalty.tests.helpers import affiliate, programme

READ_WRITE = ["loyalty:read", "loyalty:write"]


def _setup(udn):
    with tenant_context(udn):
        programme()
        who = affiliate()
        points_adjust(affiliate=who, points=300, reason="boas-vindas", by="x")
        reward = Reward.objects.create(
            name="Consulta", kind="consultation", points_price=100, cost=Decimal("10")
        )
        return who, reward


def test_balance_ledger_catalogue_and_missions(udn_a):
    who, reward = _setup(udn_a)
    api = Api(udn_a, make_key(udn_a, ["loyalty:read"]))
    body = api.get(f"/api/v1/loyalty/affiliates/{who.pk}/").json()
    assert body["balance"] == 300
    assert [e["kind"] for e in body["ledger"]] == ["adjust"]
    assert [r["id"] for r in api.get("/api/v1/loyalty/rewards/").json()["results"]] == [reward.pk]
    assert api.get(f"/api/v1/loyalty/affiliates/{who.pk}/missions/").json()["missions"] == []


def test_scopes_and_udns_are_enforced(udn_a, udn_b):
    who, reward = _setup(udn_a)
    no_scope = Api(udn_a, make_key(udn_a, ["affiliates:read"]))
    assert no_scope.get(f"/api/v1/loyalty/affiliates/{who.pk}/").status_code == 403
    read_only = Api(udn_a, make_key(udn_a, ["loyalty:read"]))
    assert (
        read_only.post(
            "/api/v1/loyalty/redemptions/", {"affiliate_id": who.pk, "reward_id": reward.pk}
        ).status_code
        == 403
    )
    # UDN B's key, on UDN B's host, does not see UDN A's affiliate (same id).
    other = Api(udn_b, make_key(udn_b, READ_WRITE))
    assert other.get(f"/api/v1/loyalty/affiliates/{who.pk}/").status_code == 404
    response = other.post("/api/v1/loyalty/redemptions/", {"affiliate_id": who.pk, "reward_id": reward.pk})
    assert response.status_code == 404
    with tenant_context(udn_a):
        assert not Redemption.objects.exists()
    # UDN A's key on UDN B's host is unknown there.
    assert (
        Api(udn_b, make_key(udn_a, READ_WRITE)).get(f"/api/v1/loyalty/affiliates/{who.pk}/").status_code
        == 401
    )


def test_redemption_is_idempotent_and_sends_the_webhook(udn_a):
    who, reward = _setup(udn_a)
    with tenant_context(udn_a):
        webhook_subscription_create(
            url="https://partner.example.com/hook", events=["loyalty.redeemed"], created_by="x"
        )
    api = Api(udn_a, make_key(udn_a, READ_WRITE))
    body = {"affiliate_id": who.pk, "reward_id": reward.pk}
    first = api.post("/api/v1/loyalty/redemptions/", body, HTTP_IDEMPOTENCY_KEY="r-1")
    again = api.post("/api/v1/loyalty/redemptions/", body, HTTP_IDEMPOTENCY_KEY="r-1")
    assert first.status_code == 201, first.content
    assert again.json() == first.json()
    with tenant_context(udn_a):
        assert Redemption.objects.count() == 1
        delivery = WebhookDelivery.objects.get(event="loyalty.redeemed")
        assert delivery.payload["redemption_id"] == first.json()["id"]
        Reward.objects.filter(pk=reward.pk).update(points_price=10_000)
    refused = Api(udn_a, make_key(udn_a, READ_WRITE), language="pt-br").post(
        "/api/v1/loyalty/redemptions/", body
    )
    assert refused.status_code == 422
    error = error_of(refused)
    assert error["code"] == "insufficient_points"
    assert error["message"].startswith("Pontos insuficientes")
