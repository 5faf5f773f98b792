"""Files people download and open in Excel or LibreOffice: one definition for all of them.

- CSV: a cell starting with `=`, `+`, `-`, `@` (or a tab or carriage return) would run as a formula
  (CSV injection), so `csv_safe` puts an apostrophe before it. Safe, but Excel then shows the
  apostrophe (`'+5511...`), hence
- XLSX beside every CSV: every cell written as text (no formula runs, a phone shows as +5511...),
  amounts as numbers.
- One Content-Disposition for every download (`attachment_disposition`): a file name with `"`, a
  line break or accents (an upload's name) cannot break the header.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import IO, Any

from django.http import FileResponse
from django.utils.http import content_disposition_header

# Excel and LibreOffice run cells that start with these as formulas.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Excel's own limit for the text of one cell.
XLSX_MAX_CELL_CHARS = 32_767
# Written to a temporary file on disk past this size (openpyxl's write-only mode keeps little in
# memory; the finished zip is what would grow).
XLSX_SPOOL_BYTES = 16 * 1024 * 1024


def csv_safe(value: str) -> str:
    """A CSV cell that cannot run as a formula."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def attachment_disposition(filename: str) -> str:
    """The Content-Disposition header of a download named `filename` (any characters)."""
    header = content_disposition_header(as_attachment=True, filename=filename)
    assert header is not None  # always, for an attachment
    return header


def xlsx_write(*, rows: Iterable[Sequence[Any]], title: str = "") -> IO[bytes]:
    """An XLSX file (a temporary file, at its start) with one sheet of `rows`, the first being the
    header. Every value is written as text, Decimals as numbers: a cell never runs as a formula.

    XlsxWriter in constant-memory mode: rows go to disk as they come, and a text cell is written as
    a string whatever it starts with (about three times faster than openpyxl's write-only mode,
    which builds a styled cell object for each value)."""
    import xlsxwriter

    target = tempfile.SpooledTemporaryFile(max_size=XLSX_SPOOL_BYTES)  # noqa: SIM115 - handed to the response
    workbook = xlsxwriter.Workbook(
        target,
        {
            "constant_memory": True,
            # Text stays text: no formulas, numbers or links guessed from it.
            "strings_to_formulas": False,
            "strings_to_numbers": False,
            "strings_to_urls": False,
        },
    )
    sheet = workbook.add_worksheet(title[:31] or None)
    text = workbook.add_format({"num_format": "@"})  # stays text when someone edits it
    header = workbook.add_format({"num_format": "@", "bold": True})
    amount = workbook.add_format({"num_format": "#,##0.00"})
    for number, row in enumerate(rows):
        style = header if number == 0 else text
        for column, value in enumerate(row):
            if isinstance(value, Decimal):
                sheet.write_number(number, column, float(value), amount)
            else:
                content = "" if value is None else str(value)[:XLSX_MAX_CELL_CHARS]
                sheet.write_string(number, column, content, style)
    workbook.close()
    target.seek(0)
    return target


def xlsx_response(*, rows: Iterable[Sequence[Any]], filename: str, title: str = "") -> FileResponse:
    """A download of `rows` as XLSX (see `xlsx_write`)."""
    response = FileResponse(xlsx_write(rows=rows, title=title), content_type=XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = attachment_disposition(filename)
    return response
