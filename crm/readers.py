"""Reading affiliate files as Brazilian teams export them, in batches of string columns.

CSV (`;`, `,`, tab or `|`; UTF-8, UTF-8 with BOM or Windows-1252) streams through polars;
XLSX streams through openpyxl's read-only mode. Every batch is a polars DataFrame of
Utf8 columns named by the file's headers plus `_row`, the row number a person sees in a
spreadsheet (the header is row 1). Memory stays flat whatever the file's size.
"""

from __future__ import annotations

import codecs
import datetime as dt
import shutil
import tempfile
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import polars as pl
from django.utils.translation import gettext as _

# 100k rows × ~15 short columns is ~20-30 MB of strings per batch: big enough for
# COPY and polars to be efficient, small enough to keep memory flat.
BATCH_ROWS = 100_000
# Columns beyond the header catch rows with too many fields (an unquoted `;` in a name).
EXTRA_COLUMNS = 4
EXTRA_PREFIX = "__extra"
DELIMITERS = (";", ",", "\t", "|")
SNIFF_BYTES = 64 * 1024
XLSX_MAGIC = b"PK\x03\x04"


class ImportFileError(Exception):
    """The file itself cannot be read (the message says why, for a person)."""


@dataclass
class SourceFile:
    path: Path
    format: str  # "csv" | "xlsx"
    headers: list[str]
    encoding: str = "utf-8"
    delimiter: str = ";"
    bom: bool = False
    _transcoded: Path | None = field(default=None, repr=False)

    def close(self) -> None:
        if self._transcoded is not None:
            self._transcoded.unlink(missing_ok=True)
            self._transcoded = None


def header_key(header: str) -> str:
    """Headers compared the forgiving way: no accents, lower case, words separated by one space."""
    plain = unicodedata.normalize("NFKD", header).encode("ascii", "ignore").decode()
    cleaned = "".join(ch if ch.isalnum() else " " for ch in plain.lower())
    return " ".join(cleaned.split())


def _unique_headers(raw: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    headers = []
    for index, value in enumerate(raw, start=1):
        name = (value or "").strip().lstrip("\ufeff") or _("Column %(n)s") % {"n": index}
        count = seen.get(name, 0)
        seen[name] = count + 1
        headers.append(name if count == 0 else f"{name} ({count + 1})")
    return headers


def _detect_encoding(path: Path) -> str:
    decoder = codecs.getincrementaldecoder("utf-8")()
    with path.open("rb") as handle:
        try:
            while chunk := handle.read(1024 * 1024):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "cp1252"
    return "utf-8"


def _split_header(line: str, delimiter: str) -> list[str]:
    import csv

    return next(csv.reader([line], delimiter=delimiter))


def source_open(path: Path) -> SourceFile:
    """Look at a file and say how to read it; ImportFileError if it cannot be read at all."""
    if not path.exists() or not path.is_file():
        raise ImportFileError(_("File not found: %(path)s") % {"path": path})
    with path.open("rb") as handle:
        head = handle.read(SNIFF_BYTES)
    if not head.strip():
        raise ImportFileError(_("The file is empty."))
    if head.startswith(XLSX_MAGIC) or path.suffix.lower() in {".xlsx", ".xlsm"}:
        return _xlsx_open(path)
    if b"\x00" in head:
        raise ImportFileError(_("This does not look like a CSV or XLSX file (binary content)."))
    encoding = _detect_encoding(path)
    text = head.decode("utf-8" if encoding == "utf-8" else "cp1252", errors="replace").lstrip("\ufeff")
    first_line = text.splitlines()[0] if text.splitlines() else ""
    delimiter = max(DELIMITERS, key=first_line.count)
    headers = _unique_headers(_split_header(first_line, delimiter))
    if len(headers) < 2 and first_line.count(delimiter) == 0:
        raise ImportFileError(
            _("Could not find the columns: the first line should hold the headers, separated by ; or ,")
        )
    return SourceFile(
        path=path,
        format="csv",
        headers=headers,
        encoding=encoding,
        delimiter=delimiter,
        bom=head.startswith(codecs.BOM_UTF8),
    )


def _to_utf8(path: Path, encoding: str) -> Path:
    """polars reads UTF-8 only: re-encode Windows-1252 (and drop a BOM) into a temporary file."""
    source_encoding = "utf-8-sig" if encoding == "utf-8" else encoding
    with (
        path.open("r", encoding=source_encoding, newline="") as src,
        tempfile.NamedTemporaryFile("w", encoding="utf-8", newline="", suffix=".csv", delete=False) as dst,
    ):
        shutil.copyfileobj(src, dst, 1024 * 1024)
    return Path(dst.name)


def _csv_batches(source: SourceFile, batch_rows: int) -> Iterator[pl.DataFrame]:
    # Re-encoded only when the rows are read (not to look at the headers), and once per read.
    if (source.encoding != "utf-8" or source.bom) and source._transcoded is None:
        source._transcoded = _to_utf8(source.path, source.encoding)
    columns = source.headers + [f"{EXTRA_PREFIX}{i}" for i in range(1, EXTRA_COLUMNS + 1)]
    frame = pl.scan_csv(
        source._transcoded or source.path,
        separator=source.delimiter,
        has_header=False,
        skip_rows=1,
        schema=dict.fromkeys(columns, pl.Utf8),
        missing_columns="insert",
        truncate_ragged_lines=True,
        empty_string_is_null=False,
        row_index_name="_row",
        row_index_offset=2,
        encoding="utf8",
    )
    try:
        for batch in frame.collect_batches(chunk_size=batch_rows):
            yield batch.with_columns(pl.col("_row").cast(pl.Int64), pl.col(pl.Utf8).fill_null(""))
    except pl.exceptions.ComputeError as exc:
        raise ImportFileError(_("The CSV file could not be parsed: %(error)s") % {"error": exc}) from exc


def _xlsx_open(path: Path) -> SourceFile:
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a broken workbook
        raise ImportFileError(_("The XLSX file could not be opened: %(error)s") % {"error": exc}) from exc
    try:
        sheet = workbook.worksheets[0]
        first = next(sheet.iter_rows(max_row=1, values_only=True), None)
    finally:
        workbook.close()
    if not first or not any(value not in (None, "") for value in first):
        raise ImportFileError(_("The first sheet has no header row."))
    raw = [_cell_text(value) for value in first]
    while raw and not raw[-1]:
        raw.pop()
    return SourceFile(path=path, format="xlsx", headers=_unique_headers(raw))


def _cell_text(value: object) -> str:
    """A spreadsheet cell as the text a person would have typed."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time(0) else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return str(Decimal(repr(value)).normalize()) if not value.is_integer() else str(int(value))
    return str(value).strip()


def _xlsx_batches(source: SourceFile, batch_rows: int) -> Iterator[pl.DataFrame]:
    import openpyxl

    width = len(source.headers)
    columns = source.headers + [f"{EXTRA_PREFIX}1"]
    workbook = openpyxl.load_workbook(source.path, read_only=True, data_only=True)
    try:
        rows: list[list[object]] = []
        for number, values in enumerate(
            workbook.worksheets[0].iter_rows(min_row=2, values_only=True), start=2
        ):
            cells = [_cell_text(value) for value in values]
            if not any(cells):
                continue  # spreadsheets end with styled but empty rows
            extra = "; ".join(cell for cell in cells[width:] if cell)
            rows.append([number, *(cells[:width] + [""] * (width - len(cells[:width]))), extra])
            if len(rows) >= batch_rows:
                yield _frame(rows, columns)
                rows = []
        if rows:
            yield _frame(rows, columns)
    finally:
        workbook.close()


def _frame(rows: list[list[object]], columns: list[str]) -> pl.DataFrame:
    schema = {"_row": pl.Int64, **dict.fromkeys(columns, pl.Utf8)}
    return pl.DataFrame(rows, schema=schema, orient="row")


def source_row_estimate(source: SourceFile) -> int:
    """Data rows in the file, for the progress bar: line breaks for CSV (exact unless values hold
    line breaks), the sheet's dimension for XLSX."""
    if source.format == "xlsx":
        import openpyxl

        workbook = openpyxl.load_workbook(source.path, read_only=True)
        try:
            return max(0, (workbook.worksheets[0].max_row or 1) - 1)
        finally:
            workbook.close()
    lines = 0
    last = b"\n"
    with source.path.open("rb") as handle:
        while chunk := handle.read(4 * 1024 * 1024):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    if last != b"\n":
        lines += 1  # no newline after the last row
    return max(0, lines - 1)


def source_batches(source: SourceFile, *, batch_rows: int | None = None) -> Iterator[pl.DataFrame]:
    batch_rows = batch_rows or BATCH_ROWS
    if source.format == "xlsx":
        return _xlsx_batches(source, batch_rows)
    return _csv_batches(source, batch_rows)
