"""Test helpers for insights: affiliates and events written directly, and a seeded random base."""

from __future__ import annotations

import itertools
import random
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from crm.models import Affiliate, Event

SP = ZoneInfo("America/Sao_Paulo")
_ids = itertools.count(1)


def at(month: int, day: int, hour: int = 12, minute: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SP)


def affiliate(**fields: Any) -> Affiliate:
    n = next(_ids)
    defaults = {"external_id": f"I-{n}", "name": f"Pessoa {n}", "origin": "site", "plan": "Básico"}
    return Affiliate.objects.create(**{**defaults, **fields})


def event(who: Affiliate, kind: str, when: datetime, amount: str | None = None, **properties: Any) -> Event:
    return Event.objects.create(
        event_id=f"ins-{next(_ids)}",
        affiliate=who,
        type=kind,
        occurred_at=when,
        amount=Decimal(amount) if amount is not None else None,
        properties=properties,
    )


FLOW = [
    "lead_created",
    "registration_started",
    "account_opened",
    "app_downloaded",
    "app_activated",
    "cash_in",
    "cashout",
]


def random_base(seed: int, *, affiliates: int = 60, start: datetime | None = None) -> list[Event]:
    """A base whose affiliates walk part of the funnel at random over about three months, with
    repeated deposits, cashback, utm-tagged events and support tickets (some about access)."""
    rng = random.Random(seed)
    start = start or at(1, 5)
    events: list[Event] = []
    origins, plans = ["site", "store", "whatsapp", ""], ["Básico", "Ouro", ""]
    for i in range(affiliates):
        who = Affiliate.objects.create(
            external_id=f"R{seed}-{i}", name=f"Pessoa {i}", origin=rng.choice(origins), plan=rng.choice(plans)
        )
        moment = start + timedelta(days=rng.uniform(0, 80), hours=rng.uniform(0, 23))
        depth = rng.randint(1, len(FLOW))
        for kind in FLOW[:depth]:
            props: dict[str, Any] = {}
            if rng.random() < 0.3:
                props["utm_source"] = rng.choice(["google", "meta", "tiktok"])
                props["utm_campaign"] = rng.choice(["verao", "inverno"])
            amount = (
                f"{rng.randint(10, 900)}.{rng.randint(0, 99):02d}" if kind in ("cash_in", "cashout") else None
            )
            events.append(_ev(who, kind, moment, amount, props))
            if kind == "cash_in":
                for _ in range(rng.randint(0, 3)):
                    extra = moment + timedelta(days=rng.uniform(0, 70))
                    events.append(_ev(who, "cash_in", extra, f"{rng.randint(10, 500)}.00", {}))
            moment += timedelta(
                minutes=rng.choice([3, 20, 90, 300, 1500, 4000, 20000]) * rng.uniform(0.5, 1.5)
            )
        if rng.random() < 0.3:
            events.append(_ev(who, "cashback", moment + timedelta(days=1), "5.00", {}))
        if rng.random() < 0.3:
            ticket = f"T{seed}-{i}"
            opened = start + timedelta(days=rng.uniform(0, 80))
            events.append(_ev(who, "support_ticket_opened", opened, None, {"ticket_id": ticket}))
            reason = rng.choice(["senha redefinida", "dúvida esclarecida", "app reinstalado"])
            closed = opened + timedelta(minutes=rng.uniform(5, 5000))
            events.append(
                _ev(who, "support_ticket_closed", closed, None, {"ticket_id": ticket, "reason": reason})
            )
    Event.objects.bulk_create(events)
    return events


def _ev(who: Affiliate, kind: str, when: datetime, amount: str | None, props: dict[str, Any]) -> Event:
    return Event(
        event_id=f"ins-{next(_ids)}",
        affiliate=who,
        type=kind,
        occurred_at=when,
        amount=Decimal(amount) if amount is not None else None,
        properties=props,
    )
