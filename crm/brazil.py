"""Brazilian rules, each defined once: CPF check digits, accent folding, the states and their time
zones, the area codes (DDD) and what a mobile phone number is.

These are the plain (scalar) definitions and their reference data. The fast variants are generated
from them or tested value by value against them (crm/tests/test_normalize.py):

* crm.normalize, the polars twin of the import: CPF check digits through `cpf_check_digit` applied
  to polars expressions, the phone patterns built from `DDDS`, the states' zones from
  `STATE_TIME_ZONES`;
* crm.models.Folded, the SQL fold (`translate` over `ACCENTED` → `PLAIN`, `PLAIN` computed here);
* crm.selectors.quality, the quality figures in SQL: `cpf_check_digit` applied to SQL text, the
  mobile rule as `MOBILE_E164_PATTERN`;
* crm.demo.base, numpy check digits through `cpf_check_digit` applied to arrays.

The phone rule: the product writes to its affiliates by WhatsApp and SMS in Brazil, so a phone is a
Brazilian mobile and nothing else: +55, a DDD in use, then nine digits beginning with 9 (E.164
"+55DD9XXXXXXXX"). A landline, a number without DDD and a foreign number (dialled with "+" or "00"
and a country code other than 55) are refused with their reason: an import keeps the row with the
phone left blank and the reason as a warning, the API answers a field error.
"""

from __future__ import annotations

import functools
import operator
import unicodedata
from collections.abc import Sequence
from typing import Any, Literal

# --- states and time zones --------------------------------------------------------------------

STATES: dict[str, str] = {
    "AC": "Acre",
    "AL": "Alagoas",
    "AP": "Amapá",
    "AM": "Amazonas",
    "BA": "Bahia",
    "CE": "Ceará",
    "DF": "Distrito Federal",
    "ES": "Espírito Santo",
    "GO": "Goiás",
    "MA": "Maranhão",
    "MT": "Mato Grosso",
    "MS": "Mato Grosso do Sul",
    "MG": "Minas Gerais",
    "PA": "Pará",
    "PB": "Paraíba",
    "PR": "Paraná",
    "PE": "Pernambuco",
    "PI": "Piauí",
    "RJ": "Rio de Janeiro",
    "RN": "Rio Grande do Norte",
    "RS": "Rio Grande do Sul",
    "RO": "Rondônia",
    "RR": "Roraima",
    "SC": "Santa Catarina",
    "SP": "São Paulo",
    "SE": "Sergipe",
    "TO": "Tocantins",
}

#: Brasília time: the zone of the states not listed below, and of a blank state's caller default.
DEFAULT_TIME_ZONE = "America/Sao_Paulo"

#: Every state's IANA time zone (a state spanning zones takes its capital's).
STATE_TIME_ZONES: dict[str, str] = {
    **dict.fromkeys(["SP", "RJ", "MG", "ES", "PR", "SC", "RS", "GO", "DF"], DEFAULT_TIME_ZONE),
    "AC": "America/Rio_Branco",
    "AM": "America/Manaus",
    "RR": "America/Boa_Vista",
    "RO": "America/Porto_Velho",
    "MT": "America/Cuiaba",
    "MS": "America/Campo_Grande",
    "PA": "America/Belem",
    "AP": "America/Belem",
    "TO": "America/Araguaina",
    "MA": "America/Fortaleza",
    "PI": "America/Fortaleza",
    "CE": "America/Fortaleza",
    "RN": "America/Fortaleza",
    "PB": "America/Fortaleza",
    "PE": "America/Recife",
    "AL": "America/Maceio",
    "SE": "America/Maceio",
    "BA": "America/Bahia",
}
assert STATE_TIME_ZONES.keys() == STATES.keys()


# --- accent folding ---------------------------------------------------------------------------


def strip_accents(text: str) -> str:
    """The text without its accents, case kept: "Ação" -> "Acao" (compatibility decomposition,
    combining marks dropped)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def fold(text: str) -> str:
    """Lower case without accents: "São JOÃO" -> "sao joao". What name search, sorting and the
    state and origin words compare on."""
    return strip_accents(text.lower())


#: The accented letters the SQL fold (crm.models.Folded) knows, upper case too so that it does not
#: depend on the database's ctype; `PLAIN` is what `strip_accents` makes of each. The SQL fold
#: agrees with `fold` on text made of these and ASCII (every Portuguese and Spanish name); other
#: letters go through it unchanged. Changing the list changes the name index's expression.
ACCENTED = "áàâãäåéèêëíìîïóòôõöúùûüçñýÿÁÀÂÃÄÅÉÈÊËÍÌÎÏÓÒÔÕÖÚÙÛÜÇÑÝ"
PLAIN = strip_accents(ACCENTED)
assert len(PLAIN) == len(ACCENTED) and PLAIN.isascii()


# --- CPF --------------------------------------------------------------------------------------

CPF_LENGTH = 11


def cpf_check_digit(digits: Sequence[Any]) -> Any:
    """The check digit that follows `digits` (the first 9 of a CPF for the first check digit, the
    first 10 for the second): the digits weighted len+1 down to 2, summed, (sum × 10 mod 11) mod 10.

    Written with + * % only, so it also computes over polars expressions, numpy arrays or SQL text
    (crm.selectors.quality) when handed digits of that kind: the vectorised variants are this one."""
    weights = range(len(digits) + 1, 1, -1)
    total = functools.reduce(
        operator.add, (digit * weight for digit, weight in zip(digits, weights, strict=True))
    )
    return total * 10 % 11 % 10


def cpf_check_digits(base: str) -> str:
    """The two check digits of a CPF's first nine digits: "123456789" -> "09"."""
    digits = [int(ch) for ch in base]
    digits.append(cpf_check_digit(digits))
    digits.append(cpf_check_digit(digits))
    return f"{digits[9]}{digits[10]}"


def cpf_valid(cpf: str) -> bool:
    """An 11-digit CPF with the right check digits, not one digit repeated (111.111.111-11 has right
    check digits but is no one's)."""
    if len(cpf) != CPF_LENGTH or not (cpf.isascii() and cpf.isdigit()):
        return False
    return cpf != cpf[0] * CPF_LENGTH and cpf_check_digits(cpf[:9]) == cpf[9:]


# --- phones -----------------------------------------------------------------------------------

COUNTRY_CODE = "55"

#: The area codes (DDD) in use, ANATEL's list.
DDDS: tuple[str, ...] = (
    *("11", "12", "13", "14", "15", "16", "17", "18", "19"),
    *("21", "22", "24", "27", "28"),
    *("31", "32", "33", "34", "35", "37", "38"),
    *("41", "42", "43", "44", "45", "46", "47", "48", "49"),
    *("51", "53", "54", "55"),
    *("61", "62", "63", "64", "65", "66", "67", "68", "69"),
    *("71", "73", "74", "75", "77", "79"),
    *("81", "82", "83", "84", "85", "86", "87", "88", "89"),
    *("91", "92", "93", "94", "95", "96", "97", "98", "99"),
)
_DDD_SET = frozenset(DDDS)
MOBILE_FIRST_DIGIT = "9"
MOBILE_LENGTH = 9  # digits after the DDD
LANDLINE_FIRST_DIGITS = "2345"
LANDLINE_LENGTH = 8

PhoneKind = Literal["mobile", "landline"]


def phone_kind(national: str) -> PhoneKind | None:
    """What a national number (DDD + number, digits only) is: a mobile (DDD, then 9 digits beginning
    with 9), a landline (DDD, then 8 digits beginning with 2 to 5), or neither (None)."""
    if not (national.isascii() and national.isdigit()) or national[:2] not in _DDD_SET:
        return None
    number = national[2:]
    if len(number) == MOBILE_LENGTH and number[0] == MOBILE_FIRST_DIGIT:
        return "mobile"
    if len(number) == LANDLINE_LENGTH and number[0] in LANDLINE_FIRST_DIGITS:
        return "landline"
    return None


def mobile_valid(phone: str) -> bool:
    """Whether a stored phone is a Brazilian mobile in E.164 ("+5511987654321")."""
    prefix = f"+{COUNTRY_CODE}"
    return phone.startswith(prefix) and phone_kind(phone.removeprefix(prefix)) == "mobile"


def _ddd_pattern() -> str:
    """`DDDS` as a regular expression ("1[1-9]|2[12478]|..."), the same in Python, Rust and PostgreSQL."""
    seconds: dict[str, str] = {}
    for ddd in DDDS:
        seconds[ddd[0]] = seconds.get(ddd[0], "") + ddd[1]
    return "|".join(f"{first}[{rest}]" for first, rest in seconds.items())


DDD_PATTERN = _ddd_pattern()
#: `phone_kind` as patterns over a national number (unanchored: callers anchor them).
MOBILE_NATIONAL_PATTERN = f"(?:{DDD_PATTERN}){MOBILE_FIRST_DIGIT}[0-9]{{{MOBILE_LENGTH - 1}}}"
LANDLINE_NATIONAL_PATTERN = f"(?:{DDD_PATTERN})[{LANDLINE_FIRST_DIGITS}][0-9]{{{LANDLINE_LENGTH - 1}}}"
#: `mobile_valid` as an anchored pattern (the quality figures' SQL).
MOBILE_E164_PATTERN = rf"^\+{COUNTRY_CODE}{MOBILE_NATIONAL_PATTERN}$"
