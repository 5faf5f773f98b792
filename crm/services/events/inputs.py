"""What an event is checked against before it is stored: the rules (types, amounts, times,
references), the caller's input and the outcome it gets back. Plain Python, no query: a bad item
is rejected on its own, the good ones go on to the ingest (crm.services.events.ingest)."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

import msgspec
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.hooks import StageChange
from crm.models import Affiliate, Event, EventType
from crm.normalize import MOMENT_MIN, moment_in_range

# --- the rules ----------------------------------------------------------------------------------

MONEY_EVENT_TYPES = frozenset({EventType.CASH_IN.value, EventType.CASHBACK.value, EventType.CASHOUT.value})
# Expected, not required: an event without them is kept, and the outcome carries a warning.
EXPECTED_PROPERTIES: dict[str, str] = {
    EventType.CONSULTATION_SCHEDULED: "specialty",
    EventType.SUPPORT_TICKET_CLOSED: "reason",
}
STANDARD_EVENT_TYPES = frozenset(EventType.values)

CENT = Decimal("0.01")
AMOUNT_MAX = Decimal("999999999999.99")  # Event.amount: max_digits=14, decimal_places=2
# Partner clocks drift a little; an event further in the future than this is a bug upstream
# and would put a stage change on the timeline before it happened.
FUTURE_TOLERANCE = timedelta(hours=1)
EVENT_ID_MAX = Event._meta.get_field("event_id").max_length or 100
SOURCE_MAX = Event._meta.get_field("source").max_length or 40
EXTERNAL_ID_MAX = Affiliate._meta.get_field("external_id").max_length or 64
AFFILIATE_ID_MAX = 2**63 - 1  # Affiliate.id is a bigint


# --- inputs and outcomes ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EventInput:
    """One event as a caller hands it in. Give one affiliate reference: `affiliate_id`,
    `external_id` or `cpf` (if several are given, the first in that order is used)."""

    event_id: str
    type: str
    occurred_at: datetime
    affiliate_id: int | None = None
    external_id: str | None = None
    cpf: str | None = None
    source: str = ""
    properties: dict[str, Any] = field(default_factory=dict)


OutcomeStatus = Literal["accepted", "duplicate", "rejected"]


@dataclass(frozen=True, slots=True)
class EventOutcome:
    """What happened to one input item. `code` is stable (for machines), `message` is for people,
    `field` is the path of the offending value (e.g. "properties.amount"). `warnings` lists the
    paths of expected-but-missing properties of an accepted event."""

    event_id: str
    status: OutcomeStatus
    code: str = ""
    message: str = ""
    field: str = ""
    pk: int | None = None
    affiliate_id: int | None = None
    warnings: tuple[str, ...] = ()

    @property
    def accepted(self) -> bool:
        return self.status == "accepted"


class IngestOutcomes(list[EventOutcome]):
    """The per-item outcomes of `events_ingest`, in input order, plus the stage changes the
    ingest caused (for webhooks and journeys)."""

    stage_changes: list[StageChange]

    def __init__(self, outcomes: Iterable[EventOutcome] = (), stage_changes: list[StageChange] | None = None):
        super().__init__(outcomes)
        self.stage_changes = stage_changes or []

    def tally(self) -> dict[str, int]:
        """How many items were accepted, duplicate, rejected."""
        counts = {"accepted": 0, "duplicate": 0, "rejected": 0}
        for outcome in self:
            counts[outcome.status] += 1
        return counts


# --- validation ---------------------------------------------------------------------------------


class Rejected(Exception):
    def __init__(self, code: str, message: str, field: str) -> None:
        super().__init__(code)
        self.code, self.message, self.field = code, message, field


def _parse_amount(raw: object) -> Decimal:
    """A positive money amount with at most two decimal places, from a JSON number or string
    ("19.90"; "19,90" is read as a decimal comma)."""
    path = "properties.amount"
    if raw is None or raw == "":
        raise Rejected("amount_required", _("This event type needs an amount."), path)
    if isinstance(raw, bool):
        raise Rejected("amount_invalid", _("The amount must be a number."), path)
    try:
        if isinstance(raw, Decimal):
            value = raw
        elif isinstance(raw, int):
            value = Decimal(raw)
        elif isinstance(raw, float):
            if not math.isfinite(raw):
                raise InvalidOperation
            value = Decimal(repr(raw))
        elif isinstance(raw, str):
            text = raw.strip()
            if "," in text and "." not in text:
                text = text.replace(",", ".")
            value = Decimal(text)
        else:
            raise InvalidOperation
    except (InvalidOperation, ValueError):
        raise Rejected("amount_invalid", _("The amount must be a number."), path) from None
    if not value.is_finite():
        raise Rejected("amount_invalid", _("The amount must be a number."), path)
    if value <= 0:
        raise Rejected("amount_not_positive", _("The amount must be greater than zero."), path)
    if value > AMOUNT_MAX:
        raise Rejected("amount_too_large", _("The amount is too large."), path)
    quantized = value.quantize(CENT)
    if quantized != value:
        raise Rejected("amount_precision", _("The amount has more than two decimal places."), path)
    return quantized


_NOT_DIGITS = re.compile(r"\D")


def _digits(value: str) -> str:
    return _NOT_DIGITS.sub("", value)


@dataclass(slots=True)
class Candidate:
    index: int
    event_id: str
    type: str
    occurred_at: datetime
    source: str
    amount: Decimal | None
    properties: msgspec.Raw  # encoded JSON
    ref_kind: str  # "affiliate_id" | "external_id" | "cpf"
    ref: Any
    warnings: tuple[str, ...]


def _json_default(value: Any) -> Any:
    """Values msgspec does not encode natively (lazy strings...), as Django would write them."""
    return DjangoJSONEncoder().default(value)


# One encoder for the batch (msgspec: a batch is 1,000 properties objects and one document of
# rows); decimals as JSON numbers, which PostgreSQL reads into numeric columns exactly.
ENCODER = msgspec.json.Encoder(enc_hook=_json_default, decimal_format="number")


def event_candidate(
    index: int, item: EventInput, *, known: AbstractSet[str], default_source: str, latest: datetime
) -> Candidate:
    event_id = item.event_id
    if not isinstance(event_id, str) or not event_id.strip():
        raise Rejected("event_id_required", _("Give the event an id."), "event_id")
    if len(event_id) > EVENT_ID_MAX:
        raise Rejected(
            "event_id_invalid",
            _("The event id is longer than %(n)s characters.") % {"n": EVENT_ID_MAX},
            "event_id",
        )
    if "\x00" in event_id:
        raise Rejected("event_id_invalid", _("Text must not contain NUL characters."), "event_id")
    kind = item.type
    if not isinstance(kind, str) or kind not in known:
        raise Rejected(
            "unknown_type",
            _("Unknown event type “%(type)s”: register it as a custom event kind first.") % {"type": kind},
            "type",
        )
    occurred_at = item.occurred_at
    if not isinstance(occurred_at, datetime) or timezone.is_naive(occurred_at):
        raise Rejected("occurred_at_invalid", _("Give when it happened, with a time zone."), "occurred_at")
    if occurred_at > latest:
        raise Rejected("occurred_at_future", _("The event happens in the future."), "occurred_at")
    if not moment_in_range(occurred_at, latest=latest):
        raise Rejected(
            "occurred_at_too_old",
            _("The event happens before %(date)s.") % {"date": f"{MOMENT_MIN:%d/%m/%Y}"},
            "occurred_at",
        )
    source = item.source or default_source
    if not isinstance(source, str) or len(source) > SOURCE_MAX:
        raise Rejected(
            "source_invalid", _("The source is longer than %(n)s characters.") % {"n": SOURCE_MAX}, "source"
        )
    if "\x00" in source:
        raise Rejected("source_invalid", _("Text must not contain NUL characters."), "source")
    properties = item.properties if item.properties is not None else {}
    if not isinstance(properties, dict):
        raise Rejected("properties_invalid", _("Properties must be an object."), "properties")
    try:
        properties_json = ENCODER.encode(properties)
    except (TypeError, ValueError, msgspec.EncodeError):
        raise Rejected("properties_invalid", _("Properties must be plain JSON."), "properties") from None
    if b"\\u0000" in properties_json:  # PostgreSQL's jsonb cannot hold NUL
        raise Rejected("properties_invalid", _("Properties must not contain NUL characters."), "properties")
    amount = _parse_amount(properties.get("amount")) if kind in MONEY_EVENT_TYPES else None
    expected = EXPECTED_PROPERTIES.get(kind)
    warnings = (f"properties.{expected}",) if expected and properties.get(expected) in (None, "") else ()

    ref: Any
    if item.affiliate_id is not None:
        ref_kind, ref = "affiliate_id", item.affiliate_id
        if isinstance(ref, bool) or not isinstance(ref, int) or not 0 < ref <= AFFILIATE_ID_MAX:
            raise Rejected(
                "affiliate_id_invalid", _("The affiliate id must be a positive integer."), ref_kind
            )
    elif item.external_id:
        ref_kind, ref = "external_id", item.external_id
        if not isinstance(ref, str) or len(ref) > EXTERNAL_ID_MAX or "\x00" in ref:
            raise Rejected("external_id_invalid", _("The external id is not valid."), ref_kind)
    elif item.cpf:
        ref_kind, ref = "cpf", _digits(str(item.cpf))
        if len(ref) != 11:
            raise Rejected("cpf_invalid", _("A CPF has 11 digits."), ref_kind)
    else:
        raise Rejected(
            "affiliate_required", _("Say whose event it is: affiliate id, external id or CPF."), "affiliate"
        )
    return Candidate(
        index=index,
        event_id=event_id,
        type=kind,
        occurred_at=occurred_at,
        source=source,
        amount=amount,
        properties=msgspec.Raw(properties_json),
        ref_kind=ref_kind,
        ref=ref,
        warnings=warnings,
    )
