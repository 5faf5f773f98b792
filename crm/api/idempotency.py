"""`Idempotency-Key` on POSTs: the first response (status and body) is kept for 24 h per
(API key, idempotency key) in the cache (Redis, schema-prefixed keys) and replayed for the
same body; another body under the same key is a 422."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from django.core.cache import cache
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils.translation import gettext as _
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from crm.api.errors import ApiError
from crm.models import ApiKey

HEADER = "HTTP_IDEMPOTENCY_KEY"
TTL_SECONDS = 24 * 60 * 60
# How long a request holds the key while it runs; a crashed request frees it after this.
LOCK_SECONDS = 60
KEY_MAX_LENGTH = 255


def _body_hash(request: Request) -> str:
    canonical = json.dumps(request.data, cls=DjangoJSONEncoder, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{request.method} {request.path}\n{canonical}".encode()).hexdigest()


def _atomic(handler: Callable[[], Response]) -> Response:
    """One transaction per request: a request that fails (an error answer or a bug) commits
    nothing of what it wrote, e.g. an event stored before its answer could be written."""
    with transaction.atomic():
        return handler()


def idempotent(
    request: Request, handler: Callable[[], Response], *, on_error: Callable[[Exception], Response]
) -> Response:
    """Run `handler` once per Idempotency-Key (no header: just run it)."""
    idem_key = request.META.get(HEADER)
    if idem_key is None:
        return _atomic(handler)
    if not idem_key.strip() or len(idem_key) > KEY_MAX_LENGTH:
        raise ApiError(
            code="idempotency_key_invalid",
            message=_("The Idempotency-Key header must have 1 to %(n)s characters.") % {"n": KEY_MAX_LENGTH},
            field="Idempotency-Key",
        )
    api_key = request.auth
    assert isinstance(api_key, ApiKey)
    body_hash = _body_hash(request)  # parses the body first: malformed JSON is a 400, not stored
    digest = hashlib.sha256(idem_key.encode()).hexdigest()
    # The key's random prefix too: ids restart in a fresh database, the cache may outlive it.
    cache_key = f"api:idem:{api_key.pk}:{api_key.prefix}:{digest}"

    if not cache.add(cache_key, {"state": "pending", "hash": body_hash}, LOCK_SECONDS):
        stored: dict[str, Any] | None = cache.get(cache_key)
        if stored is not None:
            if stored["hash"] != body_hash:
                raise ApiError(
                    code="idempotency_key_reused",
                    message=_("This Idempotency-Key was used with another request body."),
                    field="Idempotency-Key",
                    status_code=status.HTTP_422_UNPROCESSABLE_ENTITY,
                )
            if stored["state"] == "pending":
                raise ApiError(
                    code="idempotency_key_in_progress",
                    message=_("A request with this Idempotency-Key is still running; retry later."),
                    field="Idempotency-Key",
                    status_code=status.HTTP_409_CONFLICT,
                )
            response = Response(stored["body"], status=stored["status"])
            response["Idempotent-Replayed"] = "true"
            return response
        cache.add(cache_key, {"state": "pending", "hash": body_hash}, LOCK_SECONDS)

    try:
        response = _atomic(handler)
    except Exception as exc:  # stored like any other outcome, unless it is a server error
        try:
            response = on_error(exc)
        except Exception:
            cache.delete(cache_key)  # a bug (500): free the key so a retry runs again
            raise
    if response.status_code >= 500:
        cache.delete(cache_key)
    else:
        cache.set(
            cache_key,
            {"state": "done", "hash": body_hash, "status": response.status_code, "body": response.data},
            TTL_SECONDS,
        )
    return response
