"""`POST /api/v1/spend/`: a partner (an ad platform export, a BI job) sends marketing spend per
day, source and campaign; rows are upserted by that key. Scope: spend:write."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from crm.api.base import (
    ERROR_RESPONSES,
    IDEMPOTENCY_HEADER,
    IDEMPOTENCY_RESPONSES,
    ApiView,
    batch_items,
    idempotent,
)
from crm.api.inputs import AmountField, InputSerializer, TextField
from crm.models import ApiScope
from insights.services.spend import SpendRow, spend_row_parse, spend_upsert

#: Rows one request may carry (a year of days for a few dozen campaigns fits in a few requests).
MAX_ROWS = 1000


class SpendInSerializer(InputSerializer):
    day = TextField(max_length=10, help_text="dd/mm/aaaa or aaaa-mm-dd")
    source = TextField(max_length=100)
    campaign = TextField(max_length=100, required=False, allow_blank=True)
    amount = AmountField()


class SpendOutSerializer(serializers.Serializer):
    written = serializers.IntegerField()
    rejected = serializers.ListField(child=serializers.DictField())


class SpendView(ApiView):
    required_scopes = {"POST": [ApiScope.SPEND_WRITE]}

    @extend_schema(
        request=SpendInSerializer(many=True),
        parameters=[IDEMPOTENCY_HEADER],
        responses={200: SpendOutSerializer, **ERROR_RESPONSES, **IDEMPOTENCY_RESPONSES},
    )
    def post(self, request: Request) -> Response:
        return idempotent(request, self._write, on_error=self.handle_exception)

    def _write(self) -> Response:
        items = batch_items(
            self.request.data,
            limit=MAX_ROWS,
            not_a_list=_("Send a list of spend rows."),
            too_many=_("At most %(n)s rows a request."),
        )
        rows: list[SpendRow] = []
        rejected: list[dict[str, Any]] = []
        for index, item in enumerate(items):
            try:
                data = SpendInSerializer.parse(item)
                rows.append(
                    spend_row_parse(
                        day=data["day"],
                        source=data["source"],
                        campaign=data.get("campaign", ""),
                        amount=data["amount"],
                    )
                )
            except (ValueError, serializers.ValidationError) as error:
                rejected.append({"index": index, "error": _message(error)})
        return Response({"written": spend_upsert(rows=rows), "rejected": rejected})


def _message(error: Exception) -> str:
    """One line a person reads: "field: reason" for a field's error, else the reason."""
    if isinstance(error, serializers.ValidationError) and isinstance(error.detail, dict):
        return "; ".join(
            f"{name}: {' '.join(str(m) for m in messages) if isinstance(messages, list) else messages}"
            for name, messages in error.detail.items()
        )
    return str(error.detail if isinstance(error, serializers.ValidationError) else error)
