"""The scalar face of crm.normalize: one value, one record (API, forms), and the shared rule
constants the vectorised twin (crm.normalize.frames) is built from. Leans on crm.brazil (CPF,
phone, accents, state → time zone) and email-validator; returns ""/None for blank input and raises
`NormalizationError(reason)` for bad input."""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import email_validator
import phonenumbers
import polars as pl
from django.utils import timezone

from crm.brazil import (
    COUNTRY_CODE,
    CPF_LENGTH,
    DEFAULT_TIME_ZONE,
    STATE_TIME_ZONES,
    STATES,
    cpf_valid,
    fold,
    phone_kind,
)
from crm.fields import FIELDS
from crm.models import Origin
from crm.normalize.reasons import REJECTING_REASONS, NormalizationError, Reason

# --------------------------------------------------------------------------------------------------------------
# Shared constants (the vectorised twin reads them too)
# --------------------------------------------------------------------------------------------------------------

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
