"""Shapes and cell parsers shared by the product-CSV readers (WooCommerce, Shopify, Magento 2).

A reader turns one CSV file (a str or a text file object, read as a stream:
``products.importers.sheet.open_sheet``) into ``ProductData`` (with its ``VariantData``) or raises
``ImportValidationError`` listing every problem it found, each as a ``RowError`` that names the row a spreadsheet shows
(header = 1, first data row = 2), the column as spelled in the file's
header, and what was expected. Nothing here touches the database.

Units: weights are grams and dimensions millimetres (``Decimal`` with 3
decimal places); money is a
``Decimal`` with 2 decimal places in the organization's ISO 4217 currency
(neither file format carries a currency, so none is read).
"""

from __future__ import annotations

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
MAX_MM = Decimal("999999999.999")  # Decimal(12, 3) too
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


#: What an unreadable or unknown file is told (the import page adds a link to the formats page).
UNSUPPORTED_MESSAGE = "not a supported format: we read WooCommerce CSV, Shopify CSV, Magento 2 CSV"


class UnsupportedFormat(ImportValidationError):
    """The file is not one we read: XML, JSON, binary, not UTF-8, or a CSV whose header is no known format.

    ``str(exc)`` is ``UNSUPPORTED_MESSAGE``; ``errors`` starts with that
    message on row 1 and may add what was found (e.g. the columns missing for
    the format chosen).
    """

    def __init__(self, details: list[RowError] | None = None, found: str = ""):
        first = RowError(1, "", UNSUPPORTED_MESSAGE + (f" (this file looks like {found})" if found else ""))
        super().__init__([first, *(details or [])])
        self.args = (UNSUPPORTED_MESSAGE,)

    def __str__(self) -> str:
        return UNSUPPORTED_MESSAGE


@dataclass(slots=True)  # slots: 100,000 variants of a big file cost a third less memory
class VariantData:
    """A variant as read from a file; mirrors ``products.models.Variant``.

    ``price``/``compare_at_price``: Decimal (2 places) in the organization's
    currency, or None; ``stock``: int, or None when stock is not tracked;
    ``option_values``: ``{"Color": "Blue", "Size": "M"}``; ``weight_grams``:
    Decimal grams (3 places) or None; ``length_mm``/``width_mm``/``height_mm``:
    Decimal millimetres (3 places) or None. ``row`` and ``sku_column`` say
    where the variant came from (for error messages only; never stored).
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
    length_mm: Decimal | None = None
    width_mm: Decimal | None = None
    height_mm: Decimal | None = None
    row: int = field(default=0, compare=False)
    sku_column: str = field(default="SKU", compare=False, repr=False)


@dataclass(slots=True)
class ProductData:
    """A product as read from a file; mirrors ``products.models.Product``.

    ``kind`` is a ``ProductKind`` value, ``status`` a ``ProductStatus`` value.
    ``categories``: category paths as written by the platforms, e.g.
    ``["Clothing > Tshirts"]``; ``tags``: ``["Made to Order"]``; ``options``:
    ``[{"name": "Color", "values": ["Blue", "Red"]}]``; ``images``: absolute
    URLs, the first is the main image; ``grouped_skus``: SKUs of a grouped
    product's children; ``downloads``: ``[{"name": …, "url": …}]``;
    ``weight_grams``: Decimal grams or None; ``length_mm``/``width_mm``/
    ``height_mm``: Decimal millimetres or None. ``handle_source`` says where
    the handle came from: "sku" (slug of the SKU), "handle" (the file's
    handle or URL key column), "id" (the platform's id column) or "title"
    (slug of the name: a product without SKU or handle). ``source_id`` is
    the platform's own id of the product in the file (WooCommerce ``ID``),
    "" when the format has none. ``row`` is the source line of the
    product's (first) row, for error messages only.
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
    length_mm: Decimal | None = None
    width_mm: Decimal | None = None
    height_mm: Decimal | None = None
    variants: list[VariantData] = field(default_factory=list)
    handle_source: str = field(default="sku", compare=False)
    source_id: str = field(default="", compare=False)
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


#: What our exporters (``products.exporters.common.neutralize_formula``) and WooCommerce's put a quote before.
FORMULA_TRIGGERS = "=+-@"


def unquote_formula(value: str) -> str:
    """Undo the CSV-injection guard: ``"'=SUM(A1)"`` → ``"=SUM(A1)"``; anything else unchanged.

    One leading apostrophe before ``= + - @`` is removed (WooCommerce's
    ``WC_Product_CSV_Importer::unescape_data``); the exporters write a value
    that itself starts with ``'=`` as ``''=``, so one strip gives it back.
    """
    if len(value) >= 2 and value[0] == "'" and value[1] in FORMULA_TRIGGERS:
        return value[1:]
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
