"""Shared set-up for the benchmarks: a throwaway database, Django, timers and a query counter.

Each benchmark runs against its OWN database, never ``var/flashfusion.sqlite3``:

* default: a SQLite file in a new temporary directory (same options as the
  product: IMMEDIATE transactions, WAL), removed at the end;
* ``--database-url postgresql://user@host:port/<db>``: ``<db>`` is only used
  to connect; the benchmark (re)creates the scratch database
  ``flashfusion_bench_<script>`` on that server and drops it at the end.

Settings are forced to production-like values for the run: ``DEBUG`` off
(no query log kept in memory), no Redis, django-q2 not in sync mode (jobs
are executed by the benchmark itself, not by ``async_task``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
# One scratch database per benchmark script, so two benchmarks can run at once on one server.
SCRATCH_DB = "flashfusion_bench_" + "".join(c if c.isalnum() else "_" for c in Path(sys.argv[0]).stem)[:40]


def parse_args(description: str, default_products: int) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--products", type=int, default=default_products, help=f"catalog size (default {default_products})"
    )
    parser.add_argument(
        "--database-url",
        default="",
        help="postgresql://user@host:port/db: run on a scratch database "
        f"{SCRATCH_DB!r} on that server (created and dropped). Default: a temporary SQLite file.",
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch database afterwards (to inspect it)")
    return parser.parse_args()


class BenchDatabase:
    """Creates the throwaway database, points Django at it, migrates, and removes it on exit."""

    def __init__(self, database_url: str, keep: bool = False):
        self.source_url = database_url
        self.keep = keep
        self.tempdir: str | None = None
        self.admin_url: str | None = None
        self.url = ""

    def __enter__(self) -> BenchDatabase:
        if not self.source_url or urlsplit(self.source_url).scheme == "sqlite":
            if self.source_url:
                raise SystemExit("--database-url: give a postgresql:// URL; SQLite always uses a temporary file")
            self.tempdir = tempfile.mkdtemp(prefix="flashfusion-bench-")
            self.url = f"sqlite:///{self.tempdir}/bench.sqlite3"
        else:
            parts = urlsplit(self.source_url)
            if parts.scheme not in {"postgres", "postgresql", "pgsql"}:
                raise SystemExit(f"--database-url: unsupported scheme {parts.scheme!r}")
            connect_db = parts.path.lstrip("/") or "postgres"
            if connect_db == SCRATCH_DB:
                connect_db = "postgres"
            self.admin_url = urlunsplit(parts._replace(scheme="postgresql", path=f"/{connect_db}"))
            self.url = urlunsplit(parts._replace(scheme="postgresql", path=f"/{SCRATCH_DB}"))
            self._admin(f'DROP DATABASE IF EXISTS "{SCRATCH_DB}" WITH (FORCE)')
            self._admin(f'CREATE DATABASE "{SCRATCH_DB}"')
        self._setup_django()
        return self

    def __exit__(self, *exc) -> None:
        from django.db import connections

        connections.close_all()
        if self.keep:
            print(f"kept the scratch database: {self.url}")
            return
        if self.tempdir:
            shutil.rmtree(self.tempdir, ignore_errors=True)
        if self.admin_url:
            self._admin(f'DROP DATABASE IF EXISTS "{SCRATCH_DB}" WITH (FORCE)')

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(sql)

    def _setup_django(self) -> None:
        os.environ["DATABASE_URL"] = self.url
        os.environ["DJANGO_SETTINGS_MODULE"] = "flashfusion.settings"
        os.environ["DEBUG"] = "0"
        os.environ.setdefault("SECRET_KEY", "flashfusion-bench-only-not-a-real-secret")
        os.environ.pop("REDIS_URL", None)
        os.environ["Q_SYNC"] = "0"
        os.environ.setdefault("LOG_LEVEL", "WARNING")
        if str(ROOT) not in sys.path:
            sys.path.insert(0, str(ROOT))
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0, interactive=False)

    @property
    def label(self) -> str:
        from django.db import connection

        if connection.vendor == "postgresql":
            version = connection.cursor().connection.info.server_version  # e.g. 150020
            return f"PostgreSQL {version // 10000}.{version % 10000}"
        if connection.vendor == "sqlite":
            import sqlite3

            return f"SQLite {sqlite3.sqlite_version}"
        return connection.vendor


class QueryCounter:
    """Counts SQL statements sent on the default connection (``executemany`` counts once)."""

    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)

    @contextmanager
    def counting(self):
        from django.db import connection

        with connection.execute_wrapper(self):
            yield self


class Timer:
    def __enter__(self) -> Timer:
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self.start


def rate(count: int, seconds: float) -> str:
    return f"{count / seconds:,.0f}" if seconds > 0 else "inf"


def make_organization(slug: str = "bench"):
    from flashfusion.models import Organization

    return Organization.objects.create(name="Bench Outfitters", slug=slug)
