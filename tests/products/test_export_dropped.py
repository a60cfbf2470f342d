"""What an export leaves out (issue 12, item 7): ``dropped_fields`` per format, the export page, the .txt file,
and that importing such an export in merge mode keeps the dropped field in the catalog."""

from decimal import Decimal
from pathlib import Path

import pytest
from django.urls import reverse

from products.exporters import dropped_fields, export_catalog
from products.importers import apply_catalog, parse_catalog
from products.models import Product
from tests.factories import ProductFactory, VariantFactory

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
REVIEW = "/products/export/review/"
LEFT_OUT = "/products/export/left-out.txt"


def lost(org, fmt, products=None) -> dict[str, tuple[int, tuple[str, ...]]]:
    """label -> (products, examples)."""
    return {d.label: (d.products, d.examples) for d in dropped_fields(org, fmt, products)}


def plain(org, handle, **fields):
    """A simple product whose handle is its SKU's slug, carried whole by both formats unless ``fields`` say not."""
    fields.setdefault("title", handle.title())
    product = ProductFactory(organization=org, handle=handle, sku=handle, **fields)
    VariantFactory(product=product, sku=handle, position=1, price=Decimal("10.00"))
    return product


# --- Shopify ---------------------------------------------------------------------


def test_shopify_names_what_it_drops_for_this_catalog(org, other_org):
    plain(org, "mug", short_description="A mug.", length_mm=Decimal("95"))
    plain(org, "cup", short_description="A cup.")
    plain(org, "album", downloads=[{"name": "Album", "url": "https://example.com/a.zip"}])
    plain(org, "pennant", kind="external", external_url="https://example.com/p", button_text="Buy")
    ProductFactory(organization=org, handle="set", sku="SET", title="Set", kind="grouped", grouped_skus=["mug"])
    plain(org, "gone", short_description="deleted").delete()  # deleted products are not exported: not counted
    plain(other_org, "elsewhere", short_description="other org")  # another organization: not counted

    found = lost(org, "shopify")

    assert found == {
        "Grouped products (Shopify has none)": (1, ("Set",)),
        "Short description": (2, ("Mug", "Cup")),
        "Downloads": (1, ("Album",)),
        "External URL and button text (written as a simple product)": (1, ("Pennant",)),
        "Dimensions (length, width, height)": (1, ("Mug",)),
    }
    (grouped,) = [d for d in dropped_fields(org, "shopify") if d.field == "kind=grouped"]
    assert grouped.whole_product
    only_cup = Product.objects.filter(handle="cup")
    assert lost(org, "shopify", only_cup) == {"Short description": (1, ("Cup",))}


def test_shopify_drops_nothing_from_a_shopify_catalog(org):
    apply_catalog(org, parse_catalog("shopify", (DATA / "shopify" / "product_template.csv").read_text("utf-8")))
    assert dropped_fields(org, "shopify") == []


def test_shopify_finds_variable_products_own_fields_and_extra_options(org):
    options = [{"name": n, "values": ["x"]} for n in ("A", "B", "C", "D")]
    shirt = ProductFactory(organization=org, handle="shirt", sku="SHIRT", title="Shirt", kind="variable",
                           options=options, weight_grams=Decimal("200"), categories=["Men", "Shirts"])
    VariantFactory(product=shirt, sku="SHIRT-X", position=1, option_values={n: "x" for n in "ABCD"},
                   height_mm=Decimal("3"))

    assert set(lost(org, "shopify")) == {
        "A variable product's own SKU",
        "A variable product's own weight (written into its variants that have none)",
        "Categories beyond the first",
        "Options beyond the third",
        "Dimensions (length, width, height)",  # on a variant
    }


# --- WooCommerce -------------------------------------------------------------------


def test_woocommerce_names_what_it_drops_for_this_catalog(org):
    plain(org, "mug", vendor="Acme", product_type="Kitchen")
    plain(org, "cup", status="archived")
    coat = ProductFactory(organization=org, handle="winter-coat", sku="COAT-1", title="Winter coat")
    VariantFactory(product=coat, sku="COAT-1", barcode="4006381333931", price=Decimal("90.00"),
                   compare_at_price=Decimal("80.00"))

    found = lost(org, "woocommerce")

    assert found == {
        "Handle (made again from the SKU, else the name)": (1, ("Winter coat",)),
        "Vendor": (1, ("Mug",)),
        "Product type": (1, ("Mug",)),
        "Variant barcodes": (1, ("Winter coat",)),
        "Archived status (comes back as draft)": (1, ("Cup",)),
        "Compare-at prices below the price, or without a price": (1, ("Winter coat",)),
    }


def test_woocommerce_drops_nothing_from_a_woocommerce_catalog(org):
    text = (DATA / "woocommerce" / "sample_products.csv").read_text("utf-8")
    apply_catalog(org, parse_catalog("woocommerce", text))
    assert dropped_fields(org, "woocommerce") == []


def test_woocommerce_finds_a_simple_products_second_variant_and_its_image(org):
    mug = plain(org, "mug")
    VariantFactory(product=mug, sku="MUG-2", position=2, image_url="https://example.com/m.jpg")

    assert lost(org, "woocommerce") == {
        "The variant image of a simple or external product": (1, ("Mug",)),
        "Variants beyond the first of a simple or external product": (1, ("Mug",)),
    }


@pytest.mark.parametrize("fmt", ["shopify", "woocommerce"])
def test_dropped_fields_queries_do_not_grow_with_the_catalog(org, fmt, django_assert_max_num_queries):
    for n in range(30):
        plain(org, f"mug-{n}", short_description="s", vendor="v", length_mm=Decimal("1"), status="archived")
    with django_assert_max_num_queries(12):  # one count for all rules, examples per lost field, handles
        assert dropped_fields(org, fmt)


# --- merge keeps what the file could not carry ---------------------------------------


@pytest.mark.parametrize(("fmt", "field", "value"), [("shopify", "short_description", "Hand-thrown."),
                                                     ("woocommerce", "vendor", "Acme Pottery")])
def test_merging_an_export_back_keeps_the_dropped_field(org, fmt, field, value):
    plain(org, "mug", **{field: value}, title="Mug", description="Old text")
    assert any(d.field == field for d in dropped_fields(org, fmt))
    text = export_catalog(org, fmt)
    assert value not in text  # the format really leaves it out
    products = parse_catalog(fmt, text.replace("Old text", "New text"))

    counts = apply_catalog(org, products, mode="merge")

    mug = Product.objects.get(organization=org, handle="mug")
    assert counts["updated"] == 1 and mug.description == "New text"  # the import did write the product
    assert getattr(mug, field) == value


# --- the page and the .txt file ----------------------------------------------------


@pytest.fixture
def mixed_catalog(org):
    plain(org, "mug", short_description="A mug.")
    ProductFactory(organization=org, handle="set", sku="SET", title="Gift set", kind="grouped", grouped_skus=["mug"])
    return org


def test_export_page_lists_what_shopify_leaves_out(client, mixed_catalog, viewer):
    client.force_login(viewer)

    response = client.get(REVIEW, {"format": "shopify", "status": "active"})

    assert response.status_code == 200
    html = response.content.decode()
    assert "Export 2 products as a Shopify product CSV" in html
    assert "Short description" in html and "Gift set" in html and "not in the file at all" in html
    assert "Nothing is lost" not in html
    assert f'href="/products/export/?format=shopify&amp;status=active"' in html
    assert f'href="{LEFT_OUT}?format=shopify&amp;status=active"' in html


def test_export_page_says_when_nothing_is_lost(client, org, viewer):
    plain(org, "mug")
    client.force_login(viewer)
    html = client.get(REVIEW, {"format": "woocommerce"}).content.decode()
    assert "Nothing is lost: this format carries every field of your catalog." in html
    assert "<table" not in html


def test_left_out_file_has_the_same_list_as_comments(client, mixed_catalog, viewer):
    client.force_login(viewer)

    response = client.get(LEFT_OUT, {"format": "shopify"})

    assert response.status_code == 200 and response["Content-Type"] == "text/plain; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="acme-products-shopify-')
    assert response["Content-Disposition"].endswith('-left-out.txt"')
    text = response.content.decode()
    assert all(line.startswith("#") for line in text.splitlines())
    assert "# Short description: 1 product(s)" in text
    assert "# Grouped products (Shopify has none): 1 product(s) (not in the file at all)" in text
    assert "#   e.g. Gift set" in text


def test_left_out_file_follows_the_list_filters(client, mixed_catalog, viewer):
    client.force_login(viewer)
    text = client.get(LEFT_OUT, {"format": "shopify", "kind": "simple"}).content.decode()
    assert "Short description" in text and "Grouped" not in text


def test_it_shows_outsider_only_their_own_catalog(client, mixed_catalog, other_org, outsider):
    plain(other_org, "rival-mug")
    client.force_login(outsider)
    html = client.get(REVIEW, {"format": "shopify"}).content.decode()
    assert "Export 1 product as a Shopify" in html and "Gift set" not in html
    assert "Nothing is lost" in html
    assert "Gift set" not in client.get(LEFT_OUT, {"format": "shopify"}).content.decode()


@pytest.mark.parametrize("url", [REVIEW, LEFT_OUT])
def test_it_rejects_a_bad_format(client, mixed_catalog, viewer, url):
    client.force_login(viewer)
    response = client.get(url, {"format": "csv"})
    assert response.status_code == 400 and "shopify or woocommerce" in response.content.decode()


@pytest.mark.parametrize("url", [REVIEW, LEFT_OUT])
def test_it_redirects_anonymous_to_login(client, mixed_catalog, url):
    response = client.get(url, {"format": "shopify"})
    assert response.status_code == 302 and "login" in response["Location"]


def test_list_page_links_to_the_export_page(client, mixed_catalog, viewer):
    client.force_login(viewer)
    html = client.get(reverse("products:list"), {"status": "active"}).content.decode()
    assert f"{REVIEW}?format=shopify&amp;status=active" in html
    assert reverse("products:export_review") == REVIEW and reverse("products:export_left_out") == LEFT_OUT
