"""Write WooCommerce's product CSV (WooCommerce docs, "Product CSV Importer and Exporter").

Columns and cell spellings are those of WooCommerce's own exporter
(``class-wc-product-csv-exporter.php``) and of its sample file
(``shared/data/woocommerce/sample_products.csv``, see ``shared/PLATFORMS.md``
and ``shared/data/README.md``), so WooCommerce's importer maps every column
by itself. UTF-8 with a BOM, as WooCommerce writes it; CRLF line ends.

Layout, as ``products/importers/woocommerce.py`` reads it:

* One row per product, in catalog order; a variable product is followed by
  one ``variation`` row per variant, in variant order, whose ``Parent`` is
  the parent's SKU, or ``id:NN`` with NN in the parent's ``ID`` cell when
  the parent has no SKU. ``ID`` is left blank otherwise: our ids are not the
  store's, and an ``ID`` cell would make WooCommerce's "update existing
  products" overwrite whatever store product has that number.
* ``Type``: simple, variable, grouped, external or variation; a simple
  product with downloads is "simple, downloadable".
* ``Published``: 1 for active, -1 (draft) for draft, 0 (private) for
  archived.
* Money: ``Regular price`` / ``Sale price`` with 2 decimals. A variant with
  a compare-at price at or above its price is on sale: regular = compare-at,
  sale = price; otherwise regular = price and no sale price.
* ``Stock`` is the stock count, blank when stock is not tracked; ``In
  stock?`` follows from it.
* ``Length (cm)``, ``Width (cm)``, ``Height (cm)``: the dimensions in mm / 10,
  exact (``dimension_unit="mm"`` or ``"m"`` for a store set to those).
* ``Weight (kg)``: grams / 1000, exact (kg is WooCommerce's default unit;
  ``iter_csv(…, weight_unit="g")`` writes ``Weight (g)`` for a store in
  grams; lbs and oz would not convert exactly).
* List cells (``Categories``, ``Tags``, ``Images``, ``Grouped products``,
  ``Attribute N value(s)``) are joined with ", "; a comma inside a value is
  written ``\\,``. Descriptions write line breaks as a literal ``\\n``.
* Text cells starting with = + - @ get a leading quote, and lose a leading
  tab or CR (``common.neutralize_formula``, WooCommerce's CSV-injection
  guard; the readers remove the quote again). Number cells are left alone.
* ``Attribute N name/value(s)/visible/global``: the product's options (all
  values, visible, not global); on a variation row the variant's value, or
  blank for an option the variant leaves open (WooCommerce's "any …").
* ``Download N name/URL``: the product's downloads.

What a WooCommerce product CSV cannot carry (lost on export, documented
here and asserted in ``tests/products/test_export.py``):

* the ``handle``: WooCommerce has no such column, and the reader makes it
  from the SKU (else the name), so a handle survives only when it is the
  slug of the product's SKU or name (always so for a WooCommerce import);
* ``vendor``, ``product_type`` and variants' ``barcode`` (WooCommerce 9.2's
  "GTIN, UPC, EAN, or ISBN" column refuses anything but digits and dashes,
  and Excel-mangled barcodes such as "3.65275E+11" are common);
* status archived comes back as draft (WooCommerce has no archive; private
  is the nearest);
* a compare-at price below the price (WooCommerce refuses a sale price
  above the regular price): only the price is written; and a compare-at
  price without a price;
* for simple and external products: the variant's image (WooCommerce has
  only the product's images) and a variant SKU, stock or weight that
  differs from the product's (a simple product is one row); option values
  of the variant other than the options with a single value;
* a literal backslash followed by n in a description comes back with the
  backslash doubled: WooCommerce's exporter writes it as backslash,
  backslash, n, and its importer (which ours follows) keeps that as it is;
* leading and trailing spaces of any cell (both importers trim cells).
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from django.db.models import Count, Exists, F, OuterRef, Q

from products.choices import ProductKind, ProductStatus
from products.importers.common import make_handle
from products.models import Variant
from products.exporters.common import (
    EXAMPLES,
    DroppedField,
    Loss,
    catalog_products,
    has_variant,
    measure_losses,
    csv_writer,
    guarded_row,
    iterate,
    money,
    plain_decimal,
    rows_to_text,
)

FORMAT = "woocommerce"
BOM = "\ufeff"

#: Grams per unit of the ``Weight (…)`` column; only units that convert exactly.
WEIGHT_UNITS = {"kg": Decimal(1000), "g": Decimal(1)}
#: Millimetres per unit of the ``Length/Width/Height (…)`` columns (WooCommerce's ``woocommerce_dimension_unit``,
#: default cm); in and yd would not convert exactly.
DIMENSION_UNITS = {"cm": Decimal(10), "mm": Decimal(1), "m": Decimal(1000)}
#: Model field -> column (before the unit is filled in).
DIMENSIONS = {"length_mm": "Length ({dimension_unit})", "width_mm": "Width ({dimension_unit})",
              "height_mm": "Height ({dimension_unit})"}

BASE_HEADER = [
    "ID",
    "Type",
    "SKU",
    "Name",
    "Published",
    "Is featured?",
    "Visibility in catalog",
    "Short description",
    "Description",
    "Date sale price starts",
    "Date sale price ends",
    "Tax status",
    "Tax class",
    "In stock?",
    "Stock",
    "Backorders allowed?",
    "Sold individually?",
    "Weight ({unit})",
    "Length ({dimension_unit})",
    "Width ({dimension_unit})",
    "Height ({dimension_unit})",
    "Allow customer reviews?",
    "Purchase note",
    "Sale price",
    "Regular price",
    "Categories",
    "Tags",
    "Shipping class",
    "Images",
    "Download limit",
    "Download expiry days",
    "Parent",
    "Grouped products",
    "Upsells",
    "Cross-sells",
    "External URL",
    "Button text",
    "Position",
]
PUBLISHED = {ProductStatus.ACTIVE: "1", ProductStatus.DRAFT: "-1", ProductStatus.ARCHIVED: "0"}
#: Columns filled from numbers only: a leading minus there is a negative number, not a formula.
NUMERIC = frozenset(
    {"ID", "Published", "Stock", "Sale price", "Regular price", "Position"}
    | {f"Weight ({unit})" for unit in WEIGHT_UNITS}
    | {column.format(dimension_unit=unit) for column in DIMENSIONS.values() for unit in DIMENSION_UNITS}
)


ONE_ROW_KINDS = (ProductKind.SIMPLE, ProductKind.EXTERNAL)

#: The list above as rules (``dropped_fields``); the handle is checked apart (it needs the slug of the SKU or
#: name); backslash-n in descriptions and spaces around cells are not listed (no query tells them cheaply).
LOSSES = [
    Loss("vendor", "Vendor", ~Q(vendor="")),
    Loss("product_type", "Product type", ~Q(product_type="")),
    Loss("variants.barcode", "Variant barcodes", has_variant(~Q(barcode=""))),
    Loss("status=archived", "Archived status (comes back as draft)", Q(status=ProductStatus.ARCHIVED)),
    Loss("variants.compare_at_price", "Compare-at prices below the price, or without a price",
         has_variant(Q(compare_at_price__lt=F("price")) | Q(compare_at_price__isnull=False, price__isnull=True))),
    Loss("variants.image_url", "The variant image of a simple or external product",
         Q(kind__in=ONE_ROW_KINDS) & Q(has_variant(~Q(image_url="")))),
    Loss("variants", "Variants beyond the first of a simple or external product",
         Q(kind__in=ONE_ROW_KINDS) & Q(Exists(
             Variant.objects.filter(product=OuterRef("pk")).order_by().values("product")
             .annotate(n=Count("pk")).filter(n__gt=1)))),
]


def dropped_fields(organization, products=None) -> list[DroppedField]:
    """What a WooCommerce export of ``organization``'s live catalog (or of ``products``) leaves out.

    One ``DroppedField`` per rule of ``LOSSES`` that some exported product
    meets, after the handle (kept only when it is the slug of the SKU or else
    of the name, as the reader makes it: read from handle, SKU and title
    only); [] when the file carries the whole catalog.
    """
    found = measure_losses(organization, LOSSES, products)
    count, examples = 0, []
    rows = catalog_products(organization, products).values_list("handle", "sku", "title")
    for handle, sku, title in rows.iterator(chunk_size=2000):
        if handle != (make_handle(sku) or make_handle(title)):
            count += 1
            if len(examples) < EXAMPLES:
                examples.append(title)
    if count:
        found.insert(0, DroppedField("handle", "Handle (made again from the SKU, else the name)", count, tuple(examples)))
    return found


def header(attributes: int, downloads: int, weight_unit: str = "kg", dimension_unit: str = "cm") -> list[str]:
    """WooCommerce exporter's columns, with as many ``Attribute N …`` / ``Download N …`` groups as asked."""
    columns = [name.format(unit=weight_unit, dimension_unit=dimension_unit) for name in BASE_HEADER]
    for n in range(1, attributes + 1):
        columns += [f"Attribute {n} name", f"Attribute {n} value(s)", f"Attribute {n} visible", f"Attribute {n} global"]
    for n in range(1, downloads + 1):
        columns += [f"Download {n} name", f"Download {n} URL"]
    return columns


def iter_csv(organization, products=None, *, weight_unit: str = "kg", dimension_unit: str = "cm") -> Iterator[str]:
    """The file as text pieces: BOM and header, then one product's rows (parent and variations) per piece.

    Reads the products' options and downloads once first: the header needs
    as many ``Attribute N``/``Download N`` columns as the widest product.
    ``weight_unit`` kg or g, ``dimension_unit`` cm, mm or m (the store's
    settings; WooCommerce's defaults kg and cm); other units raise ``ValueError``.
    """
    if weight_unit not in WEIGHT_UNITS:
        raise ValueError(f"expected the weight unit kg or g, got {weight_unit!r}")
    if dimension_unit not in DIMENSION_UNITS:
        raise ValueError(f"expected the dimension unit cm, mm or m, got {dimension_unit!r}")
    queryset = catalog_products(organization, products)
    attributes = downloads = 0
    for options, files in queryset.values_list("options", "downloads").iterator(chunk_size=2000):
        attributes, downloads = max(attributes, len(options)), max(downloads, len(files))
    columns = header(attributes, downloads, weight_unit, dimension_unit)
    writer = csv_writer()
    yield BOM + writer.writerow(columns)
    units = (WEIGHT_UNITS[weight_unit], DIMENSION_UNITS[dimension_unit])
    for product in iterate(queryset):
        yield rows_to_text(writer, product_rows(product, columns, *units))


def product_rows(
    product, columns: list[str], grams_per_unit: Decimal = WEIGHT_UNITS["kg"], mm_per_unit: Decimal = DIMENSION_UNITS["cm"]
) -> list[list[str]]:
    """The parent row of ``product`` and, for a variable product, its variation rows (cells in ``columns`` order).

    Dimensions: the product's ``length_mm``/``width_mm``/``height_mm`` on the parent row (a simple product
    without its own takes its variant's, as for the weight), each variant's on its variation row (blank:
    WooCommerce's "same as parent").
    """
    weight_column = columns[BASE_HEADER.index("Weight ({unit})")]
    dimension_columns = {field: columns[BASE_HEADER.index(name)] for field, name in DIMENSIONS.items()}
    variants = list(product.variants.all())
    kind = product.kind
    parent = _blank(columns)
    parent.update(
        {
            "Type": "simple, downloadable" if kind == ProductKind.SIMPLE and product.downloads else kind,
            "SKU": product.sku,
            "Name": product.title,
            "Published": PUBLISHED.get(product.status, "-1"),
            "Is featured?": "0",
            "Visibility in catalog": "visible",
            "Short description": _description(product.short_description),
            "Description": _description(product.description),
            "Tax status": "taxable",
            "In stock?": "1",
            "Backorders allowed?": "0",
            "Sold individually?": "0",
            weight_column: _in_unit(product.weight_grams, grams_per_unit),
            **_dimensions(product, dimension_columns, mm_per_unit),
            "Allow customer reviews?": "1",
            "Categories": _join(product.categories),
            "Tags": _join(product.tags),
            "Images": _join(product.images),
            "Position": "0",
        }
    )
    if kind == ProductKind.GROUPED:
        parent["Grouped products"] = _join(product.grouped_skus)
    if kind == ProductKind.EXTERNAL:
        parent["External URL"] = product.external_url
        parent["Button text"] = product.button_text
    if kind != ProductKind.VARIABLE and kind != ProductKind.GROUPED and variants:
        first = variants[0]
        parent.update(_stock_and_prices(first))
        parent["SKU"] = product.sku or first.sku
        if product.weight_grams is None:
            parent[weight_column] = _in_unit(first.weight_grams, grams_per_unit)
        for field, column in dimension_columns.items():
            if getattr(product, field) is None:
                parent[column] = _in_unit(getattr(first, field), mm_per_unit)
    for n, option in enumerate(product.options, start=1):
        parent[f"Attribute {n} name"] = option["name"]
        parent[f"Attribute {n} value(s)"] = _join(option["values"])
        parent[f"Attribute {n} visible"] = "1"
        parent[f"Attribute {n} global"] = "0"
    for n, download in enumerate(product.downloads, start=1):
        parent[f"Download {n} name"] = download.get("name", "")
        parent[f"Download {n} URL"] = download.get("url", "")
    rows = [parent]

    if kind == ProductKind.VARIABLE:
        if not product.sku:
            parent["ID"] = str(product.pk)
        reference = product.sku or f"id:{product.pk}"
        for variant in variants:
            values = [variant.option_values.get(o["name"], "") for o in product.options]
            shown = ", ".join(v for v in values if v)
            row = _blank(columns)
            row.update(
                {
                    "Type": "variation",
                    "SKU": variant.sku,
                    "Name": f"{product.title} - {shown}" if shown else product.title,
                    "Published": "1",
                    "Is featured?": "0",
                    "Visibility in catalog": "visible",
                    "Tax status": "taxable",
                    "Tax class": "parent",
                    "Backorders allowed?": "0",
                    "Sold individually?": "0",
                    weight_column: _in_unit(variant.weight_grams, grams_per_unit),
                    **_dimensions(variant, dimension_columns, mm_per_unit),
                    "Allow customer reviews?": "0",
                    "Images": _join([variant.image_url] if variant.image_url else []),
                    "Parent": reference,
                    "Position": str(variant.position),
                    **_stock_and_prices(variant),
                }
            )
            for n, (option, value) in enumerate(zip(product.options, values, strict=True), start=1):
                row[f"Attribute {n} name"] = option["name"]
                row[f"Attribute {n} value(s)"] = _join([value] if value else [])
                row[f"Attribute {n} global"] = "0"
            rows.append(row)
    return [guarded_row(row, columns, NUMERIC) for row in rows]


def _blank(columns: list[str]) -> dict[str, str]:
    return dict.fromkeys(columns, "")


def _stock_and_prices(variant) -> dict[str, str]:
    price, compare_at = variant.price, variant.compare_at_price
    if price is not None and compare_at is not None and compare_at >= price:
        regular, sale = compare_at, price
    else:
        regular, sale = price, None
    stock = variant.stock
    return {
        "Regular price": money(regular),
        "Sale price": money(sale),
        "Stock": "" if stock is None else str(stock),
        "In stock?": "0" if stock is not None and stock <= 0 else "1",
    }


def _in_unit(amount: Decimal | None, per_unit: Decimal) -> str:
    """``amount`` (grams or mm) in the column's unit, exact; "" for None."""
    return "" if amount is None else plain_decimal(amount / per_unit)


def _dimensions(item, dimension_columns: dict[str, str], mm_per_unit: Decimal) -> dict[str, str]:
    return {column: _in_unit(getattr(item, field), mm_per_unit) for field, column in dimension_columns.items()}


def _join(values) -> str:
    """A WooCommerce list cell: ", " between values, ``\\,`` for a comma inside one."""
    return ", ".join(str(value).replace(",", "\\,") for value in values)


def _description(text: str) -> str:
    """WooCommerce's exporter: a literal ``\\n`` becomes ``\\\\n``, then a line break becomes ``\\n``."""
    return text.replace("\\n", "\\\\n").replace("\n", "\\n")
