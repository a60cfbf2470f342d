"""Benchmark: the jobs list under 20 people browsing it at once, while a worker publishes a catalog.

Data (scratch database): one organization with --rows jobs over 60 days (default 100,000;
``bench_jobs_page.make_data``: four stores, the statuses, kinds, errors and summaries described there)
and the demo catalog of --products products (default 500, ~2,500 variants), published by one
``store.publish`` job to the WooCommerce emulator.

Processes, all real (``JOB_RETENTION_DAYS=90`` for them all, so the workers' prune keeps the 60 days of
data): daphne serving the product (``_live.Daphne``, DEBUG off, no Redis: the web
process relays events from the event table to its websockets), a django-q2 cluster with one worker
(``_cluster.Cluster``), the WooCommerce emulator (``manage.py woo_emulator``, its own process), and
this process driving --clients clients (default 20), each a thread with its own session of a signed-in
viewer (``httpx``; the session made in the database as Django's ``force_login`` makes it) and the live
websocket the jobs page opens (``/ws/live/?regions=jobs``). A client acts as a
person on the jobs page: it applies one of the common filters below (in turn) as the page's filter form
does (an htmx request for the table), except every fifth time, when it opens the whole page with that
filter (arriving from another page or a link); it reads the result for --think seconds on average
(uniform between half and one and a half times that; default 1.0), and while it reads, does what htmx
does on the page: each "jobs-changed" signal that arrives over the socket reloads the table (the same
URL as an htmx request, after the delay the table's ``hx-trigger="jobs-changed from:body delay:…ms"``
names, counted from the last signal of a burst).

Two phases of --seconds each (default 30): *idle* (nothing running), then *publish* (the publish job
is queued at the start; the phase lasts until it has finished, and at least --seconds; at most
--max-publish seconds, default 600, after which the job's state is reported as it is). Time of a
request = from sending it to the last byte of the answer, measured by the client on loopback: the
server's time including any wait for the single daphne process. Prints per phase and scenario the
requests, p50 and p95; then per phase all requests together; figure last (p95 of all requests during the
publish). Goal: p95 ≤ 150 ms.

    .venv/bin/python bench/bench_jobs_concurrency.py [--rows 100000] [--clients 20] [--seconds 30]
    .venv/bin/python bench/bench_jobs_concurrency.py --database-url postgresql://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_jobs_page  # noqa: E402
from _cluster import Cluster, JobBenchDatabase  # noqa: E402
from _harness import ROOT, Timer, make_organization  # noqa: E402
from _live import BIN, Daphne, LiveSocket, free_port, session_client  # noqa: E402

PASSWORD = "bench-only-password-1"
GOAL_MS = 150.0
SIGNAL = 'data-signal="jobs-changed"'
TRIGGER = re.compile(r'hx-trigger="jobs-changed from:body delay:(\d+)ms"')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="jobs in the organization (default 100,000)")
    parser.add_argument("--products", type=int, default=500, help="catalog published meanwhile (default 500)")
    parser.add_argument("--clients", type=int, default=20, help="concurrent clients (default 20)")
    parser.add_argument("--think", type=float, default=1.0, help="mean seconds a client reads a page (default 1.0)")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of each phase (default 30)")
    parser.add_argument("--max-publish", type=float, default=600.0, help="longest publish phase, s (default 600)")
    parser.add_argument("--database-url", default="",
                        help="postgresql://user@host:port/db (default: a temporary SQLite file)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    return parser.parse_args()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, int(round(p / 100 * len(ordered) + 0.5)) - 1))]


class Recorder:
    """Request times (ms) by (phase, scenario); ``phase`` is switched by the main thread."""

    def __init__(self):
        self.phase = "warm-up"
        self.times: dict[tuple[str, str], list[float]] = defaultdict(list)
        self.errors: dict[str, int] = defaultdict(int)
        self.lock = threading.Lock()

    def add(self, scenario: str, ms: float, ok: bool) -> None:
        with self.lock:
            if not ok:
                self.errors[self.phase] += 1
            self.times[(self.phase, scenario)].append(ms)


class Browsing(threading.Thread):
    """One person on the jobs page (see the module docstring)."""

    def __init__(self, index: int, base_url: str, user, filters, recorder: Recorder, think: float, stop):
        super().__init__(daemon=True)
        self.index, self.filters, self.recorder, self.think, self.stop = index, filters, recorder, think, stop
        self.random = random.Random(index)
        self.client = session_client(base_url, user)
        cookies = "; ".join(f"{name}={value}" for name, value in self.client.cookies.items())
        self.signal = threading.Event()
        self.last_signal = 0.0
        self.delay = 0.25  # seconds; each answer's table says its own
        self.socket = LiveSocket(base_url, "/ws/live/?regions=jobs", cookies, self._message)

    def _message(self, text: str) -> None:
        if SIGNAL in text:
            self.last_signal = time.monotonic()
            self.signal.set()

    def _get(self, scenario: str, params: dict, htmx: bool) -> None:
        headers = {"HX-Request": "true", "HX-Target": "object-table"} if htmx else {}
        start = time.perf_counter()
        try:
            answer = self.client.get("/jobs/", params=params, headers=headers)
            ok = answer.status_code == 200
        except Exception:
            ok = False
        self.recorder.add(scenario, (time.perf_counter() - start) * 1000, ok)
        if ok and (trigger := TRIGGER.search(answer.text)):
            self.delay = int(trigger.group(1)) / 1000

    def run(self) -> None:
        turn = self.index
        while not self.stop.is_set():
            name, params = self.filters[turn % len(self.filters)]
            whole = (turn - self.index) % 5 == 0  # the first action of each client, then every fifth
            turn += 1
            if whole:
                self._get("whole page (any of the filters)", params, htmx=False)
            else:
                self._get(f"filter: {name} (htmx)", params, htmx=True)
            leave = time.monotonic() + self.random.uniform(self.think / 2, self.think * 1.5)
            while not self.stop.is_set() and time.monotonic() < leave:
                if not self.signal.wait(timeout=max(0.0, leave - time.monotonic())):
                    break
                # htmx's delay: the reload goes out 250 ms after the last signal of a burst.
                while (wait := self.last_signal + self.delay - time.monotonic()) > 0:
                    time.sleep(wait)
                self.signal.clear()
                self._get("live reload (htmx, same filters)", params, htmx=True)

    def close(self) -> None:
        self.socket.close()
        self.client.close()


class WooEmulator:
    """``manage.py woo_emulator`` in its own process (in memory), so its work is not in this process."""

    def __init__(self):
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> WooEmulator:
        import httpx

        self.process = subprocess.Popen(
            [str(BIN / "python"), "manage.py", "woo_emulator", "--port", str(self.port), "--state", ""],
            cwd=ROOT, env={**os.environ, "DJANGO_SETTINGS_MODULE": "flashfusion.settings"},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                httpx.get(self.base_url + "/wp-json/", timeout=1)
                return self
            except httpx.HTTPError:
                time.sleep(0.2)
        raise SystemExit("the WooCommerce emulator did not start")

    def __exit__(self, *exc) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def main() -> None:
    args = parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the children and drop the database
    # The data spans 60 days: with the default 14-day retention the workers' first prune would delete most
    # of it while the clients browse. The children (daphne, the cluster) inherit this environment.
    os.environ["JOB_RETENTION_DAYS"] = "90"
    with JobBenchDatabase(args.database_url, keep=args.keep, scratch="flashfusion_bench_jobs_concurrency") as db:
        from django.contrib.auth import get_user_model
        from django.db import connections

        from agents.models import Job
        from agents.services import enqueue
        from flashfusion.models import Membership
        from products.demo import DEFAULT_SEED, demo_catalog_csv
        from products.importers import apply_catalog, parse_catalog
        from stores.models import Listing, Store

        print(f"database: {db.label}; load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        organization = make_organization()
        with Timer() as made:
            stores, _ = bench_jobs_page.make_data(organization, args.rows)
            catalog = parse_catalog("woocommerce", demo_catalog_csv(args.products, DEFAULT_SEED))
            counts = apply_catalog(organization, catalog)
        user = get_user_model().objects.create_user("bench-viewer", password=PASSWORD)
        Membership.objects.create(user=user, organization=organization, role="viewer")
        print(f"data: {Job.objects.count():,} jobs, {counts['products']:,} products ({counts['variants']:,} variants); "
              f"made in {made.seconds:.0f} s")
        store = stores[1]
        filters = [
            ("unfiltered", {}),
            ("status=running", {"status": "running"}),
            ("status=dead", {"status": "dead"}),
            (f"store={store.name}", {"store": store.pk}),
            ("kind=store.publish", {"kind": "store.publish"}),
            ("status=dead & store", {"status": "dead", "store": store.pk}),
            ("q=Unauthorized", {"q": "Unauthorized"}),
            ("sort=-finished_at", {"sort": "-finished_at"}),
        ]
        connections.close_all()
        recorder = Recorder()
        stop = threading.Event()
        with WooEmulator() as emulator, Cluster(workers=1) as cluster, Daphne("flashfusion.settings") as server:
            shop = Store.objects.create(organization=organization, name="Bench Woo (emulator)",
                                        base_url=emulator.base_url, consumer_key="ck_demo", consumer_secret="cs_demo")
            clients = [Browsing(i, server.url, user, filters, recorder, args.think, stop) for i in range(args.clients)]
            for client in clients:
                client.start()
            time.sleep(3)  # every client has loaded a page and opened its socket
            phases = []
            recorder.phase = "idle"
            with Timer() as idle:
                time.sleep(args.seconds)
            phases.append(("idle", idle.seconds, ""))
            recorder.phase = "publish"
            with Timer() as publishing:
                job = enqueue(organization, "store.publish", store=shop)
                started = time.monotonic()
                while True:
                    job.refresh_from_db()
                    if job.is_finished and time.monotonic() - started >= args.seconds:
                        break
                    if time.monotonic() - started > args.max_publish:
                        break  # reported as it is (a publish still running, or waiting to retry)
                    time.sleep(0.5)
            listed = Listing.objects.filter(store=shop, state="in_sync").count()
            took = f"in {(job.finished_at - job.created_at).total_seconds():.1f} s" if job.finished_at else "so far"
            phases.append(("publish", publishing.seconds,
                           f"job #{job.pk} {job.status} {took}, attempt {job.attempts}, {listed:,} listings in sync"))
            recorder.phase = "done"
            stop.set()
            for client in clients:
                client.join(timeout=30)
                client.close()
            cluster.wait_idle(timeout=60)
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        print()
        print(f"{args.clients} clients, think time {args.think:g} s mean, {args.rows:,} jobs, {db.label}")
        overall = {}
        for phase, seconds, note in phases:
            errors = recorder.errors.get(phase, 0)
            print(f"phase {phase} ({seconds:.0f} s{'; ' + note if note else ''}; errors: {errors}):")
            every = []
            for (name_phase, scenario), times in sorted(recorder.times.items()):
                if name_phase != phase:
                    continue
                every += times
                print(f"  {scenario:36} {len(times):5} requests  p50 {statistics.median(times):7.1f} ms  "
                      f"p95 {percentile(times, 95):7.1f} ms")
            overall[phase] = every
            print(f"  {'all':36} {len(every):5} requests  p50 {statistics.median(every):7.1f} ms  "
                  f"p95 {percentile(every, 95):7.1f} ms  ({len(every) / seconds:.1f} requests/s)")
        print()
        during = overall["publish"]
        print(f"jobs list, {args.clients} clients, {args.rows:,} jobs, {db.label}: idle p95 "
              f"{percentile(overall['idle'], 95):.1f} ms; during the publish p50 {statistics.median(during):.1f} ms, "
              f"p95 {percentile(during, 95):.1f} ms (goal ≤ {GOAL_MS:.0f})")


if __name__ == "__main__":
    main()
