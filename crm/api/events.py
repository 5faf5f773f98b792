"""/api/v1/events/ and /api/v1/events/batch/: partners record events (idempotent by the event's
id). The hot path: a batch of 1,000 events per request, so the body is read by the fast parser
of crm.api.contract (msgspec-decoded JSON, checked by hand) rather than by a DRF serializer;
EventInSerializer below documents exactly what that parser takes (tested against the live
schema by crm/tests/test_api_schemathesis.py), and the service (crm.services.events) judges
what the event means (422)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from crm.api.base import (
    ERROR_RESPONSES,
    IDEMPOTENCY_HEADER,
    IDEMPOTENCY_RESPONSES,
    ApiError,
    ApiView,
    batch_items,
    error_body,
    idempotent,
    list_of,
)
from crm.api.contract import ContractError, contract_field, event_input_parse
from crm.api.inputs import (
    InputSerializer,
    JSONObjectField,
    OffsetDateTimeField,
    StrictIntegerField,
    TextField,
)
from crm.api.serializers import BatchResultSerializer, ErrorSerializer, EventResultSerializer
from crm.models import ApiScope
from crm.services.events import EventInput, EventOutcome, events_ingest

# A partner's batch; larger ones are split by the client (keeps one request's transaction short).
BATCH_MAX_EVENTS = 1000

# The bounds are crm.normalize.moment_in_range's (and the events service's future tolerance).
OCCURRED_AT_HELP = (
    "ISO 8601 with a time zone offset, from 1900-01-01T00:00:00Z to one hour from now "
    "(earlier: occurred_at_too_old; later: occurred_at_future, both 422)."
)

# --- the contract, documented (parsing is crm.api.contract's) ------------------------------------

_BLANK: dict[str, Any] = {"maxLength": 0}  # "" or null: not given
_NULL: dict[str, Any] = {"nullable": True, "not": {}}  # null or absent


class AffiliateRefSerializer(InputSerializer):
    """Exactly one of id, external_id, cpf (the others absent, null, or "" for the texts)."""

    id = StrictIntegerField(required=False, allow_null=True, help_text="No such affiliate: 422.")
    external_id = TextField(required=False, allow_null=True, allow_blank=True, nul_to_service=True)
    cpf = TextField(
        required=False,
        allow_null=True,
        allow_blank=True,
        nul_to_service=True,
        help_text="11 digits, punctuation allowed",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        given = [key for key in ("id", "external_id", "cpf") if attrs.get(key) not in (None, "")]
        if len(given) != 1:
            raise ValidationError(
                _("Give exactly one of affiliate.id, affiliate.external_id, affiliate.cpf.")
            )
        return {given[0]: attrs[given[0]]}

    @classmethod
    def schema_refine(cls, schema: dict[str, Any]) -> dict[str, Any]:
        given_text = {"type": "string", "minLength": 1}
        schema["oneOf"] = [
            {
                "required": ["id"],
                "properties": {"id": {"type": "integer"}, "external_id": _BLANK, "cpf": _BLANK},
            },
            {
                "required": ["external_id"],
                "properties": {"id": _NULL, "external_id": given_text, "cpf": _BLANK},
            },
            {"required": ["cpf"], "properties": {"id": _NULL, "external_id": _BLANK, "cpf": given_text}},
        ]
        return schema


class EventInSerializer(InputSerializer):
    id = TextField(help_text="The partner's unique id of the event (idempotency key).")
    type = TextField(
        help_text="A standard event type or one the UDN registered (another is a 422 unknown_type)."
    )
    occurred_at = OffsetDateTimeField(help_text=OCCURRED_AT_HELP)
    affiliate = AffiliateRefSerializer()
    properties = JSONObjectField(required=False, allow_null=True)
    source = TextField(required=False, allow_null=True, allow_blank=True)


# --- answers ------------------------------------------------------------------------------------

EVENT_EXAMPLE = {
    "id": "pay-2026-000123",
    "type": "cash_in",
    "occurred_at": "2026-11-20T12:00:00-03:00",
    "affiliate": {"external_id": "C-1001"},
    "properties": {"amount": "150.00"},
}


def _result(index: int | None, outcome: EventOutcome) -> dict[str, Any]:
    result: dict[str, Any] = {
        "id": outcome.event_id,
        "status": outcome.status,
        "code": outcome.code or None,
        "message": outcome.message or None,
        "field": contract_field(outcome.field),
        "affiliate_id": outcome.affiliate_id,
        "warnings": list(outcome.warnings),
    }
    if outcome.status == "accepted":
        result["code"] = result["message"] = result["field"] = None
    if index is not None:
        result = {"index": index, **result}
    return result


def _accepted_result(event_id: str) -> dict[str, Any]:
    """The documented result of an accepted event."""
    return {
        "id": event_id,
        "status": "accepted",
        "code": None,
        "message": None,
        "field": None,
        "affiliate_id": 42,
        "warnings": [],
    }


def accepted_example(event_id: str) -> OpenApiExample:
    """The documented 201 of an endpoint that records one event."""
    return OpenApiExample(
        "Accepted", value=_accepted_result(event_id), response_only=True, status_codes=["201"]
    )


def _same_path(field: str | None) -> str | None:
    return field


def event_response(
    outcome: EventOutcome, *, path: Callable[[str | None], str | None] = _same_path
) -> Response:
    """The answer to an endpoint that records one event: the error with a 422 when it was rejected,
    else its result (201 accepted, 200 already recorded). `path` renames the field paths of an
    endpoint whose body is not the event contract (the statuses)."""
    if outcome.status == "rejected":
        return Response(
            error_body(code=outcome.code, message=outcome.message, field=path(contract_field(outcome.field))),
            status=status.HTTP_422_UNPROCESSABLE_ENTITY,
        )
    result = _result(None, outcome)
    result["field"] = path(result["field"])
    code = status.HTTP_201_CREATED if outcome.status == "accepted" else status.HTTP_200_OK
    return Response(result, status=code)


# --- views --------------------------------------------------------------------------------------


class EventView(ApiView):
    required_scopes = [ApiScope.EVENTS_WRITE]

    @extend_schema(
        operation_id="events_create",
        summary="Record one event (idempotent by its id; Idempotency-Key supported)",
        request=EventInSerializer,
        parameters=[IDEMPOTENCY_HEADER],
        responses={
            201: OpenApiResponse(EventResultSerializer, description="Accepted"),
            200: OpenApiResponse(EventResultSerializer, description="Duplicate (already recorded)"),
            409: IDEMPOTENCY_RESPONSES[409],
            422: OpenApiResponse(
                ErrorSerializer,
                description="Rejected (unknown type, affiliate not found...) or idempotency_key_reused",
            ),
            **ERROR_RESPONSES,
        },
        examples=[
            OpenApiExample("A cash in", value=EVENT_EXAMPLE, request_only=True),
            accepted_example("pay-2026-000123"),
        ],
    )
    def post(self, request: Request) -> Response:
        return idempotent(request, self._create, on_error=self.handle_exception)

    def _create(self) -> Response:
        try:
            item = event_input_parse(self.request.data)
        except ContractError as error:
            raise ApiError(code=error.code, message=error.message, field=error.field or None) from None
        return event_response(events_ingest(items=[item], source=self.event_source())[0])


class EventBatchView(ApiView):
    required_scopes = [ApiScope.EVENTS_WRITE]

    @extend_schema(
        operation_id="events_batch",
        summary="Record up to 1,000 events; per-item results, a bad item never rejects the good ones",
        description="An item that does not match the event schema is a rejected result, not a 400.",
        request={"application/json": list_of("EventIn", max_items=BATCH_MAX_EVENTS)},
        parameters=[IDEMPOTENCY_HEADER],
        responses={200: BatchResultSerializer, **IDEMPOTENCY_RESPONSES, **ERROR_RESPONSES},
        examples=[
            OpenApiExample(
                "Two events",
                value=[
                    EVENT_EXAMPLE,
                    {
                        **EVENT_EXAMPLE,
                        "id": "app-77",
                        "type": "app_activated",
                        "affiliate": {"cpf": "529.982.247-25"},
                        "properties": {},
                    },
                ],
                request_only=True,
            ),
            OpenApiExample(
                "Per-item results",
                value={
                    "accepted": 1,
                    "duplicate": 0,
                    "rejected": 1,
                    "results": [
                        {"index": 0, **_accepted_result("pay-2026-000123")},
                        {
                            "index": 1,
                            "id": "app-77",
                            "status": "rejected",
                            "code": "affiliate_not_found",
                            "message": "No affiliate with this cpf.",
                            "field": "affiliate.cpf",
                            "affiliate_id": None,
                            "warnings": [],
                        },
                    ],
                },
                response_only=True,
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        return idempotent(request, self._create, on_error=self.handle_exception)

    def _create(self) -> Response:
        data = batch_items(
            self.request.data,
            limit=BATCH_MAX_EVENTS,
            not_a_list=_("Expected a list of events."),
            too_many=_("A batch holds at most %(n)s events."),
        )
        results: list[dict[str, Any] | None] = [None] * len(data)
        good: list[tuple[int, EventInput]] = []
        for index, raw in enumerate(data):
            try:
                good.append((index, event_input_parse(raw)))
            except ContractError as error:
                raw_id = raw.get("id") if isinstance(raw, dict) else None
                results[index] = {
                    "index": index,
                    "id": raw_id if isinstance(raw_id, str) else None,
                    "status": "rejected",
                    "code": error.code,
                    "message": error.message,
                    "field": error.field or None,
                    "affiliate_id": None,
                    "warnings": [],
                }
        outcomes = (
            events_ingest(items=[item for _i, item in good], source=self.event_source()) if good else []
        )
        for (index, _item), outcome in zip(good, outcomes, strict=True):
            results[index] = _result(index, outcome)
        done = [result for result in results if result is not None]
        counts = {"accepted": 0, "duplicate": 0, "rejected": 0}
        for result in done:
            counts[result["status"]] += 1
        return Response({**counts, "results": done})
