"""Read WooCommerce's product CSV (the file WooCommerce's exporter writes and its importer reads).

Format rules follow WooCommerce's own importer (woocommerce/woocommerce,
``includes/import/class-wc-product-csv-importer.php`` and
``abstract-wc-product-importer.php``) and the columns its exporter writes:

* The file may start with a UTF-8 BOM. Headers are matched ignoring case.
* ``Type`` is a comma list: one of simple, variable, grouped, external,
  variation, optionally with the flags downloadable and virtual
  ("simple, downloadable, virtual"); blank means simple.
* ``Published``: 1 → active; 0 (private) and -1 (draft) → draft; the
  importer's alternatives ``true``/``false`` are accepted; blank → active
  (a new WooCommerce product is published by default).
* List cells (``Categories``, ``Tags``, ``Images``, ``Grouped products``,
  ``Attribute N value(s)``) are comma-separated; ``\\,`` is a literal comma.
  Categories are paths: "Clothing > Tshirts" is kept as that path.
* The exporter prefixes cells starting with = + - @ with a quote (CSV
  injection guard); that quote is removed. In descriptions a literal
  ``\\n`` is a line break.
* ``Parent`` (variation rows) and ``Grouped products`` name products by SKU
  or by ``id:NN``, where NN is a value of this file's ``ID`` column.
* ``Weight (lbs)``: the unit is the store's and is part of the header
  (kg, g, lbs or oz); it is converted to grams (1 lb = 453.59237 g,
  1 oz = 28.349523125 g, exact by definition of the international pound).
* ``Sale price`` set → price = sale price, compare-at = regular price;
  otherwise price = regular price. A sale price above the regular price
  is refused. Sale schedule dates are not read: a sale price in the file
  is taken as the current price.
* ``Length (cm)``, ``Width (cm)``, ``Height (cm)``: the unit is the
  store's, in the header (m, cm, mm, in or yd); converted to millimetres
  (1 in = 25.4 mm, 1 yd = 914.4 mm, exact). A variation's blank dimension
  stays None (WooCommerce then uses the parent's).
* ``Stock`` blank → None (WooCommerce does not manage stock for it).

Mapping to the catalog: handle = slug of the SKU (of the parent SKU for
variable products), else of the name, made unique within the file with
-2, -3…; simple, external and downloadable products get exactly one variant
carrying the product's SKU, price, stock and weight; variable products get
one variant per ``variation`` row, ordered by the ``Position`` column (menu
order) then file order; grouped products get none (``grouped_skus`` lists
their children). ``Attribute N name/value(s)`` become the product's options;
on a variation row the single value is the variant's option value, and a
blank value (WooCommerce's "any …") leaves that option out of the variant's
``option_values``. A simple product's single-valued attributes are also its
one variant's option values, so the product stays consistent for stores
that require every option on every variant.

Not imported (no place in the catalog): featured flag, catalog visibility,
tax status/class, "In stock?" (stock status without a count), backorders,
sold individually, reviews, purchase note, shipping class,
download limit/expiry, upsells, cross-sells, attribute visible/global
flags, ``Meta:`` columns, the virtual flag, a variation's own name,
description and published state, and downloads on variation rows.
``External URL``/``Button text`` are read for external products only and
``Grouped products`` for grouped products only, as WooCommerce does; the
prices and stock on a variable or grouped product's own row are not read
(WooCommerce takes them from the variations or the children).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import PurePosixPath
from urllib.parse import unquote, urlsplit

from products.choices import ProductStatus
from products.importers.common import (
    Errors,
    ProductData,
    absolute_url,
    check_length,
    MAX_MM,
    grams,
    money,
    parse_decimal,
    RowError,
    unique_list,
    unquote_formula,
    whole_number,
)
from products.importers.sheet import Sheet, check_duplicate_columns, open_sheet
from products.importers.woocommerce_assembly import assemble

FORMAT = "woocommerce"

#: Columns that identify a WooCommerce product CSV.
REQUIRED_COLUMNS = ("Type", "SKU", "Name")

BASE_TYPES = ("simple", "variable", "grouped", "external", "variation")
FLAGS = ("downloadable", "virtual")

#: Grams per unit of the store's weight unit (WooCommerce: kg, g, lbs, oz).
GRAMS_PER_UNIT = {
    "kg": Decimal("1000"),
    "g": Decimal("1"),
    "lbs": Decimal("453.59237"),
    "oz": Decimal("28.349523125"),
}

#: Millimetres per unit of the store's dimension unit (WooCommerce: m, cm, mm, in, yd; 1 in = 25.4 mm exactly).
MM_PER_UNIT = {
    "m": Decimal("1000"),
    "cm": Decimal("10"),
    "mm": Decimal("1"),
    "in": Decimal("25.4"),
    "yd": Decimal("914.4"),
}

_WEIGHT_HEADER = re.compile(r"^weight \((.*)\)$")
_DIMENSION_HEADER = re.compile(r"^(length|width|height) \((.*)\)$")
_ATTRIBUTE_HEADER = re.compile(r"^attribute (\d+) (name|value\(s\))$")
_DOWNLOAD_HEADER = re.compile(r"^download (\d+) (name|url)$")

PUBLISHED = {
    "1": ProductStatus.ACTIVE,
    "0": ProductStatus.DRAFT,  # private: not visible to shoppers
    "-1": ProductStatus.DRAFT,
    "true": ProductStatus.ACTIVE,
    "false": ProductStatus.DRAFT,
    "": ProductStatus.ACTIVE,
}


def matches_header(columns: set[str]) -> bool:
    """True when normalized header names look like a WooCommerce product CSV."""
    return {"type", "sku", "name"} <= columns and "handle" not in columns


def explode(value: str) -> list[str]:
    """Split a WooCommerce list cell on commas (``\\,`` is a literal comma), trimmed, blanks dropped."""
    parts = value.replace("\\,", "\0").split(",")
    return [part.replace("\0", ",").strip() for part in parts if part.strip()]


#: Undo the exporter's quote before cells starting with = + - @ (shared with the Shopify reader).
unescape = unquote_formula


def description(value: str) -> str:
    """WooCommerce writes line breaks in descriptions as a literal ``\\n`` (and ``\\\\n`` for a literal one)."""
    return "\\\\n".join(part.replace("\\n", "\n") for part in value.split("\\\\n"))


@dataclass(slots=True)
class _Row:
    """One data row after cell-level checks.

    Every row of the file is held until the file is read (a variation may
    come before its parent), so collections are tuples, empty ones shared,
    and repeated strings (attribute names and values, categories, parent
    SKUs) are one object per file (``_compact``).
    """

    line: int
    id: int | None = None
    type: str = "simple"
    flags: frozenset = frozenset()
    sku: str = ""
    name: str = ""
    status: str = ProductStatus.ACTIVE
    short_description: str = ""
    description: str = ""
    price: Decimal | None = None
    compare_at_price: Decimal | None = None
    stock: int | None = None
    weight_grams: Decimal | None = None
    length_mm: Decimal | None = None
    width_mm: Decimal | None = None
    height_mm: Decimal | None = None
    categories: tuple = ()
    tags: tuple = ()
    images: tuple = ()
    parent: str = ""
    grouped: tuple = ()
    external_url: str = ""
    button_text: str = ""
    menu_order: int = 0
    attributes: tuple = ()  # ((name, (values…), column of the values), …)
    downloads: tuple = ()


class _Columns:
    """Where each column WooCommerce defines sits in this file's header (None when absent)."""

    def __init__(self, sheet: Sheet, errors: Errors):
        self.id = sheet.column("ID")
        self.type = sheet.column("Type")
        self.sku = sheet.column("SKU")
        self.name = sheet.column("Name")
        self.published = sheet.column("Published")
        self.short_description = sheet.column("Short description")
        self.description = sheet.column("Description")
        self.stock = sheet.column("Stock")
        self.sale_price = sheet.column("Sale price")
        self.regular_price = sheet.column("Regular price")
        self.categories = sheet.column("Categories")
        self.tags = sheet.column("Tags")
        self.images = sheet.column("Images")
        self.parent = sheet.column("Parent")
        self.grouped = sheet.column("Grouped products")
        self.external_url = sheet.column("External URL")
        self.button_text = sheet.column("Button text")
        self.position = sheet.column("Position")
        self.weight = None
        self.grams_per_unit = Decimal(1)
        self.dimensions: dict[str, tuple[str, Decimal]] = {}  # "length" -> (column, mm per unit)
        attributes: dict[int, dict[str, str]] = {}
        downloads: dict[int, dict[str, str]] = {}
        for name in sheet.header:
            normalized = " ".join(name.lower().split())
            if match := _WEIGHT_HEADER.match(normalized):
                unit = match.group(1).strip()
                if unit not in GRAMS_PER_UNIT:
                    errors.add(1, name, f"expected the weight unit kg, g, lbs or oz in the header, got {unit!r}")
                elif self.weight is None:
                    self.weight, self.grams_per_unit = name, GRAMS_PER_UNIT[unit]
            elif match := _DIMENSION_HEADER.match(normalized):
                unit = match.group(2).strip()
                if unit not in MM_PER_UNIT:
                    errors.add(1, name, f"expected the dimension unit m, cm, mm, in or yd in the header, got {unit!r}")
                else:
                    self.dimensions.setdefault(match.group(1), (name, MM_PER_UNIT[unit]))
            elif match := _ATTRIBUTE_HEADER.match(normalized):
                attributes.setdefault(int(match.group(1)), {})[match.group(2)] = name
            elif match := _DOWNLOAD_HEADER.match(normalized):
                downloads.setdefault(int(match.group(1)), {})[match.group(2)] = name
        self.attributes = [(n, cols.get("name"), cols.get("value(s)")) for n, cols in sorted(attributes.items())]
        self.downloads = [(n, cols.get("name"), cols.get("url")) for n, cols in sorted(downloads.items())]
        used = [c for c in vars(self).values() if isinstance(c, str)]
        check_duplicate_columns(sheet, used, errors)
        self.strings: dict[str, str] = {}

    def same(self, value):
        """One object per distinct string of the file (rows are held until the whole file is read)."""
        return self.strings.setdefault(value, value)


def parse(source, warnings: list | None = None) -> list[ProductData]:
    """Validate a whole WooCommerce product CSV (a str or a text file, read as a stream); return its products.

    Products come in file order. Raises ``ImportValidationError`` listing
    every problem found; suspicious but valid things are appended to
    ``warnings`` (``RowError``). Prefer ``products.importers.parse_catalog``,
    which also checks that the file is of this format.
    """
    errors = Errors()
    sheet = open_sheet(source, errors)
    if sheet is None:
        errors.raise_if_any()
    products = read(sheet, errors, [] if warnings is None else warnings)
    errors.raise_if_any()
    return products


def missing_columns(sheet: Sheet) -> list[RowError]:
    """The required columns this file's header lacks, as errors on row 1."""
    hint = " (this looks like a Shopify product CSV)" if "handle" in sheet.columns else ""
    return [
        RowError(1, name, f"expected a WooCommerce product CSV with a “{name}” column{hint}")
        for name in REQUIRED_COLUMNS
        if sheet.column(name) is None
    ]


def read(sheet: Sheet, errors: Errors, warnings: list) -> list[ProductData]:
    """Read the rows of an opened ``sheet``; problems go to ``errors`` (the caller raises them)."""
    missing = missing_columns(sheet)
    if missing:
        errors.items.extend(missing)
        errors.raise_if_any()
    cols = _Columns(sheet, errors)
    rows = [_read_row(line, cells, cols, errors) for line, cells in sheet.rows()]
    return assemble(rows, cols, errors)  # the second pass, across rows: woocommerce_assembly


def _cell(cells: dict, column: str | None) -> str:
    return unescape(cells.get(column, "").strip()) if column else ""


def _read_row(line: int, cells: dict, cols: _Columns, errors: Errors) -> _Row:
    row = _Row(line=line)
    if raw := _cell(cells, cols.id):
        if raw.isdigit() and int(raw) > 0:
            row.id = int(raw)
        else:
            errors.add(line, cols.id, f"expected a whole number (the product's ID in WooCommerce), got {raw!r}")

    raw_type = _cell(cells, cols.type)
    tokens = [t.lower() for t in explode(raw_type)]
    bases = [t for t in tokens if t in BASE_TYPES]
    unknown = [t for t in tokens if t not in BASE_TYPES and t not in FLAGS]
    if unknown or len(bases) > 1:
        errors.add(
            line,
            cols.type,
            "expected one of simple, variable, grouped, external or variation "
            f"(optionally with downloadable, virtual), got {raw_type!r}",
        )
    row.type = bases[0] if bases else "simple"
    row.flags = frozenset(t for t in tokens if t in FLAGS)

    row.sku = check_length(_cell(cells, cols.sku), "sku", line, cols.sku, errors)
    row.name = _cell(cells, cols.name)
    if not row.name and row.type != "variation":
        errors.add(line, cols.name, "expected the product name, got an empty cell")
    check_length(row.name, "title", line, cols.name, errors)

    published = _cell(cells, cols.published).lower()
    if published in PUBLISHED:
        row.status = PUBLISHED[published]
    else:
        errors.add(line, cols.published, f"expected 1 (published), 0 (private) or -1 (draft), got {published!r}")

    row.short_description = description(_cell(cells, cols.short_description))
    row.description = description(_cell(cells, cols.description))

    regular = money(_cell(cells, cols.regular_price), line, cols.regular_price, errors) if cols.regular_price else None
    sale = money(_cell(cells, cols.sale_price), line, cols.sale_price, errors) if cols.sale_price else None
    if sale is not None and regular is not None and sale > regular:
        errors.add(line, cols.sale_price, f"expected a sale price at most the regular price {regular}, got {sale}")
    elif sale is not None:
        row.price, row.compare_at_price = sale, regular
    else:
        row.price = regular

    if cols.stock:
        row.stock = whole_number(_cell(cells, cols.stock), line, cols.stock, errors)
    if cols.weight:
        raw = _cell(cells, cols.weight)
        try:
            amount = parse_decimal(raw)
        except ValueError:
            errors.add(line, cols.weight, f"expected a decimal number like 1.5, got {raw!r}")
        else:
            if amount is not None:
                row.weight_grams = grams(amount * cols.grams_per_unit, raw, line, cols.weight, errors)

    for dimension, (column, mm_per_unit) in cols.dimensions.items():
        raw = _cell(cells, column)
        try:
            amount = parse_decimal(raw)
        except ValueError:
            errors.add(line, column, f"expected a decimal number like 12.5, got {raw!r}")
            continue
        if amount is None:
            continue
        if amount < 0:
            errors.add(line, column, f"expected a {dimension} of 0 or more, got {raw!r}")
        elif (mm := (amount * mm_per_unit).quantize(Decimal("0.001"))) > MAX_MM:
            errors.add(line, column, f"expected a {dimension} below 1,000 km, got {raw!r}")
        else:
            setattr(row, f"{dimension}_mm", mm)

    row.categories = unique_list(
        " > ".join(part.strip() for part in path.split(">") if part.strip())
        for path in explode(_cell(cells, cols.categories))
    )
    row.tags = unique_list(explode(_cell(cells, cols.tags)))
    images = []
    for url in explode(_cell(cells, cols.images)):
        if absolute_url(url):
            images.append(url)
        else:
            errors.add(line, cols.images, f"expected absolute image URLs like https://example.com/a.jpg, got {url!r}")
    row.images = unique_list(images)

    row.parent = _cell(cells, cols.parent)
    row.grouped = explode(_cell(cells, cols.grouped))
    if row.type == "external":
        row.external_url = _cell(cells, cols.external_url)
        if row.external_url and not absolute_url(row.external_url):
            errors.add(line, cols.external_url, f"expected an absolute URL like https://…, got {row.external_url!r}")
        check_length(row.external_url, "external_url", line, cols.external_url, errors)
        row.button_text = check_length(_cell(cells, cols.button_text), "button_text", line, cols.button_text, errors)
    if cols.position:
        raw = _cell(cells, cols.position)
        if raw and not re.fullmatch(r"-?\d+", raw):
            errors.add(line, cols.position, f"expected a whole number (menu order), got {raw!r}")
        elif raw:
            row.menu_order = int(raw)

    attributes = []
    for n, name_col, values_col in cols.attributes:
        name = _cell(cells, name_col)
        values = unique_list(explode(_cell(cells, values_col)))
        if not name:
            if values:
                errors.add(line, values_col, f"expected “Attribute {n} name” to be set for these values")
            continue
        if name.casefold() in {existing.casefold() for existing, _, _ in attributes}:
            errors.add(line, name_col, f"expected each attribute once, {name!r} appears twice")
            continue
        attributes.append((name, values, values_col))
    row.attributes = attributes

    downloads = []
    for n, name_col, url_col in cols.downloads:
        url = _cell(cells, url_col)
        name = _cell(cells, name_col)
        if not url:
            if name:
                errors.add(line, url_col or name_col, f"expected a URL for download {name!r}")
            continue
        if not absolute_url(url):
            errors.add(line, url_col, f"expected an absolute URL like https://…, got {url!r}")
            continue
        downloads.append({"name": name or unquote(PurePosixPath(urlsplit(url).path).name) or url, "url": url})
    row.downloads = downloads
    _compact(row, cols.same)
    return row


def _compact(row: _Row, same) -> None:
    """Lists → tuples (empty ones shared), repeated strings → one object each (``same``)."""
    row.categories = tuple(same(v) for v in row.categories) if row.categories else ()
    row.tags = tuple(same(v) for v in row.tags) if row.tags else ()
    for name in ("images", "grouped", "downloads"):  # mostly unique: not worth a lookup
        value = getattr(row, name)
        setattr(row, name, tuple(value) if value else ())
    row.attributes = (
        same(tuple((same(n), tuple(same(v) for v in values), column) for n, values, column in row.attributes))
        if row.attributes
        else ()
    )
    row.flags = same(row.flags)
    row.type = same(row.type)
    row.parent = same(row.parent)
    row.status = same(row.status)
