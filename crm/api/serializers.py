"""Output shapes the API's resources share (input shapes are each resource's, crm.api.inputs)."""

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


class EventResultSerializer(serializers.Serializer):
    index = serializers.IntegerField(required=False)
    id = serializers.CharField(allow_null=True, help_text="null when a batch item has no text id")
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
