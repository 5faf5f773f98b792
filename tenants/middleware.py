from __future__ import annotations

import copy
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.utils.cache import add_never_cache_headers
from django_tenants.middleware.main import TenantMainMiddleware

from tenants.selectors import membership_for

# Paths on a UDN host that do not need a member: sign-in, hand-off, health,
# static files, the API (it authenticates with its own keys) and the switcher (it checks the space
# it leads to, so someone who may not open this UDN can still leave it for their own spaces).
# /hooks/ and /r/: providers' callbacks and tracked links (messaging), proved by their own secrets;
# /u/: the unsubscribe links of e-mails (a signed token), which mail clients follow with no sign-in.
OPEN_PREFIXES = (
    "/accounts/",
    "/healthz",
    "/static/",
    "/api/",
    "/i18n/",
    "/favicon.ico",
    "/switch/",
    "/hooks/",
    "/r/",
    "/u/",
)


class UDNAccessMiddleware:
    """On a UDN host, everything but OPEN_PREFIXES needs a signed-in member (403 otherwise)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        tenant = getattr(request, "tenant", None)
        request.membership = None  # type: ignore[attr-defined]
        if tenant is not None and not tenant.is_public and not request.path_info.startswith(OPEN_PREFIXES):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)
            request.membership = membership_for(user=request.user, udn=tenant)  # type: ignore[attr-defined,arg-type]
        return self.get_response(request)


class CachedTenantMainMiddleware(TenantMainMiddleware):
    """django-tenants' routing, with the host → UDN lookup cached in this process for
    TENANT_CACHE_SECONDS. A request then needs no query on the public schema before its
    own, so it sends at most one `SET search_path` (with TENANT_LIMIT_SET_CALLS), and none
    when the connection already has this UDN's path from the previous request (a worker
    serving one partner's API calls back to back). A renamed or removed domain is noticed
    within TENANT_CACHE_SECONDS."""

    def process_request(self, request):  # type: ignore[no-untyped-def]
        # django-tenants forgets the path the connection has on every request; it only ever
        # holds a value while that path really is set (cleared on close, rollback and
        # savepoint rollback), so when this request wants the same path it is kept, unless
        # the host lookup below ran a query (on the public path) in between.
        tenant_connection: Any = connection  # django-tenants' wrapper (the stubs know Django's)
        already = tenant_connection.search_path_set_schemas
        tenant_connection.udn_host_queried = False
        response = super().process_request(request)
        if (
            already
            and not tenant_connection.udn_host_queried
            and tenant_connection.search_path_set_schemas is None
            and tenant_connection._get_cursor_search_paths() == already
        ):
            tenant_connection.search_path_set_schemas = already
        return response

    def get_tenant(self, domain_model, hostname):  # type: ignore[no-untyped-def]
        ttl = settings.TENANT_CACHE_SECONDS
        now = time.monotonic()
        hit = _TENANT_CACHE.get(hostname) if ttl > 0 else None
        if hit is not None and hit[0] > now:
            return copy.copy(hit[1])  # requests may annotate their tenant; never share one object
        connection.udn_host_queried = True  # type: ignore[attr-defined]
        tenant = super().get_tenant(domain_model, hostname)
        if ttl <= 0:
            return tenant
        _TENANT_CACHE[hostname] = (now + ttl, tenant)
        return copy.copy(tenant)


_TENANT_CACHE: dict[str, tuple[float, object]] = {}


def tenant_cache_clear() -> None:
    _TENANT_CACHE.clear()


class NoStoreMiddleware:
    """`Cache-Control: no-store` (Django's never_cache headers) on every response to a signed-in
    person and on the partner API: pages, fragments and exports carry personal data, which no
    browser cache, shared proxy or back button may keep. Static files never get here (WhiteNoise
    answers them first)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if (user is not None and user.is_authenticated) or request.path_info.startswith("/api/"):
            add_never_cache_headers(response)
        return response
