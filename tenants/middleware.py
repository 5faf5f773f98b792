from __future__ import annotations

import copy
import time
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django_tenants.middleware.main import TenantMainMiddleware

from tenants.selectors import membership_for

# Paths on a UDN host that do not need a member: sign-in, hand-off, health,
# static files, and the API (it authenticates with its own keys).
OPEN_PREFIXES = ("/accounts/", "/healthz", "/static/", "/api/", "/i18n/", "/favicon.ico")


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
    own, so it sends exactly one `SET search_path` (with TENANT_LIMIT_SET_CALLS).
    A renamed or removed domain is noticed within that many seconds."""

    def get_tenant(self, domain_model, hostname):  # type: ignore[no-untyped-def]
        ttl = settings.TENANT_CACHE_SECONDS
        if ttl <= 0:
            return super().get_tenant(domain_model, hostname)
        now = time.monotonic()
        hit = _TENANT_CACHE.get(hostname)
        if hit is not None and hit[0] > now:
            return copy.copy(hit[1])  # requests may annotate their tenant; never share one object
        tenant = super().get_tenant(domain_model, hostname)
        _TENANT_CACHE[hostname] = (now + ttl, tenant)
        return copy.copy(tenant)


_TENANT_CACHE: dict[str, tuple[float, object]] = {}


def tenant_cache_clear() -> None:
    _TENANT_CACHE.clear()
