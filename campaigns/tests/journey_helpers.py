"""Helpers of the journeys' tests: events stored through crm's real ingest and handed to the
journeys as the events_stored hook would (the hook runs after a commit, which a test's rolled-back
transaction never does), a published journey, and reading an enrollment's path."""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Any

from django.utils import timezone

from campaigns.models import Enrollment, Journey, JourneyStepLog, Message
from campaigns.services.journeys import EventRef, journey_publish, journey_save, journeys_on_events
from crm.models import Affiliate
from crm.services.events import EventInput, event_record

_ids = itertools.count(1)


def happen(affiliate: Affiliate, kind: str, *, at: datetime | None = None, **properties: Any) -> EventRef:
    """Store event `kind` for `affiliate` now (the test clock) and let the journeys hear it."""
    at = at or timezone.now()
    outcome = event_record(
        item=EventInput(
            event_id=f"test-{next(_ids)}-{kind}",
            type=kind,
            occurred_at=at,
            affiliate_id=affiliate.pk,
            properties=properties,
        ),
        source="test",
    )
    assert outcome.accepted, outcome
    assert outcome.pk is not None
    ref = EventRef(pk=outcome.pk, affiliate_id=affiliate.pk, type=kind, occurred_at=at)
    journeys_on_events(events=[ref], now=timezone.now())
    return ref


def published(graph: dict[str, Any], **fields: Any) -> Journey:
    journey = journey_save(
        name=fields.pop("name", "Jornada de teste"), graph=graph, by="marina@alpha.test", **fields
    )
    journey_publish(journey=journey, by="marina@alpha.test")
    journey.refresh_from_db()
    return journey


def path_of(enrollment: Enrollment) -> list[tuple[str, str]]:
    """(step, outcome) of each logged step, in order."""
    return list(
        JourneyStepLog.objects.filter(enrollment=enrollment)
        .order_by("at", "id")
        .values_list("step", "outcome")
    )


def messages_to(affiliate: Affiliate) -> list[tuple[str, str, str]]:
    """(template code, channel, status) of the messages to `affiliate`, oldest first."""
    return list(
        Message.objects.filter(affiliate=affiliate)
        .order_by("id")
        .values_list("template__slug", "channel", "status")
    )
