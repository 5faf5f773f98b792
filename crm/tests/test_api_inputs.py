"""The input serializers (crm.api.inputs) hold the server to the published schema: what the schema
refuses is a 400 with the field, what it allows is never a 400 (tests that would fail before)."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from crm.models import Affiliate, Event
from crm.services.statuses import status_record
from crm.tests.helpers import Api, error_of, make_key

SCOPES = ["affiliates:read", "affiliates:write", "events:write", "webhooks:manage"]


@pytest.fixture
def api(udn_a) -> Api:
    return Api(udn_a, make_key(udn_a, SCOPES))


@pytest.fixture
def ana(udn_a) -> Affiliate:
    with tenant_context(udn_a):
        return Affiliate.objects.create(external_id="C-1", name="Ana Souza")


@pytest.mark.parametrize("body", ["null", "[]", '"x"'])
def test_a_patch_body_that_is_no_object_is_a_400_not_a_500(api, ana, body):
    response = api.client.patch(
        f"/api/v1/affiliates/{ana.pk}/", body, content_type="application/json", **api.headers
    )

    assert response.status_code == 400
    assert (error_of(response)["code"], error_of(response)["field"]) == ("invalid", None)


@pytest.mark.parametrize("path", ["/api/v1/affiliates/", "/api/v1/webhooks/"])
def test_a_page_size_that_is_no_integer_is_a_400(api, path):
    for value in ("null", "1.5", "dez"):
        response = api.get(path, {"page_size": value})

        assert response.status_code == 400, value
        assert (error_of(response)["code"], error_of(response)["field"]) == ("invalid", "page_size")
    assert api.get(path, {"page_size": "0"}).status_code == 200  # the default page, as documented
    assert api.get(path, {"page_size": "99999"}).status_code == 200  # capped, as documented


def test_stages_may_be_repeated_or_comma_separated(api, udn_a, ana):
    repeated = api.get("/api/v1/affiliates/", {"stage": ["lead", "cash_in"]})
    commas = api.get("/api/v1/affiliates/", {"stage": "lead,cash_in"})
    unknown = api.get("/api/v1/affiliates/", {"stage": ["lead", "rich"]})

    assert (
        [a["id"] for a in repeated.json()["results"]]
        == [ana.pk]
        == [a["id"] for a in commas.json()["results"]]
    )
    assert (error_of(unknown)["code"], error_of(unknown)["field"]) == ("invalid", "stage")


def test_an_event_source_or_affiliate_id_of_another_type_is_a_400(api, ana):
    good = {
        "id": "e-1",
        "type": "app_activated",
        "occurred_at": "2026-11-20T12:00:00-03:00",
        "affiliate": {"external_id": "C-1"},
    }
    for body, field in [
        ({**good, "source": 0}, "source"),
        ({**good, "source": False}, "source"),
        ({**good, "affiliate": {"id": "", "external_id": "C-1"}}, "affiliate.id"),
    ]:
        response = api.post("/api/v1/events/", body)

        assert response.status_code == 400, body
        assert (error_of(response)["code"], error_of(response)["field"]) == ("invalid", field)
    assert api.post("/api/v1/events/", {**good, "source": None, "properties": None}).status_code == 201


def test_the_schema_documents_what_the_server_checks(api):
    schema = api.get("/api/v1/schema/", {"format": "json"}).json()
    components = schema["components"]["schemas"]
    idempotency = next(
        p for p in schema["paths"]["/api/v1/events/"]["post"]["parameters"] if p["name"] == "Idempotency-Key"
    )

    assert idempotency["schema"] == {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"\S"}
    assert components["AffiliateCreate"]["required"] == ["name"]
    assert components["AffiliateWrite"]["properties"]["attributes"]["nullable"] is True
    assert all(
        components[name]["additionalProperties"] is False
        for name in ("AffiliateWrite", "EventIn", "StatusIn", "ConsentIn")
    )
    listing = {p["name"]: p["schema"] for p in schema["paths"]["/api/v1/affiliates/"]["get"]["parameters"]}
    assert listing["page_size"] == {"type": "integer"}
    assert listing["stage"]["items"]["enum"][0] == "lead"


def test_a_deposit_status_is_recorded_as_a_cash_in_with_its_amount(udn_a, ana):
    with tenant_context(udn_a):
        outcome = status_record(
            status_id="s-1",
            status="deposited",
            occurred_at=ana.created_at,
            source="",
            default_source="api:test",
            amount="150,00",
            external_id="C-1",
        )

        assert outcome.event is not None and outcome.event.status == "accepted"
        stored = Event.objects.get(event_id="s-1")
        assert (stored.type, str(stored.amount), stored.source) == ("cash_in", "150.00", "api:test")
