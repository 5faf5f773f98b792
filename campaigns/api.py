"""The partner API's messages (mounted under /api/v1/messages/ through crm.api.base's registry, from
CampaignsConfig.ready; same keys, scopes, errors, throttling and Idempotency-Key as the rest):

- `POST /api/v1/messages/` (scope messages:write): a transactional send of a template to one
  affiliate, through the outbox (campaigns.services.outbox.message_enqueue) and so every guard.
  The answer is always **202 with the message** once the request is understood: a message the
  guards refuse is written too, `"status": "suppressed"` with its `"reason"` (no_consent,
  opted_out, no_address, outside_window...), so the partner reads every outcome the same way and
  can GET it later. 422 only when the request names what does not exist (no such affiliate, no
  template for a channel of the chain).
- `GET /api/v1/messages/{id}/` (scope messages:read): status, reason, the channel used, what is
  left of the fallback chain, the timestamps and the status history.

`template` is a slug or a {channel: slug} map. With one slug and a fallback chain, each channel
uses the template `<slug>-<channel>` when there is one, else `<slug>` itself when it is that
channel's (so "boas-vindas" alone, or "boas-vindas-whatsapp" + "boas-vindas-sms").
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from campaigns.models import Message, MessageSource, SuppressionReason
from campaigns.selectors.messages import (
    affiliates_by_reference,
    message_get,
    message_status_history,
    message_templates_for_chain,
)
from campaigns.services.outbox import message_enqueue
from crm.api.base import (
    ERROR_RESPONSES,
    IDEMPOTENCY_HEADER,
    IDEMPOTENCY_RESPONSES,
    ApiError,
    ApiView,
    idempotent,
)
from crm.api.events import AffiliateRefSerializer
from crm.api.inputs import NO_NUL_PATTERN, InputSerializer, JSONObjectField
from crm.api.serializers import ErrorSerializer
from crm.channels import CHANNEL_CODES
from crm.models import ApiScope

SLUG_MAX = 80
BIGINT_MAX = 2**63 - 1  # Message.id
SLUG_SCHEMA = {"type": "string", "minLength": 1, "maxLength": SLUG_MAX, "pattern": NO_NUL_PATTERN}


def _slug(value: Any, field: str) -> str:
    """A template's code as given (a code no template has is the service's 422, not a 400)."""
    if not isinstance(value, str) or not value or len(value) > SLUG_MAX or "\x00" in value:
        raise ValidationError(
            {field: [_("Give a template code (up to %(n)s characters).") % {"n": SLUG_MAX}]}
        )
    return value


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "enum": list(CHANNEL_CODES)},
            {
                "type": "array",
                "items": {"type": "string", "enum": list(CHANNEL_CODES)},
                "minItems": 1,
                "maxItems": len(CHANNEL_CODES),
                "uniqueItems": True,
            },
        ],
        "description": "A channel, or a fallback chain: the first channel the affiliate can be reached "
        "on is used, the next when the provider reports a failure.",
    }
)
class ChannelChainField(serializers.Field):
    def to_internal_value(self, data: Any) -> list[str]:
        chain = [data] if isinstance(data, str) else data
        if (
            not isinstance(chain, list)
            or not chain
            or any(not isinstance(code, str) or code not in CHANNEL_CODES for code in chain)
            or len(set(chain)) != len(chain)
        ):
            raise ValidationError(
                _("Give a channel (%(channels)s) or a list of different ones.")
                % {"channels": ", ".join(CHANNEL_CODES)}
            )
        return list(chain)

    def to_representation(self, value: Any) -> Any:
        return value


@extend_schema_field(
    {
        "oneOf": [
            SLUG_SCHEMA,
            {
                "type": "object",
                "properties": {channel: SLUG_SCHEMA for channel in CHANNEL_CODES},
                "additionalProperties": False,
                "minProperties": 1,
            },
        ],
        "description": "A template's code, or one per channel of the chain ({channel: code}).",
    }
)
class TemplateRefField(serializers.Field):
    def to_internal_value(self, data: Any) -> str | dict[str, str]:
        if isinstance(data, dict):
            if not data or any(channel not in CHANNEL_CODES for channel in data):
                raise ValidationError(
                    _("Map channels (%(channels)s) to template codes.")
                    % {"channels": ", ".join(CHANNEL_CODES)}
                )
            return {channel: _slug(slug, f"template.{channel}") for channel, slug in data.items()}
        return _slug(data, "template")

    def to_representation(self, value: Any) -> Any:
        return value


class MessageInSerializer(InputSerializer):
    affiliate = AffiliateRefSerializer()
    template = TemplateRefField()
    channel = ChannelChainField()
    variables = JSONObjectField(
        required=False,
        allow_null=True,
        help_text="Values for the template's variables beyond the affiliate's own.",
    )


class StatusChangeSerializer(serializers.Serializer):
    status = serializers.CharField()
    at = serializers.DateTimeField()


class MessageAffiliateSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    external_id = serializers.CharField()


class MessageSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField(
        help_text="queued, sending, sent, delivered, read, clicked, suppressed, "
        "bounced, failed, dead or cancelled"
    )
    reason = serializers.CharField(allow_null=True, help_text="Why it was not sent (status suppressed).")
    channel = serializers.CharField(help_text="The channel this message went (or would go) on.")
    fallback = serializers.ListField(child=serializers.CharField(), help_text="The channels left to try.")
    template = serializers.CharField()
    source = serializers.CharField()
    affiliate = MessageAffiliateSerializer()
    error = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    sent_at = serializers.DateTimeField(allow_null=True)
    delivered_at = serializers.DateTimeField(allow_null=True)
    read_at = serializers.DateTimeField(allow_null=True)
    clicked_at = serializers.DateTimeField(allow_null=True)
    failed_at = serializers.DateTimeField(allow_null=True)
    history = StatusChangeSerializer(many=True)


def _message_body(message: Message) -> dict[str, Any]:
    history = message_status_history(message=message)
    return {
        "id": message.pk,
        "status": message.status,
        "reason": message.reason or None,
        "channel": message.channel,
        "fallback": list(message.fallback),
        "template": message.template.slug,
        "source": message.source,
        "affiliate": {"id": message.affiliate_id, "external_id": message.affiliate.external_id},
        "error": message.error or None,
        "created_at": message.created_at,
        "sent_at": message.sent_at,
        "delivered_at": message.delivered_at,
        "read_at": message.read_at,
        "clicked_at": message.clicked_at,
        "failed_at": message.failed_at,
        "history": [{"status": item["status"], "at": item["at"]} for item in history],
    }


MESSAGE_EXAMPLE = {
    "affiliate": {"external_id": "C-1001"},
    "template": "boas-vindas",
    "channel": ["whatsapp", "sms"],
    "variables": {"codigo": "X7Y2"},
}


class MessageCollectionView(ApiView):
    required_scopes = [ApiScope.MESSAGES_WRITE]

    @extend_schema(
        operation_id="messages_create",
        summary="Send a template to one affiliate through every guard (202 with the message, "
        "suppressed with its reason when a guard refuses it)",
        request=MessageInSerializer,
        parameters=[IDEMPOTENCY_HEADER],
        responses={
            202: OpenApiResponse(
                MessageSerializer,
                description="Written to the outbox: queued, or suppressed with the reason ("
                + ", ".join(SuppressionReason.values)
                + ")",
            ),
            409: IDEMPOTENCY_RESPONSES[409],
            422: OpenApiResponse(
                ErrorSerializer,
                description="affiliate_not_found, affiliate_ambiguous, template_not_found or "
                "idempotency_key_reused",
            ),
            **ERROR_RESPONSES,
        },
        examples=[OpenApiExample("WhatsApp, else SMS", value=MESSAGE_EXAMPLE, request_only=True)],
    )
    def post(self, request: Request) -> Response:
        return idempotent(request, self._send, on_error=self.handle_exception)

    def _send(self) -> Response:
        data = MessageInSerializer.parse(self.request.data)
        reference = data["affiliate"]
        found = affiliates_by_reference(**reference)
        if len(found) != 1:
            field = f"affiliate.{next(iter(reference))}"
            if found:
                raise ApiError(
                    code="affiliate_ambiguous",
                    message=_("Several affiliates have this CPF; use the affiliate id or external id."),
                    field=field,
                    status_code=status.HTTP_422_UNPROCESSABLE_ENTITY,
                )
            raise ApiError(
                code="affiliate_not_found",
                message=_("No affiliate with this %(field)s.") % {"field": next(iter(reference))},
                field=field,
                status_code=status.HTTP_422_UNPROCESSABLE_ENTITY,
            )
        chain = data["channel"]
        templates = message_templates_for_chain(template=data["template"], chain=chain)
        missing = [channel for channel in chain if channel not in templates]
        if missing:
            raise ApiError(
                code="template_not_found",
                message=_("No template with this code for the channel(s): %(channels)s.")
                % {"channels": ", ".join(missing)},
                field="template",
                status_code=status.HTTP_422_UNPROCESSABLE_ENTITY,
            )
        message = message_enqueue(
            affiliate=found[0],
            templates=templates,
            chain=chain,
            source=MessageSource.API,
            variables=data.get("variables") or {},
        )
        message = message_get(pk=message.pk) or message
        return Response(_message_body(message), status=status.HTTP_202_ACCEPTED)


class MessageItemView(ApiView):
    required_scopes = [ApiScope.MESSAGES_READ]

    @extend_schema(
        operation_id="messages_retrieve",
        summary="A message: status, channel used, reason, timestamps and status history",
        responses={200: MessageSerializer, 404: ErrorSerializer, **ERROR_RESPONSES},
    )
    def get(self, request: Request, pk: int) -> Response:
        message = message_get(pk=pk) if pk <= BIGINT_MAX else None
        if message is None:
            raise ApiError(
                code="not_found",
                message=_("No message with this id."),
                status_code=status.HTTP_404_NOT_FOUND,
            )
        return Response(_message_body(message))
