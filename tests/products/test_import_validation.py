"""Reading catalog files: as a stream, cut-off files, the catalog checked as a whole, unsupported files."""

import io
from pathlib import Path

import pytest

from products.importers import ImportValidationError, UnsupportedFormat, detect_format, parse_catalog
from products.importers.common import ProductData, VariantData

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
WOO_SAMPLE = DATA / "woocommerce" / "sample_products.csv"
SHOPIFY_TEMPLATE = DATA / "shopify" / "product_template.csv"


class LinesOnly:
    """A text file that can only be iterated line by line: ``read()`` would hold the whole file."""

    def __init__(self, text):
        self._lines = io.StringIO(text, newline="")
        self.lines_read = 0

    def __iter__(self):
        for line in self._lines:
            self.lines_read += 1
            yield line

    def read(self, *args):  # pragma: no cover - failing here is the point
        raise AssertionError("the parser read the whole file at once")


def test_a_file_is_read_as_a_stream_and_gives_what_the_text_gives():
    text = WOO_SAMPLE.read_text(encoding="utf-8")
    stream = LinesOnly(text)
    assert parse_catalog("woocommerce", stream) == parse_catalog("woocommerce", text)
    assert stream.lines_read == text.count("\n")


def test_an_open_file_is_parsed_and_detect_format_puts_it_back():
    with SHOPIFY_TEMPLATE.open(encoding="utf-8", newline="") as handle:
        assert detect_format(handle) == "shopify"
        assert handle.tell() == 0
        products = parse_catalog("shopify", handle)
    assert [p.handle for p in products] == ["example-shirt", "example-pants", "example-hat"]


def test_product_and_variant_data_use_slots():
    assert not hasattr(ProductData(handle="h", title="t"), "__dict__")
    assert not hasattr(VariantData(), "__dict__")


# --- files cut short ---------------------------------------------------------


def test_a_shopify_file_cut_inside_a_quoted_cell_is_refused_naming_the_last_complete_row():
    text = SHOPIFY_TEMPLATE.read_text(encoding="utf-8")
    pants = text.index("\nexample-pants,") + 1
    row = text[:pants].count("\n") + 1  # records here are single lines
    cut = text.index('"<p>', pants) + 12
    with pytest.raises(ImportValidationError) as caught:
        parse_catalog("shopify", text[:cut])
    (error,) = caught.value.errors
    assert error.row == row
    assert f"the file ends inside row {row}" in error.message
    assert f"the last complete row is {row - 1}" in error.message


def test_a_woocommerce_file_cut_inside_a_row_is_refused():
    text = WOO_SAMPLE.read_text(encoding="utf-8")
    belt = text.index("\n58,simple,woo-belt,") + 1
    row = text[:belt].count("\n") + 1
    with pytest.raises(ImportValidationError) as caught:
        parse_catalog("woocommerce", text[: belt + 40])
    (error,) = caught.value.errors
    assert error.row == row
    assert f"the last complete row is {row - 1}" in error.message


def test_a_cut_file_is_refused_from_an_open_file_too(tmp_path):
    text = SHOPIFY_TEMPLATE.read_text(encoding="utf-8")
    path = tmp_path / "cut.csv"
    path.write_text(text[: len(text) // 2], encoding="utf-8")
    with path.open(encoding="utf-8", newline="") as handle, pytest.raises(ImportValidationError) as caught:
        parse_catalog("shopify", handle)
    assert any("the file ends inside row" in e.message for e in caught.value.errors)


def test_shopifys_template_ends_without_a_line_break_and_is_not_taken_for_cut():
    raw = SHOPIFY_TEMPLATE.read_bytes()
    assert not raw.endswith(b"\n")
    products = parse_catalog("shopify", raw.decode("utf-8"))
    assert len(products) == 3


def test_a_short_last_row_with_its_line_break_is_read_as_before():
    text = "Type,SKU,Name,Regular price\nsimple,CAP-1,Cap,12\nsimple,CAP-2,Cap two\n"
    assert [p.sku for p in parse_catalog("woocommerce", text)] == ["CAP-1", "CAP-2"]
    # The same short last row without its line break, after complete rows: cut off.
    with pytest.raises(ImportValidationError) as caught:
        parse_catalog("woocommerce", text.rstrip("\n"))
    assert caught.value.errors[0].row == 3


# --- the catalog as a whole --------------------------------------------------

WOO_HEADER = "Type,SKU,Name,Regular price,Parent,Attribute 1 name,Attribute 1 value(s)\n"


def test_a_variable_product_without_variations_is_refused():
    text = WOO_HEADER + 'variable,TEE,Tee,,,Size,"S, M"\nsimple,CAP,Cap,5,,,\n'
    with pytest.raises(ImportValidationError) as caught:
        parse_catalog("woocommerce", text)
    (error,) = caught.value.errors
    assert (error.row, error.column) == (2, "Type")


def test_the_same_option_combination_twice_is_refused():
    text = WOO_HEADER + 'variable,TEE,Tee,,,Size,"S, M"\nvariation,TEE-S,,5,TEE,Size,S\nvariation,TEE-S2,,5,TEE,Size,S\n'
    with pytest.raises(ImportValidationError) as caught:
        parse_catalog("woocommerce", text)
    (error,) = caught.value.errors
    assert error.row == 4 and "already on row 3" in error.message


def test_warnings_for_mangled_barcodes_blank_skus_and_repeated_names():
    warnings = []
    parse_catalog("shopify", SHOPIFY_TEMPLATE.read_text(encoding="utf-8"), warnings=warnings)
    barcode = [w for w in warnings if w.column == "Variant Barcode"]
    assert barcode and barcode[0].row == 2 and "Excel turned this barcode into a number" in barcode[0].message

    warnings = []
    text = WOO_HEADER + "simple,,Beanie,5,,,\nsimple,B2,Beanie,6,,,\nsimple,,Scarf,7,,,\n"
    parse_catalog("woocommerce", text, warnings=warnings)
    found = {(w.row, w.column): w.message for w in warnings}
    assert found[(2, "SKU")].startswith("2 row(s) have no SKU (rows 2, 4)")
    assert found[(2, "Name")].startswith("2 products share a name")


# --- files we do not read ----------------------------------------------------

UNSUPPORTED = "not a supported format: we read WooCommerce CSV, Shopify CSV, Magento 2 CSV"


@pytest.mark.parametrize(
    "text",
    [
        '<?xml version="1.0"?>\n<rss><channel><item><title>Tee</title></item></channel></rss>\n',
        '[{"id": 44, "name": "V-Neck T-Shirt", "type": "variable"}]\n',
        "Artikel,Bezeichnung,Preis\nA-1,Mütze,5\n",
        "PK\x03\x04\x14\x00\x00\x00\x08\x00",
    ],
    ids=["xml", "json", "unknown-header", "binary"],
)
def test_unsupported_files_are_refused_with_the_formats_we_read(text):
    assert detect_format(text) is None
    with pytest.raises(UnsupportedFormat) as caught:
        parse_catalog("woocommerce", text)
    assert str(caught.value) == UNSUPPORTED
    assert caught.value.errors[0].message.startswith(UNSUPPORTED)


def test_a_binary_file_opened_as_text_is_unsupported(tmp_path):
    path = tmp_path / "catalog.xlsx"
    path.write_bytes(b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00\xff\xfe\x9c\x80")
    with path.open(encoding="utf-8", newline="") as handle, pytest.raises(UnsupportedFormat):
        parse_catalog("shopify", handle)


def test_a_header_only_file_is_refused():
    with pytest.raises(ImportValidationError) as caught:
        parse_catalog("woocommerce", "Type,SKU,Name\n")
    assert caught.value.errors[0].row == 2 and "no" in caught.value.errors[0].message


# --- the formats page ----------------------------------------------------------


def test_the_formats_page_lists_each_formats_columns(client, viewer):
    from django.urls import reverse

    url = reverse("products:import_formats")
    assert url == "/products/import/formats/"
    assert client.get(url).status_code == 302  # signed-in users only
    client.force_login(viewer)
    page = client.get(url).content.decode()
    for text in ("WooCommerce product CSV", "Shopify product CSV", "Magento 2 product CSV",
                 "configurable_variations", "Variant Grams", "Length, Width, Height (unit)"):
        assert text in page
