"""/api/v1/funnel/: the UDN's funnel figures (crm.selectors.funnel)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from crm.api.base import ERROR_RESPONSES, ApiView
from crm.models import ApiScope, Stage
from crm.selectors.funnel import funnel_figures


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
