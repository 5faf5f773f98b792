"""/api/v1/segments/: the UDN's saved segments (list), one with its count now, and its members
(cursor pages ordered by id, like the affiliates). Thin views over crm.selectors.segments."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from crm.api.base import ERROR_RESPONSES, ApiCursorPagination, ApiError, ApiView
from crm.api.serializers import (
    AffiliatePageSerializer,
    AffiliateSerializer,
    ErrorSerializer,
    cursor_page_serializer,
)
from crm.api.webhooks import PageQuerySerializer
from crm.models import ApiScope, Segment
from crm.segmentation import SegmentInvalid
from crm.selectors.segments import segment_count, segment_get, segment_list, segment_members


class SegmentSerializer(serializers.ModelSerializer[Segment]):
    definition = serializers.JSONField(
        help_text="The conditions (schema version 1, see crm/segmentation.py)."
    )

    class Meta:
        model = Segment
        fields = [
            "id",
            "name",
            "description",
            "definition",
            "tracked",
            "member_count",
            "counted_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class SegmentDetailSerializer(SegmentSerializer):
    count = serializers.IntegerField(help_text="Affiliates that match now (counted for this answer).")

    class Meta(SegmentSerializer.Meta):
        fields = [*SegmentSerializer.Meta.fields, "count"]
        read_only_fields = fields


SegmentPageSerializer = cursor_page_serializer("SegmentPageSerializer", SegmentSerializer)

_EXAMPLE = {
    "id": 4,
    "name": "Cash in recente",
    "description": "",
    "definition": {
        "version": 1,
        "root": {
            "kind": "group",
            "op": "and",
            "conditions": [
                {
                    "kind": "event",
                    "type": "cash_in",
                    "measure": "count",
                    "operator": "gte",
                    "value": "2",
                    "within_days": 30,
                },
            ],
        },
    },
    "tracked": False,
    "member_count": 1520,
    "counted_at": "2026-11-22T12:00:00Z",
    "created_at": "2026-11-20T09:00:00Z",
    "updated_at": "2026-11-22T12:00:00Z",
}


class SegmentPagination(ApiCursorPagination):
    max_page_size = 500


class MemberPagination(ApiCursorPagination):
    max_page_size = 1000


def _segment(pk: int) -> Segment:
    try:
        return segment_get(pk=pk)
    except Segment.DoesNotExist:
        raise Http404 from None


def _not_computable(error: SegmentInvalid) -> ApiError:
    return ApiError(code="segment_invalid", message="; ".join(error.errors), status_code=422)


class SegmentListView(ApiView):
    required_scopes = [ApiScope.SEGMENTS_READ]

    @extend_schema(
        operation_id="segments_list",
        summary="List saved segments (cursor pagination ordered by id)",
        parameters=[PageQuerySerializer],
        responses={200: SegmentPageSerializer, **ERROR_RESPONSES},
        examples=[
            OpenApiExample(
                "A page", value={"next": None, "previous": None, "results": [_EXAMPLE]}, response_only=True
            )
        ],
    )
    def get(self, request: Request) -> Response:
        PageQuerySerializer.parse_page(request.query_params)
        paginator = SegmentPagination()
        page = paginator.paginate_queryset(segment_list(), request, view=self)
        return paginator.get_paginated_response(SegmentSerializer(page, many=True).data)


class SegmentItemView(ApiView):
    required_scopes = [ApiScope.SEGMENTS_READ]

    @extend_schema(
        operation_id="segments_retrieve",
        summary="One segment, with how many affiliates match it now",
        responses={
            200: SegmentDetailSerializer,
            404: OpenApiResponse(ErrorSerializer, description="No such segment"),
            422: OpenApiResponse(
                ErrorSerializer, description="segment_invalid: its conditions no longer hold"
            ),
            **ERROR_RESPONSES,
        },
        examples=[OpenApiExample("A segment", value={**_EXAMPLE, "count": 1523}, response_only=True)],
    )
    def get(self, request: Request, pk: int) -> Response:
        segment = _segment(pk)
        try:
            count = segment_count(segment=segment)
        except SegmentInvalid as error:
            raise _not_computable(error) from None
        return Response({**SegmentSerializer(segment).data, "count": count})


class SegmentMembersView(ApiView):
    required_scopes = [ApiScope.SEGMENTS_READ]

    @extend_schema(
        operation_id="segments_members",
        summary="The affiliates that match a segment now (cursor pagination ordered by id)",
        parameters=[PageQuerySerializer],
        responses={
            200: AffiliatePageSerializer,
            404: OpenApiResponse(ErrorSerializer, description="No such segment"),
            422: OpenApiResponse(
                ErrorSerializer, description="segment_invalid: its conditions no longer hold"
            ),
            **ERROR_RESPONSES,
        },
    )
    def get(self, request: Request, pk: int) -> Response:
        PageQuerySerializer.parse_page(request.query_params)
        segment = _segment(pk)
        try:
            members = segment_members(segment=segment)
        except SegmentInvalid as error:
            raise _not_computable(error) from None
        paginator = MemberPagination()
        page = paginator.paginate_queryset(members, request, view=self)
        return paginator.get_paginated_response(AffiliateSerializer(page, many=True).data)
