"""`./dev bench journeys`, the enrollments' half (`enrollment_half`, run by
devtools.benchmarks.journeys.journeys()): BENCH_JOURNEY_ENROLLMENTS (default 1,000,000) due
enrollments at a wait step whose next step sends an e-mail, advanced by the journeys' own tick
(campaigns.services.journeys.journeys_advance_due: batches taken FOR UPDATE SKIP LOCKED, the
outbox rows written by INSERT ... SELECT through the static guards' SQL, the step log, the
enrollments moved on), beside the raw work in the same run: one UPDATE of the same enrollment rows
plus COPY of the same number of outbox rows into the same table. Line
`journeys.enrollments_per_second`; target ≥ 0.3 of the raw rate and under 60 s."""

from __future__ import annotations

import os
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta

from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context

from devtools.benchmarks import Result

ENROLLMENTS = int(os.environ.get("BENCH_JOURNEY_ENROLLMENTS", "1000000"))
#: Rows a COPY write carries per call (about 2 MB).
COPY_CHUNK_ROWS = 20_000

GRAPH = {
    "triggers": [{"type": "manual", "start": "wait"}],
    "steps": [
        {"id": "wait", "type": "wait", "days": 1, "next": "send"},
        {
            "id": "send",
            "type": "send",
            "channels": ["email"],
            "templates": {"email": "bench-email"},
            "next": None,
        },
    ],
}


def _q(model: type) -> str:
    return connection.ops.quote_name(model._meta.db_table)  # type: ignore[attr-defined]


def _base(n: int) -> None:
    from crm.models import Affiliate

    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {_q(Affiliate)} (external_id, cpf, name, email, phone, city, state, plan, origin, stage,
                                         tier, total_cash_in, time_zone, tags, attributes, consent_email,
                                         created_at, updated_at)
            SELECT 'E' || g, '', 'Pessoa ' || g,
                   CASE WHEN mod(g, 50) = 0 THEN '' ELSE 'pessoa' || g || '@example.com' END, '', 'Recife',
                   'PE', '', '', 'lead', '', 0, 'America/Recife', '{{}}', '{{}}', mod(g, 10) <> 0, now(), now()
            FROM generate_series(1, %(n)s) g
            """,  # noqa: S608 - the table name comes from the model
            {"n": n},
        )
        cursor.execute(f"ANALYZE {_q(Affiliate)}")


def _due(journey_id: int, version_id: int, *, at: datetime) -> None:
    """Every affiliate enrolled and due at the wait step (the state a day after they entered)."""
    from campaigns.models import Enrollment
    from crm.models import Affiliate

    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {_q(Enrollment)} (journey_id, version_id, affiliate_id, step, step_at, status, due_at,
                                          attempts, waiting_for, deadline_at, holdout, entry_key, context,
                                          entered_at)
            SELECT %(journey)s, %(version)s, a.id, 'wait', %(at)s, 'active', %(at)s, 0, '', NULL, false,
                   'bench', '{{}}', %(at)s
            FROM {_q(Affiliate)} a
            """,  # noqa: S608
            {"journey": journey_id, "version": version_id, "at": at},
        )
        cursor.execute(f"ANALYZE {_q(Enrollment)}")


def _raw(n: int, template_id: int) -> float:
    """One UPDATE of the enrollment rows (moved to their next step) and COPY of as many outbox rows;
    seconds taken (the COPY text is made before the clock starts)."""
    from campaigns.models import Enrollment, Message

    now = timezone.now()
    stamp = now.isoformat()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT affiliate_id FROM {_q(Enrollment)} ORDER BY id")  # noqa: S608
        affiliates = [row[0] for row in cursor.fetchall()]
    lines = [
        f"{pk}\t{template_id}\temail\t{{}}\tjourney\t5\tqueued\t\t{stamp}\t0\t{uuid.uuid4()}\t\t\t{{}}\t{{}}\t\t{stamp}\n"
        for pk in affiliates
    ]
    columns = (
        "affiliate_id, template_id, channel, fallback, source, priority, status, reason, due_at, attempts,"
        " idempotency_key, provider, provider_message_id, variables, rendered, error, created_at"
    )
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {_q(Enrollment)} SET step = 'send', step_at = %(now)s, status = 'completed', due_at = NULL,"  # noqa: S608
            " finished_at = %(now)s",
            {"now": now},
        )
        with cursor.copy(f"COPY {_q(Message)} ({columns}) FROM STDIN") as copy:
            for start in range(0, len(lines), COPY_CHUNK_ROWS):
                copy.write("".join(lines[start : start + COPY_CHUNK_ROWS]))
    return time.perf_counter() - started


def enrollment_half() -> Iterator[Result]:
    from campaigns.models import Enrollment, JourneyStepLog, Message, MessageTemplate
    from campaigns.services.journeys import journey_publish, journey_save, journeys_advance_due
    from devtools.benchmarks.journeys import _fresh_udn

    n = ENROLLMENTS
    udn = _fresh_udn("jrn")
    try:
        with tenant_context(udn):
            print(f"    base of {n:,} affiliates", file=sys.stderr, flush=True)
            _base(n)
            template = MessageTemplate.objects.create(
                slug="bench-email",
                name="Bench",
                channel="email",
                subject="Oi",
                body_text="Oi {{ primeiro_nome }}",
            )
            journey = journey_save(name="Bench", graph=GRAPH, by="bench")
            version = journey_publish(journey=journey, by="bench")
            entered = timezone.now() - timedelta(days=1, minutes=1)

            print(
                f"    raw UPDATE of {n:,} enrollments + COPY of {n:,} outbox rows",
                file=sys.stderr,
                flush=True,
            )
            _due(journey.pk, version.pk, at=entered)
            raw_seconds = _raw(n, template.pk)
            with connection.cursor() as cursor:  # the same table state for our run
                cursor.execute(f"TRUNCATE {_q(Message)} CASCADE")
                cursor.execute(f"TRUNCATE {_q(Enrollment)} CASCADE")
            connection.cursor().execute(f"VACUUM ANALYZE {_q(Enrollment)}")
            _due(journey.pk, version.pk, at=entered)

            print(f"    advancing {n:,} due enrollments (wait → send)", file=sys.stderr, flush=True)
            started = time.perf_counter()
            taken = journeys_advance_due(now=timezone.now())
            ours = time.perf_counter() - started
            written = Message.objects.count()
            logged = JourneyStepLog.objects.count()
            if taken != n or written != n or Enrollment.objects.filter(status="active").exists():
                raise RuntimeError(f"advanced {taken:,}, wrote {written:,} messages for {n:,} enrollments")
            print(
                f"    journeys {ours:.1f} s ({written:,} outbox rows, {logged:,} log rows), raw {raw_seconds:.1f} s",
                file=sys.stderr,
                flush=True,
            )
    finally:
        udn.delete(force_drop=True)
    yield Result(
        name="journeys.enrollments_per_second",
        value=n / ours,
        unit="enrollments/s",
        target=f"≥ 0.3 of raw UPDATE + COPY and under 60 s for {n:,} (took {ours:.1f} s)",
        baseline_name=f"raw UPDATE of {n:,} enrollments + COPY of {n:,} outbox rows",
        baseline_value=n / raw_seconds,
    )
