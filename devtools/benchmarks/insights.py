"""`./dev bench insights`: the dashboards on a big base (BENCH_INSIGHTS_AFFILIATES affiliates,
default 1,000,000, about ten events each). For each dashboard page (its default period, the last
90 days) the p95 of the whole request (Django test client, signed in, templates rendered) beside
the same figures computed straight from the raw events (insights.raw) in the same run; lines
`insights.page_p95_ms.<page>`, target ≥ 20× faster than the raw computation and p95 < 300 ms.
Also `insights.rollup_rebuild_seconds`: the full rebuild of the rollups from every event.

The base is written by two INSERT ... SELECT over generate_series in a UDN made for the run
(dropped at the end): each person walks the funnel part of the way (lead, registration,
account, app download and activation, deposits, cashback, cashout), with utm-tagged touches,
repeated deposits, subscription renewals and support tickets."""

# The base is SQL over the models' table names; the only value, the count, is a parameter.
# ruff: noqa: S608

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Iterator

from django.db import connection
from django.test import Client
from django_tenants.utils import tenant_context

from devtools.benchmarks import Result, benchmark
from tenants.models import UDN
from tenants.selectors import udn_list
from tenants.services import udn_provision, user_create

AFFILIATES = int(os.environ.get("BENCH_INSIGHTS_AFFILIATES", "1000000"))
REQUESTS = int(os.environ.get("BENCH_INSIGHTS_REQUESTS", "20"))
RAW_RUNS = int(os.environ.get("BENCH_INSIGHTS_RAW_RUNS", "3"))
PAGES = ("time", "volume", "cohorts", "deposits", "attribution")


def _say(text: str) -> None:
    print(f"[bench insights] {text}", file=sys.stderr, flush=True)


def _base(n: int) -> int:
    from crm.models import Affiliate, Event

    aff = connection.ops.quote_name(Affiliate._meta.db_table)
    event = connection.ops.quote_name(Event._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {aff} (external_id, cpf, name, email, phone, city, state, plan, origin, stage,
                               tier, total_cash_in, time_zone, tags, attributes, created_at, updated_at)
            SELECT 'I' || g, '', 'Pessoa ' || g, '', '', 'São Paulo', 'SP',
                   (ARRAY['Básico', 'Prata', 'Ouro'])[1 + mod(g, 3)],
                   (ARRAY['store', 'site', 'whatsapp', 'partner', 'referral', 'event', 'other'])[1 + mod(g / 3, 7)],
                   'lead', (ARRAY['', '', 'Bronze', 'Prata', 'Ouro'])[1 + mod(g / 21, 5)], 0,
                   'America/Sao_Paulo', '{{}}', '{{}}', now(), now()
            FROM generate_series(1, %s) g
            """,
            [n],
        )
        cursor.execute(
            f"""
            CREATE TEMP TABLE bench_people AS
            SELECT id, now() - random() * interval '730 days' AS t0, random() AS depth, random() AS r2,
                   random() AS r3, random() AS r4
            FROM {aff}
            """
        )
        delay = "(-ln(1 - random()))"
        utm = (
            "jsonb_build_object('utm_source', (ARRAY['google', 'meta', 'tiktok', 'email'])[1 + mod(p.id, 4)],"
            " 'utm_campaign', 'c' || mod(p.id, 7))"
        )
        cursor.execute(
            f"""
            INSERT INTO {event} (event_id, affiliate_id, type, occurred_at, source, amount, properties, received_at)
            SELECT 'b' || p.id || '-' || s.k, p.id, s.type, s.at, 'bench', s.amount, s.props, now()
            FROM (SELECT p.*, p.t0 + interval '1 hour' * 3 * {delay} AS opened FROM bench_people p) p
            CROSS JOIN LATERAL (VALUES
                (1, 'lead_created', p.t0, NULL::numeric,
                 CASE WHEN p.r2 < 0.4 THEN {utm} ELSE '{{}}'::jsonb END, true),
                (2, 'registration_started', p.t0 + interval '1 minute' * 30 * {delay}, NULL, '{{}}', p.depth > 0.1),
                (3, 'account_opened', p.opened, NULL, '{{}}', p.depth > 0.2),
                (4, 'app_downloaded', p.opened + interval '1 hour' * 10 * {delay}, NULL,
                 CASE WHEN p.r3 < 0.2 THEN {utm} ELSE '{{}}'::jsonb END, p.depth > 0.4),
                (5, 'app_activated', p.opened + interval '1 hour' * 30 * {delay}, NULL, '{{}}', p.depth > 0.5),
                (6, 'cash_in', p.opened + interval '1 day' * 5 * {delay}, round((20 + random() * 980)::numeric, 2),
                 '{{}}', p.depth > 0.65),
                (7, 'cashback', p.opened + interval '1 day' * 10 * {delay}, 5.00, '{{}}', p.r4 < 0.25),
                (8, 'cashout', p.opened + interval '1 day' * 20 * {delay}, 50.00, '{{}}', p.depth > 0.85),
                (9, 'support_ticket_opened', p.opened + interval '1 day' * {delay}, NULL,
                 jsonb_build_object('ticket_id', 'T' || p.id), p.r4 > 0.9),
                (10, 'support_ticket_closed', p.opened + interval '1 day' * 1.2 + interval '1 hour' * 6 * {delay}, NULL,
                 jsonb_build_object('ticket_id', 'T' || p.id,
                                    'reason', (ARRAY['senha redefinida', 'dúvida esclarecida'])[1 + mod(p.id, 2)]),
                 p.r4 > 0.9)
            ) s(k, type, at, amount, props, keep)
            WHERE s.keep AND s.at <= now()
            """
        )
        # Repeated deposits of depositors and monthly renewals: about ten events a person in all.
        cursor.execute(
            f"""
            INSERT INTO {event} (event_id, affiliate_id, type, occurred_at, source, amount, properties, received_at)
            SELECT 'r' || p.id || '-' || g, p.id,
                   CASE WHEN p.depth > 0.65 AND mod(g, 2) = 0 THEN 'cash_in' ELSE 'subscription_renewed' END,
                   p.t0 + interval '30 days' * g + interval '1 hour' * 24 * random(), 'bench',
                   CASE WHEN p.depth > 0.65 AND mod(g, 2) = 0 THEN round((20 + random() * 480)::numeric, 2) END,
                   '{{}}', now()
            FROM bench_people p CROSS JOIN LATERAL generate_series(1, 1 + floor(p.r2 * 11)::int) g
            WHERE p.t0 + interval '30 days' * g <= now()
            """
        )
        cursor.execute("DROP TABLE bench_people")
        cursor.execute(f"ANALYZE {aff}")
        cursor.execute(f"ANALYZE {event}")
        cursor.execute(f"SELECT count(*) FROM {event}")
        return int(cursor.fetchone()[0])


def _fresh_udn() -> UDN:
    n = 1
    while udn_list().filter(slug=f"bench-insights-{n:02d}").exists():
        n += 1
    return udn_provision(name=f"Bench insights {n:02d}", slug=f"bench-insights-{n:02d}")


def _p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[max(0, round(0.95 * len(ordered)) - 1)] * 1000


@benchmark("insights")
def insights() -> Iterator[Result]:
    from insights import raw
    from insights.selectors import dashboards
    from insights.selectors.dashboards import Filters
    from insights.services.rollups import rollups_rebuild
    from insights.views import filters_from
    from tenants.services import membership_grant

    udn = _fresh_udn()
    user = user_create(email=f"bench@{udn.slug}.local", password=None)
    try:
        membership_grant(user=user, udn=udn, role="marketer")
        with tenant_context(udn):
            started = time.perf_counter()
            events = _base(AFFILIATES)
            _say(
                f"{AFFILIATES:,} affiliates, {events:,} events written in {time.perf_counter() - started:.0f} s"
            )
            rebuild = rollups_rebuild()
            _say(f"rollups rebuilt in {rebuild.seconds:.1f} s ({rebuild.rows:,} rows)")
        yield Result(
            name="insights.rollup_rebuild_seconds",
            value=rebuild.seconds,
            unit="s",
            target="a report (nightly, long queue)",
            baseline_name="events in the base",
            baseline_value=float(events),
        )
        host = udn.get_primary_domain().domain  # type: ignore[union-attr]
        client = Client()
        client.force_login(user)
        for page in PAGES:
            path = f"/insights/{page}/"
            response = client.get(path, HTTP_HOST=host)  # warm up (and check)
            assert response.status_code == 200, (page, response.status_code)
            samples = []
            for _ in range(REQUESTS):
                started = time.perf_counter()
                response = client.get(path, HTTP_HOST=host)
                samples.append(time.perf_counter() - started)
            with tenant_context(udn):
                filters: Filters = filters_from(response.wsgi_request, time_zone=udn.time_zone)
                started = time.perf_counter()
                page_rows = dashboards.PAGES[page](filters=filters)
                selector_ms = (time.perf_counter() - started) * 1000
                raw_samples = []
                for _ in range(RAW_RUNS):
                    started = time.perf_counter()
                    raw_page = raw.PAGES[page](filters=filters)
                    raw_samples.append(time.perf_counter() - started)
                assert raw_page.rows() == page_rows.rows(), f"{page}: the page and the raw events disagree"
            p95 = _p95(samples)
            raw_ms = statistics.median(raw_samples) * 1000
            _say(
                f"{page}: page p95 {p95:.0f} ms (its figures {selector_ms:.0f} ms), raw {raw_ms:.0f} ms"
                f" ({raw_ms / p95:.0f}× faster)"
            )
            yield Result(
                name=f"insights.page_p95_ms.{page}",
                value=p95,
                unit="ms",
                target="≤ 0.05 of the raw computation (≥ 20× faster), and < 300 ms",
                baseline_name="the same figures straight from the raw events (median, same run)",
                baseline_value=raw_ms,
            )
    finally:
        if not os.environ.get("BENCH_KEEP"):
            connection.set_schema_to_public()  # type: ignore[attr-defined]
            udn.delete(force_drop=True)
            user.delete()
