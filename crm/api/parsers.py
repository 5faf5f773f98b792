"""The API's JSON parser: a size limit with a 413, NaN/Infinity refused, and a clean 400 for
anything that is not JSON."""

from __future__ import annotations

import json
from typing import IO, Any

from django.conf import settings
from django.utils.translation import gettext as _
from rest_framework import status
from rest_framework.parsers import BaseParser

from crm.api.errors import ApiError

# Default body limit of the API (API_MAX_BODY_BYTES overrides). A batch of 1,000 events is
# about 0.3 MB, so 5 MB leaves room without letting one request hog a worker's memory.
DEFAULT_MAX_BODY_BYTES = 5 * 1024 * 1024


def max_body_bytes() -> int:
    return int(getattr(settings, "API_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES))


def too_large() -> ApiError:
    limit = max_body_bytes()
    return ApiError(
        code="payload_too_large",
        message=_("The request body is larger than %(n)s bytes.") % {"n": limit},
        status_code=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    )


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


class ApiJSONParser(BaseParser):
    media_type = "application/json"

    def parse(
        self, stream: IO[bytes] | None, media_type: str | None = None, parser_context: Any = None
    ) -> Any:
        if stream is None:
            return None
        limit = max_body_bytes()
        raw = stream.read(limit + 1)
        if len(raw) > limit:
            raise too_large()
        try:
            return json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise ApiError(code="malformed_json", message=_("The request body is not valid JSON.")) from None
