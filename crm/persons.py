"""One person across UDNs: the keyed hash of the normalised CPF, the only form in which a CPF
leaves a UDN's schema (the lake export's `cpf_hash` column, the cross-UDN contact-pressure
counters of campaigns.pressure). Defined once here, used by both.

The key is derived from SECRET_KEY, so every UDN of one installation hashes a CPF to the same
value (cross-UDN matching) and nobody without the key can reverse a hash by enumerating the
~10^9 possible CPFs.
"""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings

# Salt of the CPF hash key (changing it changes every hash already exported or counted).
CPF_HASH_SALT = "crm.cpf_hash"


def cpf_hash_key() -> bytes:
    """The HMAC key: SHA-256 of the salt and SECRET_KEY (what Django's salted_hmac derives)."""
    return hashlib.sha256((CPF_HASH_SALT + settings.SECRET_KEY).encode()).digest()


def cpf_hash(*, cpf: str) -> str:
    """The keyed hash of a normalised CPF (11 digits, as crm.normalize.cpf_normalize gives and
    Affiliate.cpf stores): HMAC-SHA256, hex, equal to Django's
    `salted_hmac(CPF_HASH_SALT, cpf, algorithm="sha256").hexdigest()`."""
    return hmac.new(cpf_hash_key(), cpf.encode(), hashlib.sha256).hexdigest()
