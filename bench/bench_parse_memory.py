"""Benchmark: peak memory and time of parsing a large catalog file (``parse_catalog`` read from a file).

Writes a WooCommerce product CSV of --products variable products with
--variants variations each (default 20,000 × 5 = 120,000 data rows, with
descriptions, images, categories and two attributes, like a real store's
export) to a temporary file, then parses it in a CHILD process, so that its
peak RSS (``resource.getrusage(RUSAGE_SELF).ru_maxrss``) holds only the
parse: Django set up (no database), the file opened and read as a stream by
``parse_catalog("woocommerce", file)``. ``--whole-text`` reads the file into
one string first and parses that (how the importer read files before
issue 12), for comparison. Prints the file size, products and variants
read, the child's RSS after start-up and its peak, and the parse seconds;
peak RSS last.

The worker's goal in issue 12 is ≤ 400 MB for the whole import of
20,000 × 5; the parse is the biggest part of it.

    .venv/bin/python bench/bench_parse_memory.py [--products 20000] [--variants 5] [--whole-text]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

HEADER = [
    "ID", "Type", "SKU", "Name", "Published", "Short description", "Description", "Stock",
    "Weight (kg)", "Length (cm)", "Width (cm)", "Height (cm)", "Sale price", "Regular price",
    "Categories", "Tags", "Images", "Parent", "Position",
    "Attribute 1 name", "Attribute 1 value(s)", "Attribute 2 name", "Attribute 2 value(s)",
]  # fmt: skip
COLORS = ["Black", "Slate Blue", "Forest Green", "Ember Orange", "Sand"]
SIZES = ["XS", "S", "M", "L", "XL", "XXL", "3XL", "4XL"]
TEXT = (
    "A hard-wearing everyday piece cut from recycled fibres, with flat-locked seams, "
    "a brushed inner face and reinforced stress points. Machine wash cold, tumble dry low. "
)


def write_catalog(path: Path, products: int, variants: int) -> None:
    """WooCommerce CSV: ``products`` variable parents, each followed by ``variants`` variation rows."""
    next_id = 1000
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(HEADER)
        for n in range(products):
            sku = f"BENCH-{n:06d}"
            parent_id = next_id
            next_id += 1
            colors = COLORS[: max(1, (variants + len(SIZES) - 1) // len(SIZES))]
            sizes = SIZES[: min(len(SIZES), variants)]
            images = ", ".join(f"https://cdn.example.com/p/{sku.lower()}-{i}.jpg" for i in range(1, 4))
            writer.writerow([
                parent_id, "variable", sku, f"Trail Shirt {n}", 1, "Soft, quick-drying trail shirt.", TEXT * 3, "",
                "0.35", "30", "25", "3", "", "", "Clothing > Shirts, Outdoor", "trail, summer", images, "", 0,
                "Color", ", ".join(colors), "Size", ", ".join(sizes),
            ])  # fmt: skip
            combos = [(c, s) for c in colors for s in sizes][:variants]
            for position, (color, size) in enumerate(combos, start=1):
                writer.writerow([
                    next_id, "variation", f"{sku}-{position}", f"Trail Shirt {n} - {color}, {size}", 1, "", "",
                    17 + position, "", "", "", "", "", f"{24 + position}.00", "", "",
                    f"https://cdn.example.com/p/{sku.lower()}-v{position}.jpg", sku, position,
                    "Color", color, "Size", size,
                ])  # fmt: skip
                next_id += 1


def child(path: str, whole_text: bool) -> None:
    """Run in the child process: set up Django (no database), parse the file, print JSON figures."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flashfusion.settings")
    os.environ.setdefault("SECRET_KEY", "flashfusion-bench-only-not-a-real-secret")
    os.environ["DEBUG"] = "0"
    os.environ.pop("REDIS_URL", None)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from products.importers import parse_catalog

    parse_catalog("woocommerce", "Type,SKU,Name\nsimple,warm-up,Warm-up\n")  # lazy imports, regex compiles
    start_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    with open(path, encoding="utf-8", newline="") as handle:
        source = handle.read() if whole_text else handle
        products = parse_catalog("woocommerce", source)
        del source
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(json.dumps({
        "products": len(products), "variants": sum(len(p.variants) for p in products),
        "start_kib": start_rss, "peak_kib": peak, "seconds": seconds,
    }))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=20000)
    parser.add_argument("--variants", type=int, default=5)
    parser.add_argument("--whole-text", action="store_true", help="read the file into one string, then parse it")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.whole_text)
        return
    with tempfile.TemporaryDirectory(prefix="flashfusion-bench-parse-") as tmp:
        path = Path(tmp) / "catalog.csv"
        started = time.perf_counter()
        write_catalog(path, args.products, args.variants)
        print(f"file: WooCommerce CSV, {args.products} variable products × {args.variants} variations, "
              f"{path.stat().st_size / 1e6:.1f} MB, written in {time.perf_counter() - started:.1f} s (not timed below)")
        command = [sys.executable, __file__, "--child", str(path)] + (["--whole-text"] if args.whole_text else [])
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            print(result.stderr, file=sys.stderr)
            raise SystemExit(result.returncode)
        figures = json.loads(result.stdout.strip().splitlines()[-1])
    mode = "whole text in one string" if args.whole_text else "streamed from the open file"
    print(f"parse ({mode}): {figures['products']} products, {figures['variants']} variants "
          f"in {figures['seconds']:.1f} s")
    print(f"child process RSS after Django start-up: {figures['start_kib'] / 1024:.0f} MiB")
    print(f"peak RSS of the parsing process: {figures['peak_kib'] / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
