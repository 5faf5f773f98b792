"""Marketing spend per day, source and campaign: imported from a CSV as the data hub reads files
(`;`/`,`/tab/`|`, UTF-8 or Windows-1252, dd/mm/aaaa dates, 1.234,56 amounts, Portuguese or
English headers) or pushed through `POST /api/v1/spend/`. Rows are upserted by (day, source,
campaign): sending a day again replaces its figure; a bad row is kept with its reason."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.db import connection, transaction
from django.utils.translation import gettext as _

from crm.normalize import NormalizationError
from crm.normalize.scalar import amount_parse
from crm.readers import ImportFileError, header_key, source_batches, source_open
from insights.models import Spend

HEADERS: dict[str, tuple[str, ...]] = {
    "day": ("dia", "data", "date", "day"),
    "source": ("fonte", "origem", "source", "utm source", "canal"),
    "campaign": ("campanha", "campaign", "utm campaign"),
    "amount": ("valor", "custo", "gasto", "investimento", "amount", "spend", "cost"),
}


class SpendImportError(Exception):
    """The file cannot be read or has no recognisable columns."""


@dataclass(frozen=True)
class SpendRow:
    day: date
    source: str
    campaign: str
    amount: Decimal


@dataclass
class SpendImportResult:
    rows: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)


def spend_day_parse(value: Any) -> date:
    if isinstance(value, date):
        return value
    text = str(value or "").strip()
    for fmt in ("%d/%m/%Y", "%Y-%m-%d", "%d-%m-%Y", "%d/%m/%y"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(_("invalid date (dd/mm/aaaa)"))


def spend_row_parse(*, day: Any, source: Any, campaign: Any, amount: Any) -> SpendRow:
    """One row, validated: ValueError with the reason a person reads."""
    parsed_day = spend_day_parse(day)
    source_text = str(source or "").strip()[:100]
    if not source_text:
        raise ValueError(_("source is missing"))
    try:
        value = amount_parse(amount)
    except NormalizationError:
        value = None
    if value is None or value < 0:
        raise ValueError(_("invalid amount"))
    return SpendRow(parsed_day, source_text, str(campaign or "").strip()[:100], value)


@transaction.atomic
def spend_upsert(*, rows: Sequence[SpendRow]) -> int:
    """Insert or replace spend rows (the last of repeated keys wins); returns how many were written."""
    latest: dict[tuple[date, str, str], Decimal] = {}
    for row in rows:
        latest[(row.day, row.source, row.campaign)] = row.amount
    if not latest:
        return 0
    table = connection.ops.quote_name(Spend._meta.db_table)
    days, sources, campaigns, amounts = zip(*((*key, amount) for key, amount in latest.items()), strict=True)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {table} (day, source, campaign, amount, updated_at)
                SELECT d, s, c, a, now() FROM unnest(%s::date[], %s::text[], %s::text[], %s::numeric[]) r(d, s, c, a)
                ON CONFLICT (day, source, campaign)
                DO UPDATE SET amount = EXCLUDED.amount, updated_at = EXCLUDED.updated_at""",  # noqa: S608
            [list(days), list(sources), list(campaigns), list(amounts)],
        )
    return len(latest)


def spend_import_csv(*, data: bytes, actor: Any = None) -> SpendImportResult:
    """Read a spend file (CSV or XLSX) and upsert its valid rows."""
    with tempfile.NamedTemporaryFile(suffix=".csv", delete=False) as handle:
        handle.write(data)
        path = Path(handle.name)
    try:
        try:
            source = source_open(path)
        except ImportFileError as error:
            raise SpendImportError(str(error)) from error
        columns: dict[str, str] = {}
        for header in source.headers:
            key = header_key(header)
            for name, aliases in HEADERS.items():
                if key in aliases and name not in columns:
                    columns[name] = header
        missing = [name for name in ("day", "source", "amount") if name not in columns]
        if missing:
            raise SpendImportError(
                _("Missing columns: %(columns)s (expected e.g. dia; fonte; campanha; valor)")
                % {"columns": ", ".join(missing)}
            )
        result = SpendImportResult()
        valid: list[SpendRow] = []
        try:
            for batch in source_batches(source):
                for record in batch.iter_rows(named=True):
                    try:
                        valid.append(
                            spend_row_parse(
                                day=record.get(columns["day"]),
                                source=record.get(columns["source"]),
                                campaign=record.get(columns["campaign"]) if "campaign" in columns else "",
                                amount=record.get(columns["amount"]),
                            )
                        )
                    except ValueError as error:
                        result.rejected.append((int(record.get("_row") or 0), str(error)))
        finally:
            source.close()
        result.rows = spend_upsert(rows=valid)
        return result
    finally:
        path.unlink(missing_ok=True)
