"""Pull agent, end to end: a shop-side edit in the WooCommerce emulator goes out as a signed webhook over
real HTTP to the live endpoint, and the ``store.pull`` job compares the store with the catalog."""

import base64
import hashlib
import hmac
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from oauthlib.oauth1 import SIGNATURE_TYPE_QUERY, Client

from agents import runner
from agents.pull import Difference, compare, woocommerce_fields
from agents.models import Job
from agents.services import enqueue
from approvals.models import ApprovalRequest
from flashfusion.models import Event
from products.importers import apply_catalog, parse_catalog
from products.models import Product
from stores.emulators.woocommerce import start_emulator
from stores.models import Listing, Store, WebhookDelivery
from stores.webhooks import replay, webhook_url

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
SECRET = "pull-test-secret"


def _woo(method: str, path: str, **kwargs) -> httpx.Response:
    """One signed call to the emulator's REST API, as the shop's own tools would make it."""
    url, _headers, _body = Client("ck_demo", client_secret="cs_demo", signature_type=SIGNATURE_TYPE_QUERY).sign(
        _woo.api_url + path, http_method=method)
    return httpx.request(method, url, timeout=10, **kwargs)


@pytest.fixture
def emulator():
    with start_emulator() as running:
        _woo.api_url = running.api_url
        yield running


@pytest.fixture
def catalog(org):
    text = (SHARED_DATA / "woocommerce" / "sample_products.csv").read_text(encoding="utf-8-sig")
    apply_catalog(org, parse_catalog("woocommerce", text))
    return Product.objects.filter(organization=org)


@pytest.fixture
def store(org, emulator):
    return Store.objects.create(organization=org, name="Emulated Woo", base_url=emulator.base_url,
                                consumer_key="ck_demo", consumer_secret="cs_demo", webhook_secret=SECRET)


@pytest.fixture
def published(catalog, store):
    job = enqueue(store.organization, "store.publish", store=store)
    assert runner.execute(job.pk) == "succeeded"
    return store


@pytest.fixture
def subscribed(published, emulator, live_server):
    """WooCommerce webhooks for product updates and deletes, delivered to the live endpoint."""
    for topic in ("product.updated", "product.deleted"):
        answer = _woo("POST", "webhooks", json={"name": topic, "topic": topic, "secret": SECRET,
                                                 "delivery_url": live_server.url + webhook_url(published)})
        assert answer.status_code == 201, answer.text
    assert emulator.flush_webhooks(10)
    assert [d["status"] for d in emulator.webhook_deliveries] == [200, 200]  # the two pings
    assert not WebhookDelivery.objects.exists()  # a ping is not stored
    return published


def _listing(store, sku) -> Listing:
    return Listing.objects.select_related("product").get(store=store, product__sku=sku)


def _pull_the_last_delivery(emulator) -> WebhookDelivery:
    assert emulator.flush_webhooks(10)
    sent = emulator.webhook_deliveries[-1]
    assert sent["status"] == 200, sent
    delivery = WebhookDelivery.objects.filter(delivery_id__startswith=sent["delivery_id"],
                                              resource_id=str(sent["resource_id"])).latest("pk")
    assert delivery.job_id is not None, f"no pull queued: {delivery.status} {delivery.note}"
    assert runner.execute(delivery.job_id) == "succeeded", delivery.job.error
    delivery.refresh_from_db()
    return delivery


def test_shop_side_price_edit_marks_the_listing_a_conflict(subscribed, emulator):
    listing = _listing(subscribed, "woo-tshirt")
    emulator.edit_product(int(listing.external_id), regular_price="15")
    delivery = _pull_the_last_delivery(emulator)

    assert delivery.status == "processed" and delivery.topic == "product.updated"
    listing.refresh_from_db()
    assert listing.state == "conflict"
    # the last-synced answer stays the common ancestor; the store's answer waits in the review request
    assert listing.remote_snapshot["regular_price"] == "18.00"
    approval = ApprovalRequest.objects.get(product=listing.product, status="pending")
    assert approval.before["store_snapshot"]["variants"][0]["price"] == "15.00"
    job = delivery.job
    job.refresh_from_db()
    assert job.result == {"conflicts": 1, "fields": 1}
    assert any("price: catalog 18.00, store 15.00, last synced 18.00 — changed in store" in line for line in job.log)
    event = Event.objects.get(topic="listing.conflict")
    assert event.message == "T-Shirt changed in store Emulated Woo: price 18.00 → 15.00"
    assert event.payload["changes"] == [{"field": "price", "base": "18.00", "catalog": "18.00", "store": "15.00",
                                         "side": "store", "winner": "review"}]
    assert event.payload["approval_id"] == approval.pk


def test_several_fields_and_a_variation_are_named(subscribed, emulator):
    hoodie = _listing(subscribed, "woo-hoodie")
    blue = hoodie.variant_ids["woo-hoodie-blue"]
    emulator.edit_product(int(blue), regular_price="40", manage_stock=True, stock_quantity=3)
    delivery = _pull_the_last_delivery(emulator)
    assert delivery.resource_id == blue  # WooCommerce sends the variation itself
    hoodie.refresh_from_db()
    assert hoodie.state == "conflict"
    message = Event.objects.get(topic="listing.conflict").message
    assert "variant woo-hoodie-blue price 45.00 → 40.00" in message
    assert "variant woo-hoodie-blue stock not tracked → 3" in message


def test_an_update_that_matches_the_catalog_changes_nothing(subscribed, emulator, operator):
    listing = _listing(subscribed, "woo-belt")
    emulator.edit_product(int(listing.external_id), featured=True)  # a field we do not manage
    assert emulator.flush_webhooks(10)
    sent = emulator.webhook_deliveries[-1]
    assert sent["status"] == 200, sent
    delivery = WebhookDelivery.objects.get(resource_id=listing.external_id)
    # the compared fields equal what we last wrote: no pull is queued at all
    assert delivery.status == "echo" and delivery.job is None
    assert "matches what FlashFusion last wrote" in delivery.note
    assert not Job.objects.filter(kind="store.pull").exists()
    # a replay is asked to look at the store now: it fetches, and finds nothing changed
    job, replayed = replay(delivery, user=operator)
    assert replayed and runner.execute(job.pk) == "succeeded"
    delivery.refresh_from_db()
    listing.refresh_from_db()
    assert delivery.status == "processed" and listing.state == "in_sync"
    job.refresh_from_db()
    assert job.result == {"in_sync": 1}
    assert not Event.objects.filter(topic="listing.conflict").exists()


def test_a_product_trashed_in_the_store_is_a_conflict(subscribed, emulator):
    listing = _listing(subscribed, "woo-cap")
    # without force: the trash, which fires product.deleted (a permanent delete fires nothing)
    assert _woo("DELETE", f"products/{listing.external_id}").status_code == 200
    delivery = _pull_the_last_delivery(emulator)
    assert delivery.topic == "product.deleted"
    listing.refresh_from_db()
    assert listing.state == "conflict" and listing.last_error == "deleted in store"
    assert Event.objects.get(topic="listing.conflict").message == "Cap deleted in store Emulated Woo"


def test_a_product_we_never_published_is_processed_with_a_log_line(subscribed, emulator):
    created = _woo("POST", "products", json={"name": "Shop-only mug", "sku": "SHOP-MUG", "regular_price": "9"})
    emulator.edit_product(created.json()["id"], regular_price="8")
    delivery = _pull_the_last_delivery(emulator)
    assert delivery.status == "processed" and delivery.job.result == {"unknown": 1}
    assert any("no listing" in line for line in delivery.job.log)


def test_replay_runs_the_pull_again(subscribed, emulator, client, operator):
    listing = _listing(subscribed, "woo-tshirt")
    emulator.edit_product(int(listing.external_id), regular_price="15")
    delivery = _pull_the_last_delivery(emulator)
    emulator.edit_product(int(listing.external_id), regular_price="18")  # the shop owner undoes it
    assert emulator.flush_webhooks(10)
    client.force_login(operator)
    assert client.post(f"/webhooks/{delivery.pk}/replay/").status_code == 302
    delivery.refresh_from_db()
    assert delivery.replays == 1 and delivery.status == "received"
    assert runner.execute(delivery.job_id) == "succeeded"
    delivery.refresh_from_db()
    assert delivery.status == "processed" and delivery.job.result == {"in_sync": 1}
    listing.refresh_from_db()  # the store went back: the conflict is over and its review request stale
    assert listing.state == "in_sync"
    assert ApprovalRequest.objects.get(product=listing.product).status == "stale"


def test_an_unreachable_store_fails_the_delivery_on_the_last_attempt(published, emulator, client):
    """The endpoint answered without the store; the pull meets the outage and says so."""
    listing = _listing(published, "woo-tshirt")
    body = ('{"id":%s,"name":"T-Shirt"}' % listing.external_id).encode()
    signature = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
    emulator.stop()
    response = client.post(webhook_url(published), data=body, content_type="application/json", headers={
        "X-WC-Webhook-Topic": "product.updated", "X-WC-Webhook-Delivery-ID": "abc",
        "X-WC-Webhook-Signature": signature})
    assert response.status_code == 200
    delivery = WebhookDelivery.objects.get()
    job = delivery.job
    job.max_attempts = 1
    job.save(update_fields=["max_attempts"])
    assert runner.execute(job.pk) == "dead"
    delivery.refresh_from_db()
    assert delivery.status == "failed" and delivery.error.startswith("Transient")


# --------------------------------------------------------------------------- comparison, no store


def test_woocommerce_fields_read_payload_and_store_answer_alike():
    payload = {"name": "Belt", "status": "publish", "sku": "B", "description": "<p>A  belt</p>\n",
               "short_description": "", "type": "simple", "regular_price": "65.00", "sale_price": "55.00",
               "manage_stock": True, "stock_quantity": 4}
    answer = {**payload, "regular_price": "65", "sale_price": "55", "description": "<p>A belt</p>"}
    assert compare(woocommerce_fields(payload), woocommerce_fields(answer)) == []
    answer["sale_price"] = ""
    assert compare(woocommerce_fields(payload), woocommerce_fields(answer)) == [
        Difference("price", "55.00", "65.00"), Difference("compare-at price", "65.00", "—")]
    assert woocommerce_fields({**payload, "status": "private"})["status"] == "archived"
    assert Decimal(woocommerce_fields(payload)["price"]) == Decimal("55")
