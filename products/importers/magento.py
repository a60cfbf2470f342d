"""Read Magento 2's product CSV (System → Data Transfer → Export, entity "Products").

Format (Magento 2 Open Source, ``Magento/CatalogImportExport``): one row per
product and store view; the default-scope row has an empty
``store_view_code``; rows with a store view code are store-view overrides
and are skipped with a warning. Columns read: ``sku``, ``store_view_code``,
``product_type`` (simple, virtual, downloadable, configurable; grouped and
bundle are refused: we cannot carry their children), ``categories`` (paths
"Default Category/Gear/Bags", several separated by commas; kept as
"Default Category > Gear > Bags"), ``name``, ``description``,
``short_description``, ``weight`` (the store's unit is not in the file:
taken as kg, Magento's default), ``product_online`` (1 active, 2 draft),
``price``, ``special_price`` (set → price, regular → compare-at),
``url_key`` (the handle), ``qty``, ``additional_attributes``
("color=Red,size=M"), ``configurable_variations``
("sku=MH01-XS-Black,color=Black,size=XS|sku=…"), ``base_image``,
``additional_images`` (absolute URLs only: relative media paths are not
reachable and are skipped).

A configurable product becomes a variable product whose variants are the
simple rows named in its ``configurable_variations``; those children are not
products of their own. Everything else (tax class, visibility, SEO, stock
settings beyond ``qty``, custom options, websites…) is not read.
"""

from __future__ import annotations



from products.choices import ProductKind, ProductStatus
from products.importers.common import (
    Errors,
    HandleAllocator,
    ProductData,
    RowError,
    VariantData,
    absolute_url,
    check_length,
    grams,
    make_handle,
    money,
    parse_decimal,
    unique_list,
)
from products.importers.sheet import Sheet

FORMAT = "magento"
REQUIRED_COLUMNS = ("sku", "product_type", "name")
TYPES = ("simple", "virtual", "downloadable", "configurable")


def matches_header(columns: set[str]) -> bool:
    """True when normalized header names look like a Magento 2 product export."""
    return {"sku", "product_type", "attribute_set_code"} <= columns


def missing_columns(sheet: Sheet) -> list[RowError]:
    """The required columns this header lacks, as errors on row 1."""
    return [
        RowError(1, name, f"expected a Magento 2 product CSV with a “{name}” column")
        for name in REQUIRED_COLUMNS
        if sheet.column(name) is None
    ]


def _pairs(value: str, separator: str = ",") -> dict[str, str]:
    result = {}
    for part in value.split(separator):
        if "=" in part:
            key, _, val = part.partition("=")
            result[key.strip()] = val.strip()
    return result


def read(sheet: Sheet, errors: Errors, warnings: list) -> list[ProductData]:
    """Read the rows of an opened ``sheet``; problems go to ``errors`` (the caller raises them)."""
    missing = missing_columns(sheet)
    if missing:
        errors.items.extend(missing)
        errors.raise_if_any()
    col = {name: sheet.column(name) for name in (
        "sku", "store_view_code", "product_type", "categories", "name", "description", "short_description",
        "weight", "product_online", "price", "special_price", "url_key", "qty", "additional_attributes",
        "configurable_variations", "base_image", "additional_images",
    )}  # fmt: skip

    def cell(cells, name):
        return cells.get(col[name], "").strip() if col[name] else ""

    rows = []
    for line, cells in sheet.rows(only={c for c in col.values() if c}):
        if cell(cells, "store_view_code"):
            warnings.append(
                RowError(line, col["store_view_code"], "store-view override skipped: we read the default scope only")
            )
            continue
        kind = cell(cells, "product_type").lower()
        if kind not in TYPES:
            errors.add(line, col["product_type"], f"expected simple, virtual, downloadable or configurable, got {kind!r}")
            continue
        rows.append((line, cells, kind))

    by_sku = {cell(c, "sku"): (line, c) for line, c, _ in rows if cell(c, "sku")}
    children = set()
    for _, cells, kind in rows:
        if kind == "configurable":
            children |= {_pairs(v).get("sku", "") for v in cell(cells, "configurable_variations").split("|") if v}

    def variant(line, cells, position, option_values):
        price = money(cell(cells, "price"), line, col["price"], errors)
        special = money(cell(cells, "special_price"), line, col["special_price"], errors)
        compare = None
        if special is not None and price is not None and special > price:
            errors.add(line, col["special_price"], f"expected a special price at most the price {price}, got {special}")
        elif special is not None:
            price, compare = special, price
        weight = None
        raw = cell(cells, "weight")
        try:
            amount = parse_decimal(raw)
        except ValueError:
            errors.add(line, col["weight"], f"expected a decimal number like 1.5, got {raw!r}")
        else:
            weight = grams(amount * 1000 if amount is not None else None, raw, line, col["weight"], errors)
        qty = None
        raw_qty = cell(cells, "qty")
        try:
            number = parse_decimal(raw_qty)
            qty = int(number) if number is not None and number == int(number) else None
            if number is not None and qty is None:
                raise ValueError(raw_qty)
        except ValueError:
            errors.add(line, col["qty"], f"expected a whole number like 12, got {raw_qty!r}")
        return VariantData(
            sku=check_length(cell(cells, "sku"), "sku", line, col["sku"], errors),
            position=position,
            price=price,
            compare_at_price=compare,
            stock=qty,
            option_values=option_values,
            weight_grams=weight,
            row=line,
            sku_column=col["sku"],
        )

    handles = HandleAllocator()
    products = []
    for line, cells, kind in rows:
        sku = cell(cells, "sku")
        if kind != "configurable" and sku in children:
            continue
        name = cell(cells, "name")
        if not name:
            errors.add(line, col["name"], "expected the product name, got an empty cell")
        url_key = make_handle(cell(cells, "url_key"))
        images = [cell(cells, "base_image")] + [i.strip() for i in cell(cells, "additional_images").split(",")]
        product = ProductData(
            handle=handles.claim(url_key or make_handle(sku) or make_handle(name)),
            handle_source="handle" if url_key else ("sku" if make_handle(sku) else "title"),
            title=check_length(name, "title", line, col["name"], errors),
            sku=sku,
            kind=ProductKind.VARIABLE if kind == "configurable" else ProductKind.SIMPLE,
            status=ProductStatus.DRAFT if cell(cells, "product_online") in ("2", "0") else ProductStatus.ACTIVE,
            description=cell(cells, "description"),
            short_description=cell(cells, "short_description"),
            categories=unique_list(
                " > ".join(p.strip() for p in path.split("/") if p.strip())
                for path in cell(cells, "categories").split(",")
            ),
            images=unique_list(i for i in images if i and absolute_url(i)),
            row=line,
        )
        if kind == "configurable":
            options: dict[str, list[str]] = {}
            for position, spec in enumerate((v for v in cell(cells, "configurable_variations").split("|") if v), 1):
                values = _pairs(spec)
                child_sku = values.pop("sku", "")
                child = by_sku.get(child_sku)
                if child is None:
                    message = f"expected the simple product {child_sku!r} named here to be a row of this file"
                    errors.add(line, col["configurable_variations"], message)
                    continue
                for key, value in values.items():
                    options.setdefault(key, [])
                    if value not in options[key]:
                        options[key].append(value)
                product.variants.append(variant(child[0], child[1], position, values))
            product.options = [{"name": key, "values": vals} for key, vals in options.items()]
        else:
            attributes = _pairs(cell(cells, "additional_attributes"))
            product.variants = [variant(line, cells, 1, {})]
            product.weight_grams = product.variants[0].weight_grams
            del attributes  # product attributes have no place in the catalog
        products.append(product)
    return products


__all__ = ["FORMAT", "matches_header", "missing_columns", "read"]
