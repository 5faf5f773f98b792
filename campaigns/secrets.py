"""Channel secrets (provider passwords, tokens, app secrets, service-account keys) encrypted at rest.

`ChannelConfig.secrets` holds one Fernet token (AES-128-CBC + HMAC-SHA256, from the `cryptography`
package) of a JSON object `{name: {"value": ..., "set_at": ISO time}}`. The key comes from the
environment (`CHANNEL_SECRETS_KEY`, several comma-separated to rotate: the first encrypts, any
decrypts); development and tests derive one from SECRET_KEY, production refuses to start without
one (crm/settings.py). Values are decrypted only to call the provider; pages show when a secret
was set, never its value.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.utils import timezone


class SecretsUnreadable(Exception):
    """The stored secrets were encrypted with a key this server does not have."""


@dataclass(frozen=True)
class StoredSecret:
    value: str
    set_at: datetime


def _derived_dev_key() -> bytes:
    """Development and tests only (settings refuse to start production without a key)."""
    digest = hashlib.sha256(f"channel-secrets:{settings.SECRET_KEY}".encode()).digest()
    return base64.urlsafe_b64encode(digest)


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    material = [key.encode() for key in keys] or [_derived_dev_key()]
    return MultiFernet([Fernet(key) for key in material])


def _cipher() -> MultiFernet:
    return _fernet(tuple(settings.CHANNEL_SECRETS_KEYS))


def secrets_decrypt(token: str) -> dict[str, StoredSecret]:
    """The secrets of a stored token ({} for none)."""
    if not token:
        return {}
    try:
        raw = _cipher().decrypt(token.encode())
    except InvalidToken:
        raise SecretsUnreadable("channel secrets were encrypted with another CHANNEL_SECRETS_KEY") from None
    return {
        name: StoredSecret(value=item["value"], set_at=datetime.fromisoformat(item["set_at"]))
        for name, item in json.loads(raw).items()
    }


def secrets_encrypt(secrets: dict[str, StoredSecret]) -> str:
    """The token to store for `secrets` ("" for none)."""
    if not secrets:
        return ""
    plain = {name: {"value": s.value, "set_at": s.set_at.isoformat()} for name, s in secrets.items()}
    return _cipher().encrypt(json.dumps(plain, sort_keys=True).encode()).decode()


def secrets_merge(token: str, *, changes: dict[str, str]) -> str:
    """`token` with `changes` applied: a non-empty value replaces (and dates) a secret, an empty one
    removes it; the others keep their value and date."""
    current = secrets_decrypt(token)
    now = timezone.now()
    for name, value in changes.items():
        if value:
            current[name] = StoredSecret(value=value, set_at=now)
        else:
            current.pop(name, None)
    return secrets_encrypt(current)
