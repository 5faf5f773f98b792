"""What the calendar's caches hang on: a version of everything it shows, bumped by any change.

The calendar keeps each UDN's month aggregates and each computed month (entries and conflicts) in
the cache under the versions current when it was computed; a change anywhere bumps them, so the
next view computes afresh and nothing is ever served stale past a change:
- the shared space's own rows (joint campaigns and their sources, actions, columns, the activity
  every board change writes, the calendar settings, UDNs) through Django's model signals;
- what lives in the UDN schemas (broadcast campaigns, journeys and their versions, frequency caps)
  and the cross-UDN contact budget, through the same signals subscribed by label: campaigns knows
  nothing of the shared space (an import contract), the shared space imports none of its models.
Writes that bypass `save()` (a queryset `update()` of a campaign's status, the enrolled counts of a
journey as affiliates come and go) are caught by the caches' expiry (CACHE_SECONDS).

The versions live in the schema-less cache (`global`): one for the whole calendar and one per UDN
schema, so a change in one UDN refetches that UDN's aggregates only. A lost version restarts from
the clock, never from a number an older entry was stored under."""

from __future__ import annotations

import time
from typing import Any

from django.core.cache import caches
from django.db import connection, transaction
from django.db.models.signals import m2m_changed, post_delete, post_save

#: Seconds a computed month (and a UDN's aggregates) stays cached when nothing bumps it: the bound
#: on staleness for the writes signals do not see (see above).
CACHE_SECONDS = 120

VERSION_KEY = "warroom:calendar:version"
UDN_VERSION_KEY = "warroom:calendar:udn-version:{schema}"

#: Models whose changes the calendar shows, by label (UDN schemas' and the public schema's).
WATCHED = (
    "campaigns.Campaign",
    "campaigns.Journey",
    "campaigns.JourneyVersion",
    "campaigns.FrequencyCap",
    "pressure.PressureBudget",
    "warroom.JointCampaign",
    "warroom.JointSource",
    "warroom.Action",
    "warroom.BoardColumn",
    "warroom.Activity",
    "warroom.CalendarSettings",
    "tenants.UDN",
)


def _cache() -> Any:
    return caches["global"]


def _bump(keys: list[str]) -> None:
    cache = _cache()
    for key in keys:
        try:
            cache.incr(key)
        except ValueError:  # never set, or lost: restart above any number used before
            cache.add(key, time.time_ns(), timeout=None)


def versions(*, schemas: list[str] | None = None) -> tuple[int, dict[str, int]]:
    """The calendar's version and each named UDN schema's (one round trip)."""
    keys = [VERSION_KEY] + [UDN_VERSION_KEY.format(schema=s) for s in schemas or []]
    found = _cache().get_many(keys)
    missing = [k for k in keys if k not in found]
    if missing:
        _bump(missing)
        found.update(_cache().get_many(missing))
    return int(found.get(VERSION_KEY, 0)), {
        s: int(found.get(UDN_VERSION_KEY.format(schema=s), 0)) for s in schemas or []
    }


def calendar_changed(*, schema: str | None = None) -> None:
    """Everything computed before is stale (and `schema`'s aggregates, when a UDN's row changed).
    Bumped at once and again after the commit: a view computed between the two from rows not yet
    committed is never kept under the version that follows the commit."""
    keys = [VERSION_KEY] + ([UDN_VERSION_KEY.format(schema=schema)] if schema else [])
    _bump(keys)
    transaction.on_commit(lambda: _bump(keys))


def _on_change(sender: Any, **kwargs: Any) -> None:
    schema = getattr(connection, "schema_name", "public")  # django-tenants' wrapper
    calendar_changed(schema=None if schema == "public" else schema)


def subscribe() -> None:
    """Connect the signals (WarroomConfig.ready)."""
    for label in WATCHED:
        post_save.connect(_on_change, sender=label, dispatch_uid=f"warroom-calendar-save-{label}")
        post_delete.connect(_on_change, sender=label, dispatch_uid=f"warroom-calendar-delete-{label}")
    m2m_changed.connect(_on_change, sender="warroom.Action_udns", dispatch_uid="warroom-calendar-udns")
