"""Segments, written: saving one (its conditions checked, cycles refused, its count stored) and
keeping the membership of tracked ones, set-based.

`segment_members_refresh` is one statement a segment: the affiliates that match now EXCEPT the
kept members enter (INSERT ... SELECT), the kept members that no longer match leave (DELETE), and
each change is a segment_entered / segment_left event on the affiliate's timeline (INSERT ...
SELECT into the events, the segment's id in its properties) — then `crm.hooks.
segment_membership_changed` tells the journeys after the commit. It runs for every tracked
segment on each UDN's beat schedule (`segments-refresh@<schema>`, every 5 minutes: time windows
move without any event) and, for the affiliates concerned only, when an event, a consent or a
field a tracked segment mentions changes (the hooks below, through a task)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm import hooks
from crm.hooks import AcceptedEvent, AffiliateChanged, ConsentChanged, SegmentMembershipChanged
from crm.models import AuditAction, AuditTarget, Segment
from crm.segment_uses import SegmentUse
from crm.segmentation import AFFILIATE, EVENT, SegmentInvalid, definition_of, references_of
from crm.selectors.segments import (
    segment_count,
    segment_tree,
    segment_uses,
    segment_where,
    segments_depending_on,
    segments_tracked,
)
from crm.services.audit import audit_record

REFRESH_TASK = "crm.segments_refresh"
REFRESH_AFFILIATES_TASK = "crm.segments_refresh_affiliates"
SEGMENT_ENTERED, SEGMENT_LEFT = "segment_entered", "segment_left"
SEGMENT_EVENT_TYPES = (SEGMENT_ENTERED, SEGMENT_LEFT)
EVENT_SOURCE = "segment"
MEMBERSHIP = '"crm_segmentmembership"'
#: What a segment's audit entries record of it (the conditions whole: what it selected is the fact).
AUDITED_FIELDS = ("name", "description", "tracked", "definition")


class SegmentInUse(Exception):
    """The segment cannot be deleted: `uses` name it (a journey, a broadcast, a segment, a rule)."""

    def __init__(self, segment: Segment, uses: list[SegmentUse]) -> None:
        self.segment, self.uses = segment, uses
        self.message = _(
            "The segment “%(name)s” cannot be deleted while something uses it. Used in: %(uses)s."
        ) % {"name": segment.name, "uses": "; ".join(str(use) for use in uses)}
        super().__init__(self.message)


@transaction.atomic
def segment_save(
    *,
    name: str,
    definition: Any,
    by: str,
    description: str = "",
    tracked: bool = False,
    segment: Segment | None = None,
) -> Segment:
    """Create (or change, given `segment`) a segment. SegmentInvalid lists what is wrong, each
    condition named: the schema, a segment named that does not exist or that would include this
    one (a cycle), a name already taken. The count is stored with its time; a tracked segment's
    membership is refreshed after the commit."""
    errors: list[str] = []
    name = (name or "").strip()
    if not name:
        errors.append(_("Give the segment a name."))
    elif Segment.objects.filter(name__iexact=name).exclude(pk=segment.pk if segment else 0).exists():
        errors.append(_("Another segment already has this name."))
    try:
        tree = segment_tree(definition=definition)
    except SegmentInvalid as invalid:
        raise SegmentInvalid(errors + invalid.errors) from None
    refs = references_of(tree)
    named = {s.pk: s for s in Segment.objects.filter(pk__in=sorted(refs.segments))}
    for missing in sorted(refs.segments - set(named)):
        errors.append(_("Segment %(id)s does not exist.") % {"id": missing})
    if segment is not None and segment.pk is not None:
        # A cycle: this segment names itself, or a segment that (through others) names it.
        around = {segment.pk} | {s.pk for s in segments_depending_on(segment_id=segment.pk)}
        if refs.segments & around:
            errors.append(_("A segment cannot include itself, directly or through another segment."))
    if errors:
        raise SegmentInvalid(errors)

    # What the hooks route by, through the segments named too (their lists are transitive already).
    event_types, fields = set(refs.event_types), set(refs.fields)
    for other in named.values():
        event_types.update(other.event_types)
        fields.update(other.fields)
    before = {field: getattr(segment, field) for field in AUDITED_FIELDS} if segment is not None else None
    segment = segment or Segment(created_by=by)
    segment.name, segment.description, segment.tracked = name, (description or "").strip(), tracked
    segment.definition = definition_of(tree)
    segment.event_types, segment.fields = sorted(event_types), sorted(fields)
    segment.segment_refs = sorted(refs.segments)
    segment.updated_by = by
    segment.member_count = None
    segment.save()
    after = {field: getattr(segment, field) for field in AUDITED_FIELDS}
    if before is None:
        audit_record(
            action=AuditAction.SEGMENT_CREATED,
            target_type=AuditTarget.SEGMENT,
            target_id=segment.pk,
            changes=after,
        )
    else:
        changed = {
            field: [before[field], after[field]] for field in AUDITED_FIELDS if before[field] != after[field]
        }
        if changed:
            audit_record(
                action=AuditAction.SEGMENT_UPDATED,
                target_type=AuditTarget.SEGMENT,
                target_id=segment.pk,
                changes={"fields": changed},
            )
    for dependent in segments_depending_on(segment_id=segment.pk):
        # Over-routing is harmless (a refresh that changes nothing); missing a change is not.
        dependent.event_types = sorted(set(dependent.event_types) | event_types)
        dependent.fields = sorted(set(dependent.fields) | fields)
        dependent.save(update_fields=["event_types", "fields"])
    segment_count_store(segment=segment)
    if tracked:
        segment_id = segment.pk
        transaction.on_commit(lambda: _refresh_task().delay(segment_ids=[segment_id]))
    return segment


@transaction.atomic
def segment_delete(*, segment: Segment) -> None:
    """Delete a segment (its kept membership goes with it; the timeline's segment_entered /
    segment_left events stay, as history). SegmentInUse, naming each, while anything uses it: a
    segment that includes it, or what the apps registered in crm.segment_uses report (a journey's
    trigger or branch, a broadcast's audience, a loyalty rule), so nothing that runs on its own
    loses its audience silently. The row is locked first: a save of this segment (which may be
    about to name it elsewhere) waits for the deletion."""
    locked = Segment.objects.select_for_update().filter(pk=segment.pk).first()
    if locked is None:
        return
    uses = segment_uses(segment_id=locked.pk)
    if uses:
        raise SegmentInUse(locked, uses)
    audit_record(
        action=AuditAction.SEGMENT_DELETED,
        target_type=AuditTarget.SEGMENT,
        target_id=locked.pk,
        changes={field: getattr(locked, field) for field in AUDITED_FIELDS},
    )
    locked.delete()


def segment_count_store(*, segment: Segment, now: dt.datetime | None = None) -> int:
    """Count the segment now and keep the figure with its time (the list shows both)."""
    now = now or timezone.now()
    count = segment_count(segment=segment, now=now)
    Segment.objects.filter(pk=segment.pk).update(member_count=count, counted_at=now)
    segment.member_count, segment.counted_at = count, now
    return count


def _refresh_sql(where: str, *, partial: bool) -> str:
    """The whole refresh of one segment (see the module doc), returning ("entered"|"left", id)."""
    only_target = f" AND {AFFILIATE}.id = ANY(%(ids)s::bigint[])" if partial else ""
    only_kept = " AND m.affiliate_id = ANY(%(ids)s::bigint[])" if partial else ""
    return f"""
        WITH target AS MATERIALIZED (
            SELECT {AFFILIATE}.id FROM {AFFILIATE} WHERE {where}{only_target}
        ),
        kept AS MATERIALIZED (
            SELECT m.affiliate_id FROM {MEMBERSHIP} m WHERE m.segment_id = %(segment)s{only_kept}
        ),
        entered AS (
            INSERT INTO {MEMBERSHIP} (segment_id, affiliate_id, entered_at)
            SELECT %(segment)s, n.id, %(now)s
            FROM (SELECT id FROM target EXCEPT SELECT affiliate_id FROM kept) n
            ON CONFLICT (segment_id, affiliate_id) DO NOTHING
            RETURNING affiliate_id
        ),
        gone AS (
            DELETE FROM {MEMBERSHIP} m
            WHERE m.segment_id = %(segment)s
              AND m.affiliate_id IN (SELECT affiliate_id FROM kept EXCEPT SELECT id FROM target)
            RETURNING m.affiliate_id
        ),
        changes AS (
            SELECT 'entered' AS change, affiliate_id FROM entered
            UNION ALL SELECT 'left', affiliate_id FROM gone
        ),
        timeline AS (
            INSERT INTO {EVENT} (event_id, affiliate_id, type, occurred_at, source, amount, properties, received_at)
            SELECT 'segment:' || %(segment)s || ':' || c.change || ':' || c.affiliate_id || ':' || %(stamp)s,
                   c.affiliate_id, 'segment_' || c.change, %(now)s, %(source)s, NULL,
                   jsonb_build_object('segment_id', %(segment)s::bigint, 'segment', %(name)s::text),
                   %(now)s
            FROM changes c
            ON CONFLICT (event_id) DO NOTHING
        )
        SELECT change, affiliate_id FROM changes ORDER BY affiliate_id
    """  # noqa: S608


def _named(where: str, params: list[Any]) -> tuple[str, dict[str, Any]]:
    """The compiled predicate's positional %s as named parameters (the refresh names its own)."""
    named: dict[str, Any] = {}
    parts = where.split("%s")
    assert len(parts) == len(params) + 1, "one parameter a placeholder"
    out = [parts[0]]
    for n, (value, rest) in enumerate(zip(params, parts[1:], strict=True)):
        named[f"w{n}"] = value
        out.append(f"%(w{n})s{rest}")
    return "".join(out), named


@transaction.atomic
def segment_members_refresh(
    *, segment: Segment, affiliate_ids: Sequence[int] | None = None, now: dt.datetime | None = None
) -> list[SegmentMembershipChanged]:
    """Bring a tracked segment's kept members up to date (all of them, or only `affiliate_ids`):
    one statement (see the module doc). Returns the changes, also sent to
    hooks.segment_membership_changed after the commit. Two refreshes of a segment wait for each
    other (the segment's row is locked)."""
    now = now or timezone.now()
    locked = Segment.objects.select_for_update().filter(pk=segment.pk).first()
    if locked is None or not locked.tracked:
        return []
    only = list(affiliate_ids) if affiliate_ids is not None else None
    where, params = segment_where(segment=locked, now=now, only_ids=only)
    where, named = _named(where, params)
    named.update(
        segment=locked.pk,
        now=now,
        stamp=now.strftime("%Y%m%dT%H%M%S.%f"),
        source=EVENT_SOURCE,
        name=locked.name,
        ids=list(affiliate_ids or []),
    )
    with connection.cursor() as cursor:
        cursor.execute(_refresh_sql(where, partial=affiliate_ids is not None), named)
        rows = cursor.fetchall()
    changes = [
        SegmentMembershipChanged(
            segment_id=locked.pk, affiliate_id=affiliate_id, entered=change == "entered", at=now
        )
        for change, affiliate_id in rows
    ]
    if affiliate_ids is None:
        # The membership is the count: keep the figure the list shows.
        count = locked.memberships.count()
        Segment.objects.filter(pk=locked.pk).update(refreshed_at=now, member_count=count, counted_at=now)
    elif changes:
        delta = sum(1 if change.entered else -1 for change in changes)
        if locked.member_count is not None:
            Segment.objects.filter(pk=locked.pk).update(member_count=max(0, locked.member_count + delta))
    hooks.segment_membership_changed.send(changes)
    return changes


def segments_refresh(*, segment_ids: Sequence[int] | None = None, now: dt.datetime | None = None) -> int:
    """Refresh the tracked segments (all, or those of `segment_ids`), each in its own transaction;
    returns how many memberships changed. A segment whose conditions no longer hold together (a
    tier deleted) is skipped, the others go on."""
    changed = 0
    segments = segments_tracked()
    if segment_ids is not None:
        segments = segments.filter(pk__in=list(segment_ids))
    for segment in segments:
        try:
            changed += len(segment_members_refresh(segment=segment, now=now))
        except SegmentInvalid:
            continue
    return changed


def segments_refresh_affiliates(
    *, segment_ids: Sequence[int], affiliate_ids: Sequence[int], now: dt.datetime | None = None
) -> int:
    """Refresh only some affiliates of some tracked segments (after their events or data changed)."""
    changed = 0
    for segment in segments_tracked().filter(pk__in=list(segment_ids)):
        try:
            changed += len(
                segment_members_refresh(segment=segment, affiliate_ids=list(affiliate_ids), now=now)
            )
        except SegmentInvalid:
            continue
    return changed


# --- hook listeners: tracked segments that mention what changed, for the affiliates it changed --


def segments_concerned(*, event_types: set[str] = frozenset(), fields: set[str] = frozenset()) -> list[int]:  # type: ignore[assignment]
    """Tracked segments whose conditions mention one of these event types or fields. Any event
    may move the stage and the tier ("*")."""
    segments = segments_tracked()
    found = []
    for segment in segments.only("id", "event_types", "fields"):
        types = set(segment.event_types)
        if (types & event_types) or ("*" in types and event_types) or (set(segment.fields) & fields):
            found.append(segment.pk)
    return found


def _refresh_task() -> Any:
    from crm.tasks.segments import segments_refresh as task

    return task


def _refresh_affiliates_later(segment_ids: list[int], affiliate_ids: set[int]) -> None:
    if segment_ids and affiliate_ids:
        from crm.tasks.segments import segments_refresh_affiliates as task

        task.delay(segment_ids=segment_ids, affiliate_ids=sorted(affiliate_ids))


def on_events(events: list[AcceptedEvent]) -> None:
    types = {event.type for event in events if event.type not in SEGMENT_EVENT_TYPES}
    if types:
        concerned = segments_concerned(event_types=types)
        _refresh_affiliates_later(concerned, {e.affiliate_id for e in events if e.type in types})


def on_consent_changes(changes: list[ConsentChanged]) -> None:
    concerned = segments_concerned(fields={f"consent_{change.channel}" for change in changes})
    _refresh_affiliates_later(concerned, {change.affiliate_id for change in changes})


def on_affiliate_changes(changes: list[AffiliateChanged]) -> None:
    fields = {name for change in changes for name in change.fields}
    if any(change.created or not change.fields for change in changes):
        # A new affiliate may match any segment (e.g. "never did cashout"); a sender naming no
        # field may have changed any (every writer names them now: the single and bulk upserts).
        concerned = [segment.pk for segment in segments_tracked().only("id")]
    else:
        concerned = segments_concerned(fields=fields)
    _refresh_affiliates_later(concerned, {change.affiliate_id for change in changes})
