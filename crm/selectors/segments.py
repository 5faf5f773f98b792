"""Segments, read: the list, one segment, its conditions as SQL (`segment_sql`), its count and its
members. A definition is compiled by crm.segmentation into one parameterised query over the
affiliates (`"crm_affiliate"`), run as is or composed into an Affiliate queryset."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import BooleanField, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from crm.models import Affiliate, DepositTier, EventKind, EventType, Segment, SegmentMembership
from crm.segment_uses import SegmentUse, segment_uses_registered
from crm.segmentation import AFFILIATE, Node, SegmentInvalid, compile_where, definition_parse

#: The builder's sample of members.
SAMPLE_SIZE = 20


@dataclass(frozen=True)
class Vocabulary:
    """What a definition may name in this UDN: its event types and its tiers."""

    event_types: set[str]
    tiers: set[str]


def segment_vocabulary() -> Vocabulary:
    return Vocabulary(
        event_types=set(EventType.values) | set(EventKind.objects.values_list("code", flat=True)),
        tiers=set(DepositTier.objects.values_list("name", flat=True)),
    )


def segment_list(*, q: str = "") -> QuerySet[Segment]:
    segments = Segment.objects.order_by("name", "id")
    if q.strip():
        segments = segments.filter(name__icontains=q.strip())
    return segments


def segment_get(*, pk: int) -> Segment:
    """The segment, or Segment.DoesNotExist."""
    return Segment.objects.get(pk=pk)


def segment_tree(*, definition: Any, vocabulary: Vocabulary | None = None) -> Node:
    """The checked tree of a definition (SegmentInvalid names each faulty condition)."""
    vocabulary = vocabulary or segment_vocabulary()
    return definition_parse(definition, event_types=vocabulary.event_types, tiers=vocabulary.tiers)


def segment_where(
    *,
    segment: Segment | None = None,
    definition: Any = None,
    now: dt.datetime | None = None,
    only_ids: list[int] | None = None,
) -> tuple[str, list[Any]]:
    """The predicate over `"crm_affiliate"` of a saved segment or of a definition being edited,
    with its parameters. "In segment X" conditions inline X's conditions (a cycle is refused).
    With `only_ids` it is meant for those affiliates only (the caller keeps the others out)."""
    vocabulary = segment_vocabulary()
    tree = segment_tree(
        definition=segment.definition if segment is not None else definition, vocabulary=vocabulary
    )

    def resolve(segment_id: int) -> Node:
        named = Segment.objects.filter(pk=segment_id).values_list("definition", flat=True).first()
        if named is None:
            raise SegmentInvalid([_("Segment %(id)s does not exist.") % {"id": segment_id}])
        return segment_tree(definition=named, vocabulary=vocabulary)

    return compile_where(
        tree,
        resolve=resolve,
        now=now or timezone.now(),
        segment_id=segment.pk if segment is not None else None,
        only_ids=only_ids,
    )


def segment_sql(
    *, segment: Segment | None = None, definition: Any = None, now: dt.datetime | None = None
) -> tuple[str, list[Any]]:
    """`SELECT "crm_affiliate".id FROM "crm_affiliate" WHERE <conditions>` and its parameters:
    the segment's members as one statement (journeys and fan-outs compose it into theirs)."""
    where, params = segment_where(segment=segment, definition=definition, now=now)
    return f"SELECT {AFFILIATE}.id FROM {AFFILIATE} WHERE {where}", params  # noqa: S608


def segment_count(
    *, segment: Segment | None = None, definition: Any = None, now: dt.datetime | None = None
) -> int:
    """How many affiliates match now (one count query)."""
    where, params = segment_where(segment=segment, definition=definition, now=now)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {AFFILIATE} WHERE {where}", params)  # noqa: S608
        row = cursor.fetchone()
    return int(row[0]) if row else 0


def segment_filter(
    *, segment: Segment | None = None, definition: Any = None, now: dt.datetime | None = None
) -> Q:
    """The conditions as a filter of an Affiliate queryset (`Affiliate.objects.filter(...)`)."""
    where, params = segment_where(segment=segment, definition=definition, now=now)
    return Q(RawSQL(where, params, output_field=BooleanField()))  # noqa: S611


def segment_members(
    *, segment: Segment | None = None, definition: Any = None, now: dt.datetime | None = None
) -> QuerySet[Affiliate]:
    """The affiliates that match now, as a queryset (order it, page it, take a sample)."""
    return Affiliate.objects.filter(segment_filter(segment=segment, definition=definition, now=now))


def segment_sample(*, definition: Any, size: int = SAMPLE_SIZE) -> list[Affiliate]:
    """The builder's sample: the first members by name."""
    return list(
        segment_members(definition=definition)
        .only("id", "name", "external_id", "stage", "city", "state")
        .order_by("name", "id")[:size]
    )


def segment_kept_members(*, segment: Segment) -> QuerySet[SegmentMembership]:
    """A tracked segment's kept membership (as of its last refresh)."""
    return SegmentMembership.objects.filter(segment=segment)


def segments_tracked() -> QuerySet[Segment]:
    return Segment.objects.filter(tracked=True).order_by("id")


def segments_depending_on(*, segment_id: int) -> list[Segment]:
    """Segments that name `segment_id`, directly or through others (for cycle checks and routing)."""
    found: dict[int, Segment] = {}
    frontier = {segment_id}
    while frontier:
        layer = [s for s in Segment.objects.filter(segment_refs__overlap=list(frontier)) if s.pk not in found]
        found.update((s.pk, s) for s in layer)
        frontier = {s.pk for s in layer}
    return list(found.values())


def segment_uses(*, segment_id: int) -> list[SegmentUse]:
    """What names the segment: the segments that include it ("in segment X", directly: one that
    names it through another is that other's use), then what each app registered in
    crm.segment_uses finds of its own (journeys, broadcasts, loyalty rules)."""
    uses = [
        SegmentUse(kind=pgettext("segment use", "segment"), name=name)
        for name in Segment.objects.filter(segment_refs__contains=[segment_id])
        .order_by("name", "id")
        .values_list("name", flat=True)
    ]
    for provider in segment_uses_registered():
        uses.extend(provider(segment_id=segment_id))
    return uses
