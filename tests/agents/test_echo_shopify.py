"""Echo suppression, Shopify half: a ``products/update`` body (REST shape, as the Shopify emulator sends it) for a
product we published reads as our own write on every compared field; an owner's edit does not, and is pulled."""

from pathlib import Path

import pytest

from agents import runner
from agents.echo import MATCHES_LAST_WRITE, judge
from agents.models import Job
from agents.services import enqueue
from products.importers import apply_catalog, parse_catalog
from stores.emulators.shopify import start_emulator
from stores.models import Listing, Store, WebhookDelivery
from stores.webhook_registration import register

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
SECRET = "whsec_echo_test_0123456789"


@pytest.fixture
def shop():
    with start_emulator(webhook_secret=SECRET) as running:
        yield running


@pytest.fixture
def store(org, shop):
    text = (SHARED_DATA / "shopify" / "product_template.csv").read_text(encoding="utf-8-sig")
    apply_catalog(org, parse_catalog("shopify", text))
    store = Store.objects.create(organization=org, name="Echo Shop", platform="shopify", base_url=shop.base_url,
                                 consumer_secret="shpat_demo", webhook_secret=SECRET)
    job = enqueue(org, "store.publish", store=store)
    assert runner.execute(job.pk) == "succeeded"
    return store


def _body(shop, listing) -> dict:
    number = int(listing.external_id.rsplit("/", 1)[1])
    return next(p for p in shop.products() if p["id"] == number)


def test_the_store_as_we_wrote_it_reads_as_an_echo_for_every_product(store, shop):
    listings = list(Listing.objects.filter(store=store).exclude(external_id=""))
    assert listings
    for listing in listings:
        body = _body(shop, listing)
        verdict = judge(store, "products/update", str(body["id"]), body)
        assert verdict.listing == listing and verdict.echo == MATCHES_LAST_WRITE, listing.product.handle


def test_an_owner_edit_is_not_an_echo_and_is_pulled(store, shop, live_server, settings):
    settings.PUBLIC_BASE_URL = live_server.url
    assert register(store).ok
    listing = Listing.objects.filter(store=store).exclude(external_id="").select_related("product").first()
    number = int(listing.external_id.rsplit("/", 1)[1])
    # a field we do not compare (the vendor) changes nothing we manage: an echo
    assert judge(store, "products/update", str(number), dict(_body(shop, listing), vendor="Someone")).echo
    body = shop.edit_product(number, title="Renamed by the owner")
    assert not judge(store, "products/update", str(number), body).echo
    assert shop.flush_webhooks(10)
    delivery = WebhookDelivery.objects.get(store=store)
    assert delivery.status == "received" and delivery.job is not None
    assert runner.execute(delivery.job_id) == "succeeded"
    listing.refresh_from_db()
    assert listing.state == "conflict" and "title" in listing.last_error
    assert Job.objects.filter(kind="store.pull").count() == 1
