"""The cross-UDN contact-pressure budget: what all UDNs together send one person on a channel per
day and per week (rolling 7 days), counted in the public schema by the keyed hash of the person's
normalised CPF (crm.persons.cpf_hash), never the CPF.

A send takes a slot with `pressure_reserve` right before the provider is called: one atomic
statement (INSERT ... ON CONFLICT DO UPDATE ... WHERE count < budget RETURNING) on the person's
row for the day, so two UDNs' senders competing for the last slot cannot both win: the second
waits on the first's row lock and then sees the count at the budget. A send that then does not
leave (the provider refused it) gives its slot back with `pressure_release`.

Who wins a contended slot: each UDN's sender claims its due messages highest priority first
(campaigns.services.sender), so within a batch and across the batches of one UDN the higher
priority reserves first; across UDNs, whichever sender reserves first wins. The loser is never
dropped silently: it waits for the next day (São Paulo's day, when the counters turn over), or,
for a campaign message whose campaign's window ends before then, it is suppressed with
`pressure_budget` (see `pressure_next_try`).

Only channels with a `PressureBudget` are counted; a person without a CPF cannot be matched
across UDNs and has no shared budget (each UDN's own frequency caps still apply).
"""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime, time, timedelta

from django.db import connection
from django_tenants.utils import get_public_schema_name

from campaigns.pressure.models import ContactPressure, PressureBudget
from crm.models import Affiliate
from crm.persons import cpf_hash

# The day the counters count in: one zone for every UDN, so "a day" is the same for all.
PRESSURE_ZONE = zoneinfo.ZoneInfo("America/Sao_Paulo")
WEEK_DAYS = 7


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


def _table() -> str:
    q = connection.ops.quote_name
    return f"{q(get_public_schema_name())}.{q(ContactPressure._meta.db_table)}"


def pressure_reserve(*, person: str, budget: PressureBudget, now: datetime) -> bool:
    """Take one slot of `person`'s budget on `budget.channel` for the day of `now`; False when
    the day's or the rolling week's budget is spent. Atomic against every other sender."""
    day = pressure_day(now)
    table = _table()
    with connection.cursor() as cursor:
        # Earlier days of the week no longer change (only today's row is written), so their sum
        # read first cannot go stale; today's count is judged on the locked row itself.
        cursor.execute(
            f"SELECT COALESCE(SUM(count), 0) FROM {table}"  # noqa: S608 - a constant table name
            " WHERE person = %s AND channel = %s AND day > %s AND day < %s",
            [person, budget.channel, day - timedelta(days=WEEK_DAYS), day],
        )
        earlier = int(cursor.fetchone()[0])
        cursor.execute(
            f"""
            INSERT INTO {table} AS p (person, channel, day, count)
            SELECT %(person)s, %(channel)s, %(day)s, 1
            WHERE %(per_day)s >= 1 AND %(earlier)s + 1 <= %(per_week)s
            ON CONFLICT (person, channel, day) DO UPDATE SET count = p.count + 1
            WHERE p.count < %(per_day)s AND %(earlier)s + p.count < %(per_week)s
            RETURNING p.count
            """,  # noqa: S608 - a constant table name
            {
                "person": person,
                "channel": budget.channel,
                "day": day,
                "per_day": budget.per_day,
                "per_week": budget.per_week,
                "earlier": earlier,
            },
        )
        return cursor.fetchone() is not None


def pressure_release(*, person: str, channel: str, now: datetime) -> None:
    """Give back a slot taken by `pressure_reserve` for a send that did not leave."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {_table()} SET count = count - 1"  # noqa: S608 - a constant table name
            " WHERE person = %s AND channel = %s AND day = %s AND count > 0",
            [person, channel, pressure_day(now)],
        )


def pressure_next_try(*, now: datetime, window_ends: datetime | None) -> datetime | None:
    """When a message that found the budget spent tries again: the next counting day; None (it is
    suppressed with `pressure_budget`) when its window ends before then (a campaign's
    conversion window: a broadcast sent after it could no longer count toward its goal)."""
    next_day = pressure_next_day(now)
    if window_ends is not None and window_ends <= next_day:
        return None
    return next_day
