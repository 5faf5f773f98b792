"""POST /api/v1/spend/: a partner sends spend rows; each is upserted by day, source and campaign,
bad rows come back with their index and reason; the key needs spend:write."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest
from django.test import Client
from django_tenants.utils import tenant_context

from crm.services.api_keys import api_key_create
from insights.models import Spend


def key(udn, scopes):
    with tenant_context(udn):
        _api_key, token = api_key_create(name="BI", scopes=scopes, created_by="")
    return token


def post(udn, token, body):
    client = Client(HTTP_HOST=udn.get_primary_domain().domain)
    return client.post(
        "/api/v1/spend/",
        json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


@pytest.mark.django_db
def test_spend_rows_are_upserted_and_bad_ones_reported(udn_a):
    token = key(udn_a, ["spend:write"])
    rows = [
        {"day": "01/03/2026", "source": "google", "campaign": "verao", "amount": "1.234,56"},
        {"day": "2026-03-02", "source": "meta", "amount": 80},
        {"day": "ontem", "source": "meta", "amount": "1"},
        {"day": "02/03/2026", "source": "", "amount": "1"},
    ]
    response = post(udn_a, token, rows)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["written"] == 2
    assert [item["index"] for item in body["rejected"]] == [2, 3]
    again = post(
        udn_a, token, [{"day": "01/03/2026", "source": "google", "campaign": "verao", "amount": "10"}]
    )
    assert again.json()["written"] == 1
    with tenant_context(udn_a):
        assert sorted(Spend.objects.values_list("day", "source", "campaign", "amount")) == [
            (date(2026, 3, 1), "google", "verao", Decimal("10.00")),
            (date(2026, 3, 2), "meta", "", Decimal("80.00")),
        ]


@pytest.mark.django_db
def test_spend_needs_the_spend_write_scope_and_a_list(udn_a):
    # events:write, which the endpoint asked for before spend:write existed, is not enough.
    borrowed = key(udn_a, ["affiliates:read", "events:write"])
    refused = post(udn_a, borrowed, [{"day": "01/03/2026", "source": "google", "amount": "1"}])
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "insufficient_scope"
    assert "spend:write" in refused.json()["error"]["message"]
    with tenant_context(udn_a):
        assert not Spend.objects.exists()
    writer = key(udn_a, ["spend:write"])
    assert post(udn_a, writer, {"day": "01/03/2026"}).status_code == 400
