"""Catalog imports: WooCommerce and Shopify product CSV files into products and variants.

Two steps, so that a bad file never writes anything:

1. ``parse_catalog(format, text)`` validates the whole file and returns
   ``ProductData`` (with ``VariantData``), or raises
   ``ImportValidationError`` whose ``errors`` list every problem as a
   ``RowError(row, column, message)``. ``detect_format(text)`` guesses the
   format from the header.
2. ``apply_catalog(organization, products)`` writes them in one transaction
   and returns counts.

Products are matched by (organization, handle); variants of a product by
SKU, or by position when the SKU is blank. Importing the same file again
changes nothing: equal rows are not written (``updated_at`` stays). The
file is not a full catalog: products missing from it are left alone, but
a product's variants that are missing from the file are removed. A product
that was deleted (``deleted_at``) and is in the file again is restored.

Weights are grams; money is ``Decimal`` in the organization's ISO currency
(neither format names a currency). Format details: ``woocommerce.py`` and
``shopify.py``.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction

from products.importers import shopify, woocommerce
from products.importers.common import (
    ImportValidationError,
    ProductData,
    RowError,
    VariantData,
    Errors,
    normalize_header,
    read_sheet,
)
from products.models import Product, Variant, stock_total_of

__all__ = [
    "FORMATS",
    "ImportValidationError",
    "ProductData",
    "RowError",
    "VariantData",
    "apply_catalog",
    "detect_format",
    "parse_catalog",
]

#: format name -> reader module (``parse(text)``, ``matches_header(columns)``).
FORMATS = {woocommerce.FORMAT: woocommerce, shopify.FORMAT: shopify}
LABELS = {woocommerce.FORMAT: "WooCommerce", shopify.FORMAT: "Shopify"}

PRODUCT_FIELDS = (
    "sku",
    "title",
    "kind",
    "status",
    "description",
    "short_description",
    "vendor",
    "product_type",
    "categories",
    "tags",
    "options",
    "images",
    "external_url",
    "button_text",
    "grouped_skus",
    "downloads",
    "weight_grams",
)
VARIANT_FIELDS = (
    "sku",
    "position",
    "price",
    "compare_at_price",
    "stock",
    "option_values",
    "image_url",
    "barcode",
    "weight_grams",
)
_CHUNK = 500  # rows per IN (…) query


def detect_format(text: str) -> str | None:
    """``"woocommerce"``, ``"shopify"`` or None, judged by the header row only."""
    first_line = text.lstrip("\ufeff").split("\n", 1)[0]
    sheet = read_sheet(first_line, Errors())
    if sheet is None:
        return None
    columns = {normalize_header(name) for name in sheet.header}
    for name, reader in FORMATS.items():
        if reader.matches_header(columns):
            return name
    return None


def parse_catalog(format: str, text: str) -> list[ProductData]:
    """Validate the whole file in ``format`` ("woocommerce" or "shopify") and return its products.

    Raises ``ImportValidationError`` with every problem found: bad cells,
    unknown or missing header, a file of the other format, an unknown
    format name (row 0).
    """
    reader = FORMATS.get(format)
    if reader is None:
        raise ImportValidationError(
            [RowError(0, "", f"expected the format woocommerce or shopify, got {format!r}")]
        )
    detected = detect_format(text)
    if detected and detected != format:
        raise ImportValidationError(
            [
                RowError(
                    1,
                    "",
                    f"expected a {LABELS[format]} product CSV, but the header is that of a "
                    f"{LABELS[detected]} product CSV",
                )
            ]
        )
    return reader.parse(text)


def apply_catalog(
    organization, products: list[ProductData], *, progress: Callable[[int, int], None] | None = None
) -> dict:
    """Write validated products into ``organization``'s catalog in ONE transaction.

    Returns ``{"created", "updated", "unchanged", "products", "variants"}``:
    products created, changed (or restored), left as they were, and the
    numbers of products and variants in ``products``. ``progress(done,
    total)`` is called after each product. Raises ``ImportValidationError``
    (nothing written) when a SKU in the file belongs to a variant of a
    product that is not in the file, or when ``products`` repeats a handle
    or a SKU.
    """
    _check_unique(products)
    total = len(products)
    counts = {"created": 0, "updated": 0, "unchanged": 0, "products": total, "variants": 0}
    counts["variants"] = sum(len(p.variants) for p in products)
    handles = [p.handle for p in products]
    with transaction.atomic():
        existing: dict[str, Product] = {}
        for chunk in _chunks(handles):
            for product in Product.objects.filter(organization=organization, handle__in=chunk).prefetch_related(
                "variants"
            ):
                existing[product.handle] = product
        _check_sku_owners(organization, products, set(handles))

        # Match variants first, and remove the ones that are gone before writing any,
        # so that a SKU moving from one product of the file to another never collides.
        matches: dict[str, list[Variant | None]] = {}
        removed: dict[str, int] = {}
        stale_ids = []
        for data in products:
            product = existing.get(data.handle)
            if product is None:
                continue
            old = list(product.variants.all())
            by_sku = {v.sku: v for v in old if v.sku}
            by_position = {v.position: v for v in old if not v.sku}
            matched = [by_sku.get(v.sku) if v.sku else by_position.pop(v.position, None) for v in data.variants]
            kept = {v.pk for v in matched if v is not None}
            stale = [v.pk for v in old if v.pk not in kept]
            matches[data.handle], removed[data.handle] = matched, len(stale)
            stale_ids += stale
        for chunk in _chunks(stale_ids):
            Variant.objects.filter(pk__in=chunk).delete()

        restock = []  # changed products: their stock_total is summed again at the end (new ones come with it)
        for done, data in enumerate(products, start=1):
            product = existing.get(data.handle)
            if product is None:
                _create(organization, data)
                counts["created"] += 1
            elif _update(organization, product, data, matches[data.handle], removed[data.handle]):
                restock.append(product.pk)
                counts["updated"] += 1
            else:
                counts["unchanged"] += 1
            if progress is not None:
                progress(done, total)
        Product.objects.refresh_stock_totals(restock)
    return counts


def _create(organization, data: ProductData) -> Product:
    product = Product.objects.create(
        organization=organization, handle=data.handle, stock_total=stock_total_of(v.stock for v in data.variants),
        **{name: getattr(data, name) for name in PRODUCT_FIELDS},
    )
    Variant.objects.bulk_create(
        [
            Variant(organization=organization, product=product, **{name: getattr(v, name) for name in VARIANT_FIELDS})
            for v in data.variants
        ]
    )
    return product


def _update(organization, product: Product, data: ProductData, matched: list, removed: int) -> bool:
    """Write what differs; True when anything changed (including variants removed or a restore)."""
    changed = removed > 0
    for variant_data, variant in zip(data.variants, matched, strict=True):
        if variant is None:
            Variant.objects.create(
                organization=organization,
                product=product,
                **{name: getattr(variant_data, name) for name in VARIANT_FIELDS},
            )
            changed = True
            continue
        fields = [name for name in VARIANT_FIELDS if getattr(variant, name) != getattr(variant_data, name)]
        if fields:
            for name in fields:
                setattr(variant, name, getattr(variant_data, name))
            variant.save(update_fields=fields)
            changed = True
    fields = [name for name in PRODUCT_FIELDS if getattr(product, name) != getattr(data, name)]
    if product.deleted_at is not None:
        product.deleted_at = None
        fields.append("deleted_at")
    if not fields and not changed:
        return False
    for name in fields:
        if name != "deleted_at":
            setattr(product, name, getattr(data, name))
    product.save(update_fields=[*fields, "updated_at"])
    return True


def _check_unique(products: list[ProductData]) -> None:
    """The readers guarantee this; callers that build ProductData themselves get the same check."""
    errors, handles, skus = [], {}, {}
    for product in products:
        if product.handle in handles:
            errors.append(RowError(product.row, "", f"expected a unique handle, {product.handle!r} appears twice"))
        handles[product.handle] = product.row
        for variant in product.variants:
            if variant.sku and variant.sku in skus:
                errors.append(
                    RowError(variant.row, variant.sku_column, f"expected a unique SKU, {variant.sku!r} appears twice")
                )
            skus[variant.sku] = variant.row
    if errors:
        raise ImportValidationError(errors)


def _check_sku_owners(organization, products: list[ProductData], handles: set[str]) -> None:
    """A SKU is unique in an organization: it may not already belong to a product outside the file."""
    by_sku = {v.sku: (p, v) for p in products for v in p.variants if v.sku}
    errors = []
    for chunk in _chunks(list(by_sku)):
        # Only the few columns the check reads: loading whole product rows cost
        # most of an unchanged re-import (bench/bench_import.py).
        owners = (
            Variant.objects.filter(organization=organization, sku__in=chunk)
            .values_list("sku", "product__title", "product__handle", "product__deleted_at")
        )
        for sku, title, handle, deleted_at in owners:
            if handle in handles:
                continue
            product, data = by_sku[sku]
            deleted = " (deleted)" if deleted_at else ""
            errors.append(
                RowError(
                    data.row,
                    data.sku_column,
                    f"expected a SKU not used elsewhere: {sku!r} already belongs to "
                    f"“{title}”{deleted} (handle {handle}) in the catalog",
                )
            )
    if errors:
        raise ImportValidationError(sorted(errors, key=lambda e: e.row))


def _chunks(items: list, size: int = _CHUNK):
    for start in range(0, len(items), size):
        yield items[start : start + size]
