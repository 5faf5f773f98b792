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
    header. Every value is written as text, Decimals as numbers: a cell never runs as a formula."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title[:31] or None)
    bold = Font(bold=True)

    def cell(value: Any, *, header: bool = False) -> WriteOnlyCell:
        if isinstance(value, Decimal):
            written = WriteOnlyCell(sheet, value=value)
            written.number_format = "#,##0.00"
            return written
        text = "" if value is None else str(value)[:XLSX_MAX_CELL_CHARS]
        written = WriteOnlyCell(sheet, value=text)
        written.data_type = "s"  # openpyxl takes a text starting with "=" for a formula
        written.number_format = "@"  # stays text when someone edits it
        if header:
            written.font = bold
        return written

    for number, row in enumerate(rows):
        sheet.append([cell(value, header=number == 0) for value in row])
    target = tempfile.SpooledTemporaryFile(max_size=XLSX_SPOOL_BYTES)  # noqa: SIM115 - handed to the response
    workbook.save(target)
    target.seek(0)
    return target


def xlsx_response(*, rows: Iterable[Sequence[Any]], filename: str, title: str = "") -> FileResponse:
    """A download of `rows` as XLSX (see `xlsx_write`)."""
    response = FileResponse(xlsx_write(rows=rows, title=title), content_type=XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = attachment_disposition(filename)
    return response
