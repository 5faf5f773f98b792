"""Reading affiliate files as Brazilian teams export them, in batches of string columns.

CSV (`;`, `,`, tab or `|`; UTF-8, UTF-8 with BOM or Windows-1252, even mixed in one file)
is first copied as clean UTF-8 (see `_csv_clean`), then streams through polars; XLSX streams
through openpyxl's read-only mode. Every batch is a polars DataFrame of
Utf8 columns named by the file's headers plus `_row`, the row number a person sees in a
spreadsheet (the header is row 1). Memory stays flat whatever the file's size.
"""

from __future__ import annotations

import codecs
import datetime as dt
import io
import re
import tempfile
import unicodedata
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

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
HEADER_MAX_BYTES = 4 * 1024 * 1024
XLSX_MAGIC = b"PK\x03\x04"
# The mapping form sends two fields a column, and Django refuses a POST of more than
# DATA_UPLOAD_MAX_NUMBER_FIELDS (1,000) fields: wider files are refused at upload, with a reason.
MAX_COLUMNS = 400
# A quoted value may hold line breaks; one running over more lines than this is taken for a stray
# quote that never closes, so that it cannot swallow the rest of the file.
MAX_QUOTED_LINES = 50
# A column the reader adds to a batch: a reason code (see crm.normalize) for a row it could only
# read in part, "" for the others.
PROBLEM_COLUMN = "__problem"
UNCLOSED_QUOTE = "unclosed_quote"
# A file whose start has more control bytes (NUL and the like, not tab or line breaks) than this
# share is binary; a few stray NUL bytes in a CSV are dropped instead.
BINARY_CONTROL_SHARE = 0.05
_CONTROL_BYTES = bytes([*range(0x00, 0x09), *range(0x0E, 0x20)])
# Cells read beyond the header in an XLSX row (they make the row rejected): openpyxl would
# otherwise pad every row to the width the sheet claims, up to 16,384 columns.
XLSX_EXTRA_CELLS = 50


class ImportFileError(Exception):
    """The file itself cannot be read (the message says why, for a person)."""


@dataclass
class SourceFile:
    path: Path
    format: str  # "csv" | "xlsx"
    headers: list[str]
    delimiter: str = ";"
    _transcoded: Path | None = field(default=None, repr=False)
    # Rows (numbered as `_row`) the cleaning found broken: row -> reason code.
    _problems: dict[int, str] = field(default_factory=dict, repr=False)

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
        name = (value or "").strip().lstrip("\ufeff").strip('"').strip() or _("Column %(n)s") % {"n": index}
        count = seen.get(name, 0)
        seen[name] = count + 1
        headers.append(name if count == 0 else f"{name} ({count + 1})")
    return headers


def _cp1252_fallback(error: UnicodeError) -> tuple[str, int]:
    """Bytes that are not UTF-8 read as Windows-1252 (Latin-1 for its five unused bytes): a file
    saved in pieces by different programs keeps "José" and "João" whichever way each was written."""
    assert isinstance(error, UnicodeDecodeError)
    bad = error.object[error.start : error.end]
    return "".join(bytes([b]).decode("cp1252", errors="ignore") or chr(b) for b in bad), error.end


codecs.register_error("udn_cp1252_fallback", _cp1252_fallback)


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", errors="udn_cp1252_fallback").replace("\x00", "")


def _record_pattern(delimiter: str) -> re.Pattern[str]:
    """A whole record as polars reads it: each field either quoted (`"` ... `"`, with `""` inside,
    nothing after the closing quote) or not starting with a quote."""
    d = re.escape(delimiter)
    field_ = f'(?:"(?:[^"]|"")*"\\r?|[^{d}"\\n][^{d}\\n]*|)'
    return re.compile(f"{field_}(?:{d}{field_})*")


def _closed(record: str, pattern: re.Pattern[str]) -> bool:
    return '"' not in record or pattern.fullmatch(record.removesuffix("\n")) is not None


def _split_line(line: str, delimiter: str, pattern: re.Pattern[str]) -> list[str]:
    """One line's fields; a quote that never closes on it is read as a plain character."""
    import csv

    text = line.removesuffix("\n").removesuffix("\r")
    if _closed(text, pattern):
        return next(csv.reader([text], delimiter=delimiter), [])
    return text.split(delimiter)


def _literal(line: str, delimiter: str) -> str:
    """The line with its quotes as plain characters, written back as CSV."""
    import csv

    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\n").writerow(
        line.removesuffix("\n").removesuffix("\r").split(delimiter)
    )
    return buffer.getvalue()


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
    if len(head) - len(head.translate(None, _CONTROL_BYTES)) > len(head) * BINARY_CONTROL_SHARE:
        raise ImportFileError(_("This does not look like a CSV or XLSX file (binary content)."))
    if b"\n" not in head:  # a header longer than the part looked at (thousands of columns)
        with path.open("rb") as handle:
            head = handle.readline(HEADER_MAX_BYTES)
    text = _decode(head).lstrip("\ufeff")
    first_line = text.split("\n", 1)[0].removesuffix("\r")
    delimiter = max(DELIMITERS, key=first_line.count)
    headers = _unique_headers(_split_line(first_line, delimiter, _record_pattern(delimiter)))
    if len(headers) < 2 and first_line.count(delimiter) == 0:
        raise ImportFileError(
            _("Could not find the columns: the first line should hold the headers, separated by ; or ,")
        )
    _check_width(len(headers))
    return SourceFile(path=path, format="csv", headers=headers, delimiter=delimiter)


def _check_width(columns: int) -> None:
    if columns > MAX_COLUMNS:
        raise ImportFileError(
            _(
                "The file has %(columns)s columns; at most %(max)s can be imported. Remove the columns "
                "you do not need and send it again."
            )
            % {"columns": f"{columns:,}".replace(",", "."), "max": MAX_COLUMNS}
        )


def _binary_lines(path: Path) -> Iterator[str]:
    """The file's lines, decoded (see `_decode`), read in big chunks."""
    with path.open("rb") as handle:
        rest = b""
        while chunk := handle.read(4 * 1024 * 1024):
            chunk = rest + chunk
            cut = chunk.rfind(b"\n") + 1
            if cut == 0:
                rest = chunk
                continue
            rest = chunk[cut:]
            # Only "\n" ends a line, as for polars (str.splitlines also splits at \r, \x85, \u2028...).
            lines = _decode(chunk[:cut]).split("\n")
            lines.pop()  # "" after the last "\n"
            for line in lines:
                yield line + "\n"
        if rest:
            yield _decode(rest)


def _csv_clean(path: Path, delimiter: str) -> tuple[Path, dict[int, str]]:
    """Copy the file as the UTF-8 polars reads: each stretch of bytes that is not UTF-8 read as
    Windows-1252, NUL bytes and the BOM dropped, and a quote that never closes (within
    MAX_QUOTED_LINES lines, or at the end of the file) read as a plain character, its row noted
    as a problem instead of swallowing the rows after it. Returns the copy and the problem rows."""
    pattern = _record_pattern(delimiter)
    problems: dict[int, str] = {}
    row = 1  # the header; rows are counted as polars numbers them (blank lines too)
    pending: list[str] = []  # the lines of a record whose quote is still open
    work: deque[str] = deque()
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", newline="", suffix=".csv", delete=False) as out:

        def give_up_on_pending() -> None:
            # The record's first line had the stray quote; the lines after it are read again.
            nonlocal row, pending
            out.write(_literal(pending[0], delimiter))
            problems[row] = UNCLOSED_QUOTE
            row += 1
            work.extendleft(reversed(pending[1:]))
            pending = []

        def drain() -> None:
            nonlocal row, pending
            while work:
                line = work.popleft()
                if pending:
                    pending.append(line)
                    record = "".join(pending)
                    if _closed(record, pattern):
                        out.write(record)
                        row += 1
                        pending = []
                    elif len(pending) > MAX_QUOTED_LINES:
                        give_up_on_pending()
                elif _closed(line, pattern):
                    out.write(line)
                    row += 1
                elif row == 1:  # a header never spans lines
                    out.write(_literal(line, delimiter))
                    row += 1
                else:
                    pending = [line]

        lines = _binary_lines(path)
        first = next(lines, "")
        work.append(first.lstrip("\ufeff"))
        drain()
        for line in lines:
            work.append(line)
            drain()
        while pending:  # the end of the file with a quote still open
            give_up_on_pending()
            drain()
    return Path(out.name), problems


def _csv_batches(source: SourceFile, batch_rows: int) -> Iterator[pl.DataFrame]:
    # Cleaned only when the rows are read (not to look at the headers), and once per read.
    if source._transcoded is None:
        source._transcoded, source._problems = _csv_clean(source.path, source.delimiter)
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
            batch = batch.with_columns(pl.col("_row").cast(pl.Int64), pl.col(pl.Utf8).fill_null(""))
            problem = (
                pl.col("_row").replace_strict(source._problems, default="", return_dtype=pl.Utf8)
                if source._problems
                else pl.lit("")
            )
            yield batch.with_columns(problem.alias(PROBLEM_COLUMN))
    except pl.exceptions.ComputeError as exc:
        raise ImportFileError(_("The CSV file could not be parsed: %(error)s") % {"error": exc}) from exc


def _xlsx_open(path: Path) -> SourceFile:
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a broken workbook
        raise ImportFileError(_("The XLSX file could not be opened: %(error)s") % {"error": exc}) from exc
    try:
        first = next(_sheet(workbook)[0].iter_rows(max_row=1, values_only=True), None)
    finally:
        workbook.close()
    if not first or not any(value not in (None, "") for value in first):
        raise ImportFileError(_("The first sheet has no header row."))
    raw = [_cell_text(value) for value in first]
    while raw and not raw[-1]:
        raw.pop()
    _check_width(len(raw))
    return SourceFile(path=path, format="xlsx", headers=_unique_headers(raw))


# What a sheet claims when a whole row or column was formatted: A1:XFD1048576.
XLSX_LAST_COLUMN = 16_384
XLSX_LAST_ROW = 1_048_576


def _sheet(workbook: Any) -> tuple[Any, tuple[int | None, int | None]]:
    """The first sheet, read as far as its cells go (openpyxl's read-only mode trusts the size the
    sheet claims and pads every row to it: 16,384 columns when a whole row was formatted), and the
    size it claimed (rows, columns)."""
    sheet = workbook.worksheets[0]
    claimed = (sheet.max_row, sheet.max_column)
    sheet.reset_dimensions()
    return sheet, claimed


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
        sheet, _claimed = _sheet(workbook)
        for number, values in enumerate(
            sheet.iter_rows(min_row=2, max_col=width + XLSX_EXTRA_CELLS, values_only=True), start=2
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
    return pl.DataFrame(rows, schema=schema, orient="row").with_columns(pl.lit("").alias(PROBLEM_COLUMN))


def source_row_estimate(source: SourceFile) -> int:
    """Data rows in the file, for the progress bar: line breaks for CSV (exact unless values hold
    line breaks), the sheet's dimension for XLSX."""
    if source.format == "xlsx":
        import openpyxl

        workbook = openpyxl.load_workbook(source.path, read_only=True)
        try:
            sheet, (claimed_rows, claimed_columns) = _sheet(workbook)
            if claimed_rows and claimed_rows < XLSX_LAST_ROW and (claimed_columns or 0) < XLSX_LAST_COLUMN:
                return max(0, claimed_rows - 1)
            # The claimed size is missing or "the whole sheet": count the rows that hold something.
            return sum(
                1
                for row in sheet.iter_rows(min_row=2, max_col=len(source.headers), values_only=True)
                if any(value not in (None, "") for value in row)
            )
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
