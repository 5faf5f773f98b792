"""The API's writes: affiliates (create, partial update, bulk upsert), consent changes, status
updates, and the funnel figures."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context

from crm.models import Affiliate, AffiliateChange, ApiKey, ConsentChange, Event, Stage
from crm.selectors.funnel import funnel_figures
from crm.services.affiliates import affiliates_upsert
from crm.services.api_keys import api_key_create
from crm.tests.helpers import Api, error_of, make_key
from tenants.models import UDN

WRITE_SCOPES = ["affiliates:read", "affiliates:write", "events:write"]

WRITE_ENDPOINTS = [
    ("post", "/api/v1/affiliates/", {"name": "Ana", "external_id": "N-1"}),
    ("patch", "/api/v1/affiliates/{pk}/", {"name": "Ana"}),
    ("post", "/api/v1/affiliates/bulk/", [{"name": "Ana", "external_id": "N-1"}]),
    ("post", "/api/v1/affiliates/{pk}/consent/", {"channel": "email", "granted": True, "source": "app"}),
    (
        "post",
        "/api/v1/statuses/",
        {
            "id": "s-1",
            "status": "form_completed",
            "occurred_at": "2026-11-20T12:00:00-03:00",
            "affiliate": {"external_id": "C-1"},
        },
    ),
    ("get", "/api/v1/funnel/", None),
]


class WriteApi(Api):
    def patch(self, path: str, body, **extra):
        return self.client.patch(
            path, json.dumps(body), content_type="application/json", **self.headers, **extra
        )

    def call(self, method: str, path: str, body):
        if method == "patch":
            return self.patch(path, body)
        return super().call(method, path, body)


@pytest.fixture
def api(udn_a) -> WriteApi:
    return WriteApi(udn_a, make_key(udn_a, WRITE_SCOPES))


@pytest.fixture
def joana(udn_a) -> Affiliate:
    with tenant_context(udn_a):
        return Affiliate.objects.create(
            external_id="C-1",
            name="Joana da Silva",
            cpf="52998224725",
            email="joana@example.com",
            state="SP",
            tags=["vip"],
        )


def status_body(status_id: str = "s-1", status: str = "form_completed", **overrides) -> dict:
    return {
        "id": status_id,
        "status": status,
        "occurred_at": "2026-11-20T12:00:00-03:00",
        "affiliate": {"external_id": "C-1"},
        **overrides,
    }


# --- create -------------------------------------------------------------------------------------


def test_an_affiliate_is_created_normalised(udn_a, api):
    response = api.post(
        "/api/v1/affiliates/",
        {
            "external_id": "N-1",
            "cpf": "529.982.247-25",
            "name": "maria  da silva",
            "email": "Maria@Example.com",
            "phone": "(11) 98765-4321",
            "birth_date": "17/05/1990",
            "state": "sp",
            "plan_fee": "49,90",
            "tags": ["VIP", "gold"],
            "attributes": {"course": "Investimentos"},
        },
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["cpf"] == "52998224725" and body["name"] == "Maria da Silva"
    assert body["email"] == "maria@example.com" and body["phone"] == "+5511987654321"
    assert body["birth_date"] == "1990-05-17" and body["state"] == "SP" and body["plan_fee"] == "49.90"
    assert body["tags"] == ["vip", "gold"] and body["attributes"] == {"course": "Investimentos"}
    assert body["stage"] == Stage.LEAD and body["time_zone"] == "America/Sao_Paulo"
    with tenant_context(udn_a):
        assert Affiliate.objects.get(external_id="N-1").pk == body["id"]


def test_an_affiliate_without_external_id_is_keyed_by_cpf(api):
    response = api.post("/api/v1/affiliates/", {"cpf": "529.982.247-25", "name": "Maria"})

    assert response.status_code == 201
    assert response.json()["external_id"] == "cpf:52998224725"


@pytest.mark.parametrize("language", ["en", "pt-br"])
def test_an_invalid_affiliate_is_a_422_with_each_reason_and_field(udn_a, language):
    api = WriteApi(udn_a, make_key(udn_a, WRITE_SCOPES), language)

    response = api.post(
        "/api/v1/affiliates/",
        {"external_id": "N-1", "name": "", "cpf": "111.111.111-11", "phone": "3333-4444"},
    )

    assert response.status_code == 422
    error = error_of(response)
    assert (error["code"], error["field"]) == ("cpf_invalid", "cpf") and error["message"]
    assert {(d["code"], d["field"]) for d in error["details"]} == {
        ("cpf_invalid", "cpf"),
        ("name_missing", "name"),
        ("phone_no_ddd", "phone"),
    }
    with tenant_context(udn_a):
        assert not Affiliate.objects.exists()


def test_a_foreign_phone_is_a_field_error_brazilian_mobiles_only(udn_a):
    api = WriteApi(udn_a, make_key(udn_a, WRITE_SCOPES), "pt-br")

    response = api.post(
        "/api/v1/affiliates/", {"external_id": "N-9", "name": "Fábio", "phone": "+14155552671"}
    )

    assert response.status_code == 422
    error = error_of(response)
    assert (error["code"], error["field"]) == ("phone_foreign", "phone")
    assert error["message"] == "telefone estrangeiro (só celulares do Brasil)"
    with tenant_context(udn_a):
        assert not Affiliate.objects.exists()


@pytest.mark.parametrize("language", ["en", "pt-br"])
def test_wrong_shapes_are_400_with_the_field_path(udn_a, language):
    api = WriteApi(udn_a, make_key(udn_a, WRITE_SCOPES), language)
    cases = [
        ({"name": "Ana", "nickname": "an"}, "unknown_field", "nickname"),
        ({"name": 12}, "invalid", "name"),
        ({"name": "Ana", "tags": [1]}, "invalid", "tags"),
        ({"name": "Ana", "attributes": ["x"]}, "invalid", "attributes"),
        ({"name": "Ana", "plan_fee": True}, "invalid", "plan_fee"),
        ({"name": "Ana", "stage": "cash_in"}, "read_only", "stage"),
        ({"name": "A\x00na"}, "invalid", "name"),
        ({"name": "Ana", "attributes": {"k": "\x00"}}, "invalid", "attributes"),
        ([{"name": "Ana"}], "invalid", None),
    ]
    for body, code, field in cases:
        response = api.post("/api/v1/affiliates/", body)
        assert response.status_code == 400, body
        error = error_of(response)
        assert (error["code"], error["field"]) == (code, field), body
        assert error["message"]


def test_creating_a_known_external_id_is_a_409(udn_a, api, joana):
    response = api.post("/api/v1/affiliates/", {"external_id": "C-1", "name": "Outra Pessoa"})

    assert response.status_code == 409
    assert error_of(response)["code"] == "already_exists"
    with tenant_context(udn_a):
        assert Affiliate.objects.get().name == "Joana da Silva"


def test_a_create_replays_with_the_same_idempotency_key(udn_a, api):
    body = {"external_id": "N-9", "name": "Ana"}
    first = api.post("/api/v1/affiliates/", body, HTTP_IDEMPOTENCY_KEY="c-1")
    replay = api.post("/api/v1/affiliates/", body, HTTP_IDEMPOTENCY_KEY="c-1")
    plain_retry = api.post("/api/v1/affiliates/", body)

    assert first.status_code == replay.status_code == 201
    assert replay.json() == first.json() and replay["Idempotent-Replayed"] == "true"
    assert plain_retry.status_code == 409
    with tenant_context(udn_a):
        assert Affiliate.objects.count() == 1


# --- partial update -----------------------------------------------------------------------------


def test_a_patch_changes_only_the_given_fields_and_records_the_change(udn_a, api, joana):
    response = api.patch(
        f"/api/v1/affiliates/{joana.pk}/",
        {"email": "JOANA@example.org", "state": "rj", "attributes": {"course": "Bolsa"}},
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["email"] == "joana@example.org" and body["state"] == "RJ"
    assert body["name"] == "Joana da Silva" and body["cpf"] == "52998224725" and body["tags"] == ["vip"]
    assert body["attributes"] == {"course": "Bolsa"}
    with tenant_context(udn_a):
        stored = Affiliate.objects.get()
        assert (stored.email, stored.state, stored.name) == ("joana@example.org", "RJ", "Joana da Silva")
        change = AffiliateChange.objects.get()
        assert change.changes["email"] == ["joana@example.com", "joana@example.org"]
        assert change.source.startswith("api:")


@pytest.mark.parametrize("field", ["stage", "tier", "total_cash_in"])
def test_derived_fields_are_read_only(udn_a, api, joana, field):
    response = api.patch(f"/api/v1/affiliates/{joana.pk}/", {field: "cashout"})

    assert response.status_code == 400
    assert (error_of(response)["code"], error_of(response)["field"]) == ("read_only", field)
    with tenant_context(udn_a):
        assert Affiliate.objects.get().stage == Stage.LEAD


@pytest.mark.parametrize("language", ["en", "pt-br"])
def test_a_patch_with_a_bad_value_is_a_422_and_changes_nothing(udn_a, joana, language):
    api = WriteApi(udn_a, make_key(udn_a, WRITE_SCOPES), language)

    for body, code, field in [
        ({"email": "joana@", "city": "Rio"}, "email_invalid", "email"),
        ({"name": " "}, "name_missing", "name"),
        ({"external_id": ""}, "id_missing", "external_id"),
    ]:
        response = api.patch(f"/api/v1/affiliates/{joana.pk}/", body)
        assert response.status_code == 422, body
        assert (error_of(response)["code"], error_of(response)["field"]) == (code, field)
    with tenant_context(udn_a):
        assert Affiliate.objects.get().city == ""


def test_a_patch_to_a_taken_external_id_is_a_409_and_a_missing_affiliate_a_404(udn_a, api, joana):
    with tenant_context(udn_a):
        Affiliate.objects.create(external_id="C-2", name="Outra")

    assert api.patch(f"/api/v1/affiliates/{joana.pk}/", {"external_id": "C-2"}).status_code == 409
    assert error_of(api.patch("/api/v1/affiliates/999999/", {"name": "X"}))["code"] == "not_found"


# --- bulk upsert --------------------------------------------------------------------------------


def test_a_bulk_upsert_keeps_the_good_items_and_reports_the_bad(udn_a, api, joana):
    response = api.post(
        "/api/v1/affiliates/bulk/",
        [
            {"external_id": "C-1", "email": "", "city": "campinas", "attributes": {"course": "Bolsa"}},
            {"external_id": "N-2", "name": "Bruno", "cpf": "111.111.111-11"},
            {"external_id": "N-3", "name": "Carla", "stage": "cash_in"},
            "not an object",
            {"external_id": "N-4", "name": "Davi", "phone": "(21) 99876-5432"},
            {"external_id": "N-4", "city": "Niterói", "phone": ""},
        ],
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["accepted"], body["rejected"]) == (3, 3)
    by_index = {r["index"]: r for r in body["results"]}
    assert [by_index[i]["status"] for i in range(6)] == [
        "accepted",
        "rejected",
        "rejected",
        "rejected",
        "accepted",
        "accepted",
    ]
    assert (by_index[1]["code"], by_index[1]["field"]) == ("cpf_invalid", "cpf")
    assert (by_index[2]["code"], by_index[2]["field"]) == ("read_only", "stage")
    assert by_index[3]["code"] == "invalid"
    assert by_index[0]["affiliate_id"] == joana.pk
    assert by_index[4]["affiliate_id"] == by_index[5]["affiliate_id"]
    with tenant_context(udn_a):
        joana_now = Affiliate.objects.get(pk=joana.pk)
        # Blank values never erase; attributes merge; the name of the base stays.
        assert joana_now.email == "joana@example.com" and joana_now.city == "Campinas"
        assert joana_now.name == "Joana da Silva" and joana_now.attributes == {"course": "Bolsa"}
        davi = Affiliate.objects.get(external_id="N-4")
        # Repeated keys merge, newest non-blank value per field.
        assert (davi.name, davi.city, davi.phone) == ("Davi", "Niterói", "+5521998765432")
        assert sorted(Affiliate.objects.values_list("external_id", flat=True)) == ["C-1", "N-4"]
        assert AffiliateChange.objects.filter(affiliate=joana).exists()


def test_bulk_upsert_runs_a_fixed_number_of_queries(udn_a, django_assert_max_num_queries):
    records = [({"external_id": f"B-{i}", "name": f"Pessoa {i}", "state": "MG"}, None) for i in range(200)]
    with tenant_context(udn_a):
        with django_assert_max_num_queries(15):
            outcomes = affiliates_upsert(records=records)
        assert all(o.status == "accepted" for o in outcomes)
        assert Affiliate.objects.filter(state="MG", time_zone="America/Sao_Paulo").count() == 200


def test_a_bulk_without_external_id_finds_the_affiliate_by_cpf(udn_a, api, joana):
    response = api.post(
        "/api/v1/affiliates/bulk/", [{"cpf": "529.982.247-25", "name": "Joana S.", "plan": "Ouro"}]
    )

    assert response.json()["results"][0]["affiliate_id"] == joana.pk
    with tenant_context(udn_a):
        assert Affiliate.objects.get().plan == "Ouro"


def test_a_bulk_must_be_a_list_of_at_most_1000(api):
    too_many = [{"external_id": f"X-{i}", "name": "X"} for i in range(1001)]

    assert error_of(api.post("/api/v1/affiliates/bulk/", {"name": "X"}))["code"] == "invalid"
    assert error_of(api.post("/api/v1/affiliates/bulk/", too_many))["code"] == "batch_too_large"


def test_a_bulk_replays_with_the_same_idempotency_key_and_refuses_another_body(api):
    body = [{"external_id": "N-1", "name": "Ana"}]
    first = api.post("/api/v1/affiliates/bulk/", body, HTTP_IDEMPOTENCY_KEY="b-1")
    replay = api.post("/api/v1/affiliates/bulk/", body, HTTP_IDEMPOTENCY_KEY="b-1")
    other = api.post(
        "/api/v1/affiliates/bulk/", [{"external_id": "N-2", "name": "Bia"}], HTTP_IDEMPOTENCY_KEY="b-1"
    )

    assert replay.json() == first.json() and replay["Idempotent-Replayed"] == "true"
    assert other.status_code == 422 and error_of(other)["code"] == "idempotency_key_reused"


# --- consent ------------------------------------------------------------------------------------


def test_a_consent_change_is_recorded_and_the_current_state_returned(udn_a, api, joana):
    url = f"/api/v1/affiliates/{joana.pk}/consent/"
    granted = api.post(url, {"channel": "whatsapp", "granted": True, "source": "app", "proof": "checkbox v2"})
    older_opt_out = api.post(
        url,
        {
            "channel": "whatsapp",
            "granted": False,
            "source": "help desk",
            "occurred_at": "2020-01-01T10:00:00-03:00",
        },
    )

    assert granted.status_code == 201
    assert granted.json() == {
        "affiliate_id": joana.pk,
        "consent": {"email": False, "whatsapp": True, "sms": False, "push": False, "telegram": False},
    }
    # An older change is kept in the ledger but does not override the newer one.
    assert older_opt_out.status_code == 201 and older_opt_out.json()["consent"]["whatsapp"] is True
    with tenant_context(udn_a):
        assert ConsentChange.objects.filter(affiliate=joana).count() == 2


@pytest.mark.parametrize("language", ["en", "pt-br"])
def test_a_bad_consent_change_is_a_400_with_the_field(udn_a, joana, language):
    api = WriteApi(udn_a, make_key(udn_a, WRITE_SCOPES), language)
    url = f"/api/v1/affiliates/{joana.pk}/consent/"
    good = {"channel": "email", "granted": True, "source": "app"}
    for body, code, field in [
        ({**good, "channel": "fax"}, "invalid", "channel"),
        ({**good, "granted": "yes"}, "invalid", "granted"),
        ({**good, "source": ""}, "invalid", "source"),
        ({k: v for k, v in good.items() if k != "source"}, "required", "source"),
        ({**good, "occurred_at": "2026-11-20T12:00:00"}, "invalid", "occurred_at"),
        ({**good, "why": "x"}, "unknown_field", "why"),
        ({**good, "proof": "x\x00"}, "invalid", "proof"),
    ]:
        response = api.post(url, body)
        assert response.status_code == 400, body
        error = error_of(response)
        assert (error["code"], error["field"]) == (code, field) and error["message"], body
    assert api.post("/api/v1/affiliates/999999/consent/", good).status_code == 404
    with tenant_context(udn_a):
        assert not ConsentChange.objects.exists()


def test_a_consent_change_replays_with_the_same_idempotency_key(udn_a, api, joana):
    url = f"/api/v1/affiliates/{joana.pk}/consent/"
    body = {"channel": "sms", "granted": True, "source": "app"}
    first = api.post(url, body, HTTP_IDEMPOTENCY_KEY="k-c")
    replay = api.post(url, body, HTTP_IDEMPOTENCY_KEY="k-c")

    assert replay.json() == first.json() and replay["Idempotent-Replayed"] == "true"
    with tenant_context(udn_a):
        assert ConsentChange.objects.count() == 1


# --- statuses -----------------------------------------------------------------------------------


def test_statuses_become_events_and_a_deposit_a_cash_in(udn_a, api, joana):
    for status_id, status in [
        ("s-1", "registration_started"),
        ("s-2", "form_completed"),
        ("s-3", "account_opened"),
    ]:
        response = api.post("/api/v1/statuses/", status_body(status_id, status))
        assert response.status_code == 201, response.content
        assert response.json()["affiliate_id"] == joana.pk
    deposit = api.post("/api/v1/statuses/", status_body("s-4", "deposited", amount="150,00"))
    duplicate = api.post("/api/v1/statuses/", status_body("s-4", "deposited", amount="150,00"))

    assert deposit.status_code == 201 and duplicate.status_code == 200
    assert duplicate.json()["status"] == "duplicate"
    with tenant_context(udn_a):
        types = dict(Event.objects.values_list("event_id", "type"))
        assert types == {
            "s-1": "registration_started",
            "s-2": "form_completed",
            "s-3": "account_opened",
            "s-4": "cash_in",
        }
        assert Event.objects.get(event_id="s-4").amount == Decimal("150.00")
        joana.refresh_from_db()
        assert joana.stage == Stage.CASH_IN and joana.total_cash_in == Decimal("150.00")


@pytest.mark.parametrize("language", ["en", "pt-br"])
def test_a_bad_status_is_a_400_or_422_with_the_field(udn_a, joana, language):
    api = WriteApi(udn_a, make_key(udn_a, WRITE_SCOPES), language)
    for body, http, code, field in [
        (status_body(status="paid"), 400, "invalid", "status"),
        (status_body(status="deposited"), 400, "required", "amount"),
        (status_body(amount="10.00"), 400, "invalid", "amount"),
        (status_body(occurred_at="ontem"), 400, "invalid", "occurred_at"),
        ({**status_body(), "plan": "x"}, 400, "unknown_field", "plan"),
        (
            status_body(affiliate={"external_id": "nobody"}),
            422,
            "affiliate_not_found",
            "affiliate.external_id",
        ),
    ]:
        response = api.post("/api/v1/statuses/", body)
        assert response.status_code == http, body
        error = error_of(response)
        assert (error["code"], error["field"]) == (code, field) and error["message"], body
    response = api.post("/api/v1/statuses/", status_body(status="deposited", amount="abc"))
    assert response.status_code == 422 and error_of(response)["field"] == "amount"
    with tenant_context(udn_a):
        assert not Event.objects.exists()


def test_a_status_for_a_client_not_known_yet_creates_the_affiliate_first(udn_a, api):
    described = {
        "external_id": "GC-7",
        "name": "bruno lima",
        "phone": "(11) 98765-4321",
        "tags": ["getcourse"],
    }
    started = api.post("/api/v1/statuses/", status_body("s-7", "registration_started", affiliate=described))
    opened = api.post(
        "/api/v1/statuses/",
        status_body("s-8", "account_opened", affiliate={"external_id": "GC-7", "email": "bruno@example.com"}),
    )

    assert started.status_code == opened.status_code == 201, started.content
    with tenant_context(udn_a):
        bruno = Affiliate.objects.get(external_id="GC-7")
        assert (bruno.name, bruno.phone, bruno.email) == ("Bruno Lima", "+5511987654321", "bruno@example.com")
        assert bruno.stage == Stage.REGISTERED
        assert started.json()["affiliate_id"] == bruno.pk
        assert set(Event.objects.filter(affiliate=bruno).values_list("event_id", flat=True)) == {"s-7", "s-8"}


def test_a_status_with_a_bad_affiliate_record_is_a_422_and_stores_nothing(udn_a, api):
    response = api.post(
        "/api/v1/statuses/",
        status_body(affiliate={"external_id": "GC-9", "name": "Ana", "cpf": "111.111.111-11"}),
    )

    assert response.status_code == 422
    assert (error_of(response)["code"], error_of(response)["field"]) == ("cpf_invalid", "affiliate.cpf")
    with tenant_context(udn_a):
        assert not Affiliate.objects.exists() and not Event.objects.exists()


def test_a_status_replays_with_the_same_idempotency_key(udn_a, api, joana):
    first = api.post("/api/v1/statuses/", status_body(), HTTP_IDEMPOTENCY_KEY="k-s")
    replay = api.post("/api/v1/statuses/", status_body(), HTTP_IDEMPOTENCY_KEY="k-s")

    assert first.status_code == replay.status_code == 201
    assert replay["Idempotent-Replayed"] == "true"


# --- funnel -------------------------------------------------------------------------------------


def test_the_funnel_counts_each_stage_reached_and_the_money(udn_a, api):
    with tenant_context(udn_a):
        stages = [Stage.LEAD, Stage.LEAD, Stage.REGISTERED, Stage.CASH_IN, Stage.CASHOUT]
        people = [
            Affiliate.objects.create(
                external_id=f"F-{i}", name=f"P{i}", stage=stage, total_cash_in=Decimal(i * 10)
            )
            for i, stage in enumerate(stages)
        ]
        for event_id, kind, person in [
            ("cb-1", "cashback", people[3]),
            ("cb-2", "cashback", people[3]),
            ("cb-3", "cashback", people[4]),
            ("co-1", "cashout", people[4]),
        ]:
            Event.objects.create(
                event_id=event_id, type=kind, affiliate=person, occurred_at="2026-11-20T12:00:00Z", amount=5
            )

    response = api.get("/api/v1/funnel/")

    assert response.status_code == 200
    body = response.json()
    assert [(s["stage"], s["reached"]) for s in body["stages"]] == [
        ("lead", 5),
        ("registered", 3),
        ("app_downloaded", 2),
        ("activated", 2),
        ("cash_in", 2),
        ("cashout", 1),
    ]
    assert body["total_cash_in"] == "100.00"
    assert (body["with_cashback"], body["with_cashout"]) == (2, 1)


def test_the_funnel_takes_two_queries(udn_a, django_assert_num_queries):
    with tenant_context(udn_a):
        Affiliate.objects.exists()  # sets the schema's search_path first
        with django_assert_num_queries(2):
            figures = funnel_figures()

    assert figures.reached["lead"] == 0 and figures.total_cash_in == Decimal("0.00")


# --- keys, scopes, docs -------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path", "body"), WRITE_ENDPOINTS)
def test_a_key_of_udn_b_is_refused_on_every_write_endpoint(udn_a, udn_b, joana, method, path, body):
    key_b = make_key(udn_b, WRITE_SCOPES)

    response = WriteApi(udn_a, key_b).call(method, path.format(pk=joana.pk), body)

    assert response.status_code == 401
    assert error_of(response)["code"] == "authentication_failed"
    with tenant_context(udn_a):
        assert Affiliate.objects.count() == 1 and not Event.objects.exists()


@pytest.mark.parametrize(("method", "path", "body"), WRITE_ENDPOINTS)
def test_a_key_without_the_scope_gets_403_on_every_write_endpoint(udn_a, joana, method, path, body):
    needed = (
        "affiliates:read" if method == "get" else "events:write" if "statuses" in path else "affiliates:write"
    )
    other_scopes = [scope for scope in WRITE_SCOPES if scope != needed]

    response = WriteApi(udn_a, make_key(udn_a, other_scopes)).call(method, path.format(pk=joana.pk), body)

    assert response.status_code == 403
    assert error_of(response)["code"] == "insufficient_scope"
    with tenant_context(udn_a):
        assert Affiliate.objects.get().name == "Joana da Silva"
        assert not Event.objects.exists() and not ConsentChange.objects.exists()


def test_a_read_key_still_lists_and_reads_affiliates(udn_a, joana):
    reader = WriteApi(udn_a, make_key(udn_a, ["affiliates:read"]))

    assert reader.get("/api/v1/affiliates/").status_code == 200
    assert reader.get(f"/api/v1/affiliates/{joana.pk}/").status_code == 200


def test_the_openapi_schema_documents_the_writes_with_examples(udn_a):
    response = Client(HTTP_HOST="alpha.localhost").get("/api/v1/schema/", {"format": "json"})

    paths = json.loads(response.content)["paths"]
    for path, method in [
        ("/api/v1/affiliates/", "post"),
        ("/api/v1/affiliates/{id}/", "patch"),
        ("/api/v1/affiliates/bulk/", "post"),
        ("/api/v1/affiliates/{id}/consent/", "post"),
        ("/api/v1/statuses/", "post"),
    ]:
        operation = paths[path][method]
        assert operation["security"] == [{"ApiKey": []}]
        assert operation["requestBody"]["content"]["application/json"]["examples"], path
    assert paths["/api/v1/affiliates/"]["get"]["operationId"] == "affiliates_list"
    assert "examples" in paths["/api/v1/funnel/"]["get"]["responses"]["200"]["content"]["application/json"]


# --- bounds, NUL and failures -------------------------------------------------------------------


@pytest.fixture
def committed_alpha(django_db_setup, committed):
    """UDN alpha with a committed affiliate (C-Y1) and a write key (every write commits at once,
    as in production), removed at teardown with everything the test stored for them."""
    alpha = UDN.objects.get(slug="alpha")
    with tenant_context(alpha):
        person = Affiliate.objects.create(external_id="C-Y1", name="Yara Antiga")
        api_key, key = api_key_create(name="bounds", scopes=WRITE_SCOPES, created_by="")

    def clean() -> None:
        with tenant_context(alpha):
            Affiliate.objects.filter(pk__gte=person.pk).delete()
            ApiKey.objects.filter(pk=api_key.pk).delete()

    committed.append(clean)
    api = WriteApi(alpha, key)
    api.client.raise_request_exception = False  # a server error answers, as in production
    return alpha, person, api


def test_event_in_year_0001_is_refused_and_nothing_commits(committed_alpha):
    alpha, person, api = committed_alpha
    old = "0001-01-01T00:00:00+05:00"

    deposit = api.post(
        "/api/v1/statuses/",
        status_body("y1-s", "deposited", amount="150.00", occurred_at=old, affiliate={"external_id": "C-Y1"}),
    )
    event = api.post(
        "/api/v1/events/",
        {
            "id": "y1-e",
            "type": "cash_in",
            "occurred_at": old,
            "affiliate": {"id": person.pk},
            "properties": {"amount": "1"},
        },
    )

    for response in (deposit, event):
        assert response.status_code == 422
        assert (error_of(response)["code"], error_of(response)["field"]) == (
            "occurred_at_too_old",
            "occurred_at",
        )
    with tenant_context(alpha):
        assert not Event.objects.filter(affiliate=person).exists()
        person.refresh_from_db()
        assert (person.stage, person.stage_changed_at, person.total_cash_in) == ("lead", None, 0)


def test_a_request_that_fails_after_storing_commits_nothing(committed_alpha, monkeypatch):
    alpha, person, api = committed_alpha

    def broken(*args, **kwargs):
        raise RuntimeError("after the write")

    monkeypatch.setattr("crm.api.statuses.event_response", broken)
    monkeypatch.setattr("crm.api.events.event_response", broken)
    monkeypatch.setattr("crm.api.events._result", broken)
    monkeypatch.setattr("crm.api.consent._consent_state", broken)
    status = status_body("f-s", "deposited", amount="10.00", affiliate={"external_id": "C-Y1"})
    event = {**status_body("f-e", "deposited"), "type": "cash_in", "properties": {"amount": "10.00"}}
    del event["status"]
    event["affiliate"] = {"id": person.pk}
    new_client = status_body("f-n", affiliate={"external_id": "C-NEW", "name": "Nova Pessoa"})

    responses = [
        api.post("/api/v1/statuses/", status, HTTP_IDEMPOTENCY_KEY="fail-1"),
        api.post("/api/v1/statuses/", new_client),
        api.post("/api/v1/events/", event),
        api.post("/api/v1/events/batch/", [{**event, "id": "f-b"}]),
        api.post(
            f"/api/v1/affiliates/{person.pk}/consent/", {"channel": "sms", "granted": True, "source": "x"}
        ),
    ]

    for response in responses:
        assert response.status_code == 500
        assert error_of(response)["code"] == "server_error"
    with tenant_context(alpha):
        assert not Event.objects.filter(affiliate__external_id__in=["C-Y1", "C-NEW"]).exists()
        assert not Affiliate.objects.filter(external_id="C-NEW").exists()
        assert not ConsentChange.objects.filter(affiliate=person).exists()
        person.refresh_from_db()
        assert (person.stage, person.total_cash_in, person.consent_sms) == ("lead", 0, False)
    monkeypatch.undo()  # fixed: the same Idempotency-Key runs again (a 500 is not replayed)
    assert api.post("/api/v1/statuses/", status, HTTP_IDEMPOTENCY_KEY="fail-1").status_code == 201


def test_consent_and_birth_dates_out_of_range_are_field_errors(udn_a, api, joana):
    consent = f"/api/v1/affiliates/{joana.pk}/consent/"
    good = {"channel": "email", "granted": True, "source": "app"}
    tomorrow = (timezone.now() + timedelta(days=1)).isoformat()
    for when in ("0001-01-01T00:00:00+05:00", "1899-12-31T23:59:59Z", tomorrow):
        response = api.post(consent, {**good, "occurred_at": when})
        # 422: a well-formed time the server refuses (the schema cannot state "up to now").
        assert response.status_code == 422, when
        assert (error_of(response)["code"], error_of(response)["field"]) == ("invalid", "occurred_at")
    assert api.post(consent, {**good, "occurred_at": "1900-01-01T00:00:00Z"}).status_code == 201

    later = (timezone.localdate() + timedelta(days=1)).isoformat()
    for birth in ("0001-01-01", "31/12/1899", later):
        response = api.post("/api/v1/affiliates/", {"external_id": "B-1", "name": "Bia", "birth_date": birth})
        assert response.status_code == 422, birth
        assert (error_of(response)["code"], error_of(response)["field"]) == (
            "birth_date_future",
            "birth_date",
        )
    with tenant_context(udn_a):
        assert not Affiliate.objects.filter(external_id="B-1").exists()
        assert list(ConsentChange.objects.values_list("occurred_at", flat=True)) == [
            datetime(1900, 1, 1, tzinfo=UTC)
        ]


@pytest.mark.parametrize(
    "path, body, status, field",
    [
        ("/api/v1/affiliates/", {"external_id": "N-1", "name": "A\x00na"}, 400, "name"),
        ("/api/v1/affiliates/", {"external_id": "N-1", "name": "Ana", "tags": ["v\x00ip"]}, 400, "tags"),
        (
            "/api/v1/affiliates/",
            {"external_id": "N-1", "name": "Ana", "attributes": {"k": "\x00"}},
            400,
            "attributes",
        ),
        (
            "/api/v1/affiliates/{pk}/consent/",
            {"channel": "email", "granted": True, "source": "a\x00"},
            400,
            "source",
        ),
        ("/api/v1/statuses/", status_body("a\x00"), 422, "id"),
        ("/api/v1/statuses/", status_body(source="a\x00"), 422, "source"),
        ("/api/v1/statuses/", status_body(affiliate={"external_id": "C\x00"}), 422, "affiliate.external_id"),
        (
            "/api/v1/statuses/",
            status_body(affiliate={"external_id": "N-2", "name": "A\x00"}),
            400,
            "affiliate.name",
        ),
        ("/api/v1/statuses/", status_body("d", "deposited", amount="1\x00"), 422, "amount"),
    ],
)
def test_nul_in_any_string_field_of_a_body_is_a_field_error(udn_a, joana, path, body, status, field):
    api = WriteApi(udn_a, make_key(udn_a, WRITE_SCOPES))
    api.client.raise_request_exception = False

    response = api.post(path.format(pk=joana.pk), body)

    assert response.status_code == status, response.content
    assert error_of(response)["field"] == field
    with tenant_context(udn_a):
        assert not Event.objects.exists() and not ConsentChange.objects.exists()
        assert list(Affiliate.objects.values_list("external_id", flat=True)) == ["C-1"]


def test_a_bulk_item_with_nul_is_rejected_and_the_others_kept(udn_a, api):
    response = api.post(
        "/api/v1/affiliates/bulk/",
        [{"external_id": "N-\x001", "name": "Ana"}, {"external_id": "N-2", "name": "Bia"}],
    )

    assert response.status_code == 200
    assert [(r["status"], r["field"]) for r in response.json()["results"]] == [
        ("rejected", "external_id"),
        ("accepted", None),
    ]


@pytest.mark.parametrize(
    "path, body, field",
    [
        ("/api/v1/affiliates/", {"external_id": "H-1", "name": "Ana", "plan_fee": 10**30}, "plan_fee"),
        ("/api/v1/affiliates/", {"external_id": "H-1", "name": "Ana", "plan_fee": "1e400"}, "plan_fee"),
        ("/api/v1/statuses/", status_body("h", "deposited", amount=10**40), "amount"),
        ("/api/v1/statuses/", status_body("h", affiliate={"id": 2**70}), "affiliate.id"),
    ],
)
def test_huge_numbers_are_field_errors(udn_a, api, joana, path, body, field):
    api.client.raise_request_exception = False

    response = api.post(path, body)

    assert response.status_code == 422, response.content
    assert error_of(response)["field"] == field
