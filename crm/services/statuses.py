"""A client's status from a partner system (the `002` statuses: registration started, form
completed, account opened, deposited) recorded as the event it means. The mapping lives here,
not in the API view: a status is an event of a standard type, a deposit a cash in with its
amount; for a client the CRM does not know yet, the affiliate it describes is upserted first."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction

from crm.models import EventType
from crm.services.affiliates import UpsertOutcome, affiliate_event_record
from crm.services.events import EventInput, EventOutcome, events_ingest

STATUS_EVENT_TYPES: dict[str, str] = {
    "registration_started": EventType.REGISTRATION_STARTED,
    "form_completed": EventType.FORM_COMPLETED,
    "account_opened": EventType.ACCOUNT_OPENED,
    "deposited": EventType.CASH_IN,
}
# The one status that carries an amount (and must).
STATUS_WITH_AMOUNT = "deposited"
# Paths of the event a status becomes → the status's own paths (for the errors it answers).
STATUS_FIELD_PATHS = {"type": "status", "properties.amount": "amount", "properties": "amount"}


@dataclass(frozen=True, slots=True)
class StatusOutcome:
    """The event's outcome, or (when the described affiliate was refused) the upsert's."""

    event: EventOutcome | None
    upserted: UpsertOutcome | None = None


def status_field_path(field: str | None) -> str | None:
    if field is None:
        return None
    return STATUS_FIELD_PATHS.get(field, field)


@transaction.atomic
def status_record(
    *,
    status_id: str,
    status: str,
    occurred_at: datetime,
    source: str,
    default_source: str,
    amount: str | int | float | None = None,
    affiliate_id: int | None = None,
    external_id: str | None = None,
    cpf: str | None = None,
    record: Mapping[str, object] | None = None,
    attributes: Mapping[str, Any] | None = None,
) -> StatusOutcome:
    """Record status `status` (a key of STATUS_EVENT_TYPES) as its event, idempotent by
    `status_id`. The affiliate is a reference (affiliate_id, external_id or cpf) or, for a client
    not known yet, a `record` (and `attributes`) upserted first as the bulk upsert does.
    `default_source` is who sent it (the API key), used when `source` is blank."""
    item = EventInput(
        event_id=status_id,
        type=STATUS_EVENT_TYPES[status],
        occurred_at=occurred_at,
        affiliate_id=affiliate_id,
        external_id=external_id,
        cpf=cpf,
        source=source,
        properties={"amount": amount} if amount is not None else {},
    )
    if record is not None:
        upserted, recorded = affiliate_event_record(
            record=record, attributes=attributes, item=item, source=default_source
        )
        return StatusOutcome(event=recorded, upserted=upserted)
    return StatusOutcome(event=events_ingest(items=[item], source=default_source)[0])
