"""The shared calendar's month view: 10 UDNs, 2,000 entries (each UDN's broadcasts, joint
campaigns, War Room deadlines) with conflict detection, p95 beside the sign-in page's p95 in the
same run.

A month view is what a browser fetches to show it: the page (its shell and the conflicts list)
then the events' JSON; each sample times both. The calendar caches its computation under versions
any change bumps (warroom.changes), so three figures: warm (nothing changed since the last view:
`coordination.calendar_p95_ms`, the issue's line), cold (each view right after a change in the
shared space: joint campaigns, deadlines and conflicts recomputed from the UDNs' cached
aggregates) and the very first view (every UDN's aggregates read from its schema too)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from datetime import time as dtime
from decimal import Decimal

from django.conf import settings
from django.test import Client
from django_tenants.utils import tenant_context

from devtools.benchmarks import Result, benchmark
from tenants.models import UDN, User
from tenants.selectors import udn_list
from tenants.services import udn_provision, user_create
from warroom.changes import calendar_changed

UDNS = 10
BROADCASTS_PER_UDN = 150  # 1,500
JOINT = 300
DEADLINES = 200
REQUESTS = 60
COLD_REQUESTS = 20
MONTH = date(2031, 3, 1)  # a month of its own: nothing else of the demo falls in it
TAG = "bench-coordination"


def _p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[18] * 1000


def _udns() -> list[UDN]:
    udns = list(udn_list()[:UDNS])
    n = 0
    while len(udns) < UDNS:
        n += 1
        slug = f"coord-{n:02d}"
        if not udn_list().filter(slug=slug).exists():
            udns.append(udn_provision(name=f"Bench {slug}", slug=slug))
    return udns


def _prepare(udns: list[UDN], coordinator: User) -> None:
    from campaigns.models import Campaign
    from warroom.models import Action, JointCampaign, JointSource
    from warroom.services.board import board_columns_ensure

    zone = settings.TIME_ZONE
    import zoneinfo

    tz = zoneinfo.ZoneInfo(zone)
    for i, udn in enumerate(udns):
        with tenant_context(udn):
            Campaign.objects.filter(created_by=TAG).delete()
            Campaign.objects.bulk_create(
                [
                    Campaign(
                        name=f"Bench {udn.slug} {n}",
                        channels=[("email", "whatsapp", "sms")[n % 3]],
                        status="scheduled",
                        send_at=datetime.combine(MONTH + timedelta(days=(n + i) % 28), dtime(10), tzinfo=tz),
                        audience_count=1000 + n,
                        created_by=TAG,
                    )
                    for n in range(BROADCASTS_PER_UDN)
                ]
            )
    JointCampaign.objects.filter(goal=TAG).delete()
    Action.objects.filter(team=TAG).delete()
    column = board_columns_ensure()[0]
    joints = JointCampaign.objects.bulk_create(
        [
            JointCampaign(
                name=f"Cross bench {n}",
                promoting_udn=udns[n % UDNS],
                channel=("email", "whatsapp")[n % 2],
                start_date=MONTH + timedelta(days=n % 28),
                end_date=MONTH + timedelta(days=n % 28 + 2),
                goal=TAG,
                budget=Decimal("100.00"),
                status="proposed",
                created_by=coordinator,
            )
            for n in range(JOINT)
        ]
    )
    JointSource.objects.bulk_create(
        [JointSource(campaign=c, udn=udns[(n + 1) % UDNS], audience=500) for n, c in enumerate(joints)]
    )
    actions = Action.objects.bulk_create(
        [
            Action(title=f"Ação bench {n}", team=TAG, column=column, deadline=MONTH + timedelta(days=n % 28))
            for n in range(DEADLINES)
        ]
    )
    through = Action.udns.through
    through.objects.bulk_create(
        [through(action_id=a.pk, udn_id=udns[n % UDNS].pk) for n, a in enumerate(actions)]
    )
    # Bulk writes send no signals: say what changed, as a bulk import would.
    for udn in udns:
        calendar_changed(schema=udn.schema_name)


#: What every browser sends: the events' JSON then comes gzipped, as the cache keeps it.
BROWSER_HEADERS = {"Accept-Encoding": "gzip, deflate, br, zstd"}


def _month_view(client: Client, paths: list[str], host: str) -> float:
    started = time.perf_counter()
    for path in paths:
        response = client.get(path, HTTP_HOST=host, headers=BROWSER_HEADERS)
        assert response.status_code == 200, (path, response.status_code)
    return time.perf_counter() - started


def _timed(client: Client, path: str, host: str) -> list[float]:
    samples = []
    for _ in range(REQUESTS):
        started = time.perf_counter()
        response = client.get(path, HTTP_HOST=host)
        samples.append(time.perf_counter() - started)
        assert response.status_code == 200, (path, response.status_code)
    return samples


@benchmark("coordination")
def coordination() -> Iterator[Result]:
    udns = _udns()
    coordinator = User.objects.filter(email="bench@coordination.local").first() or user_create(
        email="bench@coordination.local", password=None, is_coordinator=True
    )
    _prepare(udns, coordinator)
    host = settings.BASE_DOMAIN
    client = Client()
    client.force_login(coordinator)
    path = f"/warroom/calendar/?month={MONTH:%Y-%m}"
    # The month grid FullCalendar asks for: the Sunday before the 1st, six weeks.
    grid = MONTH - timedelta(days=(MONTH.weekday() + 1) % 7)
    window = f"/warroom/calendar/events/?start={grid:%Y-%m-%d}&end={grid + timedelta(days=42):%Y-%m-%d}"
    month_view = [path, window]
    anonymous = Client()
    _timed(anonymous, "/accounts/login/", host)  # warm up the process
    _month_view(client, ["/warroom/board/"], host)
    first = _month_view(client, month_view, host)
    events = client.get(window, HTTP_HOST=host).json()["events"]
    assert len(events) >= UDNS * BROADCASTS_PER_UDN + JOINT + DEADLINES, len(events)
    cold = []
    for _ in range(COLD_REQUESTS):
        calendar_changed()  # what saving a joint campaign or moving an action does
        cold.append(_month_view(client, month_view, host))
    warm = [_month_view(client, month_view, host) for _ in range(REQUESTS)]
    sign_in = _p95(_timed(anonymous, "/accounts/login/", host))
    target = "≤ 4× the sign-in page's p95, and < 300 ms"
    baseline = "sign-in page p95 (same run)"
    yield Result(
        name="coordination.calendar_p95_ms",
        value=_p95(warm),
        unit="ms (warm: page + events JSON, nothing changed since the last view)",
        target=target,
        baseline_name=baseline,
        baseline_value=sign_in,
    )
    yield Result(
        name="coordination.calendar_cold_p95_ms",
        value=_p95(cold),
        unit="ms (cold: page + events JSON, each right after a change in the shared space)",
        target="< 300 ms",
        baseline_name=baseline,
        baseline_value=sign_in,
    )
    yield Result(
        name="coordination.calendar_first_ms",
        value=first * 1000,
        unit="ms (the first view: every UDN's aggregates read from its schema)",
        target="< 300 ms",
        baseline_name=baseline,
        baseline_value=sign_in,
    )
