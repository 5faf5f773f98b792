"""Loyalty's partner API, mounted under /api/v1/loyalty/ (crm.api.base's registry): an
affiliate's balance and ledger, the catalogue, redemptions (idempotent, `loyalty.redeemed`
webhook) and mission progress. The key is the UDN's: an affiliate of another UDN is a 404."""

from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from crm.api.base import (
    ERROR_RESPONSES,
    IDEMPOTENCY_HEADER,
    IDEMPOTENCY_RESPONSES,
    NOT_FOUND_RESPONSES,
    ApiError,
    ApiView,
    idempotent,
)
from crm.api.inputs import InputSerializer
from crm.models import Affiliate
from loyalty import selectors
from loyalty.models import Redemption
from loyalty.services.ledger import LoyaltyError
from loyalty.services.redemptions import reward_redeem

LEDGER_LIMIT = 200


def _affiliate(pk: int) -> Affiliate:
    try:
        return Affiliate.objects.get(pk=pk)
    except Affiliate.DoesNotExist:
        raise ApiError(
            code="not_found", message=_("No such affiliate in this UDN."), status_code=404
        ) from None


class RedemptionInSerializer(InputSerializer):
    affiliate_id = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    reward_id = serializers.IntegerField(min_value=1, max_value=2**63 - 1)


class RedemptionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Redemption
        fields = ["id", "affiliate_id", "reward_id", "points", "cost", "month", "created_at"]


class BalanceView(ApiView):
    required_scopes = ["loyalty:read"]

    @extend_schema(responses={200: dict, 404: dict, **ERROR_RESPONSES})
    def get(self, request: Request, pk: int) -> Response:
        affiliate = _affiliate(pk)
        entries = selectors.ledger(affiliate_id=affiliate.pk)[:LEDGER_LIMIT]
        return Response(
            {
                "affiliate_id": affiliate.pk,
                "balance": selectors.balance(affiliate_id=affiliate.pk),
                "ledger": [
                    {
                        "id": e.pk,
                        "kind": e.kind,
                        "points": e.points,
                        "occurred_at": e.occurred_at,
                        "expires_at": e.expires_at,
                        "rule": e.rule.code if e.rule else None,
                        "reason": e.reason,
                    }
                    for e in entries
                ],
            }
        )


class MissionsView(ApiView):
    required_scopes = ["loyalty:read"]

    @extend_schema(responses={200: dict, 404: dict, **ERROR_RESPONSES})
    def get(self, request: Request, pk: int) -> Response:
        affiliate = _affiliate(pk)
        return Response(
            {"affiliate_id": affiliate.pk, "missions": selectors.mission_progress(affiliate_id=affiliate.pk)}
        )


class RewardsView(ApiView):
    required_scopes = ["loyalty:read"]

    @extend_schema(responses={200: dict, **ERROR_RESPONSES})
    def get(self, request: Request) -> Response:
        return Response(
            {
                "results": [
                    {
                        "id": r.pk,
                        "name": r.name,
                        "kind": r.kind,
                        "points_price": r.points_price,
                        "cost": str(r.cost),
                        "stock": r.stock,
                        "available_from": r.available_from,
                        "available_until": r.available_until,
                    }
                    for r in selectors.rewards_available()
                ]
            }
        )


class RedemptionsView(ApiView):
    required_scopes = {"POST": ["loyalty:write"]}

    @extend_schema(
        request=RedemptionInSerializer,
        parameters=[IDEMPOTENCY_HEADER],
        responses={
            201: RedemptionSerializer,
            **ERROR_RESPONSES,
            **IDEMPOTENCY_RESPONSES,
            **NOT_FOUND_RESPONSES,
        },
    )
    def post(self, request: Request) -> Response:
        return idempotent(request, self._create, on_error=self.handle_exception)

    def _create(self) -> Response:
        data = RedemptionInSerializer.parse(self.request.data)
        affiliate = _affiliate(data["affiliate_id"])
        try:
            redemption = reward_redeem(
                affiliate=affiliate, reward_id=data["reward_id"], by=self.event_source()
            )
        except LoyaltyError as error:
            raise ApiError(code=error.code, message=error.message, status_code=422) from None
        return Response(RedemptionSerializer(redemption).data, status=status.HTTP_201_CREATED)
