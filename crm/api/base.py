"""The base every /api/v1/ endpoint stands on, whichever app it belongs to: `ApiView` (Bearer API
keys, per-method scopes, per-key throttling, the msgspec JSON parser and renderer, the body size
limit and the one error format), cursor pagination by id, the documented error responses, the
`Idempotency-Key` header, and the registry through which another app mounts its endpoints.

Another app (campaigns, loyalty, insights...) adds endpoints without the CRM importing it:

    # campaigns/api.py
    from rest_framework import serializers
    from rest_framework.request import Request
    from rest_framework.response import Response
    from drf_spectacular.utils import extend_schema

    from crm.api.base import ERROR_RESPONSES, IDEMPOTENCY_HEADER, ApiView, idempotent
    from crm.api.inputs import InputSerializer, TextField
    from campaigns.services import campaign_create

    class CampaignInSerializer(InputSerializer):  # the one validation, and the documentation
        name = TextField(max_length=100)

    class CampaignView(ApiView):
        required_scopes = {"POST": ["campaigns:write"]}

        @extend_schema(request=CampaignInSerializer, parameters=[IDEMPOTENCY_HEADER],
                       responses={201: CampaignSerializer, **ERROR_RESPONSES})
        def post(self, request: Request) -> Response:
            return idempotent(request, self._create, on_error=self.handle_exception)

        def _create(self) -> Response:
            data = CampaignInSerializer.parse(self.request.data)  # a 400 in the API's format
            return Response(..., status=201)

    # campaigns/api_urls.py
    urlpatterns = [path("", CampaignView.as_view(), name="api-campaign-list")]

    # campaigns/apps.py, in CampaignsConfig.ready()
    from crm.api.base import api_urls_register
    api_urls_register(prefix="campaigns/", urlconf="campaigns.api_urls")

crm/api/urls.py includes every registered urlconf under /api/v1/<prefix> (before its JSON 404
for unknown paths), so the endpoint is served on each UDN's host and published in the OpenAPI
schema at /api/v1/schema/ with the rest. A scope it needs must be one ApiKey can carry."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import exceptions
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from crm.api.auth import ApiKeyAuthentication, ApiKeyRateThrottle, HasScopes
from crm.api.errors import ApiError, api_exception_handler, error_body
from crm.api.idempotency import KEY_MAX_LENGTH, idempotent
from crm.api.parsers import ApiJSONParser, max_body_bytes, too_large
from crm.api.renderers import ApiJSONRenderer
from crm.api.serializers import ErrorSerializer
from crm.models import ApiKey

__all__ = [
    "ERROR_RESPONSES",
    "NOT_FOUND_RESPONSES",
    "IDEMPOTENCY_HEADER",
    "IDEMPOTENCY_RESPONSES",
    "ApiCursorPagination",
    "ApiError",
    "ApiNotFoundView",
    "ApiView",
    "api_urls_register",
    "batch_items",
    "error_body",
    "idempotent",
    "list_of",
    "registered_api_urls",
]


class ApiAutoSchema(AutoSchema):
    """drf-spectacular's, with a request body given as a schema (a batch's `list_of`) required,
    as the server requires it, and each operation's description ending with the scopes its key
    needs (read from the view's `required_scopes`, the list HasScopes checks: the documentation
    cannot drift from the check)."""

    def get_description(self) -> str:
        description = super().get_description() or ""
        required = getattr(self.view, "required_scopes", ())
        if isinstance(required, dict):
            required = required.get(self.method, ())
        if not required:
            return description
        scopes = ", ".join(f"`{scope}`" for scope in required)
        return f"{description}\n\nScope: {scopes}." if description else f"Scope: {scopes}."

    def _get_request_for_media_type(self, serializer: Any, direction: Any = "request") -> Any:
        schema, required = super()._get_request_for_media_type(serializer, direction)
        return schema, required or isinstance(serializer, dict)


class ApiView(APIView):
    """An endpoint of /api/v1/: set `required_scopes` (a list, or {"GET": [...], "POST": [...]})."""

    schema = ApiAutoSchema()

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
        """Who did it, as the services record it: the key (`api:<prefix>`), never a person."""
        return f"api:{self.api_key.prefix}"


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


# --- documented responses -----------------------------------------------------------------------

ERROR_RESPONSES = {
    400: OpenApiResponse(
        ErrorSerializer, description="Bad input (malformed JSON, wrong types, unknown fields)"
    ),
    401: OpenApiResponse(ErrorSerializer, description="Missing, invalid or revoked API key"),
    403: OpenApiResponse(ErrorSerializer, description="The key lacks the scope"),
    413: OpenApiResponse(ErrorSerializer, description="Body too large"),
    429: OpenApiResponse(ErrorSerializer, description="Throttled; see Retry-After"),
}
# An object named in the path that this UDN does not hold.
NOT_FOUND_RESPONSES = {404: OpenApiResponse(ErrorSerializer, description="Not found in this UDN")}
# Every POST takes an Idempotency-Key: still running (409) or reused with another body (422).
IDEMPOTENCY_RESPONSES = {
    409: OpenApiResponse(ErrorSerializer, description="idempotency_key_in_progress"),
    422: OpenApiResponse(ErrorSerializer, description="idempotency_key_reused"),
}
IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    {"type": "string", "minLength": 1, "maxLength": KEY_MAX_LENGTH, "pattern": r"\S"},
    location=OpenApiParameter.HEADER,
    required=False,
    description=(
        f"1 to {KEY_MAX_LENGTH} characters, not all blank: the first answer is kept 24 h and replayed "
        "for the same body; another body under the same key is a 422."
    ),
)


def list_of(component: str, *, max_items: int) -> dict[str, Any]:
    """The request body of a batch endpoint: a list of at most `max_items` items, each meant to
    be a `component` (one a single-item endpoint registers, e.g. "EventIn"). The server takes any
    item and answers one that is no `component` with a rejected result, never a 400 for the whole
    batch: the schema says so (`anyOf` the component or anything)."""
    return {
        "type": "array",
        "items": {
            "anyOf": [{"$ref": f"#/components/schemas/{component}"}, {}],
            "description": f"A {component}; anything else is a rejected item in the results.",
        },
        "maxItems": max_items,
    }


def batch_items(data: Any, *, limit: int, not_a_list: str, too_many: str) -> list[Any]:
    """The body of a batch endpoint: a JSON list of at most `limit` items, else a 400 saying which
    (`too_many` takes %(n)s)."""
    if not isinstance(data, list):
        raise ApiError(code="invalid", message=not_a_list)
    if len(data) > limit:
        raise ApiError(code="batch_too_large", message=too_many % {"n": limit})
    return data


# --- cursor pagination --------------------------------------------------------------------------

# Every API list pages by its integer id (a bigint): a cursor's position must be one.
_POSITION = re.compile(r"[0-9]{1,19}")
POSITION_MAX = 2**63 - 1


class ApiCursorPagination(CursorPagination):
    """Cursor pages of 100 (page_size up to max_page_size), ordered by id; a cursor that does not
    decode, or whose position is not an id (a hand-made or tampered one), is a 400 on the
    `cursor` field in the API's error format, not DRF's 404 nor a database error. `page_size` is
    validated by the list's query serializer (crm.api.inputs.PageQuerySerializer)."""

    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000
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


# --- endpoints of other apps --------------------------------------------------------------------


@dataclass(frozen=True)
class ApiUrls:
    prefix: str  # under /api/v1/, e.g. "campaigns/"
    urlconf: str  # a module with `urlpatterns`


_REGISTERED: list[ApiUrls] = []


def api_urls_register(*, prefix: str, urlconf: str) -> None:
    """Mount `urlconf` under /api/v1/<prefix>; an app calls this from its AppConfig.ready() (the
    CRM never imports the app). Registering the same pair twice is harmless."""
    entry = ApiUrls(prefix=prefix, urlconf=urlconf)
    if entry not in _REGISTERED:
        _REGISTERED.append(entry)


def registered_api_urls() -> tuple[ApiUrls, ...]:
    return tuple(_REGISTERED)
