"""Sliding-window counters in Redis for sign-in and password-reset throttling.

Why not a library: django-axes keeps attempts in database tables, adds its own backend,
middleware and admin, and locks by default on username *and* address together; django-ratelimit
counts requests (not failures) in fixed windows per view. Sign-in needs "count only failures,
per account and per address, and refuse before the password is even checked", which is a few
lines over one Redis sorted set per counter: entries are timestamps, the window slides exactly,
and the add-trim-count round trip is one MULTI, so parallel guesses cannot slip between a read
and a write.

The counters live in the `global` cache alias: its keys do not carry the schema (the default
alias's do), because users live once in the public schema and a guess on any UDN's host must
count against the same account. The alias has its own key prefix, so these keys never collide
with a UDN's cache keys. Times come from `time.time()`, so tests drive them with time-machine.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import secrets
import time
from dataclasses import dataclass

from django.core.cache import caches
from django.http import HttpRequest
from django_redis import get_redis_connection

CACHE_ALIAS = "global"


@dataclass(frozen=True)
class Limit:
    """At most `count` hits in any `seconds`-long window."""

    name: str
    count: int
    seconds: int


def _key(limit: Limit, identity: str) -> str:
    # Hashed: no e-mail address or IP sits in Redis in the clear, and no user input shapes the key.
    digest = hashlib.sha256(identity.encode()).hexdigest()[:32]
    return caches[CACHE_ALIAS].make_key(f"throttle:{limit.name}:{digest}")


def throttle_wait_seconds(*, limit: Limit, identity: str) -> int:
    """Seconds until `identity` may try again under `limit` (0: it may now)."""
    now = time.time()
    redis = get_redis_connection(CACHE_ALIAS)
    key = _key(limit, identity)
    entries = redis.zrangebyscore(key, now - limit.seconds, "+inf", withscores=True)
    if len(entries) < limit.count:
        return 0
    # The hit that must age out of the window before one more fits.
    oldest_blocking = entries[len(entries) - limit.count][1]
    return max(1, math.ceil(oldest_blocking + limit.seconds - now))


def throttle_hit(*, limit: Limit, identity: str) -> int:
    """Count one hit for `identity`; return how many fall in the window now (this one included)."""
    now = time.time()
    key = _key(limit, identity)
    pipe = get_redis_connection(CACHE_ALIAS).pipeline(transaction=True)
    pipe.zremrangebyscore(key, "-inf", now - limit.seconds)
    pipe.zadd(key, {f"{now:.6f}:{secrets.token_hex(4)}": now})
    pipe.zcard(key)
    pipe.expire(key, limit.seconds + 60)
    return int(pipe.execute()[2])


def throttle_reset(*, limit: Limit, identity: str) -> None:
    get_redis_connection(CACHE_ALIAS).delete(_key(limit, identity))


def client_address(request: HttpRequest | None) -> str:
    """The address a request came from, as the WSGI server saw it (REMOTE_ADDR: a proxy in front
    must pass the client's address there, e.g. gunicorn --forwarded-allow-ips; X-Forwarded-For
    is not read, a client could write anything in it). IPv6 counts per /64, the block one
    subscriber usually holds."""
    if request is None:
        return ""
    raw = request.META.get("REMOTE_ADDR", "")
    try:
        address = ipaddress.ip_address(raw)
    except ValueError:
        return raw
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)
