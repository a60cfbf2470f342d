"""Benchmark: pickup latency of a job, from enqueue to the start of its first attempt, on an idle 2-worker cluster.

A real cluster (``manage.py qcluster``, ``Q_WORKERS=2``, ``bench/bench_settings.py``)
is started and left idle. Then --samples ``bench.noop`` jobs are queued one
at a time through ``agents.services.enqueue`` (which wakes a worker after
commit), with a random gap of --min-gap to --max-gap seconds (default 0.2–0.5 s)
between them, so each job finds the cluster idle. Latency of a job:
``JobAttempt.started_at`` of its first attempt − ``Job.created_at`` (both
``timezone.now()`` on one machine: this process and the worker's). Prints
p50, p95, p99 and max.

Modes: the default SQLite file (ORM broker, polling every ``Q_POLL`` s);
``--database-url postgresql://…`` (ORM broker); with ``--redis-url`` too, the
Redis broker (a worker waits in BLPOP and gets the task at once).

    .venv/bin/python bench/bench_job_pickup.py [--samples 200]
    .venv/bin/python bench/bench_job_pickup.py --database-url postgresql://postgres@127.0.0.1:5432/postgres
    .venv/bin/python bench/bench_job_pickup.py --database-url postgresql://postgres@127.0.0.1:5432/postgres \\
        --redis-url redis://127.0.0.1:6379/0
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _cluster import Cluster, JobBenchDatabase  # noqa: E402
from _harness import make_organization  # noqa: E402

SCRATCH = "flashfusion_bench_pickup"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=200, help="jobs queued one at a time (default 200)")
    parser.add_argument("--min-gap", type=float, default=0.2, help="shortest gap between two jobs, seconds (default 0.2)")
    parser.add_argument("--max-gap", type=float, default=0.5, help="longest gap between two jobs, seconds (default 0.5)")
    parser.add_argument("--workers", type=int, default=2, help="Q_WORKERS (default 2)")
    parser.add_argument("--database-url", default="", help="postgresql://user@host:port/db (default: a temporary SQLite file)")
    parser.add_argument("--redis-url", default="", help="redis://host:port/db: q2 uses its Redis broker (default: the ORM broker)")
    parser.add_argument("--seed", type=int, default=4, help="seed of the random gaps (default 4)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    return parser.parse_args()


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    k = max(0, min(len(sorted_values) - 1, int(round(p / 100 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]


def main() -> None:
    args = parse_args()
    if args.redis_url and not args.database_url:
        raise SystemExit("--redis-url goes with --database-url (the Redis broker is measured on PostgreSQL)")
    rng = random.Random(args.seed)
    with JobBenchDatabase(args.database_url, keep=args.keep, redis_url=args.redis_url, scratch=SCRATCH) as db:
        from django.db import connection

        from agents.models import Job, JobAttempt
        from agents.services import enqueue

        label = db.label
        organization = make_organization()
        print(f"database: {label} ({db.url}); django-q2 {db.broker_label}, {args.workers} workers; "
              f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        connection.close()
        ids = []
        with Cluster(workers=args.workers) as cluster:
            loads = []
            for _ in range(args.samples):
                time.sleep(rng.uniform(args.min_gap, args.max_gap))
                ids.append(enqueue(organization, "bench.noop").pk)
                if len(ids) % 20 == 0:
                    loads.append(os.getloadavg()[0])
            deadline = time.monotonic() + 60
            while Job.objects.filter(pk__in=ids, status="succeeded").count() < len(ids):
                if time.monotonic() > deadline:
                    raise SystemExit("not every job ran within 60 s of the last enqueue")
                time.sleep(0.05)
            cluster.wait_idle(settle=0.2)
        created = dict(Job.objects.filter(pk__in=ids).values_list("pk", "created_at"))
        started = dict(JobAttempt.objects.filter(job_id__in=ids, number=1).values_list("job_id", "started_at"))
        latencies = sorted((started[pk] - created[pk]).total_seconds() * 1000 for pk in ids)
        p50, p95, p99 = (percentile(latencies, p) for p in (50, 95, 99))
        mode = db.broker_label
        print(f"samples: {len(latencies)}, gaps {args.min_gap}–{args.max_gap} s; min {latencies[0]:.1f} ms, "
              f"mean {sum(latencies) / len(latencies):.1f} ms, p99 {p99:.1f} ms, max {latencies[-1]:.1f} ms; "
              f"load average during: {min(loads):.2f}–{max(loads):.2f}")
        print()
        print(f"pickup latency (enqueue → attempt started), {label}, {mode}, {args.workers} idle workers: "
              f"p50 {p50:.1f} ms, p95 {p95:.1f} ms")


if __name__ == "__main__":
    main()
