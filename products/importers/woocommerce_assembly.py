"""WooCommerce product CSV, second pass: the file's rows (``woocommerce._Row``) into products.

Rows are read one at a time first (``products.importers.woocommerce``); this pass looks across the whole
file: IDs and SKUs unique, each variation found its parent (``Parent`` names a SKU or ``id:N``), grouped
products' children resolved to SKUs, handles handed out (slug of the SKU, else of the name: then the
plan never matches it to a catalog product by name, ``products.importers.planning``), and each variable
product's variations become its variants in file order.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from products.choices import ProductKind
from products.importers.common import (
    Errors,
    HandleAllocator,
    ProductData,
    VariantData,
    check_length,
    make_handle,
    unique_list,
)

if TYPE_CHECKING:
    from products.importers.woocommerce import _Columns, _Row

KINDS = {
    "simple": ProductKind.SIMPLE,
    "variable": ProductKind.VARIABLE,
    "grouped": ProductKind.GROUPED,
    "external": ProductKind.EXTERNAL,
}
_ID_REF = re.compile(r"^id:(\d+)$")


def assemble(rows: list[_Row], cols: _Columns, errors: Errors) -> list[ProductData]:
    """Second pass: IDs and SKUs across the file, parents, grouped children, handles, variants."""
    by_id: dict[int, _Row] = {}
    by_sku: dict[str, _Row] = {}
    for row in rows:
        if row.id is not None:
            if row.id in by_id:
                message = f"expected a unique ID, {row.id} is already used on row {by_id[row.id].line}"
                errors.add(row.line, cols.id, message)
            else:
                by_id[row.id] = row
        if row.sku:
            if row.sku in by_sku:
                message = f"expected a unique SKU, {row.sku!r} is already used on row {by_sku[row.sku].line}"
                errors.add(row.line, cols.sku, message)
            else:
                by_sku[row.sku] = row

    def resolve(ref: str) -> _Row | None:
        if match := _ID_REF.match(ref):
            return by_id.get(int(match.group(1)))
        return by_sku.get(ref)

    variations: dict[int, list[_Row]] = {}  # parent line -> variation rows
    for row in rows:
        if row.type != "variation":
            continue
        if not row.parent:
            errors.add(row.line, cols.parent or "Parent", "expected the parent product's SKU or id:NN for a variation")
            continue
        parent = resolve(row.parent)
        if parent is None:
            message = f"expected the SKU or id:NN of a variable product in this file, got {row.parent!r}"
            errors.add(row.line, cols.parent, message)
        elif parent.type != "variable":
            message = f"expected a variable product, {row.parent!r} on row {parent.line} is {parent.type}"
            errors.add(row.line, cols.parent, message)
        else:
            variations.setdefault(parent.line, []).append(row)

    handles = HandleAllocator()
    products = []
    for row in rows:
        if row.type == "variation":
            continue
        product = ProductData(
            handle=handles.claim(make_handle(row.sku) or make_handle(row.name)),
            handle_source="sku" if make_handle(row.sku) else "title",
            source_id=str(row.id) if row.id is not None else "",
            length_mm=row.length_mm,
            width_mm=row.width_mm,
            height_mm=row.height_mm,
            title=row.name,
            sku=row.sku,
            kind=KINDS[row.type],
            status=row.status,
            description=row.description,
            short_description=row.short_description,
            categories=list(row.categories),
            tags=list(row.tags),
            options=[{"name": name, "values": list(values)} for name, values, _ in row.attributes],
            images=list(row.images),
            external_url=row.external_url,
            button_text=row.button_text,
            downloads=list(row.downloads),
            weight_grams=row.weight_grams,
            row=row.line,
        )
        if row.type == "grouped":
            product.grouped_skus = _grouped_skus(row, resolve, cols, errors)
        elif row.type == "variable":
            ordered = sorted(variations.get(row.line, []), key=lambda v: (v.menu_order, v.line))
            product.variants = [
                _variation(v, position, product.options, cols, errors) for position, v in enumerate(ordered, start=1)
            ]
        else:
            product.variants = [
                VariantData(
                    sku=row.sku,
                    position=1,
                    price=row.price,
                    compare_at_price=row.compare_at_price,
                    stock=row.stock,
                    option_values={o["name"]: o["values"][0] for o in product.options if len(o["values"]) == 1},
                    weight_grams=row.weight_grams,
                    length_mm=row.length_mm,
                    width_mm=row.width_mm,
                    height_mm=row.height_mm,
                    row=row.line,
                    sku_column=cols.sku,
                )
            ]
        products.append(product)
    return products


def _grouped_skus(row: _Row, resolve, cols: _Columns, errors: Errors) -> list[str]:
    skus = []
    for ref in row.grouped:
        if _ID_REF.match(ref):
            child = resolve(ref)
            if child is None:
                errors.add(row.line, cols.grouped, f"expected id:NN of a product in this file's ID column, got {ref!r}")
            elif not child.sku:
                errors.add(
                    row.line, cols.grouped, f"expected a child with a SKU, {ref} on row {child.line} has none"
                )
            else:
                skus.append(child.sku)
        else:
            # A plain SKU may name a product of this file or one already in the catalog.
            skus.append(ref)
    return unique_list(skus)


def _variation(row: _Row, position: int, options: list[dict], cols: _Columns, errors: Errors) -> VariantData:
    by_name = {o["name"].casefold(): o for o in options}
    values = {}
    for name, given, column in row.attributes:
        option = by_name.get(name.casefold())
        if option is None:
            names = ", ".join(o["name"] for o in options) or "none"
            errors.add(row.line, column, f"expected one of the parent's attributes ({names}), got {name!r}")
            continue
        if not given:
            continue  # "any" value: the variation matches every value of this attribute
        if len(given) > 1:
            errors.add(row.line, column, f"expected one value for a variation, got {', '.join(given)!r}")
            continue
        spelled = {v.casefold(): v for v in option["values"]}
        if given[0].casefold() not in spelled:
            message = f"expected one of the parent's values ({', '.join(option['values'])}), got {given[0]!r}"
            errors.add(row.line, column, message)
            continue
        values[option["name"]] = spelled[given[0].casefold()]
    ordered = {o["name"]: values[o["name"]] for o in options if o["name"] in values}
    return VariantData(
        sku=row.sku,
        position=position,
        price=row.price,
        compare_at_price=row.compare_at_price,
        stock=row.stock,
        option_values=ordered,
        image_url=check_length(row.images[0], "image_url", row.line, cols.images, errors) if row.images else "",
        weight_grams=row.weight_grams,
        length_mm=row.length_mm,
        width_mm=row.width_mm,
        height_mm=row.height_mm,
        row=row.line,
        sku_column=cols.sku,
    )
