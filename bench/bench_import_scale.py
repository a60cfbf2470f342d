"""Benchmark: a 20,000 × 5 variants import end to end (parse + chunked write), peak RSS of worker and web.

Worker: this process parses a generated WooCommerce CSV (--products variable products with 5 sizes
each) and writes it with ``products.importers.apply_catalog`` in chunks (settings
CATALOG_IMPORT_CHUNK_PRODUCTS / _PAUSE_SECONDS), as the ``catalog.import`` job does; its peak RSS is
this process's. Web: a real daphne with ``flashfusion.daphne_uploads`` installed receives a 100 MiB
multipart upload (``tests/daphne_app/upload_app.py``: the body read as Django's ASGI handler reads
it); its peak RSS is the daphne process's. Prints import seconds, products/s and both peaks (figure last).

    .venv/bin/python bench/bench_import_scale.py [--products 20000]
        [--database-url postgresql://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import resource
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _harness import BenchDatabase, Timer, make_organization, parse_args, rate  # noqa: E402

SIZES = ["XS", "S", "M", "L", "XL"]


def catalog_csv(count: int) -> str:
    """A WooCommerce product CSV: ``count`` variable products, each with 5 size variations."""
    from products.demo import _Writer

    writer = _Writer()
    for n in range(count):
        sku = f"SC-{n:06d}"
        writer.row(Type="variable", SKU=sku, Name=f"Scale Tee {n}", **{
            "Attribute 1 name": "Size", "Attribute 1 value(s)": ", ".join(SIZES), "Attribute 1 visible": 1,
            "Attribute 1 global": 1, "Description": f"Tee number {n}, cotton.",
        })
        for position, size in enumerate(SIZES, 1):
            writer.row(Type="variation", SKU=f"{sku}-{size}", Name=f"Scale Tee {n} - {size}", Parent=sku,
                       Position=position, Stock=5, **{"Regular price": "19.00", "Attribute 1 name": "Size",
                                                      "Attribute 1 value(s)": size, "Attribute 1 global": 1})
    return writer.text()


def web_peak_mib(megabytes: int = 100) -> float:
    """Peak RSS (MiB) of a daphne (with flashfusion.daphne_uploads) receiving a ``megabytes`` MiB upload."""
    from tests.test_daphne_uploads import _serve, _stop, _upload

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.csv"
        with open(path, "wb") as out:
            piece = b"x" * (1024 * 1024)
            for _ in range(megabytes):
                out.write(piece)
        child, port = _serve(Path(tmp), True)
        try:
            answer, _, _ = _upload(port, path)
        finally:
            _stop([child])
    return answer["peak_rss_mib"]


def main() -> None:
    args = parse_args(__doc__.splitlines()[0], default_products=20000)
    with BenchDatabase(args.database_url, keep=args.keep) as db:
        from products.importers import apply_catalog, parse_catalog

        # First, while this process is small: a child inherits its parent's peak RSS figure at fork.
        web = web_peak_mib()
        organization = make_organization()
        text = catalog_csv(args.products)
        with Timer() as total:
            with Timer() as parse_timer:
                products = parse_catalog("woocommerce", text)
            del text
            with Timer() as write_timer:
                counts = apply_catalog(organization, products)
        worker = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        variants = sum(len(p.variants) for p in products)
        print(f"database: {db.label}; {args.products} products × 5 variants ({variants} variants), "
              f"counts {counts}")
        print(f"parse {parse_timer.seconds:.1f} s, chunked write {write_timer.seconds:.1f} s")
        print(f"import {total.seconds:.1f} s end to end, {rate(args.products, total.seconds)} products/s")
        print(f"peak RSS: worker {worker:.0f} MiB (parse + write, file text generated in-process); "
              f"web {web:.0f} MiB for a 100 MiB upload")


if __name__ == "__main__":
    main()
