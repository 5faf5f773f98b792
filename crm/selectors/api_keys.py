"""API keys, read (inside a UDN's schema, where the key table lives): the admin's list and the
key a request presents. The key's format (`udn_<prefix>_<secret>`, only its SHA-256 stored) is
defined here too, as both the lookup and crm.services.api_keys (which mints keys) need it."""

from __future__ import annotations

import hashlib
import hmac

from django.db import connection
from django.db.models import QuerySet

from crm.models import ApiKey

KEY_PREFIX_LENGTH = 8


def api_key_hash(*, key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def api_key_split(*, key: str) -> tuple[str, str] | None:
    """`udn_<prefix>_<secret>` → (prefix, secret), or None when it is not shaped like a key."""
    head, sep, rest = key.partition("_")
    if head != "udn" or not sep:
        return None
    prefix, sep, secret = rest.partition("_")
    if not sep or len(prefix) != KEY_PREFIX_LENGTH or not secret:
        return None
    return prefix, secret


def api_key_matches(*, api_key: ApiKey, key: str) -> bool:
    """Constant-time comparison of the presented key's hash with the stored one."""
    return hmac.compare_digest(api_key.secret_hash, api_key_hash(key=key))


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
