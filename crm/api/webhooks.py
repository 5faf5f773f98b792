"""/api/v1/webhooks/: a partner manages its UDN's webhook subscriptions (create, rotate the
secret), reads the delivery log and redelivers a delivery (scope `webhooks:manage`). Thin views
over crm.services.webhooks / crm.selectors.webhooks."""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from crm.api.base import (
    ERROR_RESPONSES,
    IDEMPOTENCY_HEADER,
    IDEMPOTENCY_RESPONSES,
    ApiCursorPagination,
    ApiError,
    ApiView,
    idempotent,
)
from crm.api.inputs import ChoiceTextField, InputSerializer, QueryIntegerField
from crm.api.serializers import ErrorSerializer, cursor_page_serializer
from crm.models import WEBHOOK_EVENTS_OFFERED, ApiScope, WebhookDelivery, WebhookSubscription
from crm.selectors.webhooks import webhook_delivery_log, webhook_subscription_list
from crm.services.webhooks import (
    WebhookError,
    webhook_delivery_redeliver,
    webhook_subscription_create,
    webhook_subscription_rotate_secret,
)


class WebhookSubscriptionSerializer(serializers.ModelSerializer[WebhookSubscription]):
    # The events offered, not the column's choices (which keep message.failed, never sent).
    events = serializers.ListField(child=serializers.ChoiceField(choices=WEBHOOK_EVENTS_OFFERED))

    class Meta:
        model = WebhookSubscription
        fields = [
            "id",
            "url",
            "events",
            "secret",
            "previous_secret_expires_at",
            "active",
            "created_at",
            "created_by",
        ]
        read_only_fields = fields


class WebhookSubscriptionInSerializer(InputSerializer):
    # An unknown event keeps DRF's invalid_choice, at its path (events[0]).
    error_codes = {
        code: renamed for code, renamed in InputSerializer.error_codes.items() if code != "invalid_choice"
    }

    url = serializers.URLField(
        max_length=500,
        help_text="http(s), without user@ or backslashes, on a public address (else a 400 on url).",
    )
    events = serializers.ListField(child=ChoiceTextField(choices=WEBHOOK_EVENTS_OFFERED), min_length=1)


class PageQuerySerializer(InputSerializer):
    """The query of a list that only pages (other parameters are ignored)."""

    page_size = QueryIntegerField(
        required=False,
        help_text="Up to 500 (more is 500), default 100 (also for 0 or less). The next page is "
        "the `next` URL (it carries an opaque cursor).",
    )

    @classmethod
    def parse_page(cls, params: Any) -> None:
        """A 400 unless page_size, when given, is an integer."""
        if "page_size" in params:
            cls.parse({"page_size": params.get("page_size")})


class WebhookDeliverySerializer(serializers.ModelSerializer[WebhookDelivery]):
    event = serializers.ChoiceField(choices=WEBHOOK_EVENTS_OFFERED)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "event",
            "payload",
            "status",
            "attempts",
            "next_attempt_at",
            "last_status_code",
            "last_response",
            "last_error",
            "created_at",
            "delivered_at",
            "redelivered_at",
        ]
        read_only_fields = fields


WebhookSubscriptionPageSerializer = cursor_page_serializer(
    "WebhookSubscriptionPageSerializer", WebhookSubscriptionSerializer
)
WebhookDeliveryPageSerializer = cursor_page_serializer(
    "WebhookDeliveryPageSerializer", WebhookDeliverySerializer
)


class NewestFirstPagination(ApiCursorPagination):
    """Subscriptions and deliveries, newest first (ids grow with created_at)."""

    ordering = "-id"
    max_page_size = 500


_SUBSCRIPTION_EXAMPLE = {
    "id": 3,
    "url": "https://partner.example.com/hooks/udn",
    "events": ["affiliate.stage_changed"],
    "secret": "whsec_…",
    "previous_secret_expires_at": None,
    "active": True,
    "created_at": "2026-11-22T12:00:00Z",
    "created_by": "api:ab12cd34",
}


class WebhookListView(ApiView):
    required_scopes = [ApiScope.WEBHOOKS_MANAGE]

    @extend_schema(
        operation_id="webhooks_list",
        summary="List webhook subscriptions (newest first)",
        parameters=[PageQuerySerializer],
        responses={200: WebhookSubscriptionPageSerializer, **ERROR_RESPONSES},
    )
    def get(self, request: Request) -> Response:
        PageQuerySerializer.parse_page(request.query_params)
        paginator = NewestFirstPagination()
        page = paginator.paginate_queryset(webhook_subscription_list(), request, view=self)
        return paginator.get_paginated_response(WebhookSubscriptionSerializer(page, many=True).data)

    @extend_schema(
        operation_id="webhooks_create",
        summary="Subscribe a URL to events; the response carries the signing secret",
        description=(
            "Each delivery is a POST of JSON `{id, event, created_at, udn, data}` with headers "
            "`X-UDN-Event`, `X-UDN-Delivery` and `X-UDN-Signature: t=<unix ts>,v1=<hex>` where v1 is "
            "HMAC-SHA256 of `<ts>.<raw body>` with the secret (for 24 h after a rotation a second "
            "v1 is made with the old secret: accept the request when any v1 matches). A 2xx answer "
            "within 10 s is a delivery; anything else is retried after 1 min, 5 min, 30 min, 2 h "
            "and 12 h. The URL must be http(s), without user@ or backslashes, on a public address."
        ),
        request=WebhookSubscriptionInSerializer,
        parameters=[IDEMPOTENCY_HEADER],
        responses={201: WebhookSubscriptionSerializer, **IDEMPOTENCY_RESPONSES, **ERROR_RESPONSES},
        examples=[
            OpenApiExample(
                "Stage changes",
                value={"url": "https://partner.example.com/hooks/udn", "events": ["affiliate.stage_changed"]},
                request_only=True,
            ),
            OpenApiExample("Created", value=_SUBSCRIPTION_EXAMPLE, response_only=True, status_codes=["201"]),
        ],
    )
    def post(self, request: Request) -> Response:
        return idempotent(request, self._create, on_error=self.handle_exception)

    def _create(self) -> Response:
        data = WebhookSubscriptionInSerializer.parse(self.request.data)
        try:
            subscription = webhook_subscription_create(
                url=data["url"],
                events=data["events"],
                created_by=f"api:{self.api_key.prefix}",
            )
        except WebhookError as error:
            raise ApiError(code="invalid", message=str(error), field=error.field or None) from None
        return Response(WebhookSubscriptionSerializer(subscription).data, status=status.HTTP_201_CREATED)


class WebhookDeliveryListView(ApiView):
    required_scopes = [ApiScope.WEBHOOKS_MANAGE]

    @extend_schema(
        operation_id="webhooks_deliveries",
        summary="The delivery log of one subscription (newest first, cursor pagination)",
        parameters=[PageQuerySerializer],
        responses={
            200: WebhookDeliveryPageSerializer,
            404: OpenApiResponse(ErrorSerializer, description="No such subscription"),
            **ERROR_RESPONSES,
        },
    )
    def get(self, request: Request, pk: int) -> Response:
        PageQuerySerializer.parse_page(request.query_params)
        subscription = get_object_or_404(WebhookSubscription, pk=pk)
        paginator = NewestFirstPagination()
        page = paginator.paginate_queryset(
            webhook_delivery_log(subscription=subscription), request, view=self
        )
        return paginator.get_paginated_response(WebhookDeliverySerializer(page, many=True).data)


class WebhookRotateSecretView(ApiView):
    required_scopes = [ApiScope.WEBHOOKS_MANAGE]

    @extend_schema(
        operation_id="webhooks_rotate_secret",
        summary="Give a subscription a new signing secret; the old one still signs for 24 h",
        description=(
            "The response carries the new secret. Until `previous_secret_expires_at` each delivery's "
            "`X-UDN-Signature` has two v1 values, the new secret's first: "
            "`t=<ts>,v1=<new>,v1=<old>`. Rotating again within those 24 h retires the older secret."
        ),
        request=None,
        parameters=[IDEMPOTENCY_HEADER],
        responses={
            200: WebhookSubscriptionSerializer,
            404: OpenApiResponse(ErrorSerializer, description="No such subscription"),
            **IDEMPOTENCY_RESPONSES,
            **ERROR_RESPONSES,
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        return idempotent(request, lambda: self._rotate(pk), on_error=self.handle_exception)

    def _rotate(self, pk: int) -> Response:
        subscription = get_object_or_404(WebhookSubscription, pk=pk)
        rotated = webhook_subscription_rotate_secret(
            subscription=subscription, rotated_by=f"api:{self.api_key.prefix}"
        )
        return Response(WebhookSubscriptionSerializer(rotated).data)


class WebhookRedeliverView(ApiView):
    required_scopes = [ApiScope.WEBHOOKS_MANAGE]

    @extend_schema(
        operation_id="webhooks_redeliver",
        summary="Send a delivered or failed delivery again, now",
        description=(
            "The delivery becomes pending and due at once, with the whole retry schedule; it keeps "
            "its id (`X-UDN-Delivery`) and body. A delivery still pending is already queued: 409."
        ),
        request=None,
        parameters=[IDEMPOTENCY_HEADER],
        responses={
            202: WebhookDeliverySerializer,
            404: OpenApiResponse(ErrorSerializer, description="No such subscription or delivery"),
            409: OpenApiResponse(
                ErrorSerializer, description="already_queued, or idempotency_key_in_progress"
            ),
            422: IDEMPOTENCY_RESPONSES[422],
            **ERROR_RESPONSES,
        },
    )
    def post(self, request: Request, pk: int, delivery_pk: int) -> Response:
        return idempotent(request, lambda: self._redeliver(pk, delivery_pk), on_error=self.handle_exception)

    def _redeliver(self, pk: int, delivery_pk: int) -> Response:
        delivery = get_object_or_404(WebhookDelivery, pk=delivery_pk, subscription_id=pk)
        try:
            queued = webhook_delivery_redeliver(
                delivery=delivery, redelivered_by=f"api:{self.api_key.prefix}"
            )
        except WebhookError as error:
            raise ApiError(
                code="already_queued", message=str(error), status_code=status.HTTP_409_CONFLICT
            ) from None
        return Response(WebhookDeliverySerializer(queued).data, status=status.HTTP_202_ACCEPTED)
