"""``StorePlugin.refusals``: what each platform cannot take, decided without calling the store — and checked
against the emulators over real HTTP, so a refusal stands for a write the store would refuse (or garble)."""

import pytest

from products.choices import ProductKind
from products.models import Variant
from stores.emulators.shopify import start_emulator as start_shopify
from stores.emulators.woocommerce import start_emulator as start_woo
from stores.models import Store
from stores.plugins import few, plugin_class
from stores.plugins.shopify import ShopifyPlugin
from stores.plugins.woocommerce import WooCommercePlugin
from tests.factories import ProductFactory, VariantFactory

TOKEN = "shpat_refusals"


def codes(cls, product) -> list[str]:
    return [r.code for r in cls.refusals(product)]


def variable(org, options: dict[str, list[str]], variants: list[dict], **fields):
    product = ProductFactory(organization=org, kind=ProductKind.VARIABLE,
                             options=[{"name": n, "values": v} for n, v in options.items()], **fields)
    for position, values in enumerate(variants, start=1):
        VariantFactory(product=product, sku=f"{product.sku}-{position}", position=position, option_values=values)
    return product


@pytest.fixture
def shop():
    with start_shopify(access_token=TOKEN) as running:
        yield running


@pytest.fixture
def shopify(org, shop):
    store = Store.objects.create(organization=org, name="Emulated Shop", platform="shopify", base_url=shop.base_url,
                                 consumer_secret=TOKEN)
    plugin = store.plugin()
    yield plugin
    plugin.close()


@pytest.fixture
def woo():
    with start_woo() as running:
        yield running


@pytest.fixture
def woocommerce(org, woo):
    store = Store.objects.create(organization=org, name="Emulated Woo", base_url=woo.base_url, consumer_key="ck_demo",
                                 consumer_secret="cs_demo")
    plugin = store.plugin()
    yield plugin
    plugin.close()


def write(plugin, product):
    [result] = plugin.create_listings([(product, plugin.build_payload(product))])
    return result


# --------------------------------------------------------------------------- Shopify


def test_shopify_takes_simple_and_complete_variable_products(org, shopify):
    simple = ProductFactory(organization=org)
    VariantFactory(product=simple)
    tee = variable(org, {"Color": ["Red", "Blue"], "Size": ["S", "M"]},
                   [{"Color": "Red", "Size": "S"}, {"Color": "Blue", "Size": "M"}])
    three = variable(org, {"A": ["1"], "B": ["1"], "C": ["1"]}, [{"A": "1", "B": "1", "C": "1"}])
    for product in (simple, tee, three):
        assert ShopifyPlugin.refusals(product) == []
        assert write(shopify, product).ok


def test_shopify_refuses_grouped_products_naming_the_field(org):
    group = ProductFactory(organization=org, kind=ProductKind.GROUPED, grouped_skus=["a", "b"])
    [refusal] = ShopifyPlugin.refusals(group)
    assert (refusal.code, refusal.field) == ("grouped_product", "kind")
    assert "Shopify has no grouped products" in refusal.message and "publish each product" in refusal.message


def test_shopify_refuses_any_values_which_the_store_refuses_too(org, shopify):
    tee = variable(org, {"Color": ["Red", "Blue"], "Size": ["S", "M"]}, [{"Color": "Red"}, {"Color": "Blue"}],
                   sku="tee")
    [refusal] = ShopifyPlugin.refusals(tee)
    assert (refusal.code, refusal.field) == ("option_value_missing", "variants.option_values")
    assert "SKU tee-1 and SKU tee-2 have no Size" in refusal.message and "“any Size”" in refusal.message
    assert write(shopify, tee).error.code == "OPTION_VALUES_MISSING"


def test_a_blank_value_is_missing_too(org, shopify):
    cap = variable(org, {"Color": ["Red"]}, [{"Color": " "}], sku="cap")
    assert codes(ShopifyPlugin, cap) == ["option_value_missing"]
    assert not write(shopify, cap).ok


def test_shopify_refuses_a_fourth_option(org, shopify):
    names = ["A", "B", "C", "D"]
    product = variable(org, {n: ["1"] for n in names}, [{n: "1" for n in names}])
    [refusal] = ShopifyPlugin.refusals(product)
    assert refusal.code == "too_many_options"
    assert "at most 3 options" in refusal.message and "(A, B, C, D)" in refusal.message
    assert write(shopify, product).error.code == "OPTIONS_OVER_LIMIT"


def test_shopify_refuses_two_variants_with_the_same_values(org, shopify):
    product = variable(org, {"Color": ["Red"]}, [{"Color": "Red"}, {"Color": "Red"}], sku="dup")
    [refusal] = ShopifyPlugin.refusals(product)
    assert refusal.code == "duplicate_variant" and "SKU dup-1 and SKU dup-2 are both Red" in refusal.message
    assert not write(shopify, product).ok


def test_shopify_refuses_more_variants_than_productset_takes(org):
    product = ProductFactory(organization=org, kind=ProductKind.VARIABLE,
                             options=[{"name": "Size", "values": []}])
    Variant.objects.bulk_create([Variant(organization=org, product=product, sku=f"v-{n}", position=n,
                                         option_values={"Size": str(n)}) for n in range(1, 2050)])
    assert codes(ShopifyPlugin, product) == ["too_many_variants"]
    Variant.objects.filter(product=product, position=2049).delete()
    assert codes(ShopifyPlugin, product) == []


def test_without_options_several_variants_are_told_apart_by_sku(org, shopify):
    product = ProductFactory(organization=org, sku="")
    VariantFactory(product=product, sku="one", position=1)
    VariantFactory(product=product, sku="", position=2)
    assert ShopifyPlugin.refusals(product) == []
    assert write(shopify, product).ok


# --------------------------------------------------------------------------- WooCommerce


def test_woocommerce_takes_any_values_grouped_and_external_products(org, woocommerce):
    tee = variable(org, {"Color": ["Red", "Blue"], "Size": ["S", "M"]}, [{"Color": "Red"}, {"Color": "Blue"}])
    external = ProductFactory(organization=org, kind=ProductKind.EXTERNAL, external_url="")
    VariantFactory(product=external)
    group = ProductFactory(organization=org, kind=ProductKind.GROUPED, grouped_skus=["not-in-the-catalog-yet"])
    for product in (tee, external, group):
        assert WooCommercePlugin.refusals(product) == []
    assert write(woocommerce, tee).ok and write(woocommerce, external).ok


def test_woocommerce_refuses_a_variation_value_for_an_option_the_product_lacks(org, woocommerce, woo):
    tee = variable(org, {"Color": ["Red"]}, [{"Color": "Red", "Material": "Wool"}], sku="wool")
    [refusal] = WooCommercePlugin.refusals(tee)
    assert (refusal.code, refusal.field) == ("undeclared_option", "variants.option_values")
    assert "SKU wool-1 has a Material value but the product has no Material option" in refusal.message
    # What the store would do with it: take the variation and drop the value without a word.
    assert write(woocommerce, tee).ok
    [variation] = next(p for p in woo.products() if p["sku"] == "wool")["variation_details"]
    assert [a["name"] for a in variation["attributes"]] == ["Color"]


def test_option_names_match_as_woocommerce_slugs_them(org):
    tee = variable(org, {"Colour name": ["Red"]}, [{"colour-name": "Red"}])
    assert WooCommercePlugin.refusals(tee) == []


def test_woocommerce_refuses_a_group_naming_a_variation(org, woocommerce):
    hoodie = variable(org, {"Color": ["Red"]}, [{"Color": "Red"}], sku="hoodie", title="Hoodie")
    cap = ProductFactory(organization=org, sku="cap")
    VariantFactory(product=cap)
    group = ProductFactory(organization=org, kind=ProductKind.GROUPED, grouped_skus=["hoodie-1", "cap", "hoodie"])
    [refusal] = WooCommercePlugin.refusals(group)
    assert (refusal.code, refusal.field) == ("grouped_child_is_variant", "grouped_skus")
    assert "hoodie-1 is a variant of “Hoodie”" in refusal.message and "its product hoodie" in refusal.message
    # Written anyway, the connector never finds that child among the store's products.
    assert write(woocommerce, cap).ok and write(woocommerce, hoodie).ok
    assert write(woocommerce, group).error.code == "grouped_child_missing"


def test_no_plugin_is_called_for_refusals(org, monkeypatch):
    """The check is offline: a refused product is decided with the network off."""
    import httpx

    def no_network(*args, **kwargs):
        raise AssertionError("refusals called the store")

    monkeypatch.setattr(httpx.Client, "send", no_network)
    group = ProductFactory(organization=org, kind=ProductKind.GROUPED, grouped_skus=["x"])
    for platform in ("shopify", "woocommerce"):
        plugin_class(platform).refusals(group)


def test_few_names_three_then_counts():
    assert few(["a"]) == "a" and few(["a", "b"]) == "a and b" and few(["a", "b", "c"]) == "a, b and c"
    assert few(["a", "b", "c", "d", "e"]) == "a, b, c and 2 more"
