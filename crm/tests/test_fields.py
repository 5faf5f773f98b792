"""The standard affiliate fields (crm/fields.py): one list, each field's facts from the model, and
the SQL built from them."""

from __future__ import annotations

from django.db import connection
from django_tenants.utils import tenant_context

from crm import normalize
from crm.fields import FIELDS, LOADED_FIELDS, MEASURED_FIELDS, MERGED_FIELDS, STANDARD_FIELDS, columns_sql
from crm.models import Affiliate
from crm.selectors.imports import FIELD_LABELS, SYNONYMS
from crm.selectors.quality import QUALITY_FIELDS
from crm.services import affiliates as affiliate_service
from crm.services.imports import sql as import_sql


def test_the_standard_fields_are_one_list_everyone_shares():
    assert normalize.STANDARD_FIELDS is STANDARD_FIELDS
    assert ("_row", *STANDARD_FIELDS, "time_zone", "_reasons", "_rejected") == normalize.OUTPUT_COLUMNS
    assert {*STANDARD_FIELDS, "attributes"} == affiliate_service.WRITABLE_FIELDS
    assert ["_row", *LOADED_FIELDS, "attributes", "key"] == import_sql.STAGING_COLUMNS
    assert [*LOADED_FIELDS, "attributes"] == import_sql.AFFILIATE_COLUMNS
    assert QUALITY_FIELDS == MEASURED_FIELDS == (
        "cpf", "name", "email", "phone", "birth_date", "city", "state", "plan", "origin",
    )  # fmt: skip


def test_each_field_s_facts_are_the_model_s():
    for name, spec in FIELDS.items():
        field = Affiliate._meta.get_field(name)
        assert spec.label == field.verbose_name
        assert spec.required is not field.blank
    assert normalize.MAX_LENGTHS == {"external_id": 64, "name": 200, "city": 120, "plan": 80}
    assert (FIELDS["plan_fee"].kind, FIELDS["plan_fee"].digits) == ("decimal", (10, 2))
    assert (FIELDS["tags"].kind, FIELDS["birth_date"].kind, FIELDS["email"].kind) == ("tags", "date", "text")


def test_the_staging_columns_take_what_the_affiliate_table_holds(udn_a):
    """Each staged column's type is the crm_affiliate column's (text for varchar): a COPY or an
    INSERT ... SELECT from staging never casts."""
    with tenant_context(udn_a), connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMP TABLE fields_probe ({columns_sql(LOADED_FIELDS)})")
        cursor.execute(
            """
            SELECT s.attname, format_type(s.atttypid, s.atttypmod), format_type(a.atttypid, a.atttypmod)
            FROM pg_attribute s
            JOIN pg_attribute a ON a.attrelid = %s::regclass AND a.attname = s.attname
            WHERE s.attrelid = 'fields_probe'::regclass AND s.attnum > 0
            """,
            [Affiliate._meta.db_table],
        )
        types = {name: (staged, stored) for name, staged, stored in cursor.fetchall()}
        cursor.execute("DROP TABLE fields_probe")

    assert set(types) == set(LOADED_FIELDS)
    for name, (staged, stored) in types.items():
        if staged == "text":
            assert stored.startswith("character varying"), name
        elif staged == "text[]":
            assert stored.startswith("character varying") and stored.endswith("[]"), name
        else:
            assert staged == stored, name


def test_the_upsert_keeps_and_records_every_merged_field():
    """Generated once at import: every field a load merges is set, compared and logged."""
    for spec in MERGED_FIELDS:
        assert f"{spec.name} = {spec.kept_sql(f'EXCLUDED.{spec.name}', f'crm_affiliate.{spec.name}')}" in (
            import_sql.UPSERT_SQL
        )
        assert f"{spec.latest_sql()} AS {spec.name}" in import_sql.merged_rows_sql("x")
        if spec.name in STANDARD_FIELDS:
            assert f"('{spec.name}', a.{spec.name}" in import_sql.CHANGES_SQL
    assert "time_zone" not in import_sql.CHANGES_SQL  # derived: not a change someone made


def test_the_import_offers_every_standard_field_and_only_those():
    """The mapping page has its own order and words, over the same fields."""
    assert set(FIELD_LABELS) == set(STANDARD_FIELDS)
    assert set(SYNONYMS) <= set(STANDARD_FIELDS)
