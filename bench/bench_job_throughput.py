"""Benchmark: jobs completed per second with trivial work, 2 workers, against bare django-q2 tasks on the same cluster.

A real cluster (``manage.py qcluster``, ``Q_WORKERS=2``, the product's
``Q_CLUSTER`` but ``save_limit`` 0, see ``bench/bench_settings.py``) is
started and left idle; then, in turn (``--rounds`` times):

* bare: ``async_task("bench_settings.noop_task")`` --jobs times in a burst;
  done when q2 has saved a Success row for each (``Task.stopped`` of the
  last one is the end);
* ours: ``agents.services.enqueue(org, "bench.noop")`` --jobs times in a
  burst (each one a job row, an event and, after commit, a q2 task
  ``agents.runner.run_next`` that drains runnable jobs); done when every job
  is ``succeeded`` (the latest ``finished_at`` is the end).

Each figure is --jobs ÷ (end − first submit); the submits run in this process
while the workers run, as in production. Between runs the queue drains and
the cluster idles a second. ``--profile DIR`` makes each worker write a
cProfile of the tasks it ran (``DIR/worker-<pid>.prof``).

    .venv/bin/python bench/bench_job_throughput.py [--jobs 2000] [--rounds 1]
        [--database-url postgresql://postgres@127.0.0.1:5432/postgres [--redis-url redis://127.0.0.1:6379/0]]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _cluster import Cluster, JobBenchDatabase  # noqa: E402
from _harness import make_organization  # noqa: E402

SCRATCH = "flashfusion_bench_throughput"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2000, help="jobs (and bare tasks) per run (default 2000)")
    parser.add_argument("--rounds", type=int, default=1, help="bare + ours runs, alternating (default 1)")
    parser.add_argument("--workers", type=int, default=2, help="Q_WORKERS (default 2)")
    parser.add_argument("--database-url", default="", help="postgresql://user@host:port/db (default: a temporary SQLite file)")
    parser.add_argument("--redis-url", default="", help="redis://host:port/db: q2 uses its Redis broker (default: the ORM broker)")
    parser.add_argument("--profile", default="", help="directory for the workers' cProfile output")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    return parser.parse_args()


def wait_until(predicate, timeout: float, every: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit("timed out waiting for the run to finish")
        time.sleep(every)


def run_bare(n: int) -> tuple[float, datetime, datetime]:
    from django_q.models import Success
    from django_q.tasks import async_task

    func = "bench_settings.noop_task"
    before = Success.objects.filter(func=func).count()
    first = datetime.now(timezone.utc)
    for _ in range(n):
        async_task(func, task_name="bench-bare", group="bench-bare")
    submitted = datetime.now(timezone.utc)
    wait_until(lambda: Success.objects.filter(func=func).count() >= before + n, timeout=600)
    last = Success.objects.filter(func=func, started__gte=first).order_by("-stopped").values_list("stopped", flat=True).first()
    return (last - first).total_seconds(), first, submitted


def run_ours(n: int, organization) -> tuple[float, datetime, datetime]:
    from agents.models import Job
    from agents.services import enqueue

    first = datetime.now(timezone.utc)
    ids = [enqueue(organization, "bench.noop").pk for _ in range(n)]
    submitted = datetime.now(timezone.utc)
    jobs = Job.objects.filter(pk__gte=ids[0], pk__lte=ids[-1])
    wait_until(lambda: jobs.filter(status="succeeded").count() >= n, timeout=600)
    if jobs.exclude(status="succeeded").exists():
        raise SystemExit("some bench jobs did not succeed")
    last = jobs.order_by("-finished_at").values_list("finished_at", flat=True).first()
    return (last - first).total_seconds(), first, submitted


def pg_sessions() -> int | None:
    """Sessions ever opened on the scratch database (PostgreSQL's statistics), ``None`` on SQLite."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
        return cursor.fetchone()[0]


def main() -> None:
    args = parse_args()
    if args.redis_url and not args.database_url:
        raise SystemExit("--redis-url goes with --database-url (the Redis broker is measured on PostgreSQL)")
    with JobBenchDatabase(args.database_url, keep=args.keep, redis_url=args.redis_url, scratch=SCRATCH) as db:
        from django.db import connection

        label = db.label
        organization = make_organization()
        print(f"database: {label} ({db.url}); django-q2 {db.broker_label}, {args.workers} workers; "
              f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        profile_dir = os.path.abspath(args.profile) if args.profile else ""
        if profile_dir:
            os.makedirs(profile_dir, exist_ok=True)
        results: dict[str, list[float]] = {"bare": [], "ours": []}
        connection.close()
        with Cluster(workers=args.workers, profile_dir=profile_dir) as cluster:
            for round_number in range(1, args.rounds + 1):
                for name in ("bare", "ours"):
                    cluster.wait_idle()
                    load = os.getloadavg()[0]
                    sessions = pg_sessions()
                    if name == "bare":
                        seconds, first, submitted = run_bare(args.jobs)
                    else:
                        seconds, first, submitted = run_ours(args.jobs, organization)
                    per_second = args.jobs / seconds
                    results[name].append(per_second)
                    what = "bare q2 tasks" if name == "bare" else "our jobs     "
                    drained = time.monotonic()
                    cluster.wait_idle(settle=0.0, timeout=1800)
                    drained = time.monotonic() - drained
                    opened = pg_sessions() - sessions if sessions is not None else None
                    print(f"round {round_number} {what}: {args.jobs} in {seconds:.2f} s = {per_second:.1f}/s "
                          f"(submitting took {(submitted - first).total_seconds():.2f} s; q2's queue empty "
                          f"{drained:.1f} s after the last one finished; load {load:.2f}"
                          + (f"; PostgreSQL sessions opened: {opened:,}, {opened / args.jobs:.1f} per task" if opened is not None else "")
                          + ")")
        bare, ours = statistics.median(results["bare"]), statistics.median(results["ours"])
        if profile_dir:
            print(f"worker profiles: {profile_dir}/worker-*.prof")
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        print()
        broker = db.broker_label
        print(f"throughput, {args.jobs} trivial jobs, {args.workers} workers, {label}, {broker}: "
              f"bare django-q2 {bare:.1f} tasks/s, ours {ours:.1f} jobs/s — ours/bare {ours / bare:.0%}")


if __name__ == "__main__":
    main()
