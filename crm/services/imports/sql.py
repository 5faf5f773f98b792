"""The import's SQL, generated once from the standard fields (crm.fields): the staging table, the
merge of the keys a file repeats, the changes recorded, the insert and the upsert. Built from
constant field lists, never from input."""

from __future__ import annotations

from crm.fields import LOADED_FIELDS, MERGED_FIELDS, MERGED_TEXT_FIELDS, STANDARD_FIELDS, columns_sql

# Columns of the staging table, in COPY order.
STAGING_COLUMNS = ["_row", *LOADED_FIELDS, "attributes", "key"]
# Text fields an import may change on an existing affiliate (blank values in the file never erase).
UPSERT_TEXT_FIELDS = list(MERGED_TEXT_FIELDS)

PROBLEMS_COPY_SQL = (
    "COPY crm_rejectedrow (job_id, row_number, reasons, data, imported) FROM STDIN (FORMAT csv)"
)


STAGING_TABLE_SQL = f"CREATE TEMP TABLE import_staging (_row bigint, {columns_sql(LOADED_FIELDS)}, attributes jsonb, key text)"


# Field by field the latest staged value (crm.fields), generated once.
_LATEST_SQL = "".join(f"{field.latest_sql()} AS {field.name},\n        " for field in MERGED_FIELDS)
_MERGED_NAMES = ", ".join(field.name for field in MERGED_FIELDS)


def merged_rows_sql(source: str, *, where: str = "TRUE") -> str:
    """One row per key of the staged rows in `source` (columns _row, key and the standard fields):
    field by field the value of the latest row that has one, tags as a whole from the latest row
    with tags, attributes merged (later rows win). Shared by the import and the API's bulk upsert."""
    return f"""
    SELECT key,
        {_LATEST_SQL}coalesce(jsonb_object_agg(kv.k, kv.v ORDER BY _row) FILTER (WHERE kv.k IS NOT NULL), '{{}}') AS attributes
    FROM {source}
    LEFT JOIN LATERAL jsonb_each(attributes) AS kv(k, v) ON kv.v <> '""'
    WHERE {where}
    GROUP BY key
    """  # noqa: S608 - constant names only


# Only the keys the file repeats are aggregated; the others are copied as they are.
MERGE_SQL = f"""
    CREATE TEMP TABLE import_merged AS
    {merged_rows_sql("import_staging", where="key IN (SELECT key FROM import_staging GROUP BY key HAVING count(*) > 1)")}
    UNION ALL
    SELECT key, {_MERGED_NAMES}, attributes
    FROM import_staging
    WHERE key IN (SELECT key FROM import_staging GROUP BY key HAVING count(*) = 1)
"""  # noqa: S608 - constant names only

CHANGES_SQL = f"""
    INSERT INTO crm_affiliatechange (affiliate_id, import_job_id, changes, source, changed_at)
    SELECT a.id, %(job)s, ch.changes, 'import', now()
    FROM {{source}} m
    JOIN crm_affiliate a ON a.external_id = m.key
    CROSS JOIN LATERAL (
        SELECT jsonb_object_agg(f, jsonb_build_array(o, n)) AS changes
        FROM (VALUES
            {", ".join(f.change_sql(f"a.{f.name}", f"m.{f.name}") for f in MERGED_FIELDS if f.name in STANDARD_FIELDS)}
        ) AS v(f, o, n)
        WHERE n IS NOT NULL AND n <> '' AND n IS DISTINCT FROM o
    ) AS ch
    WHERE ch.changes IS NOT NULL
"""  # noqa: S608 - constant names only

# What an affiliate created by an import starts with, beside the file's fields (SQL expressions).
# The consent fields (one per channel) and the channels' other addresses have a database default.
NEW_AFFILIATE = {
    "stage": "'lead'",
    "tier": "''",
    "total_cash_in": "0",
    "created_at": "now()",
    "updated_at": "now()",
}
# The file's fields as crm_affiliate names them, in COPY order.
AFFILIATE_COLUMNS = [*LOADED_FIELDS, "attributes"]

# Built from the constant field lists above, never from input.
_inserted = ", ".join(["key", *(field.inserted_sql(field.name) for field in MERGED_FIELDS)])
INSERT_SQL = f"""
    INSERT INTO crm_affiliate ({", ".join(AFFILIATE_COLUMNS)}, {", ".join(NEW_AFFILIATE)})
    SELECT {_inserted}, coalesce(attributes, '{{}}'),
        {", ".join(NEW_AFFILIATE.values())}
    FROM {{source}}
"""  # noqa: S608

_kept = [field.kept_sql(f"EXCLUDED.{field.name}", f"crm_affiliate.{field.name}") for field in MERGED_FIELDS]
_updated = ",\n".join(f"{field.name} = {kept}" for field, kept in zip(MERGED_FIELDS, _kept, strict=True))
_old = ", ".join(f"crm_affiliate.{field.name}" for field in MERGED_FIELDS)
_new = ", ".join(_kept)
UPSERT_SQL = f"""
    WITH upserted AS (
        {INSERT_SQL}
        ON CONFLICT (external_id) DO UPDATE SET
            {_updated},
            attributes = crm_affiliate.attributes || EXCLUDED.attributes,
            updated_at = now()
        WHERE ({_old}, crm_affiliate.attributes)
          IS DISTINCT FROM
              ({_new}, crm_affiliate.attributes || EXCLUDED.attributes)
        RETURNING id, (xmax = 0) AS inserted
    ),
    -- Each affiliate created gets its creation on its timeline: an AffiliateChange with no
    -- changes. Not when the caller says the base was empty (millions of rows saying what the
    -- import's counters say: crm.selectors.affiliates.affiliate_import_origin finds that import).
    created AS (
        INSERT INTO crm_affiliatechange (affiliate_id, import_job_id, changes, source, changed_at)
        SELECT id, %(job)s, '{{}}', %(source)s, now() FROM upserted WHERE inserted AND %(record_created)s
    )
    SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM upserted
"""  # noqa: S608

# Rows without the UDN's code (their key is still NULL) are known by the CPF: the code of the
# newest row of this file with that CPF, else of the affiliate already in the base (the oldest, if the
# base has the CPF twice), else a new affiliate keyed "cpf:<CPF>". Run only when such rows exist.
KEYS_SQL = [
    """
    UPDATE import_staging s SET key = f.key
    FROM (SELECT DISTINCT ON (cpf) cpf, key FROM import_staging
          WHERE key IS NOT NULL AND cpf IN (SELECT cpf FROM import_staging WHERE key IS NULL)
          ORDER BY cpf, _row DESC) f
    WHERE s.key IS NULL AND s.cpf = f.cpf
    """,
    """
    UPDATE import_staging s SET key = a.external_id
    FROM (SELECT DISTINCT ON (cpf) cpf, external_id FROM crm_affiliate
          WHERE cpf IN (SELECT cpf FROM import_staging WHERE key IS NULL)
          ORDER BY cpf, id) a
    WHERE s.key IS NULL AND s.cpf = a.cpf
    """,
    "UPDATE import_staging SET key = 'cpf:' || cpf WHERE key IS NULL",
]
