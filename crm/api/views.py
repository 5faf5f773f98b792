"""The partner REST API (v1) on a UDN's host. Views are thin: parse → one service/selector
call → respond. Auth, scopes, throttling, size limit and the error format come from ApiView."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from crm.api.auth import ApiKeyAuthentication, ApiKeyRateThrottle, HasScopes
from crm.api.contract import ContractError, contract_field, event_input_parse
from crm.api.errors import ApiError, api_exception_handler, error_body
from crm.api.idempotency import idempotent
from crm.api.parsers import ApiJSONParser, max_body_bytes, too_large
from crm.api.renderers import ApiJSONRenderer
from crm.api.serializers import (
    AffiliatePageSerializer,
    AffiliateSerializer,
    BatchResultSerializer,
    ErrorSerializer,
    EventInSerializer,
    EventResultSerializer,
)
from crm.models import Affiliate, ApiKey, ApiScope, Origin, Stage
from crm.selectors.affiliates import AffiliateFilters, affiliate_search
from crm.services.events import EventInput, EventOutcome, events_ingest

# A partner's batch; larger ones are split by the client (keeps one request's transaction short).
BATCH_MAX_EVENTS = 1000


class ApiView(APIView):
    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [HasScopes]
    throttle_classes = [ApiKeyRateThrottle]
    parser_classes = [ApiJSONParser]
    renderer_classes = [ApiJSONRenderer]
    required_scopes: list[str] | dict[str, list[str]] = []

    def get_exception_handler(self) -> Any:
        return api_exception_handler

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > max_body_bytes():
            raise too_large()
        for name, values in request.query_params.lists():
            if "\x00" in name or any("\x00" in value for value in values):
                raise ApiError(
                    code="invalid", message=_("Text must not contain NUL characters."), field=name or None
                )

    @property
    def api_key(self) -> ApiKey:
        assert isinstance(self.request.auth, ApiKey)
        return self.request.auth

    def event_source(self) -> str:
        return f"api:{self.api_key.prefix}"


ERROR_RESPONSES = {
    400: OpenApiResponse(
        ErrorSerializer, description="Bad input (malformed JSON, wrong types, unknown fields)"
    ),
    401: OpenApiResponse(ErrorSerializer, description="Missing, invalid or revoked API key"),
    403: OpenApiResponse(ErrorSerializer, description="The key lacks the scope"),
    413: OpenApiResponse(ErrorSerializer, description="Body too large"),
    429: OpenApiResponse(ErrorSerializer, description="Throttled; see Retry-After"),
}
# Every POST takes an Idempotency-Key: still running (409) or reused with another body (422).
IDEMPOTENCY_RESPONSES = {
    409: OpenApiResponse(ErrorSerializer, description="idempotency_key_in_progress"),
    422: OpenApiResponse(ErrorSerializer, description="idempotency_key_reused"),
}

# --- affiliates ---------------------------------------------------------------------------------


def batch_items(data: Any, *, limit: int, not_a_list: str, too_many: str) -> list[Any]:
    """The body of a batch endpoint: a JSON list of at most `limit` items, else a 400 saying which
    (`too_many` takes %(n)s)."""
    if not isinstance(data, list):
        raise ApiError(code="invalid", message=not_a_list)
    if len(data) > limit:
        raise ApiError(code="batch_too_large", message=too_many % {"n": limit})
    return data


# Every API list pages by its integer id (a bigint): a cursor's position must be one.
_POSITION = re.compile(r"[0-9]{1,19}")
POSITION_MAX = 2**63 - 1


class ApiCursorPagination(CursorPagination):
    """Cursor pages of 100 (page_size up to max_page_size), ordered by id; a cursor that does not
    decode, or whose position is not an id (a hand-made or tampered one), is a 400 on the
    `cursor` field in the API's error format, not DRF's 404 nor a database error."""

    page_size = 100
    page_size_query_param = "page_size"
    ordering = "id"

    def decode_cursor(self, request: Request) -> Any:
        try:
            cursor = super().decode_cursor(request)
        except exceptions.NotFound:
            cursor = False
        if cursor is False or (
            cursor is not None
            and cursor.position is not None
            and not (_POSITION.fullmatch(cursor.position) and int(cursor.position) <= POSITION_MAX)
        ):
            raise ApiError(code="invalid", message=_("Invalid cursor."), field="cursor")
        return cursor


class AffiliateCursorPagination(ApiCursorPagination):
    max_page_size = 1000


_NOT_DIGITS = re.compile(r"\D")
AFFILIATE_LIST_PARAMS = frozenset(
    {"q", "stage", "tier", "origin", "tag", "state", "external_id", "cpf", "cursor", "page_size"}
)


def _affiliate_list_filters(params: Any) -> tuple[AffiliateFilters, dict[str, str]]:
    for name in params:
        if name not in AFFILIATE_LIST_PARAMS:
            raise ApiError(
                code="unknown_field", message=_("Unknown parameter “%(name)s”.") % {"name": name}, field=name
            )
    stages = tuple(s for raw in params.getlist("stage") for s in raw.split(",") if s)
    for stage in stages:
        if stage not in Stage.values:
            raise ApiError(code="invalid", message=_("Unknown stage “%(v)s”.") % {"v": stage}, field="stage")
    origin = params.get("origin", "")
    if origin and origin not in Origin.values:
        raise ApiError(code="invalid", message=_("Unknown origin “%(v)s”.") % {"v": origin}, field="origin")
    lookups = {}
    if params.get("external_id"):
        lookups["external_id"] = params["external_id"]
    if params.get("cpf"):
        digits = _NOT_DIGITS.sub("", params["cpf"])
        if len(digits) != 11:
            raise ApiError(code="invalid", message=_("A CPF has 11 digits."), field="cpf")
        lookups["cpf"] = digits
    filters = AffiliateFilters(
        q=params.get("q", ""),
        stages=stages,
        tier=params.get("tier", ""),
        origin=origin,
        tag=params.get("tag", ""),
        state=params.get("state", ""),
    )
    return filters, lookups


_AFFILIATE_EXAMPLE = {
    "id": 42,
    "external_id": "C-1001",
    "cpf": "52998224725",
    "name": "Maria da Silva",
    "email": "maria@example.com",
    "phone": "+5511987654321",
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
    "consent_email": True,
    "consent_whatsapp": True,
    "consent_sms": False,
    "consent_push": False,
    "created_at": "2026-11-01T12:00:00Z",
    "updated_at": "2026-11-20T15:00:00Z",
}


class AffiliateListView(ApiView):
    required_scopes = [ApiScope.AFFILIATES_READ]

    @extend_schema(
        operation_id="affiliates_list",
        summary="List affiliates (filters, cursor pagination ordered by id)",
        parameters=[
            OpenApiParameter(
                "q", str, description="Free text: name, e-mail, external id, CPF or phone digits"
            ),
            OpenApiParameter("stage", str, description="Stage(s), comma-separated", enum=None),
            OpenApiParameter("tier", str),
            OpenApiParameter("origin", str, enum=Origin.values),
            OpenApiParameter("tag", str),
            OpenApiParameter("state", str, description="Two-letter state (UF)"),
            OpenApiParameter("external_id", str, description="Exact external id"),
            OpenApiParameter("cpf", str, description="Exact CPF (punctuation allowed)"),
            OpenApiParameter("page_size", int, description="1–1000, default 100"),
        ],
        responses={200: AffiliatePageSerializer, **ERROR_RESPONSES},
        examples=[
            OpenApiExample(
                "A page",
                value={
                    "next": "https://alpha.example.com/api/v1/affiliates/?cursor=cD0xMDA%3D",
                    "previous": None,
                    "results": [_AFFILIATE_EXAMPLE],
                },
                response_only=True,
            )
        ],
    )
    def get(self, request: Request) -> Response:
        filters, lookups = _affiliate_list_filters(request.query_params)
        queryset = affiliate_search(params=filters).filter(**lookups)
        paginator = AffiliateCursorPagination()
        page = paginator.paginate_queryset(queryset, request, view=self)
        return paginator.get_paginated_response(AffiliateSerializer(page, many=True).data)


class AffiliateDetailView(ApiView):
    required_scopes = [ApiScope.AFFILIATES_READ]

    @extend_schema(
        operation_id="affiliates_retrieve",
        summary="One affiliate by id",
        responses={200: AffiliateSerializer, 404: ErrorSerializer, **ERROR_RESPONSES},
        examples=[OpenApiExample("An affiliate", value=_AFFILIATE_EXAMPLE, response_only=True)],
    )
    def get(self, request: Request, pk: int) -> Response:
        return Response(AffiliateSerializer(get_object_or_404(Affiliate, pk=pk)).data)


# --- events -------------------------------------------------------------------------------------

_EVENT_EXAMPLE = {
    "id": "pay-2026-000123",
    "type": "cash_in",
    "occurred_at": "2026-11-20T12:00:00-03:00",
    "affiliate": {"external_id": "C-1001"},
    "properties": {"amount": "150.00"},
}


def _result(index: int | None, outcome: EventOutcome) -> dict[str, Any]:
    result: dict[str, Any] = {
        "id": outcome.event_id,
        "status": outcome.status,
        "code": outcome.code or None,
        "message": outcome.message or None,
        "field": contract_field(outcome.field),
        "affiliate_id": outcome.affiliate_id,
        "warnings": list(outcome.warnings),
    }
    if outcome.status == "accepted":
        result["code"] = result["message"] = result["field"] = None
    if index is not None:
        result = {"index": index, **result}
    return result


def _accepted_result(event_id: str) -> dict[str, Any]:
    """The documented result of an accepted event."""
    return {
        "id": event_id,
        "status": "accepted",
        "code": None,
        "message": None,
        "field": None,
        "affiliate_id": 42,
        "warnings": [],
    }


def accepted_example(event_id: str) -> OpenApiExample:
    """The documented 201 of an endpoint that records one event."""
    return OpenApiExample(
        "Accepted", value=_accepted_result(event_id), response_only=True, status_codes=["201"]
    )


def _same_path(field: str | None) -> str | None:
    return field


def event_response(
    outcome: EventOutcome, *, path: Callable[[str | None], str | None] = _same_path
) -> Response:
    """The answer to an endpoint that records one event: the error with a 422 when it was rejected,
    else its result (201 accepted, 200 already recorded). `path` renames the field paths of an
    endpoint whose body is not the event contract (the statuses)."""
    if outcome.status == "rejected":
        return Response(
            error_body(code=outcome.code, message=outcome.message, field=path(contract_field(outcome.field))),
            status=status.HTTP_422_UNPROCESSABLE_ENTITY,
        )
    result = _result(None, outcome)
    result["field"] = path(result["field"])
    code = status.HTTP_201_CREATED if outcome.status == "accepted" else status.HTTP_200_OK
    return Response(result, status=code)


class EventView(ApiView):
    required_scopes = [ApiScope.EVENTS_WRITE]

    @extend_schema(
        operation_id="events_create",
        summary="Record one event (idempotent by its id; Idempotency-Key supported)",
        request=EventInSerializer,
        parameters=[
            OpenApiParameter("Idempotency-Key", str, location=OpenApiParameter.HEADER, required=False)
        ],
        responses={
            201: OpenApiResponse(EventResultSerializer, description="Accepted"),
            200: OpenApiResponse(EventResultSerializer, description="Duplicate (already recorded)"),
            409: IDEMPOTENCY_RESPONSES[409],
            422: OpenApiResponse(
                ErrorSerializer,
                description="Rejected (unknown type, affiliate not found...) or idempotency_key_reused",
            ),
            **ERROR_RESPONSES,
        },
        examples=[
            OpenApiExample("A cash in", value=_EVENT_EXAMPLE, request_only=True),
            accepted_example("pay-2026-000123"),
        ],
    )
    def post(self, request: Request) -> Response:
        return idempotent(request, self._create, on_error=self.handle_exception)

    def _create(self) -> Response:
        try:
            item = event_input_parse(self.request.data)
        except ContractError as error:
            raise ApiError(code=error.code, message=error.message, field=error.field or None) from None
        return event_response(events_ingest(items=[item], source=self.event_source())[0])


class EventBatchView(ApiView):
    required_scopes = [ApiScope.EVENTS_WRITE]

    @extend_schema(
        operation_id="events_batch",
        summary="Record up to 1,000 events; per-item results, a bad item never rejects the good ones",
        request=EventInSerializer(many=True),
        parameters=[
            OpenApiParameter("Idempotency-Key", str, location=OpenApiParameter.HEADER, required=False)
        ],
        responses={200: BatchResultSerializer, **IDEMPOTENCY_RESPONSES, **ERROR_RESPONSES},
        examples=[
            OpenApiExample(
                "Two events",
                value=[
                    _EVENT_EXAMPLE,
                    {
                        **_EVENT_EXAMPLE,
                        "id": "app-77",
                        "type": "app_activated",
                        "affiliate": {"cpf": "529.982.247-25"},
                        "properties": {},
                    },
                ],
                request_only=True,
            ),
            OpenApiExample(
                "Per-item results",
                value={
                    "accepted": 1,
                    "duplicate": 0,
                    "rejected": 1,
                    "results": [
                        {"index": 0, **_accepted_result("pay-2026-000123")},
                        {
                            "index": 1,
                            "id": "app-77",
                            "status": "rejected",
                            "code": "affiliate_not_found",
                            "message": "No affiliate with this cpf.",
                            "field": "affiliate.cpf",
                            "affiliate_id": None,
                            "warnings": [],
                        },
                    ],
                },
                response_only=True,
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        return idempotent(request, self._create, on_error=self.handle_exception)

    def _create(self) -> Response:
        data = batch_items(
            self.request.data,
            limit=BATCH_MAX_EVENTS,
            not_a_list=_("Expected a list of events."),
            too_many=_("A batch holds at most %(n)s events."),
        )
        results: list[dict[str, Any] | None] = [None] * len(data)
        good: list[tuple[int, EventInput]] = []
        for index, raw in enumerate(data):
            try:
                good.append((index, event_input_parse(raw)))
            except ContractError as error:
                raw_id = raw.get("id") if isinstance(raw, dict) else None
                results[index] = {
                    "index": index,
                    "id": raw_id if isinstance(raw_id, str) else None,
                    "status": "rejected",
                    "code": error.code,
                    "message": error.message,
                    "field": error.field or None,
                    "affiliate_id": None,
                    "warnings": [],
                }
        outcomes = (
            events_ingest(items=[item for _i, item in good], source=self.event_source()) if good else []
        )
        for (index, _item), outcome in zip(good, outcomes, strict=True):
            results[index] = _result(index, outcome)
        done = [result for result in results if result is not None]
        counts = {"accepted": 0, "duplicate": 0, "rejected": 0}
        for result in done:
            counts[result["status"]] += 1
        return Response({**counts, "results": done})


class ApiNotFoundView(APIView):
    """Any other path under /api/v1/: a 404 in the API's error format, not an HTML page."""

    authentication_classes: list[Any] = []
    permission_classes: list[Any] = []
    renderer_classes = [ApiJSONRenderer]
    schema = None  # not an endpoint

    def get_exception_handler(self) -> Any:
        return api_exception_handler

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        raise exceptions.NotFound()

    def get(
        self, request: Request, *args: Any, **kwargs: Any
    ) -> Response:  # pragma: no cover - initial raises
        raise exceptions.NotFound()

    post = put = patch = delete = get
