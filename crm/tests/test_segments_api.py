"""/api/v1/segments/: list, one with its count, its members in cursor pages; the key's UDN and
scope enforced."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from crm.models import API_SCOPE_LABELS, API_SCOPES_OFFERED, Affiliate, ApiScope
from crm.services.segments import segment_save
from crm.tests.helpers import Api, error_of, make_key


def _tree(*conditions: dict) -> dict:
    return {"version": 1, "root": {"kind": "group", "op": "and", "conditions": list(conditions)}}


@pytest.fixture
def recife(udn_a):
    with tenant_context(udn_a):
        for n in range(5):
            Affiliate.objects.create(external_id=f"API-R{n}", name=f"Recifense {n}", city="Recife")
        Affiliate.objects.create(external_id="API-N", name="Natalense", city="Natal")
        return segment_save(
            name="Recife",
            definition=_tree({"kind": "field", "field": "city", "operator": "eq", "value": "recife"}),
            by="test",
        )


def test_segments_read_is_offered_with_its_label():
    assert ApiScope.SEGMENTS_READ in API_SCOPES_OFFERED
    assert str(API_SCOPE_LABELS[ApiScope.SEGMENTS_READ]) == "Ler segmentos"


def test_list_detail_with_count_and_member_pages(udn_a, recife):
    api = Api(udn_a, make_key(udn_a, scopes=["segments:read"]))
    listed = api.get("/api/v1/segments/")
    assert listed.status_code == 200
    assert [(s["id"], s["name"], s["member_count"]) for s in listed.json()["results"]] == [
        (recife.pk, "Recife", 5)
    ]

    detail = api.get(f"/api/v1/segments/{recife.pk}/")
    assert detail.status_code == 200
    assert detail.json()["count"] == 5 and detail.json()["definition"]["version"] == 1

    seen: list[str] = []
    url, params = f"/api/v1/segments/{recife.pk}/members/", {"page_size": "2"}
    while url:
        page = api.get(url, params)
        assert page.status_code == 200
        seen += [a["external_id"] for a in page.json()["results"]]
        url, params = page.json()["next"], {}
    assert seen == [f"API-R{n}" for n in range(5)]  # by id, each once

    assert error_of(api.get("/api/v1/segments/999999/"))["code"] == "not_found"
    assert api.get("/api/v1/segments/999999/members/").status_code == 404


def test_another_udns_key_is_401_and_a_key_without_the_scope_403(udn_a, udn_b, recife):
    other = Api(udn_a, make_key(udn_b, scopes=["segments:read"]))
    for path in (
        "/api/v1/segments/",
        f"/api/v1/segments/{recife.pk}/",
        f"/api/v1/segments/{recife.pk}/members/",
    ):
        assert other.get(path).status_code == 401
    no_scope = Api(udn_a, make_key(udn_a, scopes=["affiliates:read"]))
    for path in (
        "/api/v1/segments/",
        f"/api/v1/segments/{recife.pk}/",
        f"/api/v1/segments/{recife.pk}/members/",
    ):
        response = no_scope.get(path)
        assert response.status_code == 403, path
        assert error_of(response)["code"] == "insufficient_scope"
