"""A product CSV as a stream of rows: the header, then one record at a time, never the whole file.

``open_sheet(source, errors)`` reads a str or a text file object once (a byte-order mark dropped, RFC 4180
quoting by the ``csv`` module) and returns a ``Sheet`` whose ``rows()`` yields ``(row number, {column:
cell})`` with row numbers as a spreadsheet shows them (header = 1). A file that ends inside a quoted cell,
or with a short last row and no final newline (an interrupted download), is reported in ``errors``
naming the last complete row (``truncated_message``). A binary or non-UTF-8 file raises
``UnsupportedFormat``. Shared by the WooCommerce, Shopify and Magento 2 readers.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from products.importers.common import Errors, UnsupportedFormat


def normalize_header(name: str) -> str:
    """Header cells are matched without regard to case or surrounding/double spaces."""
    return " ".join(name.strip().lower().split())


class Sheet:
    """A CSV file opened for one pass: the header as written, then data rows read as a stream.

    ``header``: the header cells (trimmed); ``columns``: normalized header →
    header as written (first occurrence). ``rows()`` yields ``(line number,
    {header: cell})`` one record at a time and records in ``errors`` what
    makes the file unreadable or incomplete (see ``open_sheet``).
    """

    def __init__(self, header: list[str], records: Iterator[list[str]], tail: _Tail, errors: Errors):
        self.header = header
        self.columns: dict[str, str] = {}
        for name in header:
            if name:
                self.columns.setdefault(normalize_header(name), name)
        self._records = records
        self._tail = tail
        self._errors = errors

    def column(self, *names: str) -> str | None:
        """The file's spelling of the first of ``names`` present in the header, else None."""
        for name in names:
            found = self.columns.get(normalize_header(name))
            if found is not None:
                return found
        return None

    def rows(self, only=None) -> Iterator[tuple[int, dict[str, str]]]:
        """Data rows as ``(spreadsheet row, {header as written: cell})``; one pass only.

        ``only``: a collection of header names (as written) to keep in each
        row's dict (the rest is dropped at once: less memory for readers that
        hold rows).

        Row numbers are records, not physical lines (a quoted cell may span
        lines); fully blank rows are skipped but counted. A row with more
        non-blank cells than the header is an error (and skipped); missing
        cells read as "". The file being cut short is an error naming the
        row it ends in (``truncated_message``).
        """
        header, errors = self.header, self._errors
        width = len(header)
        names = [(index, name) for index, name in enumerate(header) if name and name not in header[:index]]
        if only is not None:
            names = [(index, name) for index, name in names if name in only]
        number = 1
        full_width = True  # every data row before ``pending`` had all the header's cells
        pending: tuple[int, list[str]] | None = None  # held back one record: is it the last?
        try:
            for record in self._records:
                number += 1
                if not any(cell.strip() for cell in record):
                    continue
                if pending is not None:
                    full_width = full_width and len(pending[1]) >= width
                    if (cells := self._cells(pending, names, width)) is not None:
                        yield cells
                pending = (number, record)
        except csv.Error as exc:
            if pending is not None and (cells := self._cells(pending, names, width)) is not None:
                yield cells
            if "unexpected end of data" in str(exc):
                errors.add(number + 1, "", truncated_message(number + 1, "a quoted cell is never closed"))
            else:
                errors.add(number + 1, "", f"expected well-formed CSV (quotes closed, commas between cells): {exc}")
            return
        if pending is None:
            return
        line, record = pending
        # A last row without its line break and with fewer cells than the header (when the rows
        # before it were complete) is a cut-off file. Shopify's own template ends without a line
        # break but with a full last row: that is not flagged.
        if len(record) < width and not self._tail.ends_with_newline and full_width:
            found = f"it has {len(record)} of the header's {width} cells and no line break"
            errors.add(line, "", truncated_message(line, found))
            return
        if (cells := self._cells(pending, names, width)) is not None:
            yield cells

    def _cells(self, pending: tuple[int, list[str]], names, width: int) -> tuple[int, dict[str, str]] | None:
        number, record = pending
        if len(record) > width and any(cell.strip() for cell in record[width:]):
            message = f"expected at most {width} cells (the header has {width} columns), got {len(record)}"
            self._errors.add(number, "", message)
            return None
        count = len(record)
        return number, {name: (record[index] if index < count else "") for index, name in names}


def truncated_message(row: int, found: str) -> str:
    """The refusal of a file cut short (an interrupted download or copy)."""
    return (
        f"the file ends inside row {row} ({found}): it is incomplete, probably an interrupted download "
        f"or copy; the last complete row is {row - 1}. Download or export the file again and import the "
        "whole file"
    )


class _Tail:
    """Remembers whether the last line read ended with a line break."""

    def __init__(self, stream):
        self.stream = stream
        self.ends_with_newline = True

    def __iter__(self) -> Iterator[str]:
        for line in self.stream:
            self.ends_with_newline = line.endswith(("\n", "\r"))
            yield line


def as_text_stream(source):
    """``source`` as an iterable of lines: a str is wrapped (not copied into a list), a file is used as is."""
    if isinstance(source, str):
        return io.StringIO(source, newline="")
    if isinstance(source, (bytes, bytearray)):
        raise TypeError("give the file as text (open it with encoding='utf-8'), not bytes")
    return source


def open_sheet(source, errors: Errors) -> Sheet | None:
    """Open CSV ``source`` (a str, or a text file object read as a stream) and read its header.

    A leading UTF-8 BOM is dropped. Returns None (with an error recorded)
    when there is no header or the first record is not CSV. Raises
    ``UnsupportedFormat`` when the text is not UTF-8 or holds NUL characters
    (a binary file such as a spreadsheet workbook or an archive).
    """
    tail = _Tail(_strip_bom(as_text_stream(source)))
    reader = csv.reader(tail, strict=True)
    records = _decoded(reader)
    try:
        first = next(records, None)
    except csv.Error as exc:
        errors.add(1, "", f"expected well-formed CSV (quotes closed, commas between cells): {exc}")
        return None
    if first is None or not any(cell.strip() for cell in first):
        errors.add(1, "", "expected a header row naming the columns, got an empty file")
        return None
    return Sheet([cell.strip() for cell in first], records, tail, errors)


def _strip_bom(lines) -> Iterator[str]:
    first = True
    for line in lines:
        if first:
            first = False
            if line.startswith("\ufeff"):
                line = line[1:]
        yield line


def _decoded(reader) -> Iterator[list[str]]:
    """The reader's records; undecodable bytes or NUL characters mean the file is not text we read."""
    try:
        for record in reader:
            yield record
    except UnicodeDecodeError:
        raise UnsupportedFormat(found="a binary file, or text that is not UTF-8") from None
    except csv.Error as exc:
        if "NUL" in str(exc):
            raise UnsupportedFormat(found="a binary file") from None
        raise


def read_sheet(text: str, errors: Errors) -> Sheet | None:
    """``open_sheet`` for a whole text (kept for callers that hold the file as a str)."""
    return open_sheet(text, errors)


def check_duplicate_columns(sheet: Sheet, names: list[str], errors: Errors) -> None:
    """A column this reader uses must appear once: which copy to believe would be a guess."""
    counts: dict[str, int] = {}
    for name in sheet.header:
        counts[normalize_header(name)] = counts.get(normalize_header(name), 0) + 1
    for name in names:
        if counts.get(normalize_header(name), 0) > 1:
            errors.add(1, sheet.column(name) or name, "expected this column once, found it more than once")


# --- cells -------------------------------------------------------------------
