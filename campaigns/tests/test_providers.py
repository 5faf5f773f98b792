"""Each provider against the real sandbox process, over real SMTP and HTTP: the request exactly as
the provider's API wants it, ids parsed from its answers, errors mapped to final or retryable."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import replace
from email import message_from_string
from email.policy import default as email_policy

import pytest
from django.test import override_settings
from django_tenants.utils import schema_context

from campaigns.models import ChannelConfig, SandboxMessage
from campaigns.providers.base import OutgoingMessage, channel_access, provider_for, sandbox_secret
from campaigns.services.channels import ChannelChange, channel_configure

pytestmark = pytest.mark.usefixtures("sandbox_process")


@pytest.fixture
def alpha(committed) -> Iterator[None]:
    """Inside UDN Alpha's schema, writes committed (the sandbox process reads them); channel
    settings made here are removed afterwards."""
    with schema_context("alpha"):
        yield
        ChannelConfig.objects.all().delete()


def outgoing(channel: str, address: str, payload: dict, *, key: str | None = None) -> OutgoingMessage:
    return OutgoingMessage(
        message_id=1,
        idempotency_key=key or str(uuid.uuid4()),
        channel=channel,
        address=address,
        payload=payload,
    )


def configure(channel: str, provider: str, settings: dict[str, str], secrets: dict[str, str]) -> None:
    channel_configure(
        channel=channel,
        change=ChannelChange(provider=provider, settings=settings, secrets=secrets),
        updated_by="test",
    )


def sandbox_base() -> str:
    return channel_access("whatsapp").setting("base_url")


def mobile() -> str:
    """A mobile no magic sandbox number matches."""
    return f"55119{uuid.uuid4().int % 10**8:08d}".replace("55119000", "55119100")


# --- e-mail (SMTP) ------------------------------------------------------------------------------
EMAIL = {
    "subject": "Olá, Ana! Seu bônus chegou",
    "html": "<p>Olá, <strong>Ana</strong>!</p>",
    "text": "Olá, Ana!",
    "headers": {
        "List-Unsubscribe": "<https://alpha.example/u/tok/>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    },
}


def test_email_reaches_the_sandbox_with_its_parts_headers_and_a_message_id_from_the_key(alpha):
    key = str(uuid.uuid4())
    provider = provider_for("email")
    [result] = provider.send([outgoing("email", "ana@example.com", EMAIL, key=key)])
    assert result.ok, result.error
    assert result.provider_message_id.startswith(f"<{key}@")
    stored = SandboxMessage.objects.get(provider_message_id=result.provider_message_id)
    assert (stored.channel, stored.to, stored.subject) == ("email", "ana@example.com", EMAIL["subject"])
    assert "<strong>Ana</strong>" in stored.body_html
    assert stored.body_text.strip() == "Olá, Ana!"
    headers = dict(stored.payload["headers"])
    assert headers["List-Unsubscribe"] == "<https://alpha.example/u/tok/>"
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert headers["Message-ID"] == result.provider_message_id
    # A retry of the same message is the same message: stored once.
    [again] = provider.send([outgoing("email", "ana@example.com", EMAIL, key=key)])
    assert again.ok and again.provider_message_id == result.provider_message_id
    assert SandboxMessage.objects.filter(provider_message_id=result.provider_message_id).count() == 1


def test_email_errors_are_final_or_retryable_by_smtp_code(alpha):
    results = provider_for("email").send(
        [
            outgoing("email", "reject.me@example.com", EMAIL),
            outgoing("email", "tempfail.me@example.com", EMAIL),
            outgoing("email", "ok@example.com", EMAIL),
        ]
    )
    assert [(r.ok, r.retryable) for r in results] == [(False, False), (False, True), (True, False)]
    assert results[0].error.startswith("550")
    assert results[1].error.startswith("451")


def test_a_configured_smtp_server_with_a_wrong_password_fails_for_good(alpha):
    configure(
        "email",
        "smtp",
        {"host": "127.0.0.1", "port": str(channel_access("email").setting("port")), "use_tls": "0",
         "username": "alpha", "from_email": "UDN Alpha <news@alpha.example>"},
        {"password": "not-the-password"},
    )  # fmt: skip
    [result] = provider_for("email").send([outgoing("email", "ana@example.com", EMAIL)])
    assert not result.ok and not result.retryable
    assert result.error.startswith("535")
    # The right password (the sandbox's), through the same configured provider: sent.
    configure("email", "smtp", {}, {"password": sandbox_secret(schema="alpha", name="smtp")})
    [result] = provider_for("email").send([outgoing("email", "ana@example.com", EMAIL)])
    assert result.ok and result.provider_message_id.endswith("@alpha.example>")


# --- WhatsApp Cloud API ------------------------------------------------------------------------
WA_TEMPLATE = {
    "messaging_product": "whatsapp",
    "to": "ignored",
    "type": "template",
    "template": {
        "name": "bonus_boas_vindas",
        "language": {"code": "pt_BR"},
        "components": [{"type": "body", "parameters": [{"type": "text", "text": "Ana"}]}],
    },
}


def test_whatsapp_sends_the_cloud_api_body_and_parses_the_wamid(alpha):
    key, to = str(uuid.uuid4()), mobile()
    provider = provider_for("whatsapp")
    [result] = provider.send([outgoing("whatsapp", "+" + to, WA_TEMPLATE, key=key)])
    assert result.ok, result.error
    assert result.provider_message_id.startswith("wamid.")
    stored = SandboxMessage.objects.get(provider_message_id=result.provider_message_id)
    assert stored.payload == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": "template",
        "template": WA_TEMPLATE["template"],
        "biz_opaque_callback_data": key,
    }
    assert (stored.to, stored.subject, stored.body_text) == (to, "bonus_boas_vindas", "Ana")
    # The same idempotency key again: the same id, nothing sent twice.
    [again] = provider.send([outgoing("whatsapp", "+" + to, WA_TEMPLATE, key=key)])
    assert again.provider_message_id == result.provider_message_id
    assert SandboxMessage.objects.filter(payload__biz_opaque_callback_data=key).count() == 1


def test_whatsapp_errors_map_by_http_status_and_graph_code(alpha):
    text = {"type": "text", "text": {"body": "Oi"}}
    results = provider_for("whatsapp").send(
        [
            outgoing("whatsapp", "5511900000429", text),
            outgoing("whatsapp", "5511900000500", text),
            outgoing("whatsapp", "5511900000400", text),
            outgoing("whatsapp", "5511900000400", {"type": "text", "text": {}}),
        ]
    )
    assert [(r.ok, r.retryable) for r in results] == [
        (False, True),
        (False, True),
        (False, False),
        (False, False),
    ]
    assert "(130429)" in results[0].error and "HTTP 429" in results[0].error
    assert "(131009)" in results[2].error
    assert "(100)" in results[3].error


def test_whatsapp_with_a_wrong_token_is_refused_for_good(alpha):
    configure(
        "whatsapp",
        "whatsapp_cloud",
        {"base_url": sandbox_base(), "api_version": "v21.0", "phone_number_id": "100000000000001"},
        {"access_token": "EAAG-wrong"},
    )
    [result] = provider_for("whatsapp").send(
        [outgoing("whatsapp", mobile(), {"type": "text", "text": {"body": "Oi"}})]
    )
    assert not result.ok and not result.retryable
    assert "HTTP 401" in result.error and "(190)" in result.error
    assert provider_for("whatsapp").check() is not None


def test_a_configured_provider_may_not_reach_a_private_address_unless_allowed(alpha):
    configure(
        "whatsapp",
        "whatsapp_cloud",
        {"base_url": sandbox_base(), "api_version": "v21.0", "phone_number_id": "100000000000001"},
        {"access_token": sandbox_secret(schema="alpha", name="whatsapp")},
    )
    message = outgoing("whatsapp", mobile(), {"type": "text", "text": {"body": "Oi"}})
    with override_settings(PROVIDER_ALLOW_PRIVATE_URLS=False):
        [refused] = provider_for("whatsapp").send([message])
    assert not refused.ok and not refused.retryable
    assert "endereço privado ou local" in refused.error
    assert not SandboxMessage.objects.filter(
        payload__biz_opaque_callback_data=message.idempotency_key
    ).exists()
    [sent] = provider_for("whatsapp").send([message])  # allowed in tests (PROVIDER_ALLOW_PRIVATE_URLS)
    assert sent.ok, sent.error


# --- SMS (Zenvia v2) ---------------------------------------------------------------------------
def test_sms_sends_zenvias_body_with_the_key_as_external_id(alpha):
    key, to = str(uuid.uuid4()), mobile()
    [result] = provider_for("sms").send(
        [outgoing("sms", "+" + to, {"to": "x", "text": "Olá, Ana! 🎉"}, key=key)]
    )
    assert result.ok, result.error
    uuid.UUID(result.provider_message_id)
    stored = SandboxMessage.objects.get(provider_message_id=result.provider_message_id)
    assert stored.payload == {
        "from": "UDN",
        "to": to,
        "contents": [{"type": "text", "text": "Olá, Ana! 🎉"}],
        "externalId": key,
    }
    assert stored.body_text == "Olá, Ana! 🎉"


def test_sms_errors_map_to_final_or_retryable(alpha):
    results = provider_for("sms").send(
        [
            outgoing("sms", "5511900000400", {"text": "a"}),
            outgoing("sms", "5511900000429", {"text": "a"}),
            outgoing("sms", "5511900000500", {"text": "a"}),
        ]
    )
    assert [(r.ok, r.retryable) for r in results] == [(False, False), (False, True), (False, True)]
    assert "VALIDATION_ERROR" in results[0].error and "to: invalid number" in results[0].error
    configure("sms", "sms_gateway", {"base_url": sandbox_base(), "sender": "UDN"}, {"api_token": "wrong"})
    [unauthorized] = provider_for("sms").send([outgoing("sms", mobile(), {"text": "a"})])
    assert not unauthorized.retryable and "HTTP 401 · UNAUTHORIZED" in unauthorized.error


# --- Push (FCM HTTP v1) ------------------------------------------------------------------------
PUSH = {"message": {"token": "device-abc", "notification": {"title": "Bônus", "body": "Seu bônus chegou"}}}


def test_push_gets_an_oauth_token_then_sends_the_v1_message(alpha):
    key = str(uuid.uuid4())
    provider = provider_for("push")
    [result] = provider.send([outgoing("push", "", PUSH, key=key)])
    assert result.ok, result.error
    project = channel_access("push").setting("project_id")
    assert result.provider_message_id.startswith(f"projects/{project}/messages/0:")
    stored = SandboxMessage.objects.get(provider_message_id=result.provider_message_id)
    assert stored.payload == {
        "message": {**PUSH["message"], "fcm_options": {"analytics_label": key}},
    }
    assert (stored.to, stored.subject, stored.body_text) == ("device-abc", "Bônus", "Seu bônus chegou")


def test_push_errors_map_by_fcm_status(alpha):
    def to(token: str) -> OutgoingMessage:
        return outgoing("push", token, {"notification": {"title": "t", "body": "b"}})

    results = provider_for("push").send(
        [to("sandbox-unregistered"), to("sandbox-unavailable"), to("sandbox-invalid"), to("device-ok")]
    )
    assert [(r.ok, r.retryable) for r in results] == [
        (False, False),
        (False, True),
        (False, False),
        (True, False),
    ]
    assert "UNREGISTERED" in results[0].error and "HTTP 404" in results[0].error


def test_push_with_a_service_account_of_its_own_is_checked_by_signature(alpha):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    def account(email: str) -> str:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        return json.dumps(
            {"type": "service_account", "project_id": "udn-alpha", "private_key_id": "k1", "private_key": pem,
             "client_email": email, "client_id": "1", "token_uri": f"{sandbox_base()}/token"}
        )  # fmt: skip

    configure(
        "push",
        "fcm",
        {"base_url": sandbox_base(), "project_id": "udn-alpha"},
        {"service_account_json": account("sender@udn-alpha.iam.gserviceaccount.com")},
    )
    [result] = provider_for("push").send([outgoing("push", "device-1", PUSH)])
    assert result.ok, result.error
    assert result.provider_message_id.startswith("projects/udn-alpha/messages/")
    # Another key under the same account name: the sandbox checks the grant against the stored key.
    from campaigns.providers.fcm import FcmProvider

    access = channel_access("push")
    forged = replace(
        access, secrets={"service_account_json": account("sender@udn-alpha.iam.gserviceaccount.com")}
    )
    [refused] = FcmProvider(forged).send([outgoing("push", "device-1", PUSH)])
    assert not refused.ok and not refused.retryable
    assert "invalid_grant" in refused.error


# --- Telegram Bot API --------------------------------------------------------------------------
TELEGRAM = {
    "chat_id": 1,
    "text": "Olá, Ana! Seu bônus chegou.",
    "reply_markup": {"inline_keyboard": [[{"text": "Abrir o app", "url": "https://app.example/bonus"}]]},
}


def test_telegram_sends_send_message_and_parses_the_message_id(alpha):
    chat = str(700_000_000 + uuid.uuid4().int % 100_000_000)
    [result] = provider_for("telegram").send([outgoing("telegram", chat, TELEGRAM)])
    assert result.ok, result.error
    chat_part, _sep, message_id = result.provider_message_id.partition(":")
    assert chat_part == chat and message_id.isdigit()
    stored = SandboxMessage.objects.get(provider_message_id=result.provider_message_id)
    assert stored.payload == {**TELEGRAM, "chat_id": int(chat)}
    assert provider_for("telegram").check() is None


def test_telegram_errors_map_and_never_show_the_bot_token(alpha):
    results = provider_for("telegram").send(
        [outgoing("telegram", "403", TELEGRAM), outgoing("telegram", "429", TELEGRAM)]
    )
    assert [(r.ok, r.retryable) for r in results] == [(False, False), (False, True)]
    assert "bot was blocked" in results[0].error
    assert "retry after 5" in results[1].error
    configure("telegram", "telegram", {"base_url": sandbox_base()}, {"bot_token": "123:wrong-token"})
    [unauthorized] = provider_for("telegram").send([outgoing("telegram", "1", TELEGRAM)])
    assert not unauthorized.ok and not unauthorized.retryable and "HTTP 401" in unauthorized.error
    assert "wrong-token" not in unauthorized.error


def test_email_message_id_is_the_same_for_a_retry_of_the_same_message():
    from campaigns.providers.smtp import message_id_for

    key = str(uuid.uuid4())
    first = message_id_for(idempotency_key=key, from_email="UDN <news@alpha.example>")
    assert (
        first
        == message_id_for(idempotency_key=key, from_email="news@alpha.example")
        == f"<{key}@alpha.example>"
    )
    parsed = message_from_string(f"Message-ID: {first}\n\nx", policy=email_policy)
    assert parsed["Message-ID"] == first
