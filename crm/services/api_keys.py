"""API keys: created (shown once), revoked, and marked used. Runs inside a UDN's schema, where
the key table lives: a key opens its own UDN only. The key's format and lookup are
crm.selectors.api_keys'."""

from __future__ import annotations

import secrets
import string
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from crm.models import API_SCOPES_OFFERED, ApiKey, AuditAction, AuditTarget
from crm.selectors.api_keys import KEY_PREFIX_LENGTH, api_key_hash
from crm.services.audit import audit_record

# 32 random bytes: far beyond guessing, and the hash alone is useless to whoever reads the table.
KEY_SECRET_BYTES = 32
# last_used_at is informational: writing it on every request would put a row lock on the hot path.
LAST_USED_RESOLUTION = timedelta(minutes=1)
_PREFIX_ALPHABET = string.ascii_lowercase + string.digits


class ApiKeyError(ValueError):
    """A key cannot be created as asked (e.g. an unknown scope)."""


def _scopes_clean(scopes: list[str] | tuple[str, ...]) -> list[str]:
    cleaned = sorted({scope.strip() for scope in scopes if scope.strip()})
    unknown = [scope for scope in cleaned if scope not in API_SCOPES_OFFERED]
    if unknown:
        raise ApiKeyError(f"Unknown scopes: {', '.join(unknown)} (known: {', '.join(API_SCOPES_OFFERED)}).")
    if not cleaned:
        raise ApiKeyError("Give the key at least one scope.")
    return cleaned


@transaction.atomic
def api_key_create(*, name: str, scopes: list[str] | tuple[str, ...], created_by: str) -> tuple[ApiKey, str]:
    """A new key; returns the row and the plaintext key `udn_<prefix>_<secret>`, which is never
    stored and cannot be shown again."""
    clean_scopes = _scopes_clean(scopes)
    name = name.strip()
    if not name:
        raise ApiKeyError("Give the key a name.")
    for _attempt in range(5):  # a prefix collision is rare (36^8); retry with another one
        prefix = "".join(secrets.choice(_PREFIX_ALPHABET) for _ in range(KEY_PREFIX_LENGTH))
        key = f"udn_{prefix}_{secrets.token_urlsafe(KEY_SECRET_BYTES)}"
        try:
            with transaction.atomic():
                api_key = ApiKey.objects.create(
                    name=name[:100],
                    prefix=prefix,
                    secret_hash=api_key_hash(key=key),
                    scopes=clean_scopes,
                    created_by=created_by,
                )
        except IntegrityError:
            continue
        audit_record(
            action=AuditAction.API_KEY_CREATED,
            target_type=AuditTarget.API_KEY,
            target_id=api_key.pk,
            changes={"name": api_key.name, "prefix": prefix, "scopes": clean_scopes},
        )
        return api_key, key
    raise ApiKeyError("Could not pick a free key prefix; try again.")


@transaction.atomic
def api_key_revoke(*, key: ApiKey) -> ApiKey:
    """Revoke `key` at once (idempotent: a revoked key keeps its first revocation time)."""
    revoked = ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    key.refresh_from_db(fields=["revoked_at"])
    if revoked:
        audit_record(
            action=AuditAction.API_KEY_REVOKED,
            target_type=AuditTarget.API_KEY,
            target_id=key.pk,
            changes={"name": key.name, "prefix": key.prefix},
        )
    return key


def api_key_touch(*, key: ApiKey) -> None:
    """Record that `key` was used, at most once per LAST_USED_RESOLUTION (one conditional UPDATE)."""
    now = timezone.now()
    if key.last_used_at is not None and now - key.last_used_at < LAST_USED_RESOLUTION:
        return
    ApiKey.objects.filter(pk=key.pk).exclude(last_used_at__gt=now - LAST_USED_RESOLUTION).update(
        last_used_at=now
    )
    key.last_used_at = now
