"""The points ledger's writes besides earning: manual adjustments (with a reason and who, in the
audit log), FIFO expiry (a beat job) and the warning before it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.models import Affiliate
from crm.services.audit import audit_record
from loyalty.models import EntryKind, LedgerEntry
from loyalty.services.earning import programme_get

AFFILIATE_LOCK = 0x4C59_0002
AUDIT_ADJUSTED = "loyalty.adjusted"


class LoyaltyError(Exception):
    """A refused loyalty action, with the message people read (pt-BR through gettext)."""

    def __init__(self, message: str, *, code: str = "refused") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class LoyaltyInvalid(LoyaltyError):
    """Refused input: `errors` maps each field to what is wrong with it (pt-BR), so a form shows
    each message beside its field; "" keys are about the whole."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(" ".join(errors.values()), code="invalid")
        self.errors = errors


def affiliate_lock(*, affiliate_id: int) -> None:
    """Serialise writes to one affiliate's points (redemptions, adjustments) in this transaction."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [AFFILIATE_LOCK, affiliate_id])


def balance_of(*, affiliate_id: int) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT coalesce(sum(points), 0) FROM {LedgerEntry._meta.db_table} WHERE affiliate_id = %s",
            [affiliate_id],
        )
        return int(cursor.fetchone()[0])


@transaction.atomic
def points_adjust(*, affiliate: Affiliate, points: int, reason: str, by: str) -> LedgerEntry:
    """A manual credit or debit, with its reason; a credit is a lot that expires like an earn."""
    reason = (reason or "").strip()
    if not reason:
        raise LoyaltyError(_("An adjustment needs a reason."), code="reason_required")
    if points == 0:
        raise LoyaltyError(_("An adjustment must add or remove points."), code="invalid")
    affiliate_lock(affiliate_id=affiliate.pk)
    programme = programme_get()
    now = timezone.now()
    expires = None
    if points > 0 and programme is not None and programme.expiry_months:
        expires = now + timedelta(days=30 * programme.expiry_months)
    entry = LedgerEntry.objects.create(
        affiliate=affiliate,
        kind=EntryKind.ADJUST,
        points=points,
        occurred_at=now,
        expires_at=expires,
        reason=reason,
        created_by=by,
    )
    audit_record(
        action=AUDIT_ADJUSTED,
        target_type="affiliate",
        target_id=affiliate.pk,
        changes={"points": points, "reason": reason, "entry": entry.pk},
    )
    return entry


# FIFO: debits (redemptions, expiries, reversals, negative adjustments) use the oldest lots
# first, so by time T what must have expired is what the lots expiring by T hold beyond every
# debit so far: max(0, lots expiring by T - all debits). One INSERT ... SELECT for the UDN.
_EXPIRE_SQL = """
INSERT INTO {table} (affiliate_id, kind, points, occurred_at, reason, created_by, created_at)
SELECT affiliate_id, 'expire', debits - due, %(now)s, '', '', %(now)s
FROM (
    SELECT affiliate_id,
           coalesce(sum(points) FILTER (WHERE points > 0 AND expires_at <= %(now)s), 0) AS due,
           coalesce(-sum(points) FILTER (WHERE points < 0), 0) AS debits
    FROM {table}
    GROUP BY affiliate_id
) t
WHERE due > debits
"""


@transaction.atomic
def points_expire(*, now: datetime | None = None) -> int:
    """Write the expiries due by `now` (FIFO); returns how many affiliates lost points."""
    now = now or timezone.now()
    table = LedgerEntry._meta.db_table
    sql = _EXPIRE_SQL.format(table=table)
    with connection.cursor() as cursor:
        cursor.execute(sql, {"now": now})
        return cursor.rowcount


def points_expiring(*, now: datetime, within_days: int) -> list[tuple[int, int, datetime]]:
    """(affiliate_id, points, first expiry) that will expire by now + within_days if nothing is
    redeemed (what the warning tells)."""
    table = LedgerEntry._meta.db_table
    horizon = now + timedelta(days=within_days)
    sql = f"""
        SELECT affiliate_id, sum(points) FILTER (WHERE points > 0 AND expires_at <= %(h)s)
               + coalesce(sum(points) FILTER (WHERE points < 0), 0) AS expiring,
               min(expires_at) FILTER (WHERE points > 0 AND expires_at > %(now)s AND expires_at <= %(h)s)
        FROM {table} GROUP BY affiliate_id
        HAVING sum(points) FILTER (WHERE points > 0 AND expires_at <= %(h)s)
               + coalesce(sum(points) FILTER (WHERE points < 0), 0) > 0
           AND min(expires_at) FILTER (WHERE points > 0 AND expires_at > %(now)s AND expires_at <= %(h)s) IS NOT NULL"""
    with connection.cursor() as cursor:
        cursor.execute(sql, {"now": now, "h": horizon})
        return [(int(a), int(p), w) for a, p, w in cursor.fetchall()]


def expiry_warnings_send(*, now: datetime | None = None) -> int:
    """Message each affiliate whose points expire within the programme's warning days, through
    the programme's template (campaigns' outbox); none without a template."""
    from loyalty.services.notify import loyalty_message

    now = now or timezone.now()
    programme = programme_get()
    if programme is None or not programme.expiry_warning_template:
        return 0
    sent = 0
    for affiliate_id, points, when in points_expiring(now=now, within_days=programme.expiry_warning_days):
        variables: dict[str, Any] = {
            "pontos": points,
            "expira_em": timezone.localtime(when).strftime("%d/%m/%Y"),
        }
        if loyalty_message(
            affiliate_id=affiliate_id,
            template_code=programme.expiry_warning_template,
            variables=variables,
            dedupe=f"expiry:{when.date().isoformat()}",
        ):
            sent += 1
    return sent
