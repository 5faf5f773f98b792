"""Output shapes (and the documented input shapes) of the API."""

from __future__ import annotations

from rest_framework import serializers

from crm.models import Affiliate


class AffiliateSerializer(serializers.ModelSerializer[Affiliate]):
    # Optional text fields are stored blank (""), which an e-mail format or an enum would refuse.
    email = serializers.CharField(read_only=True, help_text="E-mail address, or empty.")
    origin = serializers.CharField(
        read_only=True, help_text="store, site, whatsapp, partner, referral, event, other, or empty."
    )

    class Meta:
        model = Affiliate
        # Every stored field, in the model's order: the standard fields, what derives from events,
        # one consent field per channel of crm.channels, the channels' addresses.
        fields = [field.name for field in Affiliate._meta.concrete_fields]
        read_only_fields = fields


def cursor_page_serializer(name: str, item: type[serializers.BaseSerializer]) -> type[serializers.Serializer]:
    """The documented shape of a cursor page of `item`s (follow `next` until it is null); `name`
    is the class, and so the OpenAPI component, name."""
    fields = {
        "__doc__": "A cursor page (follow `next` until it is null).",
        "next": serializers.URLField(allow_null=True),
        "previous": serializers.URLField(allow_null=True),
        "results": item(many=True),
    }
    return type(name, (serializers.Serializer,), fields)


AffiliatePageSerializer = cursor_page_serializer("AffiliatePageSerializer", AffiliateSerializer)


# --- documentation of the event contract (parsing is crm.api.contract's) -----------------------

# The bounds are crm.normalize.moment_in_range's (and the events service's future tolerance).
OCCURRED_AT_HELP = (
    "ISO 8601 with a time zone offset, from 1900-01-01T00:00:00Z to one hour from now "
    "(earlier: occurred_at_too_old; later: occurred_at_future)."
)


class AffiliateRefSerializer(serializers.Serializer):
    id = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    external_id = serializers.CharField(required=False)
    cpf = serializers.CharField(required=False, help_text="11 digits, punctuation allowed")


class EventInSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="The partner's unique id of the event (idempotency key).")
    type = serializers.CharField(help_text="A standard event type or one the UDN registered.")
    occurred_at = serializers.DateTimeField(help_text=OCCURRED_AT_HELP)
    affiliate = AffiliateRefSerializer(help_text="Exactly one of id, external_id, cpf.")
    properties = serializers.DictField(required=False)
    source = serializers.CharField(required=False)


class EventResultSerializer(serializers.Serializer):
    index = serializers.IntegerField(required=False)
    id = serializers.CharField()
    status = serializers.ChoiceField(choices=["accepted", "duplicate", "rejected"])
    code = serializers.CharField(allow_null=True)
    message = serializers.CharField(allow_null=True)
    field = serializers.CharField(allow_null=True)
    affiliate_id = serializers.IntegerField(allow_null=True)
    warnings = serializers.ListField(child=serializers.CharField())


class BatchResultSerializer(serializers.Serializer):
    accepted = serializers.IntegerField()
    duplicate = serializers.IntegerField()
    rejected = serializers.IntegerField()
    results = EventResultSerializer(many=True)


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    field = serializers.CharField(allow_null=True)
    details = serializers.ListField(child=serializers.DictField())


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()
