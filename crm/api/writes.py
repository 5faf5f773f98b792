"""The API's writes and figures: affiliates (create, partial update, bulk upsert), consent
changes, the `002` status updates, and the funnel. Thin views over crm.services.affiliates,
crm.services.consent, crm.services.events and crm.selectors.funnel."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.shortcuts import get_object_or_404
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from crm.api.contract import ContractError, event_input_parse
from crm.api.errors import ApiError, error_body
from crm.api.idempotency import idempotent
from crm.api.serializers import (
    OCCURRED_AT_HELP,
    AffiliateSerializer,
    ErrorSerializer,
    EventResultSerializer,
)
from crm.api.views import (
    _AFFILIATE_EXAMPLE,
    ERROR_RESPONSES,
    IDEMPOTENCY_RESPONSES,
    AffiliateDetailView,
    AffiliateListView,
    ApiView,
    accepted_example,
    batch_items,
    event_response,
)
from crm.models import Affiliate, ApiScope, Channel, EventType, Stage
from crm.normalize import STANDARD_FIELDS
from crm.selectors.funnel import funnel_figures
from crm.services.affiliates import (
    READ_ONLY_FIELDS,
    AffiliateExists,
    AffiliateInvalid,
    FieldError,
    affiliate_create,
    affiliate_event_record,
    affiliate_update,
    affiliates_upsert,
)
from crm.services.consent import CONSENT_FIELDS, consent_change
from crm.services.events import events_ingest

BULK_MAX_AFFILIATES = 1000
IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key", str, location=OpenApiParameter.HEADER, required=False
)

# --- affiliate records --------------------------------------------------------------------------

_TEXT_FIELDS = frozenset(STANDARD_FIELDS) - {"plan_fee", "tags"}
# Output-only fields of an affiliate: refused with `read_only` rather than `unknown_field`.
_NOT_WRITABLE = READ_ONLY_FIELDS | {"id", "time_zone", "created_at", "updated_at", *CONSENT_FIELDS.values()}


def _record_parse(data: Any, *, prefix: str = "") -> tuple[dict[str, object], dict[str, Any] | None]:
    """A JSON affiliate → (record of standard fields for the normaliser, attributes or None).
    ApiError (400) for shapes: not an object, unknown or read-only fields, wrong types."""
    if not isinstance(data, dict):
        raise ApiError(
            code="invalid", message=_("Expected %(type)s.") % {"type": _("an object")}, field=prefix or None
        )
    record: dict[str, object] = {}
    attributes: dict[str, Any] | None = None
    for key, value in data.items():
        path = f"{prefix}{key}"
        if _has_nul(value):
            raise ApiError(code="invalid", message=_("Text must not contain NUL characters."), field=path)
        if key in _NOT_WRITABLE:
            raise ApiError(
                code="read_only", message=_("“%(field)s” cannot be written.") % {"field": key}, field=path
            )
        if key != "attributes" and key not in STANDARD_FIELDS:
            raise ApiError(
                code="unknown_field", message=_("Unknown field “%(field)s”.") % {"field": key}, field=path
            )
        if key == "attributes":
            if value is not None and not isinstance(value, dict):
                raise ApiError(
                    code="invalid", message=_("Expected %(type)s.") % {"type": _("an object")}, field=path
                )
            attributes = value or {}
        elif key == "tags":
            if isinstance(value, list) and all(isinstance(tag, str) for tag in value):
                record[key] = ",".join(value)
            elif value is None or isinstance(value, str):
                record[key] = value
            else:
                raise ApiError(
                    code="invalid",
                    message=_("Expected %(type)s.") % {"type": _("a list of strings")},
                    field=path,
                )
        elif key == "plan_fee":
            if isinstance(value, bool) or not isinstance(value, str | int | float | type(None)):
                raise ApiError(
                    code="invalid",
                    message=_("Expected %(type)s.") % {"type": _("a decimal string")},
                    field=path,
                )
            record[key] = value
        else:
            if value is not None and not isinstance(value, str):
                raise ApiError(
                    code="invalid", message=_("Expected %(type)s.") % {"type": _("a string")}, field=path
                )
            record[key] = value
    return record, attributes


def _has_nul(value: Any) -> bool:
    """PostgreSQL's text and jsonb cannot hold NUL: refused up front, never a 500."""
    return "\\u0000" in json.dumps(value)


def _error_dicts(errors: list[FieldError] | tuple[FieldError, ...], prefix: str = "") -> list[dict[str, Any]]:
    return [{"code": e.code, "message": str(e.message), "field": f"{prefix}{e.field}"} for e in errors]


def _invalid(error: AffiliateInvalid) -> ApiError:
    details = _error_dicts(error.errors)
    first = details[0]
    return ApiError(
        code=first["code"],
        message=first["message"],
        field=first["field"],
        details=details,
        status_code=status.HTTP_422_UNPROCESSABLE_ENTITY,
    )


def _exists(error: AffiliateExists) -> ApiError:
    return ApiError(
        code="already_exists",
        message=_("An affiliate with this external id already exists (id %(id)s).")
        % {"id": error.affiliate_id},
        field="external_id",
        status_code=status.HTTP_409_CONFLICT,
    )


class AffiliateWriteSerializer(serializers.Serializer):
    """Documents the writable fields (parsing is _record_parse's)."""

    external_id = serializers.CharField(required=False, help_text="The UDN's code; without it, the CPF keys.")
    cpf = serializers.CharField(required=False, help_text="11 digits, punctuation allowed")
    name = serializers.CharField(required=False)
    email = serializers.CharField(required=False)
    phone = serializers.CharField(required=False, help_text="Brazilian mobile with DDD, or +<country>...")
    birth_date = serializers.CharField(
        required=False,
        help_text="dd/mm/aaaa or aaaa-mm-dd, from 01/01/1900 to today (else birth_date_future)",
    )
    city = serializers.CharField(required=False)
    state = serializers.CharField(required=False, help_text="UF")
    plan = serializers.CharField(required=False)
    plan_fee = serializers.CharField(required=False, help_text='e.g. "49.90" or "49,90"')
    origin = serializers.CharField(required=False)
    tags = serializers.ListField(child=serializers.CharField(), required=False)
    attributes = serializers.DictField(required=False)


class UpsertResultSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    external_id = serializers.CharField()
    status = serializers.ChoiceField(choices=["accepted", "rejected"])
    code = serializers.CharField(allow_null=True)
    message = serializers.CharField(allow_null=True)
    field = serializers.CharField(allow_null=True)
    affiliate_id = serializers.IntegerField(allow_null=True)
    errors = serializers.ListField(child=serializers.DictField())


class BulkResultSerializer(serializers.Serializer):
    accepted = serializers.IntegerField()
    rejected = serializers.IntegerField()
    results = UpsertResultSerializer(many=True)


_AFFILIATE_IN_EXAMPLE = {
    "external_id": "C-1001",
    "cpf": "529.982.247-25",
    "name": "maria da silva",
    "email": "Maria@Example.com",
    "phone": "(11) 98765-4321",
    "birth_date": "17/05/1990",
    "state": "SP",
    "tags": ["vip"],
    "attributes": {"course": "Investimentos"},
}


class AffiliateCollectionView(AffiliateListView):
    """GET lists (affiliates:read, see AffiliateListView); POST creates one (affiliates:write)."""

    required_scopes = {"GET": [ApiScope.AFFILIATES_READ], "POST": [ApiScope.AFFILIATES_WRITE]}  # type: ignore[assignment] # per method

    @extend_schema(
        operation_id="affiliates_create",
        summary="Create one affiliate (normalised; Idempotency-Key supported)",
        request=AffiliateWriteSerializer,
        parameters=[IDEMPOTENCY_HEADER],
        responses={
            201: AffiliateSerializer,
            409: OpenApiResponse(ErrorSerializer, description="already_exists: the external id is taken"),
            422: OpenApiResponse(
                ErrorSerializer, description="A value does not normalise (reason code, field)"
            ),
            **ERROR_RESPONSES,
        },
        examples=[
            OpenApiExample("A new affiliate", value=_AFFILIATE_IN_EXAMPLE, request_only=True),
            OpenApiExample("Created", value=_AFFILIATE_EXAMPLE, response_only=True, status_codes=["201"]),
            OpenApiExample(
                "Invalid CPF",
                value=error_body(code="cpf_invalid", message="invalid CPF", field="cpf"),
                response_only=True,
                status_codes=["422"],
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        return idempotent(request, self._create, on_error=self.handle_exception)

    def _create(self) -> Response:
        record, attributes = _record_parse(self.request.data)
        try:
            affiliate = affiliate_create(record=record, attributes=attributes)
        except AffiliateInvalid as error:
            raise _invalid(error) from None
        except AffiliateExists as error:
            raise _exists(error) from None
        return Response(AffiliateSerializer(affiliate).data, status=status.HTTP_201_CREATED)


class AffiliateItemView(AffiliateDetailView):
    """GET reads (affiliates:read, see AffiliateDetailView); PATCH changes the given fields."""

    required_scopes = {"GET": [ApiScope.AFFILIATES_READ], "PATCH": [ApiScope.AFFILIATES_WRITE]}  # type: ignore[assignment] # per method

    @extend_schema(
        operation_id="affiliates_partial_update",
        summary="Change only the given fields (stage, tier, total_cash_in are read-only)",
        request=AffiliateWriteSerializer,
        responses={
            200: AffiliateSerializer,
            404: ErrorSerializer,
            409: OpenApiResponse(ErrorSerializer, description="already_exists: the new external id is taken"),
            422: OpenApiResponse(ErrorSerializer, description="A value does not normalise"),
            **ERROR_RESPONSES,
        },
        examples=[
            OpenApiExample(
                "New e-mail and plan", value={"email": "maria@example.org", "plan": "Ouro"}, request_only=True
            ),
            OpenApiExample("Updated", value=_AFFILIATE_EXAMPLE, response_only=True, status_codes=["200"]),
            OpenApiExample(
                "Read-only field",
                value=error_body(code="read_only", message="“stage” cannot be written.", field="stage"),
                response_only=True,
                status_codes=["400"],
            ),
        ],
    )
    @transaction.atomic  # a request that fails commits nothing
    def patch(self, request: Request, pk: int) -> Response:
        affiliate = get_object_or_404(Affiliate, pk=pk)
        record, attributes = _record_parse(request.data)
        changes: dict[str, object] = dict(record)
        if attributes is not None:
            changes["attributes"] = attributes
        try:
            affiliate = affiliate_update(affiliate=affiliate, changes=changes, source=self.event_source())
        except AffiliateInvalid as error:
            raise _invalid(error) from None
        except AffiliateExists as error:
            raise _exists(error) from None
        return Response(AffiliateSerializer(affiliate).data)


class AffiliateBulkView(ApiView):
    required_scopes = [ApiScope.AFFILIATES_WRITE]

    @extend_schema(
        operation_id="affiliates_bulk_upsert",
        summary="Insert or update up to 1,000 affiliates by external id (blank values never erase)",
        request=AffiliateWriteSerializer(many=True),
        parameters=[IDEMPOTENCY_HEADER],
        responses={200: BulkResultSerializer, **IDEMPOTENCY_RESPONSES, **ERROR_RESPONSES},
        examples=[
            OpenApiExample(
                "Two affiliates",
                value=[
                    _AFFILIATE_IN_EXAMPLE,
                    {"external_id": "C-1002", "name": "João", "cpf": "111.111.111-11"},
                ],
                request_only=True,
            ),
            OpenApiExample(
                "Per-item results",
                value={
                    "accepted": 1,
                    "rejected": 1,
                    "results": [
                        {
                            "index": 0,
                            "external_id": "C-1001",
                            "status": "accepted",
                            "code": None,
                            "message": None,
                            "field": None,
                            "affiliate_id": 42,
                            "errors": [],
                        },
                        {
                            "index": 1,
                            "external_id": "C-1002",
                            "status": "rejected",
                            "code": "cpf_invalid",
                            "message": "invalid CPF",
                            "field": "cpf",
                            "affiliate_id": None,
                            "errors": [{"code": "cpf_invalid", "message": "invalid CPF", "field": "cpf"}],
                        },
                    ],
                },
                response_only=True,
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        return idempotent(request, self._upsert, on_error=self.handle_exception)

    def _upsert(self) -> Response:
        data = batch_items(
            self.request.data,
            limit=BULK_MAX_AFFILIATES,
            not_a_list=_("Expected a list of affiliates."),
            too_many=_("A request holds at most %(n)s affiliates."),
        )
        results: list[dict[str, Any] | None] = [None] * len(data)
        parsed: list[tuple[int, tuple[dict[str, object], dict[str, Any] | None]]] = []
        for index, raw in enumerate(data):
            try:
                parsed.append((index, _record_parse(raw)))
            except ApiError as error:
                raw_id = raw.get("external_id") if isinstance(raw, dict) else None
                detail = {"code": error.code, "message": error.message, "field": error.field}
                results[index] = {
                    "index": index,
                    "external_id": raw_id if isinstance(raw_id, str) else "",
                    "status": "rejected",
                    **detail,
                    "affiliate_id": None,
                    "errors": [detail],
                }
        outcomes = (
            affiliates_upsert(records=[item for _i, item in parsed], source=self.event_source())
            if parsed
            else []
        )
        for (index, _item), outcome in zip(parsed, outcomes, strict=True):
            errors = _error_dicts(outcome.errors)
            first = errors[0] if errors else {"code": None, "message": None, "field": None}
            results[index] = {
                "index": index,
                "external_id": outcome.external_id,
                "status": outcome.status,
                **first,
                "affiliate_id": outcome.affiliate_id,
                "errors": errors,
            }
        done = [result for result in results if result is not None]
        accepted = sum(1 for result in done if result["status"] == "accepted")
        return Response({"accepted": accepted, "rejected": len(done) - accepted, "results": done})


# --- consent ------------------------------------------------------------------------------------

_CONSENT_KEYS = frozenset({"channel", "granted", "source", "proof", "occurred_at"})


class ConsentInSerializer(serializers.Serializer):
    channel = serializers.ChoiceField(choices=Channel.values)
    granted = serializers.BooleanField()
    source = serializers.CharField(help_text="Where the consent came from (up to 60 characters).")
    proof = serializers.CharField(
        required=False, help_text="What the person agreed to, or how they opted out."
    )
    occurred_at = serializers.DateTimeField(
        required=False,
        help_text="ISO 8601 with offset, from 1900-01-01T00:00:00Z to one hour from now; default now.",
    )


class ConsentStateSerializer(serializers.Serializer):
    affiliate_id = serializers.IntegerField()
    consent = serializers.DictField(child=serializers.BooleanField())


def _when(value: Any, field: str) -> datetime:
    if not isinstance(value, str):
        raise ApiError(
            code="invalid",
            message=_("Expected %(type)s.") % {"type": _("an ISO 8601 date-time string")},
            field=field,
        )
    try:
        when = parse_datetime(value)
    except ValueError:
        when = None
    if when is None:
        raise ApiError(
            code="invalid",
            message=_("Not an ISO 8601 date-time (e.g. 2026-11-20T12:00:00-03:00)."),
            field=field,
        )
    if when.tzinfo is None:
        raise ApiError(code="invalid", message=_("Give the time zone offset (e.g. -03:00)."), field=field)
    return when


def _consent_state(affiliate: Affiliate) -> dict[str, Any]:
    return {
        "affiliate_id": affiliate.pk,
        "consent": {channel: getattr(affiliate, column) for channel, column in CONSENT_FIELDS.items()},
    }


class ConsentView(ApiView):
    required_scopes = [ApiScope.AFFILIATES_WRITE]

    @extend_schema(
        operation_id="affiliates_consent_create",
        summary="Record a consent grant or opt-out (LGPD ledger); returns the current consent",
        request=ConsentInSerializer,
        parameters=[IDEMPOTENCY_HEADER],
        responses={
            201: ConsentStateSerializer,
            404: ErrorSerializer,
            **IDEMPOTENCY_RESPONSES,
            **ERROR_RESPONSES,
        },
        examples=[
            OpenApiExample(
                "WhatsApp opt-out",
                value={
                    "channel": "whatsapp",
                    "granted": False,
                    "source": "help desk",
                    "proof": "ticket 8812: asked to stop messages",
                    "occurred_at": "2026-11-20T12:00:00-03:00",
                },
                request_only=True,
            ),
            OpenApiExample(
                "Current consent",
                value={
                    "affiliate_id": 42,
                    "consent": {"email": True, "whatsapp": False, "sms": False, "push": False},
                },
                response_only=True,
                status_codes=["201"],
            ),
        ],
    )
    def post(self, request: Request, pk: int) -> Response:
        return idempotent(request, lambda: self._change(pk), on_error=self.handle_exception)

    def _change(self, pk: int) -> Response:
        data = self.request.data
        if not isinstance(data, dict):
            raise ApiError(code="invalid", message=_("Expected %(type)s.") % {"type": _("an object")})
        for key in data:
            if key not in _CONSENT_KEYS:
                raise ApiError(
                    code="unknown_field",
                    message=_("Unknown field “%(field)s”.") % {"field": key},
                    field=str(key),
                )
        for key in data:
            if _has_nul(data[key]):
                raise ApiError(
                    code="invalid", message=_("Text must not contain NUL characters."), field=str(key)
                )
        for key in ("channel", "granted", "source"):
            if data.get(key) is None:
                raise ApiError(code="required", message=_("This field is required."), field=key)
        if not isinstance(data["granted"], bool):
            raise ApiError(
                code="invalid",
                message=_("Expected %(type)s.") % {"type": _("true or false")},
                field="granted",
            )
        for key in ("channel", "source", "proof"):
            if key in data and not isinstance(data[key], str | type(None)):
                raise ApiError(
                    code="invalid", message=_("Expected %(type)s.") % {"type": _("a string")}, field=key
                )
        occurred_at = (
            _when(data["occurred_at"], "occurred_at") if data.get("occurred_at") is not None else None
        )
        affiliate = get_object_or_404(Affiliate, pk=pk)
        try:
            consent_change(
                affiliate=affiliate,
                channel=data["channel"],
                granted=data["granted"],
                source=data["source"],
                proof=data.get("proof") or "",
                occurred_at=occurred_at,
            )
        except ValidationError as error:
            field, messages = next(iter(error.message_dict.items()))
            raise ApiError(code="invalid", message=messages[0], field=field) from None
        affiliate.refresh_from_db(fields=list(CONSENT_FIELDS.values()))
        return Response(_consent_state(affiliate), status=status.HTTP_201_CREATED)


# --- status updates (the `002` statuses) --------------------------------------------------------

STATUS_EVENT_TYPES: dict[str, str] = {
    "registration_started": EventType.REGISTRATION_STARTED,
    "form_completed": EventType.FORM_COMPLETED,
    "account_opened": EventType.ACCOUNT_OPENED,
    "deposited": EventType.CASH_IN,
}
_STATUS_KEYS = frozenset({"id", "status", "occurred_at", "affiliate", "amount", "source"})
# Event contract paths → status contract paths.
_STATUS_PATHS = {"type": "status", "properties.amount": "amount", "properties": "amount"}


class StatusInSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="The partner's unique id of this status change (idempotency key).")
    status = serializers.ChoiceField(choices=list(STATUS_EVENT_TYPES))
    occurred_at = serializers.DateTimeField(help_text=OCCURRED_AT_HELP)
    affiliate = serializers.DictField(
        help_text="Exactly one of id, external_id, cpf; or the affiliate's fields (external_id and/or "
        "cpf, name, email, phone...), upserted first as the bulk upsert does, for a client not known yet."
    )
    amount = serializers.CharField(required=False, help_text='Required for deposited, e.g. "150.00".')
    source = serializers.CharField(required=False)


def _status_path(field: str | None) -> str | None:
    if field is None:
        return None
    return _STATUS_PATHS.get(field, field)


class StatusView(ApiView):
    required_scopes = [ApiScope.EVENTS_WRITE]

    @extend_schema(
        operation_id="statuses_create",
        summary="A client's status (registration started, form completed, account opened, deposited) as an event",
        request=StatusInSerializer,
        parameters=[IDEMPOTENCY_HEADER],
        responses={
            201: OpenApiResponse(EventResultSerializer, description="Accepted"),
            200: OpenApiResponse(EventResultSerializer, description="Duplicate (already recorded)"),
            422: OpenApiResponse(ErrorSerializer, description="Rejected (affiliate not found, amount...)"),
            409: OpenApiResponse(ErrorSerializer, description="idempotency_key_in_progress"),
            **ERROR_RESPONSES,
        },
        examples=[
            OpenApiExample(
                "A deposit",
                value={
                    "id": "gc-status-9912",
                    "status": "deposited",
                    "occurred_at": "2026-11-20T12:00:00-03:00",
                    "affiliate": {"external_id": "C-1001"},
                    "amount": "150.00",
                },
                request_only=True,
            ),
            accepted_example("gc-status-9912"),
        ],
    )
    def post(self, request: Request) -> Response:
        return idempotent(request, self._record, on_error=self.handle_exception)

    def _record(self) -> Response:
        data = self.request.data
        if not isinstance(data, dict):
            raise ApiError(code="invalid", message=_("Expected %(type)s.") % {"type": _("an object")})
        for key in data:
            if key not in _STATUS_KEYS:
                raise ApiError(
                    code="unknown_field",
                    message=_("Unknown field “%(field)s”.") % {"field": key},
                    field=str(key),
                )
        raw_status = data.get("status")
        if raw_status is None:
            raise ApiError(code="required", message=_("This field is required."), field="status")
        if not isinstance(raw_status, str) or raw_status not in STATUS_EVENT_TYPES:
            raise ApiError(
                code="invalid",
                message=_("Unknown status; expected one of %(values)s.")
                % {"values": ", ".join(STATUS_EVENT_TYPES)},
                field="status",
            )
        amount = data.get("amount")
        if raw_status == "deposited" and amount is None:
            raise ApiError(code="required", message=_("A deposit needs its amount."), field="amount")
        if raw_status != "deposited" and amount is not None:
            raise ApiError(code="invalid", message=_("Only a deposit has an amount."), field="amount")
        if amount is not None and (isinstance(amount, bool) or not isinstance(amount, str | int | float)):
            raise ApiError(
                code="invalid",
                message=_("Expected %(type)s.") % {"type": _("a decimal string")},
                field="amount",
            )
        event = {key: data[key] for key in ("id", "occurred_at", "affiliate", "source") if key in data}
        event["type"] = STATUS_EVENT_TYPES[raw_status]
        event["properties"] = {"amount": amount} if amount is not None else {}
        ref = data.get("affiliate")
        # More than a reference (a name, an e-mail...): the affiliate is upserted first.
        described = isinstance(ref, dict) and bool(set(ref) - {"id", "external_id", "cpf"})
        record: dict[str, object] = {}
        attributes: dict[str, Any] | None = None
        if described:
            record, attributes = _record_parse(ref, prefix="affiliate.")
            event["affiliate"] = {"id": 0}  # checked below, replaced by the upserted affiliate
        try:
            item = event_input_parse(event)
        except ContractError as error:
            raise ApiError(
                code=error.code, message=error.message, field=_status_path(error.field or None)
            ) from None
        if described:
            upserted, recorded = affiliate_event_record(
                record=record, attributes=attributes, item=item, source=self.event_source()
            )
            if recorded is None:
                details = _error_dicts(upserted.errors, prefix="affiliate.")
                raise ApiError(
                    code=details[0]["code"],
                    message=details[0]["message"],
                    field=details[0]["field"],
                    details=details,
                    status_code=status.HTTP_422_UNPROCESSABLE_ENTITY,
                )
            outcome = recorded
        else:
            outcome = events_ingest(items=[item], source=self.event_source())[0]
        return event_response(outcome, path=_status_path)


# --- funnel -------------------------------------------------------------------------------------


class FunnelStageSerializer(serializers.Serializer):
    stage = serializers.ChoiceField(choices=Stage.values)
    reached = serializers.IntegerField(help_text="Affiliates at this stage or a later one")


class FunnelSerializer(serializers.Serializer):
    stages = FunnelStageSerializer(many=True)
    total_cash_in = serializers.DecimalField(max_digits=16, decimal_places=2)
    with_cashback = serializers.IntegerField()
    with_cashout = serializers.IntegerField()


class FunnelView(ApiView):
    required_scopes = [ApiScope.AFFILIATES_READ]

    @extend_schema(
        operation_id="funnel_retrieve",
        summary="The funnel: affiliates per stage reached (cumulative), total cash in, cashback/cashout counts",
        responses={200: FunnelSerializer, **ERROR_RESPONSES},
        examples=[
            OpenApiExample(
                "The funnel",
                value={
                    "stages": [
                        {"stage": "lead", "reached": 1000},
                        {"stage": "registered", "reached": 620},
                        {"stage": "app_downloaded", "reached": 410},
                        {"stage": "activated", "reached": 300},
                        {"stage": "cash_in", "reached": 180},
                        {"stage": "cashout", "reached": 40},
                    ],
                    "total_cash_in": "53210.00",
                    "with_cashback": 95,
                    "with_cashout": 40,
                },
                response_only=True,
            )
        ],
    )
    def get(self, request: Request) -> Response:
        figures = funnel_figures()
        return Response(
            {
                "stages": [{"stage": stage, "reached": count} for stage, count in figures.reached.items()],
                "total_cash_in": f"{figures.total_cash_in:.2f}",
                "with_cashback": figures.with_cashback,
                "with_cashout": figures.with_cashout,
            }
        )
