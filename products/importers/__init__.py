"""Catalog imports: WooCommerce and Shopify product CSV files into products and variants.

Two steps, so that a bad file never writes anything:

1. ``parse_catalog(format, source, *, warnings=None)`` (``reading.py``)
   reads the file (a str or a text file, as a stream), validates it row by
   row and as a whole, and returns ``ProductData`` (with ``VariantData``),
   or raises ``ImportValidationError`` whose ``errors`` list every problem
   as a ``RowError(row, column, message)`` (``UnsupportedFormat`` for a
   file we cannot read). ``detect_format(source)`` guesses the format from
   the header.
2. ``apply_catalog(organization, products)`` writes them in one transaction
   and returns counts.

Products are matched by (organization, handle); variants of a product by
SKU, or by position when the SKU is blank. Importing the same file again
changes nothing: equal rows are not written (``updated_at`` stays). The
file is not a full catalog: products missing from it are left alone. In
"merge" mode (the default) a product's variants missing from the file stay
and a blank cell keeps the catalog's value; "replace" removes those
variants and empties those fields. Products are never matched by name: a
product whose handle came from its title (no SKU, no handle column) is
created under a free handle (``products.importers.planning``). A product
that was deleted (``deleted_at``) and is in the file again is restored.

Weights are grams; money is ``Decimal`` in the organization's ISO currency
(neither format names a currency). Format details: ``woocommerce.py`` and
``shopify.py``.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction

from products.importers.common import (
    ImportValidationError,
    ProductData,
    RowError,
    UnsupportedFormat,
    VariantData,
)
from products.importers.reading import FORMATS, LABELS, detect_format, parse_catalog
from products.importers.writing import CheckpointConflict, add_counts, resumed_state, write_in_chunks
from products.models import Product, Variant, stock_total_of

__all__ = [
    "FORMATS",
    "CheckpointConflict",
    "ImportValidationError",
    "ProductData",
    "LABELS",
    "RowError",
    "UnsupportedFormat",
    "VariantData",
    "apply_catalog",
    "check_against_catalog",
    "detect_format",
    "parse_catalog",
]

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
    "length_mm",
    "width_mm",
    "height_mm",
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
    "length_mm",
    "width_mm",
    "height_mm",
)
_CHUNK = 500  # rows per IN (…) query


def apply_catalog(
    organization,
    products: list[ProductData],
    *,
    mode: str = "merge",
    progress: Callable[[int, int], None] | None = None,
    catalog_import=None,
    chunk_size: int | None = None,
) -> dict:
    """Write validated products into ``organization``'s catalog, a chunk of products per transaction.

    Returns ``{"created", "updated", "unchanged", "products", "variants"}``:
    products created, changed (or restored), left as they were, and the
    numbers of products and variants in ``products``. ``mode``: "merge" keeps
    an existing product's variants that the file does not list; "replace"
    removes them. Either way a SKU that the file gives to another product of
    the file moves there. Chunks, pauses, the resume checkpoint on
    ``catalog_import`` and ``progress(done, total)`` (after each committed
    chunk): ``products.importers.writing.write_in_chunks``; ``chunk_size``
    defaults to ``settings.CATALOG_IMPORT_CHUNK_PRODUCTS``.

    Raises ``ImportValidationError`` (nothing written) when a SKU in the file
    belongs to a variant of a product that is not in the file, or when
    ``products`` repeats a handle or a SKU; ``CheckpointConflict`` when
    another process is writing the same import.
    """
    if mode not in ("merge", "replace"):
        raise ValueError(f"expected the mode merge or replace, got {mode!r}")
    _check_unique(products)
    handles = [p.handle for p in products]
    _check_sku_owners(organization, products, set(handles))
    state = resumed_state(catalog_import)
    if state is None:
        state = {"moves": _sku_moves(organization, products)}
    writer = _ChunkWriter(organization, products, mode, state["moves"])
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    counts = add_counts(
        counts,
        write_in_chunks(
            catalog_import, list(range(len(products))), writer.write, chunk_size=chunk_size, progress=progress,
            state=state,
        ),
    )
    counts["products"] = len(products)
    counts["variants"] = sum(len(p.variants) for p in products)
    return counts


def check_against_catalog(organization, products: list[ProductData]) -> None:
    """The checks ``apply_catalog`` makes before writing, for a plan to make first: unique handles and SKUs in
    ``products``, and no SKU of the file owned by a catalog product outside the file.

    Raises ``ImportValidationError`` listing every problem (row, column, message).
    """
    _check_unique(products)
    _check_sku_owners(organization, products, {p.handle for p in products})


def _sku_moves(organization, products: list[ProductData]) -> list[list[str]]:
    """``[[sku, from handle, to handle]]``: SKUs of the file that belong now to another product of the file.

    Decided once, before the first chunk, and kept in the checkpoint: after the chunk that moved a
    SKU, the database no longer shows where it came from.
    """
    owner_in_file = {v.sku: p.handle for p in products for v in p.variants if v.sku}
    moves = []
    for chunk in _chunks(list(owner_in_file)):
        rows = Variant.objects.filter(organization=organization, sku__in=chunk).values_list("sku", "product__handle")
        moves += [[sku, handle, owner_in_file[sku]] for sku, handle in rows if handle != owner_in_file[sku]]
    return sorted(moves)


class _ChunkWriter:
    """Writes the products at given indexes of ``products``; called once per chunk inside its transaction.

    Removing variants before writing any keeps a SKU that moves from one product to another from
    colliding with itself (SKUs are unique per organization): within a chunk, the stale variants
    of its products go first; a SKU moving INTO the chunk from a product of a later chunk is
    taken off that product first too (that product is counted as updated in its own chunk).
    """

    def __init__(self, organization, products: list[ProductData], mode: str, moves: list[list[str]]):
        self.organization, self.products, self.mode = organization, products, mode
        index = {p.handle: i for i, p in enumerate(products)}
        self.moved_skus = {sku for sku, _, _ in moves}
        self.moved_in: dict[str, list[str]] = {}  # to handle -> SKUs to take off their old product first
        self.moved_out_early: set[str] = set()  # handles that lose a SKU in an earlier chunk than their own
        for sku, source, target in moves:
            self.moved_in.setdefault(target, []).append(sku)
            if index.get(source, -1) > index[target]:
                self.moved_out_early.add(source)

    def write(self, indexes) -> dict:
        organization = self.organization
        chunk = [self.products[i] for i in indexes]
        counts = {"created": 0, "updated": 0, "unchanged": 0}
        existing = {
            p.handle: p
            for p in Product.objects.filter(organization=organization, handle__in=[d.handle for d in chunk])
            .prefetch_related("variants")
        }
        matches: dict[str, list[Variant | None]] = {}
        removed: dict[str, int] = {}
        stale_ids = []
        for data in chunk:
            product = existing.get(data.handle)
            if product is None:
                continue
            old = list(product.variants.all())
            matched = match_variants(old, data.variants)
            kept = {v.pk for v in matched if v is not None}
            if self.mode == "replace":
                stale = [v.pk for v in old if v.pk not in kept]
            else:  # merge: only a SKU the file gives to another product leaves this one
                stale = [v.pk for v in old if v.pk not in kept and v.sku in self.moved_skus]
            matches[data.handle] = matched
            removed[data.handle] = len(stale) + (data.handle in self.moved_out_early)
            stale_ids += stale
        incoming = [sku for data in chunk for sku in self.moved_in.get(data.handle, ())]
        for part in _chunks(incoming):
            stale_ids += Variant.objects.filter(organization=organization, sku__in=part).exclude(
                product__handle__in=[d.handle for d in chunk]
            ).values_list("pk", flat=True)
        for part in _chunks(stale_ids):
            Variant.objects.filter(pk__in=part).delete()

        restock = []  # changed products: their stock_total is summed again (new ones come with it)
        for data in chunk:
            product = existing.get(data.handle)
            if product is None:
                _create(organization, data)
                counts["created"] += 1
            elif _update(organization, product, data, matches[data.handle], removed[data.handle], self.mode):
                restock.append(product.pk)
                counts["updated"] += 1
            else:
                counts["unchanged"] += 1
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


def is_blank(value) -> bool:
    """True for what a file cell left empty: None, "", an empty list or mapping."""
    return value is None or value == "" or value == [] or value == {}


def fields_to_write(current, data, names, mode: str) -> list[str]:
    """The ``names`` whose value in ``data`` differs from ``current``'s; in "merge" mode a blank value in the
    file (``is_blank``) keeps the catalog's value, so merge never empties a field (issue 12, item 3)."""
    return [
        name for name in names
        if getattr(current, name) != getattr(data, name) and not (mode == "merge" and is_blank(getattr(data, name)))
    ]


def match_variants(old: list, variants: list) -> list:
    """For each of the file's ``variants`` the catalog variant it updates, or None (a new one).

    Matched by SKU; a variant without SKU by its position among the catalog variants without SKU.
    """
    by_sku = {v.sku: v for v in old if v.sku}
    by_position = {v.position: v for v in old if not v.sku}
    return [by_sku.get(v.sku) if v.sku else by_position.pop(v.position, None) for v in variants]


def _update(organization, product: Product, data: ProductData, matched: list, removed: int, mode: str) -> bool:
    """Write what differs (``fields_to_write``); True when anything changed (variants removed, a restore)."""
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
        fields = fields_to_write(variant, variant_data, VARIANT_FIELDS, mode)
        if fields:
            for name in fields:
                setattr(variant, name, getattr(variant_data, name))
            variant.save(update_fields=fields)
            changed = True
    fields = fields_to_write(product, data, PRODUCT_FIELDS, mode)
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
