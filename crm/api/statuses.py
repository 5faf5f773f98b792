"""/api/v1/statuses/: a client's status from a partner system (registration started, form
completed, account opened, deposited), recorded as an event by crm.services.statuses."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from crm.api.affiliates import AffiliateWriteSerializer, invalid_error
from crm.api.base import ERROR_RESPONSES, IDEMPOTENCY_HEADER, IDEMPOTENCY_RESPONSES, ApiView, idempotent
from crm.api.events import OCCURRED_AT_HELP, AffiliateRefSerializer, accepted_example, event_response
from crm.api.inputs import AmountField, ChoiceTextField, InputSerializer, OffsetDateTimeField, TextField
from crm.api.serializers import ErrorSerializer, EventResultSerializer
from crm.models import ApiScope
from crm.services.affiliates import AffiliateInvalid
from crm.services.statuses import (
    STATUS_EVENT_TYPES,
    STATUS_WITH_AMOUNT,
    status_field_path,
    status_record,
)

_REFERENCE_KEYS = frozenset({"id", "external_id", "cpf"})


@extend_schema_field(
    {
        "anyOf": [
            {"$ref": "#/components/schemas/AffiliateRef"},
            {"$ref": "#/components/schemas/AffiliateWrite"},
        ]
    }
)
class StatusAffiliateField(serializers.Field):
    """A reference (exactly one of id, external_id, cpf), or the affiliate's fields (external_id
    and/or cpf, name, email, phone...): more than a reference, and it is upserted first."""

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if isinstance(data, dict) and set(data) - _REFERENCE_KEYS:
            record, attributes = AffiliateWriteSerializer.record(AffiliateWriteSerializer.parse(data))
            return {"record": record, "attributes": attributes}
        if not isinstance(data, dict):
            raise ValidationError(_("Expected %(type)s.") % {"type": _("an object")}, code="invalid")
        return {"reference": AffiliateRefSerializer.parse(data)}

    def to_representation(self, value: Any) -> Any:
        return value


class StatusInSerializer(InputSerializer):
    id = TextField(
        nul_to_service=True, help_text="The partner's unique id of this status change (idempotency key)."
    )
    status = ChoiceTextField(choices=list(STATUS_EVENT_TYPES))
    occurred_at = OffsetDateTimeField(help_text=OCCURRED_AT_HELP)
    affiliate = StatusAffiliateField(
        help_text="Exactly one of id, external_id, cpf; or the affiliate's fields (external_id and/or "
        "cpf, name, email, phone...), upserted first as the bulk upsert does, for a client not known yet."
    )
    amount = AmountField(
        required=False,
        allow_null=True,
        nul_to_service=True,
        help_text='Required for deposited (only), e.g. "150.00".',
    )
    source = TextField(required=False, allow_null=True, allow_blank=True, nul_to_service=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        amount = attrs.get("amount")
        if attrs["status"] == STATUS_WITH_AMOUNT and amount is None:
            raise ValidationError(
                {"amount": [ErrorDetail(_("A deposit needs its amount."), code="required")]}
            )
        if attrs["status"] != STATUS_WITH_AMOUNT and amount is not None:
            raise ValidationError(
                {"amount": [ErrorDetail(_("Only a deposit has an amount."), code="invalid")]}
            )
        return attrs

    @classmethod
    def schema_refine(cls, schema: dict[str, Any]) -> dict[str, Any]:
        others = [value for value in STATUS_EVENT_TYPES if value != STATUS_WITH_AMOUNT]
        # Patterns, not enums: drf-spectacular would fold an enum into the field's named one.
        schema["oneOf"] = [
            {
                "required": ["amount"],
                "properties": {
                    "status": {"pattern": f"^{STATUS_WITH_AMOUNT}$"},
                    "amount": {"anyOf": [{"type": "string"}, {"type": "number"}]},
                },
            },
            {
                "properties": {
                    "status": {"pattern": f"^({'|'.join(others)})$"},
                    "amount": {"nullable": True, "not": {}},
                }
            },
        ]
        return schema


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
            422: OpenApiResponse(
                ErrorSerializer,
                description="Rejected (affiliate not found, amount...) or idempotency_key_reused",
            ),
            409: IDEMPOTENCY_RESPONSES[409],
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
        data = StatusInSerializer.parse(self.request.data)
        affiliate = data["affiliate"]
        reference = affiliate.get("reference", {})
        outcome = status_record(
            status_id=data["id"],
            status=data["status"],
            occurred_at=data["occurred_at"],
            source=data.get("source") or "",
            default_source=self.event_source(),
            amount=data.get("amount"),
            affiliate_id=reference.get("id"),
            external_id=reference.get("external_id"),
            cpf=reference.get("cpf"),
            record=affiliate.get("record"),
            attributes=affiliate.get("attributes"),
        )
        if outcome.event is None:
            assert outcome.upserted is not None
            raise invalid_error(AffiliateInvalid(list(outcome.upserted.errors)), prefix="affiliate.")
        return event_response(outcome.event, path=status_field_path)
