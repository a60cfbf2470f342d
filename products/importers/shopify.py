"""Read Shopify's product CSV (help.shopify.com, "Using CSV files to import and export products").

Format rules, from Shopify's help page and its product template:

* Rows are grouped by ``Handle``: every row of one product carries the same
  handle. The first row of a handle carries the product fields (``Title``,
  ``Body (HTML)``, ``Vendor``, ``Product Category``, ``Type``, ``Tags``,
  ``Published``, ``Status``) and the first variant; continuation rows leave
  the product fields blank and carry further variants and/or images.
* A row with only the handle and ``Image Src``/``Image Position``/``Image Alt
  Text`` adds an image and no variant.
* ``Option1..3 Name`` are given on the first row only; each variant row
  gives ``Option1..3 Value``. A product without options is written as
  ``Option1 Name`` = "Title", ``Option1 Value`` = "Default Title".
* ``Variant Price`` / ``Variant Compare At Price`` are decimals in the
  shop's currency. The file does not say which currency: prices are taken
  to be in the organization's currency.
* ``Variant Grams`` is the weight in grams (``Variant Weight Unit`` is only
  the unit shown to shoppers).
* ``Variant Inventory Qty`` counts stock only when ``Variant Inventory
  Tracker`` says who tracks it ("shopify" or a fulfillment service); a blank
  tracker means Shopify does not track the variant's stock, so ``stock`` is
  None whatever the quantity says (a file without the tracker column is
  taken at its quantity).
* ``Published``: TRUE/FALSE; blank publishes (Shopify's rule). ``Status``:
  active, draft or archived. Our choice: a product that is ``active`` but
  not published (``Published`` = FALSE, hidden from the online store) is
  imported as **draft**, so FlashFusion never publishes to other stores what
  the merchant hid; draft and archived stay as they are; without a
  ``Status`` column, Published alone decides (TRUE → active, FALSE → draft).
* ``Variant Barcode``: kept exactly as written. Spreadsheets often turn long
  barcodes into scientific notation (``3.65275E+11``); the digits lost that
  way cannot be recovered, so the text is kept as given and no digits are
  invented.
* A compare-at price below the price is kept as given (Shopify then shows
  no sale).
* Shopify's newer export headers (``URL handle``, ``Description``, ``SKU``,
  ``Price``, ``Compare-at price``, ``Inventory tracker``, ``Inventory
  quantity``, ``Weight value (grams)``, ``Product image URL``, …) are read as
  aliases of the classic ones; headers are matched ignoring case.
* A cell starting with a quote before = + - @ (``'=HYPERLINK(…)``) has the
  quote removed: it is the CSV-injection guard our exporter writes
  (``products.exporters.common.neutralize_formula``), removed the same way
  the WooCommerce reader does (``common.unquote_formula``), so a round trip
  keeps such values. Every cell is trimmed first.

Mapping to the catalog: a product with options is ``variable``, one without
is ``simple`` (its SKU and weight are also the product's); variants are
numbered in file order; images are ordered by ``Image Position`` (then file
order) and variant images that are not among them are appended, as Shopify
adds them to the product's images.

Not imported (no place in the catalog): image alt texts, SEO title and
description, Google Shopping columns, gift card flag, inventory policy,
fulfillment service, requires shipping, taxable, tax code, cost per item,
weight display unit, market prices (``Price / International`` …), and
metafield columns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from products.choices import ProductKind, ProductStatus
from products.importers.common import (
    Errors,
    ProductData,
    VariantData,
    absolute_url,
    check_length,
    grams,
    money,
    parse_decimal,
    RowError,
    unique_list,
    unquote_formula,
    whole_number,
)
from products.importers.sheet import Sheet, check_duplicate_columns, open_sheet

FORMAT = "shopify"

_HANDLE = re.compile(r"^[-\w]+\Z")
STATUSES = {"active": ProductStatus.ACTIVE, "draft": ProductStatus.DRAFT, "archived": ProductStatus.ARCHIVED}
DEFAULT_OPTION = ("title", "default title")  # Shopify's marker for "no options"

# Classic header, then the newer export's spelling.
ALIASES = {
    "handle": ("Handle", "URL handle"),
    "title": ("Title",),
    "body": ("Body (HTML)", "Description"),
    "vendor": ("Vendor",),
    "category": ("Product Category",),
    "type": ("Type",),
    "tags": ("Tags",),
    "published": ("Published", "Published on online store"),
    "status": ("Status",),
    "sku": ("Variant SKU", "SKU"),
    "grams": ("Variant Grams", "Weight value (grams)"),
    "tracker": ("Variant Inventory Tracker", "Inventory tracker"),
    "qty": ("Variant Inventory Qty", "Inventory quantity"),
    "price": ("Variant Price", "Price"),
    "compare_at": ("Variant Compare At Price", "Compare-at price"),
    "barcode": ("Variant Barcode", "Barcode"),
    "image": ("Image Src", "Product image URL"),
    "image_position": ("Image Position",),
    "variant_image": ("Variant Image", "Variant image URL"),
}
#: Cells that make a row a variant row (besides option values).
VARIANT_KEYS = ("sku", "grams", "qty", "price", "compare_at", "barcode", "variant_image")


def matches_header(columns: set[str]) -> bool:
    """True when normalized header names look like a Shopify product CSV."""
    has_handle = "handle" in columns or "url handle" in columns
    has_variant = bool({"variant price", "variant sku", "option1 name", "option1 value", "price"} & columns)
    return has_handle and "title" in columns and has_variant


@dataclass
class _Columns:
    names: dict  # key -> header as written, or None
    options: list  # [(n, name column, value column)]


def _columns(sheet: Sheet, errors: Errors) -> _Columns:
    names = {key: sheet.column(*spellings) for key, spellings in ALIASES.items()}
    options = [(n, sheet.column(f"Option{n} Name"), sheet.column(f"Option{n} Value")) for n in (1, 2, 3)]
    used = [c for c in names.values() if c] + [c for _, a, b in options for c in (a, b) if c]
    check_duplicate_columns(sheet, used, errors)
    return _Columns(names=names, options=options)


def parse(source, warnings: list | None = None) -> list[ProductData]:
    """Validate a whole Shopify product CSV (a str or a text file, read as a stream); return its products.

    Products come in order of first appearance. Raises
    ``ImportValidationError`` listing every problem found; suspicious but
    valid things are appended to ``warnings``. Prefer
    ``products.importers.parse_catalog``, which also checks the format.
    """
    errors = Errors()
    sheet = open_sheet(source, errors)
    if sheet is None:
        errors.raise_if_any()
    products = read(sheet, errors, [] if warnings is None else warnings)
    errors.raise_if_any()
    return products


def missing_columns(sheet: Sheet) -> list[RowError]:
    """The required columns (Handle, Title) this file's header lacks, as errors on row 1."""
    hint = " (this looks like a WooCommerce product CSV)" if {"type", "sku", "name"} <= set(sheet.columns) else ""
    return [
        RowError(1, ALIASES[key][0], f"expected a Shopify product CSV with a “{ALIASES[key][0]}” column{hint}")
        for key in ("handle", "title")
        if sheet.column(*ALIASES[key]) is None
    ]


def read(sheet: Sheet, errors: Errors, warnings: list) -> list[ProductData]:
    """Read the rows of an opened ``sheet``; problems go to ``errors`` (the caller raises them)."""
    missing = missing_columns(sheet)
    if missing:
        errors.items.extend(missing)
        errors.raise_if_any()
    cols = _columns(sheet, errors)
    used = {c for c in cols.names.values() if c} | {c for _, a, b in cols.options for c in (a, b) if c}

    groups: dict[str, list[tuple[int, dict]]] = {}
    handle_col = cols.names["handle"]
    for line, cells in sheet.rows(only=used):  # rows are held until the file is read: only the used cells
        handle = _cell(cells, handle_col)
        if not handle:
            errors.add(line, handle_col, "expected the product's handle (every row of a product repeats it)")
        elif not _HANDLE.match(handle):
            message = f"expected a handle of letters, digits and dashes like example-shirt, got {handle!r}"
            errors.add(line, handle_col, message)
        elif len(handle) > 255:
            errors.add(line, handle_col, f"expected at most 255 characters, got {len(handle)}")
        else:
            groups.setdefault(handle, []).append((line, cells))

    seen_skus: dict[str, int] = {}
    return [_product(handle, rows, cols, seen_skus, errors) for handle, rows in groups.items()]


def _cell(cells: dict, column: str | None) -> str:
    """The cell trimmed, without the exporter's formula guard quote; "" for a column the file lacks."""
    return unquote_formula(cells.get(column, "").strip()) if column else ""


def _get(cells: dict, cols: _Columns, key: str) -> str:
    return _cell(cells, cols.names[key])


def _product(handle: str, rows: list, cols: _Columns, seen_skus: dict, errors: Errors) -> ProductData:
    first_line, first = rows[0]
    c = cols.names
    title = _get(first, cols, "title")
    if not title:
        errors.add(first_line, c["title"], f"expected the product title on the first row of {handle!r}")
    check_length(title, "title", first_line, c["title"], errors)

    published = _get(first, cols, "published").upper()
    if published not in ("", "TRUE", "FALSE"):
        errors.add(first_line, c["published"], f"expected TRUE or FALSE, got {published!r}")
    raw_status = _get(first, cols, "status").lower()
    if raw_status and raw_status not in STATUSES:
        errors.add(first_line, c["status"], f"expected active, draft or archived, got {raw_status!r}")
    status = STATUSES.get(raw_status, ProductStatus.ACTIVE)
    if status == ProductStatus.ACTIVE and published == "FALSE":
        status = ProductStatus.DRAFT

    # Options are named on the first row.
    option_names: list[tuple[int, str, str | None]] = []  # (n, name, value column)
    for n, name_col, value_col in cols.options:
        name = _cell(first, name_col)
        if name:
            if len(option_names) != n - 1:
                errors.add(first_line, name_col, f"expected Option{n - 1} Name before Option{n} Name")
            if name.casefold() in {other.casefold() for _, other, _ in option_names}:
                errors.add(first_line, name_col, f"expected each option name once, {name!r} is repeated")
                continue
            option_names.append((n, name, value_col))
    default_title = (
        len(option_names) == 1
        and option_names[0][1].lower() == DEFAULT_OPTION[0]
        and _cell(first, option_names[0][2]).lower() in ("", DEFAULT_OPTION[1])
    )
    if default_title:
        option_names = []
    named = {n for n, _, _ in option_names}

    variants: list[VariantData] = []
    combos: dict[tuple, int] = {}
    images: list[tuple[int, int, str]] = []  # (position, line, url)
    for index, (line, cells) in enumerate(rows):
        image = _get(cells, cols, "image")
        if image:
            if not absolute_url(image):
                errors.add(line, c["image"], f"expected an absolute image URL like https://…, got {image!r}")
            else:
                raw_position = _get(cells, cols, "image_position")
                position = whole_number(raw_position, line, c["image_position"], errors) if raw_position else None
                if position is not None and position < 1:
                    errors.add(line, c["image_position"], f"expected a position of 1 or more, got {raw_position!r}")
                images.append((position if position and position > 0 else 10**9, line, image))
        values = {n: _cell(cells, value_col) for n, _, value_col in cols.options if value_col}
        is_variant = index == 0 or any(values.values()) or any(_get(cells, cols, k) for k in VARIANT_KEYS)
        if not is_variant:
            continue  # image-only row (or a blank continuation)
        if default_title and index > 0:
            message = f"expected one variant: {handle!r} has no options (Default Title)"
            errors.add(line, cols.options[0][2] or "Option1 Value", message)
            continue
        option_values = {}
        for n, value in values.items():
            value_col = cols.options[n - 1][2]
            if n in named:
                name = next(name for m, name, _ in option_names if m == n)
                if not value:
                    errors.add(line, value_col, f"expected a value for option {name!r}")
                else:
                    option_values[name] = value
            elif value and not (default_title and n == 1):
                errors.add(line, value_col, f"expected “Option{n} Name” on the first row of {handle!r} for this value")
        if not option_names and not default_title and index > 0:
            errors.add(
                line,
                cols.options[0][2] or "Option1 Value",
                f"expected options: {handle!r} has several variants but no Option1 Name on its first row",
            )
        combo = tuple(option_values.items())
        if option_names and len(option_values) == len(option_names):
            if combo in combos:
                shown = " / ".join(f"{k}={v}" for k, v in combo)
                message = f"expected each variant once: {shown} is already on row {combos[combo]}"
                errors.add(line, cols.options[0][2], message)
            else:
                combos[combo] = line
        variants.append(_variant(line, cells, cols, len(variants) + 1, option_values, seen_skus, errors))

    options = [
        {"name": name, "values": unique_list(v.option_values.get(name, "") for v in variants)}
        for _, name, _ in option_names
    ]
    ordered_images = unique_list(url for _, _, url in sorted(images))
    ordered_images += [v.image_url for v in variants if v.image_url and v.image_url not in ordered_images]
    simple = not option_names
    categories = [_get(first, cols, "category")] if _get(first, cols, "category") else []
    return ProductData(
        handle=handle,
        handle_source="handle",
        title=title,
        sku=variants[0].sku if simple and variants else "",
        kind=ProductKind.SIMPLE if simple else ProductKind.VARIABLE,
        status=status,
        description=_get(first, cols, "body"),
        vendor=check_length(_get(first, cols, "vendor"), "vendor", first_line, c["vendor"], errors),
        product_type=check_length(_get(first, cols, "type"), "product_type", first_line, c["type"], errors),
        categories=categories,
        tags=unique_list(t.strip() for t in _get(first, cols, "tags").split(",")),
        options=options,
        images=unique_list(ordered_images),
        weight_grams=variants[0].weight_grams if simple and variants else None,
        variants=variants,
        row=first_line,
    )


def _variant(line, cells, cols: _Columns, position, option_values, seen_skus, errors) -> VariantData:
    c = cols.names
    sku = check_length(_get(cells, cols, "sku"), "sku", line, c["sku"], errors)
    if sku:
        if sku in seen_skus:
            errors.add(line, c["sku"], f"expected a unique SKU, {sku!r} is already used on row {seen_skus[sku]}")
        else:
            seen_skus[sku] = line
    raw_price = _get(cells, cols, "price")
    if not raw_price:
        errors.add(line, c["price"] or "Variant Price", "expected the variant's price, a decimal number like 19.99")
        price = None
    else:
        price = money(raw_price, line, c["price"], errors)
    compare_at = money(_get(cells, cols, "compare_at"), line, c["compare_at"], errors)
    raw_grams = _get(cells, cols, "grams")
    weight = None
    try:
        amount = parse_decimal(raw_grams)
    except ValueError:
        errors.add(line, c["grams"], f"expected a weight in grams like 145, got {raw_grams!r}")
    else:
        weight = grams(amount, raw_grams, line, c["grams"], errors)
    stock = whole_number(_get(cells, cols, "qty"), line, c["qty"], errors)
    if c["tracker"] and not _get(cells, cols, "tracker"):
        stock = None  # Shopify does not track this variant's stock: the quantity means nothing
    image_url = _get(cells, cols, "variant_image")
    if image_url and not absolute_url(image_url):
        errors.add(line, c["variant_image"], f"expected an absolute image URL like https://…, got {image_url!r}")
        image_url = ""
    return VariantData(
        sku=sku,
        position=position,
        price=price,
        compare_at_price=compare_at,
        stock=stock,
        option_values=option_values,
        image_url=check_length(image_url, "image_url", line, c["variant_image"], errors),
        barcode=check_length(_get(cells, cols, "barcode"), "barcode", line, c["barcode"], errors),
        weight_grams=weight,
        row=line,
        sku_column=c["sku"] or "Variant SKU",
    )
