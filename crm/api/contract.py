"""The event contract partners code against (keep it stable):

    {"id": "<partner's unique event id>", "type": "cash_in",
     "occurred_at": "2026-11-20T12:00:00-03:00",
     "affiliate": {"external_id": "..."} | {"cpf": "..."} | {"id": 1},
     "properties": {"amount": "150.00"}, "source": "optional"}

The event hot path's fast parser, on purpose not a DRF serializer: a batch of 1,000 goes through
here per request and the checks are few. It takes exactly what crm.api.events.EventInSerializer
publishes in the OpenAPI schema (keep the two in step: the schemathesis run of
crm/tests/test_api_schemathesis.py holds the server to the schema). Shape errors raise
ContractError with a stable code and the field path; the business checks (known type, affiliate
exists, amount...) are the service's."""

from __future__ import annotations

from typing import Any

from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from crm.services.events import EventInput

EVENT_FIELDS = frozenset({"id", "type", "occurred_at", "affiliate", "properties", "source"})
REQUIRED_FIELDS = ("id", "type", "occurred_at", "affiliate")
AFFILIATE_REFS = frozenset({"id", "external_id", "cpf"})


class ContractError(Exception):
    def __init__(self, code: str, message: str, field: str | None) -> None:
        super().__init__(code)
        self.code, self.message, self.field = code, message, field


def _wrong_type(field: str, expected: str) -> ContractError:
    return ContractError("invalid", _("Expected %(type)s.") % {"type": expected}, field)


def event_input_parse(data: Any) -> EventInput:
    """One contract object → EventInput, or ContractError (unknown_field / required / invalid)."""
    if not isinstance(data, dict):
        raise _wrong_type("", "an object")
    for key in data:
        if key not in EVENT_FIELDS:
            raise ContractError("unknown_field", _("Unknown field “%(field)s”.") % {"field": key}, str(key))
    for key in REQUIRED_FIELDS:
        if data.get(key) is None:
            raise ContractError("required", _("This field is required."), key)
    event_id, kind = data["id"], data["type"]
    if not isinstance(event_id, str):
        raise _wrong_type("id", "a string")
    if not isinstance(kind, str):
        raise _wrong_type("type", "a string")
    raw_when = data["occurred_at"]
    if not isinstance(raw_when, str):
        raise _wrong_type("occurred_at", "an ISO 8601 date-time string")
    try:
        occurred_at = parse_datetime(raw_when)
    except ValueError:
        occurred_at = None
    if occurred_at is None:
        raise ContractError(
            "invalid", _("Not an ISO 8601 date-time (e.g. 2026-11-20T12:00:00-03:00)."), "occurred_at"
        )
    if occurred_at.tzinfo is None:
        raise ContractError("invalid", _("Give the time zone offset (e.g. -03:00)."), "occurred_at")
    source = data.get("source")
    if source is None:
        source = ""
    if not isinstance(source, str):
        raise _wrong_type("source", "a string")
    properties = data.get("properties")
    if properties is None:
        properties = {}
    if not isinstance(properties, dict):
        raise _wrong_type("properties", "an object")

    ref = data["affiliate"]
    if not isinstance(ref, dict):
        raise _wrong_type("affiliate", "an object")
    for key in ref:
        if key not in AFFILIATE_REFS:
            raise ContractError(
                "unknown_field", _("Unknown field “%(field)s”.") % {"field": key}, f"affiliate.{key}"
            )
    if ref.get("id") is not None and (isinstance(ref["id"], bool) or not isinstance(ref["id"], int)):
        raise _wrong_type("affiliate.id", "an integer")
    given = [key for key in ("id", "external_id", "cpf") if ref.get(key) not in (None, "")]
    if len(given) != 1:
        raise ContractError(
            "invalid",
            _("Give exactly one of affiliate.id, affiliate.external_id, affiliate.cpf."),
            "affiliate",
        )
    value = ref[given[0]]
    affiliate_id = external_id = cpf = None
    if given[0] == "id":
        if isinstance(value, bool) or not isinstance(value, int):
            raise _wrong_type("affiliate.id", "an integer")
        affiliate_id = value
    elif given[0] == "external_id":
        if not isinstance(value, str):
            raise _wrong_type("affiliate.external_id", "a string")
        external_id = value
    else:
        if not isinstance(value, str):
            raise _wrong_type("affiliate.cpf", "a string")
        cpf = value
    return EventInput(
        event_id=event_id,
        type=kind,
        occurred_at=occurred_at,
        affiliate_id=affiliate_id,
        external_id=external_id,
        cpf=cpf,
        source=source,
        properties=properties,
    )


# Service field names → contract paths (the service speaks EventInput's names).
_SERVICE_FIELD_PATHS = {
    "event_id": "id",
    "affiliate_id": "affiliate.id",
    "external_id": "affiliate.external_id",
    "cpf": "affiliate.cpf",
}


def contract_field(service_field: str) -> str | None:
    if not service_field:
        return None
    return _SERVICE_FIELD_PATHS.get(service_field, service_field)
