"""Reads for the API (inside a UDN's schema)."""

from __future__ import annotations

from django.db import connection
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
    # Every API request runs this: one indexed row by its unique prefix, read with a fixed
    # statement instead of compiling an ORM query each time.
    with connection.cursor() as cursor:
        cursor.execute(_KEY_SQL, [parts[0]])
        row = cursor.fetchone()
    if row is None:
        return None
    api_key = ApiKey.from_db(connection.alias, _KEY_COLUMNS, row)
    if not api_key_matches(api_key=api_key, key=token):
        return None
    return api_key


_KEY_COLUMNS = [field.attname for field in ApiKey._meta.concrete_fields]
_KEY_SQL = (
    f"SELECT {', '.join(_KEY_COLUMNS)} FROM {ApiKey._meta.db_table}"  # noqa: S608 - model metadata only
    " WHERE prefix = %s AND revoked_at IS NULL"
)
