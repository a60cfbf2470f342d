"""Strict readers for settings that come from the environment.

Each helper either returns a valid value or raises ``ImproperlyConfigured``
naming the variable and the accepted form, so a bad value stops start-up
with a message instead of surfacing later as an odd failure.
"""

import os
from pathlib import Path
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str | None = None) -> str:
    """Return ``$name`` or ``default``; raise if neither is set."""
    value = os.environ.get(name)
    if value is None:
        if default is None:
            raise ImproperlyConfigured(f"{name} must be set.")
        return default
    return value


def env_bool(name: str, default: bool) -> bool:
    """Parse ``$name`` as a boolean (1/0, true/false, yes/no, on/off)."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    lowered = raw.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean; use 1/0, true/false, yes/no or on/off.")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    """Parse ``$name`` as an integer, at least ``minimum`` when given."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer.") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name}={value} is below the minimum of {minimum}.")
    return value


def env_float(name: str, default: float, *, minimum: float | None = None) -> float:
    """Parse ``$name`` as a number (seconds, say), at least ``minimum`` when given."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a number.") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name}={value} is below the minimum of {minimum}.")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    """Parse ``$name`` as a comma-separated list; empty items are dropped."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_database(name: str, default_sqlite_path: Path) -> dict:
    """Return a Django ``DATABASES['default']`` dict from ``$name``.

    Accepts ``sqlite:///absolute/path.sqlite3`` or ``postgres://`` /
    ``postgresql://`` URLs. Unset means a SQLite file at ``default_sqlite_path``.
    PostgreSQL sessions get ``random_page_cost`` = ``$PG_RANDOM_PAGE_COST``
    (default 1.1, the PostgreSQL docs' figure for SSDs; 0 keeps the server's).
    SQLite gets IMMEDIATE transactions, a 20 s busy timeout and WAL, without
    which concurrent workers fail with "database is locked" (DESIGN.md).
    """
    import dj_database_url

    raw = os.environ.get(name) or f"sqlite:///{default_sqlite_path}"
    scheme = urlsplit(raw).scheme
    if scheme not in {"sqlite", "postgres", "postgresql", "pgsql"}:
        raise ImproperlyConfigured(
            f"{name}={raw!r}: scheme {scheme!r} is not supported; use sqlite:///path or postgresql://user@host:port/db."
        )
    config = dj_database_url.parse(raw, conn_max_age=0, conn_health_checks=True)
    if config["ENGINE"] == "django.db.backends.sqlite3":
        if not config["NAME"] or config["NAME"] == ":memory:":
            raise ImproperlyConfigured(f"{name}: SQLite needs a file path (sqlite:///path/to/db.sqlite3).")
        Path(config["NAME"]).parent.mkdir(parents=True, exist_ok=True)
        config["OPTIONS"] = {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
        # A file (not :memory:) so test child processes (daphne, workers) share it;
        # one per process so two test runs on one machine never clobber each other.
        config["TEST"] = {"NAME": str(Path(config["NAME"]).with_suffix(f".test-{os.getpid()}.sqlite3"))}
    else:
        # One test database per test process, as for SQLite: two suites on one
        # server (a developer's and CI's) never drop each other's database.
        config["TEST"] = {"NAME": f"test_{config['NAME']}_{os.getpid()}"}
        # PostgreSQL's default random_page_cost (4) models spinning disks; its docs suggest about 1.1 for
        # SSDs. At 4 the products list's search joined its matches against a scan of every product
        # (53 ms against 23 ms at 100,000 products, bench/bench_products_page.py). 0 keeps the server's.
        cost = env_float("PG_RANDOM_PAGE_COST", 1.1, minimum=0)
        if cost:
            config.setdefault("OPTIONS", {})["options"] = f"-c random_page_cost={cost:g}"
    return config


def env_public_url(name: str) -> str:
    """Return ``$name`` as a base URL (``https://flashfusion.example.com``, an optional path prefix, no
    trailing slash); ``""`` when unset or empty.

    Accepts http:// and https:// URLs with a host and no query, fragment or
    credentials (stores are given URLs built on it, e.g. webhook delivery URLs).
    """
    raw = os.environ.get(name, "").strip()
    if not raw:
        return ""
    parts = urlsplit(raw)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ImproperlyConfigured(f"{name}={raw!r} must be an http:// or https:// URL with a host, "
                                   "e.g. https://flashfusion.example.com.")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ImproperlyConfigured(f"{name}={raw!r}: give the base URL alone, without a query, a fragment or "
                                   "credentials.")
    try:
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r}: the port is not a number from 1 to 65535.") from None
    return raw.rstrip("/")


def env_redis_url(name: str) -> str | None:
    """Return ``$name`` when it is a redis:// or rediss:// URL, ``None`` when unset."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    if urlsplit(raw).scheme not in {"redis", "rediss"}:
        raise ImproperlyConfigured(f"{name}={raw!r} must start with redis:// or rediss://.")
    return raw
