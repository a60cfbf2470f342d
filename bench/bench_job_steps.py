"""Benchmark: where one trivial job's time goes, step by step and statement by statement, in one process.

No cluster: this process does what the submitter and a worker do for a
``bench.noop`` job, --jobs times, and times each step with the SQL it sends
(grouped by statement shape) and the database connections it opens:

* submit: ``agents.services.enqueue`` (job row, event, and after commit
  ``wake_workers`` → ``async_task`` → q2's broker), against a bare
  ``async_task`` of a trivial function;
* claim: ``Job.claim_next``; run: ``runner._run`` of the claimed job (policy,
  lease thread, alarm, handler, ``succeed``).

The q2 side that both share (the worker's dequeue, the monitor's save of the
Task row, the acknowledgement) is not in here; ``bench_job_throughput.py``
measures the whole. django-q2's ORM broker calls ``close_old_connections()``
on every use in autocommit mode, which with ``CONN_MAX_AGE`` 0 closes the
connection, so the next statement opens a new one: counted as "connections".

    .venv/bin/python bench/bench_job_steps.py [--jobs 300]
        [--database-url postgresql://postgres@127.0.0.1:5432/postgres [--redis-url redis://127.0.0.1:6379/0]]
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _cluster import JobBenchDatabase, _drop_redis_keys  # noqa: E402
from _harness import make_organization  # noqa: E402

SCRATCH = "flashfusion_bench_steps"


class StatementTimer:
    def __init__(self):
        self.by_shape: dict[str, list] = defaultdict(lambda: [0, 0.0])

    def __call__(self, execute, sql, params, many, context):
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            entry = self.by_shape[shape(sql)]
            entry[0] += 1
            entry[1] += time.perf_counter() - start


def shape(sql: str) -> str:
    sql = re.sub(r'"', "", sql)
    m = re.match(r"(SELECT pg_advisory_xact_lock|SAVEPOINT|RELEASE SAVEPOINT|INSERT INTO \w+|UPDATE \w+ SET \w+|DELETE FROM \w+)", sql)
    if m:
        return m.group(1)
    m = re.match(r"SELECT (.{0,40}?) FROM (\w+)( INNER JOIN \w+| LEFT OUTER JOIN \w+)?(?: WHERE (.{0,60}))?", sql)
    if m:
        return f"SELECT {m.group(1)[:25]}… FROM {m.group(2)}{m.group(3) or ''} WHERE {(m.group(4) or '')[:50]}"
    return sql[:70]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=300)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--redis-url", default="")
    parser.add_argument("--keep", action="store_true")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    with JobBenchDatabase(args.database_url, keep=args.keep, redis_url=args.redis_url, scratch=SCRATCH) as db:
        try:
            measure_steps(args, db)
        finally:
            _drop_redis_keys()  # no cluster drains the tasks queued here


def measure_steps(args, db) -> None:
    from django.db import connection
    from django.db.backends.signals import connection_created
    from django_q.tasks import async_task

    from agents import runner
    from agents.models import Job
    from agents.services import enqueue

    label = db.label
    organization = make_organization()
    print(f"database: {label}; django-q2 {db.broker_label}; {args.jobs} jobs, one process, no cluster")
    opened = [0]
    connection_created.connect(lambda sender, **kw: opened.__setitem__(0, opened[0] + 1), weak=False)

    def report(name, timer, seconds, connections, n, cpu):
        sql = sum(v[1] for v in timer.by_shape.values())
        print(f"\n{name}: {seconds / n * 1000:.2f} ms each, CPU {cpu / n * 1000:.2f} ms ({sql / n * 1000:.2f} ms in "
              f"{sum(v[0] for v in timer.by_shape.values()) / n:.1f} statements, "
              f"{connections / n:.1f} connections opened)")
        for key, (count, took) in sorted(timer.by_shape.items(), key=lambda kv: -kv[1][1])[:12]:
            print(f"  {took / n * 1000:6.2f} ms  {count / n:4.1f}×  {key}")
        return seconds / n

    def measure(name, fn, n):
        timer = StatementTimer()
        before = opened[0]
        with connection.execute_wrapper(timer):
            start, cpu = time.perf_counter(), time.process_time()
            for _ in range(n):
                fn()
            seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        return report(name, timer, seconds, opened[0] - before, n, cpu)

    bare = measure("bare submit: async_task(noop_task)", lambda: async_task("bench_settings.noop_task"), args.jobs)
    submit = measure("our submit: enqueue(org, 'bench.noop')", lambda: enqueue(organization, "bench.noop"), args.jobs)
    # claim and run alternate (claimed jobs count against the concurrency limit), each timed on its own
    claim_timer, run_timer = StatementTimer(), StatementTimer()
    claim_s = run_s = claim_cpu = run_cpu = 0.0
    claim_opened = run_opened = 0
    for _ in range(args.jobs):
        before = opened[0]
        with connection.execute_wrapper(claim_timer):
            start, cpu = time.perf_counter(), time.process_time()
            job = Job.claim_next()
            claim_s += time.perf_counter() - start
            claim_cpu += time.process_time() - cpu
        claim_opened += opened[0] - before
        before = opened[0]
        with connection.execute_wrapper(run_timer):
            start, cpu = time.perf_counter(), time.process_time()
            runner._run(job)
            run_s += time.perf_counter() - start
            run_cpu += time.process_time() - cpu
        run_opened += opened[0] - before
    claim = report("claim: Job.claim_next()", claim_timer, claim_s, claim_opened, args.jobs, claim_cpu)
    run = report("run: runner._run(job) (policy, breaker, lease thread, alarm, noop handler, succeed)",
                 run_timer, run_s, run_opened, args.jobs, run_cpu)
    empty = measure("claim with nothing runnable (what the extra run_next tasks do)", lambda: Job.claim_next(), 50)
    assert Job.objects.filter(status="succeeded").count() == args.jobs
    print()
    print(f"one trivial job, {label}: our submit {submit * 1000:.2f} ms vs bare {bare * 1000:.2f} ms; "
          f"claim {claim * 1000:.2f} ms + run {run * 1000:.2f} ms; an empty claim {empty * 1000:.2f} ms")


if __name__ == "__main__":
    main()
