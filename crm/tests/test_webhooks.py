"""Outbound webhooks: deliveries go to a real HTTP server on loopback, signed; failures retry
with backoff (time driven by time_machine) and end failed; senders claim with SKIP LOCKED;
stage changes and events enqueue deliveries; the API and the UI page."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import time_machine
from django.db import connection
from django.utils import translation
from django_tenants.utils import tenant_context

from crm.models import (
    Affiliate,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookSubscription,
)
from crm.outbound import address_is_public
from crm.services.events import EventInput, events_ingest
from crm.services.webhooks import (
    BACKOFF,
    MAX_ATTEMPTS,
    RESPONSE_KEEP_BYTES,
    SECRET_OVERLAP,
    WebhookError,
    webhook_deliveries_enqueue,
    webhook_deliveries_purge,
    webhook_deliveries_send_due,
    webhook_delivery_redeliver,
    webhook_signature,
    webhook_subscription_create,
    webhook_subscription_rotate_secret,
)
from crm.tests.helpers import Api, error_of, make_key, resolving
from tenants.models import UDN

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
PAST = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)  # events must not be in the future


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A real HTTP server on 127.0.0.1: records each POST and answers with the next of
    `statuses` (the last one repeats)."""

    url: str
    requests: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=lambda: [200])
    reply: bytes = b'{"ok": true}'
    arrived: threading.Event = field(default_factory=threading.Event)
    stall: bool = False  # send the headers and part of the body, then hang until teardown
    release: threading.Event = field(default_factory=threading.Event)
    headers: dict[str, str] = field(default_factory=dict)  # extra response headers
    connections: int = 0  # TCP connections accepted, whether or not a request followed

    def next_status(self) -> int:
        return self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def setup(self) -> None:
            with lock:
                state.connections += 1
            super().setup()

        def do_POST(self) -> None:  # noqa: N802 - http.server's hook name
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with lock:
                state.requests.append(Received(dict(self.headers.items()), body))
                code = state.next_status()
                state.arrived.set()
            self.send_response(code)
            if state.stall:
                self.send_header("Content-Length", "1000")
                self.end_headers()
                self.wfile.write(b"partial")
                self.wfile.flush()
                state.release.wait(timeout=30)
                return
            self.send_header("Content-Type", "application/json")
            for name, value in state.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(state.reply)))
            self.end_headers()
            self.wfile.write(state.reply)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    state.release.set()
    server.shutdown()
    server.server_close()


def subscribe(url: str, events: list[str] | None = None) -> WebhookSubscription:
    return webhook_subscription_create(
        url=url, events=events or ["affiliate.stage_changed"], created_by="marina@alpha.test"
    )


def enqueue_at(moment: datetime, payload: dict) -> int:
    """Queue at a fixed moment: due times come from the app's clock, which tests drive."""
    with time_machine.travel(moment, tick=False):
        return webhook_deliveries_enqueue(event="affiliate.stage_changed", payload=payload)


def signature_parts(received: Received) -> tuple[str, list[str]]:
    """(t, [v1, ...]) of the X-UDN-Signature header, as a receiver reads it."""
    items = [item.split("=", 1) for item in received.headers["X-UDN-Signature"].split(",")]
    (timestamp,) = [value for key, value in items if key == "t"]
    return timestamp, [value for key, value in items if key == "v1"]


def signature_ok(secret: str, received: Received) -> bool:
    """What a receiver does: the request is genuine when any v1 matches the secret."""
    timestamp, macs = signature_parts(received)
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + received.body, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(mac, expected) for mac in macs)


# --- where deliveries may go (SSRF) -------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hooks",
        "http://localhost/hooks",
        "http://10.1.2.3/hooks",
        "http://192.168.0.10/hooks",
        "http://169.254.169.254/latest/meta-data/",  # cloud metadata
        "http://[::1]/hooks",
        "http://0.0.0.0/hooks",
    ],
)
def test_a_private_or_local_address_is_refused_when_subscribing(udn_a, settings, url):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    with tenant_context(udn_a), translation.override("en"):
        with pytest.raises(WebhookError, match="private or local address") as refused:
            subscribe(url)
        assert refused.value.field == "url"
        assert not WebhookSubscription.objects.exists()


def test_a_public_address_is_accepted(udn_a, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    with tenant_context(udn_a):
        assert subscribe("https://93.184.216.34/hooks").active


def test_an_address_that_turned_private_is_not_called_and_the_attempt_is_retried(udn_a, receiver, settings):
    """DNS can change after subscribing: every attempt checks the address again."""
    with tenant_context(udn_a):
        subscribe(receiver.url)
        enqueue_at(T0, {"n": 1})
        settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
        with time_machine.travel(T0, tick=False), translation.override("en"):
            assert webhook_deliveries_send_due() == 0
        delivery = WebhookDelivery.objects.get()

    assert receiver.requests == []
    assert delivery.status == WebhookDeliveryStatus.PENDING
    assert "private or local address" in delivery.last_error
    assert delivery.next_attempt_at == T0 + BACKOFF[0]


def test_the_api_refuses_a_private_address_with_the_url_field(udn_a, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    api = Api(udn_a, make_key(udn_a, ["webhooks:manage"]))
    response = api.post("/api/v1/webhooks/", {"url": "http://10.0.0.7/h", "events": ["event.received"]})
    assert response.status_code == 400
    assert error_of(response)["field"] == "url"
    assert "private or local address" in error_of(response)["message"]


def stored(url: str) -> WebhookSubscription:
    """A subscription row as one made before the URL rules were tightened (no checks)."""
    return WebhookSubscription.objects.create(url=url, events=["affiliate.stage_changed"], secret="whsec_old")


def send_one_to(url: str) -> WebhookDelivery:
    """Store a subscription of `url` as it is, queue one delivery, run the sender once."""
    stored(url)
    enqueue_at(T0, {"n": 1})
    with time_machine.travel(T0, tick=False), translation.override("en"):
        webhook_deliveries_send_due()
    return WebhookDelivery.objects.get()


def test_backslash_at_url_never_reaches_loopback(udn_a, receiver, settings):
    """urlsplit reads the host of `http://127.0.0.1:<port>\\@1.1.1.1/x` as 1.1.1.1 (public),
    requests/urllib3 connected to 127.0.0.1:<port> and the answer landed in the log."""
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    port = receiver.url.split(":")[2].split("/")[0]
    url = f"http://127.0.0.1:{port}\\@1.1.1.1/x"
    receiver.reply = b"internal secrets"
    with tenant_context(udn_a):
        with translation.override("pt-br"), pytest.raises(WebhookError) as refused:
            subscribe(url)
        assert refused.value.field == "url"
        assert "barras invertidas" in str(refused.value)
        assert not WebhookSubscription.objects.exists()

        delivery = send_one_to(url)  # a row stored before the fix is refused at send time too

    assert receiver.connections == 0 and receiver.requests == []
    assert delivery.status == "pending" and delivery.last_status_code is None
    assert delivery.last_response == ""
    assert "backslashes" in delivery.last_error


@pytest.mark.parametrize(
    ("form", "reason"),
    [
        ("http://0x7f.1:{port}/x", "private or local address (127.0.0.1)"),  # hex, short form
        ("http://2130706433:{port}/x", "private or local address (127.0.0.1)"),  # decimal
        ("http://0177.0.0.1:{port}/x", "private or local address (127.0.0.1)"),  # octal
        ("http://127.1:{port}/x", "private or local address (127.0.0.1)"),
        ("http://localhost:{port}/x", "private or local address (127.0.0.1)"),
        # The absolute name: private where the resolver knows it, else it does not resolve.
        ("http://localhost.:{port}/x", "private or local address (127.0.0.1)|does not resolve"),
        ("http://[::1]:{port}/x", "private or local address (::1)"),
        ("http://[::ffff:127.0.0.1]:{port}/x", "private or local address (::ffff:127.0.0.1)"),
        ("http://user@127.0.0.1:{port}/x", "user name or password"),
        ("http://127.0.0.1:{port}@1.1.1.1/x", "user name or password"),
        ("http://127.0.0.1:{port}/x\ty", "spaces, backslashes or control characters"),
        ("HTTP://127.0.0.1:{port}/x", "private or local address (127.0.0.1)"),
    ],
)
def test_tricky_loopback_urls_never_reach_the_receiver(udn_a, receiver, settings, form, reason):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    port = receiver.url.split(":")[2].split("/")[0]
    url = form.format(port=port)
    with tenant_context(udn_a):
        with translation.override("en"), pytest.raises(WebhookError) as refused:
            subscribe(url)
        assert refused.value.field == "url"
        assert any(part in str(refused.value) for part in reason.split("|")), str(refused.value)

        delivery = send_one_to(url)

    assert receiver.connections == 0 and receiver.requests == []
    assert delivery.status == "pending"
    assert any(part in delivery.last_error for part in reason.split("|")), delivery.last_error


def test_a_dns_name_resolving_to_loopback_is_refused(udn_a, receiver, settings, monkeypatch):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    resolving(monkeypatch, {"hooks.partner-rebind.test": "127.0.0.1"})
    port = receiver.url.split(":")[2].split("/")[0]
    url = f"http://hooks.partner-rebind.test:{port}/x"
    with tenant_context(udn_a):
        with translation.override("en"), pytest.raises(WebhookError, match="private or local address"):
            subscribe(url)
        delivery = send_one_to(url)
    assert receiver.connections == 0
    assert "private or local address (127.0.0.1)" in delivery.last_error


def test_the_connection_goes_to_the_address_checked_with_the_urls_host(udn_a, receiver, monkeypatch):
    """One resolution per attempt (a DNS answer changed after the check is never used), the
    connection to that address, and the URL's host in the Host header."""
    asked = resolving(monkeypatch, {"hooks.partner.test": "127.0.0.1"})
    port = receiver.url.split(":")[2].split("/")[0]
    with tenant_context(udn_a):
        sub = subscribe(f"http://hooks.partner.test:{port}/in?x=1")
        enqueue_at(T0, {"n": 1})
        asked.clear()
        with time_machine.travel(T0, tick=False):
            assert webhook_deliveries_send_due() == 1
    assert asked == ["hooks.partner.test"]
    (received,) = receiver.requests
    assert received.headers["Host"] == f"hooks.partner.test:{port}"
    assert signature_ok(sub.secret, received)


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("2606:4700:4700::1111", True),
        ("127.0.0.1", False),
        ("10.0.0.1", False),
        ("100.64.0.1", False),  # carrier-grade NAT
        ("169.254.169.254", False),  # cloud metadata
        ("224.0.0.1", False),  # multicast: ipaddress calls it global on Python 3.11
        ("240.0.0.1", False),  # reserved
        ("255.255.255.255", False),
        ("0.0.0.0", False),  # noqa: S104 - an address under test, not a bind
        ("198.51.100.7", False),  # documentation
        ("::1", False),
        ("::", False),
        ("fe80::1", False),
        ("fd00::1", False),
        ("ff02::1", False),
        ("::ffff:127.0.0.1", False),  # IPv4-mapped loopback
        ("2002:7f00:1::", False),  # 6to4 of 127.0.0.1: ipaddress calls it global on Python 3.11
        ("64:ff9b::a9fe:a9fe", False),  # NAT64 of 169.254.169.254
        ("64:ff9b::5db8:d822", False),  # NAT64 goes through a gateway of our own network
    ],
)
def test_which_addresses_count_as_public(address, public):
    assert address_is_public(ipaddress.ip_address(address)) is public


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://93.184.216.34/hooks", "A URL deve começar com http:// ou https://."),
        ("file:///etc/passwd", "A URL deve começar com http:// ou https://."),
        ("http://93.184.216.34:25/hooks", "A porta 25 não é permitida"),
        ("http://93.184.216.34:0/hooks", "A porta não é válida."),
        ("http://93.184.216.34:99999/hooks", "A URL não é válida."),
        ("http://bad_host!.example/hooks", "não é um nome válido"),
        ("https://u:p@93.184.216.34/hooks", "usuário ou senha"),
    ],
)
def test_bad_urls_are_refused_in_portuguese_when_subscribing(udn_a, settings, url, message):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    with tenant_context(udn_a), translation.override("pt-br"), pytest.raises(WebhookError) as refused:
        subscribe(url)
    assert refused.value.field == "url"
    assert message in str(refused.value)


def test_ports_of_1024_and_up_and_the_web_ports_are_accepted(udn_a, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    with tenant_context(udn_a):
        for url in ("http://93.184.216.34/h", "https://93.184.216.34:443/h", "https://93.184.216.34:8443/h"):
            assert subscribe(url).url == url


def test_a_redirect_is_not_followed(udn_a, receiver):
    receiver.statuses = [302]
    receiver.headers = {"Location": receiver.url.replace("/hooks", "/elsewhere")}
    with tenant_context(udn_a):
        subscribe(receiver.url)
        enqueue_at(T0, {"n": 1})
        with time_machine.travel(T0, tick=False):
            assert webhook_deliveries_send_due() == 0
        delivery = WebhookDelivery.objects.get()
    assert len(receiver.requests) == 1
    assert (delivery.status, delivery.last_status_code, delivery.last_error) == ("pending", 302, "HTTP 302")


def test_the_log_keeps_a_bounded_printable_excerpt_of_the_answer(udn_a, receiver):
    receiver.reply = b"ok\x00\x1b[31m red\x07\n" + "çã".encode() + b"y" * (2 * RESPONSE_KEEP_BYTES)
    with tenant_context(udn_a):
        subscribe(receiver.url)
        enqueue_at(T0, {"n": 1})
        with time_machine.travel(T0, tick=False):
            assert webhook_deliveries_send_due() == 1
        kept = WebhookDelivery.objects.get().last_response
    assert kept.startswith("ok[31m red\nçãyyy")
    assert len(kept.encode()) <= RESPONSE_KEEP_BYTES


# --- sending ------------------------------------------------------------------------------------


def test_a_delivery_is_posted_signed_with_the_subscription_secret(udn_a, receiver):
    with tenant_context(udn_a):
        sub = subscribe(receiver.url)
        other = subscribe(receiver.url, ["event.received"])  # not listening to this event
        assert enqueue_at(T0, {"n": 1}) == 1

        with time_machine.travel(T0, tick=False):
            assert webhook_deliveries_send_due() == 1

        delivery = WebhookDelivery.objects.get()
        assert delivery.subscription_id == sub.pk != other.pk
        assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 1, 200)
        assert delivery.delivered_at == T0
        assert delivery.last_response == '{"ok": true}'
    (received,) = receiver.requests
    assert received.headers["X-UDN-Event"] == "affiliate.stage_changed"
    assert received.headers["X-UDN-Delivery"] == str(delivery.pk)
    assert received.headers["X-UDN-Signature"].startswith(f"t={int(T0.timestamp())},v1=")
    assert signature_ok(sub.secret, received)
    assert not signature_ok(other.secret, received)
    body = json.loads(received.body)
    assert (body["id"], body["event"], body["data"], body["udn"]) == (
        delivery.pk,
        "affiliate.stage_changed",
        {"n": 1},
        udn_a.schema_name,
    )


def test_a_500_is_retried_after_the_backoff_and_the_response_is_kept(udn_a, receiver):
    receiver.statuses = [500, 200]
    receiver.reply = b"x" * (RESPONSE_KEEP_BYTES + 1000)
    with tenant_context(udn_a):
        subscribe(receiver.url)
        enqueue_at(T0, {"n": 1})

        with time_machine.travel(T0, tick=False):
            assert webhook_deliveries_send_due() == 0
        delivery = WebhookDelivery.objects.get()
        assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, 500)
        assert delivery.next_attempt_at == T0 + BACKOFF[0] == T0 + timedelta(minutes=1)
        assert delivery.last_response == "x" * RESPONSE_KEEP_BYTES

        with time_machine.travel(T0 + timedelta(seconds=59), tick=False):
            assert webhook_deliveries_send_due() == 0  # not due yet: nothing is sent
        assert len(receiver.requests) == 1

        with time_machine.travel(T0 + timedelta(minutes=1), tick=False):
            assert webhook_deliveries_send_due() == 1
        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 2, 200)
        assert delivery.last_error == ""
    assert len(receiver.requests) == 2
    assert receiver.requests[0].headers["X-UDN-Delivery"] == receiver.requests[1].headers["X-UDN-Delivery"]


def test_a_delivery_is_failed_after_the_last_attempt(udn_a, receiver):
    receiver.statuses = [503]
    with tenant_context(udn_a):
        subscribe(receiver.url)
        enqueue_at(T0, {"n": 1})
        now = T0
        waits = []
        for _attempt in range(MAX_ATTEMPTS):
            with time_machine.travel(now, tick=False):
                assert webhook_deliveries_send_due() == 0
            delivery = WebhookDelivery.objects.get()
            if delivery.next_attempt_at is not None:
                waits.append(delivery.next_attempt_at - now)
                now = delivery.next_attempt_at

        assert waits == list(BACKOFF)
        assert (delivery.status, delivery.attempts) == ("failed", MAX_ATTEMPTS)
        assert (delivery.next_attempt_at, delivery.last_status_code, delivery.last_error) == (
            None,
            503,
            "HTTP 503",
        )
        with time_machine.travel(now + timedelta(days=2), tick=False):
            assert webhook_deliveries_send_due() == 0
    assert len(receiver.requests) == MAX_ATTEMPTS == 6


def test_an_unreachable_url_is_retried_with_the_error_kept(udn_a, receiver):
    with tenant_context(udn_a):
        subscribe("http://127.0.0.1:9/closed")  # discard port: nobody listens
        enqueue_at(T0, {})
        with time_machine.travel(T0, tick=False):
            assert webhook_deliveries_send_due() == 0
        delivery = WebhookDelivery.objects.get()
        assert (delivery.status, delivery.last_status_code) == ("pending", None)
        assert "ConnectionError" in delivery.last_error
        assert delivery.next_attempt_at == T0 + BACKOFF[0]


def test_a_response_that_hangs_mid_body_is_a_retry_not_a_crash(udn_a, receiver, monkeypatch):
    monkeypatch.setattr("crm.services.webhooks.TIMEOUT_SECONDS", 0.3)
    receiver.stall = True
    with tenant_context(udn_a):
        subscribe(receiver.url)
        enqueue_at(T0, {"n": 1})
        enqueue_at(T0, {"n": 2})
        with time_machine.travel(T0, tick=False):
            assert webhook_deliveries_send_due() == 0
        rows = list(WebhookDelivery.objects.order_by("id"))
    assert len(receiver.requests) == 2  # the first hang did not stop the second delivery
    assert all(r.status == "pending" and r.attempts == 1 for r in rows)
    assert all("Timeout" in r.last_error and r.next_attempt_at == T0 + BACKOFF[0] for r in rows)


# --- claiming with SKIP LOCKED (committed data, several connections) -------------------------------


@pytest.fixture
def alpha_committed(django_db_setup, committed, monkeypatch) -> UDN:
    monkeypatch.setattr("crm.tasks.webhooks.webhooks_send.delay", lambda: None)  # no broker here
    alpha = UDN.objects.get(slug="alpha")

    def cleanup() -> None:
        with tenant_context(alpha):
            WebhookSubscription.objects.all().delete()

    committed.append(cleanup)
    return alpha


def test_a_row_locked_by_another_sender_is_skipped_not_waited_for(alpha_committed, receiver):
    with tenant_context(alpha_committed):
        subscribe(receiver.url)
        webhook_deliveries_enqueue(event="affiliate.stage_changed", payload={"n": 1})
        webhook_deliveries_enqueue(event="affiliate.stage_changed", payload={"n": 2})
        first, second = WebhookDelivery.objects.order_by("id")

    locked, release = threading.Event(), threading.Event()

    def other_sender() -> None:
        try:
            with tenant_context(alpha_committed), connection.cursor() as cursor:
                cursor.execute("BEGIN")
                cursor.execute("SELECT id FROM crm_webhookdelivery WHERE id = %s FOR UPDATE", [first.pk])
                locked.set()
                release.wait(timeout=30)
                cursor.execute("COMMIT")
        finally:
            locked.set()
            connection.close()

    thread = threading.Thread(target=other_sender)
    thread.start()
    try:
        assert locked.wait(timeout=30)
        with tenant_context(alpha_committed):
            assert webhook_deliveries_send_due() == 1
    finally:
        release.set()
        thread.join()
    assert [json.loads(r.body)["id"] for r in receiver.requests] == [second.pk]
    with tenant_context(alpha_committed):
        assert webhook_deliveries_send_due() == 1
        assert webhook_deliveries_send_due() == 0
        assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"delivered"}
    assert sorted(json.loads(r.body)["id"] for r in receiver.requests) == [first.pk, second.pk]


def test_two_senders_at_once_never_deliver_a_row_twice(alpha_committed, receiver):
    with tenant_context(alpha_committed):
        subscribe(receiver.url)
        for n in range(12):
            webhook_deliveries_enqueue(event="affiliate.stage_changed", payload={"n": n})
        ids = set(WebhookDelivery.objects.values_list("id", flat=True))

    together = threading.Barrier(2)
    sent: list[int] = []
    errors: list[BaseException] = []

    def sender() -> None:
        try:
            with tenant_context(alpha_committed):
                together.wait(timeout=30)
                while (n := webhook_deliveries_send_due(limit=3)) > 0:
                    sent.append(n)
        except BaseException as exc:  # re-raised below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=sender) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    delivered_ids = [json.loads(r.body)["id"] for r in receiver.requests]
    assert sorted(delivered_ids) == sorted(ids)  # every row once, none twice
    assert sum(sent) == len(ids) == 12


# --- hooks: ingest enqueues -------------------------------------------------------------------------


def test_a_stage_change_through_events_ingest_enqueues_affiliate_stage_changed(
    udn_a, django_capture_on_commit_callbacks, monkeypatch
):
    queued: list[str] = []
    monkeypatch.setattr("crm.tasks.webhooks.webhooks_send.delay", lambda: queued.append("send"))
    with tenant_context(udn_a):
        stages = subscribe("https://partner.example.com/stages")
        events_sub = subscribe("https://partner.example.com/events", ["event.received"])
        paused = subscribe(
            "https://partner.example.com/paused", ["affiliate.stage_changed", "event.received"]
        )
        WebhookSubscription.objects.filter(pk=paused.pk).update(active=False)
        joana = Affiliate.objects.create(external_id="C-1", name="Joana da Silva")
        item = EventInput(
            event_id="pay-1",
            type="cash_in",
            occurred_at=PAST,
            external_id="C-1",
            properties={"amount": "150.00"},
        )

        with django_capture_on_commit_callbacks(execute=True):
            events_ingest(items=[item], source="test")

        change = WebhookDelivery.objects.get(subscription=stages)
        assert change.event == "affiliate.stage_changed"
        assert change.payload == {
            "affiliate": {"id": joana.pk, "external_id": "C-1"},
            "old_stage": "lead",
            "new_stage": "cash_in",
            "changed_at": "2026-11-01T12:00:00Z",
        }
        received = WebhookDelivery.objects.get(subscription=events_sub)
        assert received.event == "event.received"
        assert received.payload["id"] == "pay-1"
        assert received.payload["type"] == "cash_in"
        assert received.payload["amount"] == "150.00"
        assert received.payload["affiliate"] == {"id": joana.pk, "external_id": "C-1"}
        assert not WebhookDelivery.objects.filter(subscription=paused).exists()
        assert all(d.status == "pending" and d.next_attempt_at for d in WebhookDelivery.objects.all())
    assert queued  # a send was queued at once after commit


def test_ingest_with_no_subscription_enqueues_nothing(udn_a, django_capture_on_commit_callbacks, monkeypatch):
    queued: list[str] = []
    monkeypatch.setattr("crm.tasks.webhooks.webhooks_send.delay", lambda: queued.append("send"))
    with tenant_context(udn_a):
        Affiliate.objects.create(external_id="C-1", name="Joana da Silva")
        item = EventInput(event_id="app-1", type="app_activated", occurred_at=PAST, external_id="C-1")
        with django_capture_on_commit_callbacks(execute=True):
            events_ingest(items=[item], source="test")
        assert WebhookDelivery.objects.count() == 0
    assert queued == []


# --- API ------------------------------------------------------------------------------------------


def test_the_api_creates_and_lists_subscriptions_with_the_scope(udn_a):
    api = Api(udn_a, make_key(udn_a, ["webhooks:manage"]))

    created = api.post(
        "/api/v1/webhooks/", {"url": "https://partner.example.com/h", "events": ["affiliate.stage_changed"]}
    )

    assert created.status_code == 201
    body = created.json()
    assert body["secret"].startswith("whsec_") and body["active"] is True
    assert body["created_by"].startswith("api:")
    listed = api.get("/api/v1/webhooks/")
    assert listed.status_code == 200
    assert [s["id"] for s in listed.json()["results"]] == [body["id"]]
    with tenant_context(udn_a):
        assert WebhookSubscription.objects.get().events == ["affiliate.stage_changed"]


def test_the_api_refuses_bad_subscriptions_with_the_field(udn_a):
    api = Api(udn_a, make_key(udn_a, ["webhooks:manage"]))
    cases = [
        ({"url": "not a url", "events": ["event.received"]}, "url"),
        ({"url": "https://p.example.com", "events": ["nope"]}, "events[0]"),
        ({"url": "https://p.example.com", "events": []}, "events"),
        ({"url": "https://p.example.com", "events": ["event.received"], "extra": 1}, "extra"),
    ]
    for body, path in cases:
        response = api.post("/api/v1/webhooks/", body)
        assert response.status_code == 400, body
        assert error_of(response)["field"] == path
    with tenant_context(udn_a):
        assert not WebhookSubscription.objects.exists()


def test_the_api_lists_a_subscriptions_deliveries_newest_first(udn_a):
    api = Api(udn_a, make_key(udn_a, ["webhooks:manage"]))
    with tenant_context(udn_a):
        sub = subscribe("https://partner.example.com/h")
        for n in range(3):
            webhook_deliveries_enqueue(event="affiliate.stage_changed", payload={"n": n})

    response = api.get(f"/api/v1/webhooks/{sub.pk}/deliveries/")

    assert response.status_code == 200
    results = response.json()["results"]
    assert [d["payload"]["n"] for d in results] == [2, 1, 0]
    assert {d["status"] for d in results} == {"pending"}
    missing = api.get(f"/api/v1/webhooks/{sub.pk + 1000}/deliveries/")
    assert missing.status_code == 404
    assert error_of(missing)["code"] == "not_found"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/webhooks/"),
        ("post", "/api/v1/webhooks/"),
        ("get", "/api/v1/webhooks/1/deliveries/"),
        ("post", "/api/v1/webhooks/1/rotate-secret/"),
        ("post", "/api/v1/webhooks/1/deliveries/1/redeliver/"),
    ],
)
def test_webhook_endpoints_need_the_scope_and_the_udns_own_key(udn_a, udn_b, method, path):
    body = {"url": "https://p.example.com", "events": ["event.received"]}

    without_scope = Api(udn_a, make_key(udn_a, ["affiliates:read", "events:write"])).call(method, path, body)
    other_udn = Api(udn_a, make_key(udn_b, ["webhooks:manage"])).call(method, path, body)
    no_key = Api(udn_a, None).call(method, path, body)

    assert without_scope.status_code == 403
    assert error_of(without_scope)["code"] == "insufficient_scope"
    assert other_udn.status_code == 401
    assert error_of(other_udn)["code"] == "authentication_failed"
    assert no_key.status_code == 401
    with tenant_context(udn_a):
        assert not WebhookSubscription.objects.exists()


# --- UI -------------------------------------------------------------------------------------------


def test_a_marketer_creates_and_deactivates_a_webhook(udn_a, marketer, client_for):
    client = client_for(udn_a, marketer)

    response = client.post(
        "/webhooks/new/", {"url": "https://partner.example.com/h", "events": ["affiliate.stage_changed"]}
    )

    assert response.status_code == 302
    with tenant_context(udn_a):
        sub = WebhookSubscription.objects.get()
    assert (sub.url, sub.events, sub.created_by, sub.active) == (
        "https://partner.example.com/h",
        ["affiliate.stage_changed"],
        marketer.email,
        True,
    )
    page = client.get("/webhooks/")
    assert page.status_code == 200
    assert sub.secret in page.content.decode()

    assert client.post(f"/webhooks/{sub.pk}/toggle/", {"active": "0"}).status_code == 302
    with tenant_context(udn_a):
        sub.refresh_from_db()
    assert sub.active is False


def test_an_analyst_gets_403_on_create_and_toggle_but_reads_the_log(udn_a, analyst, client_for, receiver):
    with tenant_context(udn_a):
        sub = subscribe(receiver.url)
        webhook_deliveries_enqueue(event="affiliate.stage_changed", payload={"n": 1})
        receiver.statuses = [500]
        webhook_deliveries_send_due()
    client = client_for(udn_a, analyst)

    create = client.post("/webhooks/new/", {"url": "https://x.example.com", "events": ["event.received"]})
    toggle = client.post(f"/webhooks/{sub.pk}/toggle/", {"active": "0"})
    page = client.get("/webhooks/")

    assert (create.status_code, toggle.status_code) == (403, 403)
    with tenant_context(udn_a):
        assert WebhookSubscription.objects.get().active is True
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-status="pending" data-status-code="500"' in html
    assert 'data-testid="webhook-form"' not in html
    assert sub.secret not in html  # the signing secret is for those who manage webhooks


def test_the_delivery_log_is_paginated_newest_first(udn_a, marketer, client_for):
    with tenant_context(udn_a):
        subscribe("https://partner.example.com/h")
        for n in range(55):
            webhook_deliveries_enqueue(event="affiliate.stage_changed", payload={"n": n})
        newest = WebhookDelivery.objects.order_by("-id").values_list("id", flat=True)
        newest_ids = list(newest)
    client = client_for(udn_a, marketer)

    first = client.get("/webhooks/").context["page"]
    second = client.get("/webhooks/?page=2").context["page"]

    assert [d.pk for d in first.object_list] == newest_ids[:50]
    assert [d.pk for d in second.object_list] == newest_ids[50:]
    assert all(d.status == WebhookDeliveryStatus.PENDING for d in first.object_list)


# --- secret rotation, redelivery, retention ------------------------------------------------------


def test_rotated_secret_signs_with_both_during_overlap(udn_a, receiver):
    with tenant_context(udn_a):
        sub = subscribe(receiver.url)
        old = sub.secret
        with time_machine.travel(T0, tick=False):
            rotated = webhook_subscription_rotate_secret(subscription=sub, rotated_by="marina@alpha.test")
        new = rotated.secret
        assert new != old and new.startswith("whsec_")
        assert rotated.previous_secret_expires_at == T0 + SECRET_OVERLAP == T0 + timedelta(hours=24)

        for moment in (T0 + timedelta(hours=23, minutes=59), T0 + SECRET_OVERLAP):
            enqueue_at(moment, {"at": moment.isoformat()})
            with time_machine.travel(moment, tick=False):
                assert webhook_deliveries_send_due() == 1

    during, after = receiver.requests
    timestamp, macs = signature_parts(during)
    assert timestamp == str(int((T0 + timedelta(hours=23, minutes=59)).timestamp()))
    assert len(macs) == 2
    assert during.headers["X-UDN-Signature"] == webhook_signature(
        signing_secrets=[new, old], timestamp=int(timestamp), body=during.body
    )  # the new secret's v1 first
    assert signature_ok(new, during) and signature_ok(old, during)
    assert len(signature_parts(after)[1]) == 1  # the overlap is over: the old secret no longer signs
    assert signature_ok(new, after) and not signature_ok(old, after)


def test_rotating_again_within_the_overlap_retires_the_oldest_secret(udn_a, receiver):
    with tenant_context(udn_a):
        first = subscribe(receiver.url).secret
        sub = WebhookSubscription.objects.get()
        with time_machine.travel(T0, tick=False):
            second = webhook_subscription_rotate_secret(subscription=sub, rotated_by="x").secret
        with time_machine.travel(T0 + timedelta(hours=1), tick=False):
            third = webhook_subscription_rotate_secret(subscription=sub, rotated_by="x").secret
        enqueue_at(T0 + timedelta(hours=2), {"n": 1})
        with time_machine.travel(T0 + timedelta(hours=2), tick=False):
            assert webhook_deliveries_send_due() == 1
    (received,) = receiver.requests
    assert signature_ok(third, received) and signature_ok(second, received)
    assert not signature_ok(first, received)


def test_the_api_rotates_a_secret(udn_a):
    api = Api(udn_a, make_key(udn_a, ["webhooks:manage"]))
    with tenant_context(udn_a):
        sub = subscribe("https://partner.example.com/h")

    with time_machine.travel(T0, tick=False):
        response = api.post(f"/api/v1/webhooks/{sub.pk}/rotate-secret/", {})

    assert response.status_code == 200
    body = response.json()
    assert body["secret"] != sub.secret and body["secret"].startswith("whsec_")
    assert datetime.fromisoformat(body["previous_secret_expires_at"]) == T0 + timedelta(hours=24)
    with tenant_context(udn_a):
        sub.refresh_from_db()
    assert (sub.secret, sub.previous_secret_expires_at) == (body["secret"], T0 + SECRET_OVERLAP)
    missing = api.post(f"/api/v1/webhooks/{sub.pk + 1000}/rotate-secret/", {})
    assert (missing.status_code, error_of(missing)["code"]) == (404, "not_found")


def test_a_marketer_rotates_a_secret_in_the_ui_and_an_analyst_cannot(udn_a, marketer, analyst, client_for):
    with tenant_context(udn_a):
        sub = subscribe("https://partner.example.com/h")
    old = sub.secret

    refused = client_for(udn_a, analyst).post(f"/webhooks/{sub.pk}/rotate-secret/")
    assert refused.status_code == 403
    with tenant_context(udn_a):
        sub.refresh_from_db()
    assert sub.secret == old

    client = client_for(udn_a, marketer)
    assert client.post(f"/webhooks/{sub.pk}/rotate-secret/").status_code == 302
    with tenant_context(udn_a):
        sub.refresh_from_db()
    assert sub.secret != old and sub.previous_secret == old
    html = client.get("/webhooks/").content.decode()
    assert sub.secret in html
    assert 'data-testid="webhook-previous-secret"' in html
    assert "O segredo anterior também assina até" in html


def failed_delivery(url: str) -> WebhookDelivery:
    """A delivery that used all its attempts against a 503."""
    subscribe(url)
    enqueue_at(T0, {"n": 1})
    WebhookDelivery.objects.update(
        status=WebhookDeliveryStatus.FAILED, attempts=MAX_ATTEMPTS, next_attempt_at=None, last_status_code=503
    )
    return WebhookDelivery.objects.get()


def test_manual_redelivery_queues_a_new_attempt(
    udn_a, receiver, django_capture_on_commit_callbacks, monkeypatch
):
    queued: list[str] = []
    monkeypatch.setattr("crm.tasks.webhooks.webhooks_send.delay", lambda: queued.append("send"))
    later = T0 + timedelta(days=2)
    with tenant_context(udn_a):
        delivery = failed_delivery(receiver.url)
        with time_machine.travel(later, tick=False), django_capture_on_commit_callbacks(execute=True):
            again = webhook_delivery_redeliver(delivery=delivery, redelivered_by="marina@alpha.test")
        assert queued == ["send"]  # sent at once after commit, not at the next beat
        assert (again.pk, again.status, again.attempts, again.next_attempt_at) == (
            delivery.pk,
            "pending",
            0,
            later,
        )
        assert (again.redelivered_at, again.redelivered_by) == (later, "marina@alpha.test")

        with time_machine.travel(later, tick=False):
            assert webhook_deliveries_send_due() == 1
        again.refresh_from_db()
    assert (again.status, again.attempts, again.delivered_at) == ("delivered", 1, later)
    (received,) = receiver.requests
    assert received.headers["X-UDN-Delivery"] == str(delivery.pk)  # the same delivery, once more
    assert json.loads(received.body)["data"] == {"n": 1}


def test_a_pending_delivery_is_not_redelivered(udn_a):
    with tenant_context(udn_a):
        subscribe("https://partner.example.com/h")
        enqueue_at(T0, {"n": 1})
        delivery = WebhookDelivery.objects.get()
        with translation.override("en"), pytest.raises(WebhookError, match="already queued"):
            webhook_delivery_redeliver(delivery=delivery, redelivered_by="x")
        delivery.refresh_from_db()
    assert (delivery.next_attempt_at, delivery.redelivered_at) == (T0, None)


def test_the_api_redelivers_a_delivery(udn_a, monkeypatch):
    monkeypatch.setattr("crm.tasks.webhooks.webhooks_send.delay", lambda: None)
    api = Api(udn_a, make_key(udn_a, ["webhooks:manage"]))
    with tenant_context(udn_a):
        delivery = failed_delivery("https://partner.example.com/h")
        other = subscribe("https://partner.example.com/other")
    path = f"/api/v1/webhooks/{delivery.subscription_id}/deliveries/{delivery.pk}/redeliver/"

    response = api.post(path, {})

    assert response.status_code == 202
    assert (response.json()["id"], response.json()["status"]) == (delivery.pk, "pending")
    assert response.json()["redelivered_at"] is not None
    with tenant_context(udn_a):
        assert WebhookDelivery.objects.get().redelivered_by.startswith("api:")
    again = api.post(path, {})  # still pending: already queued
    assert (again.status_code, error_of(again)["code"]) == (409, "already_queued")
    wrong = api.post(f"/api/v1/webhooks/{other.pk}/deliveries/{delivery.pk}/redeliver/", {})
    assert (wrong.status_code, error_of(wrong)["code"]) == (404, "not_found")


def test_a_marketer_redelivers_from_the_log_and_an_analyst_cannot(udn_a, marketer, analyst, client_for):
    with tenant_context(udn_a):
        delivery = failed_delivery("https://partner.example.com/h")
    marketer_page = client_for(udn_a, marketer).get("/webhooks/").content.decode()
    assert 'data-testid="webhook-redeliver"' in marketer_page
    assert (
        'data-testid="webhook-redeliver"' not in client_for(udn_a, analyst).get("/webhooks/").content.decode()
    )

    assert (
        client_for(udn_a, analyst).post(f"/webhooks/deliveries/{delivery.pk}/redeliver/").status_code == 403
    )
    with tenant_context(udn_a):
        assert WebhookDelivery.objects.get().status == "failed"
    response = client_for(udn_a, marketer).post(f"/webhooks/deliveries/{delivery.pk}/redeliver/", follow=True)
    assert "Entrega colocada na fila para reenvio." in response.content.decode()
    with tenant_context(udn_a):
        delivery.refresh_from_db()
    assert (delivery.status, delivery.redelivered_by) == ("pending", marketer.email)


def test_old_delivery_logs_are_purged(udn_a, settings, monkeypatch):
    settings.WEBHOOK_LOG_RETENTION_DAYS = 30
    monkeypatch.setattr("crm.services.webhooks.PURGE_BATCH", 2)  # several statements
    now = T0 + timedelta(days=60)
    with tenant_context(udn_a):
        sub = subscribe("https://partner.example.com/h")
        for n in range(6):  # n=5 stays pending
            enqueue_at(now - timedelta(days=31), {"n": n})
        enqueue_at(now - timedelta(days=29), {"n": 6})
        WebhookDelivery.objects.exclude(payload__n=5).update(
            status=WebhookDeliveryStatus.DELIVERED, next_attempt_at=None
        )
        WebhookDelivery.objects.filter(payload__n=4).update(status=WebhookDeliveryStatus.FAILED)
        with time_machine.travel(T0, tick=False):
            webhook_subscription_rotate_secret(subscription=sub, rotated_by="x")

        assert webhook_deliveries_purge(now=now) == 5

        kept = sorted(WebhookDelivery.objects.values_list("payload__n", flat=True))
        sub.refresh_from_db()
    assert kept == [5, 6]  # the old pending one, the recent one
    assert (sub.previous_secret, sub.previous_secret_expires_at) == ("", None)  # its overlap ended


def test_the_purge_task_runs_nightly_per_udn(udn_a, settings):
    from crm.tasks.webhooks import webhooks_purge
    from tenants.services import UDN_PERIODIC_TASKS

    settings.WEBHOOK_LOG_RETENTION_DAYS = 7
    with tenant_context(udn_a):
        subscribe("https://partner.example.com/h")
        enqueue_at(T0 - timedelta(days=8), {"n": 1})
        WebhookDelivery.objects.update(status=WebhookDeliveryStatus.DELIVERED, next_attempt_at=None)
        with time_machine.travel(T0, tick=False):
            assert webhooks_purge.run() == 1
        assert not WebhookDelivery.objects.exists()
    spec = UDN_PERIODIC_TASKS["webhooks-purge"]
    assert (spec.task, spec.crontab) == ("crm.webhooks_purge", "30 4 * * *")


# --- the task -------------------------------------------------------------------------------------


def test_the_send_task_delivers_and_runs_every_30_seconds_per_udn(udn_a, receiver):
    from crm.tasks.webhooks import webhooks_send
    from tenants.services import UDN_PERIODIC_TASKS

    with tenant_context(udn_a):
        subscribe(receiver.url)
        webhook_deliveries_enqueue(event="affiliate.stage_changed", payload={"n": 1})

        assert webhooks_send.run() == 1

    assert len(receiver.requests) == 1
    spec = UDN_PERIODIC_TASKS["webhooks-send"]
    assert (spec.task, spec.every_seconds) == ("crm.webhooks_send", 30)


def test_an_enqueued_delivery_goes_out_at_once_through_the_celery_worker(
    django_db_setup, committed, celery_worker_process, receiver
):
    """On commit the send task is queued with the UDN's schema; a real worker sends it."""
    alpha = UDN.objects.get(slug="alpha")

    def cleanup() -> None:
        with tenant_context(alpha):
            WebhookSubscription.objects.all().delete()

    committed.append(cleanup)
    with tenant_context(alpha):
        sub = subscribe(receiver.url)
        webhook_deliveries_enqueue(event="affiliate.stage_changed", payload={"n": 7})

    assert receiver.arrived.wait(timeout=60), "the worker did not deliver"
    (received,) = receiver.requests
    assert json.loads(received.body)["data"] == {"n": 7}
    assert signature_ok(sub.secret, received)
