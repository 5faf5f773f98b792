"""Provisioning a UDN, and what tenant routing costs a request."""

from __future__ import annotations

import itertools
import statistics
import time
from collections.abc import Iterator

from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_exists

from devtools.benchmarks import Result, benchmark
from tenants.models import UDN, Role, User
from tenants.schemas import use_tenant
from tenants.selectors import udn_list
from tenants.services import membership_grant, udn_provision, user_create

EXISTING_UDNS = 20  # the condition: provisioning with 20 UDNs already there
SAMPLES = 3
REQUESTS = 500

_counter = itertools.count(1)


def _provision_one(prefix: str) -> float:
    slug = f"{prefix}-{next(_counter):03d}"
    while udn_list().filter(slug=slug).exists() or schema_exists(slug.replace("-", "_")):
        slug = f"{prefix}-{next(_counter):03d}"
    started = time.perf_counter()
    udn_provision(name=f"Bench {slug}", slug=slug)
    return time.perf_counter() - started


@benchmark("provision")
def provision() -> Iterator[Result]:
    existing = udn_list().count()
    for _ in range(max(0, EXISTING_UDNS - existing)):
        _provision_one("fill")
    cloned = statistics.median(_provision_one("clone") for _ in range(SAMPLES))
    # Baseline: the same provisioning, running every migration instead of cloning the template.
    with override_settings(TENANT_CREATION_FAKES_MIGRATIONS=False):
        migrated = statistics.median(_provision_one("migrate") for _ in range(SAMPLES))
    yield Result(
        name="provision.udn_seconds",
        value=cloned,
        unit="s",
        target="< 5 s with 20 UDNs",
        baseline_name="provision by running migrations",
        baseline_value=migrated,
    )


def _requests(client: Client, host: str) -> list[float]:
    samples = []
    for _ in range(REQUESTS):
        started = time.perf_counter()
        response = client.get("/", HTTP_HOST=host)
        samples.append(time.perf_counter() - started)
        assert response.status_code == 200, response.status_code
    return samples


@benchmark("routing")
def routing() -> Iterator[Result]:
    udn = udn_list().first() or UDN.objects.get(pk=udn_provision(name="Bench routing", slug="routing").pk)
    host = udn.get_primary_domain().domain  # type: ignore[union-attr]
    # A signed-in marketer on the UDN dashboard: session, membership and CRM queries.
    user = User.objects.filter(email="bench@routing.local").first() or user_create(
        email="bench@routing.local", password=None
    )
    membership_grant(user=user, udn=udn, role=Role.MARKETER)
    client = Client()
    client.force_login(user)
    _requests(client, host)  # warm up templates, connections, caches

    routed = statistics.mean(_requests(client, host))
    # Baseline: the same request with the host lookup taken out: a middleware that always picks
    # this UDN (what a single-tenant deployment would do), so only routing's own cost differs.
    middleware = "tenants.middleware.CachedTenantMainMiddleware"
    fixed = "devtools.benchmarks.tenancy.FixedTenantMiddleware"
    FixedTenantMiddleware.tenant = udn
    with override_settings(MIDDLEWARE=[fixed if m == middleware else m for m in _middleware()]):
        unrouted = statistics.mean(_requests(client, host))
    yield Result(
        name="routing.request_ms",
        value=routed * 1000,
        unit="ms",
        target="routing adds < 1 ms a request",
        baseline_name="same request, UDN fixed (no host lookup)",
        baseline_value=unrouted * 1000,
    )

    def set_calls(limit: bool, cache_seconds: int = 30) -> float:
        with (
            override_settings(TENANT_LIMIT_SET_CALLS=limit, TENANT_CACHE_SECONDS=cache_seconds),
            CaptureQueriesContext(connection) as queries,
        ):
            for _ in range(100):
                client.get("/", HTTP_HOST=host)
        return sum(1 for q in queries.captured_queries if q["sql"].startswith("SET search_path")) / 100

    yield Result(
        name="routing.set_search_path_per_request",
        value=set_calls(True),
        unit="statements",
        target="≤ 1 per request (TENANT_LIMIT_SET_CALLS; none when the connection already has the UDN's path)",
        baseline_name="TENANT_LIMIT_SET_CALLS off, no host cache",
        baseline_value=set_calls(False, cache_seconds=0),
    )


def _middleware() -> list[str]:
    from django.conf import settings

    return list(settings.MIDDLEWARE)


class FixedTenantMiddleware:
    """Routing's stand-in for the baseline: one known UDN, no host lookup."""

    tenant: UDN | None = None

    def __init__(self, get_response):  # type: ignore[no-untyped-def]
        self.get_response = get_response

    def __call__(self, request):  # type: ignore[no-untyped-def]
        request.tenant = self.tenant
        use_tenant(self.tenant)
        return self.get_response(request)
