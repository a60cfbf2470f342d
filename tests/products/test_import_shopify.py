"""Shopify product CSV → catalog, with Shopify's official product template (../shared/data)."""

import csv
import io
from decimal import Decimal
from pathlib import Path

import pytest

from products.importers import ImportValidationError, apply_catalog, detect_format, parse_catalog
from products.models import Product, Variant

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
TEMPLATE = DATA / "shopify" / "product_template.csv"


def template_text() -> str:
    return TEMPLATE.read_text(encoding="utf-8")


def edited_template(tmp_path, edits: dict[tuple[int, str], str]) -> str:
    """A copy of the template with cells replaced: {(spreadsheet row, column): value}; written to tmp_path."""
    rows = list(csv.reader(io.StringIO(template_text(), newline="")))
    header = rows[0]
    for (row, column), value in edits.items():
        rows[row - 1][header.index(column)] = value
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    path = tmp_path / "edited.csv"
    path.write_text(out.getvalue(), encoding="utf-8")
    return path.read_text(encoding="utf-8")


def import_text(org, text):
    return apply_catalog(org, parse_catalog("shopify", text))


def test_template_is_detected():
    assert detect_format(template_text()) == "shopify"


def test_template_imports_completely(org):
    counts = import_text(org, template_text())

    assert counts == {"created": 3, "updated": 0, "unchanged": 0, "products": 3, "variants": 16}
    products = Product.objects.filter(organization=org)
    assert dict(products.values_list("handle", "kind")) == {
        "example-shirt": "variable",
        "example-pants": "variable",
        "example-hat": "simple",
    }
    assert Variant.objects.filter(organization=org).count() == 16

    shirt = products.get(handle="example-shirt")
    assert shirt.title == "Example T-Shirt"
    assert shirt.status == "active"
    assert shirt.vendor == "Acme"
    assert shirt.product_type == "Shirts"
    assert shirt.categories == ["Apparel & Accessories > Clothing > Clothing Tops > T-Shirts"]
    assert shirt.tags == ["Made to Order", "Shirt Tag"]
    assert shirt.description.startswith("<p>This t-shirt is as simple as it gets.")
    assert shirt.options == [
        {"name": "Color", "values": ["Green", "Blue", "Gray", "Purple"]},
        {"name": "Size", "values": ["S", "M", "L"]},
    ]
    assert len(shirt.images) == 6
    assert shirt.images[0] == "https://burst.shopifycdn.com/photos/tshirts.jpg?width=1500"
    variants = list(shirt.variants.all())
    assert len(variants) == 12
    first = variants[0]
    assert (first.sku, first.position, first.price) == ("SRT_COT_111", 1, Decimal("25.00"))
    assert first.compare_at_price is None
    assert first.option_values == {"Color": "Green", "Size": "S"}
    assert first.weight_grams == Decimal("145.000")
    assert first.image_url == "https://burst.shopifycdn.com/photos/green-t-shirt.jpg?width=1500"
    # Excel turned the barcode into scientific notation; the text is kept, no digits invented.
    assert first.barcode == "3.65275E+11"
    # Variant Inventory Tracker is blank: Shopify does not track stock, so the "0" means nothing.
    assert {v.stock for v in variants} == {None}
    assert variants[-1].option_values == {"Color": "Purple", "Size": "L"}

    pants = products.get(handle="example-pants")
    assert pants.status == "draft"
    assert pants.options == [{"name": "Size", "values": ["28", "30", "40"]}]
    # Four images: three on variant rows and one on the image-only row 17.
    assert pants.images == [
        "https://burst.shopifycdn.com/photos/urban-vintage-denimn-on-hangers.jpg?width=1500",
        "https://burst.shopifycdn.com/photos/fashion-model-walks-down-city-street.jpg?width=1500",
        "https://burst.shopifycdn.com/photos/woman-puts-hand-in-pocket.jpg?width=1500",
        "https://burst.shopifycdn.com/photos/female-fashion-model-poses-in-city-street.jpg?width=1500",
    ]
    assert [(v.sku, v.stock, v.weight_grams) for v in pants.variants.all()] == [
        ("PNT_DEN_285", 20, Decimal("226.796")),
        ("PNT_DEN_305", 15, Decimal("283.495")),
        ("PNT_DEN_405", 10, Decimal("396.893")),
    ]
    jeans = pants.variants.get(sku="PNT_DEN_285")
    # Kept as given even though the compare-at price is below the price.
    assert (jeans.price, jeans.compare_at_price) == (Decimal("95.00"), Decimal("64.95"))

    hat = products.get(handle="example-hat")
    assert hat.status == "archived"
    assert hat.options == []
    assert hat.sku == "HAT_GRY_275"
    (cap,) = hat.variants.all()
    assert (cap.sku, cap.price, cap.compare_at_price) == ("HAT_GRY_275", Decimal("17.99"), Decimal("22.99"))
    assert cap.stock == 50
    assert cap.option_values == {}
    assert cap.weight_grams == Decimal("72.000")


def test_importing_twice_changes_nothing(org):
    import_text(org, template_text())
    before = {p.handle: (p.updated_at, p.content_hash()) for p in Product.objects.filter(organization=org)}

    counts = import_text(org, template_text())

    assert counts == {"created": 0, "updated": 0, "unchanged": 3, "products": 3, "variants": 16}
    after = {p.handle: (p.updated_at, p.content_hash()) for p in Product.objects.filter(organization=org)}
    assert after == before


def test_published_false_with_status_active_becomes_draft(tmp_path):
    text = edited_template(tmp_path, {(2, "Published"): "FALSE"})
    shirt = parse_catalog("shopify", text)[0]
    assert shirt.status == "draft"


def test_bad_rows_name_row_and_column_and_nothing_is_written(org, tmp_path):
    text = edited_template(
        tmp_path,
        {
            (3, "Variant Price"): "25,00",
            (4, "Variant Compare At Price"): "-1",
            (5, "Variant SKU"): "SRT_COT_111",
            (6, "Option2 Value"): "",
            (14, "Title"): "",
            (15, "Variant Inventory Qty"): "15.5",
            (16, "Variant Grams"): "heavy",
            (18, "Status"): "hidden",
        },
    )

    with pytest.raises(ImportValidationError) as caught:
        parse_catalog("shopify", text)

    found = {(e.row, e.column): e.message for e in caught.value.errors}
    assert found == {
        (3, "Variant Price"): "expected a decimal number like 19.99, got '25,00'",
        (4, "Variant Compare At Price"): "expected a price of 0 or more, got '-1'",
        (5, "Variant SKU"): "expected a unique SKU, 'SRT_COT_111' is already used on row 2",
        (6, "Option2 Value"): "expected a value for option 'Size'",
        (14, "Title"): "expected the product title on the first row of 'example-pants'",
        (15, "Variant Inventory Qty"): "expected a whole number like 12, got '15.5'",
        (16, "Variant Grams"): "expected a weight in grams like 145, got 'heavy'",
        (18, "Status"): "expected active, draft or archived, got 'hidden'",
    }
    assert Product.objects.filter(organization=org).count() == 0


def test_good_file_then_bad_file_keeps_the_first_import(org, tmp_path):
    import_text(org, template_text())
    before = {p.handle: (p.updated_at, p.content_hash()) for p in Product.objects.filter(organization=org)}
    bad = edited_template(tmp_path, {(18, "Variant Price"): "", (2, "Variant Price"): "19"})

    with pytest.raises(ImportValidationError) as caught:
        import_text(org, bad)

    assert [(e.row, e.column) for e in caught.value.errors] == [(18, "Variant Price")]
    after = {p.handle: (p.updated_at, p.content_hash()) for p in Product.objects.filter(organization=org)}
    assert after == before


def test_duplicate_variant_and_missing_handle(tmp_path):
    text = edited_template(tmp_path, {(3, "Option2 Value"): "S", (9, "Handle"): ""})
    with pytest.raises(ImportValidationError) as caught:
        parse_catalog("shopify", text)
    found = {(e.row, e.column): e.message for e in caught.value.errors}
    assert found[(3, "Option1 Value")] == "expected each variant once: Color=Green / Size=S is already on row 2"
    assert found[(9, "Handle")] == "expected the product's handle (every row of a product repeats it)"


def test_a_woocommerce_file_is_refused():
    woo = (DATA / "woocommerce" / "sample_products.csv").read_text(encoding="utf-8")
    with pytest.raises(ImportValidationError) as caught:
        parse_catalog("shopify", woo)
    (error,) = caught.value.errors
    assert error.row == 1 and "WooCommerce product CSV" in error.message


def test_newer_export_headers_are_read():
    text = (
        "URL handle,Title,Description,Option1 name,Option1 value,SKU,Price,Compare-at price,"
        "Inventory tracker,Inventory quantity,Weight value (grams),Product image URL,Status\n"
        "trail-mug,Trail Mug,<p>Enamel</p>,Color,Blue,MUG-B,14.50,18.00,shopify,7,310,"
        "https://img.example.com/m.jpg,active\n"
        "trail-mug,,,,Red,MUG-R,14.50,,shopify,0,310,,\n"
    )
    assert detect_format(text) == "shopify"
    (mug,) = parse_catalog("shopify", text)
    assert mug.handle == "trail-mug" and mug.description == "<p>Enamel</p>"
    assert mug.options == [{"name": "Color", "values": ["Blue", "Red"]}]
    assert [(v.sku, v.price, v.compare_at_price, v.stock) for v in mug.variants] == [
        ("MUG-B", Decimal("14.50"), Decimal("18.00"), 7),
        ("MUG-R", Decimal("14.50"), None, 0),
    ]
    assert mug.images == ["https://img.example.com/m.jpg"]


def test_shopify_handles_come_from_the_handle_column_and_there_is_no_source_id():
    products = parse_catalog("shopify", template_text())
    assert {(p.handle_source, p.source_id) for p in products} == {("handle", "")}
