"""What an affiliate's events derive on it, specified once: the lifecycle stage, when it was
reached, the total cash in and the deposit tier.

* `stage`: the furthest stage (in `STAGE_ORDER`) that an event of the affiliate reaches, by the
  table `STAGE_RULES` (each stage with the event types that reach it); `lead` when none does.
* `stage_changed_at`: when the first event that reached that stage happened (None when no event
  reached any stage).
* `total_cash_in`: the sum of the amounts of the `CASH_IN_TYPE` events (cashback and cashout are
  money too, but not deposits).
* `tier`: the name of the band (a DepositTier row of the UDN) with the highest `min_total` not above
  the total; "" when there is none (bands start above zero, so no deposit means no tier).

`derive` says it in plain Python, for one affiliate. The fast variants are built from this module
and tested against `derive` (crm/tests/test_events.py): the three statements of
crm.services.events (the full refresh, the per-affiliate refresh and the ingest's forward move)
take their SQL fragments from `sql_stage_ranks`, `sql_stages`, `sql_tier` and `CASH_IN_TYPE`; the
demo base (crm.demo.base) derives its columns with `derive_arrays`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import numpy as np
from django.db import connection

from crm.models import STAGE_ORDER, DepositTier, EventType, Stage


@dataclass(frozen=True, slots=True)
class StageRule:
    """A stage and the event types that reach it; its rank is its place in STAGE_ORDER."""

    stage: str
    event_types: tuple[str, ...]

    @property
    def rank(self) -> int:
        return STAGE_ORDER.index(self.stage)


STAGE_RULES: tuple[StageRule, ...] = (
    StageRule(Stage.LEAD, (EventType.LEAD_CREATED,)),
    StageRule(
        Stage.REGISTERED, (EventType.REGISTRATION_STARTED, EventType.FORM_COMPLETED, EventType.ACCOUNT_OPENED)
    ),
    StageRule(Stage.APP_DOWNLOADED, (EventType.APP_DOWNLOADED,)),
    StageRule(Stage.ACTIVATED, (EventType.APP_ACTIVATED,)),
    StageRule(Stage.CASH_IN, (EventType.CASH_IN,)),
    StageRule(Stage.CASHOUT, (EventType.CASHOUT,)),
)
assert [rule.stage for rule in STAGE_RULES] == STAGE_ORDER, "one rule a stage, in funnel order"

#: The event type whose amounts add up to total_cash_in.
CASH_IN_TYPE: str = EventType.CASH_IN.value

STAGE_BY_EVENT_TYPE: dict[str, str] = {kind: rule.stage for rule in STAGE_RULES for kind in rule.event_types}
STAGE_RANK: dict[str, int] = {stage: rank for rank, stage in enumerate(STAGE_ORDER)}
RANK_BY_EVENT_TYPE: dict[str, int] = {kind: STAGE_RANK[stage] for kind, stage in STAGE_BY_EVENT_TYPE.items()}

#: A deposit tier's band: (min_total, name).
Band = tuple[Decimal, str]


@dataclass(frozen=True, slots=True)
class Derived:
    stage: str
    stage_changed_at: datetime | None
    total_cash_in: Decimal
    tier: str


def tier_of(total: Decimal, bands: Iterable[Band]) -> str:
    """The name of the band with the highest minimum not above `total`; "" when none is."""
    reached = [(minimum, name) for minimum, name in bands if minimum <= total]
    return max(reached)[1] if reached else ""


def derive(events: Iterable[tuple[str, datetime, Decimal | None]], bands: Iterable[Band]) -> Derived:
    """The derived fields of one affiliate from its events, given as (type, occurred_at, amount)."""
    rank, reached_at = -1, None
    total = Decimal("0.00")
    for kind, occurred_at, amount in events:
        if kind == CASH_IN_TYPE and amount is not None:
            total += amount
        event_rank = RANK_BY_EVENT_TYPE.get(kind)
        if event_rank is None:
            continue
        if event_rank > rank or (event_rank == rank and reached_at is not None and occurred_at < reached_at):
            rank, reached_at = event_rank, occurred_at
    return Derived(
        stage=STAGE_ORDER[max(rank, 0)],
        stage_changed_at=reached_at,
        total_cash_in=total.quantize(Decimal("0.01")),
        tier=tier_of(total, bands),
    )


# --- SQL (crm.services.events builds its statements from these) --------------------------------


def sql_stage_ranks() -> str:
    """`RANK_BY_EVENT_TYPE` as the rows of a VALUES list: "('lead_created', 0), ..."."""
    return ", ".join(f"('{kind}', {rank})" for kind, rank in RANK_BY_EVENT_TYPE.items())


def sql_stages() -> str:
    """`STAGE_ORDER` as an SQL array; element rank + 1 is the stage of that rank."""
    return "ARRAY[" + ", ".join(f"'{stage}'" for stage in STAGE_ORDER) + "]::varchar[]"


def sql_tier(total_sql: str) -> str:
    """`tier_of` in SQL, for the total that `total_sql` computes, over this UDN's DepositTier rows."""
    table = connection.ops.quote_name(DepositTier._meta.db_table)
    return (
        f"coalesce((SELECT d.name FROM {table} d WHERE d.min_total <= {total_sql}"  # noqa: S608
        " ORDER BY d.min_total DESC LIMIT 1), '')"
    )


# --- arrays (the demo base) ---------------------------------------------------------------------


@dataclass(frozen=True)
class DerivedArrays:
    """`derive` for affiliates 0..n-1: stage ranks, stage_changed_at (-1: none), totals, tier names."""

    rank: np.ndarray
    reached_at: np.ndarray
    total: np.ndarray
    tier: list[str]


def derive_arrays(
    *,
    n: int,
    owner: np.ndarray,
    kind: np.ndarray,
    kinds: Sequence[str],
    at: np.ndarray,
    cents: np.ndarray,
    bands: Sequence[Band],
) -> DerivedArrays:
    """`derive` over whole columns: events given as arrays of their affiliate (0..n-1), type (an
    index into `kinds`), time (integer, e.g. seconds) and amount in cents (ignored unless a cash
    in); `bands` sorted by min_total. Totals come back in cents."""
    event_rank = np.array([RANK_BY_EVENT_TYPE.get(k, -1) for k in kinds], dtype=np.int64)[kind]
    staged = event_rank >= 0
    # The furthest rank of each affiliate, then the earliest time among its events of that rank.
    rank = np.full(n, -1, dtype=np.int64)
    np.maximum.at(rank, owner[staged], event_rank[staged])
    at_best = staged & (event_rank == rank[owner])
    reached_at = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(reached_at, owner[at_best], at[at_best])
    reached_at[rank < 0] = -1
    is_cash = np.array([k == CASH_IN_TYPE for k in kinds], dtype=bool)[kind]
    total = np.bincount(owner[is_cash], weights=cents[is_cash], minlength=n).astype(np.int64)
    minimums = np.array([int(minimum * 100) for minimum, _name in bands], dtype=np.int64)
    band = np.searchsorted(minimums, total, side="right") - 1
    return DerivedArrays(
        rank=np.maximum(rank, 0),
        reached_at=reached_at,
        total=total,
        tier=[bands[b][1] if b >= 0 else "" for b in band.tolist()],
    )
