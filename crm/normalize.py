"""The one place where Brazilian affiliate data is cleaned.

Two faces over the same rules:

* scalar functions (`cpf_normalize`, `phone_normalize`, ...) for single records (API, forms). They lean on
  crm.brazil (the Brazilian rules: CPF, phone, accents, state → time zone) and email-validator, return
  ""/None for blank input and raise `NormalizationError(reason)` for bad input;
* `frame_normalize`, the vectorized twin for CSV/XLSX imports: the same rules written as polars expressions (a
  million rows in about two seconds on two cores), built from crm.brazil's definitions. Per-row Python only
  runs for the rare values the vectorized rules cannot decide (numbers dialled to another country, unusual
  e-mail addresses): those go through the scalar function.

`crm/tests/test_normalize.py` runs a corpus through both faces and checks they agree value by value.

Rules worth knowing (shared by both faces):

* Blank (None, "", spaces) is never an error: "" for text, None/null for dates and amounts, [] for tags.
* CPF: digits, dots, dashes and spaces only (the trailing ".0" of a float column is dropped); a number that lost
  its leading zeros to a spreadsheet is padded back to 11 digits (at most three lost zeros); check digits as
  crm.brazil computes them; repeated digits (111.111.111-11) are invalid.
* Phone: Brazilian mobiles only (the product writes by WhatsApp and SMS to Brazilian affiliates). Numbers are
  reduced to DDD + number (country code 55, trunk prefix 0, carrier code after the 0, the "xx" of "0xx11" all
  dropped); an old 8-digit mobile after a DDD (first digit 6-9) gets its 9; it must then be a mobile as
  crm.brazil says: a DDD in use, then nine digits beginning with 9; stored as "+55DD9XXXXXXXX". "+" (or "00")
  with another country code is phone_foreign (phone_invalid when no country has such a number); a landline is
  phone_landline.
* E-mail: email-validator's syntax rules without DNS (special-use domains like .local/.test refused), lower-cased.
* Names and cities: spaces collapsed, Title Case, da/de/do/das/dos/e lower-case after the first word.
* Amount: "R$", spaces and a leading "-" are allowed; "." or "," is the decimal separator, except that a dot
  followed by groups of exactly three digits is a thousands separator ("1.234" is 1234, as Brazilians write it);
  rounded half-up to two places; at most 8 digits before the decimal separator (the model's max_digits=10).
* Birth date: dd/mm/aaaa, dd/mm/aa (20aa, or 19aa when 20aa is still to come), dd-mm-aaaa, dd.mm.aaaa,
  aaaa-mm-dd (with an optional time, as XLSX values come); not in the future, not before 1900.
* Tags: split on ; , |, trimmed, lower-cased, cut to 40 characters, deduplicated in order.
* Too long for its column (external_id 64, name 200, city 120, plan 80): value_too_long.

What a reason costs (`REJECTING_REASONS`): the API refuses a record with any reason; an import rejects only the rows
without a usable identity (code or valid CPF), without a name, or with a value longer than its column. A row whose
other fields are bad (phone, e-mail, birth date, state, amount) is imported with those fields left blank and its
reasons kept as warnings (`_rejected` false); on an update a blank never erases, so the stored value stays.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

import email_validator
import phonenumbers
import polars as pl
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop

from crm.brazil import (
    COUNTRY_CODE,
    CPF_LENGTH,
    DEFAULT_TIME_ZONE,
    LANDLINE_NATIONAL_PATTERN,
    MOBILE_NATIONAL_PATTERN,
    STATE_TIME_ZONES,
    STATES,
    cpf_check_digit,
    cpf_valid,
    fold,
    phone_kind,
)
from crm.fields import FIELDS, STANDARD_FIELDS
from crm.models import Origin

__all__ = [
    "OUTPUT_COLUMNS",
    "REJECTING_REASONS",
    "STANDARD_FIELDS",
    "NormalizationError",
    "NormalizedRecord",
    "Reason",
    "affiliate_record_normalize",
    "amount_parse",
    "birth_date_parse",
    "city_normalize",
    "cpf_normalize",
    "email_normalize",
    "frame_normalize",
    "name_normalize",
    "origin_normalize",
    "phone_normalize",
    "reason_message",
    "state_normalize",
    "state_time_zone",
    "tags_parse",
]


# --------------------------------------------------------------------------------------------------------------
# Reasons
# --------------------------------------------------------------------------------------------------------------


class Reason(StrEnum):
    """Why a value (or a row) was rejected. The order here is the order of a row's `_reasons`."""

    ID_MISSING = "id_missing"
    CPF_INVALID = "cpf_invalid"
    NAME_MISSING = "name_missing"
    EMAIL_INVALID = "email_invalid"
    PHONE_NO_DDD = "phone_no_ddd"
    PHONE_INVALID = "phone_invalid"
    PHONE_LANDLINE = "phone_landline"
    PHONE_FOREIGN = "phone_foreign"
    BIRTH_DATE_INVALID = "birth_date_invalid"
    BIRTH_DATE_FUTURE = "birth_date_future"
    STATE_INVALID = "state_invalid"
    AMOUNT_INVALID = "amount_invalid"
    VALUE_TOO_LONG = "value_too_long"


# English msgids; a translator gives them their pt-BR text in locale/. What the users should read:
#   id_missing          "sem código nem CPF"
#   cpf_invalid         "CPF inválido"
#   name_missing        "nome vazio"
#   email_invalid       "e-mail inválido"
#   phone_no_ddd        "telefone sem DDD"
#   phone_invalid       "telefone inválido"
#   phone_landline      "telefone fixo (não é celular)"
#   phone_foreign       "telefone estrangeiro (só celulares do Brasil)"
#   birth_date_invalid  "data de nascimento inválida"
#   birth_date_future   "data de nascimento no futuro ou antes de 1900"
#   state_invalid       "UF inválida"
#   amount_invalid      "valor inválido"
#   value_too_long      "valor longo demais para o campo"
_REASON_MSGIDS: dict[Reason, str] = {
    Reason.ID_MISSING: gettext_noop("no external id and no valid CPF"),
    Reason.CPF_INVALID: gettext_noop("invalid CPF"),
    Reason.NAME_MISSING: gettext_noop("empty name"),
    Reason.EMAIL_INVALID: gettext_noop("invalid e-mail"),
    Reason.PHONE_NO_DDD: gettext_noop("phone without area code (DDD)"),
    Reason.PHONE_INVALID: gettext_noop("invalid phone"),
    Reason.PHONE_LANDLINE: gettext_noop("landline phone (not a mobile)"),
    Reason.PHONE_FOREIGN: gettext_noop("foreign phone (Brazilian mobiles only)"),
    Reason.BIRTH_DATE_INVALID: gettext_noop("invalid birth date"),
    Reason.BIRTH_DATE_FUTURE: gettext_noop("birth date in the future or before 1900"),
    Reason.STATE_INVALID: gettext_noop("invalid state (UF)"),
    Reason.AMOUNT_INVALID: gettext_noop("invalid amount"),
    Reason.VALUE_TOO_LONG: gettext_noop("value too long for the field"),
}


# The reasons an import rejects a row for; any other reason only blanks an optional field (a warning). The CPF is
# identity too: it is how rows without a code, the API and the next files find the affiliate, so a stored blank
# would let the row with the right CPF become a second affiliate. A value longer than its column (no real one is)
# means the row's columns have shifted, and then none of its values can be trusted.
REJECTING_REASONS: frozenset[Reason] = frozenset(
    {Reason.ID_MISSING, Reason.CPF_INVALID, Reason.NAME_MISSING, Reason.VALUE_TOO_LONG}
)


def reason_message(code: Reason | str) -> str:
    """The user-facing (translated) text of a reason code; unknown codes come back as they are."""
    try:
        return gettext(_REASON_MSGIDS[Reason(code)])
    except ValueError:
        return str(code)


class NormalizationError(ValueError):
    """A value that cannot be normalized; `reason` says why."""

    def __init__(self, reason: Reason) -> None:
        self.reason = Reason(reason)
        super().__init__(str(self.reason))


# --------------------------------------------------------------------------------------------------------------
# Shared constants
# --------------------------------------------------------------------------------------------------------------

# STANDARD_FIELDS (re-exported) is crm.fields'.

# Column sizes of crm.models.Affiliate for the fields whose cleaning does not bound them; a longer
# value is rejected (value_too_long) rather than failing the COPY.
MAX_LENGTHS: dict[str, int] = {
    name: FIELDS[name].max_length or 0 for name in ("external_id", "name", "city", "plan")
}
TAG_MAX_LENGTH = 40  # Affiliate.tags is varchar(40)[]: longer tags are cut, not rejected.
# Affiliate.plan_fee is max_digits=10, decimal_places=2.
AMOUNT_MAX_DIGITS = 10
# A CPF whose leading zeros a spreadsheet ate: up to three lost zeros are put back.
CPF_MIN_DIGITS = 8
BIRTH_YEAR_MIN = 1900

NAME_PARTICLES = ("da", "de", "do", "das", "dos", "e")

_ORIGIN_WORDS: dict[str, str] = {
    "loja": Origin.STORE,
    "lojas": Origin.STORE,
    "loja fisica": Origin.STORE,
    "store": Origin.STORE,
    "site": Origin.SITE,
    "website": Origin.SITE,
    "web site": Origin.SITE,
    "internet": Origin.SITE,
    "whatsapp": Origin.WHATSAPP,
    "whats": Origin.WHATSAPP,
    "zap": Origin.WHATSAPP,
    "zapzap": Origin.WHATSAPP,
    "wpp": Origin.WHATSAPP,
    "parceiro": Origin.PARTNER,
    "parceiros": Origin.PARTNER,
    "parceira": Origin.PARTNER,
    "parceria": Origin.PARTNER,
    "partner": Origin.PARTNER,
    "indicacao": Origin.REFERRAL,
    "indicado": Origin.REFERRAL,
    "referral": Origin.REFERRAL,
    "evento": Origin.EVENT,
    "eventos": Origin.EVENT,
    "feira": Origin.EVENT,
    "event": Origin.EVENT,
    "other": Origin.OTHER,
    "outro": Origin.OTHER,
    "outros": Origin.OTHER,
}


def _fold(text: str) -> str:
    """Lower-case, accents off (crm.brazil.fold), spaces collapsed: the key for the state and origin dictionaries."""
    return _SPACES_RE.sub(" ", fold(text.strip()))


_SPACES_RE = re.compile(r"\s+")
_STATE_KEYS: dict[str, str] = {}
for _uf, _state_name in STATES.items():
    _STATE_KEYS[_uf.lower()] = _uf
    _STATE_KEYS[_fold(_state_name)] = _uf
_ORIGIN_KEYS: dict[str, str] = {_fold(k): str(v) for k, v in _ORIGIN_WORDS.items()}


# --------------------------------------------------------------------------------------------------------------
# Scalar functions (single records)
# --------------------------------------------------------------------------------------------------------------


def _text(value: object) -> str:
    """A cell as stripped text: None -> "", integral floats without ".0" (spreadsheets), dates as ISO."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float | Decimal):
        # 11987654321.0: a spreadsheet's number that is really a code (CPF, phone); same bound as `_as_text`.
        number = float(value)
        if math.isfinite(number) and number.is_integer() and abs(number) < 1e15:
            return str(int(value))
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value).strip()


_CPF_SEPARATORS_RE = re.compile(r"[.\- ]")
_CPF_DIGITS_RE = re.compile(f"[0-9]{{{CPF_MIN_DIGITS},{CPF_LENGTH}}}")


def cpf_normalize(value: object) -> str:
    """ "123.456.789-09" / "12345678909" / 1234567890 (lost zeros) -> "12345678909"; "" for blank."""
    text = _text(value)
    if not text:
        return ""
    # "12345678909.0" is what a float column of CPFs looks like once written out as CSV.
    digits = _CPF_SEPARATORS_RE.sub("", text.removesuffix(".0"))
    if not _CPF_DIGITS_RE.fullmatch(digits):
        raise NormalizationError(Reason.CPF_INVALID)
    digits = digits.zfill(CPF_LENGTH)
    if not cpf_valid(digits):
        raise NormalizationError(Reason.CPF_INVALID)
    return digits


# Separators people type, and the "xx" of "0xx11" (0 + carrier code written as "xx"); dropped before anything else.
_PHONE_DROPPED = ("(", ")", " ", "-", ".", "/", "xx", "XX", "xX", "Xx")
_PHONE_DROPPED_RE = re.compile("|".join(re.escape(p) for p in _PHONE_DROPPED))
_DIGITS_RE = re.compile(r"[0-9]+")


def _phone_foreign_reason(digits: str) -> Reason:
    """Why a number dialled to another country is refused: phone_foreign when it is a number of that
    country (libphonenumber's metadata), phone_invalid when it is no number at all ("+999 123")."""
    try:
        number = phonenumbers.parse("+" + digits, None)
    except phonenumbers.NumberParseException:
        return Reason.PHONE_INVALID
    return Reason.PHONE_FOREIGN if phonenumbers.is_valid_number(number) else Reason.PHONE_INVALID


def phone_normalize(value: object) -> str:
    """A Brazilian mobile number in E.164 ("+5511987654321"); "" for blank.

    Accepts "(11) 98765-4321", "11987654321", "+55 11 98765-4321", "5511987654321", "011 98765 4321",
    "0xx11 98765-4321", "0 15 11 98765-4321" (carrier code) and "11 8765-4321" (old mobile: the 9 is added).
    A number dialled with "+" or "00" and another country code is refused (phone_foreign): see crm.brazil.
    """
    text = _text(value)
    if not text:
        return ""
    digits = _PHONE_DROPPED_RE.sub("", text.removesuffix(".0"))  # ".0": a float column written out as CSV
    plus = digits.startswith("+")
    digits = digits.removeprefix("+")
    if not _DIGITS_RE.fullmatch(digits):
        raise NormalizationError(Reason.PHONE_INVALID)
    if plus or digits.startswith("00"):
        international = digits[2:] if digits.startswith("00") else digits
        if not international.startswith(COUNTRY_CODE):
            raise NormalizationError(_phone_foreign_reason(international))
        national = international[2:]
    elif digits.startswith("0"):  # trunk prefix, maybe followed by a two-digit carrier code
        national = digits[1:]
        if len(national) in (12, 13):
            national = national[2:]
    elif digits.startswith(COUNTRY_CODE) and len(digits) in (12, 13):
        national = digits[2:]
    else:
        national = digits
    if len(national) in (8, 9):
        raise NormalizationError(Reason.PHONE_NO_DDD)
    if len(national) == 10 and national[2] in "6789":  # before 2016 mobiles had 8 digits
        national = national[:2] + "9" + national[2:]
    # Not DDD + number ("+55 0 11 ..." has no DDD 01): invalid.
    kind = phone_kind(national)
    if kind == "mobile":
        return f"+{COUNTRY_CODE}{national}"
    if kind == "landline":
        raise NormalizationError(Reason.PHONE_LANDLINE)
    raise NormalizationError(Reason.PHONE_INVALID)


def email_normalize(value: object) -> str:
    """A syntactically valid, lower-cased e-mail address (no DNS lookup); "" for blank."""
    text = _text(value)
    if not text:
        return ""
    try:
        checked = email_validator.validate_email(text, check_deliverability=False)
    except email_validator.EmailNotValidError as exc:
        raise NormalizationError(Reason.EMAIL_INVALID) from exc
    return checked.normalized.lower()


_PARTICLE_TITLES = frozenset(p.title() for p in NAME_PARTICLES)


# str.title() and polars' to_titlecase agree (letters after any non-letter start a word) except that polars before
# 1.35 did not start a word after a digit ("3rd", not "3Rd"); follow whichever polars is installed.
# Asked on first use, never at import: running any polars expression starts its thread pool, and a
# process that forks after that (the Celery worker's prefork pool) leaves its children deadlocked.
@functools.cache
def _title_after_digit() -> bool:
    return bool(pl.Series(["a1b"]).str.to_titlecase().item() == "A1B")


_LETTERS_AFTER_DIGIT_RE = re.compile(r"(?<=[0-9])[^\W\d_]+")


def name_normalize(value: object) -> str:
    """ "  JOÃO   DA SILVA " -> "João da Silva" (Title Case; da/de/do/das/dos/e lower-case after the first word)."""
    text = _SPACES_RE.sub(" ", _text(value)).title()
    if not _title_after_digit():
        text = _LETTERS_AFTER_DIGIT_RE.sub(lambda m: m[0].lower(), text)
    if not text:
        return ""
    words = text.split(" ")
    return " ".join([words[0], *(w.lower() if w in _PARTICLE_TITLES else w for w in words[1:])])


def city_normalize(value: object) -> str:
    """Cities follow the name rules: "RIO DE JANEIRO" -> "Rio de Janeiro"."""
    return name_normalize(value)


def _plain_normalize(value: object) -> str:
    return _SPACES_RE.sub(" ", _text(value))


_DATE_BR_RE = re.compile(r"([0-9]{1,2})[/.\-]([0-9]{1,2})[/.\-]([0-9]{4}|[0-9]{2})")
_DATE_ISO_RE = re.compile(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})(?:[T ][0-9:.+\-Z]*)?")


def _today() -> date:
    return timezone.localdate()


def birth_date_parse(value: object, *, today: date | None = None) -> date | None:
    """A birth date from text (dd/mm/aaaa, dd/mm/aa, dd-mm-aaaa, dd.mm.aaaa, aaaa-mm-dd) or a date/datetime."""
    today = today or _today()
    if isinstance(value, datetime):
        parsed = value.date()
    elif isinstance(value, date):
        parsed = value
    else:
        text = _text(value)
        if not text:
            return None
        short_year = False
        if match := _DATE_ISO_RE.fullmatch(text):
            year, month, day = int(match[1]), int(match[2]), int(match[3])
        elif match := _DATE_BR_RE.fullmatch(text):
            day, month, year = int(match[1]), int(match[2]), int(match[3])
            short_year = len(match[3]) == 2
        else:
            raise NormalizationError(Reason.BIRTH_DATE_INVALID)
        try:
            parsed = date(year + 2000 if short_year else year, month, day)
        except ValueError as exc:
            raise NormalizationError(Reason.BIRTH_DATE_INVALID) from exc
        if short_year and parsed > today:  # "17/05/90": 20xx unless that is still to come, then 19xx
            parsed = parsed.replace(year=parsed.year - 100)
    if parsed > today or parsed.year < BIRTH_YEAR_MIN:
        raise NormalizationError(Reason.BIRTH_DATE_FUTURE)
    return parsed


#: The earliest moment taken as having happened (an event, a consent, a status): before it a time is
#: a placeholder or a typo (0001-01-01), which PostgreSQL stores but Python cannot read back (year 1
#: at +05:00 is 1 BC in UTC) nor show in a zone behind UTC. The latest is the caller's (now + a margin).
MOMENT_MIN = datetime(BIRTH_YEAR_MIN, 1, 1, tzinfo=UTC)


def moment_in_range(value: datetime, *, latest: datetime) -> bool:
    """Whether an aware `value` lies in [MOMENT_MIN, latest]."""
    return MOMENT_MIN <= value <= latest


# Amount shapes, tried in this order on the text without "R$", spaces and sign.
_AMOUNT_INTEGER = r"[0-9]+"
_AMOUNT_BR_GROUPED = r"[1-9][0-9]{0,2}(?:\.[0-9]{3})+(?:,[0-9]*)?"  # 1.234.567,89 / 1.234
_AMOUNT_US_GROUPED = r"[1-9][0-9]{0,2}(?:,[0-9]{3})+\.[0-9]*|[1-9][0-9]{0,2}(?:,[0-9]{3}){2,}"  # 1,234.56
_AMOUNT_DECIMAL = r"[0-9]+[.,][0-9]*|[.,][0-9]+"  # 1234,5 / 1234.56 / ,5
_AMOUNT_STRIP_RE = re.compile(r"(?i)r\$|\s")
_CENT = Decimal("0.01")


def amount_parse(value: object, *, max_digits: int = AMOUNT_MAX_DIGITS) -> Decimal | None:
    """ "R$ 1.234,56" / "1234.56" / "1234,5" / "-10,00" -> Decimal with two places; None for blank."""
    if isinstance(value, bool):
        raise NormalizationError(Reason.AMOUNT_INVALID)
    if isinstance(value, int | float | Decimal):
        try:
            amount = Decimal(str(value)).quantize(_CENT, rounding=ROUND_HALF_UP)
        except InvalidOperation as exc:
            raise NormalizationError(Reason.AMOUNT_INVALID) from exc
    else:
        text = _AMOUNT_STRIP_RE.sub("", _text(value))
        if not text:
            return None
        negative = text.startswith("-")
        text = text.removeprefix("-")
        if re.fullmatch(_AMOUNT_INTEGER, text):
            whole, fraction = text, ""
        elif re.fullmatch(_AMOUNT_BR_GROUPED, text):
            whole, _, fraction = text.partition(",")
            whole = whole.replace(".", "")
        elif re.fullmatch(_AMOUNT_US_GROUPED, text):
            whole, _, fraction = text.partition(".")
            whole = whole.replace(",", "")
        elif re.fullmatch(_AMOUNT_DECIMAL, text):
            whole, _, fraction = text.replace(",", ".").partition(".")
        else:
            raise NormalizationError(Reason.AMOUNT_INVALID)
        amount = Decimal(f"{'-' if negative else ''}{whole or '0'}.{fraction or '0'}")
        amount = amount.quantize(_CENT, rounding=ROUND_HALF_UP)
    if not amount.is_finite() or abs(amount) >= Decimal(10) ** (max_digits - 2):
        raise NormalizationError(Reason.AMOUNT_INVALID)
    return amount if amount else Decimal("0.00")  # never "-0.00"


def state_normalize(value: object) -> str:
    """ "sp" / "SP" / "São Paulo" / "sao paulo" -> "SP"; "" for blank."""
    text = _text(value)
    if not text:
        return ""
    try:
        return _STATE_KEYS[_fold(text)]
    except KeyError:
        raise NormalizationError(Reason.STATE_INVALID) from None


def state_time_zone(uf: object) -> str:
    """The IANA time zone of a state (UF code or name); "" when the state is blank (unknown: the app default)."""
    state = state_normalize(uf)
    if not state:
        return ""
    return STATE_TIME_ZONES.get(state, DEFAULT_TIME_ZONE)


def origin_normalize(value: object) -> str:
    """Where the affiliate came from, as a crm.models.Origin value ("Loja" -> "store"); "" for blank."""
    text = _text(value)
    if not text:
        return ""
    return _ORIGIN_KEYS.get(_fold(text), str(Origin.OTHER))


_TAG_SEPARATORS_RE = re.compile(r"[;,|]")


def tags_parse(value: object) -> list[str]:
    """ "VIP; gold | vip" -> ["vip", "gold"]: split on ; , |, trimmed, lower-cased, deduplicated, in order."""
    tags: dict[str, None] = {}
    for part in _TAG_SEPARATORS_RE.split(_text(value)):
        tag = part.strip().lower()[:TAG_MAX_LENGTH].strip()
        if tag:
            tags[tag] = None
    return list(tags)


@dataclass(frozen=True, slots=True)
class NormalizedRecord:
    """One affiliate record after normalization: the same fields (and types) as a `frame_normalize` row."""

    values: dict[str, Any]
    reasons: list[Reason] = field(default_factory=list)

    @property
    def is_valid(self) -> bool:
        return not self.reasons

    @property
    def rejected(self) -> bool:
        """Whether an import rejects the record; if not, its reasons are warnings (`REJECTING_REASONS`)."""
        return not REJECTING_REASONS.isdisjoint(self.reasons)


def affiliate_record_normalize(
    *, record: Mapping[str, object], today: date | None = None
) -> NormalizedRecord:
    """Normalize one record of standard fields (the API's and forms' twin of one `frame_normalize` row).

    A blank external_id takes the CPF's value; missing fields count as blank.
    """
    reasons: set[Reason] = set()

    def attempt(function: Any, raw: object, blank: object) -> Any:
        try:
            return function(raw)
        except NormalizationError as exc:
            reasons.add(exc.reason)
            return blank

    get = record.get
    values: dict[str, Any] = {
        "external_id": _text(get("external_id")),
        "cpf": attempt(cpf_normalize, get("cpf"), ""),
        "name": name_normalize(get("name")),
        "email": attempt(email_normalize, get("email"), ""),
        "phone": attempt(phone_normalize, get("phone"), ""),
        "birth_date": attempt(lambda v: birth_date_parse(v, today=today), get("birth_date"), None),
        "city": city_normalize(get("city")),
        "state": attempt(state_normalize, get("state"), ""),
        "plan": _plain_normalize(get("plan")),
        "plan_fee": attempt(amount_parse, get("plan_fee"), None),
        "origin": origin_normalize(get("origin")),
        "tags": tags_parse(get("tags")),
    }
    values["time_zone"] = state_time_zone(values["state"])
    if not values["external_id"]:
        values["external_id"] = values["cpf"]
        if not values["cpf"]:
            reasons.add(Reason.ID_MISSING)
    if not values["name"]:
        reasons.add(Reason.NAME_MISSING)
    if any(len(values[name]) > limit for name, limit in MAX_LENGTHS.items()):
        reasons.add(Reason.VALUE_TOO_LONG)
    return NormalizedRecord(values=values, reasons=[r for r in Reason if r in reasons])


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
