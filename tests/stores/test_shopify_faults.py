"""A whole publish to the Shopify emulator that survives 20 % injected faults, without duplicates.

The plan is the shared ``stores.emulators.faults.FaultPlan`` (each fault alone is
tested on the wire in ``test_shopify_emulator.py``); here they come together on a
real catalog: the Shopify product template (a product with 11 variants, one with
2 and a variant without a SKU, one with none) plus a demo catalog of simple and
variable products (its grouped product left out: Shopify has none).
"""

from collections import Counter
from decimal import Decimal
from pathlib import Path

from agents import runner
from agents.models import Job
from agents.services import enqueue
from products.demo import demo_catalog_csv
from products.importers import apply_catalog, parse_catalog
from products.models import Product
from stores.emulators.faults import FaultPlan
from stores.emulators.shopify import start_emulator
from stores.models import Listing, Store
from stores.plugins.shopify import shopify_handle

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"


def _catalog(org):
    text = (SHARED_DATA / "shopify" / "product_template.csv").read_text(encoding="utf-8-sig")
    apply_catalog(org, parse_catalog("shopify", text))
    apply_catalog(org, parse_catalog("woocommerce", demo_catalog_csv(24, seed=11)))
    Product.objects.filter(organization=org, kind="grouped").delete()
    return Product.objects.filter(organization=org).prefetch_related("variants")


def test_full_publish_under_20_percent_faults_ends_in_sync_without_duplicates(org):
    """5xx (502/503/500), lost answers to applied writes, cut-short JSON bodies and 429 bursts: about one
    call in five fails. No hangs: a timeout's cost is only time, and the client's timeout is tested apart.

    As in the WooCommerce test, each retry the runner schedules is run at once
    and the breaker is closed between attempts (standing in for the cool-down).
    """
    catalog = _catalog(org)
    plan = FaultPlan(seed=5, error_rate=0.05, lost_answer_rate=0.06, malformed_rate=0.05, rate_limit_rate=0.04,
                     rate_limit_burst=2, error_statuses=(500, 502, 503))
    with start_emulator(faults=plan) as emulator:
        store = Store.objects.create(organization=org, name="Flaky Shop", platform="shopify",
                                     base_url=emulator.base_url, consumer_secret="shpat_demo", timeout=5)
        job = enqueue(org, "store.publish", store=store, max_attempts=40)
        for _ in range(80):
            status = runner.execute(job.pk)
            if status not in ("queued", "running", "retry"):
                break
            Store.objects.filter(pk=store.pk).update(breaker_state="closed", breaker_failures=0,
                                                     breaker_opened_at=None)
        job = Job.objects.get(pk=job.pk)
        assert job.status == "succeeded", (job.error, job.log[-5:])
        faults = Counter(kind for _method, _path, kind in emulator.faults_injected)
        assert sum(faults.values()) >= 5 and len(faults) >= 3, faults
        assert job.attempts > 1

        emulator.set_faults(None)
        listings = Listing.objects.filter(store=store).select_related("product")
        assert listings.count() == catalog.count()
        assert [listing.product.handle for listing in listings if listing.state != "in_sync"] == []

        remote = emulator.products()
        handles = Counter(p["handle"] for p in remote)
        assert set(handles) == {shopify_handle(p.handle) for p in catalog}
        assert all(count == 1 for count in handles.values()), [h for h, n in handles.items() if n > 1]
        skus = Counter(v["sku"] for p in remote for v in p["variants"] if v["sku"])
        assert set(skus) == {v.sku for p in catalog for v in p.variants.all() if v.sku}
        assert all(count == 1 for count in skus.values()), [s for s, n in skus.items() if n > 1]

        by_handle = {p["handle"]: p for p in remote}
        for product in catalog:
            stored = by_handle[shopify_handle(product.handle)]
            listing = next(item for item in listings if item.product_id == product.pk)
            assert listing.external_id == f"gid://shopify/Product/{stored['id']}"
            assert stored["title"] == product.title
            variants = list(product.variants.all())
            assert len(stored["variants"]) == len(variants)
            by_sku = {v["sku"]: v for v in stored["variants"]}
            for variant in variants:
                if not variant.sku or variant.price is None:
                    continue
                assert Decimal(by_sku[variant.sku]["price"]) == variant.price, variant.sku
