"""An endpoint of another app, as crm.api.base's docstring shows (test_api_base mounts it)."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from crm.api.base import ERROR_RESPONSES, ApiView
from crm.api.inputs import InputSerializer, TextField


class EchoInSerializer(InputSerializer):
    word = TextField(max_length=20)


class EchoSerializer(serializers.Serializer):
    word = serializers.CharField()
    key = serializers.CharField()


class EchoView(ApiView):
    required_scopes = {"POST": ["affiliates:read"]}

    @extend_schema(
        operation_id="plugin_echo",
        request=EchoInSerializer,
        responses={200: EchoSerializer, **ERROR_RESPONSES},
    )
    def post(self, request: Request) -> Response:
        data = EchoInSerializer.parse(request.data)
        return Response({"word": data["word"], "key": self.event_source()})


urlpatterns = [path("echo/", EchoView.as_view(), name="api-plugin-echo")]
