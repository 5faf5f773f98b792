"""The cross-UDN contact-pressure budget: what all UDNs together send one person on a channel per
day and per week (rolling 7 days), counted in the public schema by the keyed hash of the person's
normalised CPF (crm.persons.cpf_hash), never the CPF.

A send takes a slot with `pressure_reserve` right before the provider is called, in one short
transaction that first locks the person's row for the day (`ContactPressure`, created if missing):
every sender of every UDN deciding about that person's day on that channel queues there, so two
cannot both take the last slot. A slot is a `PressureReservation` keyed by the message's idempotency
key (unique), and the day's count moves only with those rows: a message retried after its worker
died between the provider's answer and the record (the same key) finds its slot and counts once.
A send that then does not leave (the provider refused it) gives its slot back with
`pressure_release`.

Who wins the last slot (the issue: "the campaign with the higher priority wins"): each UDN's sender
claims its due messages highest priority first (campaigns.services.sender), but across UDNs that
alone would let whichever sender runs first win. So the last slot of a day is bid for: a sender
that would take it records a `PressureBid` (person, channel, day, its message's priority) and
its message waits `BID_WINDOW`, long enough for every UDN's sender to run at least once (they tick
every 10 s) and bid too. When it comes back the slot goes to the highest bid standing (the earliest
among equals); an outbid message waits until the winning bid is settled (`expires_at`), then finds
the budget spent like any other. A message of the top priority takes the last slot at once (no
bid can beat it) unless an earlier top-priority bid stands. A bid whose sender never came back
is forgotten at `expires_at` (BID_WINDOW + BID_GRACE, longer than a dead worker's claim lease).

The loser is never dropped silently: it waits for the next day (São Paulo's day, when the counters
turn over), or, for a campaign message whose campaign's window ends before then, it is suppressed
with `pressure_budget` (see `pressure_next_try`).

Only channels with a `PressureBudget` are counted; a person without a CPF cannot be matched
across UDNs and has no shared budget (each UDN's own frequency caps still apply).
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from django.db import connection, models, transaction
from django_tenants.utils import get_public_schema_name

from campaigns.pressure.models import ContactPressure, PressureBid, PressureBudget, PressureReservation
from crm.models import Affiliate
from crm.persons import cpf_hash

# The day the counters count in: one zone for every UDN, so "a day" is the same for all.
PRESSURE_ZONE = zoneinfo.ZoneInfo("America/Sao_Paulo")
WEEK_DAYS = 7
# How long a bid for a person's last slot stands before its sender may take the slot: more than
# the senders' beat (10 s per UDN) plus a batch, so every UDN with a message for that person due
# now has bid before the slot is given.
BID_WINDOW = timedelta(seconds=30)
# A bid is forgotten this long after it matured: more than a claim's lease (5 min), so the bid of a
# worker that died comes back with its message before it is forgotten.
BID_GRACE = timedelta(minutes=10)
# Messages' priorities run 1..10 (Campaign.priority; a test send is 10).
TOP_PRIORITY = 10


class PressureOutcome(StrEnum):
    TAKEN = "taken"  # the slot is the message's (now, or already: a retry)
    WAIT = "wait"  # try again at `until` (a bid stands, the message's or a higher one)
    SPENT = "spent"  # the budget of the day or the week is spent


@dataclass(frozen=True)
class PressureDecision:
    outcome: PressureOutcome
    until: datetime | None = None


def pressure_person(affiliate: Affiliate) -> str | None:
    """The person's keyed hash, or None without a CPF."""
    return cpf_hash(cpf=affiliate.cpf) if affiliate.cpf else None


def pressure_day(now: datetime) -> date:
    return now.astimezone(PRESSURE_ZONE).date()


def pressure_next_day(now: datetime) -> datetime:
    """When the next counting day begins (midnight in São Paulo)."""
    tomorrow = pressure_day(now) + timedelta(days=1)
    return datetime.combine(tomorrow, time(0, 0), tzinfo=PRESSURE_ZONE)


def pressure_budgets() -> dict[str, PressureBudget]:
    """The budgets by channel (the public schema's table, readable from any UDN)."""
    return {budget.channel: budget for budget in PressureBudget.objects.all()}


def _table(model: type[models.Model] = ContactPressure) -> str:
    q = connection.ops.quote_name
    return f"{q(get_public_schema_name())}.{q(model._meta.db_table)}"


def pressure_reserve(
    *, person: str, budget: PressureBudget, now: datetime, key: str, priority: int
) -> PressureDecision:
    """Take one slot of `person`'s budget on `budget.channel` for the day of `now` for the message
    whose idempotency key is `key` (at its `priority`): TAKEN (also when that message holds one
    already), WAIT until a time (the last slot is being bid for), or SPENT. Atomic against every
    other sender."""
    day = pressure_day(now)
    channel = budget.channel
    counts, slots, bids = _table(), _table(PressureReservation), _table(PressureBid)
    where: dict[str, Any] = {"person": person, "channel": channel, "day": day, "key": key, "now": now}
    # Table names are the models' (constants); every value is a parameter.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {counts} (person, channel, day, count) VALUES (%(person)s, %(channel)s, %(day)s, 0)"  # noqa: S608
            " ON CONFLICT (person, channel, day) DO NOTHING",
            where,
        )
        cursor.execute(
            f"SELECT count FROM {counts}"  # noqa: S608
            " WHERE person = %(person)s AND channel = %(channel)s AND day = %(day)s FOR UPDATE",
            where,
        )
        today = int(cursor.fetchone()[0])
        cursor.execute(f"SELECT 1 FROM {slots} WHERE key = %(key)s", where)  # noqa: S608
        if cursor.fetchone() is not None:
            return PressureDecision(PressureOutcome.TAKEN)  # a retry: its slot is counted already
        # Earlier days of the week no longer change (only today's row is written).
        cursor.execute(
            f"SELECT COALESCE(SUM(count), 0) FROM {counts}"  # noqa: S608
            " WHERE person = %(person)s AND channel = %(channel)s AND day > %(week)s AND day < %(day)s",
            {**where, "week": day - timedelta(days=WEEK_DAYS)},
        )
        earlier = int(cursor.fetchone()[0])
        left = min(budget.per_day - today, budget.per_week - earlier - today)
        cursor.execute(
            f"DELETE FROM {bids} WHERE person = %(person)s AND channel = %(channel)s"  # noqa: S608
            " AND (expires_at <= %(now)s OR day < %(day)s)",
            where,
        )
        cursor.execute(
            f"SELECT key::text, priority, matures_at, expires_at FROM {bids}"  # noqa: S608
            " WHERE person = %(person)s AND channel = %(channel)s AND day = %(day)s ORDER BY priority DESC, id",
            where,
        )
        standing = cursor.fetchall()
        mine = next((bid for bid in standing if bid[0] == key), None)
        if left <= 0:
            if mine is not None:
                cursor.execute(f"DELETE FROM {bids} WHERE key = %(key)s", where)  # noqa: S608
            return PressureDecision(PressureOutcome.SPENT)
        best = standing[0] if standing else None
        if left == 1:  # the last slot: bid for it
            if mine is None:
                if best is not None and best[1] >= priority:
                    return PressureDecision(PressureOutcome.WAIT, until=best[3])  # outbid
                if priority < TOP_PRIORITY:
                    matures = now + BID_WINDOW
                    cursor.execute(
                        f"INSERT INTO {bids} (key, person, channel, day, priority, matures_at, expires_at)"  # noqa: S608
                        " VALUES (%(key)s, %(person)s, %(channel)s, %(day)s, %(priority)s, %(matures)s, %(expires)s)",
                        {**where, "priority": priority, "matures": matures, "expires": matures + BID_GRACE},
                    )
                    return PressureDecision(PressureOutcome.WAIT, until=matures)
            elif best is not None and best[0] != key:
                cursor.execute(f"DELETE FROM {bids} WHERE key = %(key)s", where)  # noqa: S608
                return PressureDecision(PressureOutcome.WAIT, until=best[3])  # outbid meanwhile
            elif now < mine[2]:
                return PressureDecision(PressureOutcome.WAIT, until=mine[2])  # the window is open
        cursor.execute(
            f"INSERT INTO {slots} (key, person, channel, day) VALUES (%(key)s, %(person)s, %(channel)s, %(day)s)"  # noqa: S608
            " ON CONFLICT (key) DO NOTHING",
            where,
        )
        cursor.execute(
            f"UPDATE {counts} SET count = count + 1"  # noqa: S608
            " WHERE person = %(person)s AND channel = %(channel)s AND day = %(day)s",
            where,
        )
        cursor.execute(f"DELETE FROM {bids} WHERE key = %(key)s", where)  # noqa: S608
    return PressureDecision(PressureOutcome.TAKEN)


def pressure_release(*, key: str) -> None:
    """Give back the slot the message with idempotency key `key` took (a send that did not leave);
    nothing when it holds none."""
    slots = _table(PressureReservation)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {slots} WHERE key = %s RETURNING person, channel, day",  # noqa: S608
            [key],
        )
        row = cursor.fetchone()
        if row is not None:
            cursor.execute(
                f"UPDATE {_table()} SET count = count - 1"  # noqa: S608
                " WHERE person = %s AND channel = %s AND day = %s AND count > 0",
                list(row),
            )


def pressure_next_try(*, now: datetime, window_ends: datetime | None) -> datetime | None:
    """When a message that found the budget spent tries again: the next counting day; None (it is
    suppressed with `pressure_budget`) when its window ends before then (a campaign's
    conversion window: a broadcast sent after it could no longer count toward its goal)."""
    next_day = pressure_next_day(now)
    if window_ends is not None and window_ends <= next_day:
        return None
    return next_day
