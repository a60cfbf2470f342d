"""Shapes and cell parsers shared by the WooCommerce and Shopify product-CSV readers.

A reader turns the text of one CSV file into ``ProductData`` (with its
``VariantData``) or raises ``ImportValidationError`` listing every problem
it found, each as a ``RowError`` that names the row a spreadsheet shows
(header = 1, first data row = 2), the column as spelled in the file's
header, and what was expected. Nothing here touches the database.

Units: weights are grams (``Decimal`` with 3 decimal places); money is a
``Decimal`` with 2 decimal places in the organization's ISO 4217 currency
(neither file format carries a currency, so none is read).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from urllib.parse import urlsplit

from django.utils.text import slugify

#: At most this many errors are listed; a last entry says how many more were found.
MAX_ERRORS = 1000

CENT = Decimal("0.01")
MILLIGRAM = Decimal("0.001")
#: Decimal(12, 2) in the database: at most 10 digits before the point.
MAX_MONEY = Decimal("9999999999.99")
#: Decimal(12, 3): at most 9 digits before the point.
MAX_GRAMS = Decimal("999999999.999")
MAX_STOCK = 2_147_483_647  # a 32-bit signed integer column

#: Lengths of the catalog's text columns (products/models.py).
MAX_LENGTHS = {
    "handle": 255,
    "title": 255,
    "sku": 100,
    "vendor": 255,
    "product_type": 255,
    "external_url": 500,
    "button_text": 100,
    "image_url": 500,
    "barcode": 64,
}


@dataclass
class RowError:
    """One problem in an uploaded file.

    ``row`` is the line number a spreadsheet shows (header = 1, first data
    row = 2; 0 when the problem is not tied to a line, such as an unknown
    format name); ``column`` is the column's name as spelled in the file
    ("" for the row as a whole); ``message`` says what was expected and what
    was found, e.g. ``expected a decimal number like 19.99, got '12,5'``.
    """

    row: int
    column: str
    message: str

    def __str__(self) -> str:
        where = f"row {self.row}" + (f", column “{self.column}”" if self.column else "")
        return f"{where}: {self.message}"


class ImportValidationError(Exception):
    """The file did not validate; ``errors`` lists every problem found (in row order)."""

    def __init__(self, errors: list[RowError]):
        self.errors = list(errors)
        shown = "; ".join(str(e) for e in self.errors[:5])
        more = f" (and {len(self.errors) - 5} more)" if len(self.errors) > 5 else ""
        super().__init__(f"{len(self.errors)} problem(s) in the file: {shown}{more}")


@dataclass
class VariantData:
    """A variant as read from a file; mirrors ``products.models.Variant``.

    ``price``/``compare_at_price``: Decimal (2 places) in the organization's
    currency, or None; ``stock``: int, or None when stock is not tracked;
    ``option_values``: ``{"Color": "Blue", "Size": "M"}``; ``weight_grams``:
    Decimal grams (3 places) or None. ``row`` and ``sku_column`` say where
    the variant came from (for error messages only; never stored).
    """

    sku: str = ""
    position: int = 1
    price: Decimal | None = None
    compare_at_price: Decimal | None = None
    stock: int | None = None
    option_values: dict = field(default_factory=dict)
    image_url: str = ""
    barcode: str = ""
    weight_grams: Decimal | None = None
    row: int = field(default=0, compare=False)
    sku_column: str = field(default="SKU", compare=False, repr=False)


@dataclass
class ProductData:
    """A product as read from a file; mirrors ``products.models.Product``.

    ``kind`` is a ``ProductKind`` value, ``status`` a ``ProductStatus`` value.
    ``categories``: category paths as written by the platforms, e.g.
    ``["Clothing > Tshirts"]``; ``tags``: ``["Made to Order"]``; ``options``:
    ``[{"name": "Color", "values": ["Blue", "Red"]}]``; ``images``: absolute
    URLs, the first is the main image; ``grouped_skus``: SKUs of a grouped
    product's children; ``downloads``: ``[{"name": …, "url": …}]``;
    ``weight_grams``: Decimal grams or None. ``row`` is the source line of
    the product's (first) row, for error messages only.
    """

    handle: str
    title: str
    sku: str = ""
    kind: str = "simple"
    status: str = "active"
    description: str = ""
    short_description: str = ""
    vendor: str = ""
    product_type: str = ""
    categories: list = field(default_factory=list)
    tags: list = field(default_factory=list)
    options: list = field(default_factory=list)
    images: list = field(default_factory=list)
    external_url: str = ""
    button_text: str = ""
    grouped_skus: list = field(default_factory=list)
    downloads: list = field(default_factory=list)
    weight_grams: Decimal | None = None
    variants: list[VariantData] = field(default_factory=list)
    row: int = field(default=0, compare=False)


# --- reading the file --------------------------------------------------------


class Errors:
    """Collects RowErrors while a reader walks the whole file."""

    def __init__(self):
        self.items: list[RowError] = []

    def add(self, row: int, column: str, message: str) -> None:
        self.items.append(RowError(row, column, message))

    def __bool__(self) -> bool:
        return bool(self.items)

    def raise_if_any(self) -> None:
        if not self.items:
            return
        errors = sorted(self.items, key=lambda e: e.row)
        if len(errors) > MAX_ERRORS:
            extra = len(errors) - MAX_ERRORS
            errors = errors[:MAX_ERRORS] + [RowError(0, "", f"{extra} more problems were found and are not listed")]
        raise ImportValidationError(errors)


def normalize_header(name: str) -> str:
    """Header cells are matched without regard to case or surrounding/double spaces."""
    return " ".join(name.strip().lower().split())


@dataclass
class Sheet:
    """A parsed CSV: the header as written, and data rows as (line number, {header: cell})."""

    header: list[str]
    rows: list[tuple[int, dict[str, str]]]
    columns: dict[str, str]  # normalized header -> header as written (first occurrence)

    def column(self, *names: str) -> str | None:
        """The file's spelling of the first of ``names`` present in the header, else None."""
        for name in names:
            found = self.columns.get(normalize_header(name))
            if found is not None:
                return found
        return None


def read_sheet(text: str, errors: Errors) -> Sheet | None:
    """Parse CSV text (a leading UTF-8 BOM is dropped) into a Sheet.

    Row numbers are spreadsheet rows (records, not physical lines: a quoted
    cell may span lines). Fully blank rows are skipped but still counted.
    Returns None (with an error recorded) when there is no header.
    """
    if text.startswith("\ufeff"):
        text = text[1:]
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        records = list(reader)
    except csv.Error as exc:
        errors.add(reader.line_num, "", f"expected well-formed CSV (quotes closed, commas between cells): {exc}")
        return None
    if not records or not any(cell.strip() for cell in records[0]):
        errors.add(1, "", "expected a header row naming the columns, got an empty file")
        return None
    header = [cell.strip() for cell in records[0]]
    columns: dict[str, str] = {}
    for name in header:
        if name:
            columns.setdefault(normalize_header(name), name)
    rows = []
    width = len(header)
    for number, record in enumerate(records[1:], start=2):
        if not any(cell.strip() for cell in record):
            continue
        if len(record) > width and any(cell.strip() for cell in record[width:]):
            message = f"expected at most {width} cells (the header has {width} columns), got {len(record)}"
            errors.add(number, "", message)
            continue
        cells = {}
        for index, name in enumerate(header):
            if name and name not in cells:
                cells[name] = record[index] if index < len(record) else ""
        rows.append((number, cells))
    return Sheet(header=header, rows=rows, columns=columns)


def check_duplicate_columns(sheet: Sheet, names: list[str], errors: Errors) -> None:
    """A column this reader uses must appear once: which copy to believe would be a guess."""
    counts: dict[str, int] = {}
    for name in sheet.header:
        counts[normalize_header(name)] = counts.get(normalize_header(name), 0) + 1
    for name in names:
        if counts.get(normalize_header(name), 0) > 1:
            errors.add(1, sheet.column(name) or name, "expected this column once, found it more than once")


# --- cells -------------------------------------------------------------------

_DECIMAL_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
_INT_RE = re.compile(r"^[+-]?\d+$")


def parse_decimal(value: str) -> Decimal | None:
    """A plain decimal number ("19.99", ".5", "25") or None if blank; raises ValueError otherwise.

    Only a point is a decimal separator: "12,5" and "1,299.00" are refused
    rather than guessed at, and so are currency signs and exponents.
    """
    value = value.strip()
    if not value:
        return None
    if not _DECIMAL_RE.match(value):
        raise ValueError(value)
    try:
        return Decimal(value)
    except InvalidOperation:  # pragma: no cover - the regex already rules this out
        raise ValueError(value) from None


def money(value: str, row: int, column: str, errors: Errors) -> Decimal | None:
    """A price: blank → None; 0 or more with at most 2 decimals → Decimal quantized to cents."""
    try:
        number = parse_decimal(value)
    except ValueError:
        errors.add(row, column, f"expected a decimal number like 19.99, got {value.strip()!r}")
        return None
    if number is None:
        return None
    if number < 0:
        errors.add(row, column, f"expected a price of 0 or more, got {value.strip()!r}")
        return None
    if number != number.quantize(CENT):
        errors.add(row, column, f"expected at most 2 decimal places, got {value.strip()!r}")
        return None
    if number > MAX_MONEY:
        errors.add(row, column, f"expected a price below 10,000,000,000, got {value.strip()!r}")
        return None
    return number.quantize(CENT)


def grams(number: Decimal | None, raw: str, row: int, column: str, errors: Errors) -> Decimal | None:
    """A weight already converted to grams → Decimal with 3 places (to the milligram)."""
    if number is None:
        return None
    if number < 0:
        errors.add(row, column, f"expected a weight of 0 or more, got {raw.strip()!r}")
        return None
    result = number.quantize(MILLIGRAM)
    if result > MAX_GRAMS:
        errors.add(row, column, f"expected a weight below 1,000,000 kg, got {raw.strip()!r}")
        return None
    return result


def whole_number(value: str, row: int, column: str, errors: Errors) -> int | None:
    """A stock count: blank → None; a whole number (negative allowed: oversold stock) → int."""
    value = value.strip()
    if not value:
        return None
    if not _INT_RE.match(value):
        errors.add(row, column, f"expected a whole number like 12, got {value!r}")
        return None
    number = int(value)
    if abs(number) > MAX_STOCK:
        errors.add(row, column, f"expected a stock count below {MAX_STOCK}, got {value!r}")
        return None
    return number


def absolute_url(value: str) -> bool:
    """True for an http(s) URL with a host."""
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc) and " " not in value


def check_length(value: str, field_name: str, row: int, column: str, errors: Errors) -> str:
    limit = MAX_LENGTHS[field_name]
    if len(value) > limit:
        errors.add(row, column, f"expected at most {limit} characters, got {len(value)}")
    return value


def unique_list(values) -> list:
    """Values in first-seen order without repeats or blanks."""
    seen, result = set(), []
    for value in values:
        if value and value not in seen:
            seen.add(value)
            result.append(value)
    return result


def make_handle(text: str) -> str:
    """A handle (lowercase slug, Unicode letters kept) for ``text``; "" if nothing is left."""
    return slugify(text, allow_unicode=True)[:255].strip("-_")


class HandleAllocator:
    """Hands out unique handles for one file: "hoodie", then "hoodie-2", "hoodie-3"…"""

    def __init__(self):
        self.taken: set[str] = set()

    def claim(self, base: str) -> str:
        base = base or "product"
        handle, n = base, 1
        while handle in self.taken:
            n += 1
            suffix = f"-{n}"
            handle = base[: 255 - len(suffix)] + suffix
        self.taken.add(handle)
        return handle
