"""What a batch of an import file becomes: its columns mapped to the standard fields, normalised
(crm.normalize) and split into the rows to import and the rows with problems, with their reasons.

A pure computation over polars frames, neither a service nor a selector: the import's run
(crm.services.imports) stores what it gives, the preview (crm.selectors.imports) shows it.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
from django.utils.translation import gettext as _

from crm.fields import STANDARD_FIELDS
from crm.normalize import frame_normalize, reason_message
from crm.readers import EXTRA_PREFIX, PROBLEM_COLUMN, UNCLOSED_QUOTE

# A mapping's target for a custom attribute: "attr:<name>" (the other targets are standard fields).
ATTRIBUTE_PREFIX = "attr:"
# Where a rejected row keeps the fields it had beyond the header (an unquoted separator).
EXTRA_KEY = "+"


@dataclass(frozen=True)
class PreparedBatch:
    """A batch split in two: `valid`, the rows to import (standard fields, `attributes` JSON text,
    `key`), and `problems`, the rows with reasons (`_row`, `_reasons` codes, `_messages` for people,
    `_raw` the row as read, JSON, `_imported`: true when the row is imported all the same, its bad
    optional fields left blank, false when it is rejected)."""

    valid: pl.DataFrame
    problems: pl.DataFrame

    @property
    def warned(self) -> int:
        """Rows imported with warnings."""
        return int(self.problems.get_column("_imported").sum())

    @property
    def rejected(self) -> int:
        return self.problems.height - self.warned


def frame_prepare(*, batch: pl.DataFrame, mapping: dict[str, str]) -> PreparedBatch:
    """Map a raw batch (file columns + _row) to the standard fields, normalise, and split."""
    headers = [
        c for c in batch.columns if c not in ("_row", PROBLEM_COLUMN) and not c.startswith(EXTRA_PREFIX)
    ]
    extras = [c for c in batch.columns if c.startswith(EXTRA_PREFIX)]
    renames = {
        h: t for h, t in mapping.items() if t and not t.startswith(ATTRIBUTE_PREFIX) and h in batch.columns
    }
    standard = batch.select(
        "_row",
        *[pl.col(h).alias(t) for h, t in renames.items()],
        *[pl.lit("").alias(f) for f in STANDARD_FIELDS if f not in renames.values()],
    )
    normalised = frame_normalize(standard)
    attribute_columns = {
        t[len(ATTRIBUTE_PREFIX) :].strip(): h
        for h, t in mapping.items()
        if t.startswith(ATTRIBUTE_PREFIX) and h in batch.columns
    }
    if attribute_columns:
        attributes = pl.struct(
            [pl.col(h).alias(k) for k, h in attribute_columns.items()]
        ).struct.json_encode()
    else:
        attributes = pl.lit("{}")
    extra = (
        pl.concat_str([pl.col(c) for c in extras], separator=";").str.strip_chars(";")
        if extras
        else pl.lit("")
    )
    # frame_normalize keeps the row order, so the raw side is glued on, not joined.
    # frame_normalize lets a blank code take the CPF; the import instead resolves such rows against
    # the base first (an affiliate already known by that CPF keeps its code), so they get no key yet.
    code = next((h for h, t in renames.items() if t == "external_id"), None)
    blank_code = pl.col(code).str.strip_chars() == "" if code else pl.lit(True)
    side = batch.select(
        attributes.alias("attributes"),
        extra.alias("_extra"),
        blank_code.alias("_blank_code"),
        # A row the reader could only read in part (see crm.readers.PROBLEM_COLUMN) is rejected.
        (pl.col(PROBLEM_COLUMN) if PROBLEM_COLUMN in batch.columns else pl.lit("")).alias("_problem"),
    )
    combined = pl.concat([normalised, side], how="horizontal").with_columns(
        pl.when(pl.col("_blank_code"))
        .then(pl.lit(None, pl.Utf8))
        .otherwise(pl.col("external_id"))
        .alias("key")
    )
    # Imported: a usable identity and a name (bad optional fields are blank already, see frame_normalize).
    is_valid = ~pl.col("_rejected") & (pl.col("_extra") == "") & (pl.col("_problem") == "")
    flags = combined.select(is_valid.alias("valid"), (pl.col("_reasons").list.len() > 0).alias("reasons"))
    valid = combined.filter(flags.get_column("valid"))
    # The rarer rows with problems get the costly parts: messages and the row as read.
    problem_mask = flags.select(~pl.col("valid") | pl.col("reasons")).to_series()
    rejected = combined.filter(problem_mask).select(
        "_row", "_reasons", "_extra", "_problem", is_valid.alias("_imported")
    )
    raw = batch.filter(problem_mask).select(pl.struct([pl.col(h) for h in headers]).alias("_raw_struct"))
    rejected = pl.concat([rejected, raw], how="horizontal")
    too_many = (
        pl.when(pl.col("_extra") != "")
        .then(pl.lit(["too_many_columns"]))
        .otherwise(pl.lit([], pl.List(pl.Utf8)))
    )
    problem = (
        pl.when(pl.col("_problem") != "")
        .then(pl.concat_list("_problem"))
        .otherwise(pl.lit([], pl.List(pl.Utf8)))
    )
    rejected = rejected.with_columns(pl.concat_list(too_many, problem, pl.col("_reasons")).alias("_reasons"))
    messages = {code: _reason_text(code) for code in _all_codes(rejected)}
    rejected = rejected.with_columns(
        pl.col("_reasons")
        .list.eval(pl.element().replace_strict(messages, default=pl.element()))
        .alias("_messages"),
        pl.when(pl.col("_extra") != "")
        .then(
            pl.col("_raw_struct").struct.with_fields(pl.col("_extra").alias(EXTRA_KEY)).struct.json_encode()
        )
        .otherwise(pl.col("_raw_struct").struct.json_encode())
        .alias("_raw"),
    ).drop("_raw_struct", "_extra", "_problem")
    return PreparedBatch(
        valid=valid.drop("_reasons", "_rejected", "_extra", "_blank_code", "_problem"), problems=rejected
    )


def _all_codes(frame: pl.DataFrame) -> list[str]:
    return frame.select(pl.col("_reasons").explode().drop_nulls().unique()).to_series().to_list()


def _reason_text(code: str) -> str:
    if code == "too_many_columns":
        return _("more columns than the header (a separator inside a value?)")
    if code == UNCLOSED_QUOTE:
        return _('a quote (") is not closed properly (the line was read as plain text)')
    return str(reason_message(code))
