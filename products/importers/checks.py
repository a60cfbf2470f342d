"""Checks of a catalog as a whole, after every row was read and before anything is planned.

Errors (the import's result would be wrong): a variable product with no
variations, the same option combination twice on one product. (A
variation whose parent is missing and a sale price above the regular
price are refused by the WooCommerce reader itself, row by row.)

Warnings (valid, but probably not what the merchant wants): barcodes in
scientific notation (a spreadsheet turned them into numbers and dropped
digits), rows without a SKU (summary), product names used more than once
(summary). Each is a ``RowError(row, column, message)``.
"""

from __future__ import annotations

import re

from products.importers.common import Errors, ProductData, RowError

_SCIENTIFIC = re.compile(r"^[+-]?\d+(\.\d+)?[eE][+-]?\d+$")
#: How many rows a summary warning names.
FIRST_ROWS = 5
_COLUMNS = {
    "woocommerce": {"type": "Type", "sku": "SKU", "name": "Name", "barcode": "Barcode"},
    "shopify": {"type": "Option1 Name", "sku": "Variant SKU", "name": "Title", "barcode": "Variant Barcode"},
    "magento": {"type": "product_type", "sku": "sku", "name": "name", "barcode": "barcode"},
}


def check_catalog(products: list[ProductData], errors: Errors, warnings: list[RowError], *, format: str) -> None:
    """Record in ``errors`` what would make the import wrong, append to ``warnings`` what is suspicious."""
    names = _COLUMNS.get(format, _COLUMNS["woocommerce"])
    blank_skus: list[int] = []
    titles: dict[str, list[int]] = {}
    for product in products:
        titles.setdefault(product.title.strip().casefold(), []).append(product.row)
        if product.kind == "variable" and not product.variants:
            errors.add(
                product.row,
                names["type"],
                "expected at least one variation for this variable product, the file has none "
                "(importing it would leave the product without variants; is the file complete?)",
            )
        seen: dict[tuple, int] = {}
        option_count = len(product.options)
        for variant in product.variants:
            if not variant.sku:
                blank_skus.append(variant.row)
            if variant.barcode and _SCIENTIFIC.match(variant.barcode):
                warnings.append(
                    RowError(
                        variant.row,
                        names["barcode"],
                        f"Excel turned this barcode into a number ({variant.barcode}) and dropped its last "
                        "digits; it is kept as written. Fix it in the file (format the column as text) "
                        "or in the catalog",
                    )
                )
            if option_count and len(variant.option_values) == option_count and format != "shopify":
                combo = tuple(sorted(variant.option_values.items()))
                if combo in seen:
                    shown = " / ".join(f"{k}={v}" for k, v in variant.option_values.items())
                    errors.add(
                        variant.row,
                        "",
                        f"expected each option combination once per product: {shown} is already on row "
                        f"{seen[combo]}",
                    )
                else:
                    seen[combo] = variant.row
    if blank_skus:
        shown = ", ".join(str(r) for r in blank_skus[:FIRST_ROWS]) + ("…" if len(blank_skus) > FIRST_ROWS else "")
        warnings.append(
            RowError(
                blank_skus[0],
                names["sku"],
                f"{len(blank_skus)} row(s) have no SKU (rows {shown}): they cannot be matched to the catalog "
                "by SKU and are matched by handle or the platform's id, or created as new products",
            )
        )
    repeated = [rows for rows in titles.values() if len(rows) > 1]
    if repeated:
        count = sum(len(rows) for rows in repeated)
        first = sorted(r for rows in repeated for r in rows)
        shown = ", ".join(str(r) for r in first[:FIRST_ROWS]) + ("…" if count > FIRST_ROWS else "")
        warnings.append(
            RowError(
                first[0],
                names["name"],
                f"{count} products share a name with another product of the file (rows {shown}); "
                "products are never matched by name, so each becomes or updates a product of its own",
            )
        )
