"""Write Shopify's product CSV (help.shopify.com, "Using CSV files to import and export products").

The header is the classic one of Shopify's product CSV template
(``shared/data/shopify/product_template.csv``, see ``shared/PLATFORMS.md``
and ``shared/data/README.md``) without its market columns (``Included /
United States``, ``Price / International`` …: they name one shop's markets).
UTF-8 without a BOM, as Shopify writes it; CRLF line ends.

Layout, as Shopify exports and as ``products/importers/shopify.py`` reads:

* One row per variant, grouped by ``Handle``. The first row carries the
  product fields (``Title``, ``Body (HTML)``, ``Vendor``, ``Product
  Category``, ``Type``, ``Tags``, ``Published``, ``Gift Card``, ``Status``)
  and ``Option1..3 Name``; every variant row carries ``Option1..3 Value``,
  ``Variant SKU``, ``Variant Grams``, ``Variant Inventory Tracker/Qty``,
  ``Variant Price``, ``Variant Compare At Price``, ``Variant Barcode`` and
  ``Variant Image``.
* Image N of the product sits on row N with ``Image Position`` N; when a
  product has more images than variants the extra images get rows of their
  own that carry only the handle and the image.
* A product without options is written as Shopify writes one: ``Option1
  Name`` = "Title", ``Option1 Value`` = "Default Title", one variant.
* ``Status`` is the catalog's status; ``Published`` is TRUE only for active
  products (the reader imports "active but not published" as draft).
* ``Variant Inventory Tracker`` is "shopify" and ``Variant Inventory Qty``
  the stock when the variant's stock is tracked; both are blank when it is
  not (``stock`` None), so the reader gives None back.
* Money is the Decimal with 2 places ("25.00"), in the organization's
  currency (the file names none). ``Variant Grams`` is the exact weight in
  grams, up to 3 decimals, as Shopify's own template writes ("226.796185").
* Text cells starting with = + - @ get a leading quote, and lose a leading
  tab or CR (``common.neutralize_formula``: OWASP "CSV Injection", the same
  guard as the WooCommerce export), so opening the file in a spreadsheet
  runs nothing. Number cells (grams, stock, prices, image positions) are
  left alone. Shopify's own importer keeps the quote as part of the text:
  our reader removes it again (as WooCommerce's does).

What a Shopify product CSV cannot carry (lost on export, documented here
and asserted in ``tests/products/test_export.py``):

* grouped products, and any product without variants: not written (Shopify
  has no grouped products, and every Shopify product has a variant);
* ``kind`` external: written as a simple product; its ``external_url`` and
  ``button_text`` are lost;
* a variable product's own ``sku`` (WooCommerce's parent SKU) and own
  ``weight_grams``: Shopify has neither; the weight is written into each
  variant that has none of its own (as WooCommerce variations inherit it);
* ``short_description``, ``downloads``: no column;
* dimensions (``length_mm``, ``width_mm``, ``height_mm`` of the product and
  its variants): Shopify has only a weight;
* ``categories`` beyond the first (``Product Category`` holds one), and
  tags containing a comma (``Tags`` is a comma list without escape);
* options of a simple product (WooCommerce attributes such as Color: Blue on
  a product without variations): a product with options is a variable
  product in Shopify, so they are left out to keep the product simple, and
  its variant's ``option_values`` go with them;
* options beyond the third, and options some variant leaves blank
  (WooCommerce's "any Size"): Shopify needs a value on every variant;
* the order of option values and values no variant uses: Shopify derives an
  option's values from its variants, in variant order;
* a variant's image that is not among the product's images is appended to
  them on import (Shopify adds variant images to the product's images).
"""

from __future__ import annotations

from collections.abc import Iterator

from products.choices import ProductKind, ProductStatus
from django.db.models import Q

from products.exporters.common import (
    DroppedField,
    Loss,
    catalog_products,
    has_dimensions,
    has_variant,
    measure_losses,
    csv_writer,
    guarded_row,
    iterate,
    money,
    plain_decimal,
    rows_to_text,
)

FORMAT = "shopify"
BOM = ""

HEADER = [
    "Handle",
    "Title",
    "Body (HTML)",
    "Vendor",
    "Product Category",
    "Type",
    "Tags",
    "Published",
    "Option1 Name",
    "Option1 Value",
    "Option2 Name",
    "Option2 Value",
    "Option3 Name",
    "Option3 Value",
    "Variant SKU",
    "Variant Grams",
    "Variant Inventory Tracker",
    "Variant Inventory Qty",
    "Variant Inventory Policy",
    "Variant Fulfillment Service",
    "Variant Price",
    "Variant Compare At Price",
    "Variant Requires Shipping",
    "Variant Taxable",
    "Variant Barcode",
    "Image Src",
    "Image Position",
    "Image Alt Text",
    "Gift Card",
    "SEO Title",
    "SEO Description",
    "Google Shopping / Google Product Category",
    "Google Shopping / Gender",
    "Google Shopping / Age Group",
    "Google Shopping / MPN",
    "Google Shopping / Condition",
    "Google Shopping / Custom Product",
    "Variant Image",
    "Variant Weight Unit",
    "Variant Tax Code",
    "Cost per item",
    "Status",
]
#: Columns filled from numbers only: a leading minus there is a negative number, not a formula.
NUMERIC = frozenset({"Variant Grams", "Variant Inventory Qty", "Variant Price", "Variant Compare At Price",
                     "Image Position"})
MAX_OPTIONS = 3
DEFAULT_OPTION = ("Title", "Default Title")


#: The list above as rules (``dropped_fields``); the ones the list names but no query can tell cheaply
#: (tags containing a comma, option value order, variant images outside the product's images) are left out.
LOSSES = [
    Loss("kind=grouped", "Grouped products (Shopify has none)", Q(kind=ProductKind.GROUPED), whole_product=True),
    Loss("variants", "Products without variants (every Shopify product has one)",
         ~Q(kind=ProductKind.GROUPED) & ~Q(has_variant()), whole_product=True),
    Loss("short_description", "Short description", ~Q(short_description="")),
    Loss("downloads", "Downloads", ~Q(downloads=[])),
    Loss("external_url, button_text", "External URL and button text (written as a simple product)",
         Q(kind=ProductKind.EXTERNAL) & (~Q(external_url="") | ~Q(button_text=""))),
    Loss("length_mm, width_mm, height_mm", "Dimensions (length, width, height)", has_dimensions()),
    Loss("sku", "A variable product's own SKU", Q(kind=ProductKind.VARIABLE) & ~Q(sku="")),
    Loss("weight_grams", "A variable product's own weight (written into its variants that have none)",
         Q(kind=ProductKind.VARIABLE, weight_grams__isnull=False)),
    Loss("categories", "Categories beyond the first", Q(categories__1__isnull=False)),
    Loss("options", "Options of a product without variations",
         ~Q(kind=ProductKind.VARIABLE) & ~Q(kind=ProductKind.GROUPED) & ~Q(options=[])),
    Loss("options", "Options beyond the third", Q(kind=ProductKind.VARIABLE, options__3__isnull=False)),
]


def dropped_fields(organization, products=None) -> list[DroppedField]:
    """What a Shopify export of ``organization``'s live catalog (or of ``products``) leaves out.

    One ``DroppedField`` per rule of ``LOSSES`` that some exported product
    meets, with how many products and a few of their titles; [] when the
    file carries the whole catalog. A few queries, however big the catalog.
    """
    return measure_losses(organization, LOSSES, products)


def iter_csv(organization, products=None) -> Iterator[str]:
    """The file as text pieces: the header, then all rows of one product per piece."""
    writer = csv_writer()
    yield BOM + writer.writerow(HEADER)
    for product in iterate(catalog_products(organization, products)):
        rows = product_rows(product)
        if rows:
            yield rows_to_text(writer, rows)


def shopify_options(product, variants) -> list[tuple[str, dict]]:
    """The options written, as (name, {variant pk: value}); [] means Default Title (one variant).

    At most 3, and only options set on every variant. A variable product
    with several variants but no such option (every option left blank on
    some variant) gets one option "Title" valued by each variant's title
    ("Red / Large"), as Shopify names variants.
    """
    if product.kind != ProductKind.VARIABLE:
        return []
    names = [o["name"] for o in product.options if all(o["name"] in v.option_values for v in variants)]
    options = [(name, {v.pk: v.option_values[name] for v in variants}) for name in names[:MAX_OPTIONS]]
    if not options and len(variants) > 1:
        options = [(DEFAULT_OPTION[0], {v.pk: v.title for v in variants})]
    return options


def product_rows(product) -> list[list[str]]:
    """The rows of one product (in ``HEADER`` order), or [] for a product Shopify cannot hold."""
    variants = list(product.variants.all())
    if not variants:
        return []
    options = shopify_options(product, variants)
    if not options:
        variants = variants[:1]
    images = list(product.images)
    rows = []
    for index in range(max(len(variants), len(images))):
        row = dict.fromkeys(HEADER, "")
        row["Handle"] = product.handle
        if index == 0:
            row.update(
                {
                    "Title": product.title,
                    "Body (HTML)": product.description,
                    "Vendor": product.vendor,
                    "Product Category": product.categories[0] if product.categories else "",
                    "Type": product.product_type,
                    "Tags": ", ".join(product.tags),
                    "Published": "TRUE" if product.status == ProductStatus.ACTIVE else "FALSE",
                    "Gift Card": "FALSE",
                    "Status": product.status,
                }
            )
            for n, (name, _) in enumerate(options or [DEFAULT_OPTION], start=1):
                row[f"Option{n} Name"] = name
        if index < len(variants):
            row.update(_variant_cells(product, variants[index], options))
        if index < len(images):
            row["Image Src"] = images[index]
            row["Image Position"] = str(index + 1)
        rows.append(guarded_row(row, HEADER, NUMERIC))
    return rows


def _variant_cells(product, variant, options: list[tuple[str, dict]]) -> dict[str, str]:
    cells = {}
    if options:
        for n, (_, values) in enumerate(options, start=1):
            cells[f"Option{n} Value"] = values[variant.pk]
    else:
        cells["Option1 Value"] = DEFAULT_OPTION[1]
    weight = variant.weight_grams if variant.weight_grams is not None else product.weight_grams
    tracked = variant.stock is not None
    cells.update(
        {
            "Variant SKU": variant.sku,
            "Variant Grams": plain_decimal(weight),
            "Variant Inventory Tracker": "shopify" if tracked else "",
            "Variant Inventory Qty": str(variant.stock) if tracked else "",
            "Variant Inventory Policy": "deny",
            "Variant Fulfillment Service": "manual",
            "Variant Price": money(variant.price),
            "Variant Compare At Price": money(variant.compare_at_price),
            "Variant Requires Shipping": "FALSE" if product.downloads else "TRUE",
            "Variant Taxable": "TRUE",
            "Variant Barcode": variant.barcode,
            "Variant Image": variant.image_url,
            "Variant Weight Unit": "g" if weight is not None else "",
        }
    )
    return cells
