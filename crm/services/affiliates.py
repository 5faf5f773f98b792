"""Writing affiliates one at a time or in bulk (the API's writes). Every record goes through
`affiliate_record_normalize`; the bulk upsert has the import's semantics (blank values never
erase, the newest record of a key wins per field) and runs as set-based SQL. Runs inside a UDN's
schema."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from crm import hooks
from crm.fields import MERGED_FIELDS, STANDARD_FIELDS, columns_sql
from crm.hooks import AffiliateChanged
from crm.models import Affiliate, AffiliateChange, AuditAction, AuditTarget
from crm.normalize import MAX_LENGTHS, Reason, affiliate_record_normalize, reason_message
from crm.services.audit import audit_record
from crm.services.events import EventInput, EventOutcome, events_ingest
from crm.services.imports import CHANGES_SQL, UPSERT_SQL, merged_rows_sql

# The field each normalisation reason is about (value_too_long is found by length).
REASON_FIELDS: dict[Reason, str] = {
    Reason.ID_MISSING: "external_id",
    Reason.CPF_INVALID: "cpf",
    Reason.NAME_MISSING: "name",
    Reason.EMAIL_INVALID: "email",
    Reason.PHONE_NO_DDD: "phone",
    Reason.PHONE_INVALID: "phone",
    Reason.PHONE_LANDLINE: "phone",
    Reason.PHONE_FOREIGN: "phone",
    Reason.BIRTH_DATE_INVALID: "birth_date",
    Reason.BIRTH_DATE_FUTURE: "birth_date",
    Reason.STATE_INVALID: "state",
    Reason.AMOUNT_INVALID: "plan_fee",
}
# Fields a write may set; stage, tier and total_cash_in are derived from events.
WRITABLE_FIELDS = frozenset(STANDARD_FIELDS) | {"attributes"}
READ_ONLY_FIELDS = frozenset({"stage", "stage_changed_at", "tier", "total_cash_in"})
CPF_KEY_PREFIX = "cpf:"


@dataclass(frozen=True, slots=True)
class FieldError:
    code: str
    field: str
    message: str


class AffiliateInvalid(ValueError):
    """The record does not normalise; `errors` lists each reason with its field."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__(", ".join(f"{e.field}: {e.code}" for e in errors))
        self.errors = errors


class AffiliateExists(ValueError):
    def __init__(self, *, external_id: str, affiliate_id: int) -> None:
        super().__init__(external_id)
        self.external_id, self.affiliate_id = external_id, affiliate_id


@dataclass(frozen=True, slots=True)
class UpsertOutcome:
    """One item of a bulk upsert: accepted (stored, `affiliate_id` set) or rejected (`errors`)."""

    index: int
    external_id: str
    status: str
    affiliate_id: int | None = None
    errors: tuple[FieldError, ...] = ()


def _field_errors(values: dict[str, Any], reasons: Sequence[Reason]) -> list[FieldError]:
    errors: list[FieldError] = []
    for reason in reasons:
        if reason == Reason.VALUE_TOO_LONG:
            errors.extend(
                FieldError(reason.value, name, reason_message(reason))
                for name, limit in MAX_LENGTHS.items()
                if len(values[name]) > limit
            )
        else:
            errors.append(FieldError(reason.value, REASON_FIELDS[reason], reason_message(reason)))
    return errors


def _normalised(record: Mapping[str, object]) -> dict[str, Any]:
    """The record's standard fields normalised, or AffiliateInvalid."""
    normalised = affiliate_record_normalize(record=record)
    if normalised.reasons:
        raise AffiliateInvalid(_field_errors(normalised.values, normalised.reasons))
    return dict(normalised.values)


def _key_by_cpf(cpfs: Sequence[str]) -> dict[str, str]:
    """The external id of the affiliate already known by each CPF (the oldest, if several)."""
    rows = (
        Affiliate.objects.filter(cpf__in=set(cpfs))
        .order_by("cpf", "id")
        .distinct("cpf")
        .values_list("cpf", "external_id")
    )
    return dict(rows)


@transaction.atomic
def affiliate_create(
    *, record: Mapping[str, object], attributes: Mapping[str, Any] | None = None, source: str = "api"
) -> Affiliate:
    """A new affiliate from a record of standard fields. AffiliateInvalid when it does not
    normalise; AffiliateExists when its external id (or, without one, its CPF) is known."""
    values = _normalised(record)
    if not str(record.get("external_id") or "").strip():
        known = _key_by_cpf([values["cpf"]]).get(values["cpf"])
        values["external_id"] = known or f"{CPF_KEY_PREFIX}{values['cpf']}"
    existing = (
        Affiliate.objects.filter(external_id=values["external_id"]).values_list("pk", flat=True).first()
    )
    if existing is not None:
        raise AffiliateExists(external_id=values["external_id"], affiliate_id=existing)
    try:
        with transaction.atomic():
            affiliate = Affiliate.objects.create(**values, attributes=dict(attributes or {}))
    except IntegrityError:  # created by a concurrent request since the check
        existing = (
            Affiliate.objects.filter(external_id=values["external_id"]).values_list("pk", flat=True).first()
        )
        if existing is None:
            raise
        raise AffiliateExists(external_id=values["external_id"], affiliate_id=existing) from None
    AffiliateChange.objects.create(affiliate=affiliate, changes={}, source=source)  # its creation
    audit_record(
        action=AuditAction.AFFILIATE_CREATED,
        target_type=AuditTarget.AFFILIATE,
        target_id=affiliate.pk,
        changes={
            "fields": sorted(name for name, value in values.items() if value not in ("", None, [])),
            "source": source,
        },
    )
    hooks.affiliate_changed.send(
        [AffiliateChanged(affiliate_id=affiliate.pk, created=True, fields=tuple(values), source=source)]
    )
    return affiliate


@transaction.atomic
def affiliate_update(
    *, affiliate: Affiliate, changes: Mapping[str, object], source: str = "api"
) -> Affiliate:
    """Change only the given fields (a blank value clears an optional field). AffiliateInvalid
    for bad values, AffiliateExists when a new external id is taken. `attributes` are merged key
    by key. The change is recorded in AffiliateChange."""
    unknown = set(changes) - WRITABLE_FIELDS
    if unknown:
        raise ValueError(f"not writable: {', '.join(sorted(unknown))}")
    standard = {name: value for name, value in changes.items() if name in STANDARD_FIELDS}
    record = {"name": affiliate.name, "external_id": affiliate.external_id, **standard}
    normalised = affiliate_record_normalize(record=record)
    if "external_id" in standard and not str(standard["external_id"] or "").strip():
        raise AffiliateInvalid(
            [FieldError(Reason.ID_MISSING.value, "external_id", reason_message(Reason.ID_MISSING))]
        )
    reasons = [r for r in normalised.reasons if r != Reason.ID_MISSING]
    if reasons:
        raise AffiliateInvalid(_field_errors(normalised.values, reasons))
    new_values = {name: normalised.values[name] for name in standard}
    if "state" in standard:
        new_values["time_zone"] = normalised.values["time_zone"]
    if "external_id" in new_values and new_values["external_id"] != affiliate.external_id:
        taken = (
            Affiliate.objects.filter(external_id=new_values["external_id"])
            .values_list("pk", flat=True)
            .first()
        )
        if taken is not None:
            raise AffiliateExists(external_id=new_values["external_id"], affiliate_id=taken)
    if "attributes" in changes:
        new_values["attributes"] = {**affiliate.attributes, **dict(changes["attributes"])}  # type: ignore[call-overload]
    diff = {
        name: [_jsonable(getattr(affiliate, name)), _jsonable(value)]
        for name, value in new_values.items()
        if getattr(affiliate, name) != value
    }
    if diff:
        for name, value in new_values.items():
            setattr(affiliate, name, value)
        affiliate.updated_at = timezone.now()
        try:
            with transaction.atomic():
                Affiliate.objects.filter(pk=affiliate.pk).update(
                    **new_values, updated_at=affiliate.updated_at
                )
        except IntegrityError:
            raise AffiliateExists(
                external_id=str(new_values.get("external_id", "")), affiliate_id=0
            ) from None
        AffiliateChange.objects.create(affiliate=affiliate, changes=diff, source=source)
        audit_record(
            action=AuditAction.AFFILIATE_UPDATED,
            target_type=AuditTarget.AFFILIATE,
            target_id=affiliate.pk,
            changes={"fields": diff, "source": source},
        )
        hooks.affiliate_changed.send(
            [AffiliateChanged(affiliate_id=affiliate.pk, created=False, fields=tuple(diff), source=source)]
        )
    return affiliate


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


# The staged records' columns (the key stands for external_id), from crm.fields.
_STAGE_COLUMNS = (
    f"_row bigint, key text, {columns_sql([field.name for field in MERGED_FIELDS])}, attributes jsonb"
)
_STAGE_NAMES = [part.split()[0] for part in _STAGE_COLUMNS.split(", ")]


@transaction.atomic
def affiliates_upsert(
    *, records: Sequence[tuple[Mapping[str, object], Mapping[str, Any] | None]], source: str = "api"
) -> list[UpsertOutcome]:
    """Insert or update many affiliates by external id, with the import's semantics: blank values
    never erase, later records of the same key win field by field, attributes are merged. A record
    without an external id is known by its CPF (the affiliate already holding it, else a new one
    keyed "cpf:<CPF>"). The name may be left out for a key the base (or another record of the
    request) already names. Bad records are rejected with their reasons; the good ones are stored in
    a few set-based statements, whatever the number of records."""
    outcomes: list[UpsertOutcome | None] = [None] * len(records)
    good: list[tuple[int, dict[str, Any], bool]] = []
    normalised_records = [affiliate_record_normalize(record=record) for record, _a in records]
    # A record may leave the name out when its key is known (in the base or named in this request).
    nameless = {
        n.values["external_id"]
        for (record, _a), n in zip(records, normalised_records, strict=True)
        if n.reasons == [Reason.NAME_MISSING] and str(record.get("external_id") or "").strip()
    }
    known_keys: set[str] = set()
    if nameless:
        known_keys = {n.values["external_id"] for n in normalised_records if not n.reasons} & nameless
        known_keys |= set(
            Affiliate.objects.filter(external_id__in=nameless - known_keys).values_list(
                "external_id", flat=True
            )
        )
    for index, ((record, attributes), normalised) in enumerate(zip(records, normalised_records, strict=True)):
        name_known = (
            normalised.reasons == [Reason.NAME_MISSING] and normalised.values["external_id"] in known_keys
        )
        if normalised.reasons and not (name_known and str(record.get("external_id") or "").strip()):
            outcomes[index] = UpsertOutcome(
                index=index,
                external_id=str(record.get("external_id") or ""),
                status="rejected",
                errors=tuple(_field_errors(normalised.values, normalised.reasons)),
            )
            continue
        values = dict(normalised.values)
        values["attributes"] = dict(attributes or {})
        good.append((index, values, not str(record.get("external_id") or "").strip()))
    if good:
        by_cpf = _key_by_cpf([values["cpf"] for _i, values, blank in good if blank])
        rows = []
        for index, values, blank_code in good:
            if blank_code:
                values["external_id"] = by_cpf.get(values["cpf"]) or f"{CPF_KEY_PREFIX}{values['cpf']}"
            rows.append({"_row": index, "key": values["external_id"], **values})
        ids, created = _upsert_rows(rows, source=source)
        for index, values, _blank in good:
            outcomes[index] = UpsertOutcome(
                index=index,
                external_id=values["external_id"],
                status="accepted",
                affiliate_id=ids[values["external_id"]],
            )
        # One entry for the batch, never one per record; a batch about one affiliate (a partner
        # describing one client) is that affiliate's, so its page shows it.
        audit_record(
            action=AuditAction.AFFILIATES_UPSERTED,
            target_type=AuditTarget.AFFILIATE,
            target_id=next(iter(ids.values())) if len(ids) == 1 else "",
            changes={
                "records": len(records),
                "accepted": len(good),
                "rejected": len(records) - len(good),
                "affiliates": len(ids),
                "created": created,
                "source": source,
            },
        )
    return [outcome for outcome in outcomes if outcome is not None]


def _upsert_rows(rows: list[dict[str, Any]], *, source: str) -> tuple[dict[str, int], int]:
    """Stage the rows (one INSERT from a JSON array), merge repeated keys, record the changes and
    upsert with the import's statements; returns {external_id: affiliate id} and how many of
    them are new. crm.hooks.affiliate_changed hears of each affiliate created (with the fields it
    was given) or changed (with the fields that changed, as affiliate_update says), not of those
    the batch left as they were."""
    keys = {row["key"] for row in rows}
    known = set(Affiliate.objects.filter(external_id__in=keys).values_list("external_id", flat=True))
    payload = json.dumps(
        [{name: row.get(name) for name in _STAGE_NAMES} for row in rows], cls=DjangoJSONEncoder
    )
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS api_upsert_rows, api_upsert")
        cursor.execute(
            f"CREATE TEMP TABLE api_upsert_rows ON COMMIT DROP AS "  # noqa: S608 - constant columns
            f"SELECT * FROM jsonb_to_recordset(%s::jsonb) AS r({_STAGE_COLUMNS})",
            [payload],
        )
        cursor.execute(f"CREATE TEMP TABLE api_upsert ON COMMIT DROP AS {merged_rows_sql('api_upsert_rows')}")
        cursor.execute(
            CHANGES_SQL.replace("{source}", "api_upsert").replace("'import'", "%(source)s")
            + " RETURNING affiliate_id, ARRAY(SELECT jsonb_object_keys(changes))",
            {"job": None, "source": source},
        )
        changed: dict[int, set[str]] = {pk: set(names) for pk, names in cursor.fetchall()}
        # Attributes are merged key by key, not recorded as a change: changed when the merge is new.
        cursor.execute(
            "SELECT a.id FROM api_upsert m JOIN crm_affiliate a ON a.external_id = m.key"
            " WHERE a.attributes IS DISTINCT FROM a.attributes || m.attributes"
        )
        for (pk,) in cursor.fetchall():
            changed.setdefault(pk, set()).add("attributes")
        cursor.execute(
            UPSERT_SQL.replace("{source}", "api_upsert"),
            {"job": None, "source": source, "record_created": True},
        )
        cursor.execute("DROP TABLE api_upsert_rows, api_upsert")
    ids = dict(Affiliate.objects.filter(external_id__in=keys).values_list("external_id", "pk"))
    given: dict[str, set[str]] = {}
    for row in rows:
        given.setdefault(row["key"], set()).update(
            name for name in (*STANDARD_FIELDS, "attributes") if row.get(name) not in (None, "", [], {})
        )
    hooks.affiliate_changed.send(
        [
            AffiliateChanged(affiliate_id=pk, created=True, fields=tuple(sorted(given[key])), source=source)
            if key not in known
            else AffiliateChanged(
                affiliate_id=pk, created=False, fields=tuple(sorted(changed[pk])), source=source
            )
            for key, pk in ids.items()
            if key not in known or changed.get(pk)
        ]
    )
    return ids, len(ids.keys() - known)


@transaction.atomic
def affiliate_event_record(
    *, record: Mapping[str, object], attributes: Mapping[str, Any] | None, item: EventInput, source: str
) -> tuple[UpsertOutcome, EventOutcome | None]:
    """Upsert the affiliate a partner describes (as affiliates_upsert does), then record the event
    for it, in one transaction: a status may arrive for a client the CRM does not know yet. The
    event outcome is None when the record is rejected."""
    upserted = affiliates_upsert(records=[(record, attributes)], source=source)[0]
    if upserted.status == "rejected":
        return upserted, None
    item = dataclasses.replace(item, affiliate_id=upserted.affiliate_id, external_id=None, cpf=None)
    return upserted, events_ingest(items=[item], source=source)[0]


#: A tag's longest form (the tags column is varchar(40)[]).
TAG_MAX_LENGTH = 40


@transaction.atomic
def affiliates_tags_attributes_update(
    *,
    affiliate_ids: Sequence[int],
    add_tags: Sequence[str] = (),
    remove_tags: Sequence[str] = (),
    attributes: Mapping[str, Any] | None = None,
    source: str,
    now: datetime | None = None,
) -> list[int]:
    """Add and remove tags and set attributes (merged key by key) on many affiliates at once,
    recorded as every write of the core is: each affiliate whose values change gets its
    AffiliateChange ({"tags": [old, new], "attributes": [old, new]}, its page's history), the
    batch one audit entry by the current actor (tenants.actors), and crm.hooks.affiliate_changed
    hears of them after the commit (segments refresh, webhooks...). One statement whatever the
    number of affiliates; an affiliate left as it was is not touched. Returns the ids that changed.
    ValueError for a blank or too long tag."""
    add = [str(tag).strip() for tag in add_tags]
    remove = [str(tag).strip() for tag in remove_tags]
    if any(not tag or len(tag) > TAG_MAX_LENGTH for tag in (*add, *remove)):
        raise ValueError(f"a tag is 1 to {TAG_MAX_LENGTH} characters")
    ids = sorted({int(pk) for pk in affiliate_ids})
    if not ids or not (add or remove or attributes):
        return []
    now = now or timezone.now()
    aff = connection.ops.quote_name(Affiliate._meta.db_table)
    history = connection.ops.quote_name(AffiliateChange._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH old AS (
                SELECT id, tags, attributes FROM {aff} WHERE id = ANY(%(ids)s) ORDER BY id FOR NO KEY UPDATE
            ), new AS (
                SELECT o.id, o.tags AS old_tags, o.attributes AS old_attributes,
                       -- the tags kept in their order, the new ones after them, each once
                       ARRAY(
                           SELECT u.t FROM unnest(o.tags || %(add)s::varchar[]) WITH ORDINALITY AS u(t, n)
                           WHERE NOT u.t = ANY(%(remove)s::varchar[])
                           GROUP BY u.t ORDER BY min(u.n)
                       )::varchar(40)[] AS tags,
                       COALESCE(o.attributes, '{{}}'::jsonb) || %(attributes)s::jsonb AS attributes
                FROM old o
            ), diff AS (
                SELECT n.*, n.tags IS DISTINCT FROM n.old_tags AS tags_changed,
                       n.attributes IS DISTINCT FROM n.old_attributes AS attributes_changed
                FROM new n
            ), changed AS (
                UPDATE {aff} a SET tags = d.tags, attributes = d.attributes, updated_at = %(now)s
                FROM diff d WHERE a.id = d.id AND (d.tags_changed OR d.attributes_changed)
                RETURNING a.id
            ), logged AS (
                INSERT INTO {history} (affiliate_id, import_job_id, changes, source, changed_at)
                SELECT d.id, NULL,
                       CASE WHEN d.tags_changed
                            THEN jsonb_build_object('tags', jsonb_build_array(to_jsonb(d.old_tags), to_jsonb(d.tags)))
                            ELSE '{{}}'::jsonb END
                       || CASE WHEN d.attributes_changed
                            THEN jsonb_build_object('attributes', jsonb_build_array(d.old_attributes, d.attributes))
                            ELSE '{{}}'::jsonb END,
                       %(source)s, %(now)s
                FROM diff d JOIN changed c ON c.id = d.id
            )
            SELECT d.id, d.tags_changed, d.attributes_changed FROM diff d JOIN changed c ON c.id = d.id
            ORDER BY d.id
            """,  # noqa: S608 - table names from the models, values are parameters
            {
                "ids": ids,
                "add": add,
                "remove": remove,
                "attributes": json.dumps(dict(attributes or {}), cls=DjangoJSONEncoder),
                "now": now,
                "source": source,
            },
        )
        changed = cursor.fetchall()
    if not changed:
        return []
    # One entry for the batch, never one per affiliate (a batch of one is that affiliate's).
    audit_record(
        action=AuditAction.AFFILIATES_UPDATED,
        target_type=AuditTarget.AFFILIATE,
        target_id=changed[0][0] if len(changed) == 1 else "",
        changes={
            "affiliates": len(changed),
            "add_tags": add,
            "remove_tags": remove,
            "attributes": dict(attributes or {}),
            "source": source,
        },
    )
    hooks.affiliate_changed.send(
        [
            AffiliateChanged(
                affiliate_id=pk,
                created=False,
                fields=tuple(name for name, moved in (("tags", tags), ("attributes", attrs)) if moved),
                source=source,
            )
            for pk, tags, attrs in changed
        ]
    )
    return [pk for pk, _tags, _attrs in changed]
