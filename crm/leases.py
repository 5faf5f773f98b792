"""Leases for long work (an import, an export): proof that the process doing it is alive, and a
way to ask it to stop.

The run holds a lease, a cache key holding the time of its last renewal, which a background thread
renews while the work goes on. A run whose process died (killed, out of memory, the machine
restarted) stops renewing it, so the lease lapses LEASE_SECONDS later and a reaper can mark the
work failed (the time is in the value, not only in the key's expiry, so a test clock can move it):
a long run is never taken for dead, and a dead one never looks alive for the hour a Redis broker
keeps an unacknowledged task. The keys live in the cache (schema-prefixed) rather than in the job's
row because a first import updates that row inside one long transaction, where a renewal would
wait for the whole run.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.core.cache import cache
from django.db import connection

logger = logging.getLogger(__name__)

# A lease lapses this long after its last renewal. Renewed every LEASE_RENEW_SECONDS, so a busy
# worker (a COPY, an index build) has several chances to renew before it could be taken for dead.
LEASE_SECONDS = 60
LEASE_RENEW_SECONDS = 10
# How long a stop request waits for the run to see it.
STOP_REQUEST_SECONDS = 6 * 60 * 60


def _lease_key(name: str) -> str:
    return f"lease:{name}"


def _stop_key(name: str) -> str:
    return f"lease-stop:{name}"


@contextmanager
def lease_hold(*, name: str) -> Iterator[None]:
    """Hold the lease `name` while the block runs (renewed by a daemon thread)."""
    # The thread's own connection object must build the same (schema-prefixed) keys.
    schema = connection.schema_name  # type: ignore[attr-defined]
    done = threading.Event()

    def renew() -> None:
        connection.set_schema(schema)  # type: ignore[attr-defined]
        while not done.wait(LEASE_RENEW_SECONDS):
            try:
                _renew(name)
            except Exception:  # a Redis hiccup must not kill the run; the next renewal may pass
                logger.warning("could not renew lease %s", name, exc_info=True)

    _renew(name)
    thread = threading.Thread(target=renew, name=f"lease-{name}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
        cache.delete(_lease_key(name))


def _renew(name: str) -> None:
    # The key outlives the lease (the reaper reads the time); it only saves Redis from old keys.
    cache.set(_lease_key(name), time.time(), LEASE_SECONDS * 10)


def lease_alive(*, name: str) -> bool:
    renewed = cache.get(_lease_key(name))
    return renewed is not None and time.time() - renewed < LEASE_SECONDS


def lease_stop_request(*, name: str) -> None:
    """Ask the holder of `name` to stop at its next check (see lease_stop_requested)."""
    cache.set(_stop_key(name), True, STOP_REQUEST_SECONDS)


def lease_stop_requested(*, name: str) -> bool:
    return cache.get(_stop_key(name)) is not None


def lease_stop_clear(*, name: str) -> None:
    cache.delete(_stop_key(name))
    cache.delete(_closed_key(name))


def _closed_key(name: str) -> str:
    return f"lease-closed:{name}"


def lease_stop_close(*, name: str) -> None:
    """The holder of `name` no longer stops on request (it is writing what it prepared: stopping
    then would save nothing), so a request should be refused rather than silently ignored."""
    cache.set(_closed_key(name), True, STOP_REQUEST_SECONDS)


def lease_stop_closed(*, name: str) -> bool:
    return cache.get(_closed_key(name)) is not None
