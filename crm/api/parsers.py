"""The API's JSON parser (msgspec): a size limit with a 413, NaN/Infinity and numbers beyond a
double refused, integers of any size kept exact, and a clean 400 for anything that is not JSON."""

from __future__ import annotations

from typing import IO, Any

import msgspec
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


_DECODER = msgspec.json.Decoder()


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
            return _DECODER.decode(raw)
        except msgspec.ValidationError:  # 1e400: valid syntax, but no number can hold it
            raise ApiError(
                code="malformed_json", message=_("The request body has a number out of range.")
            ) from None
        except (msgspec.DecodeError, RecursionError):
            raise ApiError(code="malformed_json", message=_("The request body is not valid JSON.")) from None
