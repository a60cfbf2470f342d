"""Benchmark: catalog import (parse_catalog + apply_catalog) of a generated WooCommerce CSV.

Imports the demo catalog (``products.demo.demo_catalog_csv``) of --products
products into an empty organization, then imports the same file again (the
no-change path: nothing written). Prints seconds, products/s and SQL
statements for each.

    .venv/bin/python bench/bench_import.py [--products 5000]
        [--database-url postgresql://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import BenchDatabase, QueryCounter, Timer, make_organization, parse_args, rate  # noqa: E402


def timed_import(organization, text: str):
    from products.importers import apply_catalog, parse_catalog

    counter = QueryCounter()
    with Timer() as parse_timer:
        products = parse_catalog("woocommerce", text)
    with counter.counting(), Timer() as apply_timer:
        counts = apply_catalog(organization, products)
    return counts, parse_timer.seconds, apply_timer.seconds, counter.count


def main() -> None:
    args = parse_args(__doc__.splitlines()[0], default_products=5000)
    with BenchDatabase(args.database_url, keep=args.keep) as db:
        from products.demo import DEFAULT_SEED, demo_catalog_csv
        from products.importers import parse_catalog
        from products.models import Product, Variant

        label = db.label
        with Timer() as generate:
            text = demo_catalog_csv(args.products, DEFAULT_SEED)
        rows = text.count("\n") - 1
        print(f"database: {label} ({db.url})")
        print(f"catalog: demo_catalog_csv({args.products}, seed={DEFAULT_SEED}): {rows} CSV rows, "
              f"{len(text.encode()) / 1e6:.1f} MB, generated in {generate.seconds:.2f} s (not timed below)")
        organization = make_organization()
        parse_catalog("woocommerce", demo_catalog_csv(5, DEFAULT_SEED))  # warm-up: lazy imports, regex compiles

        first, parse1, apply1, queries1 = timed_import(organization, text)
        total1 = parse1 + apply1
        n, variants = first["products"], first["variants"]
        print(f"import #1 (empty catalog): created {first['created']}, updated {first['updated']}, "
              f"unchanged {first['unchanged']}; parse {parse1:.2f} s + apply {apply1:.2f} s = {total1:.2f} s, "
              f"{queries1} SQL statements")
        print(f"  in the database: {Product.objects.filter(organization=organization).count()} products, "
              f"{Variant.objects.filter(organization=organization).count()} variants")

        second, parse2, apply2, queries2 = timed_import(organization, text)
        total2 = parse2 + apply2
        print(f"import #2 (same file, no change): created {second['created']}, updated {second['updated']}, "
              f"unchanged {second['unchanged']}; parse {parse2:.2f} s + apply {apply2:.2f} s = {total2:.2f} s, "
              f"{queries2} SQL statements")
        print()
        print(f"import: {n} products, {variants} variants, {label}, {total1:.2f} s, {queries1} queries — "
              f"{rate(n, total1)} products/s")
        print(f"re-import (no change): {n} products, {variants} variants, {label}, {total2:.2f} s, "
              f"{queries2} queries — {rate(n, total2)} products/s")


if __name__ == "__main__":
    main()
