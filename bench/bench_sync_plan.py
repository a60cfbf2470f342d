"""Benchmark: planning a sync of a 100,000-product catalog — full, and incremental after 100 products changed.

Issue 5's goal: the incremental plan after 100 changes takes under 1 s and
does not grow with the catalog (its queries are indexed: products updated or
deleted after the store's sync cursor, listings not in sync). Measured with
the Sync agent's own ``plan()`` for a WooCommerce store whose every product
is listed and in sync (no HTTP: planning reads the database and builds
payloads only). Also run at a tenth of the size to show the incremental
figure stays flat while the full plan grows.

    .venv/bin/python bench/bench_sync_plan.py                 # SQLite, 100,000 products × 3 variants
    .venv/bin/python bench/bench_sync_plan.py --database-url postgresql://postgres@127.0.0.1:5432/postgres
    .venv/bin/python bench/bench_sync_plan.py --products 10000

Prints the data size, then per plan: seconds, queries, products considered;
the incremental plan's seconds last.
"""

from __future__ import annotations

import sys
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import BenchDatabase, QueryCounter, parse_args  # noqa: E402

CHANGED = 100
VARIANTS = 3


def build_catalog(org, store, count: int) -> None:
    """``count`` variable products × 3 variants, each listed on ``store`` and in sync, written in chunks."""
    from django.db import transaction
    from django.utils import timezone

    from products.models import Product, Variant
    from stores.models import Listing

    chunk = 2000
    past = timezone.now() - timedelta(days=1)
    for start in range(0, count, chunk):
        with transaction.atomic():
            products = Product.objects.bulk_create([
                Product(organization=org, handle=f"tee-{n}", title=f"Trail tee {n}", kind="variable", status="active",
                        sku=f"TEE-{n}", options=[{"name": "Size", "values": ["S", "M", "L"]}])
                for n in range(start, min(count, start + chunk))
            ])
            Variant.objects.bulk_create([
                Variant(organization=org, product=p, sku=f"{p.sku}-{size}", position=i, price=Decimal("19.99"),
                        stock=10, option_values={"Size": size})
                for p in products for i, size in enumerate(["S", "M", "L"])
            ])
            Listing.objects.bulk_create([
                Listing(organization=org, store=store, product=p, external_id=str(p.pk), state="in_sync",
                        content_hash="", last_synced_at=past)
                for p in products
            ])
        Product.objects.filter(pk__in=[p.pk for p in products]).update(updated_at=past)


def settle_hashes(store) -> None:
    """Give every listing the hash of what the plugin would send now (so the catalog counts as in sync)."""
    from django.db import transaction

    from products.models import Product, hash_json
    from stores.models import Listing

    plugin = store.plugin()
    updates = []
    for product in Product.objects.filter(organization_id=store.organization_id).prefetch_related("variants").iterator(chunk_size=2000):
        updates.append(Listing(pk=None, product_id=product.pk, content_hash=hash_json(plugin.build_payload(product))))
    with transaction.atomic():
        by_product = {lst.product_id: lst for lst in Listing.objects.filter(store=store).only("pk", "product_id")}
        rows = []
        for u in updates:
            row = by_product[u.product_id]
            row.content_hash = u.content_hash
            rows.append(row)
        Listing.objects.bulk_update(rows, ["content_hash"], batch_size=2000)


def time_plan(store, strategy: str):
    from agents.models import Job
    from agents.sync import SyncAgent

    job = Job(organization_id=store.organization_id, kind="store.publish", store=store, params={"strategy": strategy})
    job.pk = 0
    job.add_log = lambda line: None
    agent = SyncAgent(job)
    counter = QueryCounter()
    started = time.perf_counter()
    with counter.counting():
        plan = agent.plan()
    return time.perf_counter() - started, counter.count, agent.considered, plan


def main() -> None:
    args = parse_args(__doc__.splitlines()[0], default_products=100_000)
    with BenchDatabase(args.database_url, keep=args.keep) as db:
        from django.utils import timezone

        from flashfusion.models import Organization
        from products.models import Product, Variant
        from stores.models import Store

        org = Organization.objects.create(name="Bench Outfitters", slug="bench")
        store = Store.objects.create(organization=org, name="Bench Woo", base_url="http://127.0.0.1:9",
                                     consumer_key="ck", consumer_secret="cs")
        started = time.perf_counter()
        build_catalog(org, store, args.products)
        settle_hashes(store)
        Store.objects.filter(pk=store.pk).update(sync_cursor=timezone.now())
        store.refresh_from_db()
        print(f"{db.label}: {args.products:,} products × {VARIANTS} variants, all listed and in sync "
              f"(built in {time.perf_counter() - started:.1f} s)")

        full_s, full_q, full_n, full_plan = time_plan(store, "full")
        print(f"full plan: {full_s:.2f} s, {full_q} queries, {full_n:,} products considered, "
              f"{full_plan.total} writes planned")

        time.sleep(0.01)
        changed = list(Product.objects.filter(organization=org).order_by("?").values_list("pk", flat=True)[:CHANGED])
        for variant in Variant.objects.filter(product_id__in=changed, position=0):
            variant.price = Decimal("17.99")
            variant.save(update_fields=["price"])
        Product.objects.filter(pk__in=changed).update(updated_at=timezone.now())
        incr_s, incr_q, incr_n, incr_plan = time_plan(store, "incremental")
        assert incr_plan.total == CHANGED and incr_n == CHANGED, (incr_plan.total, incr_n)
        print(f"incremental plan after {CHANGED} products changed: {incr_n} products considered, "
              f"{len(incr_plan.update)} updates planned, {incr_q} queries")
        print(f"incremental plan time ({args.products:,} products, {CHANGED} changed): {incr_s:.3f} s")


if __name__ == "__main__":
    main()
