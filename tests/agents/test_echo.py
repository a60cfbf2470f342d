"""Echo suppression, end to end: the WooCommerce emulator sends a signed webhook over real HTTP to the live
endpoint for every write of ours (as a real shop does); the endpoint recognises our own writes without queuing a
pull, while a real shop-side edit is still pulled and detected, also when it comes in a burst or while a pull of
the same product is queued or running."""

from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from oauthlib.oauth1 import SIGNATURE_TYPE_QUERY, Client

from agents import runner
from agents import echo
from agents.echo import DeliveryFields, same_fields, woocommerce_delivery
from agents.models import Job
from agents.services import enqueue
from products import bulk
from products.importers import apply_catalog, parse_catalog
from products.models import Product
from stores.emulators.faults import FaultPlan
from stores.emulators.woocommerce import start_emulator
from stores.models import Listing, Store, WebhookDelivery
from stores.webhooks import webhook_url

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
SECRET = "echo-test-secret-0123456789"
TOPICS = ("product.created", "product.updated", "product.deleted", "product.restored")


def _woo(emulator, method: str, path: str, **kwargs) -> httpx.Response:
    url, _headers, _body = Client("ck_demo", client_secret="cs_demo", signature_type=SIGNATURE_TYPE_QUERY).sign(
        emulator.api_url + path, http_method=method)
    return httpx.request(method, url, timeout=10, **kwargs)


@pytest.fixture
def emulator():
    with start_emulator() as running:
        yield running


@pytest.fixture
def store(org, emulator, live_server):
    """A store whose four product webhooks are in the emulator before anything is published."""
    store = Store.objects.create(organization=org, name="Echo Woo", base_url=emulator.base_url,
                                 consumer_key="ck_demo", consumer_secret="cs_demo", webhook_secret=SECRET)
    for topic in TOPICS:
        answer = _woo(emulator, "POST", "webhooks", json={"name": topic, "topic": topic, "secret": SECRET,
                                                          "delivery_url": live_server.url + webhook_url(store)})
        assert answer.status_code == 201, answer.text
    assert emulator.flush_webhooks(10)
    return store


@pytest.fixture
def catalog(org):
    text = (SHARED_DATA / "woocommerce" / "sample_products.csv").read_text(encoding="utf-8-sig")
    apply_catalog(org, parse_catalog("woocommerce", text))
    return Product.objects.filter(organization=org)


def _sent(emulator, since: int) -> list[dict]:
    """Deliveries (not pings) the emulator sent after the first ``since``, each answered 200."""
    assert emulator.flush_webhooks(20)
    sent = [d for d in emulator.webhook_deliveries[since:] if d["kind"] == "delivery"]
    assert all(d["status"] == 200 for d in sent), [(d["status"], d["error"]) for d in sent]
    return sent


def _publish(store, **params) -> Job:
    job = enqueue(store.organization, "store.publish", store=store, params=params)
    assert runner.execute(job.pk) == "succeeded", Job.objects.get(pk=job.pk).error
    return Job.objects.get(pk=job.pk)


@pytest.fixture
def published(store, catalog, emulator):
    """The catalog published; every webhook that came back was recognised as our own."""
    _publish(store)
    sent = _sent(emulator, 0)
    assert len(sent) >= catalog.count()  # a delivery per product, and one per variation
    return store


def test_our_first_publish_comes_back_as_echoes_and_queues_no_pull(published, emulator, catalog):
    sent = _sent(emulator, 0)
    rows = WebhookDelivery.objects.filter(store=published)
    assert rows.count() == len(sent)
    assert {row.topic for row in rows} <= {"product.created", "product.updated"}
    assert set(rows.values_list("status", flat=True)) == {"echo"}
    assert not rows.exclude(job=None).exists()
    assert not Job.objects.filter(kind="store.pull").exists()
    assert Listing.objects.filter(store=published, state="in_sync").count() == catalog.count()


def test_a_bulk_price_change_comes_back_as_echoes_even_before_its_answer_is_saved(published, emulator, org,
                                                                                  operator):
    before = len(emulator.webhook_deliveries)
    # Each answer comes 0.4 s after the write is applied: the webhooks arrive while the Sync agent still
    # waits for the answer, so the listing's snapshot is the old one when they are judged.
    emulator.set_faults(FaultPlan(latency=0.4))
    result = bulk.apply(org, Product.objects.filter(organization=org),
                        bulk.Operation(kind=bulk.Kind.PRICE, mode="percent", direction="up", value=Decimal("2")),
                        operator)
    (job,) = result.jobs
    assert runner.execute(job.pk) == "succeeded"
    emulator.set_faults(None)
    sent = _sent(emulator, before)
    assert len(sent) >= 10
    rows = WebhookDelivery.objects.filter(store=published, received_at__gt=job.created_at)
    assert rows.count() == len(sent)
    assert set(rows.values_list("status", flat=True)) == {"echo"}
    assert not Job.objects.filter(kind="store.pull").exists()
    # some of them were judged before the write's answer was on the listing: against the catalog
    assert rows.filter(note__contains="matches the catalog").exists()
    tee = Listing.objects.get(store=published, product__sku="woo-tshirt")
    assert tee.remote_snapshot["regular_price"] == "18.36" and tee.state == "in_sync"


def _edit_and_receive(emulator, listing_or_id, **changes) -> WebhookDelivery:
    before = len(emulator.webhook_deliveries)
    external = listing_or_id.external_id if isinstance(listing_or_id, Listing) else str(listing_or_id)
    emulator.edit_product(int(external), **changes)
    (sent,) = _sent(emulator, before)
    return WebhookDelivery.objects.filter(delivery_id__startswith=f"{sent['delivery_id']}:{sent['resource_id']}:",
                                          resource_id=str(sent["resource_id"])).latest("pk")


def test_a_creation_judged_while_its_answer_is_being_saved_is_still_our_echo(published, monkeypatch):
    """The Sync agent saves the store's id on the listing between the judge's look by id and its look by SKU
    (seen on PostgreSQL: a "Pull changes" job for our own new product)."""
    listing = Listing.objects.get(store=published, product__sku="woo-cap")
    body = {**listing.remote_snapshot, "id": int(listing.external_id)}
    external_id = listing.external_id
    Listing.objects.filter(pk=listing.pk).update(external_id="")
    real_find, looks = echo.find_listing, []

    def find_then_the_answer_lands(*args):
        found = real_find(*args)
        if not looks:  # right after the first look, the write's answer is saved
            Listing.objects.filter(pk=listing.pk).update(external_id=external_id)
        looks.append(found)
        return found

    monkeypatch.setattr(echo, "find_listing", find_then_the_answer_lands)
    verdict = echo.judge(published, "product.created", external_id, body)
    assert looks[0] is None
    assert verdict.target == f"listing:{listing.pk}" and verdict.echo


def test_a_shop_side_edit_is_pulled_and_detected(published, emulator):
    listing = Listing.objects.get(store=published, product__sku="woo-belt")
    before = len(emulator.webhook_deliveries)
    # the shop owner's edit, through the emulator's own HTTP route (as the README tells a person to make one)
    answer = httpx.post(f"{emulator.base_url}/__emulator__/products/{listing.external_id}",
                        json={"regular_price": "59"}, timeout=10)
    assert answer.status_code == 200, answer.text
    (sent,) = _sent(emulator, before)
    delivery = WebhookDelivery.objects.filter(delivery_id__startswith=f"{sent['delivery_id']}:{listing.external_id}:"
                                              ).latest("pk")
    assert delivery.status == "received" and delivery.job is not None
    job = delivery.job
    assert job.kind == "store.pull" and job.params["target"] == f"listing:{listing.pk}"
    assert job.run_after > job.created_at  # debounced: a burst of edits costs one fetch
    assert runner.execute(job.pk) == "succeeded"
    delivery.refresh_from_db()
    listing.refresh_from_db()
    assert delivery.status == "processed"
    assert listing.state == "conflict" and "price" in listing.last_error


def test_a_burst_of_edits_of_one_product_costs_one_pull_and_one_fetch(published, emulator):
    hoodie = Listing.objects.get(store=published, product__sku="woo-hoodie")
    blue, red = hoodie.variant_ids["woo-hoodie-blue"], hoodie.variant_ids["woo-hoodie-red"]
    first = _edit_and_receive(emulator, blue, regular_price="41")
    second = _edit_and_receive(emulator, red, regular_price="42")
    third = _edit_and_receive(emulator, hoodie, name="Hoodie (store copy)")
    assert first.job_id == second.job_id == third.job_id
    assert Job.objects.filter(kind="store.pull").count() == 1
    emulator.reset_log()
    assert runner.execute(first.job_id) == "succeeded"
    fetches = [path for method, path in emulator.request_log if method == "GET"
               and path.endswith(f"/products/{hoodie.external_id}")]
    assert len(fetches) == 1
    assert set(WebhookDelivery.objects.filter(pk__in=[first.pk, second.pk, third.pk])
               .values_list("status", flat=True)) == {"processed"}
    hoodie.refresh_from_db()
    assert hoodie.state == "conflict"
    for words in ("variant woo-hoodie-blue price 45.00 → 41.00", "variant woo-hoodie-red compare-at price", "title"):
        assert words in hoodie.last_error


def test_an_edit_while_the_pull_runs_gets_a_pull_of_its_own(published, emulator):
    """The running pull may have fetched before this edit: joining it would lose the edit."""
    listing = Listing.objects.get(store=published, product__sku="woo-cap")
    first = _edit_and_receive(emulator, listing, regular_price="17")
    running = Job.claim(first.job_id)  # a worker took it and is fetching
    assert running is not None and running.status == "running"
    second = _edit_and_receive(emulator, listing, sale_price="12")
    assert second.job_id not in (None, first.job_id)
    assert Job.objects.get(pk=second.job_id).status == "queued"
    runner._run(running)
    assert runner.execute(second.job_id) == "succeeded"
    listing.refresh_from_db()
    assert listing.state == "conflict"
    assert "price 16.00 → 12.00" in listing.last_error  # the later edit (a sale price) was seen


def test_an_edit_while_the_pull_is_queued_joins_it_and_is_seen(published, emulator):
    listing = Listing.objects.get(store=published, product__sku="woo-beanie")
    first = _edit_and_receive(emulator, listing, regular_price="19")
    waiting = Job.objects.get(pk=first.job_id)
    second = _edit_and_receive(emulator, listing, regular_price="21")
    assert second.job_id == first.job_id
    assert Job.objects.get(pk=first.job_id).run_after >= waiting.run_after
    assert runner.execute(first.job_id) == "succeeded"
    listing.refresh_from_db()
    assert "21.00" in listing.last_error


def test_a_pull_queued_for_an_echo_drops_it_without_fetching(published, emulator):
    """A delivery neither reference explains at first (the write is recorded later) costs no fetch."""
    listing = Listing.objects.get(store=published, product__sku="woo-tshirt")
    delivery = _edit_and_receive(emulator, listing, regular_price="15")
    assert delivery.job is not None
    # The catalog follows the store, and a publish records the store's answer: the delivery is now an echo.
    variant = listing.product.variants.get()
    assert variant.compare_at_price is None
    variant.price = Decimal("15")
    variant.save()
    _publish(published, product_ids=[listing.product_id])
    emulator.reset_log()
    assert runner.execute(delivery.job_id) == "succeeded"
    assert not [call for call in emulator.request_log if call[0] == "GET"]
    delivery.refresh_from_db()
    assert delivery.status == "echo" and "matches what FlashFusion last wrote" in delivery.note
    assert Job.objects.get(pk=delivery.job_id).result == {"echo": 1}


def test_view_context_descriptions_compare_without_the_tags_wpautop_adds():
    body = {"type": "simple", "name": "Belt", "status": "publish", "sku": "b", "regular_price": "5",
            "sale_price": "", "manage_stock": False,
            "description": "<p>Leather.<br />\nBrown.</p>\n<p>Made here.</p>\n", "short_description": ""}
    payload = {"type": "simple", "name": "Belt", "status": "publish", "sku": "b", "regular_price": "5",
               "sale_price": "", "manage_stock": False, "description": "Leather.\nBrown.\n\nMade here.",
               "short_description": ""}
    from agents.pull import woocommerce_fields

    assert same_fields(woocommerce_delivery(body), woocommerce_fields(payload), platform="woocommerce")
    changed = dict(body, description="<p>Leather.</p>\n")
    assert not same_fields(woocommerce_delivery(changed), woocommerce_fields(payload), platform="woocommerce")


def test_a_variation_body_is_compared_on_that_variant_only():
    reference = {"title": "Hoodie", "variant a price": "5.00", "variant a compare-at price": "—",
                 "variant a stock": "3", "variant b price": "6.00"}
    assert same_fields(DeliveryFields({"variant a price": "5.00", "variant a compare-at price": "—",
                                       "variant a stock": "3"}, "variant a "), reference, platform="woocommerce")
    assert not same_fields(DeliveryFields({"variant a price": "5.00", "variant a compare-at price": "—",
                                           "variant a stock": "2"}, "variant a "), reference, platform="woocommerce")
    assert not same_fields(DeliveryFields({"variant c price": "5.00"}, "variant c "), reference,
                           platform="woocommerce")
