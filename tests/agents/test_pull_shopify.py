"""Pull agent, Shopify half: an owner's edit in the Shopify emulator goes out as a signed ``products/update``
webhook over real HTTP to the live endpoint; the ``store.pull`` job fetches the product
(``ShopifyPlugin.fetch_product``) and compares it with the catalog (``agents.pull.shopify_fields``)."""

from pathlib import Path

import httpx
import pytest
from django.utils.datastructures import CaseInsensitiveMapping

from agents import runner
from agents.pull import shopify_fields
from agents.models import Job
from agents.services import enqueue
from approvals.models import ApprovalRequest
from flashfusion.models import Event
from products.importers import apply_catalog, parse_catalog
from products.models import Product
from stores import webhooks
from stores.emulators.shopify import start_emulator
from stores.models import Listing, Store, WebhookDelivery
from stores.plugins import NotFound
from stores.plugins.shopify import ShopifyPlugin
from stores.webhooks import webhook_url

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
SECRET = "whsec_pull_test"
TOKEN = "shpat_demo"


@pytest.fixture
def emulator():
    with start_emulator(webhook_secret=SECRET) as running:
        yield running


@pytest.fixture
def store(org, emulator):
    text = (SHARED_DATA / "shopify" / "product_template.csv").read_text(encoding="utf-8-sig")
    apply_catalog(org, parse_catalog("shopify", text))
    store = Store.objects.create(organization=org, name="Emulated Shop", platform="shopify",
                                 base_url=emulator.base_url, consumer_secret=TOKEN, webhook_secret=SECRET)
    job = enqueue(org, "store.publish", store=store)
    assert runner.execute(job.pk) == "succeeded", job.error
    job.refresh_from_db()
    assert Listing.objects.filter(store=store, state="in_sync").count() == Product.objects.filter(
        organization=org).exclude(kind="grouped").count(), job.log[-3:]
    return store


def _subscribe(emulator, address: str) -> None:
    for topic in ("products/update", "products/delete"):
        answer = httpx.post(emulator.api_url + "/webhooks.json", headers={"X-Shopify-Access-Token": TOKEN},
                            json={"webhook": {"topic": topic, "address": address, "format": "json"}}, timeout=10)
        assert answer.status_code == 201, answer.text


@pytest.fixture
def subscribed(store, emulator, live_server):
    _subscribe(emulator, live_server.url + webhook_url(store))
    return store


def _listing(store, handle) -> Listing:
    return Listing.objects.select_related("product").get(store=store, product__handle=handle)


def _pull_the_last_delivery(emulator) -> WebhookDelivery:
    assert emulator.flush_webhooks(10)
    sent = emulator.webhook_log[-1]
    assert sent.status == 200, sent
    delivery = WebhookDelivery.objects.get(delivery_id=sent.webhook_id)
    assert runner.execute(delivery.job_id) == "succeeded", delivery.job.error
    delivery.refresh_from_db()
    return delivery


def test_reader_sees_no_difference_between_the_payload_and_the_published_product(store):
    plugin = ShopifyPlugin.for_store(store)
    try:
        for listing in Listing.objects.filter(store=store).select_related("product"):
            payload = plugin.build_payload(listing.product)
            assert shopify_fields(payload) == shopify_fields(plugin.fetch_product(listing.external_id))
    finally:
        plugin.close()


def test_fetch_product_raises_not_found_for_a_gone_or_foreign_id(store, emulator):
    listing = Listing.objects.filter(store=store).first()
    emulator.delete_product(listing.external_id)
    plugin = ShopifyPlugin.for_store(store)
    try:
        with pytest.raises(NotFound):
            plugin.fetch_product(listing.external_id)
        with pytest.raises(NotFound):
            plugin.fetch_product("gid://shopify/ProductVariant/1")
    finally:
        plugin.close()


def test_owner_price_edit_over_a_live_webhook_marks_the_listing_a_conflict(subscribed, emulator):
    hat = _listing(subscribed, "example-hat")
    remote = next(p for p in emulator.products() if f"gid://shopify/Product/{p['id']}" == hat.external_id)
    variant = remote["variants"][0]
    old = variant["price"]
    emulator.edit_product(hat.external_id, variants=[{"id": variant["id"], "price": "1.50"}])
    delivery = _pull_the_last_delivery(emulator)

    assert delivery.status == "processed" and delivery.topic == "products/update"
    assert delivery.resource_id == str(remote["id"])
    hat.refresh_from_db()
    assert hat.state == "conflict"
    assert hat.remote_snapshot["variants"]["nodes"][0]["price"] == old  # the last synced answer, kept
    approval = ApprovalRequest.objects.get(product=hat.product, status="pending")
    assert approval.before["store_snapshot"]["variants"][0]["price"] == "1.50"
    assert approval.after["variants"][0]["price"] == "1.50"
    job = delivery.job
    job.refresh_from_db()
    assert job.result == {"conflicts": 1, "fields": 1}
    catalog_price = f"{float(old):.2f}"
    assert any(f"price: catalog {catalog_price}, store 1.50" in line for line in job.log), job.log
    event = Event.objects.get(topic="listing.conflict")
    assert event.message == f"{hat.product.title} changed in store Emulated Shop: price {catalog_price} → 1.50"


def test_variant_and_title_edit_names_each_field(subscribed, emulator):
    shirt = _listing(subscribed, "example-shirt")
    remote = next(p for p in emulator.products() if f"gid://shopify/Product/{p['id']}" == shirt.external_id)
    variant = next(v for v in remote["variants"] if v["sku"] == "SRT_COT_222")
    emulator.edit_product(remote["id"], title="Renamed shirt",
                          variants=[{"id": variant["id"], "price": "20.00", "compare_at_price": "30.00"}])
    delivery = _pull_the_last_delivery(emulator)
    shirt.refresh_from_db()
    assert shirt.state == "conflict"
    changes = {c["field"]: c["store"] for c in Event.objects.get(topic="listing.conflict").payload["changes"]}
    assert changes["title"] == "Renamed shirt"
    assert changes["variant SRT_COT_222 price"] == "20.00"
    assert changes["variant SRT_COT_222 compare-at price"] == "30.00"
    assert delivery.job.result["fields"] == len(changes)


def test_a_captured_delivery_through_the_ingest_service_and_a_delete(store, emulator):
    """No live server: the emulator delivers to a dead address, and the captured body and headers are fed to
    ``stores.webhooks.receive`` — the same service the endpoint calls."""
    _subscribe(emulator, "http://127.0.0.1:9/nowhere")
    pants = _listing(store, "example-pants")
    emulator.edit_product(pants.external_id, status="archived")
    emulator.delete_product(_listing(store, "example-hat").external_id)
    assert emulator.flush_webhooks(10)
    update, delete = emulator.webhook_log[-2:]
    assert update.status is None and delete.topic == "products/delete"

    outcome = webhooks.receive(store, update.body, CaseInsensitiveMapping(update.headers))
    assert outcome.status == 200 and outcome.delivery is not None
    assert webhooks.receive(store, update.body, CaseInsensitiveMapping(update.headers)).message.startswith("duplicate")
    assert runner.execute(outcome.delivery.job_id) == "succeeded"
    pants.refresh_from_db()
    assert pants.state == "conflict" and pants.last_error == f"changed in store: status {pants.product.status} → archived"

    outcome = webhooks.receive(store, delete.body, CaseInsensitiveMapping(delete.headers))
    assert runner.execute(outcome.delivery.job_id) == "succeeded"
    hat = _listing(store, "example-hat")
    assert hat.state == "conflict" and hat.last_error == "deleted in store"

    forged = CaseInsensitiveMapping(dict(update.headers, **{"X-Shopify-Hmac-Sha256": "AAAA"}))
    assert webhooks.receive(store, update.body, forged).status == 401


def test_store_wins_takes_the_owner_price_into_the_catalog(subscribed, emulator):
    """``target_wins`` on Shopify: the variant's price goes into the catalog and the listing counts as in sync."""
    Store.objects.filter(pk=subscribed.pk).update(conflict_resolution="target_wins")
    hat = _listing(subscribed, "example-hat")
    remote = next(p for p in emulator.products() if f"gid://shopify/Product/{p['id']}" == hat.external_id)
    variant = remote["variants"][0]
    emulator.edit_product(hat.external_id, variants=[{"id": variant["id"], "price": "1.50"}])
    delivery = _pull_the_last_delivery(emulator)

    assert delivery.job.result == {"resolved": 1, "taken": 1, "kept": 0}
    assert str(hat.product.variants.get(sku=variant["sku"]).price) == "1.50"
    hat.refresh_from_db()
    assert hat.state == "in_sync" and hat.remote_snapshot["variants"]["nodes"][0]["price"] == "1.50"
    publish = Job.objects.get(kind="store.publish", store=subscribed, status="queued")
    assert runner.execute(publish.pk) == "succeeded"
    publish.refresh_from_db()
    assert publish.result["unchanged"] >= 1 and publish.result["updated"] == 0


# --------------------------------------------------------------------------- stock kept at a second location


def _hat(store, emulator):
    hat = _listing(store, "example-hat")
    remote = next(p for p in emulator.products() if f"gid://shopify/Product/{p['id']}" == hat.external_id)
    return hat, remote["variants"][0]


def test_stock_the_merchant_keeps_at_a_second_location_is_not_a_store_edit(subscribed, emulator):
    hat, variant = _hat(subscribed, emulator)
    assert variant["inventory_management"] == "shopify"
    warehouse = emulator.locations()[1]
    emulator.edit_product(hat.external_id, variants=[{"id": variant["id"], "inventory_quantity": 25,
                                                      "location_id": warehouse["id"]}])
    delivery = _pull_the_last_delivery(emulator)

    assert delivery.job.result == {"in_sync": 1}, delivery.job.log
    hat.refresh_from_db()
    assert hat.state == "in_sync"
    assert not ApprovalRequest.objects.exists() and not Event.objects.filter(topic="listing.conflict").exists()
    # the store's total does count the warehouse: the comparison is at our location
    [stored] = [p for p in emulator.products() if p["id"] == variant["product_id"]]
    assert stored["variants"][0]["inventory_quantity"] == variant["inventory_quantity"] + 25


def test_a_stock_edit_at_our_location_still_is_one(subscribed, emulator):
    hat, variant = _hat(subscribed, emulator)
    emulator.edit_product(hat.external_id, variants=[{"id": variant["id"], "inventory_quantity": 2}])
    delivery = _pull_the_last_delivery(emulator)
    hat.refresh_from_db()
    assert hat.state == "conflict"
    changes = {c["field"]: (c["catalog"], c["store"]) for c in Event.objects.get(topic="listing.conflict").payload["changes"]}
    assert changes == {"stock": (str(hat.product.variants.get().stock), "2")}
    assert delivery.job.result == {"conflicts": 1, "fields": 1}


def test_at_a_chosen_warehouse_the_primary_locations_stock_is_the_merchants(subscribed, emulator):
    """The store writes its stock at the warehouse: the merchant's units at the primary location are theirs."""
    from stores.inventory import refresh_locations

    rows = {r.name: r for r in refresh_locations(subscribed)}
    Store.objects.filter(pk=subscribed.pk).update(stock_location=rows["Warehouse"])
    store = Store.objects.get(pk=subscribed.pk)
    hat = _listing(store, "example-hat")
    job = enqueue(store.organization, "store.publish", store=store, params={"product_ids": [hat.product_id]})
    assert runner.execute(job.pk) == "succeeded", job.error
    hat.refresh_from_db()
    assert hat.remote_snapshot["_stockLocation"] == rows["Warehouse"].external_id
    _, variant = _hat(store, emulator)
    emulator.edit_product(hat.external_id, variants=[{"id": variant["id"], "inventory_quantity": 40}])  # primary
    delivery = _pull_the_last_delivery(emulator)
    assert delivery.job.result == {"in_sync": 1}, delivery.job.log


def test_a_snapshot_from_before_levels_does_not_make_a_stock_conflict(subscribed, emulator):
    """A listing synced before snapshots kept the level holds the total over every location. The catalog's
    stock changed since: the last synced stock at our location is unknown, so the store's is taken as unchanged
    and the catalog's change waits for the sync; only the title is the merchant's edit."""
    from django.db.models import F

    from products.models import Variant

    hat, variant = _hat(subscribed, emulator)
    snapshot = hat.remote_snapshot
    snapshot.pop("_stockLocation")
    for node in snapshot["variants"]["nodes"]:
        node["inventoryItem"].pop("inventoryLevel")
        node["inventoryQuantity"] = 99  # the merchant's warehouse units were in the total then
    Listing.objects.filter(pk=hat.pk).update(remote_snapshot=snapshot)
    Variant.objects.filter(product=hat.product).update(stock=F("stock") + 10)
    emulator.edit_product(hat.external_id, title="Sun hat")
    delivery = _pull_the_last_delivery(emulator)

    changes = [c["field"] for c in Event.objects.get(topic="listing.conflict").payload["changes"]]
    assert changes == ["title"], delivery.job.log
    assert any(line.split(" ", 1)[1].startswith("stock: ") and "pending publish" in line for line in delivery.job.log)
    assert any("not read at the stock location: stock counts as unchanged in the store" in line
               for line in delivery.job.log)


def test_the_pull_reads_stock_at_the_stock_location_in_variant_pages(store, emulator):
    """``fetch_product`` with levels pages its variants by 100 (5 points each) and stays under the cost cap."""
    listing = Listing.objects.filter(store=store).first()
    plugin = ShopifyPlugin.for_store(store)
    try:
        emulator.reset_log()
        remote = plugin.fetch_product(listing.external_id)
    finally:
        plugin.close()
    assert remote["_stockLocation"] == f"gid://shopify/Location/{emulator.locations()[0]['id']}"
    tracked = [n for n in remote["variants"]["nodes"] if n["inventoryItem"]["tracked"]]
    assert tracked and all("inventoryLevel" in n["inventoryItem"] for n in tracked)
    assert [entry[2] for entry in emulator.request_log] == ["FlashFusionPrimaryLocation", "FlashFusionProductWithStock"]
