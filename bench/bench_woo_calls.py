"""Benchmark: HTTP calls per product when publishing simple products to the WooCommerce emulator.

Creates --products simple products (one variant each: SKU, price, stock,
weight, one image URL), starts the WooCommerce emulator in this process
(real HTTP on loopback, OAuth 1.0a), and runs one publish job with the store's
batch size at 100 (WooCommerce's ``products/batch`` maximum), as a worker
would (``enqueue`` + ``runner.execute``). Counts every HTTP call the emulator
received (``emulator.request_log``), grouped by route.

Goal: ≤ 0.011 calls per product, i.e. one ``POST products/batch`` per 100
products plus a fixed few.

    .venv/bin/python bench/bench_woo_calls.py [--products 5000]
        [--database-url postgresql://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import BenchDatabase, Timer, make_organization, parse_args, rate  # noqa: E402
from bench_publish import describe  # noqa: E402


def simple_catalog(organization, size: int) -> None:
    from products.models import Product, Variant

    products = Product.objects.bulk_create(
        Product(organization=organization, handle=f"bench-simple-{i:05d}", sku=f"BS-{i:05d}",
                title=f"Bench simple product {i}", kind="simple", status="active",
                description=f"<p>Simple product number {i}.</p>", images=[f"https://example.com/img/{i}.jpg"])
        for i in range(size))
    Variant.objects.bulk_create(
        Variant(organization=organization, product=product, sku=product.sku, position=1,
                price=Decimal(10 + i % 90) + Decimal("0.99"), stock=i % 25, weight_grams=Decimal(100 + i % 900))
        for i, product in enumerate(products))


def main() -> None:
    args = parse_args(__doc__.splitlines()[0], default_products=5000)
    with BenchDatabase(args.database_url, keep=args.keep) as db:
        from agents import runner
        from agents.models import Job
        from agents.services import enqueue
        from stores.emulators.woocommerce import start_emulator
        from stores.models import Listing, Store

        label = db.label
        print(f"database: {label} ({db.url})")
        organization = make_organization()
        simple_catalog(organization, args.products)
        n = args.products
        print(f"catalog: {n} simple products")
        with start_emulator(port=0) as emulator:
            store = Store.objects.create(organization=organization, name="Bench WooCommerce",
                                         base_url=emulator.base_url, consumer_key=emulator.consumer_key,
                                         consumer_secret=emulator.consumer_secret, batch_size=100)
            print(f"store: WooCommerce emulator at {emulator.api_url}, batch size {store.batch_size}")
            emulator.reset_log()
            with Timer() as timer:
                job = enqueue(organization, "store.publish", store=store)
                status = runner.execute(job.pk)
            job = Job.objects.get(pk=job.pk)
            if status not in ("succeeded", "partial"):  # partial: the result counts the failed products
                raise SystemExit(f"publish job ended {status}: {job.error}\n" + "\n".join(job.log[-20:]))
            calls = list(emulator.request_log)
            in_sync = Listing.objects.filter(store=store, state="in_sync").count()
            stored = len(emulator.products())
        print(f"publish: {job.result}, {in_sync}/{n} listings in sync, {stored} products in the store")
        print(f"  calls: {describe(calls)}")
        print()
        print(f"woocommerce publish: {n} simple products, {label}, {timer.seconds:.1f} s "
              f"({rate(n, timer.seconds)} products/s), {len(calls)} HTTP calls — "
              f"{len(calls) / n:.4f} calls/product")


if __name__ == "__main__":
    main()
