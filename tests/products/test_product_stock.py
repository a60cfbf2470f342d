"""The product page's stock per store: what each store's rule publishes, and for Shopify stores the level at
each location (ours marked, when written or read); "Read stock by location" reads them from the emulator."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from agents import runner
from agents.services import enqueue
from stores.emulators.shopify import start_emulator
from stores.models import InventoryLevel, Listing, Store, StoreLocation
from tests.factories import ProductFactory, StoreFactory, VariantFactory

TOKEN = "shpat_demo"


@pytest.fixture
def product(org):
    tent = ProductFactory(organization=org, title="Ridge Tent", handle="ridge-tent", sku="RIDGE", kind="variable",
                          images=[], options=[{"name": "Color", "values": ["Red", "Blue"]}])
    VariantFactory(product=tent, sku="RIDGE-RED", position=1, price=Decimal("199.00"), stock=10,
                   option_values={"Color": "Red"})
    VariantFactory(product=tent, sku="RIDGE-BLUE", position=2, price=Decimal("199.00"), stock=None,
                   option_values={"Color": "Blue"})
    return tent


@pytest.fixture
def stores(org, product):
    """A Shopify store (two locations, the warehouse chosen, buffer 3) and a WooCommerce store (half the stock),
    both listing the tent; a level written at the warehouse and one read at the shop."""
    shopify = Store.objects.create(organization=org, name="Peak Shopify", platform="shopify",
                                   base_url="https://127.0.0.1:9", consumer_secret=TOKEN, stock_rule="buffer",
                                   stock_buffer=3)
    shop_location = StoreLocation.objects.create(store=shopify, external_id="gid://shopify/Location/1",
                                                 name="Shop location", is_primary=True)
    warehouse = StoreLocation.objects.create(store=shopify, external_id="gid://shopify/Location/2", name="Warehouse")
    shopify.stock_location = warehouse
    shopify.save()
    woo = StoreFactory(organization=org, name="Valley Woo", stock_rule="percent", stock_percent=50)
    for store in (shopify, woo):
        Listing.objects.create(organization=org, store=store, product=product, external_id=f"{store.pk}01")
    red = product.variants.get(sku="RIDGE-RED")
    InventoryLevel.objects.create(location=warehouse, variant=red, available=7, pushed=True)
    read = InventoryLevel.objects.create(location=shop_location, variant=red, available=4, pushed=False)
    InventoryLevel.objects.filter(pk=read.pk).update(updated_at=timezone.now() - timedelta(hours=2))
    return {"shopify": shopify, "woo": woo, "warehouse": warehouse, "shop_location": shop_location}


def _stock_html(html: str, store) -> str:
    """The stock row under ``store``'s row (up to the next store's row)."""
    start = html.index(f'id="store-stock-{store.pk}"')
    end = html.find('id="store-row-', start)
    return html[start:end if end != -1 else None]


def test_a_viewer_sees_each_stores_published_stock_and_the_levels_by_location(client, product, stores, viewer):
    client.force_login(viewer)
    response = client.get(product.get_absolute_url())
    html = response.content.decode()
    rows = {row.store.name: row for row in response.context["store_rows"]}

    shopify = rows["Peak Shopify"]
    assert [loc.name for loc in shopify.locations] == ["Shop location", "Warehouse"]
    assert shopify.stock_location == stores["warehouse"]
    red, blue = shopify.stock
    assert (red.catalog, red.to_publish) == (10, 7) and (blue.catalog, blue.to_publish) == (None, None)
    assert [lv.available if lv else None for lv in red.levels] == [4, 7]
    assert blue.levels == [None, None]

    woo = rows["Valley Woo"]
    assert woo.has_locations is False and woo.locations == []
    assert [(line.catalog, line.to_publish) for line in woo.stock] == [(10, 5), (None, None)]

    part = _stock_html(html, stores["shopify"])
    assert "Stock in Peak Shopify" in part and ": 3 held back per variant" in part
    assert "Warehouse <span class=\"badge text-bg-primary\"" in part  # ours marked
    assert "Read from the store" in part and "At our stock location" in part
    assert "Levels last written or read" in part
    assert "Read stock by location" not in html  # a viewer reads, an operator asks the store
    woo_part = _stock_html(html, stores["woo"])
    assert "A percentage of stock: 50 %" in woo_part and "Warehouse" not in woo_part


def test_an_unlisted_store_shows_no_stock_row(client, org, product, operator):
    store = Store.objects.create(organization=org, name="Lone Shopify", platform="shopify",
                                 base_url="https://127.0.0.1:9", consumer_secret=TOKEN)
    client.force_login(operator)
    html = client.get(product.get_absolute_url()).content.decode()
    assert f'id="store-row-{store.pk}"' in html and f'id="store-stock-{store.pk}"' not in html


def test_an_operator_gets_the_read_button_for_stores_with_locations_only(client, product, stores, operator):
    client.force_login(operator)
    html = client.get(product.get_absolute_url()).content.decode()
    assert reverse("products:read_stock", args=[product.pk, stores["shopify"].pk]) in html
    assert reverse("products:read_stock", args=[product.pk, stores["woo"].pk]) not in html
    assert 'aria-label="Read stock by location from Peak Shopify"' in html


def test_it_refuses_a_viewer_and_hides_from_an_outsider(client, product, stores, viewer, outsider):
    url = reverse("products:read_stock", args=[product.pk, stores["shopify"].pk])
    client.force_login(viewer)
    assert client.post(url).status_code == 403
    client.force_login(outsider)
    assert client.post(url).status_code == 404
    assert client.get(product.get_absolute_url()).status_code == 404
    assert InventoryLevel.objects.count() == 2


def test_an_operator_reads_the_stock_by_location_from_the_shop(client, org, operator):
    with start_emulator(port=0, access_token=TOKEN) as emulator:
        store = Store.objects.create(organization=org, name="Emulated Shopify", platform="shopify",
                                     base_url=emulator.base_url, consumer_secret=TOKEN)
        lamp = ProductFactory(organization=org, title="Camp Lamp", handle="camp-lamp", sku="LAMP", images=[])
        VariantFactory(product=lamp, sku="LAMP-1", stock=6)
        job = enqueue(org, "store.publish", store=store, params={"product_ids": [lamp.pk]})
        assert runner.execute(job.pk) == "succeeded", job.error
        remote = emulator.products()[0]
        warehouse = emulator.locations()[1]
        emulator.edit_product(remote["id"], variants=[{"id": remote["variants"][0]["id"], "inventory_quantity": 15,
                                                       "location_id": warehouse["id"]}])
        client.force_login(operator)
        response = client.post(reverse("products:read_stock", args=[lamp.pk, store.pk]), follow=True)
    assert response.redirect_chain[-1][0].endswith(f"#store-row-{store.pk}")
    assert "2 levels at 2 locations" in response.content.decode()
    [row] = [r for r in response.context["store_rows"] if r.store == store]
    assert [loc.name for loc in row.locations] == ["Shop location", "Warehouse"]
    assert [lv.available for lv in row.stock[0].levels] == [6, 15]
    assert row.stock_location.name == "Shop location"


def test_a_store_that_cannot_answer_is_an_error_message(client, product, stores, operator):
    client.force_login(operator)
    response = client.post(reverse("products:read_stock", args=[product.pk, stores["shopify"].pk]), follow=True)
    assert "the stock could not be read" in response.content.decode()
    assert InventoryLevel.objects.count() == 2
