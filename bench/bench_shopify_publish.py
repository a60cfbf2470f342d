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
* HTTP calls per product, products per minute.

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

from _harness import BenchDatabase, Timer, make_organization, parse_args  # noqa: E402


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


def main() -> None:
    args = parse_args(__doc__.splitlines()[0], default_products=300)
    with BenchDatabase(args.database_url, keep=args.keep) as db:
        from agents import runner
        from agents.models import Job
        from agents.services import enqueue
        from stores.emulators.shopify import start_emulator
        from stores.models import Listing, RateLimitBucket, Store

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
            print(f"store: Shopify emulator at {emulator.api_url}, plan standard "
                  f"(GraphQL {plan.graphql_maximum:g} points, {plan.graphql_restore:g} points/s)")
            emulator.reset_log()
            meter.reset()
            restore = plan.graphql_restore
            with Timer() as timer:
                start_available = emulator._cost_bucket.status()["currentlyAvailable"]
                job = enqueue(organization, "store.publish", store=store, max_attempts=50)
                attempts = 0
                while True:
                    attempts += 1
                    status = runner.execute(job.pk)
                    if status not in ("queued", "running", "retry"):
                        break
            job = Job.objects.get(pk=job.pk)
            if status != "succeeded":
                raise SystemExit(f"publish job ended {status}: {job.error}\n" + "\n".join(job.log[-20:]))
            seconds = timer.seconds
            calls = list(emulator.request_log)
            throttles = list(emulator.throttle_log)
            in_sync = Listing.objects.filter(store=store, state="in_sync").count()
            bucket = RateLimitBucket.objects.get(store=store)

        available = start_available + restore * seconds
        share = meter.consumed / available
        kinds = Counter(t.kind for t in throttles)
        operations = Counter(op or method for method, _path, op in calls)
        print(f"publish: {job.result}, {attempts} runner.execute call(s), {in_sync}/{n} listings in sync")
        print(f"  calls: {', '.join(f'{op} ×{count}' for op, count in operations.most_common())}")
        print(f"  points consumed {meter.consumed:,.0f} of {available:,.0f} available "
              f"({start_available:g} in the bucket at the start + {restore:g}/s × {seconds:.1f} s); "
              f"lowest currentlyAvailable {meter.lowest:.0f}; gate bucket: {bucket.calls} grants, "
              f"{bucket.throttled} throttled")
        print(f"  throttled answers: {len(throttles)} ({dict(kinds) or 'none'}), "
              f"{max(0, len(throttles) - 1)} after the first")
        print()
        print(f"shopify publish: {n} products, {variants} variants, {label}, {seconds:.1f} s — "
              f"{len(calls) / n:.2f} calls/product, {n / seconds * 60:.0f} products/min, "
              f"{len(throttles)} THROTTLED/429 ({max(0, len(throttles) - 1)} after the first), "
              f"budget used {share:.1%}")


if __name__ == "__main__":
    main()
