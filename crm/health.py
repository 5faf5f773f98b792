"""/healthz: database, Redis and the age of the newest worker heartbeat."""

from __future__ import annotations

import time

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django_redis import get_redis_connection

from tenants.selectors import heartbeat_age_seconds


def _timed(check) -> dict[str, object]:
    started = time.perf_counter()
    try:
        check()
    except Exception as exc:  # a health probe reports every failure, it never raises
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    return {"ok": True, "latency_ms": round((time.perf_counter() - started) * 1000, 2)}


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _redis() -> None:
    get_redis_connection("default").ping()


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    database = _timed(_database)
    redis = _timed(_redis)
    age = heartbeat_age_seconds() if database["ok"] else None
    worker = {
        "heartbeat_age_seconds": None if age is None else round(age, 1),
        "ok": age is not None and age <= settings.HEARTBEAT_STALE_SECONDS,
    }
    healthy = bool(database["ok"] and redis["ok"])
    body = {
        "status": ("ok" if worker["ok"] else "degraded") if healthy else "error",
        "database": database,
        "redis": redis,
        "worker": worker,
    }
    return JsonResponse(body, status=200 if healthy else 503)
