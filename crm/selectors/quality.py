"""Data-quality figures of a UDN's base: how they are computed (SQL over the affiliates), the
state of a computation under way, the stored daily snapshots and what fell between two of them.

Runs inside the current UDN's schema. The page that shows them is crm.selectors.quality_dashboard;
the shared space's side-by-side view, crm.selectors.quality_overview.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.utils import timezone

from crm.brazil import CPF_LENGTH, MOBILE_E164_PATTERN, cpf_check_digit
from crm.channels import CHANNEL_CODES
from crm.fields import MEASURED_FIELDS
from crm.models import Affiliate, Event, QualitySnapshot

#: Standard fields whose completeness is measured, in display order (crm.fields).
QUALITY_FIELDS: tuple[str, ...] = MEASURED_FIELDS
#: The fields the score is built on.
KEY_FIELDS: tuple[str, ...] = ("cpf", "name", "phone", "email")
CONSENT_CHANNELS: tuple[str, ...] = CHANNEL_CODES
INVALID_FIELDS: tuple[str, ...] = ("cpf", "phone", "email", "birth_date")
#: A record neither changed nor saw an event in this many days is stale.
STALE_DAYS = 180
#: Computing the figures reads the whole base (11-14 s a million affiliates), so the page never
#: does it: it shows the newest stored snapshot, and queues a computation when that one is older
#: than this (the nightly run keeps it within a day) or missing.
FIGURES_MAX_AGE = timedelta(hours=24)
#: Whether a computation is queued or running (per UDN: keys carry the schema, see settings.CACHES):
#: {"queued_at": datetime | None, "started_at": datetime | None}. It lapses after the lease, so a
#: worker that died never leaves the page "em cálculo" for good.
COMPUTING_CACHE_KEY = "quality:computing"
COMPUTING_LEASE_SECONDS = 15 * 60
#: Snapshots drawn in the trend chart (a quarter of nightly snapshots).
TREND_SNAPSHOTS = 90
FIGURES_VERSION = 1

# A Brazilian mobile in E.164: +55, a real area code (DDD), then 9 and eight digits (crm.brazil's rule).
PHONE_MOBILE_BR_RE = MOBILE_E164_PATTERN
# local@domain.tld: no spaces, one @, non-empty dot-separated labels, a TLD of 2+ characters.
EMAIL_SHAPE_RE = r"^[^@[:space:]]+@([^@[:space:].]+\.)+[^@[:space:].]{2,}$"
BIRTH_DATE_FLOOR = date(1900, 1, 1)


class _SqlInt:
    """An integer SQL expression that `+`, `*` and `%` combine into larger ones, so that
    crm.brazil.cpf_check_digit writes its own SQL. `%` becomes mod(): psycopg reads a literal
    percent sign as a placeholder."""

    def __init__(self, sql: str) -> None:
        self.sql = sql

    def __add__(self, other: _SqlInt) -> _SqlInt:
        return _SqlInt(f"{self.sql} + {other.sql}")

    def __mul__(self, other: int) -> _SqlInt:
        return _SqlInt(f"({self.sql}) * {other}")

    def __mod__(self, other: int) -> _SqlInt:
        return _SqlInt(f"mod({self.sql}, {other})")


def _digit(position: int) -> _SqlInt:
    """The CPF's digit at 1-based `position` as an integer expression (ascii() never errors)."""
    return _SqlInt(f"(ascii(substr(a.cpf, {position}, 1)) - 48)")


def _check_digit(count: int) -> str:
    """CPF check digit over the first `count` digits, as crm.brazil computes it."""
    check: _SqlInt = cpf_check_digit([_digit(i) for i in range(1, count + 1)])
    return check.sql


# Valid CPF: 11 digits, not one digit repeated, both check digits right (crm.brazil.cpf_valid).
# (The database already holds only 11 digits or blank; the shape test costs nothing and keeps
# this honest.)
CPF_VALID_SQL = (
    f"(a.cpf ~ '^[0-9]{{{CPF_LENGTH}}}$' AND a.cpf <> repeat(left(a.cpf, 1), {CPF_LENGTH})"
    f" AND {_check_digit(9)} = {_digit(10).sql} AND {_check_digit(10)} = {_digit(11).sql})"
)

AFFILIATE_TABLE = Affiliate._meta.db_table
EVENT_TABLE = Event._meta.db_table

_FILLED_SQL: dict[str, str] = {name: f"btrim(a.{name}) <> ''" for name in QUALITY_FIELDS}
_FILLED_SQL["birth_date"] = "a.birth_date IS NOT NULL"

# One pass over the affiliates: completeness, invalid values, consent.
# (psycopg's %(name)s placeholders: no literal percent signs in here.)
_BASE_SQL = (
    "SELECT count(*) AS total, "  # noqa: S608 - table names from the models; values are parameters
    + ", ".join(f"count(*) FILTER (WHERE {_FILLED_SQL[name]}) AS filled_{name}" for name in QUALITY_FIELDS)
    + f", count(*) FILTER (WHERE a.cpf <> '' AND NOT {CPF_VALID_SQL}) AS invalid_cpf"
    ", count(*) FILTER (WHERE a.phone <> '' AND a.phone !~ %(phone_re)s) AS invalid_phone"
    ", count(*) FILTER (WHERE btrim(a.email) <> '' AND a.email !~* %(email_re)s) AS invalid_email"
    ", count(*) FILTER (WHERE a.birth_date > %(today)s OR a.birth_date < %(floor)s) AS invalid_birth_date, "
    + ", ".join(f"count(*) FILTER (WHERE a.consent_{ch}) AS consent_{ch}" for ch in CONSENT_CHANNELS)
    + f" FROM {AFFILIATE_TABLE} a"
)

# Apart from the pass above so that one stays parallel-safe (no correlated subplan):
# the updated_at index finds the rows not updated lately, and only those probe the
# (affiliate, occurred_at) index of the events.
_STALE_SQL = (
    "SELECT count(*) AS not_updated, count(*) FILTER (WHERE NOT EXISTS ("  # noqa: S608 - as above
    f"   SELECT 1 FROM {EVENT_TABLE} e WHERE e.affiliate_id = a.id AND e.occurred_at >= %(cutoff)s)) AS stale"
    f" FROM {AFFILIATE_TABLE} a WHERE a.updated_at < %(cutoff)s"
)

# Both duplicate counts from the (cpf) and (phone) indexes, in one statement.
_DUPLICATES_SQL = (
    "WITH cpf_groups AS ("  # noqa: S608 - as above
    f"   SELECT count(*) AS n FROM {AFFILIATE_TABLE} WHERE cpf <> '' GROUP BY cpf HAVING count(*) > 1),"
    " phone_groups AS ("
    f"   SELECT count(*) AS n FROM {AFFILIATE_TABLE} WHERE phone <> '' GROUP BY phone HAVING count(*) > 1)"
    " SELECT (SELECT count(*) FROM cpf_groups), (SELECT coalesce(sum(n), 0) FROM cpf_groups),"
    " (SELECT count(*) FROM phone_groups), (SELECT coalesce(sum(n), 0) FROM phone_groups)"
)


def udn_time_zone() -> zoneinfo.ZoneInfo:
    """The current UDN's time zone (the site's when the connection has no real UDN)."""
    name = getattr(getattr(connection, "tenant", None), "time_zone", None) or settings.TIME_ZONE
    return zoneinfo.ZoneInfo(name)


def udn_today() -> date:
    return timezone.localdate(timezone=udn_time_zone())


def _pct(count: int, total: int) -> float | None:
    return round(100.0 * count / total, 1) if total else None


def quality_figures() -> dict[str, Any]:
    """The data-quality figures of the current UDN's base, by SQL (three statements: one
    pass over the affiliates, the stale rows by index, the duplicates by index).

    JSON-ready (it is what a QualitySnapshot stores). Percentages have one decimal
    and are None when the base is empty.

    - ``total``: affiliates.
    - ``completeness`` / ``filled``: % and count of affiliates with a non-blank value, per
      standard field (whitespace-only text counts as blank).
    - ``invalid``: stored values that fail the format: ``cpf`` (not 11 digits, one repeated
      digit, or wrong check digits), ``phone`` (not a Brazilian mobile in E.164: +55, a real
      area code, 9 and eight digits), ``email`` (not ``local@domain.tld``), ``birth_date`` (in
      the future in the UDN's time zone, or before 1900).
    - ``duplicates``: affiliates sharing their CPF / phone with at least one other
      (``cpf_affiliates``, ``phone_affiliates``) and how many such groups there are.
    - ``consent``: % of affiliates with consent on each channel.
    - ``stale``: ``not_updated``: not updated in STALE_DAYS days; ``stale``: not updated
      and without any event in STALE_DAYS days either.
    - ``score`` (0-100): the average completeness of the key fields (cpf, name, phone,
      email), minus two penalties, clamped to 0..100:
        * invalid values: 100 × (invalid cpf + phone + email + birth date values) / total,
          so a wrong value costs like a missing one, or more;
        * duplicates: 50 × (affiliates sharing a CPF + affiliates sharing a phone) / total
          (half weight: family members may share a phone legitimately).
      The penalties are kept in ``penalties``.
    """
    now = timezone.now()
    today = udn_today()
    params: dict[str, Any] = {
        "phone_re": PHONE_MOBILE_BR_RE,
        "email_re": EMAIL_SHAPE_RE,
        "today": today,
        "floor": BIRTH_DATE_FLOOR,
    }
    with connection.cursor() as cursor:
        cursor.execute(_BASE_SQL, params)
        columns = [col[0] for col in cursor.description]
        base = dict(zip(columns, cursor.fetchone(), strict=True))
        cursor.execute(_STALE_SQL, {"cutoff": now - timedelta(days=STALE_DAYS)})
        not_updated, stale = (int(v) for v in cursor.fetchone())
        cursor.execute(_DUPLICATES_SQL)
        cpf_groups, cpf_affiliates, phone_groups, phone_affiliates = (int(v) for v in cursor.fetchone())

    total = int(base["total"])
    filled = {name: int(base[f"filled_{name}"]) for name in QUALITY_FIELDS}
    completeness = {name: _pct(count, total) for name, count in filled.items()}
    invalid = {name: int(base[f"invalid_{name}"]) for name in INVALID_FIELDS}
    duplicates = {
        "cpf_affiliates": cpf_affiliates,
        "cpf_groups": cpf_groups,
        "phone_affiliates": phone_affiliates,
        "phone_groups": phone_groups,
    }
    penalties: dict[str, float | None] = {"invalid": None, "duplicates": None}
    score: float | None = None
    if total:
        key_average = sum(100.0 * filled[name] / total for name in KEY_FIELDS) / len(KEY_FIELDS)
        invalid_penalty = 100.0 * sum(invalid.values()) / total
        duplicate_penalty = 50.0 * (cpf_affiliates + phone_affiliates) / total
        penalties = {"invalid": round(invalid_penalty, 1), "duplicates": round(duplicate_penalty, 1)}
        score = round(min(100.0, max(0.0, key_average - invalid_penalty - duplicate_penalty)), 1)
    return {
        "version": FIGURES_VERSION,
        "computed_at": now.isoformat(),
        "today": today.isoformat(),
        "stale_days": STALE_DAYS,
        "total": total,
        "filled": filled,
        "completeness": completeness,
        "invalid": invalid,
        "duplicates": duplicates,
        "consent": {ch: _pct(int(base[f"consent_{ch}"]), total) for ch in CONSENT_CHANNELS},
        "stale": {"not_updated": not_updated, "stale": stale},
        "penalties": penalties,
        "score": score,
    }


@dataclass(frozen=True)
class QualityComputing:
    """A computation of the current UDN's figures that a worker has queued (`started_at` None)
    or is running."""

    queued_at: datetime | None
    started_at: datetime | None

    @property
    def since(self) -> datetime | None:
        return self.started_at or self.queued_at


def quality_computing() -> QualityComputing | None:
    """The computation under way for the current UDN, if any (one cache read, no query)."""
    state = cache.get(COMPUTING_CACHE_KEY)
    if not isinstance(state, dict):
        return None
    return QualityComputing(queued_at=state.get("queued_at"), started_at=state.get("started_at"))


def quality_snapshot_list(*, limit: int = TREND_SNAPSHOTS) -> list[QualitySnapshot]:
    """The newest `limit` snapshots, oldest first."""
    return list(QualitySnapshot.objects.order_by("-day")[:limit])[::-1]


#: A percentage that falls by at least this many points between snapshots is flagged.
DROP_THRESHOLD_POINTS = 5.0


class QualityDrop(NamedTuple):
    """A percentage that fell: `group` is "score", "completeness" or "consent"; `field` the
    standard field or channel ("score" for the score)."""

    group: str
    field: str
    before: float
    after: float

    @property
    def points(self) -> float:
        return round(self.before - self.after, 1)


def _percentages(figures: dict[str, Any]) -> dict[tuple[str, str], float | None]:
    values: dict[tuple[str, str], float | None] = {("score", "score"): figures.get("score")}
    completeness = figures.get("completeness") or {}
    values.update({("completeness", name): completeness.get(name) for name in QUALITY_FIELDS})
    consent = figures.get("consent") or {}
    values.update({("consent", ch): consent.get(ch) for ch in CONSENT_CHANNELS})
    return values


def quality_drops(
    *, today: dict[str, Any], previous: dict[str, Any], threshold_points: float = DROP_THRESHOLD_POINTS
) -> list[QualityDrop]:
    """The score, completeness and consent percentages that fell by `threshold_points` or
    more from `previous` to `today` (two figures dicts). Missing values (an empty base)
    are never flagged. Score first, then completeness, then consent, in field order."""
    before, after = _percentages(previous), _percentages(today)
    drops = []
    for key, old in before.items():
        new = after.get(key)
        if old is None or new is None:
            continue
        if round(old - new, 1) >= threshold_points:
            drops.append(QualityDrop(group=key[0], field=key[1], before=old, after=new))
    return drops
