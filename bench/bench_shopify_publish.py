"""Benchmark: publish a catalog to the Shopify emulator on a standard plan, through the real store gate.

Imports --products demo products (``demo_catalog_csv``; its grouped product is
left out, Shopify has none: images and weights are sent), starts the Shopify
emulator in this process (``plan="standard"``: GraphQL bucket 2000 points,
restoring 100 points/s), creates a store whose calls all go through
``stores.limits.gate_for`` (the ``RateLimitBucket`` row, corrected from
``throttleStatus``), and runs one publish job synchronously as a worker would
(``enqueue`` + ``runner.execute``, run again at once when it is re-queued).

The emulator's cost bucket is metered from the inside: points taken by each
query less the points given back (requested − actual cost). Printed:

* share of the rate-limit budget used = points consumed ÷ points available
  over the run (the full bucket at the start + 100 points/s × seconds);
* THROTTLED / 429 answers (``emulator.throttle_log``), and those after the first;
* HTTP calls per product, points per product, products per minute.

Then every variant's price goes up 5 % (one catalog edit), the bucket fills
again, and an incremental sync publishes the change: only prices changed, so
the Sync agent writes them alone (``productVariantsBulkUpdate``, about 15
points a product instead of a ``productSet``). The same figures are printed
for that run; its products per minute show what a price change costs.

One ``productSet`` costs 50 points (API 2025-07) plus the product read back
(2 + 3 per variant): about 55–90 points, so at 100 points/s the store takes
about 1.2–1.5 products/s whatever the client does. 5,000 products would take
about an hour; the default is 300 products (about 3 minutes).

    .venv/bin/python bench/bench_shopify_publish.py [--products 300]
        [--database-url postgresql://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import BenchDatabase, make_organization, parse_args  # noqa: E402


class CostMeter:
    """Wraps an emulator's ``CostBucket``: net points consumed, and the lowest ``currentlyAvailable`` seen."""

    def __init__(self, bucket):
        self.bucket = bucket
        self.consumed = 0.0
        self.refused = 0
        self.lowest = bucket.maximum
        self._lock = threading.Lock()
        take, give_back = bucket.take, bucket.give_back

        def metered_take(cost):
            granted = take(cost)
            with self._lock:
                if granted:
                    self.consumed += cost
                    self.lowest = min(self.lowest, bucket._available)
                else:
                    self.refused += 1
            return granted

        def metered_give_back(points):
            with bucket._lock:
                bucket._refill()
                before = bucket._available
            give_back(points)
            with bucket._lock:
                returned = min(max(0.0, points), bucket.maximum - before)
            with self._lock:
                self.consumed -= returned

        bucket.take, bucket.give_back = metered_take, metered_give_back

    def reset(self) -> None:
        with self._lock:
            self.consumed, self.refused, self.lowest = 0.0, 0, self.bucket.maximum


def catalog(organization, size: int):
    from products.demo import DEFAULT_SEED, demo_catalog_csv
    from products.importers import apply_catalog, parse_catalog
    from products.models import Product

    apply_catalog(organization, parse_catalog("woocommerce", demo_catalog_csv(size + 1, DEFAULT_SEED)))
    Product.objects.filter(organization=organization, kind="grouped").delete()
    products = Product.objects.filter(organization=organization)
    from products.models import Variant

    return products.count(), Variant.objects.filter(product__organization=organization).count()


def publish(organization, store, emulator, meter, params: dict) -> dict:
    """Run one publish job to its end as a worker would; the figures of that run (seconds, calls, points)."""
    from agents import runner
    from agents.models import Job
    from agents.services import enqueue
    from stores.models import Listing

    from _harness import Timer

    emulator.reset_log()
    meter.reset()
    with Timer() as timer:
        start_available = emulator._cost_bucket.status()["currentlyAvailable"]
        job = enqueue(organization, "store.publish", store=store, params=params, max_attempts=50)
        attempts = 0
        while True:
            attempts += 1
            status = runner.execute(job.pk)
            if status not in ("queued", "running", "retry"):
                break
    job = Job.objects.get(pk=job.pk)
    if status not in ("succeeded", "partial"):  # partial: the result counts the failed products
        raise SystemExit(f"publish job ended {status}: {job.error}\n" + "\n".join(job.log[-20:]))
    seconds = timer.seconds
    return {
        "job": job, "attempts": attempts, "seconds": seconds, "calls": list(emulator.request_log),
        "throttles": list(emulator.throttle_log), "consumed": meter.consumed, "lowest": meter.lowest,
        "available": start_available + emulator.plan.graphql_restore * seconds, "start_available": start_available,
        "in_sync": Listing.objects.filter(store=store, state="in_sync").count(),
    }


def report(title: str, run: dict, n: int, restore: float) -> None:
    """Print one run's details, then its figure line."""
    kinds = Counter(t.kind for t in run["throttles"])
    operations = Counter(op or method for method, _path, op in run["calls"])
    throttles = run["throttles"]
    print(f"{title}: {run['job'].result}, {run['attempts']} runner.execute call(s), {run['in_sync']}/{n} listings in sync")
    print(f"  calls: {', '.join(f'{op} ×{count}' for op, count in operations.most_common())}")
    print(f"  points consumed {run['consumed']:,.0f} of {run['available']:,.0f} available "
          f"({run['start_available']:g} in the bucket at the start + {restore:g}/s × {run['seconds']:.1f} s), "
          f"{run['consumed'] / n:.1f} points/product; lowest currentlyAvailable {run['lowest']:.0f}")
    print(f"  throttled answers: {len(throttles)} ({dict(kinds) or 'none'}), "
          f"{max(0, len(throttles) - 1)} after the first")


def change_prices(organization, percent: int) -> int:
    """Raise every variant's price by ``percent`` % as one catalog edit (prices only); returns products changed."""
    from decimal import Decimal

    from django.db import transaction
    from django.utils import timezone

    from products.models import Product, Variant

    factor = Decimal(100 + percent) / 100
    with transaction.atomic():
        variants = list(Variant.objects.filter(product__organization=organization, price__isnull=False))
        for variant in variants:
            variant.price = (variant.price * factor).quantize(Decimal("0.01"))
        Variant.objects.bulk_update(variants, ["price"], batch_size=1000)
        return Product.objects.filter(organization=organization).update(updated_at=timezone.now())


def main() -> None:
    args = parse_args(__doc__.splitlines()[0], default_products=300)
    with BenchDatabase(args.database_url, keep=args.keep) as db:
        from stores.emulators.shopify import start_emulator
        from stores.models import RateLimitBucket, Store

        label = db.label
        print(f"database: {label} ({db.url})")
        organization = make_organization()
        n, variants = catalog(organization, args.products)
        print(f"catalog: {n} products, {variants} variants (demo_catalog_csv without its grouped product)")

        with start_emulator(port=0, plan="standard") as emulator:
            meter = CostMeter(emulator._cost_bucket)
            store = Store.objects.create(organization=organization, name="Bench Shopify", platform="shopify",
                                         base_url=emulator.base_url, consumer_secret=emulator.access_token,
                                         rate_plan="standard")
            plan = emulator.plan
            restore = plan.graphql_restore
            print(f"store: Shopify emulator at {emulator.api_url}, plan standard "
                  f"(GraphQL {plan.graphql_maximum:g} points, {restore:g} points/s)")
            first = publish(organization, store, emulator, meter, {})
            bucket = RateLimitBucket.objects.get(store=store)
            report("publish", first, n, restore)
            print(f"  gate bucket: {bucket.calls} grants, {bucket.throttled} throttled")
            changed = change_prices(organization, 5)
            # Let the bucket fill again, so the second run starts as the first did.
            time.sleep(plan.graphql_maximum / restore)
            second = publish(organization, store, emulator, meter, {"strategy": "incremental"})
            report(f"price change (+5 % on {changed} products), incremental sync", second, n, restore)

        print()
        for title, run in (("shopify publish", first), ("shopify price change", second)):
            throttles = run["throttles"]
            print(f"{title}: {n} products, {variants} variants, {label}, {run['seconds']:.1f} s — "
                  f"{len(run['calls']) / n:.2f} calls/product, {run['consumed'] / n:.1f} points/product, "
                  f"{len(throttles)} THROTTLED/429 ({max(0, len(throttles) - 1)} after the first), "
                  f"budget used {run['consumed'] / run['available']:.1%}, "
                  f"{n / run['seconds'] * 60:.0f} products/min")


if __name__ == "__main__":
    main()
