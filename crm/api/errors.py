"""One error format for the whole API:

    {"error": {"code": "...", "message": "...", "field": "path.to.field" | null, "details": [...]}}

`code` is stable (partners branch on it), `message` follows Accept-Language (LocaleMiddleware
has activated it; msgids are English), `field` is the path of the offending value."""

from __future__ import annotations

import logging
import math
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

logger = logging.getLogger(__name__)

API_PREFIX = "/api/"


class ApiError(exceptions.APIException):
    """An error with our code, message and field path."""

    status_code = status.HTTP_400_BAD_REQUEST

    def __init__(
        self,
        *,
        code: str,
        message: str,
        field: str | None = None,
        status_code: int = status.HTTP_400_BAD_REQUEST,
        details: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(detail=message, code=code)
        self.code, self.message, self.field = code, message, field
        self.status_code = status_code
        self.details = details or []


def error_body(
    *, code: str, message: str, field: str | None = None, details: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    return {"error": {"code": code, "message": str(message), "field": field, "details": details or []}}


def _validation_details(detail: Any, path: str = "") -> list[dict[str, Any]]:
    """DRF's nested ValidationError detail → flat [{"code", "message", "field"}]."""
    if isinstance(detail, dict):
        out: list[dict[str, Any]] = []
        for key, value in detail.items():
            # A list's item (ListField) is events[0], as the batches say.
            sub = f"{path}[{key}]" if isinstance(key, int) else (f"{path}.{key}" if path else str(key))
            out.extend(_validation_details(value, "" if key == "non_field_errors" else sub))
        return out
    if isinstance(detail, list):
        if all(isinstance(item, exceptions.ErrorDetail) for item in detail):
            return [
                {"code": item.code or "invalid", "message": str(item), "field": path or None}
                for item in detail
            ]
        out = []
        for index, item in enumerate(detail):
            out.extend(_validation_details(item, f"{path}[{index}]"))
        return out
    code = getattr(detail, "code", None) or "invalid"
    return [{"code": code, "message": str(detail), "field": path or None}]


def validation_error_body(error: exceptions.ValidationError) -> dict[str, Any]:
    """A serializer's errors in the one format: the first as the error, all of them in details."""
    details = _validation_details(error.detail)
    first: dict[str, Any] = (
        details[0] if details else {"code": "invalid", "message": _("Invalid input."), "field": None}
    )
    return error_body(code=first["code"], message=first["message"], field=first["field"], details=details)


def _server_error_body() -> dict[str, Any]:
    return error_body(code="server_error", message=_("Something went wrong on our side; try again later."))


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """DRF's EXCEPTION_HANDLER: every API error in the one format. A bug (any other exception) is
    logged with its traceback and answered with a 500 `server_error` that carries none of it."""
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if not isinstance(exc, exceptions.APIException):
        request = context.get("request")
        logger.error(
            "Unhandled API error: %s %s",
            getattr(request, "method", "?"),
            getattr(request, "path", "?"),
            exc_info=(type(exc), exc, exc.__traceback__),
        )
        set_rollback()
        return Response(_server_error_body(), status=status.HTTP_500_INTERNAL_SERVER_ERROR)

    headers: dict[str, str] = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header  # type: ignore[attr-defined]
    if getattr(exc, "wait", None) is not None:
        headers["Retry-After"] = str(max(1, math.ceil(exc.wait)))  # type: ignore[attr-defined]

    if isinstance(exc, ApiError):
        body = error_body(code=exc.code, message=exc.message, field=exc.field, details=exc.details)
    elif isinstance(exc, exceptions.ValidationError):
        body = validation_error_body(exc)
    elif isinstance(exc, exceptions.ParseError):
        body = error_body(code="malformed_json", message=_("The request body is not valid JSON."))
    else:
        # DRF's codes (not_authenticated, permission_denied, throttled...) and messages (DRF
        # ships their pt_BR translations); a view may raise with a code of its own.
        codes = exc.get_codes()
        body = error_body(code=codes if isinstance(codes, str) else "error", message=str(exc.detail))
    set_rollback()
    return Response(body, status=exc.status_code, headers=headers)


# --- Django's own error pages (urls_tenant / urls_public handler404, handler500...) ----------------
# Under /api/ they answer in the API's format too: a path no route takes, or a failure before or
# after DRF (a middleware, the host lookup), must not hand a partner an HTML page.


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return JsonResponse(error_body(code="bad_request", message=_("Invalid input.")), status=400)
    return defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        body = error_body(code="permission_denied", message=exceptions.PermissionDenied.default_detail)
        return JsonResponse(body, status=403)
    return defaults.permission_denied(request, exception)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return JsonResponse(
            error_body(code="not_found", message=exceptions.NotFound.default_detail), status=404
        )
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        return JsonResponse(_server_error_body(), status=500)
    return defaults.server_error(request)
