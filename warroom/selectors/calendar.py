"""The shared calendar: every entry of a date window (joint and cross-sell campaigns, each UDN's
own broadcasts gathered as aggregates from its schema, the War Room's deadlines) and the conflicts
among them.

Conflicts (warnings, never refusals):
- fatigue: two campaigns aimed at the same UDN's base on the same channel less than N days apart
  (N: settings.WARROOM_CONFLICT_DAYS, 3 by default);
- frequency cap: more campaigns on one UDN's base and channel in a day (or 7 days) than its cap
  lets one affiliate receive;
- contact pressure: more sends on a channel across all UDNs in a day (or 7 days) than the cross-UDN
  budget (campaigns.pressure's PressureBudget) lets one person receive.
Each campaign counts as one message to each person of each base it aims at: the worst case for
someone in every audience, which is what a plan must stay under. Journeys are shown (read-only,
from their publication, open-ended until archived) but raise no conflict: an always-on automation
would warn against every campaign on its channel; the frequency caps govern its sends.

Caching: each UDN's aggregates and each computed window (entries and conflicts, per viewer scope
and language) are kept under the versions of warroom.changes, which every change bumps; the
events' JSON and the conflicts list are kept per filters on top. A view after a change computes
once; every view after it until the next change reads one cache entry."""

from __future__ import annotations

import gzip
import zlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import msgspec
from django.conf import settings
from django.core.cache import caches
from django.urls import reverse
from django.utils.module_loading import import_string
from django.utils.translation import get_language, pgettext
from django.utils.translation import gettext as _

from crm.channels import BY_CODE
from tenants.models import UDN
from tenants.selectors import udn_list
from warroom import changes
from warroom import udns as bridge
from warroom.access import Viewer, actions_visible, joint_campaigns_visible
from warroom.models import (
    Action,
    CalendarSettings,
    Decision,
    JointCampaign,
    JointKind,
    JointSource,
    JointStatus,
)


class Kind:
    JOINT = "joint"
    CROSS_SELL = "cross_sell"
    BROADCAST = "broadcast"
    JOURNEY = "journey"
    DEADLINE = "deadline"


#: Conflict messages an entry shows (the rest are counted).
SHOWN_PER_ENTRY = 3
#: Statuses that send nothing any more (no conflict with them).
SILENT = {"cancelled", "declined", "done"}


@dataclass
class Entry:
    key: str
    kind: str
    title: str
    channel: str
    start: date
    end: date
    #: The UDN bases the entry aims at (a broadcast: its UDN; a joint campaign: its sources).
    udn_ids: tuple[int, ...]
    udn_names: str
    audience: int
    status: str
    editable: bool
    url: str
    conflicts: list[str] = field(default_factory=list)
    #: A journey still running: `end` is only the end of the window asked for.
    open_ended: bool = False

    @property
    def conflicts_shown(self) -> list[str]:
        return self.conflicts[:SHOWN_PER_ENTRY]

    @property
    def conflicts_hidden(self) -> int:
        return max(0, len(self.conflicts) - SHOWN_PER_ENTRY)

    def as_event(self) -> dict[str, Any]:
        """FullCalendar's event object (end exclusive), with only what the calendar draws: the
        conflicts' count, not their texts (a busy month's texts weighed a megabyte and a half; an
        entry's come with its details, calendar_entry_detail). Dates without a time are all-day
        events, and an event without an end lasts one day: both left out. `kind` and `conflicts`
        land in extendedProps."""
        event: dict[str, Any] = {
            "id": self.key,
            "title": self.title,
            "start": self.start.isoformat(),
            "classNames": f"cal-{self.kind} cal-conflict" if self.conflicts else f"cal-{self.kind}",
            "editable": self.editable,
            "kind": self.kind,
            "conflicts": len(self.conflicts),
        }
        if self.end != self.start:
            event["end"] = (self.end + timedelta(days=1)).isoformat()
        return event


@dataclass(frozen=True)
class Conflict:
    kind: str  # fatigue | cap | pressure
    message: str
    keys: tuple[str, ...]
    day: date


@dataclass(frozen=True)
class Filters:
    udn_ids: frozenset[int] = frozenset()
    channels: frozenset[str] = frozenset()
    kinds: frozenset[str] = frozenset()
    statuses: frozenset[str] = frozenset()


def _url(name: str, pk: int) -> str:
    """A shared-space address (the public URL conf, whatever schema the caller is in)."""
    return reverse(name, args=[pk], urlconf=settings.PUBLIC_SCHEMA_URLCONF)


def conflict_days() -> int:
    """The fatigue window N: the coordinators' setting (CalendarSettings), else settings.py's."""
    days = CalendarSettings.objects.filter(pk=1).values_list("conflict_days", flat=True).first()
    return int(days) if days is not None else conflict_days_default()


def conflict_days_default() -> int:
    return int(getattr(settings, "WARROOM_CONFLICT_DAYS", 3))


def kind_labels() -> dict[str, str]:
    """Each kind of entry, as people read it (the filters, the table)."""
    return {
        Kind.JOINT: str(JointKind.JOINT.label),
        Kind.CROSS_SELL: str(JointKind.CROSS_SELL.label),
        Kind.BROADCAST: _("UDN campaign"),
        Kind.JOURNEY: _("UDN journey"),
        Kind.DEADLINE: _("War Room deadline"),
    }


def status_labels() -> dict[str, str]:
    """Every status an entry may have (joint campaigns', the UDNs' campaigns' and journeys',
    deadlines'), as people read it."""
    return {
        **import_string(bridge.STATUS_LABELS)(),
        **{code: str(label) for code, label in JointStatus.choices},
        # One agreement for the calendar's entries and its filter (a campanha, a jornada): the
        # apps' own labels mix genders ("Pausado" beside "Cancelada").
        "draft": pgettext("calendar status", "Draft"),
        "proposed": pgettext("calendar status", "Proposed"),
        "approved": pgettext("calendar status", "Approved"),
        "scheduled": pgettext("calendar status", "Scheduled"),
        "fanning_out": pgettext("calendar status", "Preparing the audience"),
        "sending": pgettext("calendar status", "Sending"),
        "running": pgettext("calendar status", "Running"),
        "live": pgettext("calendar status", "Live"),
        "paused": pgettext("calendar status", "Paused"),
        "cancelled": pgettext("calendar status", "Cancelled"),
        "done": pgettext("calendar status", "Done"),
        "archived": pgettext("calendar status", "Archived"),
        "open": pgettext("deadline status", "Open"),
    }


def channel_labels() -> dict[str, str]:
    return {code: str(spec.label) for code, spec in BY_CODE.items()}


def _channel_label(code: str) -> str:
    spec = BY_CODE.get(code)
    return str(spec.label) if spec else code


def _joint_entries(viewer: Viewer, start: date, end: date, names: dict[int, str]) -> list[Entry]:
    # Plain rows, not model instances with a prefetch: a busy month has hundreds of campaigns.
    campaigns = list(
        joint_campaigns_visible(viewer)
        .filter(start_date__lt=end, end_date__gte=start)
        .values("pk", "kind", "name", "channel", "start_date", "end_date", "status")
        .order_by()
    )
    sources: dict[int, list[tuple[int, int]]] = defaultdict(list)
    rows = (
        JointSource.objects.filter(campaign_id__in=[c["pk"] for c in campaigns])
        .exclude(decision=Decision.DECLINED)
        .values_list("campaign_id", "udn_id", "audience")
        .order_by("udn__name")
    )
    for campaign_id, udn_id, audience in rows:
        sources[campaign_id].append((udn_id, audience))
    entries = []
    for campaign in campaigns:
        udn_ids = tuple(udn for udn, _audience in sources[campaign["pk"]])
        entries.append(
            Entry(
                key=f"joint-{campaign['pk']}",
                kind=campaign["kind"],
                title=campaign["name"],
                channel=campaign["channel"],
                start=campaign["start_date"],
                end=campaign["end_date"],
                udn_ids=udn_ids,
                udn_names=", ".join(names.get(u, "") for u in udn_ids),
                audience=sum(audience for _udn, audience in sources[campaign["pk"]]),
                status=campaign["status"],
                editable=viewer.may_edit and campaign["status"] in EDITABLE_STATUSES,
                url=_url("warroom:campaign-detail", campaign["pk"]),
            )
        )
    return entries


#: A joint campaign's dates may change until it is launched.
EDITABLE_STATUSES = (JointStatus.DRAFT, JointStatus.PROPOSED, JointStatus.APPROVED)


def _deadline_entries(viewer: Viewer, start: date, end: date, names: dict[int, str]) -> list[Entry]:
    actions = list(
        actions_visible(viewer)
        .filter(deadline__gte=start, deadline__lt=end)
        .values("pk", "title", "deadline", "column__is_done")
        .order_by()
    )
    involved: dict[int, list[int]] = defaultdict(list)
    through = Action.udns.through
    for action_id, udn_id in through.objects.filter(action_id__in=[a["pk"] for a in actions]).values_list(
        "action_id", "udn_id"
    ):
        involved[action_id].append(udn_id)
    entries = []
    for action in actions:
        udn_ids = tuple(involved[action["pk"]])
        deadline = action["deadline"]
        assert deadline is not None  # the filter above excludes actions without one
        entries.append(
            Entry(
                key=f"deadline-{action['pk']}",
                kind=Kind.DEADLINE,
                title=action["title"],
                channel="",
                start=deadline,
                end=deadline,
                udn_ids=udn_ids,
                udn_names=", ".join(names.get(u, "") for u in udn_ids),
                audience=0,
                status="done" if action["column__is_done"] else "open",
                editable=viewer.may_edit,
                url=_url("warroom:action-detail", action["pk"]),
            )
        )
    return entries


def _udn_entries(udn: UDN, answers: dict[str, Any], end: date) -> list[Entry]:
    rows = answers[bridge.CALENDAR_ENTRIES]
    journeys = [
        Entry(
            key=f"journey-{udn.slug}-{row['id']}",
            kind=Kind.JOURNEY,
            title=f"{row['name']} · {udn.name}",
            channel=row["channel"],
            start=row["start"],
            end=row["end"] or end - timedelta(days=1),
            udn_ids=(udn.pk,),
            udn_names=udn.name,
            audience=row["audience"],
            status=row["status"],
            editable=False,
            url="",
            open_ended=row["end"] is None,
        )
        for row in answers[bridge.JOURNEY_ENTRIES]
    ]
    return journeys + [
        Entry(
            key=f"broadcast-{udn.slug}-{row['id']}",
            kind=Kind.BROADCAST,
            title=f"{row['name']} · {udn.name}",
            channel=row["channel"],
            start=row["start"],
            end=row["end"] or row["start"],
            udn_ids=(udn.pk,),
            udn_names=udn.name,
            audience=row["audience"],
            status=row["status"],
            editable=False,
            url="",
        )
        for row in rows
    ]


def _scope(viewer: Viewer) -> str:
    """What decides a viewer's calendar: everything (coordinators, who may also edit) or the
    UDNs they belong to."""
    return "all" if viewer.coordinator else "u" + ".".join(str(u) for u in sorted(viewer.udn_ids))


def _window_key(viewer: Viewer, start: date, end: date, *parts: object) -> str:
    version, _udns = changes.versions()
    return ":".join(
        str(p)
        for p in (
            "warroom:calendar:month",
            version,
            _scope(viewer),
            start,
            end,
            get_language(),
            conflict_days_default(),  # settings.py's default (the coordinators' setting bumps the version)
            *parts,
        )
    )


def _compute(
    *, viewer: Viewer, start: date, end: date, with_conflicts: bool
) -> tuple[list[Entry], list[Conflict]]:
    udns = [u for u in udn_list() if viewer.coordinator or u.pk in viewer.udn_ids]
    names = {udn.pk: udn.name for udn in udn_list()}
    days = conflict_days()
    margin = timedelta(days=max(days, 7))
    lo, hi = start - margin, end + margin
    entries = _joint_entries(viewer, lo, hi, names) + _deadline_entries(viewer, lo, hi, names)
    _version, udn_versions = changes.versions(schemas=[u.schema_name for u in udns])
    window = {"start": lo, "end": hi}
    calls: dict[str, dict[str, Any]] = {bridge.CALENDAR_ENTRIES: window, bridge.JOURNEY_ENTRIES: window}
    answers = bridge.udn_aggregates(udns=udns, calls=calls, tag=f"{lo}:{hi}", udn_versions=udn_versions)
    for udn in udns:
        entries += _udn_entries(udn, answers[udn.pk], hi)
    conflicts: list[Conflict] = []
    if with_conflicts:
        conflicts = conflicts_find(entries, days=days, caps=_caps(udns, udn_versions), budgets=_budgets())
    shown = [e for e in entries if e.start < end and e.end >= start]
    keys = {e.key for e in shown}
    return shown, [c for c in conflicts if keys.intersection(c.keys)]


def calendar_entries(
    *, viewer: Viewer, start: date, end: date, filters: Filters = Filters(), with_conflicts: bool = True
) -> tuple[list[Entry], list[Conflict]]:
    """Every entry the viewer may see between `start` and `end` (end exclusive), filtered, with
    the conflicts found among all of them (conflicts look a window of N days beyond each side,
    so a campaign just outside still warns). Computed from the UDNs' cached aggregates; what the
    pages show of it (the events, the conflicts list) is cached per filters below: the whole, with
    every conflict's keys, weighs megabytes in a busy month, more to read than to compute."""
    entries, conflicts = _compute(viewer=viewer, start=start, end=end, with_conflicts=with_conflicts)
    if filters == Filters():
        return entries, conflicts
    shown = [e for e in entries if _passes(e, filters)]
    keys = {e.key for e in shown}
    return shown, [c for c in conflicts if keys.intersection(c.keys)]


def _filters_key(filters: Filters) -> str:
    return "|".join(
        ",".join(sorted(str(v) for v in values))
        for values in (filters.udn_ids, filters.channels, filters.kinds, filters.statuses)
    )


def _products(*, viewer: Viewer, start: date, end: date, filters: Filters, want: str) -> Any:
    """What the pages show of a window, per filters: the events' JSON and the conflicts list,
    computed together (one computation fills both) and read from the cache until a change."""
    cache = caches["global"]
    base = _window_key(viewer, start, end, _filters_key(filters))
    # The events' key names their format (gzipped JSON): processes of an older release sharing the
    # cache during a deploy must not read it as the plain JSON they wrote.
    keys = {"events": f"{base}:events.gz", "conflicts": f"{base}:conflicts"}
    found = cache.get(keys[want])
    if found is not None:
        return found
    entries, conflicts = calendar_entries(viewer=viewer, start=start, end=end, filters=filters)
    payload = {"events": [e.as_event() for e in entries], "conflicts": len(conflicts)}
    products = {
        # Kept gzipped: a tenth of the bytes to read from Redis on every view, sent as they are to
        # browsers (all of them accept gzip) and inflated for the rest.
        "events": gzip.compress(_JSON.encode(payload), compresslevel=6, mtime=0),
        "conflicts": {
            "conflicts": conflicts[:CONFLICTS_LISTED],
            "count": len(conflicts),
            "conflict_days": conflict_days(),
            "key": keys["conflicts"],
        },
    }
    cache.set_many({keys[name]: value for name, value in products.items()}, changes.CACHE_SECONDS)
    return products[want]


def calendar_events_json(
    *, viewer: Viewer, start: date, end: date, filters: Filters, gzipped: bool = False
) -> bytes:
    """The events' JSON answer (FullCalendar's objects and the conflicts' count); gzip-compressed
    when `gzipped` (the JSON has no secret and reflects nothing from the request: no BREACH)."""
    body = bytes(_products(viewer=viewer, start=start, end=end, filters=filters, want="events"))
    return body if gzipped else gzip.decompress(body)


#: An entry's details (its conflicts' texts included) are kept in this many cache entries, by a
#: hash of its key: a popover reads one, a sixty-fourth of a busy month's megabytes.
DETAIL_BUCKETS = 64


def _bucket(key: str) -> int:
    return zlib.crc32(key.encode()) % DETAIL_BUCKETS


def calendar_entry_detail(*, viewer: Viewer, start: date, end: date, key: str) -> Entry | None:
    """The entry `key` of the window the viewer's calendar shows, with every conflict it raises
    (the events carry only their count), or None when the viewer has no such entry there. Stored
    on the first request after a change, not with the events: the month view stays as light as it
    was, and the first popover after a change pays the computation."""
    cache = caches["global"]
    base = _window_key(viewer, start, end, "detail")
    found = cache.get(f"{base}:{_bucket(key)}")
    if found is None:
        entries, _conflicts = calendar_entries(viewer=viewer, start=start, end=end)
        buckets: list[dict[str, Entry]] = [{} for _ in range(DETAIL_BUCKETS)]
        for entry in entries:
            buckets[_bucket(entry.key)][entry.key] = entry
        cache.set_many({f"{base}:{n}": bucket for n, bucket in enumerate(buckets)}, changes.CACHE_SECONDS)
        found = buckets[_bucket(key)]
    detail: Entry | None = found.get(key)
    return detail


#: The events' encoder (msgspec, already the API's: a busy month is 2,000 small objects).
_JSON = msgspec.json.Encoder()

#: Conflicts listed beside the calendar (the rest are counted).
CONFLICTS_LISTED = 200


def calendar_conflicts_summary(*, viewer: Viewer, start: date, end: date, filters: Filters) -> dict[str, Any]:
    """The conflicts list beside the calendar: the first CONFLICTS_LISTED, how many in all, the
    fatigue window they were found with, and `key`, its cache key (under which the page may keep
    what it renders of it: it changes whenever the list does)."""
    return dict(_products(viewer=viewer, start=start, end=end, filters=filters, want="conflicts"))


def calendar_page_key(*, viewer: Viewer, start: date, end: date, filters: Filters) -> str:
    """A cache key for what the calendar page keeps of a window (the rendered conflicts list, the
    UDN filter's choices): it names the calendar's version (bumped by any change it shows, a UDN's
    too), the viewer's scope, the window, the filters and the language."""
    return _window_key(viewer, start, end, _filters_key(filters), "page")


def calendar_udn_choices(*, viewer: Viewer) -> list[tuple[int, str]]:
    """The UDN filter's choices (id, name): every UDN for coordinators, else the viewer's."""
    udns = udn_list() if viewer.coordinator else udn_list().filter(pk__in=viewer.udn_ids)
    return list(udns.prefetch_related(None).values_list("pk", "name"))


def _passes(entry: Entry, filters: Filters) -> bool:
    if filters.udn_ids and not filters.udn_ids.intersection(entry.udn_ids):
        return False
    if filters.channels and entry.channel not in filters.channels:
        return False
    if filters.kinds and entry.kind not in filters.kinds:
        return False
    return not (filters.statuses and entry.status not in filters.statuses)


def _caps(udns: list[UDN], udn_versions: dict[str, int]) -> dict[int, list[dict[str, Any]]]:
    answers = bridge.udn_aggregates(
        udns=udns, calls={bridge.FREQUENCY_CAPS: {}}, tag="caps", udn_versions=udn_versions
    )
    return {udn.pk: answers[udn.pk][bridge.FREQUENCY_CAPS] for udn in udns}


def _budgets() -> dict[str, tuple[int, int]]:
    budgets = import_string(bridge.PRESSURE_BUDGETS)()
    return {channel: (b.per_day, b.per_week) for channel, b in budgets.items()}


def _window_over(days: list[tuple[date, str]], width: int, limit: int) -> list[tuple[date, list[str]]]:
    """Each place where more than `limit` sends fall within `width` consecutive days: the window's
    first day and the keys in it (a sliding window over sends sorted by day)."""
    days = sorted(days)
    found = []
    lo = 0
    last_reported = -1
    for hi in range(len(days)):
        while (days[hi][0] - days[lo][0]).days >= width:
            lo += 1
        if hi - lo + 1 > limit and hi > last_reported:
            found.append((days[lo][0], [key for _d, key in days[lo : hi + 1]]))
            last_reported = hi
    return found


def conflicts_find(
    entries: list[Entry],
    *,
    days: int,
    caps: dict[int, list[dict[str, Any]]],
    budgets: dict[str, tuple[int, int]],
) -> list[Conflict]:
    """The conflicts among `entries`; each entry's `conflicts` gets what concerns it."""
    sends = [
        e
        for e in entries
        if e.kind not in (Kind.DEADLINE, Kind.JOURNEY) and e.channel and e.status not in SILENT
    ]
    by_key = {e.key: e for e in sends}
    by_base: dict[tuple[int, str], list[Entry]] = defaultdict(list)
    by_channel: dict[str, list[tuple[date, str]]] = defaultdict(list)
    for entry in sends:
        for udn_id in entry.udn_ids:
            by_base[(udn_id, entry.channel)].append(entry)
            by_channel[entry.channel].append((entry.start, entry.key))
    conflicts: list[Conflict] = []

    def add(conflict: Conflict) -> None:
        conflicts.append(conflict)
        for key in conflict.keys:
            by_key[key].conflicts.append(conflict.message)

    names: dict[int, str] = {}
    for entry in sends:
        for udn_id, name in zip(entry.udn_ids, entry.udn_names.split(", "), strict=False):
            names.setdefault(udn_id, name)

    # Each message translated once (a busy month has thousands of conflicts).
    fatigue_text = _("“%(a)s” and “%(b)s” reach %(udn)s's base by %(channel)s less than %(days)s days apart.")
    cap_text = _(
        "%(count)s campaigns by %(channel)s on %(udn)s's base from %(day)s: its frequency cap is %(limit)s %(period)s."
    )
    pressure_text = _(
        "%(count)s sends by %(channel)s across UDNs from %(day)s: the contact-pressure budget is %(limit)s %(period)s."
    )
    day_word, week_word = _("per day"), _("per week")
    labels = {code: _channel_label(code) for code in {e.channel for e in sends}}

    for (udn_id, channel), base in by_base.items():
        base.sort(key=lambda e: (e.start, e.key))
        for i, first in enumerate(base):
            for second in base[i + 1 :]:
                if (second.start - first.start).days >= days:
                    break
                add(
                    Conflict(
                        kind="fatigue",
                        message=fatigue_text
                        % {
                            "a": first.title,
                            "b": second.title,
                            "udn": names.get(udn_id, ""),
                            "channel": labels[channel],
                            "days": days,
                        },
                        keys=(first.key, second.key),
                        day=second.start,
                    )
                )
        for cap in caps.get(udn_id, []):
            if cap["channel"] != channel:
                continue
            width = 1 if cap["period"] == "day" else 7
            for day, keys in _window_over([(e.start, e.key) for e in base], width, cap["limit"]):
                add(
                    Conflict(
                        kind="cap",
                        message=cap_text
                        % {
                            "count": len(keys),
                            "channel": labels[channel],
                            "udn": names.get(udn_id, ""),
                            "day": day.strftime("%d/%m/%Y"),
                            "limit": cap["limit"],
                            "period": day_word if width == 1 else week_word,
                        },
                        keys=tuple(dict.fromkeys(keys)),
                        day=day,
                    )
                )
    for channel, planned in by_channel.items():
        if channel not in budgets:
            continue
        daily, weekly = budgets[channel]
        for width, limit in ((1, daily), (7, weekly)):
            for day, keys in _window_over(planned, width, limit):
                add(
                    Conflict(
                        kind="pressure",
                        message=pressure_text
                        % {
                            "count": len(keys),
                            "channel": labels[channel],
                            "day": day.strftime("%d/%m/%Y"),
                            "limit": limit,
                            "period": day_word if width == 1 else week_word,
                        },
                        keys=tuple(dict.fromkeys(keys)),
                        day=day,
                    )
                )
    conflicts.sort(key=lambda c: (c.day, c.kind))
    return conflicts


def conflicts_for_plan(
    *,
    viewer: Viewer,
    campaign: JointCampaign | None,
    channel: str,
    start: date,
    end: date,
    udn_ids: list[int],
) -> list[str]:
    """The warnings a joint campaign would raise with these dates, channel and sources (before it
    is saved): the conflicts that involve it among the calendar's entries around it."""
    everyone = Viewer(
        user=viewer.user, coordinator=True, udn_ids=viewer.udn_ids, marketer_udn_ids=frozenset()
    )
    entries, _conflicts = calendar_entries(
        viewer=everyone, start=start - timedelta(days=7), end=end + timedelta(days=8), with_conflicts=False
    )
    key = f"joint-{campaign.pk}" if campaign is not None else "joint-new"
    entries = [e for e in entries if e.key != key]
    udns = {udn.pk: udn for udn in udn_list()}
    planned = Entry(
        key=key,
        kind=Kind.CROSS_SELL,
        title=campaign.name if campaign is not None else _("this campaign"),
        channel=channel,
        start=start,
        end=end,
        udn_ids=tuple(udn_ids),
        udn_names=", ".join(udns[u].name for u in udn_ids if u in udns),
        audience=0,
        status=JointStatus.DRAFT,
        editable=True,
        url="",
    )
    for entry in entries:
        entry.conflicts = []
    chosen = [udns[u] for u in udn_ids if u in udns]
    _version, udn_versions = changes.versions(schemas=[u.schema_name for u in chosen])
    conflicts_find(
        [*entries, planned], days=conflict_days(), caps=_caps(chosen, udn_versions), budgets=_budgets()
    )
    return list(dict.fromkeys(planned.conflicts))
