"""Reads for the API (inside a UDN's schema)."""

from __future__ import annotations

from django.db.models import QuerySet

from crm.api.services import api_key_matches, api_key_split
from crm.models import ApiKey


def api_key_list() -> QuerySet[ApiKey]:
    return ApiKey.objects.order_by("revoked_at", "-created_at")


def api_key_for_token(*, token: str) -> ApiKey | None:
    """The active key `token` is, or None (malformed, unknown, wrong secret or revoked)."""
    parts = api_key_split(key=token)
    if parts is None:
        return None
    api_key = ApiKey.objects.filter(prefix=parts[0], revoked_at__isnull=True).first()
    if api_key is None or not api_key_matches(api_key=api_key, key=token):
        return None
    return api_key
