"""WooCommerce product CSV → catalog, with WooCommerce's own sample file (../shared/data)."""

import csv
import io
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from products.importers import (
    ImportValidationError,
    UnsupportedFormat,
    apply_catalog,
    detect_format,
    parse_catalog,
)
from products.models import Product, Variant
from tests.factories import ProductFactory, VariantFactory

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
SAMPLE = DATA / "woocommerce" / "sample_products.csv"


def sample_text() -> str:
    return SAMPLE.read_text(encoding="utf-8")


def edited_sample(tmp_path, edits: dict[tuple[int, str], str]) -> str:
    """A copy of the sample with cells replaced: {(spreadsheet row, column): value}; written to tmp_path."""
    rows = list(csv.reader(io.StringIO(sample_text().lstrip("\ufeff"), newline="")))
    header = rows[0]
    for (row, column), value in edits.items():
        rows[row - 1][header.index(column)] = value
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    path = tmp_path / "edited.csv"
    path.write_text("\ufeff" + out.getvalue(), encoding="utf-8")
    return path.read_text(encoding="utf-8")


def import_text(org, text, mode="merge"):
    return apply_catalog(org, parse_catalog("woocommerce", text), mode=mode)


def test_the_sample_has_a_bom_and_is_detected():
    assert SAMPLE.read_bytes()[:3] == b"\xef\xbb\xbf"
    assert detect_format(sample_text()) == "woocommerce"


def test_sample_imports_completely(org):
    counts = import_text(org, sample_text())

    assert counts == {"created": 18, "updated": 0, "unchanged": 0, "products": 18, "variants": 22}
    products = Product.objects.filter(organization=org)
    kinds = {kind: products.filter(kind=kind).count() for kind in ("simple", "variable", "grouped", "external")}
    assert kinds == {"simple": 14, "variable": 2, "grouped": 1, "external": 1}
    assert Variant.objects.filter(organization=org).count() == 22
    assert set(products.values_list("status", flat=True)) == {"active"}

    vneck = products.get(handle="woo-vneck-tee")
    assert vneck.sku == "woo-vneck-tee"
    assert vneck.title == "V-Neck T-Shirt"
    assert vneck.categories == ["Clothing > Tshirts"]
    assert vneck.options == [
        {"name": "Color", "values": ["Blue", "Green", "Red"]},
        {"name": "Size", "values": ["Large", "Medium", "Small"]},
    ]
    assert vneck.weight_grams == Decimal("226.796")  # 0.5 lb
    assert len(vneck.images) == 3
    variants = list(vneck.variants.all())
    assert [v.sku for v in variants] == ["woo-vneck-tee-red", "woo-vneck-tee-green", "woo-vneck-tee-blue"]
    # Size is blank on the variation rows: WooCommerce's "any size", so only Color is set.
    assert [v.option_values for v in variants] == [{"Color": "Red"}, {"Color": "Green"}, {"Color": "Blue"}]
    assert [v.price for v in variants] == [Decimal("20.00"), Decimal("20.00"), Decimal("15.00")]
    assert variants[2].image_url.endswith("/2017/12/vnech-tee-blue-1.jpg")
    assert all(v.stock is None for v in variants)  # Stock is blank: not managed

    hoodie = products.get(handle="woo-hoodie")
    # Ordered by the Position column (menu order), then file order.
    assert [(v.sku, v.position) for v in hoodie.variants.all()] == [
        ("woo-hoodie-blue-logo", 1),
        ("woo-hoodie-red", 2),
        ("woo-hoodie-green", 3),
        ("woo-hoodie-blue", 4),
    ]
    red = hoodie.variants.get(sku="woo-hoodie-red")
    assert (red.price, red.compare_at_price) == (Decimal("42.00"), Decimal("45.00"))
    assert red.option_values == {"Color": "Red", "Logo": "No"}

    beanie = products.get(handle="woo-beanie")
    (variant,) = beanie.variants.all()
    assert (variant.sku, variant.price, variant.compare_at_price) == ("woo-beanie", Decimal("18.00"), Decimal("20.00"))
    assert variant.option_values == {"Color": "Red"}
    assert variant.weight_grams == Decimal("90.718")  # 0.2 lb

    # Handles are slugs of the SKU: "Woo-tshirt-logo" becomes lowercase.
    assert products.get(handle="woo-tshirt-logo").sku == "Woo-tshirt-logo"

    album = products.get(handle="woo-album")
    assert album.kind == "simple"
    uploads = "https://demo.woothemes.com/woocommerce/wp-content/uploads/sites/56/2017/08"
    assert album.downloads == [
        {"name": "Single 1", "url": f"{uploads}/single.jpg"},
        {"name": "Single 2", "url": f"{uploads}/album.jpg"},
    ]
    assert album.variants.get().price == Decimal("15.00")
    assert album.categories == ["Music"]

    group = products.get(handle="logo-collection")
    assert group.kind == "grouped"
    assert group.grouped_skus == ["woo-hoodie-with-logo", "woo-tshirt", "woo-beanie"]
    assert group.variants.count() == 0
    assert len(group.images) == 4

    pennant = products.get(handle="wp-pennant")
    assert pennant.kind == "external"
    assert pennant.external_url == "https://mercantile.wordpress.org/product/wordpress-pennant/"
    assert pennant.button_text == "Buy on the WordPress swag store!"
    assert pennant.variants.get().price == Decimal("11.05")


def test_importing_twice_changes_nothing(org):
    import_text(org, sample_text())
    before = {p.handle: (p.updated_at, p.content_hash()) for p in Product.objects.filter(organization=org)}

    counts = import_text(org, sample_text())

    assert counts == {"created": 0, "updated": 0, "unchanged": 18, "products": 18, "variants": 22}
    after = {p.handle: (p.updated_at, p.content_hash()) for p in Product.objects.filter(organization=org)}
    assert after == before


def test_second_import_writes_no_rows(org):
    products = parse_catalog("woocommerce", sample_text())
    apply_catalog(org, products)
    with CaptureQueriesContext(connection) as queries:
        apply_catalog(org, products)
    statements = [q["sql"] for q in queries.captured_queries]
    writes = [sql for sql in statements if sql.split()[0].upper() in ("UPDATE", "INSERT", "DELETE")]
    assert writes == []


def test_a_changed_price_updates_only_that_product(org, tmp_path):
    import_text(org, sample_text())
    stamps = dict(Product.objects.filter(organization=org).values_list("handle", "updated_at"))

    counts = import_text(org, edited_sample(tmp_path, {(6, "Regular price"): "19.50"}))  # row 6: Beanie

    assert counts["updated"] == 1 and counts["unchanged"] == 17
    beanie = Product.objects.get(organization=org, handle="woo-beanie")
    assert beanie.variants.get().compare_at_price == Decimal("19.50")
    assert beanie.updated_at > stamps["woo-beanie"]
    others = Product.objects.filter(organization=org).exclude(handle="woo-beanie")
    unchanged = dict(others.values_list("handle", "updated_at"))
    assert unchanged == {h: t for h, t in stamps.items() if h != "woo-beanie"}


def test_removed_variation_is_deleted_in_replace_mode_and_deleted_product_restored(org, tmp_path):
    import_text(org, sample_text())
    Product.objects.filter(organization=org, handle="woo-belt").update(deleted_at="2026-01-01T00:00:00Z")
    text = sample_text()
    lines = text.split("\n")
    without_blue = "\n".join(line for line in lines if not line.startswith("78,variation"))

    counts = import_text(org, without_blue, mode="replace")

    assert counts["updated"] == 2  # the V-neck lost a variation, the belt came back
    vneck = Product.objects.get(organization=org, handle="woo-vneck-tee")
    assert [v.sku for v in vneck.variants.all()] == ["woo-vneck-tee-red", "woo-vneck-tee-green"]
    assert Product.objects.get(organization=org, handle="woo-belt").deleted_at is None


def test_progress_is_reported_after_each_committed_chunk(org):
    calls = []
    products = parse_catalog("woocommerce", sample_text())
    apply_catalog(org, products, chunk_size=5, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(5, 18), (10, 18), (15, 18), (18, 18)]


def test_bad_rows_name_row_and_column_and_nothing_is_written(org, tmp_path):
    text = edited_sample(
        tmp_path,
        {
            (7, "Regular price"): "12,5",  # Belt
            (8, "Sale price"): "-3",  # Cap
            (9, "Name"): "",  # Sunglasses
            (10, "Type"): "bundle",  # Hoodie with Pocket
            (11, "SKU"): "woo-belt",  # Hoodie with Zipper: duplicate of row 7
            (16, "Parent"): "no-such-parent",  # a V-neck variation
            (17, "Parent"): "id:999",
            (12, "Stock"): "lots",
            (13, "Weight (lbs)"): "1,2",
        },
    )

    with pytest.raises(ImportValidationError) as caught:
        parse_catalog("woocommerce", text)

    found = {(e.row, e.column): e.message for e in caught.value.errors}
    assert found[(7, "Regular price")] == "expected a decimal number like 19.99, got '12,5'"
    assert found[(8, "Sale price")] == "expected a price of 0 or more, got '-3'"
    assert found[(9, "Name")] == "expected the product name, got an empty cell"
    assert found[(10, "Type")].startswith("expected one of simple, variable, grouped, external or variation")
    assert found[(11, "SKU")] == "expected a unique SKU, 'woo-belt' is already used on row 7"
    assert "got 'no-such-parent'" in found[(16, "Parent")]
    assert "got 'id:999'" in found[(17, "Parent")]
    assert found[(12, "Stock")] == "expected a whole number like 12, got 'lots'"
    assert found[(13, "Weight (lbs)")] == "expected a decimal number like 1.5, got '1,2'"
    assert len(caught.value.errors) == 9
    assert [e.row for e in caught.value.errors] == sorted(e.row for e in caught.value.errors)
    assert Product.objects.filter(organization=org).count() == 0


def test_good_file_then_bad_file_keeps_the_first_import(org, tmp_path):
    import_text(org, sample_text())
    before = {p.handle: p.content_hash() for p in Product.objects.filter(organization=org)}
    bad = edited_sample(tmp_path, {(6, "Regular price"): "1.999", (5, "Regular price"): "17"})

    with pytest.raises(ImportValidationError) as caught:
        import_text(org, bad)

    assert [(e.row, e.column) for e in caught.value.errors] == [(6, "Regular price")]
    assert {p.handle: p.content_hash() for p in Product.objects.filter(organization=org)} == before


def test_variation_parent_by_id_and_grouped_children_by_id(org, tmp_path):
    text = edited_sample(
        tmp_path,
        {
            (16, "Parent"): "id:44",
            (24, "Grouped products"): "id:46, id:47, woo-beanie",
        },
    )
    products = {p.handle: p for p in parse_catalog("woocommerce", text)}
    assert [v.sku for v in products["woo-vneck-tee"].variants][:1] == ["woo-vneck-tee-red"]
    assert products["logo-collection"].grouped_skus == ["woo-hoodie-with-logo", "woo-tshirt", "woo-beanie"]


def test_variation_value_must_be_one_of_the_parents(tmp_path):
    text = edited_sample(tmp_path, {(16, "Attribute 1 value(s)"): "Orange"})
    with pytest.raises(ImportValidationError) as caught:
        parse_catalog("woocommerce", text)
    (error,) = caught.value.errors
    assert (error.row, error.column) == (16, "Attribute 1 value(s)")
    assert error.message == "expected one of the parent's values (Blue, Green, Red), got 'Orange'"


def test_handles_are_unique_and_fall_back_to_the_name(tmp_path):
    text = edited_sample(tmp_path, {(4, "SKU"): "", (5, "SKU"): "", (5, "Name"): "Hoodie with Logo"})
    handles = [p.handle for p in parse_catalog("woocommerce", text)]
    assert handles[2:4] == ["hoodie-with-logo", "hoodie-with-logo-2"]


def test_sku_owned_by_a_product_outside_the_file_is_refused(org):
    other = ProductFactory(organization=org, handle="legacy-belt", title="Legacy belt", sku="x")
    VariantFactory(product=other, sku="woo-belt")

    with pytest.raises(ImportValidationError) as caught:
        import_text(org, sample_text())

    (error,) = caught.value.errors
    assert (error.row, error.column) == (7, "SKU")
    assert "'woo-belt' already belongs to “Legacy belt”" in error.message
    assert Product.objects.filter(organization=org).count() == 1


def test_wrong_format_and_missing_header(org):
    shopify = (DATA / "shopify" / "product_template.csv").read_text(encoding="utf-8")
    with pytest.raises(ImportValidationError) as caught:
        parse_catalog("woocommerce", shopify)
    assert caught.value.errors[0].row == 1
    assert "Shopify product CSV" in caught.value.errors[0].message

    with pytest.raises(UnsupportedFormat) as caught:
        parse_catalog("woocommerce", "Name,Price\nShirt,10\n")
    assert str(caught.value) == "not a supported format: we read WooCommerce CSV, Shopify CSV, Magento 2 CSV"
    assert {(e.row, e.column) for e in caught.value.errors} == {(1, ""), (1, "Type"), (1, "SKU")}

    with pytest.raises(ImportValidationError) as caught:
        parse_catalog("woocommerce", "")
    assert caught.value.errors[0].row == 1

    with pytest.raises(ImportValidationError) as caught:
        parse_catalog("prestashop", sample_text())
    assert caught.value.errors[0].row == 0

    with pytest.raises(ImportValidationError) as caught:
        parse_catalog("magento", sample_text())
    assert "header is that of a WooCommerce product CSV" in caught.value.errors[0].message


def test_weight_unit_comes_from_the_header():
    text = "Type,SKU,Name,Regular price,Weight (kg)\nsimple,TENT-1,Tent,199.99,2.35\n"
    (tent,) = parse_catalog("woocommerce", text)
    assert tent.weight_grams == Decimal("2350.000")
    assert tent.variants[0].price == Decimal("199.99")


def test_sku_moving_between_products_and_blank_skus(org):
    header = "Type,SKU,Name,Regular price,Stock,Parent,Attribute 1 name,Attribute 1 value(s)\n"
    first = (
        header + "variation,V1,,10,,P1,Size,S\n"  # a variation may come before its parent
        'variable,P1,Parent one,,,,Size,"S, M"\n'
        "variation,V2,,11,3,P1,Size,M\n"
        "simple,,No SKU,5,,,,\n"
    )
    import_text(org, first)
    no_sku_variant = Product.objects.get(organization=org, handle="no-sku").variants.get()
    second = (
        header + 'variable,P1,Parent one,,,,Size,"S, M"\n'
        "variation,V1,,10,,P1,Size,S\n"
        "simple,V2,Moved,11,3,,,\n"  # V2 is now a simple product of its own
        "simple,,No SKU,6,,,,\n"
    )

    counts = import_text(org, second)

    assert counts == {"created": 1, "updated": 2, "unchanged": 0, "products": 3, "variants": 3}
    assert [v.sku for v in Product.objects.get(organization=org, handle="p1").variants.all()] == ["V1"]
    assert Variant.objects.get(organization=org, sku="V2").product.handle == "v2"
    kept = Product.objects.get(organization=org, handle="no-sku").variants.get()
    assert (kept.pk, kept.price) == (no_sku_variant.pk, Decimal("6.00"))  # matched by position, not replaced


def test_dimensions_are_read_in_millimetres_from_the_headers_unit():
    products = {p.handle: p for p in parse_catalog("woocommerce", sample_text())}  # the sample's are in inches
    cap = products["woo-cap"]
    assert (cap.length_mm, cap.width_mm, cap.height_mm) == (Decimal("203.200"), Decimal("165.100"), Decimal("101.600"))
    assert cap.variants[0].length_mm == Decimal("203.200")
    text = "Type,SKU,Name,Regular price,Length (cm),Width (m),Height (mm)\nsimple,BOX-1,Box,5,30,0.25,3\n"
    (box,) = parse_catalog("woocommerce", text)
    assert (box.length_mm, box.width_mm, box.height_mm) == (Decimal("300.000"), Decimal("250.000"), Decimal("3.000"))
    with pytest.raises(ImportValidationError) as caught:
        parse_catalog("woocommerce", text.replace("Height (mm)", "Height (furlong)"))
    assert caught.value.errors[0].column == "Height (furlong)"


def test_handle_source_and_source_id():
    products = {p.handle: p for p in parse_catalog("woocommerce", sample_text())}
    assert products["woo-cap"].handle_source == "sku" and products["woo-cap"].source_id == "60"
    (nameless,) = parse_catalog("woocommerce", "Type,SKU,Name,Regular price\nsimple,,Plain Mug,5\n")
    assert (nameless.handle, nameless.handle_source, nameless.source_id) == ("plain-mug", "title", "")
