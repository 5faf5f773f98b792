"""The vectorised face of crm.normalize: `frame_normalize`, the polars twin of
`affiliate_record_normalize` for CSV/XLSX imports, built from the same rules (crm.normalize.scalar,
crm.brazil). Per-row Python only runs for the rare values the vectorised rules cannot decide: those
go through the scalar function."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import email_validator
import polars as pl

from crm.brazil import (
    COUNTRY_CODE,
    CPF_LENGTH,
    DEFAULT_TIME_ZONE,
    LANDLINE_NATIONAL_PATTERN,
    MOBILE_NATIONAL_PATTERN,
    STATE_TIME_ZONES,
    cpf_check_digit,
)
from crm.fields import STANDARD_FIELDS
from crm.models import Origin
from crm.normalize.reasons import REJECTING_REASONS, NormalizationError, Reason
from crm.normalize.scalar import (
    _AMOUNT_BR_GROUPED,
    _AMOUNT_DECIMAL,
    _AMOUNT_INTEGER,
    _AMOUNT_US_GROUPED,
    _ORIGIN_KEYS,
    _PHONE_DROPPED,
    _STATE_KEYS,
    AMOUNT_MAX_DIGITS,
    BIRTH_YEAR_MIN,
    CPF_MIN_DIGITS,
    MAX_LENGTHS,
    NAME_PARTICLES,
    TAG_MAX_LENGTH,
    _today,
    email_normalize,
    phone_normalize,
)

# --------------------------------------------------------------------------------------------------------------
# Vectorized (imports)
# --------------------------------------------------------------------------------------------------------------
#
# The same rules as polars expressions. What keeps a million rows at about two seconds (two cores):
# * work comes in stages (lists of expressions run one `with_columns` after another): each stage materialises the
#   helper columns ("_" prefix) that the next reads several times, so no string operation runs twice per row;
# * the low-cardinality fields (birth date, city, state, plan, fee, origin, tags) are computed once per distinct
#   value and joined back onto the rows;
# * reasons travel as bits of an integer mask; the mask becomes the `_reasons` list once per distinct mask.
# Rust's regex engine runs the patterns: they keep to a syntax it and Python's `re` read the same way ([0-9]
# rather than \d, which is Unicode in Rust).

_c = pl.col
_BITS: dict[Reason, int] = {reason: 1 << i for i, reason in enumerate(Reason)}
Stages = list[list[pl.Expr]]


def _bit_if(condition: pl.Expr, reason: Reason) -> pl.Expr:
    return pl.when(condition).then(pl.lit(_BITS[reason], dtype=pl.Int32)).otherwise(pl.lit(0, dtype=pl.Int32))


def _collapse_spaces(text: pl.Expr) -> pl.Expr:
    # Only runs of two or more, or odd blanks (tab, NBSP), are rewritten: most values are left untouched.
    return text.str.replace_all(r"\s{2,}|[^\S ]", " ")


def _title(text: pl.Expr) -> pl.Expr:
    """`name_normalize` over a column: Title Case, particles lower-case after the first word."""
    return _title_particles(_collapse_spaces(text).str.to_titlecase())


def _title_particles(titled: pl.Expr) -> pl.Expr:
    particles_from = [f" {p.title()} " for p in NAME_PARTICLES]
    particles_to = [f" {p} " for p in NAME_PARTICLES]
    # A trailing space lets " Da " match a last word too; two passes catch runs like "Maria Da E Silva".
    padded = pl.concat_str(titled, pl.lit(" "))
    lowered = padded.str.replace_many(particles_from, particles_to).str.replace_many(
        particles_from, particles_to
    )
    return lowered.str.strip_suffix(" ")


def _fold_expr(text: pl.Expr) -> pl.Expr:
    """`_fold` over a column."""
    return _collapse_spaces(text.str.to_lowercase().str.normalize("NFKD").str.replace_all(r"\p{Mn}", ""))


# email-validator's dot-atom characters (escaped: Rust reads "&&", "--", "~~" in a class as set operations).
_ATEXT = r"a-z0-9_!#\$%\&'\*\+\-/=\?\^`\{\|\}\~"
_EMAIL_LABEL = r"[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?"
_EMAIL_TLD = r"(?:[a-z0-9][a-z0-9\-]{0,61})?[a-z]"  # email-validator: a TLD ends with a letter
_EMAIL_FAST_OK = f"^[{_ATEXT}]+(?:\\.[{_ATEXT}]+)*@(?:{_EMAIL_LABEL}\\.)+{_EMAIL_TLD}$"
_EMAIL_SPECIAL_USE = (
    "[.@](?:" + "|".join(re.escape(d) for d in email_validator.SPECIAL_USE_DOMAIN_NAMES) + ")$"
)
# Certainly invalid: not exactly one "@" with no blanks and a dot after it, or a misplaced dot.
_EMAIL_SHAPE = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
_EMAIL_BAD_DOTS = r"\.\.|^\.|\.@|@\.|\.$"


def _row_stages() -> Stages:
    """CPF, phone, e-mail and name over the whole frame (the fields whose values are mostly distinct)."""
    cpf_number = _c("_cpf_number")
    d = [(cpf_number // 10 ** (10 - i)) % 10 for i in range(11)]
    cpf_first = cpf_check_digit(d[:9])  # crm.brazil's rule, over expressions
    cpf_second = cpf_check_digit(d[:10])

    email = _c("_email")
    email_given = _c("email") != ""

    ph_digits = _c("_ph_digits")
    ph_size = ph_digits.str.len_bytes()
    ph_intl = _c("_ph_plus") | ph_digits.str.starts_with("00")
    ph_international = (
        pl.when(ph_digits.str.starts_with("00")).then(ph_digits.str.slice(2)).otherwise(ph_digits)
    )
    ph_after_zero = ph_digits.str.slice(1)
    ph_national = (
        pl.when(ph_intl)
        .then(ph_international.str.slice(2))
        .when(ph_digits.str.starts_with("0"))  # trunk prefix, maybe followed by a two-digit carrier code
        .then(pl.when(ph_size.is_in([13, 14])).then(ph_after_zero.str.slice(2)).otherwise(ph_after_zero))
        .when(ph_digits.str.starts_with(COUNTRY_CODE) & ph_size.is_in([12, 13]))
        .then(ph_digits.str.slice(2))
        .otherwise(ph_digits)
    )
    national = _c("_ph_national")
    national_size = national.str.len_bytes()
    phone_given = _c("phone") != ""
    ph_accepted = (
        phone_given
        & _c("_ph_chars_ok")
        & ~_c("_ph_foreign")
        & ~_c("_ph_size").is_in([8, 9])
        & _c("_ph_mobile")
    )
    ph_bits = (
        pl.when(~phone_given | (_c("_ph_chars_ok") & _c("_ph_foreign")) | ph_accepted)
        .then(0)
        .when(~_c("_ph_chars_ok"))
        .then(_BITS[Reason.PHONE_INVALID])
        .when(_c("_ph_size").is_in([8, 9]))
        .then(_BITS[Reason.PHONE_NO_DDD])
        .when(_c("_ph_landline"))
        .then(_BITS[Reason.PHONE_LANDLINE])
        .otherwise(_BITS[Reason.PHONE_INVALID])
        .cast(pl.Int32)
    )
    return [
        [
            _c("cpf")
            .str.strip_suffix(".0")
            .str.replace_many([".", "-", " "], ["", "", ""])
            .alias("_cpf_digits"),
            _c("phone")
            .str.strip_suffix(".0")
            .str.replace_many(list(_PHONE_DROPPED), [""] * len(_PHONE_DROPPED))
            .alias("_ph"),
            _c("email").str.to_lowercase().alias("_email"),
            # Names take the longest: split over two stages to share the cores.
            _collapse_spaces(_c("name")).str.to_titlecase().alias("name"),
        ],
        [
            _title_particles(_c("name")).alias("name"),
            _c("_cpf_digits").str.contains(f"^[0-9]{{{CPF_MIN_DIGITS},{CPF_LENGTH}}}$").alias("_cpf_shape"),
            _c("_cpf_digits").str.to_integer(strict=False).alias("_cpf_number"),
            _c("_ph").str.starts_with("+").alias("_ph_plus"),
            _c("_ph").str.strip_prefix("+").alias("_ph_digits"),
            # Plain ASCII addresses are decided here; what neither rule settles (international characters,
            # Punycode, special-use domains, quoting...) is rare and goes through `email_normalize` (`_fallback`).
            (
                email.str.contains(_EMAIL_FAST_OK)
                & (email.str.len_bytes() <= 254)
                & ~email.str.contains("--", literal=True)
                & ~email.str.contains(_EMAIL_SPECIAL_USE)
            ).alias("_email_ok"),
        ],
        [
            (
                _c("_cpf_shape")
                & (cpf_first == d[9])
                & (cpf_second == d[10])
                & (
                    cpf_number % 11111111111 != 0
                )  # 000..., 111..., 999...: repeated digits, refused by validate-docbr
            )
            .fill_null(False)
            .alias("_cpf_valid"),
            ph_digits.str.contains("^[0-9]+$").alias("_ph_chars_ok"),
            # Dialled with "+" or "00" and another country code than 55: refused (crm.brazil: Brazilian mobiles
            # only). Rare, and whether it is a foreign number or no number at all takes libphonenumber's metadata
            # of every country: left undecided here, they go through `phone_normalize` (`_fallback`).
            (ph_intl & ~ph_international.str.starts_with(COUNTRY_CODE)).alias("_ph_foreign"),
            ph_national.alias("_ph_national"),
            pl.when(_c("_email_ok")).then(email).otherwise(pl.lit("")).alias("email"),
            pl.lit(0, dtype=pl.Int32).alias("_email_bits"),
            (email_given & ~_c("_email_ok")).alias("_email_todo"),  # settled by `_email_undecided`
        ],
        [
            pl.when(_c("_cpf_valid"))
            .then(_c("_cpf_digits").str.zfill(CPF_LENGTH))
            .otherwise(pl.lit(""))
            .alias("cpf"),
            _bit_if((_c("cpf") != "") & ~_c("_cpf_valid"), Reason.CPF_INVALID).alias("_cpf_bits"),
            national_size.alias("_ph_size"),
            # An old 8-digit mobile (first digit 6-9 after the DDD) gets its 9.
            pl.when((national_size == 10) & national.str.slice(2, 1).is_in(["6", "7", "8", "9"]))
            .then(pl.concat_str(national.str.slice(0, 2), pl.lit("9"), national.str.slice(2)))
            .otherwise(national)
            .alias("_ph_national"),
        ],
        [
            # crm.brazil.phone_kind as patterns.
            national.str.contains(f"^(?:{MOBILE_NATIONAL_PATTERN})$").alias("_ph_mobile"),
            national.str.contains(f"^(?:{LANDLINE_NATIONAL_PATTERN})$").alias("_ph_landline"),
        ],
        [
            pl.when(ph_accepted)
            .then(pl.concat_str(pl.lit(f"+{COUNTRY_CODE}"), national))
            .otherwise(pl.lit(""))
            .alias("phone"),
            ph_bits.alias("_phone_bits"),
            (phone_given & _c("_ph_chars_ok") & _c("_ph_foreign")).alias("_phone_todo"),
        ],
    ]


# Low-cardinality fields: stages over a frame of distinct raw values "v", stripped into "s".

_DATE_ISO_PATTERN = r"^([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})(?:[T ][0-9:.+\-Z]*)?$"
_DATE_BR_PATTERN = r"^([0-9]{1,2})[/.\-]([0-9]{1,2})[/.\-]([0-9]{4}|[0-9]{2})$"


def _birth_date_stages(today: date) -> Stages:
    iso, br, parsed = _c("_iso"), _c("_br"), _c("_parsed")
    out_of_range = (parsed > pl.lit(today)) | (parsed.dt.year() < BIRTH_YEAR_MIN)
    return [
        [
            _c("s").str.extract_groups(_DATE_ISO_PATTERN).alias("_iso"),
            _c("s").str.extract_groups(_DATE_BR_PATTERN).alias("_br"),
        ],
        [
            pl.coalesce(iso.struct.field("1"), br.struct.field("3")).alias("_year"),
            pl.coalesce(iso.struct.field("2"), br.struct.field("2")).str.zfill(2).alias("_month"),
            pl.coalesce(iso.struct.field("3"), br.struct.field("1")).str.zfill(2).alias("_day"),
            (br.struct.field("3").str.len_bytes() == 2).fill_null(False).alias("_two_digit"),
        ],
        [
            pl.concat_str(
                pl.when(_c("_two_digit"))
                .then(pl.concat_str(pl.lit("20"), _c("_year")))
                .otherwise(_c("_year")),
                _c("_month"),
                _c("_day"),
                separator="-",
            )
            .str.to_date("%Y-%m-%d", strict=False)
            .alias("_parsed")
        ],
        [
            # "17/05/90": 20xx unless that is still to come, then 19xx.
            pl.when(_c("_two_digit") & (parsed > pl.lit(today)))
            .then(parsed.dt.offset_by("-100y"))
            .otherwise(parsed)
            .alias("_parsed")
        ],
        [
            pl.when(_c("s") == "")
            .then(0)
            .when(parsed.is_null())
            .then(_BITS[Reason.BIRTH_DATE_INVALID])
            .when(out_of_range)
            .then(_BITS[Reason.BIRTH_DATE_FUTURE])
            .otherwise(0)
            .cast(pl.Int32)
            .alias("_birth_bits")
        ],
        [
            pl.when(_c("_birth_bits") == 0)
            .then(parsed)
            .otherwise(pl.lit(None, dtype=pl.Date))
            .alias("birth_date")
        ],
    ]


def _amount_stages() -> Stages:
    text = _c("_text")
    whole = _c("_whole")
    thousandths = _c("_thousandths")
    max_whole = AMOUNT_MAX_DIGITS - 2
    cents = _c("_cents")
    return [
        [_c("s").str.replace_all(r"(?i)r\$|\s", "").alias("_unsigned")],
        [
            _c("_unsigned").str.starts_with("-").alias("_negative"),
            _c("_unsigned").str.strip_prefix("-").alias("_text"),
        ],
        [
            # Canonical "whole.fraction": the decimal separator becomes ".", grouping separators go.
            pl.when(text.str.contains(f"^(?:{_AMOUNT_INTEGER})$"))
            .then(text)
            .when(text.str.contains(f"^(?:{_AMOUNT_BR_GROUPED})$"))
            .then(text.str.replace_all(".", "", literal=True).str.replace(",", ".", literal=True))
            .when(text.str.contains(f"^(?:{_AMOUNT_US_GROUPED})$"))
            .then(text.str.replace_all(",", "", literal=True))
            .when(text.str.contains(f"^(?:{_AMOUNT_DECIMAL})$"))
            .then(text.str.replace(",", ".", literal=True))
            .str.split_exact(".", 1)
            .alias("_parts")
        ],
        [
            _c("_parts").struct.field("field_0").str.strip_chars_start("0").alias("_whole"),
            pl.concat_str(_c("_parts").struct.field("field_1").fill_null(""), pl.lit("000"))
            .str.slice(0, 3)
            .str.to_integer(strict=False)
            .alias("_thousandths"),
        ],
        [
            (
                pl.when(whole == "")
                .then(0)
                .otherwise(whole.str.slice(0, max_whole + 1).str.to_integer(strict=False))
                * 100
                + thousandths // 10
                + (thousandths % 10 >= 5).cast(pl.Int64)  # half-up, as Decimal.quantize(ROUND_HALF_UP)
            ).alias("_cents"),
        ],
        [
            (
                _c("_parts").struct.field("field_0").is_not_null()
                & (whole.str.len_bytes() <= max_whole)
                & (cents < 10**AMOUNT_MAX_DIGITS)
            )
            .fill_null(False)
            .alias("_valid")
        ],
        [
            pl.when(_c("_valid") & (_c("_unsigned") != ""))
            .then(
                pl.concat_str(
                    pl.when(_c("_negative") & (cents > 0)).then(pl.lit("-")).otherwise(pl.lit("")),
                    (cents // 100).cast(pl.Utf8),
                    pl.lit("."),
                    (cents % 100).cast(pl.Utf8).str.zfill(2),
                )
            )
            .otherwise(pl.lit(None, dtype=pl.Utf8))
            .alias("plan_fee"),
            # "R$" alone counts as blank, as in `amount_parse`.
            _bit_if((_c("_unsigned") != "") & ~_c("_valid"), Reason.AMOUNT_INVALID).alias("_fee_bits"),
        ],
    ]


def _state_stages() -> Stages:
    state = _c("_state")
    return [
        [_fold_expr(_c("s")).replace_strict(_STATE_KEYS, default=None, return_dtype=pl.Utf8).alias("_state")],
        [
            state.fill_null("").alias("state"),
            _bit_if((_c("s") != "") & state.is_null(), Reason.STATE_INVALID).alias("_state_bits"),
            pl.when(state.is_null())
            .then(pl.lit(""))
            .otherwise(
                state.replace_strict(STATE_TIME_ZONES, default=DEFAULT_TIME_ZONE, return_dtype=pl.Utf8)
            )
            .alias("time_zone"),
        ],
    ]


def _origin_stages() -> Stages:
    origin = _fold_expr(_c("s")).replace_strict(_ORIGIN_KEYS, default=str(Origin.OTHER), return_dtype=pl.Utf8)
    return [[pl.when(_c("s") == "").then(pl.lit("")).otherwise(origin).alias("origin")]]


def _tags_stages() -> Stages:
    tag = pl.element().str.strip_chars().str.to_lowercase().str.slice(0, TAG_MAX_LENGTH).str.strip_chars()
    tags = (
        _c("s")
        .str.replace_all(r"[;|]", ",")
        .str.split(",")
        .list.eval(tag)
        .list.eval(pl.element().filter(pl.element() != ""))
        .list.unique(maintain_order=True)
    )
    # Carried as "a,b" text (no tag holds a separator) and split at the end: a list column is slow to spread.
    return [[tags.list.join(",").alias("_tags")]]


def _run(frame: pl.DataFrame, stages: Stages) -> pl.DataFrame:
    """The stages one after the other (lazily: measured faster than eager `with_columns`, same results)."""
    query = frame.lazy()
    for stage in stages:
        query = query.with_columns(stage)
    return query.collect()


def _distinct_index(values: pl.Series) -> tuple[pl.Series, pl.Series]:
    """The distinct values, and for every row the index of its value among them.

    Rows are matched through a 64-bit hash (an integer join: several times cheaper than joining the strings), and
    the match is checked against the strings themselves.
    """
    hashes = values.hash()
    first = hashes.arg_unique()
    distinct = values.gather(first)
    table = pl.DataFrame(
        {"h": hashes.gather(first), "_i": pl.int_range(0, first.len(), eager=True, dtype=pl.UInt32)}
    )
    index = (
        pl.DataFrame({"h": hashes}).join(table, on="h", how="left", maintain_order="left").get_column("_i")
    )
    if index.len() == values.len() and (distinct.gather(index) == values).all():
        return distinct, index
    # Two values with one hash (never seen, but possible): the exact, slower way.
    keys = values.alias("v").to_frame()
    exact = keys.unique(maintain_order=True).with_row_index("_i")
    index = keys.join(exact, on="v", how="left", maintain_order="left").get_column("_i")
    return exact.get_column("v"), index


def _map_distinct(values: pl.Series, stages: Stages, outputs: tuple[str, ...]) -> pl.DataFrame:
    """Run `stages` once per distinct value of `values` and spread their `outputs` back over the rows."""
    distinct, index = _distinct_index(values)
    frame = pl.DataFrame({"s": distinct.str.strip_chars()})
    return _run(frame, stages).select(outputs)[index]


def _as_text(series: pl.Series, *, strip: bool = True, decimal_comma: bool = False) -> pl.Series:
    """A column as text ("" for null, stripped unless told): integral floats lose their ".0" (spreadsheets).

    Dates come out ISO; with `decimal_comma`, other floats are written "123,456" so the amount rules cannot read
    a thousands dot.
    """
    if series.dtype == pl.Utf8:
        text = series
    elif series.dtype.is_float():
        integral = series.is_finite() & (series == series.round(0)) & (series.abs() < 1e15)
        fractional = series.cast(pl.Utf8)
        if decimal_comma:
            fractional = fractional.str.replace(".", ",", literal=True)
        text = pl.select(
            pl.when(integral).then(series.cast(pl.Int64, strict=False).cast(pl.Utf8)).otherwise(fractional)
        ).to_series()
    else:
        text = series.cast(pl.Utf8, strict=False)
    if strip:
        text = text.str.strip_chars()
    return text.fill_null("").alias(series.name)


def _fallback(frame: pl.DataFrame, raw: pl.Series, *, name: str, function: Any) -> pl.DataFrame:
    """Run the scalar `function` on the few rows marked `_<name>_todo`; write their value and reason bits."""
    indices = frame.get_column(f"_{name}_todo").arg_true()
    if indices.len() == 0:
        return frame
    decided: dict[str, tuple[str, int]] = {}
    for value in raw.gather(indices).unique().to_list():
        try:
            decided[value] = (function(value), 0)
        except NormalizationError as exc:
            decided[value] = ("", _BITS[exc.reason])
    values = raw.gather(indices).to_list()
    return frame.with_columns(
        frame.get_column(name).scatter(indices, pl.Series([decided[v][0] for v in values], dtype=pl.Utf8)),
        frame.get_column(f"_{name}_bits").scatter(
            indices, pl.Series([decided[v][1] for v in values], dtype=pl.Int32)
        ),
    )


def _email_undecided(frame: pl.DataFrame) -> pl.DataFrame:
    """The addresses the fast rule did not accept: certainly invalid ones get their bit, the rest stay to do."""
    indices = frame.get_column("_email_todo").arg_true()
    if indices.len() == 0:
        return frame
    email = frame.get_column("_email").gather(indices)
    bad = pl.select(~email.str.contains(_EMAIL_SHAPE) | email.str.contains(_EMAIL_BAD_DOTS)).to_series()
    return frame.with_columns(
        frame.get_column("_email_bits").scatter(indices, bad.cast(pl.Int32) * _BITS[Reason.EMAIL_INVALID]),
        frame.get_column("_email_todo").scatter(indices, ~bad),
    )


def _reason_lists(mask: pl.Series) -> pl.Series:
    """The `_reasons` lists of a mask column, built once per distinct mask."""
    distinct = mask.unique()
    lists = pl.Series(
        "_reasons",
        [[str(r) for r in Reason if m & _BITS[r]] for m in distinct.to_list()],
        dtype=pl.List(pl.Utf8),
    )
    table = pl.DataFrame([distinct.alias("_mask"), lists])
    return (
        mask.alias("_mask").to_frame().join(table, on="_mask", how="left", maintain_order="left")["_reasons"]
    )


OUTPUT_COLUMNS: tuple[str, ...] = ("_row", *STANDARD_FIELDS, "time_zone", "_reasons", "_rejected")
# The bits of the reasons an import rejects a row for.
_REJECTING_MASK = sum(_BITS[r] for r in REJECTING_REASONS)


def frame_normalize(df: pl.DataFrame, *, today: date | None = None) -> pl.DataFrame:
    """Normalize a frame of raw import rows: the vectorized twin of `affiliate_record_normalize`.

    Input: text columns named after `STANDARD_FIELDS` (any subset; missing ones count as blank; numbers, floats
    and dates are turned into text first) and an integer "_row" column. Output (`OUTPUT_COLUMNS`), one row per
    input row in the same order: "_row", the standard fields ("" when blank or rejected; birth_date as pl.Date
    and plan_fee as an exact decimal string like "1234.56", both null when blank or rejected; tags a list),
    "time_zone" (from the state, "" when unknown), "_reasons" (the row's `Reason` codes, empty when it is
    valid) and "_rejected" (whether an import rejects the row; if not, its reasons are warnings: see
    `REJECTING_REASONS`). A blank external_id takes the CPF.
    """
    today = today or _today()
    height = df.height

    def column(name: str, **options: bool) -> pl.Series:
        if name in df.columns:
            return _as_text(df.get_column(name), **options)
        return pl.Series(name, [""] * height, dtype=pl.Utf8)

    row = df.get_column("_row") if "_row" in df.columns else pl.Series("_row", range(height), dtype=pl.Int64)
    frame = pl.DataFrame(
        [row.alias("_row"), *(column(n) for n in ("external_id", "cpf", "name", "email", "phone"))]
    )
    frame = _run(frame, _row_stages())
    frame = _fallback(frame, column("phone"), name="phone", function=phone_normalize)
    frame = _fallback(_email_undecided(frame), column("email"), name="email", function=email_normalize)

    distinct_fields: list[tuple[str, Stages, tuple[str, ...]]] = [
        ("birth_date", _birth_date_stages(today), ("birth_date", "_birth_bits")),
        ("city", [[_title(_c("s")).alias("city")]], ("city",)),
        ("state", _state_stages(), ("state", "time_zone", "_state_bits")),
        ("plan", [[_collapse_spaces(_c("s")).alias("plan")]], ("plan",)),
        ("plan_fee", _amount_stages(), ("plan_fee", "_fee_bits")),
        ("origin", _origin_stages(), ("origin",)),
        ("tags", _tags_stages(), ("_tags",)),
    ]
    mapped = [
        _map_distinct(column(name, strip=False, decimal_comma=name == "plan_fee"), stages, outputs)
        for name, stages, outputs in distinct_fields
    ]
    frame = pl.concat([frame, *mapped], how="horizontal")

    external_id = pl.when(_c("external_id") == "").then(_c("cpf")).otherwise(_c("external_id"))
    too_long = pl.any_horizontal(
        *(
            (external_id if n == "external_id" else _c(n)).str.len_chars() > limit
            for n, limit in MAX_LENGTHS.items()
        )
    )
    mask = pl.sum_horizontal(
        _bit_if((_c("external_id") == "") & (_c("cpf") == ""), Reason.ID_MISSING),
        _c("_cpf_bits"),
        _bit_if(_c("name") == "", Reason.NAME_MISSING),
        _c("_email_bits"),
        _c("_phone_bits"),
        _c("_birth_bits"),
        _c("_state_bits"),
        _c("_fee_bits"),
        _bit_if(too_long, Reason.VALUE_TOO_LONG),
    )
    out = frame.select(
        _c("_row"),
        external_id.alias("external_id"),
        *(_c(n) for n in STANDARD_FIELDS[1:-1]),
        pl.when(_c("_tags") == "")
        .then(pl.lit([], dtype=pl.List(pl.Utf8)))
        .otherwise(_c("_tags").str.split(","))
        .alias("tags"),
        _c("time_zone"),
        mask.alias("_mask"),
    )
    return out.with_columns(
        _reason_lists(out.get_column("_mask")),
        ((_c("_mask") & _REJECTING_MASK) != 0).alias("_rejected"),
    ).drop("_mask")
