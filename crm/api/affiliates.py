"""/api/v1/affiliates/: list (filters, cursor pages), read one, create one, change some fields,
bulk upsert. Thin views over crm.selectors.affiliates and crm.services.affiliates; the input
serializers here are the one check of what a client sends (400), the services' reasons the
refusals of what it means (422)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from crm.api.base import (
    ERROR_RESPONSES,
    IDEMPOTENCY_HEADER,
    IDEMPOTENCY_RESPONSES,
    ApiCursorPagination,
    ApiError,
    ApiView,
    batch_items,
    error_body,
    idempotent,
    list_of,
)
from crm.api.errors import validation_error_body
from crm.api.inputs import (
    AmountField,
    ChoiceListField,
    ChoiceTextField,
    InputSerializer,
    JSONObjectField,
    QueryIntegerField,
    TagsField,
    TextField,
)
from crm.api.serializers import AffiliatePageSerializer, AffiliateSerializer, ErrorSerializer
from crm.channels import CHANNELS
from crm.models import Affiliate, ApiScope, Origin, Stage
from crm.selectors.affiliates import AffiliateFilters, affiliate_search
from crm.services.affiliates import (
    WRITABLE_FIELDS,
    AffiliateExists,
    AffiliateInvalid,
    FieldError,
    affiliate_create,
    affiliate_update,
    affiliates_upsert,
)

BULK_MAX_AFFILIATES = 1000

# --- input --------------------------------------------------------------------------------------

# Blank, or 11 digits among any punctuation (529.982.247-25).
CPF_QUERY_PATTERN = r"^([^0-9\x00]*([0-9][^0-9\x00]*){11})?$"


class AffiliateListQuerySerializer(InputSerializer):
    q = TextField(
        required=False,
        allow_blank=True,
        help_text="Free text: name, e-mail, external id, CPF or phone digits",
    )
    stage = ChoiceListField(
        choices=list(Stage.values),
        required=False,
        help_text="Stage(s): repeated (stage=lead&stage=cash_in) or comma-separated",
    )
    tier = TextField(required=False, allow_blank=True)
    origin = ChoiceTextField(
        choices=list(Origin.values), allow_blank=True, required=False, help_text="Blank: any origin"
    )
    tag = TextField(required=False, allow_blank=True)
    state = TextField(required=False, allow_blank=True, help_text="Two-letter state (UF)")
    external_id = TextField(required=False, allow_blank=True, help_text="Exact external id")
    cpf = TextField(
        required=False,
        allow_blank=True,
        pattern=CPF_QUERY_PATTERN,
        pattern_message=_("A CPF has 11 digits."),
        help_text="Exact CPF, 11 digits (punctuation allowed)",
    )
    page_size = QueryIntegerField(
        required=False,
        help_text="Up to 1000 (more is 1000), default 100 (also for 0 or less). The next page is "
        "the `next` URL (it carries an opaque cursor).",
    )


def _list_filters(params: Any) -> tuple[AffiliateFilters, dict[str, str]]:
    query = AffiliateListQuerySerializer.parse_query(params, ignore=frozenset({"cursor"}))
    lookups = {}
    if query.get("external_id"):
        lookups["external_id"] = query["external_id"]
    if query.get("cpf"):
        lookups["cpf"] = "".join(char for char in query["cpf"] if "0" <= char <= "9")
    filters = AffiliateFilters(
        q=query.get("q", ""),
        stages=tuple(query.get("stage", ())),
        tier=query.get("tier", ""),
        origin=query.get("origin", ""),
        tag=query.get("tag", ""),
        state=query.get("state", ""),
    )
    return filters, lookups


def _text(help_text: str = "") -> TextField:
    return TextField(required=False, allow_null=True, allow_blank=True, help_text=help_text or None)


class AffiliateWriteSerializer(InputSerializer):
    """An affiliate's writable fields, as a client sends them: normalised by the service (a value
    that does not normalise is a 422 with its reason). Null or blank leaves a field blank."""

    # Output-only fields of an affiliate (what derives from events, the consent of each channel,
    # ...): refused with `read_only` rather than `unknown_field`.
    read_only_names = frozenset(field.name for field in Affiliate._meta.concrete_fields) - WRITABLE_FIELDS

    external_id = _text("The UDN's code; without it, the CPF keys.")
    cpf = _text("11 digits, punctuation allowed")
    name = _text()
    email = _text()
    phone = _text("Brazilian mobile with DDD (a foreign number is phone_foreign)")
    birth_date = _text("dd/mm/aaaa or aaaa-mm-dd, from 01/01/1900 to today (else birth_date_future)")
    city = _text()
    state = _text("UF or the state's name")
    plan = _text()
    plan_fee = AmountField(required=False, allow_null=True, help_text='e.g. "49.90" or "49,90"')
    origin = _text("store, site, whatsapp, partner, referral, event, other (or a synonym)")
    tags = TagsField(required=False, allow_null=True, help_text='A list, or one text "vip, gold"')
    attributes = JSONObjectField(required=False, allow_null=True)

    @staticmethod
    def record(data: dict[str, Any]) -> tuple[dict[str, object], dict[str, Any] | None]:
        """Validated data → (the standard fields for the normaliser, attributes or None)."""
        record = {key: value for key, value in data.items() if key != "attributes"}
        attributes = (data["attributes"] or {}) if "attributes" in data else None
        return record, attributes


class AffiliateCreateSerializer(AffiliateWriteSerializer):
    """A new affiliate: the same fields, and the schema says `name` is required. The server lets
    the service refuse a missing or blank name (422 name_missing, beside every other reason of
    the record), so a client learns all that is wrong at once."""

    @classmethod
    def schema_refine(cls, schema: dict[str, Any]) -> dict[str, Any]:
        schema["required"] = sorted({*schema.get("required", []), "name"})
        return schema


def _record_parse(
    data: Any, *, serializer: type[AffiliateWriteSerializer] = AffiliateWriteSerializer
) -> tuple[dict[str, object], dict[str, Any] | None]:
    return serializer.record(serializer.parse(data))


def _error_dicts(errors: list[FieldError] | tuple[FieldError, ...], prefix: str = "") -> list[dict[str, Any]]:
    return [{"code": e.code, "message": str(e.message), "field": f"{prefix}{e.field}"} for e in errors]


def invalid_error(error: AffiliateInvalid, *, prefix: str = "") -> ApiError:
    """The 422 of an affiliate the service refused: the first reason, and every reason in details."""
    details = _error_dicts(error.errors, prefix)
    first = details[0]
    return ApiError(
        code=first["code"],
        message=first["message"],
        field=first["field"],
        details=details,
        status_code=status.HTTP_422_UNPROCESSABLE_ENTITY,
    )


def _exists(error: AffiliateExists) -> ApiError:
    return ApiError(
        code="already_exists",
        message=_("An affiliate with this external id already exists (id %(id)s).")
        % {"id": error.affiliate_id},
        field="external_id",
        status_code=status.HTTP_409_CONFLICT,
    )


class UpsertResultSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    external_id = serializers.CharField()
    status = serializers.ChoiceField(choices=["accepted", "rejected"])
    code = serializers.CharField(allow_null=True)
    message = serializers.CharField(allow_null=True)
    field = serializers.CharField(allow_null=True)
    affiliate_id = serializers.IntegerField(allow_null=True)
    errors = serializers.ListField(child=serializers.DictField())


class BulkResultSerializer(serializers.Serializer):
    accepted = serializers.IntegerField()
    rejected = serializers.IntegerField()
    results = UpsertResultSerializer(many=True)


# --- documented examples ------------------------------------------------------------------------

AFFILIATE_EXAMPLE = {
    "id": 42,
    "external_id": "C-1001",
    "cpf": "52998224725",
    "name": "Maria da Silva",
    "email": "maria@example.com",
    "phone": "+5511987654321",
    "telegram_chat_id": "",
    "birth_date": "1990-05-17",
    "city": "São Paulo",
    "state": "SP",
    "plan": "Ouro",
    "plan_fee": "49.90",
    "origin": "site",
    "stage": "cash_in",
    "stage_changed_at": "2026-11-20T15:00:00Z",
    "tier": "Bronze",
    "total_cash_in": "150.00",
    "time_zone": "America/Sao_Paulo",
    "tags": ["vip"],
    "attributes": {},
    **{channel.consent_field: channel.code in {"email", "whatsapp"} for channel in CHANNELS},
    "created_at": "2026-11-01T12:00:00Z",
    "updated_at": "2026-11-20T15:00:00Z",
}
AFFILIATE_IN_EXAMPLE = {
    "external_id": "C-1001",
    "cpf": "529.982.247-25",
    "name": "maria da silva",
    "email": "Maria@Example.com",
    "phone": "(11) 98765-4321",
    "birth_date": "17/05/1990",
    "state": "SP",
    "tags": ["vip"],
    "attributes": {"course": "Investimentos"},
}


# --- views --------------------------------------------------------------------------------------


class AffiliateCursorPagination(ApiCursorPagination):
    max_page_size = 1000


class AffiliateCollectionView(ApiView):
    """GET lists (affiliates:read); POST creates one (affiliates:write)."""

    required_scopes = {"GET": [ApiScope.AFFILIATES_READ], "POST": [ApiScope.AFFILIATES_WRITE]}

    @extend_schema(
        operation_id="affiliates_list",
        summary="List affiliates (filters, cursor pagination ordered by id)",
        parameters=[AffiliateListQuerySerializer],
        responses={200: AffiliatePageSerializer, **ERROR_RESPONSES},
        examples=[
            OpenApiExample(
                "A page",
                value={
                    "next": "https://alpha.example.com/api/v1/affiliates/?cursor=cD0xMDA%3D",
                    "previous": None,
                    "results": [AFFILIATE_EXAMPLE],
                },
                response_only=True,
            )
        ],
    )
    def get(self, request: Request) -> Response:
        filters, lookups = _list_filters(request.query_params)
        queryset = affiliate_search(params=filters).filter(**lookups)
        paginator = AffiliateCursorPagination()
        page = paginator.paginate_queryset(queryset, request, view=self)
        return paginator.get_paginated_response(AffiliateSerializer(page, many=True).data)

    @extend_schema(
        operation_id="affiliates_create",
        summary="Create one affiliate (normalised; Idempotency-Key supported)",
        request=AffiliateCreateSerializer,
        parameters=[IDEMPOTENCY_HEADER],
        responses={
            201: AffiliateSerializer,
            409: OpenApiResponse(ErrorSerializer, description="already_exists: the external id is taken"),
            422: OpenApiResponse(
                ErrorSerializer,
                description="A value does not normalise (reason code, field), or idempotency_key_reused",
            ),
            **ERROR_RESPONSES,
        },
        examples=[
            OpenApiExample("A new affiliate", value=AFFILIATE_IN_EXAMPLE, request_only=True),
            OpenApiExample("Created", value=AFFILIATE_EXAMPLE, response_only=True, status_codes=["201"]),
            OpenApiExample(
                "Invalid CPF",
                value=error_body(code="cpf_invalid", message="invalid CPF", field="cpf"),
                response_only=True,
                status_codes=["422"],
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        return idempotent(request, self._create, on_error=self.handle_exception)

    def _create(self) -> Response:
        record, attributes = _record_parse(self.request.data, serializer=AffiliateCreateSerializer)
        try:
            affiliate = affiliate_create(record=record, attributes=attributes, source=self.event_source())
        except AffiliateInvalid as error:
            raise invalid_error(error) from None
        except AffiliateExists as error:
            raise _exists(error) from None
        return Response(AffiliateSerializer(affiliate).data, status=status.HTTP_201_CREATED)


class AffiliateItemView(ApiView):
    """GET reads (affiliates:read); PATCH changes the given fields (affiliates:write)."""

    required_scopes = {"GET": [ApiScope.AFFILIATES_READ], "PATCH": [ApiScope.AFFILIATES_WRITE]}

    @extend_schema(
        operation_id="affiliates_retrieve",
        summary="One affiliate by id",
        responses={200: AffiliateSerializer, 404: ErrorSerializer, **ERROR_RESPONSES},
        examples=[OpenApiExample("An affiliate", value=AFFILIATE_EXAMPLE, response_only=True)],
    )
    def get(self, request: Request, pk: int) -> Response:
        return Response(AffiliateSerializer(get_object_or_404(Affiliate, pk=pk)).data)

    @extend_schema(
        operation_id="affiliates_partial_update",
        summary="Change only the given fields (stage, tier, total_cash_in are read-only)",
        request=AffiliateWriteSerializer,
        responses={
            200: AffiliateSerializer,
            404: ErrorSerializer,
            409: OpenApiResponse(ErrorSerializer, description="already_exists: the new external id is taken"),
            422: OpenApiResponse(ErrorSerializer, description="A value does not normalise"),
            **ERROR_RESPONSES,
        },
        examples=[
            OpenApiExample(
                "New e-mail and plan", value={"email": "maria@example.org", "plan": "Ouro"}, request_only=True
            ),
            OpenApiExample("Updated", value=AFFILIATE_EXAMPLE, response_only=True, status_codes=["200"]),
            OpenApiExample(
                "Read-only field",
                value=error_body(code="read_only", message="“stage” cannot be written.", field="stage"),
                response_only=True,
                status_codes=["400"],
            ),
        ],
    )
    @transaction.atomic  # a request that fails commits nothing
    def patch(self, request: Request, pk: int) -> Response:
        affiliate = get_object_or_404(Affiliate, pk=pk)
        record, attributes = _record_parse(request.data)
        changes: dict[str, object] = dict(record)
        if attributes is not None:
            changes["attributes"] = attributes
        try:
            affiliate = affiliate_update(affiliate=affiliate, changes=changes, source=self.event_source())
        except AffiliateInvalid as error:
            raise invalid_error(error) from None
        except AffiliateExists as error:
            raise _exists(error) from None
        return Response(AffiliateSerializer(affiliate).data)


class AffiliateBulkView(ApiView):
    required_scopes = [ApiScope.AFFILIATES_WRITE]

    @extend_schema(
        operation_id="affiliates_bulk_upsert",
        summary="Insert or update up to 1,000 affiliates by external id (blank values never erase)",
        request={"application/json": list_of("AffiliateWrite", max_items=BULK_MAX_AFFILIATES)},
        parameters=[IDEMPOTENCY_HEADER],
        responses={200: BulkResultSerializer, **IDEMPOTENCY_RESPONSES, **ERROR_RESPONSES},
        examples=[
            OpenApiExample(
                "Two affiliates",
                value=[
                    AFFILIATE_IN_EXAMPLE,
                    {"external_id": "C-1002", "name": "João", "cpf": "111.111.111-11"},
                ],
                request_only=True,
            ),
            OpenApiExample(
                "Per-item results",
                value={
                    "accepted": 1,
                    "rejected": 1,
                    "results": [
                        {
                            "index": 0,
                            "external_id": "C-1001",
                            "status": "accepted",
                            "code": None,
                            "message": None,
                            "field": None,
                            "affiliate_id": 42,
                            "errors": [],
                        },
                        {
                            "index": 1,
                            "external_id": "C-1002",
                            "status": "rejected",
                            "code": "cpf_invalid",
                            "message": "invalid CPF",
                            "field": "cpf",
                            "affiliate_id": None,
                            "errors": [{"code": "cpf_invalid", "message": "invalid CPF", "field": "cpf"}],
                        },
                    ],
                },
                response_only=True,
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        return idempotent(request, self._upsert, on_error=self.handle_exception)

    def _upsert(self) -> Response:
        data = batch_items(
            self.request.data,
            limit=BULK_MAX_AFFILIATES,
            not_a_list=_("Expected a list of affiliates."),
            too_many=_("A request holds at most %(n)s affiliates."),
        )
        results: list[dict[str, Any] | None] = [None] * len(data)
        parsed: list[tuple[int, tuple[dict[str, object], dict[str, Any] | None]]] = []
        for index, raw in enumerate(data):
            try:
                parsed.append((index, _record_parse(raw)))
            except ValidationError as error:
                raw_id = raw.get("external_id") if isinstance(raw, dict) else None
                first = validation_error_body(error)["error"]
                detail = {"code": first["code"], "message": first["message"], "field": first["field"]}
                results[index] = {
                    "index": index,
                    "external_id": raw_id if isinstance(raw_id, str) else "",
                    "status": "rejected",
                    **detail,
                    "affiliate_id": None,
                    "errors": [detail],
                }
        outcomes = (
            affiliates_upsert(records=[item for _i, item in parsed], source=self.event_source())
            if parsed
            else []
        )
        for (index, _item), outcome in zip(parsed, outcomes, strict=True):
            errors = _error_dicts(outcome.errors)
            first_error = errors[0] if errors else {"code": None, "message": None, "field": None}
            results[index] = {
                "index": index,
                "external_id": outcome.external_id,
                "status": outcome.status,
                **first_error,
                "affiliate_id": outcome.affiliate_id,
                "errors": errors,
            }
        done = [result for result in results if result is not None]
        accepted = sum(1 for result in done if result["status"] == "accepted")
        return Response({"accepted": accepted, "rejected": len(done) - accepted, "results": done})
