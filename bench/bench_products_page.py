"""Benchmark: the products list, the publishing matrix and a product page at 100,000 products × 3 variants.

Generates --products products (default 100,000), each with 3 variants, in
one organization with two stores (Woo lists 70 % of the products, Shop 50 %;
listing states about 85 % in sync, 7 % pending, 5 % error, 3 % conflict),
then requests each page scenario --repeat times (default 15) with Django's
test ``Client`` as a signed-in operator and prints p50 / p95 server time
(the whole request in this process: middleware, queries, table rendering).
Goal: p95 ≤ 150 ms. Each line also gives the SQL statements of one request and
their time, to tell database time from rendering. For a scenario over the goal it prints its slowest SQL
statement and the database's plan for it (EXPLAIN ANALYZE on PostgreSQL,
EXPLAIN QUERY PLAN on SQLite).

    .venv/bin/python bench/bench_products_page.py [--products 100000] [--repeat 15]
        [--database-url postgresql://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness  # noqa: E402
from _harness import BenchDatabase, Timer, make_organization  # noqa: E402

# Our own scratch database name: other benchmarks may create and drop ``flashfusion_bench`` meanwhile.
_harness.SCRATCH_DB = SCRATCH_DB = "flashfusion_bench_products"

GOAL_MS = 150
VARIANTS = 3
ADJECTIVES = ["Alpine", "Kestrel", "Granite", "Summit", "Harbor", "Cedar", "Falcon", "Glacier", "Meadow", "Orbit",
              "Pioneer", "Quartz", "Ridge", "Sierra", "Tundra", "Urban", "Vista", "Willow", "Yukon", "Zephyr"]
NOUNS = ["Tent", "Headlamp", "Backpack", "Jacket", "Beanie", "Mug", "Stove", "Rope", "Boots", "Gloves",
         "Lantern", "Sleeping Bag", "Hammock", "Compass", "Bottle", "Poles", "Cap", "Fleece", "Socks", "Tarp"]
STATES = [("in_sync", 85), ("pending", 7), ("error", 5), ("conflict", 3)]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=100_000, help="catalog size (default 100000)")
    parser.add_argument("--repeat", type=int, default=15, help="requests per scenario (default 15)")
    parser.add_argument("--database-url", default="", help="postgresql://user@host:port/db: run on a scratch "
                        f"database {SCRATCH_DB!r} on that server (created and dropped). Default: a temporary SQLite file.")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database afterwards")
    return parser.parse_args()


def generate(organization, stores, n: int) -> None:
    """Products, variants and listings with one ``INSERT … SELECT`` each over a generated series of numbers
    (``generate_series`` on PostgreSQL, a recursive CTE on SQLite); prices, stock and states are spread
    deterministically by id. Then each product's stock total is stored as migration 0004 stores it (with the
REINDEX it does on PostgreSQL)."""
    from django.db import connection, transaction

    pg = connection.vendor == "postgresql"
    words = [(i, ADJECTIVES[i], NOUNS[i]) for i in range(20)]
    series = "generate_series(0, %s - 1) AS g(i)" if pg else "g"
    cte = "" if pg else "WITH RECURSIVE g(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM g WHERE i < %s - 1) "
    pad = "lpad(g.i::text, 6, '0')" if pg else "printf('%%06d', g.i)"
    ago = "now() - g.i * interval '1 second'" if pg else "strftime('%%Y-%%m-%%d %%H:%%M:%%f', 'now', '-' || g.i || ' seconds')"
    now = "now()" if pg else "strftime('%%Y-%%m-%%d %%H:%%M:%%f', 'now')"
    statuses = "CASE WHEN g.i %% 20 < 16 THEN 'active' WHEN g.i %% 20 < 19 THEN 'draft' ELSE 'archived' END"
    org = organization.pk
    zero_hash = "0" * 64
    size_json = """('{"Size": "' || v.size || '"}')""" + ("::jsonb" if pg else "")
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE bench_words (idx integer, adj varchar(40), noun varchar(40))")
        cursor.executemany("INSERT INTO bench_words VALUES (%s, %s, %s)", words)
        cursor.execute(
            cte + "INSERT INTO products_product (organization_id, handle, sku, title, kind, status, description, "
            "short_description, vendor, product_type, categories, tags, options, images, external_url, button_text, "
            "grouped_skus, downloads, weight_grams, created_at, updated_at, deleted_at) "
            f"SELECT {org}, 'p-' || {pad}, 'FF-' || {pad}, a.adj || ' ' || b.noun || ' ' || {pad}, "
            f"CASE WHEN g.i %% 10 < 7 THEN 'variable' ELSE 'simple' END, {statuses}, '', '', '', '', "
            f"'[]', '[]', '[]', '[]', '', '', '[]', '[]', NULL, {now}, {ago}, NULL "
            f"FROM {series} JOIN bench_words a ON a.idx = g.i %% 20 JOIN bench_words b ON b.idx = (g.i / 20) %% 20",
            [n],
        )
        cursor.execute(
            "INSERT INTO products_variant (organization_id, product_id, sku, position, price, compare_at_price, stock, "
            "option_values, image_url, barcode, weight_grams) "
            f"SELECT {org}, p.id, p.sku || '-' || v.j, v.j, ((p.id * 7919 + v.j * 104729) %% 29500 + 500) / 100.0, NULL, "
            "CASE WHEN (p.id * 31 + v.j) %% 20 = 0 THEN NULL ELSE (p.id * 13 + v.j * 7) %% 60 END, "
            + size_json + ", '', '', NULL "
            "FROM products_product p CROSS JOIN (SELECT 1 AS j, 'S' AS size UNION ALL SELECT 2, 'M' UNION ALL SELECT 3, 'L') v "
            f"WHERE p.organization_id = {org}",
            [],
        )
        states = ("CASE WHEN (p.id * 53) %% 100 < 85 THEN 'in_sync' WHEN (p.id * 53) %% 100 < 92 THEN 'pending' "
                  "WHEN (p.id * 53) %% 100 < 97 THEN 'error' ELSE 'conflict' END")
        for store, share, salt in ((stores[0], 70, 37), (stores[1], 50, 41)):
            cursor.execute(
                "INSERT INTO stores_listing (organization_id, store_id, product_id, external_id, variant_ids, content_hash, "
                "field_hashes, remote_snapshot, state, last_error, last_synced_at) "
                f"SELECT {org}, {store.pk}, p.id, 'ext-' || p.id, '{{}}', '{zero_hash}', '{{}}', '{{}}', {states}, "
                f"CASE WHEN (p.id * 53) %% 100 BETWEEN 92 AND 96 THEN 'Rejected: sku already used' ELSE '' END, {now} "
                f"FROM products_product p WHERE p.organization_id = {org} AND (p.id * {salt}) %% 100 < {share}",
                [],
            )
        cursor.execute("DROP TABLE bench_words")
    from products.models import Product

    with Timer() as totals:
        Product.objects.filter(organization=organization).refresh_stock_totals()  # as migration 0004 does
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("REINDEX TABLE products_product")  # so does the migration: see there why
    print(f"stock totals stored in {totals.seconds:.1f} s")


class SlowestQuery:
    """Times every SQL statement of a request and keeps the slowest (to EXPLAIN it)."""

    def __init__(self):
        self.slowest = (0.0, "", None)
        self.count = 0
        self.seconds = 0.0

    def __call__(self, execute, sql, params, many, context):
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            elapsed = time.perf_counter() - start
            self.count += 1
            self.seconds += elapsed
            if elapsed > self.slowest[0]:
                self.slowest = (elapsed, sql, params)


def explain(sql: str, params) -> str:
    from django.db import connection

    prefix = "EXPLAIN (ANALYZE, BUFFERS) " if connection.vendor == "postgresql" else "EXPLAIN QUERY PLAN "
    with connection.cursor() as cursor:
        cursor.execute(prefix + sql, params)
        rows = cursor.fetchall()
    if connection.vendor == "postgresql":
        return "\n".join(f"    {r[0]}" for r in rows)
    return "\n".join(f"    {' '.join(str(c) for c in r[1:])}" for r in rows)


def measure(client, url: str, repeat: int) -> tuple[list[float], SlowestQuery, int]:
    from django.db import connection

    response = client.get(url)  # warm-up (and a check the page works)
    assert response.status_code == 200, (url, response.status_code)
    times, probe = [], SlowestQuery()
    for _ in range(repeat):
        with Timer() as timer:
            client.get(url)
        times.append(timer.seconds * 1000)
    with connection.execute_wrapper(probe):
        client.get(url)
    rows = response.content.decode().count("<tr ")
    return times, probe, rows


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, round(0.95 * len(ordered)) - 1)]


def main() -> None:
    args = parse_args()
    os.environ["ALLOWED_HOSTS"] = "testserver,localhost,127.0.0.1"
    with BenchDatabase(args.database_url, keep=args.keep) as db:
        from django.contrib.auth import get_user_model
        from django.db import connection
        from django.test import Client

        from flashfusion.models import Membership
        from products.models import Product
        from stores.models import Listing, Store

        label = db.label
        organization = make_organization()
        stores = [Store.objects.create(organization=organization, name=name, platform=platform,
                                       base_url=f"http://127.0.0.1:9/{name.lower()}", consumer_key="k", consumer_secret="s")
                  for name, platform in (("Woo", "woocommerce"), ("Shop", "shopify"))]
        with Timer() as gen:
            generate(organization, stores, args.products)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE")
        else:
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        counts = {s.name: Listing.objects.filter(store=s).count() for s in stores}
        print(f"database: {label}")
        print(f"data: {Product.objects.count():,} products × {VARIANTS} variants, listings {counts} "
              f"(states ~85% in sync, 7% pending, 5% error, 3% conflict), generated in {gen.seconds:.1f} s")

        user = get_user_model().objects.create_user("bench-operator", password="x")
        Membership.objects.create(user=user, organization=organization, role="operator")
        client = Client()
        client.force_login(user)
        woo = stores[0]
        middle = args.products // 2
        some_product = Product.objects.get(handle=f"p-{middle:06d}")
        scenarios = [
            ("list, unfiltered", "/products/"),
            ("list, filtered: status active + store Woo + sync error", f"/products/?status=active&store={woo.pk}&sync=error"),
            ("list, filtered: discrepancy + stock low", "/products/?discrepancy=true&stock=low"),
            ("list, filtered: stock low", "/products/?stock=low"),
            ("list, filtered: stock out", "/products/?stock=out"),
            ("list, filtered: price 20–25", "/products/?price_min=20&price_max=25"),
            ("list, sorted by title (desc)", "/products/?sort=-title"),
            ("list, sorted by updated (desc)", "/products/?sort=-updated_at"),
            ("list, sorted by price (desc)", "/products/?sort=-price_min"),
            ("list, searched by variant SKU", f"/products/?q=FF-{middle:06d}-2"),
            ("list, searched by title (one product)", f"/products/?q={some_product.title.split()[-1]}"),
            ("list, searched by title word (5% of products)", "/products/?q=kestrel"),
            ("matrix, unfiltered", "/products/matrix/"),
            ("matrix, filtered: store Woo + sync conflict", f"/products/matrix/?store={woo.pk}&sync=conflict"),
            ("product page", f"/products/{some_product.pk}/"),
        ]
        print(f"requests: {args.repeat} per scenario after one warm-up, Django test Client, operator signed in; "
              f"goal p95 ≤ {GOAL_MS} ms")
        print()
        results = []
        for name, url in scenarios:
            times, probe, rows = measure(client, url, args.repeat)
            p50, p_95 = statistics.median(times), p95(times)
            results.append((name, p50, p_95))
            flag = "" if p_95 <= GOAL_MS else "  OVER GOAL"
            print(f"{name}: {url}  ({rows} table rows; {probe.count} SQL statements, {probe.seconds * 1000:.0f} ms in SQL "
                  f"in one request) p50 {p50:.0f} ms, p95 {p_95:.0f} ms{flag}")
            if p_95 > GOAL_MS:
                seconds, sql, params = probe.slowest
                print(f"  slowest statement ({seconds * 1000:.0f} ms):\n    {sql[:1500]}")
                print(explain(sql, params))
        print()
        over = [r for r in results if r[2] > GOAL_MS]
        print(f"summary ({label}, {args.products:,} products × {VARIANTS} variants): "
              f"{len(results) - len(over)} of {len(results)} scenarios within p95 ≤ {GOAL_MS} ms"
              + (f"; over: {', '.join(r[0] for r in over)}" if over else ""))
        worst = max(results, key=lambda r: r[2])
        print(f"worst p95: {worst[0]} — {worst[2]:.0f} ms")


if __name__ == "__main__":
    main()
