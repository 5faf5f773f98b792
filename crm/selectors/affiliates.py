"""Reads over a UDN's CRM data (run inside the UDN's schema).

`affiliate_search` is the one filter builder over affiliates: the list page, its CSV
export, segments and the API all narrow the base through it, so a filter means the
same thing everywhere."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal, overload

from django.db import connection
from django.db.models import (
    Case,
    CharField,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Concat, Substr

from crm.brazil import fold
from crm.channels import CONSENT_FIELDS
from crm.models import (
    STAGE_ORDER,
    Affiliate,
    AffiliateChange,
    ConsentChange,
    DepositTier,
    Event,
    EventKind,
    Folded,
    ImportJob,
    ImportStatus,
    MomentField,
)
from tenants.models import Membership


def affiliate_count() -> int:
    return Affiliate.objects.count()


def affiliate_exists() -> bool:
    """Whether this UDN has any affiliate at all (tells "empty base" from "no match")."""
    return Affiliate.objects.exists()


# --- search ---------------------------------------------------------------------------------------

#: Sort keys a caller may ask for (a leading "-" means descending). Anything else falls back
#: to DEFAULT_SORT: a sort key comes from the URL and must never reach `order_by` unchecked.
SORT_FIELDS: tuple[str, ...] = ("name", "created_at", "updated_at", "stage", "total_cash_in")
DEFAULT_SORT = "name"

#: Fewest digits a search must carry before it is also tried as a CPF or phone fragment;
#: shorter runs of digits would match a large share of the base by accident.
MIN_SEARCH_DIGITS = 4
#: Fewest characters a search must have before a code containing it matches (shorter: only the
#: whole code, in any case); "A-1" would otherwise match every code with "a-1" in it.
MIN_CODE_FRAGMENT = 4


def _folded(field: str) -> Folded:
    """SQL: the field in lower case without accents."""
    return Folded(F(field))


def fold_text(text: str) -> str:
    """Python's side of `_folded`: lower case, accents stripped (crm.brazil.fold)."""
    return fold(text)


@dataclass(frozen=True)
class AffiliateFilters:
    """What to narrow the affiliate base to; every field is optional (empty = no filter).

    `consent` lists channels that must all be granted; `sort` is one of SORT_FIELDS, optionally
    prefixed with "-"; an unknown sort falls back to DEFAULT_SORT."""

    q: str = ""
    stages: tuple[str, ...] = ()
    tier: str = ""
    origin: str = ""
    tag: str = ""
    consent: tuple[str, ...] = ()
    state: str = ""
    sort: str = DEFAULT_SORT

    @property
    def is_filtered(self) -> bool:
        return any((self.q.strip(), self.stages, self.tier, self.origin, self.tag, self.consent, self.state))


def affiliate_sort_key(*, sort: str) -> str:
    """`sort` if it is whitelisted, DEFAULT_SORT otherwise."""
    return sort if sort.removeprefix("-") in SORT_FIELDS else DEFAULT_SORT


def _search_q(text: str) -> Q:
    """Free text: every word in the name (case- and accent-insensitive), or the e-mail, or the
    UDN's code (`external_id`, in any case: whole, or a part of MIN_CODE_FRAGMENT characters or
    more); when it carries enough digits, also the CPF and the phone by digits."""
    text = text.strip()
    words = fold_text(text).split()
    by_name = Q()
    for word in words:
        by_name &= Q(name_folded__contains=word)
    by_code = (
        Q(external_id__icontains=text) if len(text) >= MIN_CODE_FRAGMENT else Q(external_id__iexact=text)
    )
    condition = by_name | Q(email__icontains=text) | by_code
    digits = re.sub(r"\D", "", text)
    if len(digits) >= MIN_SEARCH_DIGITS:
        # Phones are stored in E.164 (+55 11 98765-4321 → +5511987654321): whatever the
        # format typed, its digits are a suffix of the stored number, once the trunk prefix
        # people often dial (0 11 ..., 011 ...) is dropped.
        cpf = Q(cpf=digits) if len(digits) == 11 else Q(cpf__contains=digits)
        condition |= cpf | Q(phone__endswith=digits.lstrip("0") or digits)
    return condition


def affiliate_search(*, params: AffiliateFilters) -> QuerySet[Affiliate]:
    """The affiliates matching `params`, in the order it asks for (name by default)."""
    qs = Affiliate.objects.all()
    if params.q.strip():
        qs = qs.alias(name_folded=_folded("name")).filter(_search_q(params.q))
    if params.stages:
        qs = qs.filter(stage__in=params.stages)
    if params.tier:
        qs = qs.filter(tier=params.tier)
    if params.origin:
        qs = qs.filter(origin=params.origin)
    if params.tag:
        qs = qs.filter(tags__contains=[params.tag.strip()])
    for channel in params.consent:
        if channel in CONSENT_FIELDS:
            qs = qs.filter(**{CONSENT_FIELDS[channel]: True})
    if params.state:
        qs = qs.filter(state=params.state.strip().upper())

    sort = affiliate_sort_key(sort=params.sort)
    descending = sort.startswith("-")
    field = sort.removeprefix("-")
    if field == "stage":
        # Funnel order, not alphabetical.
        qs = qs.alias(
            stage_rank=Case(
                *(When(stage=stage, then=Value(rank)) for rank, stage in enumerate(STAGE_ORDER)),
                default=Value(len(STAGE_ORDER)),
                output_field=IntegerField(),
            )
        )
        field = "stage_rank"
    # Names in the Brazilian order (accents and case beside their plain letters: see Folded),
    # the name itself breaking ties; the order affiliate_name_sort_idx is built in.
    if field == "name":
        folded = _folded("name")
        order = [folded.desc(), F("name").desc()] if descending else [folded.asc(), F("name").asc()]
    else:
        order = [F(field).desc() if descending else F(field).asc()]
    # The primary key breaks ties, so pages never overlap or skip rows.
    return qs.order_by(*order, "-pk" if descending else "pk")


# --- the CPF policy (LGPD data minimisation) ------------------------------------------------------
# One rule, applied by the affiliate page, the list and the CSV export alike: marketers (who act
# on affiliates: support, campaigns, corrections) see the CPF in full; read-only analysts, whose
# work is counts and trends, see only its middle digits (***.456.789-**), everywhere. The mask is
# applied in SQL, so for them the full number never leaves the database. The partner API is a
# UDN's own systems matching records by CPF, authorised per key and scope, and keeps it in full.


def cpf_full_allowed(*, membership: Membership) -> bool:
    """Whether this member sees CPFs in full (marketers, and superusers acting as marketers)."""
    return membership.can_write


def cpf_for_display(*, cpf: str, full: bool) -> str:
    """One CPF as the policy shows it: 123.456.789-09 in full, ***.456.789-** masked, "" if none."""
    if not cpf:
        return ""
    if full:
        return f"{cpf[:3]}.{cpf[3:6]}.{cpf[6:9]}-{cpf[9:]}"
    return f"***.{cpf[3:6]}.{cpf[6:9]}-**"


def _cpf_shown(*, full: bool) -> Case:
    """SQL: the CPF as `cpf_for_display` shows it."""
    if full:
        parts: list[Any] = [Substr("cpf", 1, 3), Value("."), Substr("cpf", 4, 3), Value(".")]
        parts += [Substr("cpf", 7, 3), Value("-"), Substr("cpf", 10, 2)]
    else:
        parts = [Value("***."), Substr("cpf", 4, 3), Value("."), Substr("cpf", 7, 3), Value("-**")]
    return Case(
        When(cpf="", then=Value("")),
        default=Concat(*parts, output_field=CharField()),
        output_field=CharField(),
    )


# Columns the list page shows (the CPF as the policy shows it comes as `cpf_shown`); loading only these
# keeps a page of 50 light.
LIST_COLUMNS = (
    "name",
    "phone",
    "stage",
    "tier",
    "total_cash_in",
    *CONSENT_FIELDS.values(),
    "updated_at",
)


def affiliate_list(*, params: AffiliateFilters, full_cpf: bool) -> QuerySet[Affiliate]:
    """`affiliate_search` for the list page: its columns only, the CPF as `cpf_shown`
    and each row's tier colour (`tier_color`, None when the tier is not a configured band)."""
    tier_color = DepositTier.objects.filter(name=OuterRef("tier")).values("color")[:1]
    return (
        affiliate_search(params=params)
        .only(*LIST_COLUMNS)
        .annotate(cpf_shown=_cpf_shown(full=full_cpf), tier_color=Subquery(tier_color))
    )


#: The export's columns, in order (values_list: no model instances for a million rows).
#: The CPF as the policy shows it to whoever exports (`cpf_full_allowed`).
EXPORT_COLUMNS = (
    "external_id",
    "name",
    "cpf_shown",
    "email",
    "phone",
    "birth_date",
    "city",
    "state",
    "plan",
    "origin",
    "stage",
    "tier",
    "total_cash_in",
    *CONSENT_FIELDS.values(),
    "tags",
    "created_at",
    "updated_at",
)

#: Rows fetched per round trip of the export's server-side cursor: large enough to keep the
#: round trips few, small enough that memory stays flat whatever the size of the base.
EXPORT_CHUNK_SIZE = 2000


def affiliate_export_rows(*, params: AffiliateFilters, full_cpf: bool) -> Iterator[tuple[Any, ...]]:
    """The filtered set as tuples of EXPORT_COLUMNS, streamed from a server-side cursor."""
    return (
        affiliate_search(params=params)
        .annotate(cpf_shown=_cpf_shown(full=full_cpf))
        .values_list(*EXPORT_COLUMNS)
        .iterator(chunk_size=EXPORT_CHUNK_SIZE)
    )


# --- one affiliate --------------------------------------------------------------------------------


def affiliate_get(*, pk: int) -> Affiliate:
    """The affiliate, or Affiliate.DoesNotExist."""
    return Affiliate.objects.get(pk=pk)


#: The consent ledger's newest entries shown on the affiliate page; it is append-only and may
#: grow long for someone who toggles often, and the newest are the ones that matter.
CONSENT_HISTORY_LIMIT = 100


def affiliate_consent_history(*, affiliate: Affiliate) -> QuerySet[ConsentChange]:
    """The affiliate's consent ledger, newest first (the latest CONSENT_HISTORY_LIMIT entries)."""
    return ConsentChange.objects.filter(affiliate=affiliate).order_by("-occurred_at", "-id")[
        :CONSENT_HISTORY_LIMIT
    ]


#: What an affiliate's timeline interleaves: its events, the changes to its data (AffiliateChange,
#: an import's, the API's...) and, when nothing recorded its creation, the import that created it.
TimelineKind = Literal["event", "change", "origin"]


@dataclass(frozen=True)
class TimelineRow:
    """One entry of the timeline before it is loaded: what it is, its id and its time."""

    kind: TimelineKind
    pk: int
    at: datetime


@dataclass(frozen=True)
class ImportOrigin:
    """The finished import whose run holds the affiliate's creation, when no row recorded it."""

    job: ImportJob
    first: bool  # the base's first import (none that created affiliates finished before it)


def affiliate_import_origin(*, affiliate: Affiliate) -> ImportOrigin | None:
    """The import that created the affiliate, when nothing recorded it (one query).

    The first load of a base COPYs up to millions of affiliates and, by design, writes no
    AffiliateChange row for each (imports from before creations were recorded wrote none either):
    such an affiliate has no creation row, and was created inside a finished import's run, which
    created affiliates. Any other way in (the general import, the API) records the creation."""
    at = affiliate.created_at
    earlier = ImportJob.objects.filter(
        status=ImportStatus.DONE, created__gt=0, started_at__lt=OuterRef("started_at")
    )
    job = (
        ImportJob.objects.filter(
            ~Exists(AffiliateChange.objects.filter(affiliate=affiliate, changes={})),  # no creation row
            status=ImportStatus.DONE,
            created__gt=0,
            started_at__lte=at,
            finished_at__gte=at,
        )
        .annotate(first=~Exists(earlier))
        .order_by("-started_at")
        .first()
    )
    return ImportOrigin(job=job, first=job.first) if job is not None else None  # type: ignore[attr-defined]


# Events keep any time PostgreSQL takes (see crm.models.MomentField): clamped as their reads are.
_EVENT_AT = f"LEAST(GREATEST(occurred_at, '{MomentField.READ_MIN}'), '{MomentField.READ_MAX}')"


class AffiliateTimeline:
    """The affiliate's events and data changes (and the import that created it, see
    `affiliate_import_origin`), newest first, as a sequence a Paginator pages: one query counts,
    one query reads a page's ids; `affiliate_timeline_load` then loads them (two more)."""

    def __init__(self, *, affiliate: Affiliate, origin_at: datetime | None) -> None:
        self.affiliate_id = affiliate.pk
        self.origin_at = origin_at

    def _params(self) -> dict[str, Any]:
        return {"affiliate": self.affiliate_id, "origin_at": self.origin_at}

    def count(self) -> int:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT (SELECT count(*) FROM crm_event WHERE affiliate_id = %(affiliate)s)"
                " + (SELECT count(*) FROM crm_affiliatechange WHERE affiliate_id = %(affiliate)s)"
                " + (CASE WHEN %(origin_at)s::timestamptz IS NULL THEN 0 ELSE 1 END)",
                self._params(),
            )
            return int(cursor.fetchone()[0])

    def __len__(self) -> int:
        return self.count()

    def __iter__(self) -> Iterator[TimelineRow]:
        return iter(self[0:None])

    @overload
    def __getitem__(self, index: int, /) -> TimelineRow: ...
    @overload
    def __getitem__(self, index: slice, /) -> list[TimelineRow]: ...
    def __getitem__(self, index: int | slice, /) -> TimelineRow | list[TimelineRow]:
        if isinstance(index, int):
            return self[index : index + 1][0]
        start, stop = index.start or 0, index.stop
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                SELECT kind, id, at FROM (
                    SELECT 'event' AS kind, id, {_EVENT_AT} AS at FROM crm_event
                    WHERE affiliate_id = %(affiliate)s
                    UNION ALL
                    SELECT 'change', id, changed_at FROM crm_affiliatechange
                    WHERE affiliate_id = %(affiliate)s
                    UNION ALL
                    SELECT 'origin', %(affiliate)s, %(origin_at)s::timestamptz
                    WHERE %(origin_at)s::timestamptz IS NOT NULL
                ) AS entries
                ORDER BY at DESC, kind, id DESC
                LIMIT %(limit)s OFFSET %(offset)s
                """,  # noqa: S608 - constant SQL, values as parameters
                {**self._params(), "limit": None if stop is None else stop - start, "offset": start},
            )
            return [TimelineRow(kind=kind, pk=pk, at=at) for kind, pk, at in cursor.fetchall()]


def affiliate_timeline(*, affiliate: Affiliate, origin: ImportOrigin | None) -> AffiliateTimeline:
    """The affiliate's timeline, newest first (page it with a Paginator)."""
    return AffiliateTimeline(affiliate=affiliate, origin_at=affiliate.created_at if origin else None)


@dataclass(frozen=True)
class TimelineLoaded:
    events: dict[int, Event]
    changes: dict[int, AffiliateChange]  # with their import_job


def affiliate_timeline_load(*, rows: Iterable[TimelineRow]) -> TimelineLoaded:
    """The events and changes of a page of the timeline: one query each, none when there are none."""
    rows = list(rows)
    event_ids = [row.pk for row in rows if row.kind == "event"]
    change_ids = [row.pk for row in rows if row.kind == "change"]
    changes = AffiliateChange.objects.select_related("import_job")
    return TimelineLoaded(
        events=Event.objects.in_bulk(event_ids) if event_ids else {},
        changes=changes.in_bulk(change_ids) if change_ids else {},
    )


def event_kind_labels() -> dict[str, str]:
    """Custom event kinds of this UDN: code → label."""
    return dict(EventKind.objects.values_list("code", "label"))


def deposit_tier_list() -> list[DepositTier]:
    """This UDN's deposit tiers, lowest band first."""
    return list(DepositTier.objects.order_by("min_total"))


@dataclass(frozen=True)
class TierProgress:
    """Where a total cash in sits among the bands: the band reached, the next one and how far."""

    current: DepositTier | None
    next: DepositTier | None
    percent: int  # 0-100 of the way from the current band's floor to the next band's
    missing: Decimal  # R$ still to put in to reach the next band (0 at the top band)
    # Whether "R$ X to reach the next band" tells the person anything: not before any deposit
    # (every lead would read "R$ 0,01 to reach Bronze" when the first band starts at 0,01).
    show_missing: bool


def affiliate_tier_progress(*, total_cash_in: Decimal, tiers: list[DepositTier]) -> TierProgress:
    """The band `total_cash_in` reached among `tiers` (sorted by min_total) and the way to the next."""
    current = None
    following = None
    for tier in tiers:
        if tier.min_total <= total_cash_in:
            current = tier
        else:
            following = tier
            break
    if following is None:
        return TierProgress(
            current=current, next=None, percent=100, missing=Decimal("0.00"), show_missing=False
        )
    floor = current.min_total if current is not None else Decimal("0")
    span = following.min_total - floor
    percent = int((total_cash_in - floor) * 100 / span) if span > 0 else 0
    return TierProgress(
        current=current,
        next=following,
        percent=max(0, min(100, percent)),
        missing=following.min_total - total_cash_in,
        show_missing=total_cash_in > 0,
    )
