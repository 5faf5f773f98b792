"""The CRM core's typed hooks: how the apps built on it (webhooks, journeys, loyalty, insights)
learn what happened to affiliates without the core knowing them (DESIGN.md: crm imports none of
those apps; they subscribe here from their AppConfig.ready).

Each hook carries a list of payloads (a batch: one ingest of 1,000 events is one call) and calls
its listeners after the transaction that caused them commits, in the same UDN schema, so a
listener never hears of a change that was rolled back. Keep listeners cheap: enqueue a task.

    from crm import hooks
    hooks.events_stored.subscribe(on_events)        # list[AcceptedEvent]
    hooks.stage_changed.subscribe(on_stage_changes)  # list[StageChange]
    hooks.consent_changed.subscribe(...)             # list[ConsentChanged]
    hooks.affiliate_changed.subscribe(...)           # list[AffiliateChanged]
    hooks.segment_membership_changed.subscribe(...)  # list[SegmentMembershipChanged]
    hooks.affiliates_imported.subscribe(...)         # list[AffiliatesImported]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import partial
from typing import Generic, TypeVar

from django.db import transaction

T = TypeVar("T")


@dataclass(eq=False)
class Hook(Generic[T]):
    """A named list of listeners, each called with a list of `T` after the commit."""

    name: str
    listeners: list[Callable[[list[T]], None]] = field(default_factory=list)

    def subscribe(self, listener: Callable[[list[T]], None]) -> None:
        if listener not in self.listeners:
            self.listeners.append(listener)

    def unsubscribe(self, listener: Callable[[list[T]], None]) -> None:
        if listener in self.listeners:
            self.listeners.remove(listener)

    def send(self, payloads: list[T]) -> None:
        """Schedule every listener for after the current transaction commits (at once outside one)."""
        if not payloads:
            return
        for listener in self.listeners:
            transaction.on_commit(partial(listener, payloads))


@dataclass(frozen=True, slots=True)
class AcceptedEvent:
    """An event newly stored on an affiliate's timeline (a duplicate is not announced again)."""

    pk: int
    event_id: str
    affiliate_id: int
    type: str
    occurred_at: datetime
    amount: Decimal | None


@dataclass(frozen=True, slots=True)
class StageChange:
    """An affiliate's lifecycle stage moved (lead → registered → ... → cashout)."""

    affiliate_id: int
    old_stage: str
    new_stage: str
    changed_at: datetime | None


@dataclass(frozen=True, slots=True)
class ConsentChanged:
    """A grant or an opt-out was written to the consent ledger and is now the affiliate's state for
    that channel (a late-arriving older change, kept only as history, is not announced)."""

    affiliate_id: int
    channel: str
    granted: bool
    occurred_at: datetime
    source: str


@dataclass(frozen=True, slots=True)
class AffiliateChanged:
    """An affiliate was created or some of its fields changed (through the UI or the API; an
    import announces itself once, by its job, not affiliate by affiliate: affiliates_imported)."""

    affiliate_id: int
    created: bool
    fields: tuple[str, ...]
    source: str


@dataclass(frozen=True, slots=True)
class SegmentMembershipChanged:
    """An affiliate entered (`entered`) or left a tracked segment at `at` (its timeline has the
    matching segment_entered / segment_left event, with the segment's id in its properties)."""

    segment_id: int
    affiliate_id: int
    entered: bool
    at: datetime


@dataclass(frozen=True, slots=True)
class AffiliatesImported:
    """An import finished and changed the base (created or updated affiliates). One payload a job,
    however many affiliates it touched: what changed on each is in the AffiliateChange rows linked
    to the job (`import_job_id`), each with the fields it changed."""

    job_id: str
    created: int
    updated: int


events_stored: Hook[AcceptedEvent] = Hook("events_stored")
stage_changed: Hook[StageChange] = Hook("stage_changed")
consent_changed: Hook[ConsentChanged] = Hook("consent_changed")
affiliate_changed: Hook[AffiliateChanged] = Hook("affiliate_changed")
segment_membership_changed: Hook[SegmentMembershipChanged] = Hook("segment_membership_changed")
affiliates_imported: Hook[AffiliatesImported] = Hook("affiliates_imported")
