"""Products a platform cannot take: the Sync agent skips them as "not publishable here" instead of failing them
on every run. WooCommerce's sample catalog, through the real importer and job runner, to the Shopify emulator
over real HTTP."""

import csv
import io
from pathlib import Path

import pytest
from django.urls import reverse

from agents import runner
from agents.models import SyncRun
from agents.services import enqueue
from products.importers import apply_catalog, parse_catalog
from products.models import Product
from stores.emulators.shopify import start_emulator
from stores.models import Listing, Store

SAMPLE = Path(__file__).resolve().parents[3] / "shared" / "data" / "woocommerce" / "sample_products.csv"
TOKEN = "shpat_refusals"
#: The sample's products Shopify cannot take: a grouped product, and a variable product whose variations
#: leave Size blank (WooCommerce's "any Size").
REFUSED = {"logo-collection": "Shopify has no grouped products", "woo-vneck-tee": "have no Size"}


@pytest.fixture
def shop():
    with start_emulator(access_token=TOKEN) as running:
        yield running


@pytest.fixture
def catalog(org):
    apply_catalog(org, parse_catalog("woocommerce", SAMPLE.read_text(encoding="utf-8-sig")))
    return Product.objects.filter(organization=org)


@pytest.fixture
def store(org, shop):
    return Store.objects.create(organization=org, name="Emulated Shop", platform="shopify", base_url=shop.base_url,
                                consumer_secret=TOKEN)


def publish(store, **params):
    job = enqueue(store.organization, "store.publish", store=store, params=params)
    status = runner.execute(job.pk)
    job.refresh_from_db()
    assert status == "succeeded", (job.error, job.log)
    return job


def product_sets(shop) -> int:
    return sum(1 for _method, _path, operation in shop.request_log if operation == "FlashFusionProductSet")


def test_grouped_and_any_attribute_products_are_skipped_not_failed(catalog, store, shop):
    job = publish(store, strategy="full")
    total = catalog.count()
    assert job.result["failed"] == 0, job.log
    assert job.result["skipped"] == len(REFUSED)
    assert job.result["created"] == total - len(REFUSED)
    assert product_sets(shop) == total - len(REFUSED)  # nothing was sent for them
    assert {p["handle"] for p in shop.products()} == set(catalog.values_list("handle", flat=True)) - set(REFUSED)
    for handle, reason in REFUSED.items():
        listing = Listing.objects.get(store=store, product__handle=handle)
        assert listing.state == "not_publishable" and listing.external_id == ""
        assert reason in listing.last_error
        assert any(handle in line and reason in line for line in job.log), job.log
    run = SyncRun.objects.get(job=job)
    assert run.status == SyncRun.Status.SUCCEEDED and run.failed == 0


def test_later_syncs_do_not_try_them_again(catalog, store, shop):
    publish(store, strategy="full")
    shop.reset_log()
    incremental = publish(store, strategy="incremental")
    assert incremental.result["considered"] == 0 and "skipped" not in incremental.result
    full = publish(store, strategy="full")
    assert full.result["skipped"] == len(REFUSED) and full.result["failed"] == 0
    assert full.result["unchanged"] == catalog.count() - len(REFUSED)
    assert product_sets(shop) == 0
    assert any("2 products still not publishable on Shopify" in line for line in full.log), full.log
    assert Listing.objects.filter(store=store, state="not_publishable").count() == len(REFUSED)


def test_a_product_changed_so_it_can_be_taken_is_published_by_the_next_incremental_sync(org, catalog, store, shop):
    publish(store, strategy="full")
    # The merchant gives each V-neck variation its own Size and imports the file again (the real importer).
    rows = list(csv.reader(io.StringIO(SAMPLE.read_text(encoding="utf-8-sig"))))
    header = rows[0]
    sku, size = header.index("SKU"), header.index("Attribute 2 value(s)")
    sizes = iter(["Small", "Medium", "Large"])
    for row in rows[1:]:
        if row[sku].startswith("woo-vneck-tee-"):
            row[size] = next(sizes)
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    apply_catalog(org, parse_catalog("woocommerce", out.getvalue()))
    shop.reset_log()

    job = publish(store, strategy="incremental")
    # Only the changed product is planned: the grouped one, unchanged, is not looked at again.
    assert job.result["created"] == 1 and job.result["failed"] == 0 and "skipped" not in job.result, job.log
    assert product_sets(shop) == 1
    listing = Listing.objects.get(store=store, product__handle="woo-vneck-tee")
    assert listing.state == "in_sync" and listing.external_id and listing.last_error == ""
    stored = next(p for p in shop.products() if p["handle"] == "woo-vneck-tee")
    assert sorted(v["sku"] for v in stored["variants"]) == ["woo-vneck-tee-blue", "woo-vneck-tee-green",
                                                            "woo-vneck-tee-red"]
    assert Listing.objects.get(store=store, product__handle="logo-collection").state == "not_publishable"


def test_a_store_listing_products_that_were_failing_turns_them_not_publishable(catalog, store, shop):
    """Listings left "error" by the failures of earlier versions are re-planned (they are unsettled) and settle."""
    grouped = catalog.get(handle="logo-collection")
    Listing.objects.create(organization=store.organization, store=store, product=grouped, state="error",
                           last_error="Rejected: unsupported_kind: Shopify has no grouped products")
    publish(store, strategy="full")
    job = publish(store, strategy="incremental")
    assert job.result["failed"] == 0
    assert Listing.objects.get(store=store, product=grouped).state == "not_publishable"


def test_product_list_and_store_page_show_the_state(client, operator, catalog, store, shop):
    publish(store, strategy="full")
    client.force_login(operator)
    listed = client.get(reverse("products:list"), {"sync": "not_publishable"})
    assert {row.record.handle for row in listed.context["table"].rows} == set(REFUSED)
    on_store = client.get(reverse("products:list"), {"store": store.pk})
    assert not {row.record.handle for row in on_store.context["table"].rows} & set(REFUSED)
    nowhere = client.get(reverse("products:list"), {"sync": "none"})
    assert {row.record.handle for row in nowhere.context["table"].rows} == set(REFUSED)

    page = client.get(store.get_absolute_url())
    states = {state: count for state, _label, count, _badge in page.context["listing_states"]}
    assert states["not_publishable"] == len(REFUSED) and states["error"] == 0
    assert page.context["listing_count"] == catalog.count() - len(REFUSED)
    html = page.content.decode()
    assert "Not publishable here" in html and f"· {len(REFUSED)} not publishable here" in html
