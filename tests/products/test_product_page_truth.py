"""The product page never contradicts itself: a listing changed in the store, failing, or behind the catalog is
not called "In sync", and the stock table shows the store's own figure next to what we publish."""

import re
from decimal import Decimal

import httpx
import pytest
from oauthlib.oauth1 import SIGNATURE_TYPE_QUERY, Client
from django.urls import reverse

from agents import runner
from agents.services import enqueue
from products.importers import apply_catalog
from products.importers.common import ProductData, VariantData
from stores.emulators.woocommerce import start_emulator
from stores.models import Listing, Store, WebhookDelivery
from stores.webhooks import webhook_url
from tests.factories import ProductFactory, VariantFactory

SECRET = "truth-test-secret-0123456789"


@pytest.fixture
def emulator():
    with start_emulator() as running:
        yield running


@pytest.fixture
def bottle(org):
    bottle = ProductFactory(organization=org, title="Trail Bottle", handle="trail-bottle", sku="BTL")
    VariantFactory(product=bottle, sku="BTL", price=Decimal("45.99"), stock=44)
    return bottle


@pytest.fixture
def store(org, emulator, bottle):
    store = Store.objects.create(organization=org, name="Emulated Woo", base_url=emulator.base_url,
                                 consumer_key="ck_demo", consumer_secret="cs_demo", webhook_secret=SECRET)
    job = enqueue(org, "store.publish", store=store, params={"product_ids": [bottle.pk]})
    assert runner.execute(job.pk) == "succeeded"
    assert Listing.objects.get(store=store, product=bottle).state == "in_sync"
    return store


def subscribe(emulator, topic: str, url: str) -> None:
    """A WooCommerce webhook, made through the emulator's REST API as a shop's own tools would (OAuth 1.0a)."""
    signed, _headers, _body = Client("ck_demo", client_secret="cs_demo", signature_type=SIGNATURE_TYPE_QUERY).sign(
        emulator.api_url + "webhooks", http_method="POST")
    answer = httpx.post(signed, json={"name": topic, "topic": topic, "secret": SECRET, "delivery_url": url}, timeout=10)
    assert answer.status_code == 201, answer.text
    assert emulator.flush_webhooks(10)  # the ping


def row_html(client, product, store) -> str:
    html = client.get(reverse("products:detail", args=[product.pk])).content.decode()
    match = re.search(rf'<tr id="store-row-{store.pk}">(.*?)<tr id="store-stock-{store.pk}">(.*?)</table>', html, re.S)
    assert match, html[:3000]
    return match.group(1) + match.group(2)


def test_an_in_sync_listing_says_in_sync(client, viewer, bottle, store):
    client.force_login(viewer)
    row = row_html(client, bottle, store)
    assert ">In sync</span>" in row and "bi-check-circle" in row


def test_a_listing_changed_in_the_store_is_never_called_in_sync(client, viewer, bottle, store, emulator, live_server):
    subscribe(emulator, "product.updated", live_server.url + webhook_url(store))
    listing = Listing.objects.get(store=store, product=bottle)
    emulator.edit_product(int(listing.external_id), stock_quantity=7)  # the merchant counts 7 on the shelf
    assert emulator.flush_webhooks(10)
    delivery = WebhookDelivery.objects.get(resource_id=listing.external_id, topic="product.updated")
    assert runner.execute(delivery.job_id) == "succeeded"
    assert Listing.objects.get(pk=listing.pk).state == "conflict"

    client.force_login(viewer)
    row = row_html(client, bottle, store)
    assert ">Changed in store</span>" in row
    assert "In sync" not in row
    assert "Changed in the store since the last sync. A reviewer decides which side wins." in row
    assert "Review the store&#x27;s change" in row or "Review the store's change" in row
    # Stock: we publish 44, the store has 7 — both shown, the store's flagged.
    cells = re.findall(r'<td class="text-end">(.*?)</td>', row, re.S)
    assert cells[:2] == ["44", "44"]
    assert ">7</span>" in cells[2] and "text-warning-emphasis" in cells[2]


def test_a_catalog_change_not_yet_published_reads_update_pending(client, org, viewer, bottle, store):
    # An import lowers the price; the listing's stored state is still "in sync" until the next sync writes it.
    apply_catalog(org, [ProductData(handle="trail-bottle", sku="BTL", title="Trail Bottle", kind="simple",
                                    variants=[VariantData(sku="BTL", price=Decimal("9.00"), stock=44)])])
    assert Listing.objects.get(store=store, product=bottle).state == "in_sync"
    client.force_login(viewer)
    row = row_html(client, bottle, store)
    assert ">Update pending</span>" in row
    assert "In sync" not in row
    assert "9.00" in row and "45.99" in row
    assert "The catalog changed since the last publish: the next sync writes it." in row


def test_a_failed_listing_is_not_called_in_sync(client, viewer, bottle, store):
    Listing.objects.filter(store=store, product=bottle).update(state="error", last_error="Rejected: price refused")
    client.force_login(viewer)
    row = row_html(client, bottle, store)
    assert ">Error</span>" in row and "In sync" not in row


def test_a_product_the_platform_cannot_take_offers_no_publish_and_says_why(client, org, operator):
    from agents.models import Job
    from tests.factories import StoreFactory

    group = ProductFactory(organization=org, title="Camping Set", handle="camping-set", sku="SET", kind="grouped",
                           grouped_skus=["BTL"])
    shop = StoreFactory(organization=org, name="Shopify shop", platform="shopify")
    client.force_login(operator)
    html = client.get(reverse("products:detail", args=[group.pk])).content.decode()
    row = re.search(rf'<tr id="store-row-{shop.pk}">(.*?)</tr>', html, re.S).group(1)
    assert "Not publishable here" in row and "grouped" in row.lower()
    assert "Publish to Shopify shop" not in row
    response = client.post(reverse("products:publish", args=[group.pk, shop.pk]), follow=True)
    assert "cannot take “Camping Set”" in response.content.decode()
    assert not Job.objects.filter(kind="store.publish").exists()
