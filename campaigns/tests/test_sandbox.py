"""The sandbox process calls statuses back as the providers do: WhatsApp's signed `statuses`
webhooks (sent → delivered → read, or failed), Zenvia's MESSAGE_STATUS events with the
subscription's token header; it refuses a UDN that does not exist."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import urllib3
from django.conf import settings
from django_tenants.utils import schema_context

from campaigns.models import ChannelConfig
from campaigns.providers.base import OutgoingMessage, channel_access, provider_for
from campaigns.providers.sms import WEBHOOK_TOKEN_HEADER
from campaigns.providers.whatsapp import SIGNATURE_HEADER, whatsapp_signature_valid
from campaigns.services.channels import ChannelChange, channel_configure
from tenants.tests.helpers import wait_for

pytestmark = pytest.mark.usefixtures("sandbox_process")


class Receiver:
    """A webhook receiver on this machine: keeps each POST's path, headers and raw body."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, str], bytes]] = []
        calls = self.calls

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                calls.append((self.path, dict(self.headers.items()), body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.server.shutdown()


@pytest.fixture
def alpha(committed) -> Iterator[None]:
    with schema_context("alpha"):
        yield
        ChannelConfig.objects.all().delete()


def hooked(channel: str, receiver: Receiver) -> None:
    """The sandbox channel, its callbacks registered at the receiver (as in a provider's dashboard)."""
    channel_configure(
        channel=channel,
        change=ChannelChange(settings={"webhook_url": f"{receiver.url}/hooks/{channel}/"}),
        updated_by="test",
    )


def send(channel: str, address: str, payload: dict) -> tuple[str, str]:
    key = str(uuid.uuid4())
    [result] = provider_for(channel).send([OutgoingMessage(1, key, channel, address, payload)])
    assert result.ok, result.error
    return key, result.provider_message_id


def test_whatsapp_statuses_come_back_signed_sent_delivered_read(alpha, receiver):
    hooked("whatsapp", receiver)
    key, wamid = send("whatsapp", "5511987650001", {"type": "text", "text": {"body": "Oi, Ana"}})
    assert wait_for(lambda: len(receiver.calls) >= 3, timeout=15)
    app_secret = channel_access("whatsapp").secret("app_secret")
    statuses = []
    for path, headers, body in receiver.calls:
        assert path == "/hooks/whatsapp/"
        assert whatsapp_signature_valid(app_secret=app_secret, body=body, header=headers[SIGNATURE_HEADER])
        assert not whatsapp_signature_valid(
            app_secret=app_secret, body=body + b" ", header=headers[SIGNATURE_HEADER]
        )
        payload = json.loads(body)
        assert payload["object"] == "whatsapp_business_account"
        [entry] = payload["entry"]
        [change] = entry["changes"]
        assert change["field"] == "messages"
        [status] = change["value"]["statuses"]
        assert (status["id"], status["recipient_id"], status["biz_opaque_callback_data"]) == (
            wamid,
            "5511987650001",
            key,
        )
        assert status["timestamp"].isdigit()
        statuses.append(status["status"])
    assert statuses == ["sent", "delivered", "read"]


def test_an_undeliverable_whatsapp_number_gets_a_failed_status_with_its_error(alpha, receiver):
    hooked("whatsapp", receiver)
    _key, wamid = send("whatsapp", "5511900000001", {"type": "text", "text": {"body": "Oi"}})
    assert wait_for(lambda: len(receiver.calls) >= 1, timeout=15)
    [status] = json.loads(receiver.calls[0][2])["entry"][0]["changes"][0]["value"]["statuses"]
    assert (status["id"], status["status"], status["errors"][0]["code"]) == (wamid, "failed", 131026)


def test_zenvia_statuses_come_back_with_the_subscription_token(alpha, receiver):
    hooked("sms", receiver)
    _key, delivered_id = send("sms", "5511987650002", {"text": "Oi"})
    _key, failed_id = send("sms", "5511900000001", {"text": "Oi"})
    assert wait_for(lambda: len(receiver.calls) >= 4, timeout=15)
    token = channel_access("sms").secret("webhook_token")
    events: dict[str, list[str]] = {}
    for path, headers, body in receiver.calls:
        assert path == "/hooks/sms/" and headers[WEBHOOK_TOKEN_HEADER] == token
        event = json.loads(body)
        assert (event["type"], event["channel"], event["contentIndex"]) == ("MESSAGE_STATUS", "sms", 0)
        events.setdefault(event["messageId"], []).append(event["messageStatus"]["code"])
    assert events == {delivered_id: ["SENT", "DELIVERED"], failed_id: ["SENT", "NOT_DELIVERED"]}


def test_the_sandbox_refuses_a_udn_that_does_not_exist(alpha):
    http = urllib3.PoolManager()
    base = f"http://127.0.0.1:{settings.SANDBOX_HTTP_PORT}/udn/nope"
    response = http.request(
        "POST", f"{base}/v2/channels/sms/messages", body=b"{}", headers={"X-API-TOKEN": "x"}
    )
    assert response.status == 404
    access = channel_access("sms")
    wrong_udn = http.request(
        "POST",
        f"http://127.0.0.1:{settings.SANDBOX_HTTP_PORT}/udn/beta/v2/channels/sms/messages",
        body=json.dumps({"from": "UDN", "to": "5511987650003", "contents": [{"type": "text", "text": "x"}]}),
        headers={"X-API-TOKEN": access.secret("api_token"), "Content-Type": "application/json"},
    )
    assert wrong_udn.status == 401  # alpha's token is not beta's


def test_a_person_writing_to_the_sandbox_bot_reaches_the_udns_telegram_hook_with_its_secret_token(
    alpha, web_server
):
    """The sandbox's Telegram has a webhook secret token (derived, as its other credentials), so an
    update it delivers passes /hooks/telegram/: "/start <code>" from the app's link links the chat,
    then "SAIR" revokes the consent, through the real web server."""
    from campaigns.models import InboundMessage
    from campaigns.services.inbound import telegram_link_code
    from crm.models import Affiliate
    from crm.tests.factories import AffiliateFactory

    access = channel_access("telegram")
    assert access.is_sandbox and len(access.secret("webhook_secret_token")) >= 32
    carla = AffiliateFactory(consent_telegram=False)
    chat = "777123"
    try:
        http = urllib3.PoolManager()
        url = f"{access.setting('base_url')}/bot{access.secret('bot_token')}/sandbox/receive"

        def write(text: str) -> int:
            body = json.dumps({"chat_id": chat, "text": text}).encode()
            return http.request("POST", url, body=body, headers={"Content-Type": "application/json"}).status

        assert write(f"/start {telegram_link_code(affiliate_id=carla.pk)}") == 200
        assert wait_for(lambda: Affiliate.objects.get(pk=carla.pk).telegram_chat_id == chat, timeout=15)
        assert Affiliate.objects.get(pk=carla.pk).consent_telegram is True
        assert write("SAIR") == 200
        assert wait_for(lambda: Affiliate.objects.get(pk=carla.pk).consent_telegram is False, timeout=15)
        assert InboundMessage.objects.filter(from_address=chat, affiliate_id=carla.pk).count() == 1
        wrong = http.request(
            "POST",
            url.replace(access.secret("bot_token"), "100000001:wrong"),
            body=b'{"chat_id": "1", "text": "oi"}',
            headers={"Content-Type": "application/json"},
        )
        assert wrong.status == 401
    finally:
        InboundMessage.objects.filter(from_address=chat).delete()
        Affiliate.objects.filter(pk=carla.pk).delete()
