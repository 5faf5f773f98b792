"""The standard affiliate fields: the one list, and what each field is.

`STANDARD_FIELDS` is the shape every source of affiliates (a CSV/XLSX import, the API, a form)
is normalised to (crm.normalize) and written in. What each field is (its kind, SQL type, label,
size, whether nulls or blanks stand for "no value") comes from crm.models.Affiliate, so it is
said once. The import's staging and upsert statements, the API's bulk upsert, the quality
figures and the lake export build their column lists from here; the SQL fragments are generated
once, when this module is imported, never per row.

A load (an import, the API's bulk upsert) writes the standard fields plus `time_zone`, derived
from the state (`LOADED_FIELDS`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from django.contrib.postgres.fields import ArrayField
from django.db import models

from crm.models import Affiliate

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

FieldKind = Literal["text", "date", "decimal", "tags"]

#: The standard fields, in the order sources are read and written in (the import's staging table,
#: the API's records, the normaliser's output).
STANDARD_FIELDS: tuple[str, ...] = (
    "external_id",
    "cpf",
    "name",
    "email",
    "phone",
    "birth_date",
    "city",
    "state",
    "plan",
    "plan_fee",
    "origin",
    "tags",
)
#: Not measured on the quality page: the code is always there (it is the key), and a fee or tags
#: missing says nothing about the record's quality.
_NOT_MEASURED = frozenset({"external_id", "plan_fee", "tags"})
#: Derived on write from the standard fields (the time zone from the state) and loaded with them.
DERIVED_FIELDS: tuple[str, ...] = ("time_zone",)
LOADED_FIELDS: tuple[str, ...] = (*STANDARD_FIELDS, *DERIVED_FIELDS)
#: The field a load matches existing affiliates on.
KEY_FIELD = "external_id"


@dataclass(frozen=True, slots=True)
class StandardField:
    """One field as crm.models.Affiliate declares it."""

    name: str
    kind: FieldKind
    label: StrOrPromise
    sql_type: str  # the column type of a staging table
    max_length: int | None
    digits: tuple[int, int] | None  # a decimal's (max_digits, decimal_places)
    required: bool  # never blank (else blank text, NULL or [] stands for "no value")
    measured: bool  # its completeness is a quality figure

    def present(self, column: str) -> str:
        """SQL: `column` (this field's value) holds a value (blank text, NULL, [] do not)."""
        if self.kind == "text":
            return f"{column} <> ''"
        if self.kind == "tags":
            return f"cardinality({column}) > 0"
        return f"{column} IS NOT NULL"

    def latest_sql(self) -> str:
        """SQL aggregate over staged rows: the value of the latest row (by `_row`) that has one."""
        name = self.name
        if self.kind == "tags":
            # Arrays of different lengths cannot be array_agg'ed: as text joined on a unit separator.
            return (
                f"coalesce(string_to_array((array_agg(array_to_string({name}, chr(31)) ORDER BY _row DESC)"
                f" FILTER (WHERE {self.present(name)}))[1], chr(31)), '{{}}')"
            )
        return f"(array_agg({name} ORDER BY _row DESC) FILTER (WHERE {self.present(name)}))[1]"

    def kept_sql(self, new: str, old: str) -> str:
        """SQL: what an upsert stores, `new` unless it holds no value (then `old`): a load never erases."""
        if self.kind == "text":
            return f"COALESCE(NULLIF({new}, ''), {old})"
        if self.kind == "tags":
            return f"CASE WHEN {self.present(new)} THEN {new} ELSE {old} END"
        return f"COALESCE({new}, {old})"

    def inserted_sql(self, column: str) -> str:
        """SQL: `column` as a new affiliate's value (blank text and [] rather than NULL)."""
        if self.kind == "text":
            return f"coalesce({column}, '')"
        if self.kind == "tags":
            return f"coalesce({column}, '{{}}')"
        return column

    def change_sql(self, old: str, new: str) -> str:
        """SQL: a (field, old, new) VALUES row of an AffiliateChange, both as text; `new` NULL when
        it holds no value."""
        if self.kind == "text":
            return f"('{self.name}', {old}, {new})"
        if self.kind == "tags":
            return f"('{self.name}', {old}::text, CASE WHEN {self.present(new)} THEN {new}::text END)"
        return f"('{self.name}', {old}::text, {new}::text)"


def _field(name: str) -> StandardField:
    field = Affiliate._meta.get_field(name)
    assert isinstance(field, models.Field)
    kind: FieldKind
    digits = None
    if isinstance(field, ArrayField):
        kind, sql_type = "tags", "text[]"
    elif isinstance(field, models.DateField):
        kind, sql_type = "date", "date"
    elif isinstance(field, models.DecimalField):
        digits = (field.max_digits or 0, field.decimal_places or 0)
        kind, sql_type = "decimal", "numeric({}, {})".format(*digits)
    elif isinstance(field, models.CharField):
        kind, sql_type = "text", "text"
    else:  # a new standard field of another type needs its rules above
        raise TypeError(f"Affiliate.{name}: no standard-field rules for {type(field).__name__}")
    return StandardField(
        name=name,
        kind=kind,
        label=field.verbose_name,
        sql_type=sql_type,
        max_length=field.max_length if kind == "text" else None,
        digits=digits,
        required=not field.blank,
        measured=name in STANDARD_FIELDS and name not in _NOT_MEASURED,
    )


#: Every loaded field's facts, by name, in LOADED_FIELDS order.
FIELDS: dict[str, StandardField] = {name: _field(name) for name in LOADED_FIELDS}
#: What a load writes on top of the key (its values merged field by field; blanks never erase).
MERGED_FIELDS: tuple[StandardField, ...] = tuple(FIELDS[name] for name in LOADED_FIELDS if name != KEY_FIELD)
#: The merged text fields (blank "" stands for no value).
MERGED_TEXT_FIELDS: tuple[str, ...] = tuple(field.name for field in MERGED_FIELDS if field.kind == "text")
#: Standard fields whose completeness the quality page measures, in display order.
MEASURED_FIELDS: tuple[str, ...] = tuple(name for name in STANDARD_FIELDS if FIELDS[name].measured)


def columns_sql(names: tuple[str, ...] | list[str]) -> str:
    """SQL: `name type, ...` of loaded fields, for a staging table or a jsonb_to_recordset."""
    return ", ".join(f"{name} {FIELDS[name].sql_type}" for name in names)
