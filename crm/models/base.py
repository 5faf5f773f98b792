"""SQL helpers the models' constraints and indexes use, and the time field that reads any stored time."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models.functions import Left, Length, Substr
from django.db.models.lookups import Exact, Range
from django.utils.deconstruct import deconstructible

from crm.brazil import ACCENTED, CPF_LENGTH, PLAIN


# Migrations name these `crm.models.<name>`: keep that path when they deconstruct.
@deconstructible(path="crm.models.DigitsOnly")
class DigitsOnly(models.Func):
    """True when a text holds ASCII digits only (or nothing): `ltrim(text, '0123456789') = ''`.

    The check constraints on CPF and phone use it instead of a regular expression: every imported
    row is checked, and PostgreSQL strips a character set about twice as fast as it matches
    `^[0-9]+$` (measured: 1.3 s less a million rows on the two columns)."""

    template = "ltrim(%(expressions)s, '0123456789') = ''"
    output_field = models.BooleanField()


class MomentField(models.DateTimeField):  # type: ignore[type-arg]
    """A time a partner or a file gives (an event's, a consent's) and what derives from it.

    New values are bounded where they come in (crm.normalize.moment_in_range), but rows stored
    before that may hold any time PostgreSQL takes (year 1 at +05:00 is 1 BC in UTC), which Python
    cannot load, or can load but not show in a zone behind UTC. Reads clamp into the days every
    zone can show, so such a row still opens its pages, API answers and exports; NULL stays NULL.
    A plain DateTimeField to migrations (same column, nothing to migrate)."""

    READ_MIN = "0001-01-02 00:00:00+00"
    READ_MAX = "9999-12-30 00:00:00+00"

    def select_format(self, compiler: Any, sql: str, params: Any) -> Any:
        sql, params = super().select_format(compiler, sql, params)
        low, high = f"'{self.READ_MIN}'::timestamptz", f"'{self.READ_MAX}'::timestamptz"
        clamped = f"CASE WHEN {sql} < {low} THEN {low} WHEN {sql} > {high} THEN {high} ELSE {sql} END"
        return clamped, (*params, *params, *params)  # `sql` appears three times

    def deconstruct(self) -> Any:
        name, _path, args, kwargs = super().deconstruct()
        return name, "django.db.models.DateTimeField", args, kwargs


@deconstructible(path="crm.models.Folded")
class Folded(models.Func):
    """SQL: a text in lower case without accents (`lower(translate(text, ACCENTED, PLAIN))`), the
    SQL twin of crm.brazil.fold over the letters crm.brazil.ACCENTED lists (tested value by value).
    PostgreSQL's `unaccent` is an extension (a migration and superuser rights); `translate()` is
    built in. Upper case is listed too, so the folding does not depend on the database's ctype;
    `lower()` then only needs ASCII.

    Name search matches on it, and names sort by it (then by the name itself), which is the
    Brazilian order: "Álvaro" before "Bruno", "Élio" beside "Elio". An ICU collation (pt-BR)
    would say the same, but the embedded PostgreSQL is built without ICU ("ICU is not supported
    in this build") and the databases sort with LC_COLLATE C; this works on any server, and its
    functions live in pg_catalog, so the index on it clones with the UDN template like any other.
    The letters are literals in the SQL (not parameters), so a query's expression is the
    index's, word for word."""

    template = f"lower(translate(%(expressions)s, '{ACCENTED}', '{PLAIN}'))"
    output_field = models.CharField()


# CPF: 11 digits, as normalised (or blank). Phone: E.164, "+" then 8 to 15 digits, the first not a
# zero (or blank): what `^[0-9]{11}$` and `^\+[1-9][0-9]{7,14}$` say, in cheaper terms.
# Shapes only (what is stored), looser than crm.brazil's rules: whatever those accept passes.
CPF_CHECK = models.Q(cpf="") | models.Q(Exact(Length("cpf"), CPF_LENGTH), DigitsOnly("cpf"))


PHONE_CHECK = models.Q(phone="") | models.Q(
    Range(Length("phone"), (9, 16)),
    Exact(Left("phone", 1), "+"),
    ~models.Q(Exact(Substr("phone", 2, 1), "0")),
    DigitsOnly(Substr("phone", 2)),
)
