"""Catalog exports: Shopify and WooCommerce product CSVs that our importers read back unchanged.

Round trips use the platforms' real files in ../shared/data: import → export
→ import into a fresh organization → equal ``Product.snapshot()``s (which
hold no ids or timestamps), and across formats everything except what the
exporters' docstrings list as lost.
"""

import copy
import csv
import io
import re
from decimal import Decimal
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from django.test import AsyncClient
from django.urls import reverse
from django.utils import timezone

from products.exporters import export_catalog, iter_catalog
from products.exporters import woocommerce as woocommerce_writer
from products.importers import apply_catalog, detect_format, parse_catalog
from products.importers.common import unique_list
from products.models import Product
from tests.factories import OrganizationFactory, ProductFactory, VariantFactory

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
WOO_SAMPLE = DATA / "woocommerce" / "sample_products.csv"
SHOPIFY_TEMPLATE = DATA / "shopify" / "product_template.csv"
URL = "/products/export/"


def load(org, fmt, path: Path) -> dict:
    return apply_catalog(org, parse_catalog(fmt, path.read_text(encoding="utf-8")))


def snapshots(org, key="handle") -> dict[str, dict]:
    products = Product.objects.live().filter(organization=org).select_related("organization")
    products = products.prefetch_related("variants")
    return {snap[key]: snap for snap in (p.snapshot() for p in products)}


def round_trip(org, fmt) -> tuple[object, dict]:
    """Export ``org`` in ``fmt`` and import the file into a fresh organization (same currency)."""
    fresh = OrganizationFactory(currency=org.currency)
    counts = apply_catalog(fresh, parse_catalog(fmt, export_catalog(org, fmt)))
    return fresh, counts


def rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"), newline="")))


# --- same format: nothing lost ------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "path", "products", "variants"),
    [("woocommerce", WOO_SAMPLE, 18, 22), ("shopify", SHOPIFY_TEMPLATE, 3, 16)],
)
def test_export_then_import_gives_the_same_catalog(org, fmt, path, products, variants):
    load(org, fmt, path)

    fresh, counts = round_trip(org, fmt)

    assert counts == {"created": products, "updated": 0, "unchanged": 0, "products": products, "variants": variants}
    assert snapshots(fresh) == snapshots(org)


@pytest.mark.parametrize(("fmt", "path"), [("woocommerce", WOO_SAMPLE), ("shopify", SHOPIFY_TEMPLATE)])
def test_importing_the_export_again_changes_nothing(org, fmt, path):
    load(org, fmt, path)
    before = {p.handle: p.updated_at for p in Product.objects.filter(organization=org)}
    text = export_catalog(org, fmt)

    counts = apply_catalog(org, parse_catalog(fmt, text))

    assert counts["created"] == 0 and counts["updated"] == 0 and counts["unchanged"] == len(before)
    assert {p.handle: p.updated_at for p in Product.objects.filter(organization=org)} == before
    assert export_catalog(org, fmt) == text  # and the export is stable


def test_woocommerce_export_layout(org):
    load(org, "woocommerce", WOO_SAMPLE)

    text = export_catalog(org, "woocommerce")

    assert text.startswith("\ufeffID,Type,SKU,Name,Published,")
    assert detect_format(text) == "woocommerce"
    by_sku = {row["SKU"]: row for row in rows(text)}
    vneck, red = by_sku["woo-vneck-tee"], by_sku["woo-vneck-tee-red"]
    assert vneck["Type"] == "variable" and vneck["Weight (kg)"] == "0.226796"  # 0.5 lb, exact in kg
    assert (vneck["Attribute 1 name"], vneck["Attribute 1 value(s)"]) == ("Color", "Blue, Green, Red")
    assert (red["Type"], red["Parent"]) == ("variation", "woo-vneck-tee")
    assert (red["Regular price"], red["Sale price"]) == ("20.00", "")
    assert (red["Attribute 2 name"], red["Attribute 2 value(s)"]) == ("Size", "")  # "any size"
    beanie = by_sku["woo-beanie"]
    assert (beanie["Regular price"], beanie["Sale price"]) == ("20.00", "18.00")
    assert by_sku["woo-album"]["Type"] == "simple, downloadable"
    assert by_sku["logo-collection"]["Grouped products"] == "woo-hoodie-with-logo, woo-tshirt, woo-beanie"
    assert all(row["ID"] == "" for row in by_sku.values())  # every parent has a SKU


def test_shopify_export_layout(org):
    load(org, "shopify", SHOPIFY_TEMPLATE)

    text = export_catalog(org, "shopify")

    assert text.startswith("Handle,Title,Body (HTML),")  # Shopify writes no BOM
    assert detect_format(text) == "shopify"
    pants = [row for row in rows(text) if row["Handle"] == "example-pants"]
    assert [row["Variant SKU"] for row in pants] == ["PNT_DEN_285", "PNT_DEN_305", "PNT_DEN_405", ""]
    assert pants[0]["Title"] == "Example Jeans" and all(row["Title"] == "" for row in pants[1:])
    assert (pants[0]["Published"], pants[0]["Status"]) == ("FALSE", "draft")
    assert (pants[0]["Variant Price"], pants[0]["Variant Compare At Price"]) == ("95.00", "64.95")
    assert (pants[0]["Variant Inventory Tracker"], pants[0]["Variant Inventory Qty"]) == ("shopify", "20")
    assert pants[0]["Variant Grams"] == "226.796"
    assert [row["Image Position"] for row in pants] == ["1", "2", "3", "4"]  # the last row is image-only
    (hat,) = [row for row in rows(text) if row["Handle"] == "example-hat"]
    assert (hat["Option1 Name"], hat["Option1 Value"], hat["Status"]) == ("Title", "Default Title", "archived")


@pytest.mark.parametrize("fmt", ["woocommerce", "shopify"])
def test_awkward_values_survive_both_formats(org, fmt):
    """Commas, quotes, line breaks, formula-like text, Unicode, exact cents, negative and untracked stock."""
    product = ProductFactory(
        organization=org,
        handle="tür-schild",
        sku="=SIGN-1",
        title='+Türschild, "Deluxe"',
        kind="variable",
        status="archived",
        description="<p>Zeile 1</p>\n<p>Zeile 2, mit Komma</p>\r\n@end",
        categories=["Haus > Tür, Tor"],
        tags=["-rabatt"],
        options=[{"name": "Farbe", "values": ["Rot, hell", "Grün"]}],
        images=["https://example.com/a.jpg?x=1,2", "https://example.com/b.jpg"],
        weight_grams=Decimal("1234.567"),
    )
    VariantFactory(
        product=product, sku="SIGN-ROT", position=1, price=Decimal("0.10"), compare_at_price=Decimal("1234567890.99"),
        stock=-3, option_values={"Farbe": "Rot, hell"}, image_url="https://example.com/b.jpg",
        weight_grams=Decimal("0.001"),
    )
    VariantFactory(
        product=product, sku="SIGN-GRÜN", position=2, price=Decimal("19.99"), compare_at_price=None,
        stock=None, option_values={"Farbe": "Grün"}, weight_grams=None,
    )

    fresh, _ = round_trip(org, fmt)
    (original,) = snapshots(org).values()
    (copied,) = snapshots(fresh).values()
    if fmt == "woocommerce":
        original["status"] = "draft"  # archived has no WooCommerce equivalent
        original["handle"] = "sign-1"  # the handle comes from the SKU
        for variant in original["variants"]:
            variant["barcode"] = ""
    else:
        original["sku"] = ""  # a variable product's own SKU and weight have no Shopify column
        original["variants"][1]["weight_grams"] = original["weight_grams"]
        original["weight_grams"] = None
    assert copied == original


def test_deleted_products_are_not_exported(org):
    load(org, "woocommerce", WOO_SAMPLE)
    Product.objects.filter(organization=org, handle__in=["woo-belt", "woo-hoodie"]).update(deleted_at=timezone.now())

    for fmt in ("woocommerce", "shopify"):
        fresh, _ = round_trip(org, fmt)
        handles = set(snapshots(fresh))
        assert "woo-belt" not in handles and "woo-hoodie" not in handles
        assert "woo-beanie" in handles


def test_export_is_limited_to_the_given_products_and_organization(org, other_org):
    load(org, "woocommerce", WOO_SAMPLE)
    load(other_org, "shopify", SHOPIFY_TEMPLATE)
    chosen = Product.objects.filter(handle__in=["woo-vneck-tee", "example-shirt"])  # one of each organization

    text = export_catalog(org, "woocommerce", chosen)

    assert [row["SKU"] for row in rows(text) if row["Type"] != "variation"] == ["woo-vneck-tee"]


def test_export_streams_one_product_per_piece(org):
    load(org, "shopify", SHOPIFY_TEMPLATE)
    pieces = list(iter_catalog(org, "shopify"))
    assert len(pieces) == 1 + 3
    with pytest.raises(ValueError, match="shopify or woocommerce"):
        iter_catalog(org, "csv")


def test_variable_parent_without_sku_is_referenced_by_id(org):
    load(org, "shopify", SHOPIFY_TEMPLATE)
    shirt = Product.objects.get(organization=org, handle="example-shirt")

    by_type = {}
    for row in rows(export_catalog(org, "woocommerce")):
        by_type.setdefault(row["Type"], []).append(row)
    parent = next(row for row in by_type["variable"] if row["Name"] == "Example T-Shirt")
    assert parent["ID"] == str(shirt.pk)
    shirt_variations = [row for row in by_type["variation"] if row["Parent"] == f"id:{shirt.pk}"]
    assert len(shirt_variations) == 12


# --- across formats: everything the formats share ----------------------------


def as_shopify_keeps_it(snap: dict) -> dict:
    """What a WooCommerce-imported product looks like after a Shopify export and import (see exporters/shopify.py)."""
    snap = copy.deepcopy(snap)
    snap.update(short_description="", downloads=[])
    if snap["kind"] == "external":
        snap.update(kind="simple", external_url="", button_text="")
    if snap["kind"] == "simple":
        snap["options"] = []
        for variant in snap["variants"]:
            variant["option_values"] = {}
    else:
        variants = snap["variants"]
        for variant in variants:
            if variant["weight_grams"] is None:
                variant["weight_grams"] = snap["weight_grams"]
        kept = [o["name"] for o in snap["options"] if all(o["name"] in v["option_values"] for v in variants)]
        snap["options"] = [{"name": n, "values": unique_list(v["option_values"][n] for v in variants)} for n in kept]
        for variant in variants:
            variant["option_values"] = {n: variant["option_values"][n] for n in kept}
        snap.update(sku="", weight_grams=None)
    return snap


def test_woocommerce_catalog_through_shopify_csv(org):
    load(org, "woocommerce", WOO_SAMPLE)

    fresh, counts = round_trip(org, "shopify")

    original, copied = snapshots(org), snapshots(fresh)
    assert set(original) - set(copied) == {"logo-collection"}  # grouped: no Shopify equivalent
    assert counts["created"] == 17
    for handle, snap in copied.items():
        assert snap == as_shopify_keeps_it(original[handle]), handle
    # The rest is the same: e.g. prices, sale prices and stock of the variants.
    hoodie = copied["woo-hoodie"]
    assert [(v["sku"], v["price"], v["compare_at_price"]) for v in hoodie["variants"]][:2] == [
        ("woo-hoodie-blue-logo", "45.00", None),
        ("woo-hoodie-red", "42.00", "45.00"),
    ]
    assert copied["woo-vneck-tee"]["options"] == [{"name": "Color", "values": ["Red", "Green", "Blue"]}]
    assert copied["wp-pennant"]["kind"] == "simple"


def test_shopify_catalog_through_woocommerce_csv(org):
    load(org, "shopify", SHOPIFY_TEMPLATE)

    fresh, counts = round_trip(org, "woocommerce")

    assert counts["created"] == 3
    original, copied = snapshots(org, key="title"), snapshots(fresh, key="title")
    assert set(copied) == set(original)
    # Handles come from the SKU, else the name: WooCommerce has no handle column.
    assert {t: s["handle"] for t, s in copied.items()} == {
        "Example T-Shirt": "example-t-shirt",
        "Example Jeans": "example-jeans",
        "Example Beanie": "hat_gry_275",
    }
    for title, snap in original.items():
        expected = copy.deepcopy(snap)
        expected.update(handle=copied[title]["handle"], vendor="", product_type="")
        if expected["status"] == "archived":
            expected["status"] = "draft"
        for variant in expected["variants"]:
            variant["barcode"] = ""
            price, compare_at = Decimal(variant["price"]), variant["compare_at_price"]
            if compare_at is not None and Decimal(compare_at) < price:
                variant["compare_at_price"] = None  # WooCommerce refuses a sale above the regular price
        assert copied[title] == expected, title
    jeans = copied["Example Jeans"]["variants"][0]
    assert (jeans["price"], jeans["stock"], jeans["weight_grams"]) == ("95.00", 20, "226.796")


# --- the view ------------------------------------------------------------------


@pytest.fixture
def catalog(org):
    load(org, "woocommerce", WOO_SAMPLE)
    return org


def content(response) -> str:
    return b"".join(response.streaming_content).decode("utf-8")


@pytest.mark.parametrize("fmt", ["shopify", "woocommerce"])
def test_it_downloads_the_catalog(client, catalog, viewer, fmt):
    client.force_login(viewer)

    response = client.get(URL, {"format": fmt})

    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    today = timezone.localdate().isoformat()
    assert response["Content-Disposition"] == f'attachment; filename="acme-products-{fmt}-{today}.csv"'
    text = content(response)
    products = parse_catalog(fmt, text)
    assert len(products) == (17 if fmt == "shopify" else 18)
    assert reverse("products:export") == URL


def test_it_applies_the_list_filters(client, catalog, viewer):
    client.force_login(viewer)
    text = content(client.get(URL, {"format": "woocommerce", "q": "hoodie", "kind": "variable"}))
    assert [p.handle for p in parse_catalog("woocommerce", text)] == ["woo-hoodie"]


@pytest.mark.parametrize("value", ["", "csv", "SHOPIFY"])
def test_it_rejects_a_bad_format(client, catalog, viewer, value):
    client.force_login(viewer)
    response = client.get(URL, {"format": value} if value else {})
    assert response.status_code == 400
    message = response.content.decode()
    assert "“format”" in message and "shopify or woocommerce" in message


def test_it_rejects_outsider_from_the_catalog(client, catalog, other_org, outsider):
    load(other_org, "shopify", SHOPIFY_TEMPLATE)
    client.force_login(outsider)

    response = client.get(URL, {"format": "shopify"})

    assert response["Content-Disposition"].startswith('attachment; filename="rival-products-shopify-')
    handles = {p.handle for p in parse_catalog("shopify", content(response))}
    assert handles == {"example-shirt", "example-pants", "example-hat"}


def test_it_redirects_anonymous_to_login(client, catalog):
    response = client.get(URL, {"format": "shopify"})
    assert response.status_code == 302 and "login" in response["Location"]


@pytest.mark.django_db(transaction=True)
def test_it_streams_under_asgi(org, viewer):
    """Under ASGI the response is an async iterator: Django would buffer a sync one whole."""
    load(org, "woocommerce", WOO_SAMPLE)
    client = AsyncClient()
    async_to_sync(client.aforce_login)(viewer)

    response = async_to_sync(client.get)(URL, {"format": "woocommerce"})

    assert response.status_code == 200 and response.is_async

    async def read():
        return b"".join([part async for part in response.streaming_content]).decode()

    assert len(parse_catalog("woocommerce", async_to_sync(read)())) == 18


def test_list_page_offers_the_export(client, catalog, viewer):
    client.force_login(viewer)
    html = client.get(reverse("products:list"), {"status": "active"}).content.decode()
    assert 'aria-label="Export the listed products as a Shopify product CSV"' in html
    assert 'aria-label="Export the listed products as a WooCommerce product CSV"' in html
    assert f"{URL}review/?format=woocommerce&amp;status=active" in html  # the page before the download


def test_variable_product_without_a_full_option_gets_shopifys_title_option(org):
    options = [{"name": "Size", "values": ["M"]}]
    product = ProductFactory(organization=org, handle="kit", kind="variable", options=options)
    VariantFactory(product=product, sku="KIT-M", position=1, price=Decimal("5.00"), option_values={"Size": "M"})
    VariantFactory(product=product, sku="KIT-ANY", position=2, price=Decimal("6.00"), option_values={})

    fresh, _ = round_trip(org, "shopify")

    (copied,) = snapshots(fresh).values()
    assert copied["options"] == [{"name": "Title", "values": ["M", "Default"]}]
    assert [v["sku"] for v in copied["variants"]] == ["KIT-M", "KIT-ANY"]


@pytest.mark.parametrize("fmt", ["shopify", "woocommerce"])
def test_export_queries_do_not_grow_with_the_catalog(org, fmt, django_assert_max_num_queries):
    load(org, "woocommerce", WOO_SAMPLE)
    load(org, "shopify", SHOPIFY_TEMPLATE)  # 21 products, 38 variants
    with django_assert_max_num_queries(3):  # (WooCommerce: the header's widths,) products, their variants
        export_catalog(org, fmt)


def test_woocommerce_weights_in_grams_for_a_store_in_grams(org):
    load(org, "woocommerce", WOO_SAMPLE)
    text = "".join(woocommerce_writer.iter_csv(org, weight_unit="g"))
    assert rows(text)[0]["Weight (g)"] == "226.796"
    fresh = OrganizationFactory(currency=org.currency)
    apply_catalog(fresh, parse_catalog("woocommerce", text))
    assert snapshots(fresh) == snapshots(org)


# --- WooCommerce dimensions ------------------------------------------------------


def test_woocommerce_header_is_woocommerces_own(org):
    """Our columns are WooCommerce's exporter's, in its order (its sample file is from a store in lbs and in)."""
    with WOO_SAMPLE.open(encoding="utf-8-sig", newline="") as sample:
        theirs = next(csv.reader(sample))
    ours = woocommerce_writer.header(2, 0, weight_unit="lbs", dimension_unit="in")
    assert [c for c in theirs if not re.match(r"Meta:|Download \d", c)] == ours
    assert woocommerce_writer.header(0, 0)[17:21] == ["Weight (kg)", "Length (cm)", "Width (cm)", "Height (cm)"]


def test_woocommerce_exports_dimensions_from_millimetres(org):
    shirt = ProductFactory(organization=org, handle="shirt", sku="SHIRT", kind="variable",
                           options=[{"name": "Size", "values": ["M", "L"]}],
                           length_mm=Decimal("305"), width_mm=Decimal("12.5"), height_mm=None)
    VariantFactory(product=shirt, sku="SHIRT-M", position=1, option_values={"Size": "M"},
                   length_mm=None, width_mm=None, height_mm=None)
    VariantFactory(product=shirt, sku="SHIRT-L", position=2, option_values={"Size": "L"},
                   length_mm=Decimal("310.5"), width_mm=Decimal("13"), height_mm=Decimal("0.001"))
    mug = ProductFactory(organization=org, handle="mug", sku="MUG", kind="simple", options=[],
                         length_mm=None, width_mm=Decimal("80"), height_mm=None)
    VariantFactory(product=mug, sku="MUG", position=1, option_values={},
                   length_mm=Decimal("95"), width_mm=Decimal("81"), height_mm=Decimal("100"))

    by_sku = {row["SKU"]: row for row in rows(export_catalog(org, "woocommerce"))}

    def dims(sku, unit="cm"):
        row = by_sku[sku]
        return row[f"Length ({unit})"], row[f"Width ({unit})"], row[f"Height ({unit})"]

    assert dims("SHIRT") == ("30.5", "1.25", "")
    assert dims("SHIRT-M") == ("", "", "")  # blank: WooCommerce's "same as parent"
    assert dims("SHIRT-L") == ("31.05", "1.3", "0.0001")
    assert dims("MUG") == ("9.5", "8", "10")  # the product's own width, the variant's where it has none
    in_mm = {row["SKU"]: row for row in rows("".join(woocommerce_writer.iter_csv(org, dimension_unit="mm")))}
    assert (in_mm["SHIRT-L"]["Length (mm)"], in_mm["SHIRT-L"]["Height (mm)"]) == ("310.5", "0.001")
    with pytest.raises(ValueError, match="cm, mm or m"):
        list(woocommerce_writer.iter_csv(org, dimension_unit="in"))
