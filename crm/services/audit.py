"""The audit log's one writer: each write service records its entry here, inside its own
transaction, so the entry commits (or rolls back) with the change it describes. Who acted is
read from tenants.actors (set by the request, the API key, the command or the task), never
passed along. Runs inside a UDN's schema."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder

from crm.models import AuditEntry
from tenants.actors import Actor, audit_actor


def _jsonable(changes: Mapping[str, Any] | None) -> dict[str, Any]:
    """Dates, decimals and UUIDs as the API writes them (the jsonb column takes JSON types only)."""
    return json.loads(json.dumps(dict(changes or {}), cls=DjangoJSONEncoder))  # type: ignore[no-any-return]


def audit_record(
    *,
    action: str,
    target_type: str = "",
    target_id: object = "",
    changes: Mapping[str, Any] | None = None,
    actor: Actor | None = None,
) -> AuditEntry:
    """Append one entry: `action` (an AuditAction code) on `target_type`/`target_id`, by the
    current actor (or `actor`). Call it inside the write's transaction."""
    who = actor or audit_actor()
    return AuditEntry.objects.create(
        actor_kind=who.kind,
        actor_id=who.id[:64],
        actor_label=who.label[:254],
        ip=who.ip,
        action=action,
        target_type=target_type,
        target_id="" if target_id is None else str(target_id)[:64],
        changes=_jsonable(changes),
    )
