"""Consent (LGPD): the append-only ledger of grants and opt-outs per channel, and the
affiliate's current state per channel, which always equals the newest ledger entry
(by when it happened; for the same instant, the one recorded last). Runs inside a UDN's schema.

Ledger rows are only ever appended here. An opt-out is written and applied in the same
transaction, so it holds from the moment it commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm import hooks
from crm.channels import CONSENT_FIELDS
from crm.hooks import ConsentChanged
from crm.models import Affiliate, AuditAction, AuditTarget, Channel, ConsentChange
from crm.normalize import MOMENT_MIN, moment_in_range
from crm.services.audit import audit_record

SOURCE_MAX = ConsentChange._meta.get_field("source").max_length or 60
# A consent a partner reports may come from a clock a little ahead of ours; one further ahead
# would hold back every change recorded before it.
FUTURE_TOLERANCE = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class ConsentInput:
    """One ledger entry for the bulk path."""

    affiliate_id: int
    channel: str
    granted: bool
    occurred_at: datetime
    source: str
    proof: str = ""


def _check(*, channel: str, source: str, occurred_at: datetime) -> None:
    if channel not in Channel.values:
        raise ValidationError({"channel": _("Unknown channel: %(channel)s.") % {"channel": channel}})
    if not source or len(source) > SOURCE_MAX:
        raise ValidationError(
            {"source": _("Say where the consent came from (up to %(n)s characters).") % {"n": SOURCE_MAX}}
        )
    if timezone.is_naive(occurred_at):
        raise ValidationError({"occurred_at": _("Give the time with a time zone.")})
    if not moment_in_range(occurred_at, latest=timezone.now() + FUTURE_TOLERANCE):
        raise ValidationError(
            {
                "occurred_at": _("Give a time between %(earliest)s and now.")
                % {"earliest": f"{MOMENT_MIN:%d/%m/%Y}"}
            }
        )


@transaction.atomic
def consent_change(
    *,
    affiliate: Affiliate,
    channel: str,
    granted: bool,
    source: str,
    proof: str = "",
    occurred_at: datetime | None = None,
) -> ConsentChange:
    """Append a grant or an opt-out to the ledger and apply it to the affiliate's current state,
    unless the ledger already holds a newer change for that channel (a late-arriving old change
    is kept as history but does not override the newer one)."""
    occurred_at = occurred_at or timezone.now()
    _check(channel=channel, source=source, occurred_at=occurred_at)
    # Serialise changes of one affiliate, so two concurrent ones cannot both think they are newest.
    list(Affiliate.objects.select_for_update(no_key=True).filter(pk=affiliate.pk).values_list("pk"))
    newer_exists = ConsentChange.objects.filter(
        affiliate_id=affiliate.pk, channel=channel, occurred_at__gt=occurred_at
    ).exists()
    # The ledger row points at its audit entry: who recorded the consent, from where (LGPD proof).
    audit = audit_record(
        action=AuditAction.CONSENT_GRANTED if granted else AuditAction.CONSENT_REVOKED,
        target_type=AuditTarget.AFFILIATE,
        target_id=affiliate.pk,
        changes={
            "channel": channel,
            "granted": granted,
            "occurred_at": occurred_at,
            "source": source,
            "proof": proof,
            "applied": not newer_exists,
        },
    )
    entry = ConsentChange.objects.create(
        audit_entry=audit,
        affiliate_id=affiliate.pk,
        channel=channel,
        granted=granted,
        occurred_at=occurred_at,
        source=source,
        proof=proof,
    )
    if not newer_exists:
        column = CONSENT_FIELDS[channel]
        Affiliate.objects.filter(pk=affiliate.pk).update(**{column: granted, "updated_at": timezone.now()})
        setattr(affiliate, column, granted)
        hooks.consent_changed.send(
            [
                ConsentChanged(
                    affiliate_id=affiliate.pk,
                    channel=channel,
                    granted=granted,
                    occurred_at=occurred_at,
                    source=source,
                )
            ]
        )
    return entry


def _state_refresh(affiliate_ids: Sequence[int]) -> int:
    """Set each affiliate's consent_<channel> to its newest ledger entry; returns rows changed."""
    aff = connection.ops.quote_name(Affiliate._meta.db_table)
    ledger = connection.ops.quote_name(ConsentChange._meta.db_table)
    pivots = ",\n".join(
        f"bool_or(granted) FILTER (WHERE channel = '{channel}') AS {column}"
        for channel, column in CONSENT_FIELDS.items()
    )
    assignments = ", ".join(
        f"{column} = coalesce(p.{column}, a.{column})" for column in CONSENT_FIELDS.values()
    )
    current = ", ".join(f"a.{column}" for column in CONSENT_FIELDS.values())
    wanted = ", ".join(f"coalesce(p.{column}, a.{column})" for column in CONSENT_FIELDS.values())
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH latest AS (
                SELECT DISTINCT ON (affiliate_id, channel) affiliate_id, channel, granted
                FROM {ledger} WHERE affiliate_id = ANY(%s)
                ORDER BY affiliate_id, channel, occurred_at DESC, id DESC
            ),
            p AS (SELECT affiliate_id, {pivots} FROM latest GROUP BY affiliate_id)
            UPDATE {aff} a SET {assignments}, updated_at = now()
            FROM p WHERE a.id = p.affiliate_id AND ({current}) IS DISTINCT FROM ({wanted})
            """,  # noqa: S608
            [list(affiliate_ids)],
        )
        return cursor.rowcount


@transaction.atomic
def consent_bulk_record(*, entries: Sequence[ConsentInput]) -> int:
    """Append many ledger entries at once (COPY) and bring the current state of the affiliates
    concerned in line with their newest entries. Returns the number of entries written."""
    if not entries:
        return 0
    for entry in entries:
        _check(channel=entry.channel, source=entry.source, occurred_at=entry.occurred_at)
    ids = sorted({entry.affiliate_id for entry in entries})
    aff = connection.ops.quote_name(Affiliate._meta.db_table)
    ledger = connection.ops.quote_name(ConsentChange._meta.db_table)
    recorded_at = timezone.now()
    # One audit entry for the batch; every row of it points there (a constant column of the COPY).
    audit = audit_record(
        action=AuditAction.CONSENT_BULK_RECORDED,
        target_type=AuditTarget.AFFILIATE,
        target_id=ids[0] if len(ids) == 1 else "",
        changes={
            "entries": len(entries),
            "affiliates": len(ids),
            "granted": sum(entry.granted for entry in entries),
            "revoked": sum(not entry.granted for entry in entries),
            "channels": sorted({entry.channel for entry in entries}),
            "sources": sorted({entry.source for entry in entries}),
        },
    )
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id FROM {aff} WHERE id = ANY(%s) ORDER BY id FOR NO KEY UPDATE", [ids])  # noqa: S608
        columns = "affiliate_id, channel, granted, occurred_at, source, proof, recorded_at, audit_entry_id"
        with cursor.copy(f"COPY {ledger} ({columns}) FROM STDIN") as copy:
            for entry in entries:
                copy.write_row(
                    (
                        entry.affiliate_id,
                        entry.channel,
                        entry.granted,
                        entry.occurred_at,
                        entry.source,
                        entry.proof,
                        recorded_at,
                        audit.pk,
                    )
                )
    _state_refresh(ids)
    hooks.consent_changed.send(_newest_of_batch(ids, recorded_at=recorded_at))
    return len(entries)


def _newest_of_batch(affiliate_ids: Sequence[int], *, recorded_at: datetime) -> list[ConsentChanged]:
    """The entries of the batch written at `recorded_at` that are now their channel's newest."""
    ledger = connection.ops.quote_name(ConsentChange._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT affiliate_id, channel, granted, occurred_at, source FROM (
                SELECT DISTINCT ON (affiliate_id, channel) affiliate_id, channel, granted, occurred_at,
                       source, recorded_at
                FROM {ledger} WHERE affiliate_id = ANY(%s)
                ORDER BY affiliate_id, channel, occurred_at DESC, id DESC
            ) newest WHERE recorded_at = %s
            """,  # noqa: S608 - constant table name
            [list(affiliate_ids), recorded_at],
        )
        return [ConsentChanged(*row) for row in cursor.fetchall()]


def consent_bulk_grant(
    *,
    affiliate_ids: Sequence[int],
    channels: Sequence[str],
    source: str,
    proof: str = "",
    occurred_at: datetime | None = None,
) -> int:
    """Grant `channels` to every affiliate in `affiliate_ids` (imports, demo): one ledger entry
    per affiliate and channel. Returns the number of entries written."""
    occurred_at = occurred_at or timezone.now()
    return consent_bulk_record(
        entries=[
            ConsentInput(
                affiliate_id=pk,
                channel=channel,
                granted=True,
                occurred_at=occurred_at,
                source=source,
                proof=proof,
            )
            for pk in affiliate_ids
            for channel in channels
        ]
    )
