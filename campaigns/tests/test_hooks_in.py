"""Provider hooks on the UDN host (/hooks/<channel>/) and tracked links (/r/<token>/): signatures
(valid, tampered, missing, replayed), the WhatsApp handshake, opt-out replies, the 24-hour window,
Telegram chat linking, garbage bodies, and signed redirects."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client
from django_tenants.utils import tenant_context

from campaigns.models import ChannelConfig, InboundMessage, Message, MessageStatus, MessageTemplate
from campaigns.secrets import secrets_merge
from campaigns.services.guards import whatsapp_window_open
from campaigns.services.hook_secrets import hook_secret
from campaigns.services.inbound import is_opt_out, telegram_link_code
from campaigns.services.links import link_token, link_url, links_wrap
from crm.models import Affiliate, ConsentChange, Event, WebhookDelivery, WebhookEvent
from crm.tests.factories import AffiliateFactory, WebhookSubscriptionFactory

SP = ZoneInfo("America/Sao_Paulo")
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=SP)
TS = str(int(NOW.timestamp()) - 60)
TELEGRAM_SECRET = "tg-hook-secret"  # noqa: S105 - a test value
PHONE = "+5511987654321"


@pytest.fixture
def alpha(udn_a):
    with tenant_context(udn_a), time_machine.travel(NOW, tick=False):
        yield udn_a


@pytest.fixture
def client(alpha) -> Client:
    return Client(HTTP_HOST=alpha.get_primary_domain().domain)


def sent_message(
    affiliate: Affiliate, *, channel: str = "whatsapp", provider_id: str = "wamid.A1"
) -> Message:
    template = MessageTemplate.objects.get_or_create(
        slug=f"t-{channel}",
        defaults={"name": "T", "channel": channel, "body_text": "Oi", "wa_template_name": "t"},
    )[0]
    return Message.objects.create(
        affiliate=affiliate,
        template=template,
        channel=channel,
        source="api",
        status=MessageStatus.SENT,
        provider="sandbox",
        provider_message_id=provider_id,
        sent_at=NOW - timedelta(minutes=10),
    )


# --- WhatsApp -----------------------------------------------------------------------------------


def wa_body(*, statuses=(), messages=()) -> bytes:
    value = {"messaging_product": "whatsapp", "metadata": {"phone_number_id": "100000000000001"}}
    if statuses:
        value["statuses"] = list(statuses)
    if messages:
        value["messages"] = list(messages)
    body = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "messages", "value": value}]}],
    }
    return json.dumps(body).encode()


def wa_status(provider_id: str, status: str, **extra) -> dict:
    return {"id": provider_id, "status": status, "timestamp": TS, "recipient_id": PHONE[1:], **extra}


def wa_text(text: str, *, msg_id: str = "wamid.IN1", sender: str = PHONE[1:]) -> dict:
    return {"from": sender, "id": msg_id, "timestamp": TS, "type": "text", "text": {"body": text}}


def wa_signed(body: bytes) -> str:
    secret = hook_secret(channel="whatsapp", name="app_secret")
    assert secret  # the sandbox's, derived for this UDN
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def wa_post(client: Client, body: bytes, signature: str | None):
    headers = {} if signature is None else {"HTTP_X_HUB_SIGNATURE_256": signature}
    return client.post("/hooks/whatsapp/", body, content_type="application/json", **headers)


def test_a_signed_whatsapp_status_is_applied_and_a_replay_changes_nothing(client):
    message = sent_message(AffiliateFactory())
    body = wa_body(statuses=[wa_status("wamid.A1", "delivered")])

    first = wa_post(client, body, wa_signed(body))
    replay = wa_post(client, body, wa_signed(body))

    assert first.status_code == 200 and first.json()["statuses"] == 1
    assert replay.status_code == 200 and replay.json()["statuses"] == 0
    message.refresh_from_db()
    assert message.status == "delivered" and message.delivered_at == NOW - timedelta(minutes=1)
    assert message.status_changes.count() == 1
    assert Event.objects.filter(event_id=f"msg:{message.pk}:delivered").count() == 1


def test_a_tampered_or_unsigned_whatsapp_post_is_refused_and_changes_nothing(client):
    message = sent_message(AffiliateFactory())
    body = wa_body(statuses=[wa_status("wamid.A1", "read")])
    tampered = body.replace(b'"read"', b'"failed"')

    answers = [
        wa_post(client, tampered, wa_signed(body)),  # signed, then changed
        wa_post(client, body, None),  # no signature
        wa_post(client, body, "sha256=" + "0" * 64),  # a wrong one
        wa_post(client, body, hmac.new(b"another app", body, hashlib.sha256).hexdigest()),
    ]

    assert [a.status_code for a in answers] == [403, 401, 403, 403]
    assert answers[1].json()["error"]["code"] == "signature_missing"
    assert answers[0].json()["error"]["code"] == "signature_invalid"
    message.refresh_from_db()
    assert message.status == "sent" and message.status_changes.count() == 0


def test_a_configured_app_secret_replaces_the_sandbox_one(client):
    ChannelConfig.objects.create(
        channel="whatsapp",
        provider="whatsapp_cloud",
        secrets=secrets_merge("", changes={"app_secret": "meta-app"}),
    )
    message = sent_message(AffiliateFactory())
    body = wa_body(statuses=[wa_status("wamid.A1", "read")])
    meta = "sha256=" + hmac.new(b"meta-app", body, hashlib.sha256).hexdigest()
    sandbox_like = "sha256=" + hmac.new(b"something else", body, hashlib.sha256).hexdigest()

    assert wa_post(client, body, sandbox_like).status_code == 403
    assert wa_post(client, body, meta).status_code == 200
    message.refresh_from_db()
    assert message.status == "read"


def test_the_whatsapp_handshake_echoes_the_challenge_only_for_the_verify_token(client):
    token = hook_secret(channel="whatsapp", name="verify_token")
    ok = client.get(
        "/hooks/whatsapp/",
        {"hub.mode": "subscribe", "hub.verify_token": token, "hub.challenge": "1158201444"},
    )
    wrong = client.get(
        "/hooks/whatsapp/", {"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1"}
    )
    other_mode = client.get(
        "/hooks/whatsapp/", {"hub.mode": "unsubscribe", "hub.verify_token": token, "hub.challenge": "1"}
    )

    assert (ok.status_code, ok.content, ok["Content-Type"]) == (200, b"1158201444", "text/plain")
    assert wrong.status_code == 403 and other_mode.status_code == 403


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"\xff\xfe",
        b"[]",
        b'{"entry": "x"}',
        b'{"entry": [{"changes": [{"value": {"statuses": [{"id": "w", "status": "read", "timestamp": "soon"}]}}]}]}',
        b'{"entry": [{"changes": [{"value": {"messages": [{"from": null, "id": "x", "timestamp": "1"}]}}]}]}',
        b'{"entry": [{"changes": [{"value": {"statuses": [{"id": "'
        + b"w" * 300
        + b'", "status": "read", "timestamp": "1"}]}}]}]}',
    ],
)
def test_garbage_signed_correctly_is_a_400_with_a_json_error(client, body):
    answer = wa_post(client, body, wa_signed(body))
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "bad_payload"


@pytest.mark.parametrize("timestamp", ["-3000000000", "99999999999", "1e9", None])
def test_a_time_no_clock_could_give_is_a_400(client, timestamp):
    message = sent_message(AffiliateFactory())
    body = wa_body(statuses=[wa_status("wamid.A1", "read", timestamp=timestamp)])

    answer = wa_post(client, body, wa_signed(body))

    assert answer.status_code == 400
    message.refresh_from_db()
    assert message.status == "sent"


def test_nul_characters_in_a_provider_error_are_dropped_not_a_500(client):
    message = sent_message(AffiliateFactory())
    error = {"code": 131026, "title": "Undeliver\u0000able", "error_data": {"details": "\u0000"}}
    body = wa_body(statuses=[wa_status("wamid.A1", "failed", errors=[error])])
    assert b"\\u0000" in body  # the JSON escape of NUL reaches the server

    answer = wa_post(client, body, wa_signed(body))

    assert answer.status_code == 200
    message.refresh_from_db()
    assert (message.status, message.error) == ("failed", "131026 Undeliverable")


def test_hooks_need_no_session_and_unknown_channels_are_404(client):
    assert client.post("/hooks/push/", b"{}", content_type="application/json").status_code == 404
    assert client.get("/hooks/sms/").status_code == 405


# --- opt-out replies ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["SAIR", "sair", "  Sáir! ", "PARAR.", "parar", "Stop", "STOP!!", "cancelar", "CANCELÁR", "*Cancelar*"],
)
def test_opt_out_words_in_any_case_accents_and_punctuation(text):
    assert is_opt_out(text)


@pytest.mark.parametrize("text", ["quero sair", "sairr", "não pare", "", "stop it", "cancelado"])
def test_other_replies_are_not_opt_outs(text):
    assert not is_opt_out(text)


def test_a_whatsapp_opt_out_reply_revokes_that_channel_at_once_and_opens_the_window(
    client, django_capture_on_commit_callbacks
):
    WebhookSubscriptionFactory(events=[WebhookEvent.CONSENT_REVOKED.value])
    ana = AffiliateFactory(phone=PHONE, consent_whatsapp=True, consent_sms=True)
    answered = sent_message(ana)
    body = wa_body(messages=[wa_text("  Sáir! ")])

    with django_capture_on_commit_callbacks(execute=True):
        answer = wa_post(client, body, wa_signed(body))
    replay = wa_post(client, body, wa_signed(body))

    assert answer.status_code == 200 and answer.json()["inbound"] == 1
    assert replay.json()["inbound"] == 0
    ana.refresh_from_db()
    assert (ana.consent_whatsapp, ana.consent_sms) == (False, True)
    ledger = ConsentChange.objects.get(affiliate=ana, channel="whatsapp")
    assert (ledger.granted, ledger.source, ledger.proof) == (False, "reply", "  Sáir! ")
    inbound = InboundMessage.objects.get()
    assert (inbound.affiliate_id, inbound.opt_out, inbound.channel) == (ana.pk, True, "whatsapp")
    assert whatsapp_window_open(affiliate=ana, now=NOW)  # any inbound message opens it
    assert not whatsapp_window_open(affiliate=ana, now=NOW + timedelta(hours=25))
    replied = Event.objects.get(event_id=f"msg:{answered.pk}:replied")
    assert replied.type == "message_replied" and replied.properties["opt_out"] is True
    delivery = WebhookDelivery.objects.get(event="consent.revoked")
    assert delivery.payload["channel"] == "whatsapp" and delivery.payload["affiliate"]["id"] == ana.pk


def test_a_plain_reply_keeps_consent_but_opens_the_window(client):
    ana = AffiliateFactory(phone=PHONE, consent_whatsapp=True)
    body = wa_body(messages=[wa_text("quero sair do grupo?")])
    assert not whatsapp_window_open(affiliate=ana, now=NOW)

    assert wa_post(client, body, wa_signed(body)).status_code == 200

    ana.refresh_from_db()
    assert ana.consent_whatsapp is True and not ConsentChange.objects.filter(affiliate=ana).exists()
    assert whatsapp_window_open(affiliate=ana, now=NOW)


# --- SMS (Zenvia) -------------------------------------------------------------------------------


def sms_post(client: Client, payload: dict, token: str | None):
    headers = {} if token is None else {"HTTP_X_WEBHOOK_TOKEN": token}
    return client.post("/hooks/sms/", json.dumps(payload), content_type="application/json", **headers)


def test_zenvia_status_callbacks_need_the_webhook_token(client):
    message = sent_message(AffiliateFactory(), channel="sms", provider_id="zv-1")
    token = hook_secret(channel="sms", name="webhook_token")
    callback = {
        "id": "ev-1",
        "type": "MESSAGE_STATUS",
        "channel": "sms",
        "messageId": "zv-1",
        "messageStatus": {
            "timestamp": "2026-06-01T14:59:00Z",
            "code": "NOT_DELIVERED",
            "description": "Not delivered",
            "causes": [{"reason": "Unreachable handset", "channelErrorCode": "5"}],
        },
    }

    assert sms_post(client, callback, None).status_code == 401
    assert sms_post(client, callback, "guess").status_code == 403
    message.refresh_from_db()
    assert message.status == "sent"
    assert sms_post(client, callback, token).status_code == 200
    message.refresh_from_db()
    assert (message.status, message.error) == ("failed", "Unreachable handset")
    assert message.failed_at == datetime(2026, 6, 1, 14, 59, tzinfo=ZoneInfo("UTC"))


def test_a_zenvia_inbound_parar_revokes_sms(client):
    bruno = AffiliateFactory(phone=PHONE, consent_sms=True, consent_whatsapp=True)
    inbound = {
        "type": "MESSAGE",
        "message": {
            "id": "zv-in-1",
            "from": PHONE[1:],
            "to": "UDN",
            "direction": "IN",
            "channel": "sms",
            "contents": [{"type": "text", "text": "PARAR"}],
            "timestamp": "2026-06-01T14:58:00Z",
        },
    }

    answer = sms_post(client, inbound, hook_secret(channel="sms", name="webhook_token"))

    assert answer.status_code == 200
    bruno.refresh_from_db()
    assert (bruno.consent_sms, bruno.consent_whatsapp) == (False, True)
    assert (
        sms_post(client, {"type": "SOMETHING"}, hook_secret(channel="sms", name="webhook_token")).status_code
        == 400
    )


# --- Telegram -----------------------------------------------------------------------------------


@pytest.fixture
def telegram(alpha):
    ChannelConfig.objects.create(
        channel="telegram",
        provider="telegram",
        secrets=secrets_merge("", changes={"bot_token": "1:abc", "webhook_secret_token": TELEGRAM_SECRET}),
    )


def tg_post(
    client: Client,
    text: str,
    *,
    chat: int = 777001,
    message_id: int = 1,
    secret: str | None = TELEGRAM_SECRET,
):
    update = {
        "update_id": 9000 + message_id,
        "message": {
            "message_id": message_id,
            "chat": {"id": chat, "type": "private"},
            "date": int(TS),
            "text": text,
        },
    }
    headers = {} if secret is None else {"HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN": secret}
    return client.post("/hooks/telegram/", json.dumps(update), content_type="application/json", **headers)


def test_telegram_start_with_a_signed_code_links_the_chat_then_sair_revokes_it(client, telegram):
    carla = AffiliateFactory()
    code = telegram_link_code(affiliate_id=carla.pk)
    assert len(code) <= 64 and code.replace("-", "").replace("_", "").isalnum()

    assert tg_post(client, f"/start {code}", secret=None).status_code == 401
    assert tg_post(client, f"/start {code}", secret="wrong").status_code == 403
    assert tg_post(client, f"/start {carla.pk}-{'0' * 24}").status_code == 200  # a forged code: nothing
    carla.refresh_from_db()
    assert carla.telegram_chat_id == "" and not carla.consent_telegram

    assert tg_post(client, f"/start {code}", message_id=2).status_code == 200
    carla.refresh_from_db()
    assert (carla.telegram_chat_id, carla.consent_telegram) == ("777001", True)

    assert tg_post(client, "Sair", message_id=3).status_code == 200
    carla.refresh_from_db()
    assert carla.consent_telegram is False
    assert InboundMessage.objects.get().provider_message_id == "tg:777001:3"


def test_a_telegram_link_code_of_another_udn_links_nothing(client, telegram, udn_b):
    carla = AffiliateFactory()
    with tenant_context(udn_b):
        foreign = telegram_link_code(affiliate_id=carla.pk)
    assert tg_post(client, f"/start {foreign}").status_code == 200
    carla.refresh_from_db()
    assert carla.telegram_chat_id == ""


# --- tracked links ------------------------------------------------------------------------------


def test_a_signed_link_records_the_click_and_redirects_to_the_signed_url(client):
    message = sent_message(AffiliateFactory())
    target = "https://app.example.com/oferta?x=1&y=2"
    url = link_url(message_id=message.pk, url=target, base_url="http://alpha.localhost")

    answer = client.get(url.removeprefix("http://alpha.localhost"))

    assert answer.status_code == 302 and answer["Location"] == target
    message.refresh_from_db()
    assert message.status == "clicked" and message.clicked_at == NOW
    assert Event.objects.filter(event_id=f"msg:{message.pk}:clicked").exists()
    assert client.get(url.removeprefix("http://alpha.localhost")).status_code == 302  # twice: one status
    assert message.status_changes.filter(status="clicked").count() == 1


def test_an_unsigned_or_altered_link_is_a_404_and_records_nothing(client, udn_b):
    message = sent_message(AffiliateFactory())
    token = link_token(message_id=message.pk, url="https://app.example.com/")
    with tenant_context(udn_b):
        foreign = link_token(message_id=message.pk, url="https://app.example.com/")
    altered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")

    for bad in (altered, foreign, "https:evil.example", "x"):
        assert client.get(f"/r/{bad}/").status_code == 404
    message.refresh_from_db()
    assert message.status == "sent" and message.status_changes.count() == 0


def test_links_in_text_and_html_are_wrapped_but_own_links_are_not():
    base = "https://alpha.example"
    text = "Veja https://app.example.com/a?b=1. E saia em https://alpha.example/u/x/"
    wrapped = links_wrap(text=text, message_id=7, base_url=base)
    html = links_wrap(
        text='<a href="https://app.example.com/a?b=1&amp;c=2">ir</a>',
        message_id=7,
        base_url=base,
        is_html=True,
    )

    assert wrapped.startswith("Veja https://alpha.example/r/") and wrapped.count("/r/") == 1
    assert wrapped.endswith(". E saia em https://alpha.example/u/x/")
    assert html.startswith('<a href="https://alpha.example/r/') and "&amp;" not in html
