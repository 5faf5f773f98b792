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

The package: `reasons` (why a value is refused, and what that costs), `scalar` (the per-record face and the
rule constants), `frames` (the vectorized face). Callers import from `crm.normalize`.

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

from crm.fields import STANDARD_FIELDS
from crm.normalize.frames import OUTPUT_COLUMNS, frame_normalize
from crm.normalize.reasons import REJECTING_REASONS, NormalizationError, Reason, reason_message
from crm.normalize.scalar import (
    MAX_LENGTHS,
    MOMENT_MIN,
    NormalizedRecord,
    affiliate_record_normalize,
    amount_parse,
    birth_date_parse,
    city_normalize,
    cpf_normalize,
    email_normalize,
    moment_in_range,
    name_normalize,
    origin_normalize,
    phone_normalize,
    state_normalize,
    state_time_zone,
    tags_parse,
)

__all__ = [
    "MAX_LENGTHS",
    "MOMENT_MIN",
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
    "moment_in_range",
    "name_normalize",
    "origin_normalize",
    "phone_normalize",
    "reason_message",
    "state_normalize",
    "state_time_zone",
    "tags_parse",
]
