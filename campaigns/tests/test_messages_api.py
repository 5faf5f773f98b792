"""The partner API's messages: POST /api/v1/messages/ through every guard (202 queued or
suppressed with its reason), GET /api/v1/messages/{id}/ with the status history; keys of another
UDN, missing scopes, Idempotency-Key."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django_tenants.utils import tenant_context

from campaigns.models import Message, MessageTemplate
from campaigns.services.statuses import StatusUpdate, message_statuses_apply
from crm.models import API_SCOPES_OFFERED
from crm.tests.factories import AffiliateFactory
from crm.tests.helpers import Api, error_of, make_key

SP = ZoneInfo("America/Sao_Paulo")
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=SP)
WRITE, READ = "messages:write", "messages:read"


@pytest.fixture
def alpha(udn_a):
    with tenant_context(udn_a), time_machine.travel(NOW, tick=False):
        for channel in ("email", "sms", "whatsapp"):
            MessageTemplate.objects.create(
                slug=f"boas-vindas-{channel}" if channel != "email" else "boas-vindas",
                name=f"Boas-vindas ({channel})",
                channel=channel,
                subject="Oi",
                body_text="Olá {{ primeiro_nome }}",
                wa_template_name="boas_vindas" if channel == "whatsapp" else "",
            )
        yield udn_a


@pytest.fixture
def api(alpha) -> Api:
    return Api(alpha, make_key(alpha, [WRITE, READ]))


def send(api: Api, **body):
    return api.post("/api/v1/messages/", {"template": "boas-vindas", "channel": "email", **body})


def test_the_messages_scopes_are_offered_to_keys():
    assert {WRITE, READ} <= set(API_SCOPES_OFFERED)


def test_a_send_is_queued_and_its_status_and_history_can_be_read(api):
    ana = AffiliateFactory(external_id="C-1001", consent_email=True)

    answer = send(api, affiliate={"external_id": "C-1001"}, variables={"codigo": "X7"})

    assert answer.status_code == 202
    body = answer.json()
    assert (body["status"], body["channel"], body["reason"], body["template"]) == (
        "queued",
        "email",
        None,
        "boas-vindas",
    )
    assert body["affiliate"] == {"id": ana.pk, "external_id": "C-1001"}
    message = Message.objects.get(pk=body["id"])
    assert (message.source, message.variables["codigo"]) == ("api", "X7")

    message_statuses_apply(updates=[StatusUpdate(status="sent", at=NOW, message_id=message.pk)])
    message_statuses_apply(
        updates=[StatusUpdate(status="delivered", at=NOW + timedelta(minutes=1), message_id=message.pk)]
    )
    read = api.get(f"/api/v1/messages/{message.pk}/")

    assert read.status_code == 200
    assert read.json()["status"] == "delivered"
    assert [item["status"] for item in read.json()["history"]] == ["sent", "delivered"]
    assert read.json()["delivered_at"].startswith("2026-06-01T")


def test_a_refused_send_is_still_a_202_suppressed_with_its_reason(api):
    AffiliateFactory(external_id="C-2", consent_email=False)

    answer = send(api, affiliate={"external_id": "C-2"})

    assert answer.status_code == 202
    assert (answer.json()["status"], answer.json()["reason"]) == ("suppressed", "no_consent")
    assert Message.objects.get(pk=answer.json()["id"]).reason == "no_consent"


def test_a_fallback_chain_uses_the_first_channel_the_guards_allow(api):
    AffiliateFactory(external_id="C-3", consent_whatsapp=False, consent_sms=True)

    answer = send(api, affiliate={"external_id": "C-3"}, channel=["whatsapp", "sms"])

    assert answer.status_code == 202
    assert (answer.json()["status"], answer.json()["channel"], answer.json()["fallback"]) == (
        "queued",
        "sms",
        [],
    )
    assert Message.objects.get(pk=answer.json()["id"]).template.slug == "boas-vindas-sms"


def test_what_does_not_exist_is_a_422_and_bad_input_a_400(api):
    AffiliateFactory(external_id="C-4", consent_email=True)

    nobody = send(api, affiliate={"external_id": "nobody"})
    no_template = send(api, affiliate={"external_id": "C-4"}, template="nothing")
    no_push = send(api, affiliate={"external_id": "C-4"}, channel=["email", "push"])
    bad_channel = send(api, affiliate={"external_id": "C-4"}, channel="pigeon")
    twice = send(api, affiliate={"external_id": "C-4"}, channel=["sms", "sms"])
    unknown = send(api, affiliate={"external_id": "C-4"}, extra=1)

    assert (nobody.status_code, error_of(nobody)["code"]) == (422, "affiliate_not_found")
    assert (no_template.status_code, error_of(no_template)["code"]) == (422, "template_not_found")
    assert "push" in error_of(no_push)["message"]
    assert (bad_channel.status_code, error_of(bad_channel)["field"]) == (400, "channel")
    assert twice.status_code == 400
    assert (unknown.status_code, error_of(unknown)["code"]) == (400, "unknown_field")
    assert not Message.objects.exists()


def test_templates_per_channel_by_map_and_affiliates_by_cpf(api):
    ana = AffiliateFactory(external_id="C-8", consent_email=True, consent_sms=True)

    by_map = send(
        api,
        affiliate={"cpf": ana.cpf},
        channel=["sms", "email"],
        template={"sms": "boas-vindas-sms", "email": "boas-vindas"},
    )
    wrong_channel = send(api, affiliate={"id": ana.pk}, channel="sms", template={"sms": "boas-vindas"})
    invalid_cpf = send(api, affiliate={"cpf": "0"}, channel="sms")

    assert by_map.status_code == 202 and by_map.json()["template"] == "boas-vindas-sms"
    assert by_map.json()["affiliate"]["id"] == ana.pk and by_map.json()["fallback"] == ["email"]
    assert (wrong_channel.status_code, error_of(wrong_channel)["code"]) == (422, "template_not_found")
    assert (invalid_cpf.status_code, error_of(invalid_cpf)["code"]) == (422, "affiliate_not_found")


def test_another_udns_key_is_a_401(alpha, udn_b):
    AffiliateFactory(external_id="C-5", consent_email=True)
    message = Message.objects.create(
        affiliate=AffiliateFactory(),
        template=MessageTemplate.objects.get(slug="boas-vindas"),
        channel="email",
        source="api",
    )
    beta_key_on_alpha = Api(alpha, make_key(udn_b, [WRITE, READ]))

    posted = send(beta_key_on_alpha, affiliate={"external_id": "C-5"})
    read = beta_key_on_alpha.get(f"/api/v1/messages/{message.pk}/")

    assert (posted.status_code, error_of(posted)["code"]) == (401, "authentication_failed")
    assert read.status_code == 401
    assert Message.objects.count() == 1


def test_a_key_without_the_scope_is_a_403(alpha):
    AffiliateFactory(external_id="C-6", consent_email=True)
    reader = Api(alpha, make_key(alpha, [READ]))
    writer = Api(alpha, make_key(alpha, [WRITE]))
    message = Message.objects.create(
        affiliate=AffiliateFactory(),
        template=MessageTemplate.objects.get(slug="boas-vindas"),
        channel="email",
        source="api",
    )

    posted = send(reader, affiliate={"external_id": "C-6"})
    read = writer.get(f"/api/v1/messages/{message.pk}/")

    assert (posted.status_code, error_of(posted)["code"]) == (403, "insufficient_scope")
    assert (read.status_code, error_of(read)["code"]) == (403, "insufficient_scope")
    assert writer.get("/api/v1/messages/999999/").status_code == 403  # the scope before the lookup
    assert reader.get("/api/v1/messages/999999/").status_code == 404


def test_an_idempotency_key_sends_once(api):
    AffiliateFactory(external_id="C-7", consent_email=True)
    body = {"template": "boas-vindas", "channel": "email", "affiliate": {"external_id": "C-7"}}

    first = api.post("/api/v1/messages/", body, HTTP_IDEMPOTENCY_KEY="order-881")
    again = api.post("/api/v1/messages/", body, HTTP_IDEMPOTENCY_KEY="order-881")
    other = api.post("/api/v1/messages/", {**body, "variables": {"x": "1"}}, HTTP_IDEMPOTENCY_KEY="order-881")

    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"] and again["Idempotent-Replayed"] == "true"
    assert (other.status_code, error_of(other)["code"]) == (422, "idempotency_key_reused")
    assert Message.objects.count() == 1


def test_the_messages_endpoints_are_in_the_published_schema(api):
    schema = api.get("/api/v1/schema/", {"format": "json"}).json()
    assert "post" in schema["paths"]["/api/v1/messages/"]
    assert "get" in schema["paths"]["/api/v1/messages/{id}/"]
