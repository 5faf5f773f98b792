"""`./dev bench fanout`: messaging at volume. Two halves, each a function of this module that
`fanout()` runs in turn (add a half as a function and one line there):

- the fan-out of a campaign to 1,000,000 affiliates beside raw COPY (campaigns' half);
- `drain`: 20,000 queued outbox messages per channel drained by the sender
  (campaigns.services.sender: claim, guards, render, provider, statuses) into the local sandbox,
  over SMTP (e-mail) and HTTP (SMS), beside a plain loop that renders the same messages and sends
  them straight to the same sandbox through the same provider, nothing recorded. Lines
  `drain.<channel>_messages_per_second`; target ≥ 0.5 of the plain loop.
"""

from __future__ import annotations

import itertools
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context

from devtools.benchmarks import Result, benchmark
from devtools.services import ROOT, VAR
from tenants.models import UDN
from tenants.selectors import udn_list
from tenants.services import udn_provision

DRAIN_MESSAGES = int(os.environ.get("BENCH_DRAIN_MESSAGES", "20000"))
# E-mail goes over SMTP, SMS over HTTP (Zenvia's format): the sandbox's two servers.
DRAIN_CHANNELS = ("email", "sms")
# The sandbox provider is not throttled here: the figure is the sender's, not a provider's limit.
DRAIN_RATE = 10_000
SANDBOX_START_SECONDS = 60
LOG = VAR / "bench" / "sandbox.log"  # the sandbox logs every SMTP command: kept out of the figures' stream

_counter = itertools.count(1)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _fresh_udn(prefix: str) -> UDN:
    slug = f"{prefix}-{next(_counter):02d}"
    while udn_list().filter(slug=slug).exists():
        slug = f"{prefix}-{next(_counter):02d}"
    return udn_provision(name=f"Bench {slug}", slug=slug)


@contextmanager
def _sandbox() -> Iterator[None]:
    """The sandbox process as `./dev up` starts it (devtools/processes.py), on free ports of its own,
    its status callbacks pointed at a closed port (this run measures sending, not the hooks)."""
    from devtools.processes import argv

    ports = {
        "SANDBOX_HOST": "127.0.0.1",
        "SANDBOX_SMTP_PORT": str(_free_port()),
        "SANDBOX_HTTP_PORT": str(_free_port()),
        "SANDBOX_CALLBACK_URL": f"http://127.0.0.1:{_free_port()}",
        "SANDBOX_STATUS_DELAY_SECONDS": "3600",
    }
    env = {**os.environ, **ports, "PGAPPNAME": "bench-sandbox", "PYTHONUNBUFFERED": "1"}
    LOG.parent.mkdir(parents=True, exist_ok=True)
    log = LOG.open("w")
    proc = subprocess.Popen(argv("sandbox", env=env), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    previous = {name: getattr(settings, name) for name in ports}
    settings.SANDBOX_SMTP_PORT = int(ports["SANDBOX_SMTP_PORT"])
    settings.SANDBOX_HTTP_PORT = int(ports["SANDBOX_HTTP_PORT"])
    try:
        deadline = time.monotonic() + SANDBOX_START_SECONDS
        for port in (settings.SANDBOX_SMTP_PORT, settings.SANDBOX_HTTP_PORT):
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                    break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"the sandbox did not start; see {LOG}") from None
                    time.sleep(0.2)
        yield
    finally:
        for name, value in previous.items():
            setattr(settings, name, value)
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def _queue(channel: str, affiliates: list[int], template_id: int) -> None:
    """DRAIN_MESSAGES queued messages on `channel`, due now (bulk, as a fan-out writes them)."""
    from campaigns.models import Message, MessageSource, MessageStatus

    now = timezone.now()
    Message.objects.bulk_create(
        [
            Message(
                affiliate_id=affiliate_id,
                template_id=template_id,
                channel=channel,
                source=MessageSource.API,
                status=MessageStatus.QUEUED,
                due_at=now - timedelta(seconds=1),
            )
            for affiliate_id in affiliates
        ],
        batch_size=5_000,
    )


def _plain_loop(channel: str, template_id: int) -> float:
    """Render each of the channel's messages and hand them to the provider in the sender's chunk
    size, with fresh keys (the sandbox answers a key it has seen from memory); seconds taken."""
    from campaigns.models import Message, MessageTemplate
    from campaigns.providers.base import OutgoingMessage, provider_for
    from campaigns.services.guards import affiliate_address
    from campaigns.services.sender import SEND_BATCH
    from campaigns.templating import message_render

    template = MessageTemplate.objects.get(pk=template_id)
    provider = provider_for(channel)
    started = time.perf_counter()
    messages = (
        Message.objects.filter(channel=channel).select_related("affiliate").order_by("pk").iterator(2_000)
    )
    chunk: list[OutgoingMessage] = []
    for message in messages:
        chunk.append(
            OutgoingMessage(
                message_id=message.pk,
                idempotency_key=str(uuid.uuid4()),
                channel=channel,
                address=affiliate_address(affiliate=message.affiliate, channel=channel),
                payload=message_render(template=template, affiliate=message.affiliate, message=message),
            )
        )
        if len(chunk) == SEND_BATCH:
            provider.send(chunk)
            chunk = []
    if chunk:
        provider.send(chunk)
    return time.perf_counter() - started


def _drain() -> float:
    """Run the sender until nothing is due; seconds taken."""
    from campaigns.models import Message, MessageStatus
    from campaigns.services.sender import messages_send_due

    started = time.perf_counter()
    while Message.objects.filter(status=MessageStatus.QUEUED).exists():
        messages_send_due()
    elapsed = time.perf_counter() - started
    left = Message.objects.exclude(status=MessageStatus.SENT).count()
    if left:
        raise RuntimeError(f"{left} messages were not sent")
    return elapsed


def drain() -> Iterator[Result]:
    from campaigns.models import ChannelConfig, MessageTemplate
    from crm.models import Affiliate

    udn = _fresh_udn("drain")
    with _sandbox(), tenant_context(udn):
        Affiliate.objects.bulk_create(
            [
                Affiliate(
                    external_id=f"D{n:06d}",
                    name=f"Pessoa {n}",
                    email=f"pessoa{n}@example.com",
                    phone=f"+55119{n + 10_000_000:08d}",  # never a sandbox magic number (90000CCCC)
                    consent_email=True,
                    consent_sms=True,
                )
                for n in range(DRAIN_MESSAGES)
            ],
            batch_size=5_000,
        )
        affiliates = list(Affiliate.objects.order_by("pk").values_list("pk", flat=True))
        for channel in DRAIN_CHANNELS:
            ChannelConfig.objects.update_or_create(channel=channel, defaults={"rate_per_second": DRAIN_RATE})
            template = MessageTemplate.objects.create(
                slug=f"drain-{channel}",
                name=f"Drain {channel}",
                channel=channel,
                subject="Olá, {{ primeiro_nome }}",
                body_text="Olá, {{ primeiro_nome }}! Sua mensalidade vence amanhã.",
                body_html="<p>Olá, {{ primeiro_nome }}! Sua mensalidade vence amanhã.</p>",
            )
            _queue(channel, affiliates, template.pk)
            print(f"    {channel}: plain loop of {DRAIN_MESSAGES} messages", file=sys.stderr, flush=True)
            baseline = _plain_loop(channel, template.pk)
            print(f"    {channel}: draining {DRAIN_MESSAGES} outbox messages", file=sys.stderr, flush=True)
            drained = _drain()
            with connection.cursor() as cursor:
                cursor.execute("DELETE FROM campaigns_messagestatuschange")
                cursor.execute("DELETE FROM campaigns_message")
            yield Result(
                name=f"drain.{channel}_messages_per_second",
                value=DRAIN_MESSAGES / drained,
                unit="messages/s",
                target="≥ 0.5 of the plain loop",
                baseline_name=f"plain loop to the sandbox ({channel})",
                baseline_value=DRAIN_MESSAGES / baseline,
            )


# --- the fan-out half ---------------------------------------------------------------------------

FANOUT_AFFILIATES = int(os.environ.get("BENCH_FANOUT_AFFILIATES", "1000000"))
FANOUT_HOLDOUT_PERCENT = 10
#: Rows a COPY write carries per call (about 2 MB).
COPY_CHUNK_ROWS = 20_000


def _fanout_base(n: int) -> None:
    """`n` affiliates in one INSERT ... SELECT over generate_series: most with e-mail consent, some
    SMS, some neither (suppressed rows), a few without an e-mail (no address)."""
    from crm.models import Affiliate

    table = connection.ops.quote_name(Affiliate._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {table} (external_id, cpf, name, email, phone, city, state, plan, origin, stage,
                                 tier, total_cash_in, time_zone, tags, attributes, consent_email,
                                 consent_sms, created_at, updated_at)
            SELECT 'F' || g, '', 'Pessoa ' || g,
                   CASE WHEN mod(g, 50) = 0 THEN '' ELSE 'pessoa' || g || '@example.com' END,
                   '+55119' || lpad((10000000 + g)::text, 8, '0'), 'São Paulo', 'SP', '', '', 'lead',
                   '', 0, 'America/Sao_Paulo', '{{}}', '{{}}', mod(g, 10) <> 0, mod(g, 3) = 0, now(), now()
            FROM generate_series(1, %s) g
            """,  # noqa: S608 - the table name comes from the model
            [n],
        )
        cursor.execute(f"ANALYZE {table}")


def _copy_lines(affiliates: list[int], template_id: int) -> list[str]:
    """The outbox rows a fan-out would write, as COPY text (made before the clock starts)."""
    now = timezone.now().isoformat()
    return [
        f"{pk}\t{template_id}\temail\t{{}}\tcampaign\t5\tqueued\t\t{now}\t0\t{uuid.uuid4()}\t\t\t{{}}\t{{}}\t\t{now}\n"
        for pk in affiliates
    ]


def _raw_copy(lines: list[str]) -> float:
    """COPY the rows into the outbox table (the same table, indexes and all); seconds taken."""
    from campaigns.models import Message

    table = connection.ops.quote_name(Message._meta.db_table)
    columns = (
        "affiliate_id, template_id, channel, fallback, source, priority, status, reason, due_at, attempts,"
        " idempotency_key, provider, provider_message_id, variables, rendered, error, created_at"
    )
    started = time.perf_counter()
    with connection.cursor() as cursor, cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for start in range(0, len(lines), COPY_CHUNK_ROWS):
            copy.write("".join(lines[start : start + COPY_CHUNK_ROWS]))
    return time.perf_counter() - started


def fan_out() -> Iterator[Result]:
    """A campaign (SMS then e-mail, 10% holdout) fanned out to the whole base, in this process, beside
    raw COPY of the same number of outbox rows into the same (emptied) table."""
    from campaigns.models import Campaign, CampaignHoldout, Message, MessageTemplate
    from campaigns.services.campaigns import CampaignDraft, campaign_fan_out, campaign_launch, campaign_save
    from crm.models import Affiliate

    n = FANOUT_AFFILIATES
    udn = _fresh_udn("fan")
    with tenant_context(udn):
        print(f"    base of {n:,} affiliates", file=sys.stderr, flush=True)
        _fanout_base(n)
        templates = {
            channel: MessageTemplate.objects.create(
                slug=f"fan-{channel}",
                name=f"Fan-out {channel}",
                channel=channel,
                subject="Oi",
                body_text="Oi",
            )
            for channel in ("sms", "email")
        }
        affiliates = list(Affiliate.objects.order_by("pk").values_list("pk", flat=True))
        lines = _copy_lines(affiliates, templates["email"].pk)
        print(f"    raw COPY of {n:,} outbox rows", file=sys.stderr, flush=True)
        copy_seconds = _raw_copy(lines)
        del lines
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {connection.ops.quote_name(Message._meta.db_table)} CASCADE")
        campaign = campaign_save(
            draft=CampaignDraft(
                name="Bench",
                audience_query="",
                channels=["sms", "email"],
                templates=templates,
                holdout_percent=FANOUT_HOLDOUT_PERCENT,
            ),
            by="bench",
        )
        print(f"    fan-out to {n:,} affiliates", file=sys.stderr, flush=True)
        started = time.perf_counter()
        campaign = campaign_launch(campaign=campaign)
        campaign_fan_out(campaign_id=campaign.pk)
        fan_seconds = time.perf_counter() - started
        campaign = Campaign.objects.get(pk=campaign.pk)
        written = Message.objects.filter(campaign=campaign).count()
        held = CampaignHoldout.objects.filter(campaign=campaign).count()
        if written + held != n or campaign.fanned_out != n:
            raise RuntimeError(f"fan-out wrote {written} messages and {held} holdouts for {n} affiliates")
        print(f"    fan-out {fan_seconds:.1f} s, raw COPY {copy_seconds:.1f} s", file=sys.stderr, flush=True)
    yield Result(
        name="fanout.recipients_per_second",
        value=n / fan_seconds,
        unit="recipients/s",
        target=f"≥ 0.25 of raw COPY and under 60 s for {n:,} (took {fan_seconds:.1f} s)",
        baseline_name=f"raw COPY of {n:,} outbox rows",
        baseline_value=n / copy_seconds,
    )


@benchmark("fanout")
def fanout() -> Iterator[Result]:
    yield from fan_out()
    yield from drain()
