"""Benchmark: how long the store page, the job metrics page, the jobs list and the dashboard take to load in
a real browser (headless chromium), served by a real daphne.

Data (scratch database): one organization; two stores, "Woo" listing 70 % and "Shop" 50 % of --products
products × 3 variants (default 5,000 products: 3,500 listings on Woo; ``bench_products_page.generate``);
288 health checks of Woo over the last 24 hours (one every 5 minutes, 1 in 30 failed), so its page draws
the latency chart; --jobs jobs over 60 days in four more stores (default 100,000;
``bench_jobs_page.make_data``), so the metrics page has every chart.

daphne runs as ``make run`` runs it (``flashfusion.asgi:application``, static files from the app
folders, DEBUG off). Chromium (``/usr/bin/chromium``, Playwright) signs in once, then loads each page
--loads times (default 5), each time in a new browser context with the session cookie and an empty
cache (a first visit). Per page: server time (``responseStart``), first contentful paint,
DOMContentLoaded and the load event (ms from navigation start, from the Navigation and Paint Timing
APIs), JavaScript bytes fetched, plotly's ``.main-svg`` count once the network is idle, and console
errors. Medians with min–max; figure last (the store page's median DOMContentLoaded).

    .venv/bin/python bench/bench_page_load.py [--products 5000] [--jobs 100000] [--loads 5]
    .venv/bin/python bench/bench_page_load.py --database-url postgresql://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness  # noqa: E402
import bench_jobs_page  # noqa: E402
import bench_products_page  # noqa: E402
from _cluster import CleanBenchDatabase  # noqa: E402
from _harness import Timer, make_organization  # noqa: E402
from _live import Daphne  # noqa: E402

_harness.SCRATCH_DB = "flashfusion_bench_page_load"  # after the imports: each of them sets its own

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
PASSWORD = "bench-only-password-1"

TIMING = """() => {
  const nav = performance.getEntriesByType("navigation")[0];
  const fcp = performance.getEntriesByType("paint").find(e => e.name === "first-contentful-paint");
  const js = performance.getEntriesByType("resource").filter(e => e.name.split("?")[0].endsWith(".js"));
  return {ttfb: nav.responseStart, fcp: fcp ? fcp.startTime : null, dcl: nav.domContentLoadedEventEnd,
          load: nav.loadEventEnd, js_bytes: js.reduce((n, e) => n + (e.encodedBodySize || 0), 0),
          scripts: js.map(e => e.name.split("/").pop()), svgs: document.querySelectorAll(".main-svg").length};
}"""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=5000, help="catalog size (default 5000)")
    parser.add_argument("--jobs", type=int, default=100_000, help="jobs over 60 days (default 100,000)")
    parser.add_argument("--loads", type=int, default=5, help="cold loads per page (default 5)")
    parser.add_argument("--database-url", default="",
                        help="postgresql://user@host:port/db (default: a temporary SQLite file)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    return parser.parse_args()


def make_data(args):
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.utils import timezone

    from flashfusion.models import Membership
    from stores.models import HealthCheck, Listing, Store

    organization = make_organization()
    stores = [Store.objects.create(organization=organization, name=name, platform=platform,
                                   base_url=f"http://127.0.0.1:9/{name.lower()}", consumer_key="k", consumer_secret="s")
              for name, platform in (("Woo", "woocommerce"), ("Shop", "shopify"))]
    with Timer() as made:
        bench_products_page.generate(organization, stores, args.products)
        bench_jobs_page.make_data(organization, args.jobs)
        woo = stores[0]
        now = timezone.now()
        checks = HealthCheck.objects.bulk_create(
            HealthCheck(store=woo, ok=i % 30 != 7, health="healthy" if i % 30 != 7 else "failing",
                        latency=0.04 + (i % 17) / 200 if i % 30 != 7 else None,
                        error="" if i % 30 != 7 else "ReadTimeout: no answer within 10 s")
            for i in range(288))
        for i, check in enumerate(checks):  # checked_at is auto_now_add: set it afterwards
            HealthCheck.objects.filter(pk=check.pk).update(checked_at=now - timedelta(minutes=5 * (288 - i)))
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    user = get_user_model().objects.create_user("bench-admin", password=PASSWORD)
    Membership.objects.create(user=user, organization=organization, role="admin")
    listings = Listing.objects.filter(store=woo).count()
    print(f"data: {args.products:,} products × 3 variants, {listings:,} listings on Woo, 288 health checks, "
          f"{args.jobs:,} jobs; generated in {made.seconds:.0f} s")
    return woo


def main() -> None:
    args = parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop daphne and drop the database
    with CleanBenchDatabase(args.database_url, keep=args.keep) as db:
        from playwright.sync_api import sync_playwright

        print(f"database: {db.label}; load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        woo = make_data(args)
        pages = [
            ("store page (chart, listings)", f"/stores/{woo.pk}/"),
            ("job metrics, 24 hours", "/jobs/metrics/?window=24h"),
            ("job metrics, 7 days", "/jobs/metrics/?window=7d"),
            ("jobs list", "/jobs/"),
            ("dashboard", "/"),
        ]
        results = {}
        with Daphne() as server, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            context = browser.new_context()
            page = context.new_page()
            page.goto(f"{server.url}/login/")
            page.get_by_label("Username").fill("bench-admin")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Log in").click()
            page.wait_for_url(lambda url: "/login/" not in url)
            state = context.storage_state()
            context.close()
            for name, path in pages:
                rows = []
                for _ in range(args.loads):
                    context = browser.new_context(storage_state=state, viewport={"width": 1280, "height": 900})
                    page = context.new_page()
                    errors = []
                    page.on("console", lambda m, errors=errors: errors.append(m.text) if m.type == "error" else None)
                    page.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
                    answer = page.goto(server.url + path, wait_until="load")
                    if answer.status != 200:
                        raise SystemExit(f"{path} answered {answer.status}")
                    page.wait_for_load_state("networkidle")
                    timing = page.evaluate(TIMING)
                    timing["errors"] = errors
                    rows.append(timing)
                    context.close()
                results[name] = rows
                print(f"{name:30} " + summary(rows))
                print(f"  scripts: {', '.join(rows[-1]['scripts'])}; plotly .main-svg: {rows[-1]['svgs']}; "
                      f"console errors: {sum(len(r['errors']) for r in rows)}"
                      + (f" ({rows[-1]['errors'][:2]})" if rows[-1]["errors"] else ""))
            browser.close()
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        print()
        store = results[pages[0][0]]
        metrics = results[pages[1][0]]
        print(f"page load, {db.label}, {args.loads} cold loads each: job metrics (24 h) DOMContentLoaded median "
              f"{statistics.median(r['dcl'] for r in metrics):.0f} ms; store page DOMContentLoaded median "
              f"{statistics.median(r['dcl'] for r in store):.0f} ms")


def summary(rows: list[dict]) -> str:
    def figure(key):
        values = [r[key] for r in rows if r[key] is not None]
        if not values:
            return f"{key} —"
        return f"{key} {statistics.median(values):6.0f} ({min(values):.0f}–{max(values):.0f})"

    js = statistics.median(r["js_bytes"] for r in rows) / 1024
    return f"ms: {figure('ttfb')}  {figure('fcp')}  {figure('dcl')}  {figure('load')}; JS {js:,.0f} KiB"


if __name__ == "__main__":
    main()
