"""Unsubscribing from e-mails by the link every campaign e-mail carries (RFC 8058 one-click):
the signed token names the UDN, the affiliate and the message; the opt-out goes to the consent
ledger (crm.services.consent) with source "unsubscribe"."""

from __future__ import annotations

from django.core import signing
from django.db import connection, transaction

from campaigns.templating import unsubscribe_token_read
from crm.models import Affiliate
from crm.services.consent import consent_change

SOURCE = "unsubscribe"
CHANNEL = "email"


class UnsubscribeInvalid(Exception):
    """The link was not made here (altered, of another UDN, or its affiliate no longer exists)."""


def unsubscribe_affiliate(*, token: str) -> Affiliate:
    """The affiliate a token of this UDN names; UnsubscribeInvalid otherwise."""
    try:
        target = unsubscribe_token_read(token)
    except signing.BadSignature:
        raise UnsubscribeInvalid from None
    if target.schema != connection.schema_name:  # type: ignore[attr-defined]
        raise UnsubscribeInvalid
    affiliate = Affiliate.objects.filter(pk=target.affiliate_id).first()
    if affiliate is None:
        raise UnsubscribeInvalid
    return affiliate


@transaction.atomic
def unsubscribe_apply(*, token: str) -> Affiliate:
    """Revoke the e-mail consent of the affiliate the token names (nothing new when it is already
    revoked: mail clients may POST twice)."""
    affiliate = unsubscribe_affiliate(token=token)
    target = unsubscribe_token_read(token)
    if getattr(affiliate, f"consent_{CHANNEL}"):
        proof = f"message {target.message_id}" if target.message_id else "unsubscribe link"
        consent_change(affiliate=affiliate, channel=CHANNEL, granted=False, source=SOURCE, proof=proof)
        affiliate.refresh_from_db()
    return affiliate
