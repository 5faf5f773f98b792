"""The API's JSON renderer: DRF's JSONRenderer output (compact UTF-8), written by msgspec.

A batch response carries 1,000 result objects; the standard library's encoder spent more time
on them than the rest of the response. Values msgspec does not know natively (lazy translations,
and whatever else DRF's encoder accepts) go through DRF's encoder."""

from __future__ import annotations

from typing import Any

import msgspec
from rest_framework.renderers import JSONRenderer
from rest_framework.utils.encoders import JSONEncoder

_FALLBACK = JSONEncoder()


def _enc_hook(value: Any) -> Any:
    return _FALLBACK.default(value)


# Decimals as strings, as DRF renders them (COERCE_DECIMAL_TO_STRING).
_ENCODER = msgspec.json.Encoder(enc_hook=_enc_hook, decimal_format="string")


class ApiJSONRenderer(JSONRenderer):
    def render(
        self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None
    ) -> bytes:
        if data is None:
            return b""
        return _ENCODER.encode(data)
