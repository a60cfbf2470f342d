"""Benchmark: publish a catalog to a WooCommerce store (the emulator, in-process, over real HTTP).

Imports the demo catalog of --products products, then runs a full publish job
synchronously (``agents.services.enqueue`` + ``agents.runner.execute``, as a
worker would), and a second publish with nothing changed. Prints seconds,
products/s, HTTP calls and write calls (POST/PUT/PATCH/DELETE) for each; the
second run must make no write calls.

The emulator is a thread of this process: its server-side work shares the
CPU (and the GIL) with the client, so the figures include both sides.

    .venv/bin/python bench/bench_publish.py [--products 1000]
        [--database-url postgresql://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import BenchDatabase, QueryCounter, Timer, make_organization, parse_args, rate  # noqa: E402

WRITES = {"POST", "PUT", "PATCH", "DELETE"}


def timed_publish(organization, store, emulator):
    from agents import runner
    from agents.models import Job
    from agents.services import enqueue

    emulator.reset_log()
    counter = QueryCounter()
    cpu = time.thread_time()
    with counter.counting(), Timer() as timer:
        job = enqueue(organization, "store.publish", store=store)
        status = runner.execute(job.pk)
    cpu = time.thread_time() - cpu
    job = Job.objects.get(pk=job.pk)
    if status not in ("succeeded", "partial"):  # partial: some products refused, listed below
        raise SystemExit(f"publish job {job.pk} ended {status}: {job.error}\n" + "\n".join(job.log[-20:]))
    calls = list(emulator.request_log)
    writes = [call for call in calls if call[0] in WRITES]
    return SimpleNamespace(
        result=job.result, seconds=timer.seconds, calls=calls, writes=writes, queries=counter.count, cpu=cpu
    )


def report(run) -> None:
    print(f"  {run.seconds:.2f} s wall ({run.cpu:.2f} s CPU in the job's thread; the rest is mostly waiting for the "
          f"emulator thread and the database), {len(run.calls)} HTTP calls ({len(run.writes)} writes), "
          f"{run.queries} SQL statements")
    if run.calls:
        print(f"  calls: {describe(run.calls)}")


def describe(calls) -> str:
    """'POST products/batch ×10, …': the calls grouped by method and route shape."""
    shapes = Counter()
    for method, path in calls:
        route = path.removeprefix("/wp-json/wc/v3/")
        route = "/".join("<id>" if part.isdigit() else part for part in route.split("/"))
        shapes[f"{method} {route}"] += 1
    return ", ".join(f"{shape} ×{count}" for shape, count in shapes.most_common())


def main() -> None:
    args = parse_args(__doc__.splitlines()[0], default_products=1000)
    with BenchDatabase(args.database_url, keep=args.keep) as db:
        from products.demo import DEFAULT_SEED, demo_catalog_csv
        from products.importers import apply_catalog, parse_catalog
        from stores.emulators.woocommerce import start_emulator
        from stores.models import Listing, Store

        label = db.label
        print(f"database: {label} ({db.url})")
        organization = make_organization()
        with Timer() as importing:
            text = demo_catalog_csv(args.products, DEFAULT_SEED)
            counts = apply_catalog(organization, parse_catalog("woocommerce", text))
        n, variants = counts["products"], counts["variants"]
        print(f"catalog: {n} products, {variants} variants (demo_catalog_csv, seed={DEFAULT_SEED}), "
              f"imported in {importing.seconds:.2f} s (not timed below)")

        with start_emulator(port=0) as emulator:
            store = Store.objects.create(
                organization=organization,
                name="Bench WooCommerce",
                base_url=emulator.base_url,
                consumer_key=emulator.consumer_key,
                consumer_secret=emulator.consumer_secret,
            )
            print(f"store: WooCommerce emulator at {emulator.api_url} (in this process, OAuth 1.0a over http)")

            first = timed_publish(organization, store, emulator)
            in_sync = Listing.objects.filter(store=store, state="in_sync").count()
            print(f"publish #1 (empty store): {first.result}")
            report(first)
            print(f"  afterwards: {in_sync} listings in sync, {len(emulator.products())} products in the store")
            for listing in Listing.objects.filter(store=store).exclude(state="in_sync").select_related("product"):
                print(f"  not in sync: {listing.product.handle} ({listing.product.kind}): {listing.state}, "
                      f"{listing.last_error[:300]}")

            second = timed_publish(organization, store, emulator)
            print(f"publish #2 (catalog unchanged): {second.result}")
            report(second)
            steady = second
            if second.writes:
                print(f"  NOTE: publish #2 made {len(second.writes)} write calls although the catalog did not "
                      f"change (publish #1 left {first.result.get('failed', 0)} failed); "
                      "a third run shows the no-change path:")
                steady = timed_publish(organization, store, emulator)
                print(f"publish #3 (catalog unchanged): {steady.result}")
                report(steady)

        print()
        print(f"publish: {n} products, {variants} variants, {label}, {first.seconds:.2f} s, "
              f"{len(first.calls)} HTTP calls, {first.result.get('failed', 0)} failed — "
              f"{rate(n, first.seconds)} products/s")
        if steady is not second:
            print(f"re-publish #2 (no change, retries #1's failures): {n} products, {label}, "
                  f"{second.seconds:.2f} s, {len(second.calls)} HTTP calls — {len(second.writes)} write calls")
        print(f"re-publish (no change): {n} products, {label}, {steady.seconds:.2f} s, "
              f"{len(steady.calls)} HTTP calls — {len(steady.writes)} write calls")


if __name__ == "__main__":
    main()
