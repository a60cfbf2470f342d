"""Benchmark: two worker processes syncing two Shopify stores at once; neither store's limit is ever exceeded.

Two Shopify emulators (standard plan: GraphQL bucket 2000 points, 100
points/s each) run as threads of this process; each is a store. The catalog
(--products demo products, grouped one left out) is split in two halves, and
each store gets two publish jobs, one per half (``params["product_ids"]``).
Two OS processes (``multiprocessing``, spawn) act as workers: worker 1 runs
store A / half 1 then store B / half 1, worker 2 store A / half 2 then store B
/ half 2 — so both processes draw from the same store's budget at the same
time, through ``agents.runner.execute`` and the real store gate (the
``RateLimitBucket`` row every process shares).

Checked from two sides, per store:

* the store's own view: the emulator's cost bucket, metered from the inside
  (lowest ``currentlyAvailable``, i.e. the highest level, against the
  capacity) and its throttle log (THROTTLED / 429 answers) — the limit is
  exceeded exactly when a query is refused, and the goal is 0;
* the gate's view: the highest level of the ``RateLimitBucket`` row (leaked
  to the moment it was read, sampled every 50 ms by this process) against its
  capacity, and the row's own count of throttled answers.

    .venv/bin/python bench/bench_two_workers.py [--products 80]
        [--database-url postgresql://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import multiprocessing
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import BenchDatabase, Timer, make_organization, parse_args  # noqa: E402
from bench_shopify_publish import CostMeter, catalog  # noqa: E402


def worker(job_ids: list[int], out) -> None:
    """One worker process (spawned: its own interpreter, Django set up from the harness's environment):
    run each job until it ends (re-run at once when re-queued)."""
    import django

    django.setup()
    from django.db import connections

    from agents import runner

    results = []
    for job_id in job_ids:
        started = time.time()
        runs = 0
        while True:
            runs += 1
            status = runner.execute(job_id)
            if status not in ("queued", "running", "retry"):
                break
        results.append((job_id, status, runs, time.time() - started))
    connections.close_all()
    out.put(results)


class GateSampler(threading.Thread):
    """Reads every store's ``RateLimitBucket`` row every ``every`` seconds; keeps the highest leaked level."""

    def __init__(self, store_ids: list[int], every: float = 0.05):
        super().__init__(daemon=True)
        self.store_ids = store_ids
        self.every = every
        self.highest = {pk: 0.0 for pk in store_ids}
        self.samples = 0
        self.stop = threading.Event()

    def run(self) -> None:
        from django.db import connection

        from stores.limits import leaked_level
        from stores.models import RateLimitBucket

        try:
            while not self.stop.wait(self.every):
                for bucket in RateLimitBucket.objects.filter(store_id__in=self.store_ids):
                    level = leaked_level(bucket.level, bucket.stamp, time.time(), bucket.leak_rate)
                    self.highest[bucket.store_id] = max(self.highest[bucket.store_id], level)
                self.samples += 1
        finally:
            connection.close()


def main() -> None:
    args = parse_args(__doc__.splitlines()[0], default_products=80)
    with BenchDatabase(args.database_url, keep=args.keep) as db:
        from django.db import connections

        from agents.models import Job
        from agents.services import enqueue
        from products.models import Product
        from stores.emulators.shopify import start_emulator
        from stores.models import Listing, RateLimitBucket, Store

        label = db.label
        print(f"database: {label} ({db.url})")
        organization = make_organization()
        n, variants = catalog(organization, args.products)
        ids = list(Product.objects.filter(organization=organization).order_by("pk").values_list("pk", flat=True))
        halves = [ids[0::2], ids[1::2]]
        print(f"catalog: {n} products, {variants} variants, in two halves of {len(halves[0])} and {len(halves[1])}")

        with start_emulator(port=0, plan="standard", shop="store-a") as shop_a, \
                start_emulator(port=0, plan="standard", shop="store-b") as shop_b:
            shops = {"A": shop_a, "B": shop_b}
            meters = {name: CostMeter(shop._cost_bucket) for name, shop in shops.items()}
            stores = {name: Store.objects.create(organization=organization, name=f"Store {name}", platform="shopify",
                                                 base_url=shop.base_url, consumer_secret=shop.access_token,
                                                 rate_plan="standard")
                      for name, shop in shops.items()}
            jobs = {(name, half): enqueue(organization, "store.publish", store=store, max_attempts=50,
                                          params={"product_ids": halves[half]},
                                          idempotency_key=f"bench:{name}:{half}").pk
                    for name, store in stores.items() for half in (0, 1)}
            plan = shop_a.plan
            print(f"stores: two Shopify emulators, plan standard (GraphQL {plan.graphql_maximum:g} points, "
                  f"{plan.graphql_restore:g} points/s each); 4 publish jobs")
            connections.close_all()
            sampler = GateSampler([s.pk for s in stores.values()])
            sampler.start()
            ctx = multiprocessing.get_context("spawn")
            out = ctx.Queue()
            plans = [[jobs[("A", 0)], jobs[("B", 0)]], [jobs[("A", 1)], jobs[("B", 1)]]]
            with Timer() as timer:
                processes = [ctx.Process(target=worker, args=(job_ids, out)) for job_ids in plans]
                for process in processes:
                    process.start()
                results = [out.get(timeout=1800) for _ in processes]
                for process in processes:
                    process.join(timeout=60)
            sampler.stop.set()
            sampler.join(timeout=5)
            throttles = {name: list(shop.throttle_log) for name, shop in shops.items()}
            calls = {name: len(shop.request_log) for name, shop in shops.items()}

        failures = []
        for number, done in enumerate(results, start=1):
            for job_id, status, runs, seconds in done:
                job = Job.objects.get(pk=job_id)
                print(f"worker: job {job_id} ({job.store.name}, {len(job.params['product_ids'])} products) "
                      f"{status} in {seconds:.1f} s, {runs} run(s): {job.result}")
                if status == "partial":
                    failures.append(f"job {job_id}: {job.failed_count} products failed")
                elif status != "succeeded":
                    failures.append(f"job {job_id}: {job.error}")
        worst_store, worst_gate = 0.0, 0.0
        exceeded = 0
        for name, store in stores.items():
            meter, bucket = meters[name], RateLimitBucket.objects.get(store=store)
            in_sync = Listing.objects.filter(store=store, state="in_sync").count()
            store_level = meter.bucket.maximum - meter.lowest
            gate_level = sampler.highest[store.pk]
            worst_store = max(worst_store, store_level / meter.bucket.maximum)
            worst_gate = max(worst_gate, gate_level / bucket.capacity)
            exceeded += len(throttles[name]) + meter.refused
            print(f"store {name}: {in_sync}/{n} listings in sync, {calls[name]} calls, {meter.consumed:,.0f} points; "
                  f"store side: highest level {store_level:.0f} of {meter.bucket.maximum:g}, "
                  f"{len(throttles[name])} THROTTLED/429, {meter.refused} queries refused; "
                  f"gate side: highest level {gate_level:.0f} of {bucket.capacity:g} "
                  f"({sampler.samples} samples), {bucket.throttled} throttled, {bucket.calls} grants")
        if failures:
            raise SystemExit("\n".join(failures))
        print()
        print(f"two workers, two Shopify stores: {n} products each, {label}, {timer.seconds:.1f} s — "
              f"highest level {worst_store:.1%} of capacity at the store, {worst_gate:.1%} at the gate; "
              f"limit exceeded {exceeded} times")
        if exceeded:
            raise SystemExit("a store's limit was exceeded")


if __name__ == "__main__":
    main()
