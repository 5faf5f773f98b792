from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse

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
