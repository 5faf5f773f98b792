"""The one way the shared space asks a UDN something: a service or selector of a UDN app, named by
import path (never imported here: the shared space reads no UDN app's models, an import contract
checks it), called inside the UDN's schema. What comes back is aggregates or keyed hashes only."""

from __future__ import annotations

from typing import Any

from django.core.cache import cache, caches
from django.utils.module_loading import import_string
from django_tenants.utils import tenant_context

from tenants.models import UDN

# What warroom asks, and where it lives (campaigns' services, written for the shared space).
CALENDAR_ENTRIES = "campaigns.services.calendar.calendar_entries"
JOURNEY_ENTRIES = "campaigns.services.calendar.journey_entries"
FREQUENCY_CAPS = "campaigns.services.calendar.frequency_caps"
STATUS_LABELS = "campaigns.services.calendar.status_labels"
AUDIENCE_COUNT = "campaigns.services.crosssell.crosssell_audience_count"
LAUNCH = "campaigns.services.crosssell.crosssell_launch"
RESULTS = "campaigns.services.crosssell.crosssell_results"
REACHED_PERSONS = "campaigns.services.crosssell.crosssell_reached_persons"
JOINED_SINCE = "campaigns.services.crosssell.persons_joined_since"
PRESSURE_BUDGETS = "campaigns.services.pressure.pressure_budgets"

#: Seconds a UDN's calendar entries and caps are kept in the cache (its own schema's keys): the
#: calendar polls, and ten UDNs' queries each time would make every refresh slow.
CACHE_SECONDS = 30


def udn_call(udn: UDN, path: str, **kwargs: Any) -> Any:
    """Call the UDN app's function `path` inside `udn`'s schema."""
    with tenant_context(udn):
        return import_string(path)(**kwargs)


def udn_call_cached(udn: UDN, path: str, key: str, **kwargs: Any) -> Any:
    """`udn_call`, kept CACHE_SECONDS in the cache under `key` inside the UDN's schema (the cache's
    key function adds the schema: one UDN never reads another's entry)."""
    with tenant_context(udn):
        full_key = f"warroom:{path}:{key}"
        value = cache.get(full_key)
        if value is None:
            value = import_string(path)(**kwargs)
            cache.set(full_key, value, CACHE_SECONDS)
        return value


def udn_aggregates(
    *, udns: list[UDN], calls: dict[str, dict[str, Any]], tag: str, udn_versions: dict[str, int]
) -> dict[int, dict[str, Any]]:
    """For each UDN, each of `calls` (path → keyword arguments) answered inside its schema: read
    from the schema-less cache in one round trip for all UDNs, under each UDN's version (bumped
    when its rows change, warroom.changes) and `tag`; only the misses enter a schema, once per UDN
    for all its calls. The key names the schema: one UDN's answers are never read as another's."""
    from warroom.changes import CACHE_SECONDS

    cache = caches["global"]

    def key(udn: UDN, path: str) -> str:
        return f"warroom:udn:{udn.schema_name}:{udn_versions.get(udn.schema_name, 0)}:{path}:{tag}"

    wanted = {key(udn, path): (udn, path) for udn in udns for path in calls}
    found = cache.get_many(list(wanted)) if wanted else {}
    answers: dict[int, dict[str, Any]] = {udn.pk: {} for udn in udns}
    missing: dict[int, list[str]] = {}
    for full_key, (udn, path) in wanted.items():
        if full_key in found:
            answers[udn.pk][path] = found[full_key]
        else:
            missing.setdefault(udn.pk, []).append(path)
    fresh: dict[str, Any] = {}
    for udn in udns:
        if udn.pk not in missing:
            continue
        with tenant_context(udn):
            for path in missing[udn.pk]:
                answers[udn.pk][path] = fresh[key(udn, path)] = import_string(path)(**calls[path])
    if fresh:
        cache.set_many(fresh, CACHE_SECONDS)
    return answers


def udn_cache_forget(udn: UDN, path: str, key: str) -> None:
    with tenant_context(udn):
        cache.delete(f"warroom:{path}:{key}")
