"""Shared set-up for the job benchmarks: the scratch database with ``bench_settings``, and a real q2 cluster.

``JobBenchDatabase`` is ``_harness.BenchDatabase`` with Django set up from
``bench/bench_settings.py`` (a ``bench.noop`` job kind and a trivial q2 task)
and, with ``redis_url``, ``REDIS_URL`` kept, so q2 uses its Redis broker.
``Cluster`` starts ``manage.py qcluster`` as a child process in its own
process group with that environment, waits until it has run a task, and at
the end stops the whole group (SIGTERM, then SIGKILL) and removes the
cluster's Redis keys.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _harness
from _harness import ROOT, BenchDatabase

BENCH_DIR = Path(__file__).resolve().parent


class CleanBenchDatabase(BenchDatabase):
    """``BenchDatabase`` that also drops the scratch database when setting up Django fails (e.g. a migration)."""

    def _setup_django(self) -> None:
        try:
            self._setup()
        except BaseException:
            self.__exit__()
            raise

    def _setup(self) -> None:
        super()._setup_django()


class JobBenchDatabase(CleanBenchDatabase):
    """``scratch``: the scratch database's name on PostgreSQL (each job benchmark its own, so two running at
    once never drop each other's)."""

    def __init__(self, database_url: str, keep: bool = False, redis_url: str = "", scratch: str = "flashfusion_bench_jobs"):
        super().__init__(database_url, keep=keep)
        self.redis_url = redis_url
        self.scratch = scratch
        self.cluster_name = f"ffbench{os.getpid()}"

    def __enter__(self) -> JobBenchDatabase:
        _harness.SCRATCH_DB = self.scratch
        return super().__enter__()

    def _setup(self) -> None:
        os.environ["DATABASE_URL"] = self.url
        os.environ["DJANGO_SETTINGS_MODULE"] = "bench_settings"
        os.environ["DEBUG"] = "0"
        os.environ.setdefault("SECRET_KEY", "flashfusion-bench-only-not-a-real-secret")
        os.environ.pop("REDIS_URL", None)
        if self.redis_url:
            os.environ["REDIS_URL"] = self.redis_url
        os.environ["Q_SYNC"] = "0"
        os.environ["Q_CLUSTER_NAME"] = self.cluster_name
        os.environ.setdefault("LOG_LEVEL", "WARNING")
        for path in (str(ROOT), str(BENCH_DIR)):
            if path not in sys.path:
                sys.path.insert(0, path)
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0, interactive=False)

    @property
    def broker_label(self) -> str:
        return broker_label()


def broker_label() -> str:
    """Which django-q2 broker the settings chose, in words."""
    from django.conf import settings

    conf = settings.Q_CLUSTER
    if conf.get("broker_class"):
        return f"{conf['broker_class'].rsplit('.', 1)[-1]} broker (poll {conf['poll']:g} s)"
    if "redis" in conf:
        return "Redis broker (BLPOP)"
    return f"ORM broker (polling every {conf['poll']:g} s)"


def queue_size() -> int:
    """Tasks in q2's queue, taken or not (ORM: rows not yet acknowledged; Redis: the list's length)."""
    from django.conf import settings
    from django_q.brokers import get_broker

    if "orm" in settings.Q_CLUSTER:
        from django_q.models import OrmQ

        return OrmQ.objects.count()
    return get_broker().queue_size()


class Cluster:
    """``manage.py qcluster`` with ``workers`` workers, in its own process group; stopped (all of it) on exit."""

    def __init__(self, workers: int = 2, profile_dir: str = ""):
        self.workers = workers
        self.profile_dir = profile_dir
        self.process: subprocess.Popen | None = None
        self.log = tempfile.NamedTemporaryFile(prefix="ffbench-qcluster-", suffix=".log", delete=False)

    def __enter__(self) -> Cluster:
        env = dict(os.environ)
        env["Q_WORKERS"] = str(self.workers)
        env["PYTHONPATH"] = os.pathsep.join([str(BENCH_DIR), str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
        env["LOG_LEVEL"] = "WARNING"
        if self.profile_dir:
            env["BENCH_PROFILE"] = self.profile_dir
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), "qcluster"], cwd=ROOT, env=env,
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        try:
            self._wait_ready()
        except BaseException as error:
            self.__exit__(type(error), error, None)
            raise
        return self

    def _wait_ready(self, timeout: float = 60.0) -> None:
        """Up when it has run a task; then idle when q2's queue is empty (its start-up schedules included)."""
        from django_q.models import Task
        from django_q.tasks import async_task

        task_id = async_task("bench_settings.noop_task", task_name="bench-warm-up")
        deadline = time.monotonic() + timeout
        while not Task.objects.filter(id=task_id).exists():
            if self.process.poll() is not None:
                raise SystemExit(f"qcluster exited with {self.process.returncode}; log: {self.log.name}")
            if time.monotonic() > deadline:
                raise SystemExit(f"qcluster did not run a task within {timeout:.0f} s; log: {self.log.name}")
            time.sleep(0.05)
        self.wait_idle()

    def wait_idle(self, settle: float = 1.0, timeout: float = 120.0) -> None:
        """Until q2's queue has been empty for ``settle`` seconds."""
        deadline = time.monotonic() + timeout
        empty_since = None
        while time.monotonic() < deadline:
            if queue_size() == 0:
                empty_since = empty_since or time.monotonic()
                if time.monotonic() - empty_since >= settle:
                    return
            else:
                empty_since = None
            time.sleep(0.05)
        raise SystemExit("q2's queue did not drain")

    def __exit__(self, *exc) -> None:
        process = self.process
        if process is not None and process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
            except ProcessLookupError:
                pass
        if process is not None:
            try:  # workers left behind by a cluster that exited on its own
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.log.close()
        _drop_redis_keys()
        if not exc or exc[0] is None:
            os.unlink(self.log.name)
        else:
            print(f"qcluster log kept: {self.log.name}")


def _drop_redis_keys() -> None:
    from django.conf import settings

    if not settings.REDIS_URL:
        return
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL)
    name = settings.Q_CLUSTER["name"]
    for key in client.scan_iter(match=f"*{name}*"):
        client.delete(key)
    client.close()
