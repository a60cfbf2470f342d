"""The page listing the catalog file formats we read: which columns are read, which are ignored.

The same content as docs/import-formats.md; ``FORMAT_COLUMNS`` is its one
source in the product (the docs file is for readers of the repository).
"""

from __future__ import annotations

from django.shortcuts import render
from django.views.decorators.http import require_GET

#: format label -> (columns read, with what they become; columns ignored)
FORMAT_COLUMNS = [
    (
        "WooCommerce product CSV",
        [
            ("ID", "the product's WooCommerce id (matching products without a SKU)"),
            ("Type", "simple, variable, grouped, external, variation (+ downloadable, virtual)"),
            ("SKU", "SKU; the handle is made from it"),
            ("Name", "title"),
            ("Published", "1 active; 0 or -1 draft"),
            ("Short description, Description", "descriptions"),
            ("Regular price, Sale price", "price and compare-at price"),
            ("Stock", "stock (blank: not tracked)"),
            ("Weight (unit)", "weight, converted to grams (kg, g, lbs, oz)"),
            ("Length, Width, Height (unit)", "dimensions, converted to millimetres (m, cm, mm, in, yd)"),
            ("Categories, Tags, Images", "comma lists"),
            ("Parent, Position", "a variation's parent (SKU or id:NN) and order"),
            ("Attribute N name / value(s)", "options and option values"),
            ("Grouped products, External URL, Button text, Download N name / URL", "as in WooCommerce"),
        ],
        "featured, visibility, tax status and class, In stock?, backorders, sold individually, reviews, "
        "purchase note, shipping class, download limit and expiry, upsells, cross-sells, attribute "
        "visible/global flags, Meta: columns",
    ),
    (
        "Shopify product CSV",
        [
            ("Handle", "handle (every row of a product repeats it)"),
            ("Title, Body (HTML), Vendor, Product Category, Type, Tags", "product fields (first row)"),
            ("Published, Status", "active, draft or archived"),
            ("Option1..3 Name / Value", "options and variant option values"),
            ("Variant SKU, Variant Price, Variant Compare At Price", "variant fields"),
            ("Variant Grams", "weight in grams"),
            ("Variant Inventory Tracker, Variant Inventory Qty", "stock (blank tracker: not tracked)"),
            ("Variant Barcode, Variant Image", "barcode, variant image"),
            ("Image Src, Image Position", "product images in order"),
        ],
        "image alt text, SEO title and description, Google Shopping columns, gift card, inventory policy, "
        "fulfillment service, requires shipping, taxable, tax code, cost per item, weight unit, market "
        "prices, metafields",
    ),
    (
        "Magento 2 product CSV (System → Export)",
        [
            ("sku, product_type", "SKU; simple, virtual, downloadable, configurable"),
            ("store_view_code", "rows with a store view are overrides: skipped with a warning"),
            ("name, description, short_description", "product fields"),
            ("categories", "paths such as Default Category/Gear/Bags, comma separated"),
            ("price, special_price", "price and compare-at price"),
            ("weight", "weight, taken as kg"),
            ("qty", "stock"),
            ("product_online", "1 active, 2 draft"),
            ("url_key", "handle"),
            ("configurable_variations", "a configurable product's variants (its simple rows)"),
            ("base_image, additional_images", "images (absolute URLs only)"),
        ],
        "attribute_set_code, additional_attributes, tax class, visibility, websites, SEO fields, "
        "stock settings other than qty, custom options, grouped and bundle products (refused)",
    ),
]


@require_GET
def import_formats(request):
    """GET: the formats page (any signed-in user; nothing organization-specific on it)."""
    return render(request, "products/import_formats.html", {"formats": FORMAT_COLUMNS})
