"""Bearer API keys, scopes and per-key throttling."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.utils.translation import gettext as _
from django_redis import get_redis_connection
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from crm.models import ApiKey
from crm.selectors.api_keys import api_key_for_token
from crm.services.api_keys import api_key_touch
from tenants.actors import API_KEY, Actor, actor_set, request_address

DEFAULT_THROTTLE_RATE = "1200/min"


class ApiClient:
    """request.user for API calls: the partner system behind a key (not a person)."""

    is_authenticated = True
    is_anonymous = False
    is_active = True

    def __init__(self, api_key: ApiKey) -> None:
        self.api_key = api_key
        self.pk = None

    def __str__(self) -> str:
        return f"api:{self.api_key.prefix}"


class ApiKeyAuthentication(BaseAuthentication):
    """`Authorization: Bearer udn_<prefix>_<secret>`. The key table is in the UDN's schema, so a
    key of another UDN is simply unknown here (401)."""

    keyword = b"bearer"

    def authenticate(self, request: Request) -> tuple[ApiClient, ApiKey] | None:
        header = get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(_("Invalid API key."))
        try:
            token = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed(_("Invalid API key.")) from None
        api_key = api_key_for_token(token=token)
        if api_key is None:
            raise exceptions.AuthenticationFailed(_("Invalid API key."))
        api_key_touch(key=api_key)
        # The key is the actor of this request's writes (the audit log); ActorMiddleware undoes it.
        actor_set(Actor(kind=API_KEY, id=str(api_key.pk), label=str(api_key), ip=request_address(request)))
        return ApiClient(api_key), api_key

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


class HasScopes(BasePermission):
    """The key carries every scope in the view's `required_scopes` (for the request's method:
    a dict {"GET": [...], "POST": [...]} or one list for all)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        api_key = request.auth
        if not isinstance(api_key, ApiKey):
            return False
        required = getattr(view, "required_scopes", ())
        if isinstance(required, dict):
            required = required.get(request.method or "", ())
        missing = [scope for scope in required if scope not in api_key.scopes]
        if missing:
            raise exceptions.PermissionDenied(
                _("This API key lacks the scope: %(scopes)s.") % {"scopes": ", ".join(missing)},
                code="insufficient_scope",
            )
        return True


class ApiKeyRateThrottle(SimpleRateThrottle):
    """Requests per key (the API_THROTTLE_RATE setting, e.g. "1200/min") in fixed windows: one
    Redis INCR (and EXPIRE, pipelined: one round trip) per request, where DRF's sliding log
    would read and rewrite the key's whole request history. A client may burst up to twice the
    rate across a window boundary; Retry-After says when the current window ends. The counter's
    key carries the schema (the cache's key function) and the key's random prefix."""

    scope = "api_key"
    retry_after: float | None = None

    def get_rate(self) -> str:
        return str(getattr(settings, "API_THROTTLE_RATE", DEFAULT_THROTTLE_RATE))

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        api_key = request.auth
        if not isinstance(api_key, ApiKey):
            return None
        return f"throttle_api_key_{api_key.prefix}_{api_key.pk}"

    def allow_request(self, request: Request, view: Any) -> bool:
        key = self.get_cache_key(request, view)
        if key is None or self.num_requests is None or self.duration is None:
            return True
        now = self.timer()
        window = int(now // self.duration)
        counter = cache.make_key(f"{key}:{window}")
        pipe = get_redis_connection("default").pipeline(transaction=False)
        pipe.incr(counter)
        pipe.expire(counter, self.duration + 1)
        count, _ = pipe.execute()
        if count <= self.num_requests:
            return True
        self.retry_after = (window + 1) * self.duration - now
        return False

    def wait(self) -> float | None:
        return self.retry_after
