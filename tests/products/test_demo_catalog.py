"""The demo's generated WooCommerce CSV: deterministic, realistic, and importable."""

from collections import Counter
from decimal import Decimal

import pytest

from products.demo import demo_catalog_csv
from products.importers import apply_catalog, detect_format, parse_catalog
from products.models import Product, Variant


def test_same_seed_same_text_other_seed_other_text():
    assert demo_catalog_csv() == demo_catalog_csv()
    assert demo_catalog_csv(count=20, seed=1) != demo_catalog_csv(count=20, seed=2)


def test_demo_file_looks_like_a_woocommerce_export():
    text = demo_catalog_csv()
    assert text.startswith("\ufeffID,Type,SKU,Name,Published,")
    assert detect_format(text) == "woocommerce"


def test_demo_catalog_parses_with_every_product_kind():
    products = parse_catalog("woocommerce", demo_catalog_csv(count=60))

    assert len(products) == 60
    kinds = Counter(p.kind for p in products)
    assert kinds["grouped"] == 1 and kinds["external"] == 1
    assert kinds["variable"] >= 15 and kinds["simple"] >= 30
    variable = [p for p in products if p.kind == "variable"]
    assert all([o["name"] for o in p.options] == ["Color", "Size"] for p in variable)
    assert all(set(v.option_values) == {"Color", "Size"} for p in variable for v in p.variants)
    variants = [v for p in products for v in p.variants]
    assert any(v.stock == 0 for v in variants) and any(v.stock and v.stock > 0 for v in variants)
    assert any(v.compare_at_price for v in variants)  # some sale prices
    assert all(v.price > 0 and str(v.price).endswith(".99") for v in variants)
    assert {p.status for p in products} == {"active", "draft"}

    kit = next(p for p in products if p.kind == "grouped")
    skus = {p.sku for p in products if p.kind == "simple"}
    assert len(kit.grouped_skus) == 3 and set(kit.grouped_skus) <= skus
    external = next(p for p in products if p.kind == "external")
    assert external.external_url.startswith("https://partner.example.com/")
    guide = next(p for p in products if p.downloads)
    assert guide.downloads[0]["url"].endswith(".pdf")
    assert (guide.variants[0].price, guide.variants[0].compare_at_price) == (Decimal("9.99"), Decimal("14.99"))
    assert all(url.startswith("https://images.example.com/") for p in products for url in p.images)


def test_demo_catalog_imports_and_reimports_unchanged(org):
    products = parse_catalog("woocommerce", demo_catalog_csv())
    variant_count = sum(len(p.variants) for p in products)

    first = apply_catalog(org, products)
    second = apply_catalog(org, parse_catalog("woocommerce", demo_catalog_csv()))

    assert first == {"created": 60, "updated": 0, "unchanged": 0, "products": 60, "variants": variant_count}
    assert second["unchanged"] == 60 and second["created"] == second["updated"] == 0
    assert Product.objects.filter(organization=org).count() == 60
    assert Variant.objects.filter(organization=org).count() == variant_count


@pytest.mark.parametrize("count", [5, 500])
def test_small_and_large_counts(count):
    products = parse_catalog("woocommerce", demo_catalog_csv(count=count, seed=7))
    assert len(products) == count
    assert len({p.handle for p in products}) == count


def test_too_small_a_count_is_refused():
    with pytest.raises(ValueError):
        demo_catalog_csv(count=4)
