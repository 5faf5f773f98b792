"""The partner API over real HTTP: gunicorn serving /api/v1/ on loopback, a UDN of 10,000
affiliates and a key, then (a) batch ingest of 100,000 events by concurrent keep-alive clients
(beside raw COPY of the same rows), (b) single-event POST latency at a paced 300 requests/s
(beside GET /healthz at the same pace) and (c) how many single-event POSTs a second the server
takes at most, with the CPU each costs (what says whether 300 requests/s is within reach)."""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import NamedTuple

import aiohttp
import requests
from django.db import connection, connections
from django.utils import timezone
from django_tenants.utils import tenant_context

from crm.models import Affiliate, ApiScope, Event
from crm.services.api_keys import api_key_create
from devtools.benchmarks import Result, benchmark
from devtools.services import ROOT, VAR
from tenants.models import UDN
from tenants.selectors import udn_list
from tenants.services import udn_provision

AFFILIATES = 10_000
EVENTS = 100_000
BATCH = 1_000
CLIENTS = 4
# gunicorn on 2 cores shared with PostgreSQL and the clients: two single-threaded processes
# (gthread, for keep-alive) measured best; more processes or threads only add contention.
WORKERS = 2
THREADS = 1
RATE = 300  # requests/s for the latency runs
SECONDS = 10
CONNECTIONS = 64  # the latency runs' client connections (a busy one is not reused until it answers)
WARMUP = 100
CAPACITY_REQUESTS = 2_000
CAPACITY_CONNECTIONS = 4  # enough to keep both workers busy while one waits on PostgreSQL
REQUEST_TIMEOUT = 60
# The figures measure the server; a partner's key is throttled far below these volumes.
THROTTLE_RATE = "10000000/min"
# Mixed traffic as partners send it: most events move no derived field, a fifth are cash-ins.
TYPES = [
    "app_activated",
    "cash_in",
    "support_ticket_opened",
    "consultation_scheduled",
    "cashback",
    "app_downloaded",
    "support_ticket_closed",
    "form_completed",
    "cash_in",
    "lead_created",
]

GUNICORN_APP_NAME = "bench-api-gunicorn"  # its PostgreSQL sessions, by application_name

_counter = itertools.count(1)


def _fresh_udn() -> UDN:
    slug = f"api-{next(_counter):02d}"
    while udn_list().filter(slug=slug).exists():
        slug = f"api-{next(_counter):02d}"
    return udn_provision(name=f"Bench {slug}", slug=slug)


def _affiliates_create() -> None:
    for start in range(0, AFFILIATES, 5_000):
        Affiliate.objects.bulk_create(
            Affiliate(external_id=f"B-{i}", name=f"Afiliado {i}", state="SP")
            for i in range(start, min(start + 5_000, AFFILIATES))
        )


def _event(prefix: str, i: int, base: str) -> dict:
    kind = TYPES[i % len(TYPES)]
    event = {
        "id": f"{prefix}-{i}",
        "type": kind,
        "occurred_at": base,
        "affiliate": {"external_id": f"B-{(i * 7919) % AFFILIATES}"},
        "properties": {"channel": "app"},
    }
    if kind in {"cash_in", "cashback"}:
        event["properties"] = {"amount": f"{50 + i % 200}.{i % 100:02d}"}
    return event


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server(NamedTuple):
    base: str
    pid: int  # gunicorn's master


@contextmanager
def _gunicorn() -> Iterator[Server]:
    """gunicorn on the bench database; yields its URL and pid, and stops it afterwards."""
    port = _free_port()
    env = dict(os.environ)
    env.update({"PGAPPNAME": GUNICORN_APP_NAME, "API_THROTTLE_RATE": THROTTLE_RATE, "DEBUG": "0"})
    env.setdefault("SECURE_SSL_REDIRECT", "0")
    (VAR / "bench").mkdir(parents=True, exist_ok=True)
    log_path = VAR / "bench" / "gunicorn-api.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "crm.wsgi:application",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(WORKERS),
                "--worker-class",
                "gthread",
                "--threads",
                str(THREADS),
                "--keep-alive",
                "30",
                "--timeout",
                "120",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    requests.get(f"{base}/healthz", headers={"Host": "localhost"}, timeout=5)
                    break
                except requests.ConnectionError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"gunicorn did not start; see {log_path}") from None
                    time.sleep(0.2)
            yield Server(base, proc.pid)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _ingest(base: str, host: str, key: str, bodies: list[bytes]) -> tuple[float, int]:
    """POST every batch from CLIENTS concurrent keep-alive connections; (seconds, events accepted)."""
    headers = {"Host": host, "Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    accepted = 0

    def count(status: int, text: str) -> None:
        nonlocal accepted
        if status != 200:
            raise RuntimeError(f"batch ingest failed: {status} {text[:300]}")
        accepted += json.loads(text)["accepted"]

    elapsed = asyncio.run(
        _closed_loop_async(
            f"{base}/api/v1/events/batch/", headers, bodies, len(bodies), connections=CLIENTS, check=count
        )
    )
    return elapsed, accepted


def _raw_copy(rows: list[dict]) -> float:
    """COPY the same rows into a plain table (no constraints, no lookups): events/s."""
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE bench_raw_events (event_id text, type text, occurred_at timestamptz,"
            " affiliate_external_id text, properties jsonb)"
        )
        started = time.perf_counter()
        with cursor.copy(
            "COPY bench_raw_events (event_id, type, occurred_at, affiliate_external_id, properties)"
            " FROM STDIN"
        ) as copy:
            for row in rows:
                copy.write_row(
                    (
                        row["id"],
                        row["type"],
                        row["occurred_at"],
                        row["affiliate"]["external_id"],
                        json.dumps(row["properties"]),
                    )
                )
        elapsed = time.perf_counter() - started
        cursor.execute("SELECT count(*) FROM bench_raw_events")
        assert cursor.fetchone()[0] == len(rows)
    return len(rows) / elapsed


def _session(connections: int) -> aiohttp.ClientSession:
    """Keep-alive HTTP client with up to `connections` connections (a busy one is not reused until
    it answers)."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=connections),
        timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT),
    )


async def _send(
    session: aiohttp.ClientSession, url: str, headers: dict[str, str], body: bytes | None
) -> tuple[int, str]:
    """One GET (no body) or POST; its status and text."""
    if body is None:
        request = session.get(url, headers=headers)
    else:
        request = session.post(url, data=body, headers=headers)
    async with request as response:
        return response.status, await response.text()


async def _paced_async(
    url: str, headers: dict[str, str], bodies: list[bytes] | None, count: int
) -> list[float]:
    loop = asyncio.get_running_loop()
    errors: list[str] = []
    async with _session(CONNECTIONS) as session:
        start = loop.time() + 0.2

        async def one(i: int) -> float:
            scheduled = start + i / RATE
            await asyncio.sleep(max(0.0, scheduled - loop.time()))
            status, text = await _send(session, url, headers, None if bodies is None else bodies[i])
            if status >= 300:
                errors.append(f"{status} {text[:300]}")
            return (loop.time() - scheduled) * 1000

        latencies = await asyncio.gather(*(one(i) for i in range(count)))
    if errors:
        raise RuntimeError(f"{len(errors)} failed requests to {url}: {errors[0]}")
    return list(latencies)


def _paced(url: str, headers: dict[str, str], bodies: list[bytes] | None, count: int) -> list[float]:
    """`count` requests sent at RATE/s on a fixed schedule (open loop, over up to CONNECTIONS
    keep-alive connections); latency in ms of each, counted from its scheduled start so a stall or a
    wait for a free connection is not hidden (no coordinated omission)."""
    return asyncio.run(_paced_async(url, headers, bodies, count))


async def _closed_loop_async(
    url: str,
    headers: dict[str, str],
    bodies: list[bytes] | None,
    count: int,
    *,
    connections: int,
    check: Callable[[int, str], None],
) -> float:
    """`count` requests from `connections` clients, each sending its next as soon as the last is
    answered (`check` sees each status and text, and raises on a failure); the seconds it took."""
    left = list(range(count))
    async with _session(connections) as session:

        async def client() -> None:
            while left:
                i = left.pop()
                check(*await _send(session, url, headers, None if bodies is None else bodies[i]))

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(connections)))
        return time.perf_counter() - started


def _succeeded(url: str) -> Callable[[int, str], None]:
    def check(status: int, text: str) -> None:
        if status >= 300:
            raise RuntimeError(f"{url}: {status} {text[:300]}")

    return check


def _cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds the processes have used so far (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / ticks


def _gunicorn_pids(server: Server) -> list[int]:
    pids = [server.pid]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if parent == server.pid:
            pids.append(int(stat.parent.name))
    return pids


def _backend_pids() -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE application_name = %s", [GUNICORN_APP_NAME])
        return [pid for (pid,) in cursor.fetchall()]


def _capacity(server: Server, url: str, headers: dict[str, str], bodies: list[bytes] | None) -> float:
    """Requests/s with CAPACITY_CONNECTIONS clients sending the next request as soon as the last
    one is answered (closed loop: the server's ceiling); the CPU one request costs the server and
    PostgreSQL is told on stderr."""
    count = len(bodies) if bodies is not None else CAPACITY_REQUESTS
    closed_loop = partial(
        _closed_loop_async, url, headers, connections=CAPACITY_CONNECTIONS, check=_succeeded(url)
    )
    asyncio.run(closed_loop(bodies[:WARMUP] if bodies else None, WARMUP))
    workers, backends = _gunicorn_pids(server), _backend_pids()
    before = _cpu_seconds(workers), _cpu_seconds(backends)
    rate = (count - WARMUP) / asyncio.run(closed_loop(bodies[WARMUP:] if bodies else None, count - WARMUP))
    web, database = (
        (after - start) * 1000 / (count - WARMUP)
        for after, start in zip((_cpu_seconds(workers), _cpu_seconds(backends)), before, strict=True)
    )
    print(
        f"    {url.split('/', 3)[-1]}: {rate:.0f} requests/s at most; CPU a request: gunicorn {web:.2f} ms,"
        f" PostgreSQL {database:.2f} ms",
        file=sys.stderr,
    )
    return rate


def _percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, math.ceil(share * len(ordered)) - 1)]


def _p99(label: str, samples: list[float]) -> float:
    """The p99, with the p50 and p90 told on stderr beside it (the shape of the tail)."""
    p50, p90, p99 = (_percentile(samples, share) for share in (0.5, 0.9, 0.99))
    print(f"    {label}: p50 {p50:.1f} ms, p90 {p90:.1f} ms, p99 {p99:.1f} ms", file=sys.stderr)
    return p99


@benchmark("api")
def api() -> Iterator[Result]:
    udn = _fresh_udn()
    host = udn.get_primary_domain().domain  # type: ignore[union-attr]
    base_time = (timezone.now() - timedelta(hours=1)).isoformat()
    rows = [_event("b", i, base_time) for i in range(EVENTS)]
    bodies = [json.dumps(rows[i : i + BATCH]).encode() for i in range(0, EVENTS, BATCH)]
    with tenant_context(udn):
        _affiliates_create()
        _api_key, key = api_key_create(
            name="bench", scopes=[ApiScope.EVENTS_WRITE, ApiScope.AFFILIATES_READ], created_by="bench"
        )
        raw = _raw_copy(rows)
    connections.close_all()

    with _gunicorn() as server:
        base = server.base
        elapsed, accepted = _ingest(base, host, key, bodies)
        with tenant_context(udn):
            stored = Event.objects.count()
        assert accepted == EVENTS == stored, (accepted, stored)
        yield Result(
            "api.batch_ingest_events_per_second",
            accepted / elapsed,
            "events/s",
            f"≥ 50,000 events/s ({EVENTS:,} events, batches of {BATCH:,}, {CLIENTS} clients,"
            f" gunicorn {WORKERS}×{THREADS})",
            "raw COPY of the same rows into a plain table",
            raw,
        )

        # The ingest left the tables for autovacuum to visit, which would do it during the latency
        # run and measure the two together: do it now, as a quiet hour would.
        with tenant_context(udn), connection.cursor() as cursor:
            cursor.execute(f"VACUUM (ANALYZE) {Event._meta.db_table}, {Affiliate._meta.db_table}")
        connections.close_all()

        count = RATE * SECONDS
        single_headers = {"Host": host, "Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        event_url = f"{base}/api/v1/events/"
        warm = [json.dumps(_event("w", i, base_time)).encode() for i in range(WARMUP)]
        _paced(event_url, single_headers, warm, WARMUP)
        _paced(f"{base}/healthz", {"Host": "localhost"}, None, WARMUP)
        singles = [json.dumps(_event("s", i, base_time)).encode() for i in range(count)]
        event_p99 = _p99("POST /api/v1/events/", _paced(event_url, single_headers, singles, count))
        health_p99 = _p99("GET /healthz", _paced(f"{base}/healthz", {"Host": "localhost"}, None, count))
        yield Result(
            "api.single_event_p99_ms",
            event_p99,
            "ms",
            f"< 50 ms p99 at {RATE} requests/s ({count:,} POST /api/v1/events/)",
            f"GET /healthz p99 at {RATE} requests/s",
            health_p99,
        )

        # (c) The ceiling: as fast as the server answers. A p99 at RATE needs RATE well below it.
        capacity_bodies = [json.dumps(_event("c", i, base_time)).encode() for i in range(CAPACITY_REQUESTS)]
        capacity = _capacity(server, event_url, single_headers, capacity_bodies)
        health_capacity = _capacity(server, f"{base}/healthz", {"Host": "localhost"}, None)
        yield Result(
            "api.single_event_capacity_rps",
            capacity,
            "requests/s",
            f"well above {RATE} requests/s, the pace the p99 target is set at"
            f" ({CAPACITY_REQUESTS - WARMUP:,} POST /api/v1/events/, {CAPACITY_CONNECTIONS} connections, closed loop)",
            "GET /healthz, closed loop",
            health_capacity,
        )
