"""The partner REST API (/api/v1/ on a UDN's host): keys, scopes, errors, limits, affiliates,
events (single, batch, idempotency) and the OpenAPI docs."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django_tenants.utils import tenant_context

from crm.models import Affiliate, ApiKey, ConsentChange, Event, Stage
from crm.selectors.api_keys import api_key_for_token
from crm.services.api_keys import ApiKeyError, api_key_create, api_key_revoke
from crm.tests.helpers import Api, error_of, make_key
from tenants.models import UDN

ENDPOINTS = [
    ("get", "/api/v1/affiliates/", None),
    ("get", "/api/v1/affiliates/1/", None),
    ("post", "/api/v1/events/", {}),
    ("post", "/api/v1/events/batch/", []),
]


@pytest.fixture
def key_a(udn_a) -> str:
    return make_key(udn_a)


@pytest.fixture
def api(udn_a, key_a) -> Api:
    return Api(udn_a, key_a)


@pytest.fixture
def joana(udn_a) -> Affiliate:
    with tenant_context(udn_a):
        return Affiliate.objects.create(
            external_id="C-1", name="Joana da Silva", cpf="52998224725", state="SP", tags=["vip"]
        )


def event(event_id: str = "e-1", **overrides) -> dict:
    return {
        "id": event_id,
        "type": "cash_in",
        "occurred_at": "2026-11-20T12:00:00-03:00",
        "affiliate": {"external_id": "C-1"},
        "properties": {"amount": "150.00"},
        **overrides,
    }


# --- keys ---------------------------------------------------------------------------------------


def test_a_new_key_is_returned_once_and_only_its_hash_is_stored(udn_a):
    with tenant_context(udn_a):
        api_key, key = api_key_create(name="Pagamentos", scopes=["events:write"], created_by="ana@alpha.test")
        stored = ApiKey.objects.get(pk=api_key.pk)

        assert re.fullmatch(r"udn_[a-z0-9]{8}_[A-Za-z0-9_-]{40,}", key)
        assert key.split("_")[1] == stored.prefix
        assert key not in (stored.secret_hash, stored.prefix)
        assert stored.scopes == ["events:write"] and stored.created_by == "ana@alpha.test"
        assert api_key_for_token(token=key) == stored


def test_unknown_scopes_are_refused(udn_a):
    with tenant_context(udn_a), pytest.raises(ApiKeyError):
        api_key_create(name="x", scopes=["affiliates:read", "everything"], created_by="")


def test_create_api_key_command_prints_the_key_alone_on_its_last_line(udn_a):
    out = StringIO()
    call_command("create_api_key", udn="alpha", scopes="affiliates:read,events:write", name="App", stdout=out)

    key = out.getvalue().strip().splitlines()[-1]
    assert re.fullmatch(r"udn_[a-z0-9]{8}_\S+", key)
    with tenant_context(udn_a):
        api_key = api_key_for_token(token=key)
        assert api_key is not None
        assert sorted(api_key.scopes) == ["affiliates:read", "events:write"] and api_key.name == "App"
    assert Api(udn_a, key).get("/api/v1/affiliates/").status_code == 200


def test_create_api_key_command_takes_scopes_apart_or_together_and_names_the_key_itself(udn_a):
    for scopes in (["events:write", "affiliates:read"], ["events:write,affiliates:read"]):
        out = StringIO()
        call_command("create_api_key", "--udn", "alpha", "--scopes", *scopes, stdout=out)
        key = out.getvalue().strip().splitlines()[-1]
        with tenant_context(udn_a):
            api_key = api_key_for_token(token=key)
        assert api_key is not None
        assert sorted(api_key.scopes) == ["affiliates:read", "events:write"]
        assert api_key.name.startswith("Criada pelo terminal em ")


def test_create_api_key_command_refuses_unknown_scopes_and_udns(udn_a):
    with pytest.raises(CommandError):
        call_command("create_api_key", udn="alpha", scopes="root", name="x", stdout=StringIO())
    with pytest.raises(CommandError):
        call_command("create_api_key", udn="nope", scopes="events:write", name="x", stdout=StringIO())


def test_last_used_at_is_written_at_most_once_a_minute(udn_a, key_a, api):
    with time_machine.travel("2026-11-22 10:00:00Z", tick=False):
        api.get("/api/v1/affiliates/")
    with time_machine.travel("2026-11-22 10:00:40Z", tick=False):
        api.get("/api/v1/affiliates/")
    with tenant_context(udn_a):
        assert ApiKey.objects.get().last_used_at == datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
    with time_machine.travel("2026-11-22 10:01:30Z", tick=False):
        api.get("/api/v1/affiliates/")
    with tenant_context(udn_a):
        assert ApiKey.objects.get().last_used_at == datetime(2026, 11, 22, 10, 1, 30, tzinfo=UTC)


# --- authentication on every endpoint -----------------------------------------------------------


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
def test_every_endpoint_needs_a_key(udn_a, method, path, body):
    response = Api(udn_a, None).call(method, path, body)

    assert response.status_code == 401
    assert error_of(response)["code"] == "not_authenticated"
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
def test_every_endpoint_refuses_a_wrong_key(udn_a, key_a, method, path, body):
    forged = key_a[:-4] + ("aaaa" if not key_a.endswith("aaaa") else "bbbb")
    for bad in (forged, "not-a-key", "udn_zzzzzzzz_secret"):
        response = Api(udn_a, bad).call(method, path, body)
        assert response.status_code == 401
        assert error_of(response)["code"] == "authentication_failed"


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
def test_every_endpoint_refuses_a_revoked_key(udn_a, key_a, method, path, body):
    with tenant_context(udn_a):
        api_key_revoke(key=ApiKey.objects.get())

    response = Api(udn_a, key_a).call(method, path, body)

    assert response.status_code == 401
    assert error_of(response)["code"] == "authentication_failed"


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
def test_a_key_of_udn_b_is_refused_on_udn_a_on_every_endpoint(udn_a, udn_b, method, path, body):
    key_b = make_key(udn_b)

    response = Api(udn_a, key_b).call(method, path, body)

    assert response.status_code == 401
    assert error_of(response)["code"] == "authentication_failed"
    assert Api(udn_b, key_b).get("/api/v1/affiliates/").status_code == 200


def test_a_key_without_the_scope_gets_403(udn_a, joana):
    events_only = Api(udn_a, make_key(udn_a, ["events:write"]))
    read_only = Api(udn_a, make_key(udn_a, ["affiliates:read"]))

    for response in (
        events_only.get("/api/v1/affiliates/"),
        events_only.get(f"/api/v1/affiliates/{joana.pk}/"),
        read_only.post("/api/v1/events/", event()),
        read_only.post("/api/v1/events/batch/", [event()]),
    ):
        assert response.status_code == 403
        assert error_of(response)["code"] == "insufficient_scope"
    with tenant_context(udn_a):
        assert not Event.objects.exists()


# --- errors, languages, limits ------------------------------------------------------------------


@pytest.mark.parametrize("language", ["en", "pt-br"])
def test_malformed_json_is_a_400_in_the_error_format(udn_a, key_a, language):
    for body in ('{"id": "e-1",', "NaN", "\xff\xfe", '{"id": 1e400}', "[" * 5000 + "]" * 5000):
        response = Api(udn_a, key_a, language).post("/api/v1/events/", body, raw=True)
        assert response.status_code == 400
        error = error_of(response)
        assert error["code"] == "malformed_json" and error["message"]


def test_json_numbers_keep_their_exact_value(udn_a, key_a, joana):
    big = 123456789012345678901234567890
    body = event(type="app_activated", affiliate={"id": joana.pk}, properties={"order": big, "share": 0.1})

    response = Api(udn_a, key_a).post("/api/v1/events/", body)

    assert response.status_code == 201
    with tenant_context(udn_a):
        stored = Event.objects.get(event_id=body["id"])
    assert stored.properties == {"order": big, "share": 0.1}


@pytest.mark.parametrize("language", ["en", "pt-br"])
def test_wrong_types_and_unknown_fields_are_400_with_the_field_path(udn_a, key_a, joana, language):
    api = Api(udn_a, key_a, language)
    cases = [
        (event(affiliate={"id": "12"}), "invalid", "affiliate.id"),
        (event(occurred_at=20261120), "invalid", "occurred_at"),
        (event(occurred_at="ontem"), "invalid", "occurred_at"),
        (event(properties=["amount"]), "invalid", "properties"),
        ({**event(), "amount": "150.00"}, "unknown_field", "amount"),
        (event(affiliate={"external_id": "C-1", "nickname": "jo"}), "unknown_field", "affiliate.nickname"),
        (event(affiliate={"external_id": "C-1", "cpf": "52998224725"}), "invalid", "affiliate"),
        ([event()], "invalid", None),
    ]
    for body, code, field in cases:
        response = api.post("/api/v1/events/", body)
        assert response.status_code == 400, body
        error = error_of(response)
        assert (error["code"], error["field"]) == (code, field), body
    with tenant_context(udn_a):
        assert not Event.objects.exists()


def test_messages_follow_accept_language(udn_a, key_a):
    missing_type = {k: v for k, v in event().items() if k != "type"}
    english = Api(udn_a, key_a, "en").post("/api/v1/events/", missing_type)
    portuguese = Api(udn_a, key_a, "pt-br").post("/api/v1/events/", missing_type)
    assert error_of(english)["code"] == error_of(portuguese)["code"] == "required"
    assert error_of(english)["field"] == error_of(portuguese)["field"] == "type"
    assert error_of(english)["message"] == "This field is required."
    assert error_of(portuguese)["message"] != error_of(english)["message"]

    anonymous_en = Api(udn_a, None, "en").get("/api/v1/affiliates/")
    anonymous_pt = Api(udn_a, None, "pt-br").get("/api/v1/affiliates/")
    assert error_of(anonymous_en)["message"] != error_of(anonymous_pt)["message"]


def test_a_body_over_the_limit_is_a_413(udn_a, key_a, settings):
    settings.API_MAX_BODY_BYTES = 1000
    body = [event(f"e-{n}") for n in range(20)]

    response = Api(udn_a, key_a).post("/api/v1/events/batch/", body)

    assert response.status_code == 413
    assert error_of(response)["code"] == "payload_too_large"


def test_a_non_json_body_is_a_415(udn_a, key_a):
    response = Api(udn_a, key_a).client.post(
        "/api/v1/events/", "id=1", content_type="text/plain", HTTP_AUTHORIZATION=f"Bearer {key_a}"
    )
    assert response.status_code == 415
    assert error_of(response)["code"] == "unsupported_media_type"


def test_throttling_is_per_key_and_says_when_to_retry(udn_a, key_a, settings):
    settings.API_THROTTLE_RATE = "2/min"
    api = Api(udn_a, key_a)
    other = Api(udn_a, make_key(udn_a))

    # 40 s into a one-minute window (counters are per key and per window).
    with time_machine.travel(datetime(2026, 11, 20, 12, 0, 40, tzinfo=UTC), tick=False) as traveller:
        statuses = [api.get("/api/v1/affiliates/").status_code for _ in range(3)]
        throttled = api.get("/api/v1/affiliates/")
        other_status = other.get("/api/v1/affiliates/").status_code
        traveller.shift(20)  # the next window
        after = api.get("/api/v1/affiliates/").status_code

    assert statuses == [200, 200, 429]
    assert throttled.status_code == 429
    assert error_of(throttled)["code"] == "throttled"
    assert throttled["Retry-After"] == "20"
    assert other_status == 200
    assert after == 200


# --- affiliates ---------------------------------------------------------------------------------


@pytest.fixture
def base(udn_a) -> list[Affiliate]:
    rows = [
        Affiliate(
            external_id="A-1", name="Ana Souza", cpf="52998224725", state="SP", stage=Stage.LEAD, tags=["vip"]
        ),
        Affiliate(external_id="A-2", name="Bruno Lima", cpf="11144477735", state="RJ", stage=Stage.CASH_IN),
        Affiliate(external_id="A-3", name="Carla Souza", state="SP", stage=Stage.CASH_IN, origin="site"),
        Affiliate(external_id="A-4", name="Davi Rocha", state="MG", stage=Stage.ACTIVATED, tags=["vip"]),
        Affiliate(external_id="A-5", name="Eva Souza", state="SP", stage=Stage.LEAD),
    ]
    with tenant_context(udn_a):
        return Affiliate.objects.bulk_create(rows)


def ids(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [row["external_id"] for row in response.json()["results"]]


def test_affiliates_are_filtered_like_the_list_page(api, base):
    assert ids(api.get("/api/v1/affiliates/")) == ["A-1", "A-2", "A-3", "A-4", "A-5"]
    assert ids(api.get("/api/v1/affiliates/", {"q": "souza"})) == ["A-1", "A-3", "A-5"]
    assert ids(api.get("/api/v1/affiliates/", {"stage": "cash_in"})) == ["A-2", "A-3"]
    assert ids(api.get("/api/v1/affiliates/", {"stage": "lead,activated"})) == ["A-1", "A-4", "A-5"]
    assert ids(api.get("/api/v1/affiliates/", {"state": "sp", "tag": "vip"})) == ["A-1"]
    assert ids(api.get("/api/v1/affiliates/", {"origin": "site"})) == ["A-3"]
    assert ids(api.get("/api/v1/affiliates/", {"external_id": "A-4"})) == ["A-4"]
    assert ids(api.get("/api/v1/affiliates/", {"cpf": "111.444.777-35"})) == ["A-2"]
    assert ids(api.get("/api/v1/affiliates/", {"external_id": "nope"})) == []


def test_affiliate_list_refuses_bad_parameters(api, base):
    for params, code, field in (
        ({"stage": "rich"}, "invalid", "stage"),
        ({"origin": "moon"}, "invalid", "origin"),
        ({"cpf": "123"}, "invalid", "cpf"),
        ({"stagee": "lead"}, "unknown_field", "stagee"),
        ({"cursor": "garbage"}, "invalid", "cursor"),
    ):
        response = api.get("/api/v1/affiliates/", params)
        assert response.status_code == 400, params
        assert (error_of(response)["code"], error_of(response)["field"]) == (code, field)


def test_cursor_pagination_walks_the_whole_base_in_id_order(api, base, django_assert_max_num_queries):
    api.get("/api/v1/affiliates/")  # warm: the host's UDN lookup and the key's last_used_at write
    seen: list[str] = []
    url: str | None = "/api/v1/affiliates/?page_size=2"
    pages = 0
    while url:
        with django_assert_max_num_queries(3):  # search_path, the key, the page
            response = api.get(url)
        seen += ids(response)
        url = response.json()["next"]
        pages += 1
    assert seen == ["A-1", "A-2", "A-3", "A-4", "A-5"]
    assert pages == 3


def test_an_affiliate_is_read_by_id_and_a_missing_one_is_a_404(api, base):
    response = api.get(f"/api/v1/affiliates/{base[1].pk}/")
    assert response.status_code == 200
    body = response.json()
    assert (body["external_id"], body["cpf"], body["stage"], body["tags"]) == (
        "A-2",
        "11144477735",
        "cash_in",
        [],
    )

    missing = api.get("/api/v1/affiliates/999999999/")
    assert missing.status_code == 404
    assert error_of(missing)["code"] == "not_found"


def test_affiliates_of_another_udn_are_not_visible(udn_a, udn_b, base):
    api_b = Api(udn_b, make_key(udn_b))
    assert ids(api_b.get("/api/v1/affiliates/")) == []
    assert api_b.get(f"/api/v1/affiliates/{base[0].pk}/").status_code == 404


# --- events -------------------------------------------------------------------------------------


def test_one_event_is_accepted_then_a_duplicate(udn_a, api, joana):
    first = api.post("/api/v1/events/", event("pay-1"))
    again = api.post("/api/v1/events/", event("pay-1"))

    assert first.status_code == 201
    assert first.json() == {
        "id": "pay-1",
        "status": "accepted",
        "code": None,
        "message": None,
        "field": None,
        "affiliate_id": joana.pk,
        "warnings": [],
    }
    assert again.status_code == 200
    assert again.json()["status"] == "duplicate"
    with tenant_context(udn_a):
        stored = Event.objects.get(event_id="pay-1")
        assert (stored.affiliate_id, stored.type, str(stored.amount)) == (joana.pk, "cash_in", "150.00")
        assert stored.source.startswith("api:")
        assert Affiliate.objects.get(pk=joana.pk).stage == Stage.CASH_IN


def test_every_affiliate_reference_works(udn_a, api, joana):
    for n, ref in enumerate(({"external_id": "C-1"}, {"cpf": "529.982.247-25"}, {"id": joana.pk})):
        response = api.post("/api/v1/events/", event(f"e-{n}", affiliate=ref))
        assert response.status_code == 201
        assert response.json()["affiliate_id"] == joana.pk


def test_a_rejected_event_is_a_422_with_code_and_field(api, joana):
    cases = [
        (event(type="teleported"), "unknown_type", "type"),
        (event(affiliate={"external_id": "nobody"}), "affiliate_not_found", "affiliate.external_id"),
        (event(properties={"amount": "-5"}), "amount_not_positive", "properties.amount"),
        (event(occurred_at="2099-01-01T00:00:00Z"), "occurred_at_future", "occurred_at"),
    ]
    for body, code, field in cases:
        response = api.post("/api/v1/events/", body)
        assert response.status_code == 422, body
        error = error_of(response)
        assert (error["code"], error["field"]) == (code, field)
        assert error["message"]


def test_a_batch_reports_each_item_and_keeps_the_good_ones(udn_a, api, joana):
    batch = [
        event("b-1"),
        event("b-2", type="teleported"),
        "not an object",
        event("b-3", affiliate={"cpf": "529.982.247-25"}, type="app_activated", properties={}),
        event("b-1"),
        {**event("b-4"), "extra": 1},
        event("b-5", affiliate={"external_id": "nobody"}),
    ]

    response = api.post("/api/v1/events/batch/", batch)

    assert response.status_code == 200
    body = response.json()
    assert (body["accepted"], body["duplicate"], body["rejected"]) == (2, 1, 4)
    results = body["results"]
    assert [r["index"] for r in results] == list(range(7))
    assert [r["status"] for r in results] == [
        "accepted", "rejected", "rejected", "accepted", "duplicate", "rejected", "rejected",
    ]  # fmt: skip
    assert (results[1]["code"], results[1]["field"]) == ("unknown_type", "type")
    assert (results[2]["code"], results[2]["id"]) == ("invalid", None)
    assert (results[5]["code"], results[5]["field"], results[5]["id"]) == ("unknown_field", "extra", "b-4")
    assert (results[6]["code"], results[6]["field"]) == ("affiliate_not_found", "affiliate.external_id")
    with tenant_context(udn_a):
        assert sorted(Event.objects.values_list("event_id", flat=True)) == ["b-1", "b-3"]


def test_a_batch_must_be_a_list_of_at_most_1000(api):
    too_many = api.post("/api/v1/events/batch/", [{"id": str(n)} for n in range(1001)])
    not_a_list = api.post("/api/v1/events/batch/", {"events": []})

    assert too_many.status_code == 400 and error_of(too_many)["code"] == "batch_too_large"
    assert not_a_list.status_code == 400 and error_of(not_a_list)["code"] == "invalid"
    empty = api.post("/api/v1/events/batch/", [])
    assert empty.status_code == 200 and empty.json() == {
        "accepted": 0,
        "duplicate": 0,
        "rejected": 0,
        "results": [],
    }


# --- idempotency --------------------------------------------------------------------------------


def test_the_same_idempotency_key_and_body_replays_the_first_response(udn_a, api, joana):
    first = api.post("/api/v1/events/", event("i-1"), HTTP_IDEMPOTENCY_KEY="k-1")
    replay = api.post("/api/v1/events/", event("i-1"), HTTP_IDEMPOTENCY_KEY="k-1")

    assert first.status_code == replay.status_code == 201
    assert replay.json() == first.json()
    assert replay["Idempotent-Replayed"] == "true"
    with tenant_context(udn_a):
        assert Event.objects.filter(event_id="i-1").count() == 1


def test_the_same_idempotency_key_with_another_body_is_a_422(api, joana):
    api.post("/api/v1/events/batch/", [event("i-1")], HTTP_IDEMPOTENCY_KEY="k-2")

    reused = api.post("/api/v1/events/batch/", [event("i-2")], HTTP_IDEMPOTENCY_KEY="k-2")

    assert reused.status_code == 422
    assert error_of(reused)["code"] == "idempotency_key_reused"


def test_an_overlong_idempotency_key_is_a_400(api, joana):
    response = api.post("/api/v1/events/", event("i-4"), HTTP_IDEMPOTENCY_KEY="k" * 256)

    assert response.status_code == 400
    assert error_of(response)["code"] == "idempotency_key_invalid"


def test_idempotency_keys_are_per_api_key_and_errors_are_replayed_too(udn_a, api, joana):
    rejected = api.post("/api/v1/events/", event("i-3", type="teleported"), HTTP_IDEMPOTENCY_KEY="k-3")
    replay = api.post("/api/v1/events/", event("i-3", type="teleported"), HTTP_IDEMPOTENCY_KEY="k-3")
    other_key = Api(udn_a, make_key(udn_a)).post("/api/v1/events/", event("i-3"), HTTP_IDEMPOTENCY_KEY="k-3")

    assert rejected.status_code == replay.status_code == 422
    assert replay.json() == rejected.json() and replay["Idempotent-Replayed"] == "true"
    assert other_key.status_code == 201


# --- docs ---------------------------------------------------------------------------------------


def test_the_openapi_schema_documents_the_endpoints_and_the_bearer_scheme(udn_a):
    response = Client(HTTP_HOST="alpha.localhost").get("/api/v1/schema/", {"format": "json"})

    assert response.status_code == 200
    schema = json.loads(response.content)
    assert schema["openapi"].startswith("3.")
    assert {
        "/api/v1/affiliates/",
        "/api/v1/affiliates/{id}/",
        "/api/v1/events/",
        "/api/v1/events/batch/",
    } <= set(schema["paths"])
    assert schema["components"]["securitySchemes"]["ApiKey"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "udn_<prefix>_<secret>",
        "description": "An API key of this UDN, created by its admin (shown once).",
    }
    for path in ("/api/v1/events/", "/api/v1/events/batch/"):
        operation = schema["paths"][path]["post"]
        assert operation["security"] == [{"ApiKey": []}]
        assert operation["requestBody"]["content"]["application/json"]["examples"]
    assert (
        "examples"
        in schema["paths"]["/api/v1/affiliates/"]["get"]["responses"]["200"]["content"]["application/json"]
    )


def test_swagger_ui_is_served_without_a_cdn(udn_a):
    response = Client(HTTP_HOST="alpha.localhost").get("/api/v1/docs/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in html
    assert "cdn" not in html.lower()
    bundle = Client(HTTP_HOST="alpha.localhost").get(
        "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js"
    )
    assert bundle.status_code == 200


# --- the API keys page --------------------------------------------------------------------------


def test_a_marketer_creates_a_key_sees_it_once_and_it_works(udn_a, marketer, client_for):
    client = client_for(udn_a, marketer)

    response = client.post(
        "/api-keys/new/", {"name": "Help desk", "scopes": ["affiliates:read"]}, follow=True
    )

    assert response.redirect_chain == [("/api-keys/", 302)]
    key = re.search(r'data-testid="api-key-plaintext"[^>]*>([^<]+)<', response.content.decode()).group(1)
    with tenant_context(udn_a):
        stored = ApiKey.objects.get()
        assert (stored.name, stored.scopes, stored.created_by) == (
            "Help desk",
            ["affiliates:read"],
            marketer.email,
        )
    assert Api(udn_a, key).get("/api/v1/affiliates/").status_code == 200
    listing = client.get("/api-keys/").content.decode()
    assert f'data-key-prefix="{stored.prefix}"' in listing
    assert key not in listing


def test_reloading_after_creating_a_key_creates_no_second_key_and_hides_the_key(udn_a, marketer, client_for):
    client = client_for(udn_a, marketer)

    response = client.post("/api-keys/new/", {"name": "App", "scopes": ["events:write"]})

    assert (response.status_code, response["Location"]) == (302, "/api-keys/")
    shown = client.get("/api-keys/").content.decode()
    assert 'data-testid="api-key-plaintext"' in shown
    assert "Chave “App” criada." in shown
    assert 'data-copy="api-key-plaintext"' in shown
    reloaded = client.get("/api-keys/").content.decode()
    assert 'data-testid="api-key-plaintext"' not in reloaded
    with tenant_context(udn_a):
        assert ApiKey.objects.count() == 1


def test_a_new_key_shows_only_on_the_page_of_its_own_udn(udn_a, udn_b, marketer, client_for):
    from tenants.models import Membership

    Membership.objects.create(user=marketer, udn=udn_b)
    client = client_for(udn_a, marketer)  # one sign-in, both hosts (a shared session cookie)
    client.post("/api-keys/new/", {"name": "App", "scopes": ["events:write"]})

    other = client.get("/api-keys/", HTTP_HOST=udn_b.get_primary_domain().domain).content.decode()
    own = client.get("/api-keys/").content.decode()

    assert 'data-testid="api-key-plaintext"' not in other
    assert 'data-testid="api-key-plaintext"' in own


def test_opening_a_form_action_by_get_leads_to_the_page_with_the_form(udn_a, marketer, analyst, client_for):
    for user in (marketer, analyst):
        client = client_for(udn_a, user)
        assert client.get("/api-keys/new/")["Location"] == "/api-keys/"
        assert client.get("/imports/upload/")["Location"] == "/imports/"
    with tenant_context(udn_a):
        assert ApiKey.objects.count() == 0


def test_a_marketer_revokes_a_key_and_it_stops_working(udn_a, marketer, client_for, key_a):
    with tenant_context(udn_a):
        pk = ApiKey.objects.get().pk

    response = client_for(udn_a, marketer).post(f"/api-keys/{pk}/revoke/")

    assert response.status_code == 302
    assert Api(udn_a, key_a).get("/api/v1/affiliates/").status_code == 401
    listing = client_for(udn_a, marketer).get("/api-keys/").content.decode()
    assert 'data-status="revoked"' in listing


def test_an_invalid_key_form_is_a_400_and_creates_nothing(udn_a, marketer, client_for):
    response = client_for(udn_a, marketer).post("/api-keys/new/", {"name": "", "scopes": ["root"]})

    assert response.status_code == 400
    with tenant_context(udn_a):
        assert not ApiKey.objects.exists()


def test_analysts_see_keys_but_cannot_create_or_revoke_them(udn_a, analyst, client_for, key_a):
    client = client_for(udn_a, analyst)
    with tenant_context(udn_a):
        pk = ApiKey.objects.get().pk

    page = client.get("/api-keys/")
    assert page.status_code == 200
    assert 'data-testid="api-key-row"' in page.content.decode()
    assert 'data-testid="api-key-form"' not in page.content.decode()
    assert client.post("/api-keys/new/", {"name": "x", "scopes": ["events:write"]}).status_code == 403
    assert client.post(f"/api-keys/{pk}/revoke/").status_code == 403
    with tenant_context(udn_a):
        assert ApiKey.objects.get().revoked_at is None


def test_members_of_another_udn_cannot_open_the_keys_page(udn_a, outsider, client_for):
    assert client_for(udn_a, outsider).get("/api-keys/").status_code == 403
    assert (
        client_for(udn_a, outsider)
        .post("/api-keys/new/", {"name": "x", "scopes": ["events:write"]})
        .status_code
        == 403
    )


def test_an_unknown_api_path_is_a_json_404(udn_a, key_a):
    for api in (Api(udn_a, key_a), Api(udn_a, None)):
        response = api.get("/api/v1/segmentz/")
        assert response.status_code == 404
        assert error_of(response)["code"] == "not_found"


# --- bad input never makes a 500 ---------------------------------------------------------------


def raw_api(udn: UDN, key: str) -> Api:
    """An Api whose client answers a server error as production does (no exception raised)."""
    api = Api(udn, key)
    api.client.raise_request_exception = False
    return api


@pytest.mark.parametrize("name", ["q", "tag", "state", "tier", "external_id", "stage", "cpf", "page_size"])
def test_nul_in_query_parameter_is_a_400_json_error(udn_a, key_a, base, name):
    response = raw_api(udn_a, key_a).get("/api/v1/affiliates/", {name: "a\x00b"})

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert (error_of(response)["code"], error_of(response)["field"]) == ("invalid", name)


@pytest.mark.parametrize(
    "cursor",
    [
        "cD1hYmM=",  # p=abc: well-formed, but the position is no id
        "cD0lMDA=",  # p=%00
        "cD05OTk5OTk5OTk5OTk5OTk5OTk5OTk=",  # p=99999999999999999999, beyond a bigint
        "cj0xJnA9LTE=",  # r=1&p=-1
    ],
)
def test_tampered_cursor_is_a_400(udn_a, base, cursor):
    api = raw_api(udn_a, make_key(udn_a, ["affiliates:read", "webhooks:manage"]))
    for path in ("/api/v1/affiliates/", "/api/v1/webhooks/"):
        response = api.get(path, {"cursor": cursor})

        assert response.status_code == 400, (path, response.content)
        assert (error_of(response)["code"], error_of(response)["field"]) == ("invalid", "cursor")


def test_a_genuine_cursor_still_pages_after_the_cursor_checks(api, base):
    first = api.get("/api/v1/affiliates/", {"page_size": 3})
    second = api.get(first.json()["next"])

    assert ids(second) == ["A-4", "A-5"]
    assert ids(api.get(second.json()["previous"])) == ["A-1", "A-2", "A-3"]


def test_affiliate_id_beyond_a_bigint_is_a_field_error_and_spares_the_rest_of_the_batch(udn_a, key_a, joana):
    api = raw_api(udn_a, key_a)
    single = api.post("/api/v1/events/", event("big", affiliate={"id": 2**63}))
    batch = api.post(
        "/api/v1/events/batch/",
        [event("big", affiliate={"id": 2**64}), event("zero", affiliate={"id": 0}), event("good")],
    )

    assert single.status_code == 422
    assert (error_of(single)["code"], error_of(single)["field"]) == ("affiliate_id_invalid", "affiliate.id")
    assert batch.status_code == 200
    assert [(r["status"], r["field"]) for r in batch.json()["results"]] == [
        ("rejected", "affiliate.id"),
        ("rejected", "affiliate.id"),
        ("accepted", None),
    ]


def test_nul_in_affiliate_external_id_rejects_that_item_not_the_batch(udn_a, key_a, joana):
    api = raw_api(udn_a, key_a)
    batch = api.post(
        "/api/v1/events/batch/", [event("nul", affiliate={"external_id": "C-\x001"}), event("ok")]
    )
    single = api.post("/api/v1/events/", event("nul-2", affiliate={"external_id": "\x00"}))

    assert batch.status_code == 200
    assert [(r["status"], r["code"], r["field"]) for r in batch.json()["results"]] == [
        ("rejected", "external_id_invalid", "affiliate.external_id"),
        ("accepted", None, None),
    ]
    assert single.status_code == 422
    assert error_of(single)["field"] == "affiliate.external_id"
    with tenant_context(udn_a):
        assert list(Event.objects.values_list("event_id", flat=True)) == ["ok"]


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"id": "a\x00"}, "id"),
        ({"source": "a\x00"}, "source"),
        ({"type": "cash\x00in"}, "type"),
        ({"properties": {"amount": "1", "note": "\x00"}}, "properties"),
    ],
)
def test_nul_in_a_string_field_of_an_event_is_a_field_error(udn_a, key_a, joana, overrides, field):
    response = raw_api(udn_a, key_a).post("/api/v1/events/", event("n-1", **overrides))

    assert response.status_code == 422
    assert error_of(response)["field"] == field


def test_event_in_year_0001_is_refused_with_a_field_error(udn_a, key_a, joana):
    api = raw_api(udn_a, key_a)
    for when in ("0001-01-01T00:00:00+05:00", "0001-01-01T00:00:00Z", "1899-12-31T23:59:59-00:00"):
        response = api.post("/api/v1/events/", event(f"old-{when}", occurred_at=when))

        assert response.status_code == 422, when
        assert (error_of(response)["code"], error_of(response)["field"]) == (
            "occurred_at_too_old",
            "occurred_at",
        )
    assert (
        api.post("/api/v1/events/", event("first-day", occurred_at="1900-01-01T00:00:00Z")).status_code == 201
    )
    with tenant_context(udn_a):
        assert list(Event.objects.values_list("event_id", flat=True)) == ["first-day"]


def store_year_0001(affiliate: Affiliate) -> None:
    """What the API took before its times were bounded, written straight to the tables: events at
    0001-01-01T00:00:00+05:00 (1 BC in UTC: Python cannot load it) and at 0001-01-01T00:00:00Z
    (loads, but cannot be shown in São Paulo's zone), the stage they moved, a consent change."""
    ConsentChange.objects.create(
        affiliate=affiliate,
        channel="email",
        granted=True,
        occurred_at=datetime(2026, 1, 1, tzinfo=UTC),
        source="api",
    )
    with connection.cursor() as cursor:
        for event_id, when in (("y1-bc", "0001-01-01T00:00:00+05:00"), ("y1-utc", "0001-01-01T00:00:00Z")):
            cursor.execute(
                f"INSERT INTO {Event._meta.db_table}"  # noqa: S608 - model metadata only
                " (event_id, affiliate_id, type, occurred_at, source, properties, received_at)"
                " VALUES (%s, %s, 'app_activated', %s::timestamptz, 'api', '{}', now())",
                [event_id, affiliate.pk, when],
            )
        cursor.execute(
            f"UPDATE {Affiliate._meta.db_table} SET stage = 'activated',"  # noqa: S608
            " stage_changed_at = '0001-01-01T00:00:00+05:00' WHERE id = %s",
            [affiliate.pk],
        )
        cursor.execute(
            f"UPDATE {ConsentChange._meta.db_table} SET occurred_at = '0001-01-01T00:00:00+05:00'"  # noqa: S608
            " WHERE affiliate_id = %s",
            [affiliate.pk],
        )


def test_readers_survive_an_event_stored_in_year_0001(udn_a, key_a, base, marketer, client_for):
    stored = base[2]
    with tenant_context(udn_a):
        store_year_0001(stored)
    api = raw_api(udn_a, key_a)

    detail = api.get(f"/api/v1/affiliates/{stored.pk}/")
    assert detail.status_code == 200, detail.content
    assert detail.json()["stage"] == "activated"
    assert detail.json()["stage_changed_at"].startswith("0001-01-0")  # clamped into what a zone can show

    seen: list[str] = []
    url: str | None = "/api/v1/affiliates/?page_size=2"
    while url:
        response = api.get(url)
        seen += ids(response)
        url = response.json()["next"]
    assert seen == ["A-1", "A-2", "A-3", "A-4", "A-5"]

    web = client_for(udn_a, marketer)
    web.raise_request_exception = False
    page = web.get(f"/affiliates/{stored.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-event-id="y1-bc"' in html and 'data-event-id="y1-utc"' in html
    assert web.get("/affiliates/").status_code == 200
    export = web.get("/affiliates/export.csv")
    assert export.status_code == 200
    assert "Carla Souza" in b"".join(export.streaming_content).decode()


def test_an_unexpected_error_is_a_500_json_error_without_the_traceback(udn_a, key_a, monkeypatch, caplog):
    def broken(**kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr("crm.api.affiliates.affiliate_search", broken)

    response = raw_api(udn_a, key_a).get("/api/v1/affiliates/")

    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert error_of(response)["code"] == "server_error"
    assert b"secret internals" not in response.content and b"Traceback" not in response.content
    logged = [r for r in caplog.records if r.name == "crm.api.errors"]
    assert logged and logged[0].exc_info and "secret internals" in str(logged[0].exc_info[1])


def test_django_404_and_500_under_api_are_json(udn_a, key_a, monkeypatch):
    tenant = raw_api(udn_a, key_a)
    public = Client(HTTP_HOST="localhost", raise_request_exception=False)
    for response in (
        tenant.get("/api/"),
        tenant.get("/api/v2/affiliates/"),
        public.get("/api/v1/affiliates/"),
    ):
        assert response.status_code == 404
        assert error_of(response)["code"] == "not_found"
    elsewhere = public.get("/no-such-page/")
    assert elsewhere.status_code == 404 and b"<html" in elsewhere.content.lower()  # the HTML page

    def broken(self, data, accepted_media_type=None, renderer_context=None):
        raise RuntimeError("renderer")  # after DRF handed the response to Django

    monkeypatch.setattr("crm.api.renderers.ApiJSONRenderer.render", broken)
    failed = tenant.get("/api/v1/affiliates/")

    assert failed.status_code == 500
    assert failed["Content-Type"] == "application/json"
    assert error_of(failed)["code"] == "server_error"


# --- only what exists is offered ----------------------------------------------------------------


def test_scopes_and_webhook_events_not_built_yet_are_not_offered(udn_a, marketer, client_for):
    with pytest.raises(CommandError):
        call_command("create_api_key", udn="alpha", scopes="affiliates:read,campaigns:read")
    with tenant_context(udn_a), pytest.raises(ApiKeyError):
        api_key_create(name="x", scopes=["campaigns:read"], created_by="")

    web = client_for(udn_a, marketer)
    keys_page = web.get("/api-keys/").content.decode()
    assert 'value="affiliates:read"' in keys_page and 'value="segments:read"' in keys_page  # it has endpoints
    assert 'value="campaigns:read"' not in keys_page
    assert web.post("/api-keys/new/", {"name": "x", "scopes": ["campaigns:read"]}).status_code == 400
    hooks_page = web.get("/webhooks/").content.decode()
    assert 'value="event.received"' in hooks_page and 'value="message.bounced"' not in hooks_page
    # Messaging (issue 11) sends these: offered.
    for event in ("message.delivered", "message.failed", "consent.revoked"):
        assert f'value="{event}"' in hooks_page

    hooks_api = Api(udn_a, make_key(udn_a, ["webhooks:manage"]))
    refused = hooks_api.post(
        "/api/v1/webhooks/", {"url": "https://example.com/h", "events": ["message.bounced"]}
    )
    assert refused.status_code == 400
    assert error_of(refused)["field"] == "events[0]"

    schema = json.loads(
        Client(HTTP_HOST="alpha.localhost").get("/api/v1/schema/", {"format": "json"}).content
    )
    text = json.dumps(schema)
    # Each operation names the scopes it needs; a scope without endpoints is named nowhere.
    assert "campaigns:read" not in text
    assert "Scope: `segments:read`." in schema["paths"]["/api/v1/segments/"]["get"]["description"]
    assert "event.received" in text and "message.failed" in text and "consent.revoked" in text


# --- in the browser -----------------------------------------------------------------------------


@pytest.mark.browser
def test_a_marketer_creates_a_key_in_the_browser_and_reads_the_swagger_docs(page, web_server, committed):
    from crm.tests.helpers import ARTIFACTS
    from tenants.tests.factories import PASSWORD, make_user

    alpha = UDN.objects.get(slug="alpha")
    user = make_user("chave.pessoa@alpha.test", udn=alpha, first_name="Kelly")
    committed.append(user.delete)

    def clean() -> None:
        with tenant_context(alpha):
            ApiKey.objects.all().delete()

    committed.append(clean)
    base = f"http://alpha.localhost:{web_server}"

    page.goto(f"{base}/accounts/login/?next=/")
    page.fill("#id_username", user.email)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")
    page.click(".mainnav summary >> text=Integrações")  # the menu's Integrações group
    page.click(".mainnav a[href='/api-keys/']")
    page.locator("[data-testid=api-keys-empty]").wait_for()
    page.fill("#id_name", "App backend")
    page.check("input[name=scopes][value='events:write']")
    page.click("[data-testid=api-key-form] button[type=submit]")

    key = page.locator("[data-testid=api-key-plaintext]").inner_text().strip()
    assert re.fullmatch(r"udn_[a-z0-9]{8}_\S+", key)
    assert page.locator("[data-testid=api-key-row][data-status=active]").count() == 1
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    page.click("[data-testid=api-key-copy]")
    page.locator("[data-testid=api-key-copy][data-copied=yes]").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == key
    page.reload()  # the key is shown once, and a reload creates no second one
    page.locator("[data-testid=api-key-row]").first.wait_for()
    assert page.locator("[data-testid=api-key-plaintext]").count() == 0
    assert page.locator("[data-testid=api-key-row][data-status=active]").count() == 1
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "api-keys.png"), full_page=True)

    page.once("dialog", lambda dialog: dialog.accept())
    page.click("[data-testid=api-key-revoke]")
    page.locator("[data-testid=api-key-row][data-status=revoked]").wait_for()

    page.goto(f"{base}/api/v1/docs/")
    page.locator(".swagger-ui .opblock-summary-path[data-path='/api/v1/events/batch/']").wait_for()
    assert page.locator(".swagger-ui button.authorize").count() == 1
    page.screenshot(path=str(ARTIFACTS / "api-docs.png"), full_page=False)
