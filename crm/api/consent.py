"""/api/v1/affiliates/<id>/consent/: a consent grant or opt-out (the LGPD ledger), recorded by
crm.services.consent; answers the affiliate's current consent."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from crm.api.base import (
    ERROR_RESPONSES,
    IDEMPOTENCY_HEADER,
    IDEMPOTENCY_RESPONSES,
    ApiError,
    ApiView,
    idempotent,
)
from crm.api.inputs import (
    ChoiceTextField,
    InputSerializer,
    OffsetDateTimeField,
    StrictBooleanField,
    TextField,
)
from crm.api.serializers import ErrorSerializer
from crm.channels import CHANNEL_CODES
from crm.models import Affiliate, ApiScope, Channel
from crm.services.consent import CONSENT_FIELDS, SOURCE_MAX, consent_change


class ConsentInSerializer(InputSerializer):
    channel = ChoiceTextField(choices=list(Channel.values))
    granted = StrictBooleanField()
    source = TextField(
        min_length=1,
        max_length=SOURCE_MAX,
        help_text=f"Where the consent came from (up to {SOURCE_MAX} characters).",
    )
    proof = TextField(
        required=False,
        allow_null=True,
        allow_blank=True,
        help_text="What the person agreed to, or how they opted out.",
    )
    occurred_at = OffsetDateTimeField(
        required=False,
        allow_null=True,
        help_text="ISO 8601 with offset, from 1900-01-01T00:00:00Z to one hour from now (else a 422); "
        "default now.",
    )


class ConsentStateSerializer(serializers.Serializer):
    affiliate_id = serializers.IntegerField()
    consent = serializers.DictField(child=serializers.BooleanField())


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
            409: IDEMPOTENCY_RESPONSES[409],
            422: OpenApiResponse(
                ErrorSerializer,
                description="occurred_at out of range (invalid), or idempotency_key_reused",
            ),
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
                    "consent": {code: code == "email" for code in CHANNEL_CODES},
                },
                response_only=True,
                status_codes=["201"],
            ),
        ],
    )
    def post(self, request: Request, pk: int) -> Response:
        return idempotent(request, lambda: self._change(pk), on_error=self.handle_exception)

    def _change(self, pk: int) -> Response:
        data = ConsentInSerializer.parse(self.request.data)
        affiliate = get_object_or_404(Affiliate, pk=pk)
        try:
            consent_change(
                affiliate=affiliate,
                channel=data["channel"],
                granted=data["granted"],
                source=data["source"],
                proof=data.get("proof") or "",
                occurred_at=data.get("occurred_at"),
            )
        except DjangoValidationError as error:
            # The shape was the serializer's: what the service still refuses is the data (a time
            # out of range), which the schema cannot state.
            field, messages = next(iter(error.message_dict.items()))
            raise ApiError(
                code="invalid",
                message=messages[0],
                field=field,
                status_code=status.HTTP_422_UNPROCESSABLE_ENTITY,
            ) from None
        affiliate.refresh_from_db(fields=list(CONSENT_FIELDS.values()))
        return Response(_consent_state(affiliate), status=status.HTTP_201_CREATED)
