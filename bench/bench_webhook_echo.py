"""Benchmark: webhooks that echo our own writes, and the pull jobs they cost.

Imports --products (default 300) demo products, starts the WooCommerce
emulator (in this process, real HTTP on loopback, OAuth 1.0a) and the real
FlashFusion web app on a threaded WSGI server on loopback (Django's own
``ThreadedWSGIServer``, the ``/webhooks/in/<token>/`` view as the product
serves it), connects a store and registers its webhooks with
``stores.webhook_registration.register`` (product created / updated /
deleted / restored, delivering to that server), then:

1. publishes the whole catalog (``store.publish`` run as a worker would);
2. applies a +2 % price change to every product through ``products.bulk.apply``
   and runs the publish job it queues.

After each, it waits until the emulator has sent every webhook and counts:
deliveries the emulator sent (one per product or variation written), ledger
rows received, how many were recognised as echoes of our write, and
``store.pull`` jobs queued (goal for the price change: 0). The emulator
delivers one webhook at a time, as WooCommerce's Action Scheduler does, so
the wait also gives the time the endpoint takes per delivery.

    .venv/bin/python bench/bench_webhook_echo.py [--products 300]
        [--database-url postgresql://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import BenchDatabase, Timer, make_organization, parse_args  # noqa: E402


def start_web_server():
    """The real WSGI app on a free loopback port, in daemon threads; returns (server, base URL)."""
    from django.core.handlers.wsgi import WSGIHandler
    from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler

    class QuietHandler(WSGIRequestHandler):
        def log_message(self, *args) -> None:  # one line per delivery would drown the figures
            return None

    server = ThreadedWSGIServer(("127.0.0.1", 0), QuietHandler, allow_reuse_address=True)
    server.daemon_threads = True
    server.set_app(WSGIHandler())
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def run_job(job) -> float:
    from agents import runner
    from agents.models import Job

    with Timer() as timer:
        status = runner.execute(job.pk)
    if status != "succeeded":
        job = Job.objects.get(pk=job.pk)
        raise SystemExit(f"job {job.pk} ({job.kind}) ended {status}: {job.error}")
    return timer.seconds


def wait_for_webhooks(emulator, since: int, started: float) -> tuple[list[dict], float]:
    """The deliveries sent after the first ``since`` (pings left out) once the queue is empty, and the seconds
    from ``started`` (perf_counter) until the last one was answered."""
    if not emulator.flush_webhooks(1800):
        raise SystemExit("the emulator still had webhooks to send after 30 minutes")
    done = time.perf_counter() - started
    sent = [d for d in emulator.webhook_deliveries[since:] if d["kind"] == "delivery"]
    return sent, done


def report(label: str, sent: list[dict], rows, pulls, seconds: float, job_seconds: float) -> None:
    answered = Counter(d["status"] for d in sent)
    statuses = Counter(rows.values_list("status", flat=True))
    print(f"{label}: the publish job took {job_seconds:.1f} s; {len(sent)} webhooks sent "
          f"({dict(Counter(d['topic'] for d in sent))}), answered {dict(answered)}, the last one "
          f"{seconds:.1f} s after the job started ({seconds / max(1, len(sent)) * 1000:.0f} ms each, one at a "
          "time, while the job ran)")
    print(f"  ledger: {rows.count()} rows, {dict(statuses)}; pull jobs queued: {pulls.count()}")


def main() -> None:
    args = parse_args(__doc__.splitlines()[0], default_products=300)
    with BenchDatabase(args.database_url, keep=args.keep) as db:
        from django.conf import settings
        from django.contrib.auth import get_user_model

        from agents.services import enqueue
        from agents.models import Job
        from flashfusion.choices import Role
        from flashfusion.models import Membership
        from products import bulk
        from products.demo import DEFAULT_SEED, demo_catalog_csv
        from products.importers import apply_catalog, parse_catalog
        from products.models import Product
        from stores.emulators.woocommerce import start_emulator
        from stores.models import Store, WebhookDelivery
        from stores.webhook_registration import register

        label = db.label
        print(f"database: {label} ({db.url})")
        organization = make_organization()
        user = get_user_model().objects.create_user("bench-operator")
        Membership.objects.create(user=user, organization=organization, role=Role.OPERATOR)
        counts = apply_catalog(organization, parse_catalog("woocommerce", demo_catalog_csv(args.products,
                                                                                             DEFAULT_SEED)))
        products, variants = counts["products"], counts["variants"]
        print(f"catalog: {products} products, {variants} variants (demo_catalog_csv, seed={DEFAULT_SEED})")

        server, base = start_web_server()
        settings.PUBLIC_BASE_URL = base
        print(f"web: the FlashFusion app at {base} (threaded WSGI server in this process)")
        with start_emulator(port=0) as emulator:
            store = Store.objects.create(organization=organization, name="Bench WooCommerce",
                                         base_url=emulator.base_url, consumer_key=emulator.consumer_key,
                                         consumer_secret=emulator.consumer_secret)
            outcome = register(store)
            if not outcome.ok:
                raise SystemExit(f"webhooks not registered: {outcome.summary()}")
            emulator.flush_webhooks(30)
            print(f"store: WooCommerce emulator at {emulator.api_url}; webhooks {outcome.summary()} → "
                  f"{outcome.address}")

            before = len(emulator.webhook_deliveries)
            started = time.perf_counter()
            first_job = enqueue(organization, "store.publish", store=store)
            first_seconds = run_job(first_job)
            sent, seconds = wait_for_webhooks(emulator, before, started)
            report("publish (empty store)", sent, WebhookDelivery.objects.filter(store=store),
                   Job.objects.filter(kind="store.pull"), seconds, first_seconds)

            mark = WebhookDelivery.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
            pulls_before = Job.objects.filter(kind="store.pull").count()
            before = len(emulator.webhook_deliveries)
            operation = bulk.Operation(kind=bulk.Kind.PRICE, mode="percent", direction="up", value=Decimal("2"))
            started = time.perf_counter()
            result = bulk.apply(organization, Product.objects.filter(organization=organization), operation, user)
            if not hasattr(result, "jobs"):
                raise SystemExit(f"the price change waits for approval ({result}); nothing was published")
            job_seconds = sum(run_job(job) for job in result.jobs)
            sent, seconds = wait_for_webhooks(emulator, before, started)
            rows = WebhookDelivery.objects.filter(store=store, pk__gt=mark)
            pulls = Job.objects.filter(kind="store.pull").order_by("pk")[pulls_before:]
            pulls = Job.objects.filter(pk__in=[j.pk for j in pulls])
            print(f"bulk change: {result.message(organization.currency)}")
            report("price change +2 % (prices written alone)", sent, rows, pulls, seconds, job_seconds)
            for job in pulls[:5]:
                run_job(job)
                job.refresh_from_db()
                print(f"  pull job #{job.pk}: {job.result}")
            received = rows.count()
            echoes = rows.filter(status="echo").count()
        server.shutdown()
        server.server_close()

        print()
        print(f"webhooks after a +2 % price change: {products} products, {variants} variants, {label}, "
              f"{len(sent)} sent, {received} received, {echoes} recognised as our own write — "
              f"{pulls.count()} pull jobs queued")


if __name__ == "__main__":
    main()
