"""The event timeline: idempotent ingest (by event id) and what events derive on the
affiliate — the lifecycle stage and the deposit tier. Runs inside a UDN's schema.

Ingest is built for volume (API batches of 1,000, and single events at hundreds a
second): items are validated in plain Python, then one prepared statement resolves their
affiliates, inserts them (`ON CONFLICT DO NOTHING`) and moves the derived fields of
those affiliates forward from the new events alone — one round trip, in a transaction
(the caller's, or its own), so a failure reading the result back commits nothing either.
A bad item never rejects the good ones; a repeated event id
(already stored, or twice in the batch) is a duplicate, not an error.

- `inputs`: the rules, what a caller hands in, validation and outcomes (plain Python);
- `ingest`: `events_ingest` / `event_record`, one prepared statement a batch;
- `derive`: the full and per-affiliate recomputation of the derived fields (from crm.lifecycle).
"""

from crm.services.events.derive import RefreshResult, affiliates_refresh_derived, tiers_recompute
from crm.services.events.ingest import event_record, event_types_known, events_ingest
from crm.services.events.inputs import (
    MONEY_EVENT_TYPES,
    STANDARD_EVENT_TYPES,
    EventInput,
    EventOutcome,
    IngestOutcomes,
)

__all__ = [
    "MONEY_EVENT_TYPES",
    "STANDARD_EVENT_TYPES",
    "EventInput",
    "EventOutcome",
    "IngestOutcomes",
    "RefreshResult",
    "affiliates_refresh_derived",
    "event_record",
    "event_types_known",
    "events_ingest",
    "tiers_recompute",
]
