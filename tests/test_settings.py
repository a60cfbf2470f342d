"""Settings read from the environment: a bad value stops start-up and names the variable."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SETUP = "import django; django.setup(); from django.conf import settings; "
PRINT_DATABASES = SETUP + "print(settings.DATABASES)"
# Variables the settings read; every case starts without them.
SETTINGS_VARIABLES = (
    "DATABASE_URL",
    "REDIS_URL",
    "SECRET_KEY",
    "DEBUG",
    "ALLOWED_HOSTS",
    "FIELD_ENCRYPTION_KEY",
    "DJANGO_ALLOW_ASYNC_UNSAFE",
    "PG_RANDOM_PAGE_COST",
    "PUBLIC_BASE_URL",
)


def run_settings(code: str, **env: str) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh Python with the project's settings and ``env`` on a clean environment."""
    base = {k: v for k, v in os.environ.items() if k not in SETTINGS_VARIABLES}
    base["DJANGO_SETTINGS_MODULE"] = "flashfusion.settings"
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
        ({"REDIS_URL": "http://x"}, "REDIS_URL"),
        ({"DEBUG": "maybe"}, "DEBUG"),
        ({"DEBUG": "0"}, "SECRET_KEY"),
        ({"PUBLIC_BASE_URL": "flashfusion.example.com"}, "PUBLIC_BASE_URL"),
        ({"PUBLIC_BASE_URL": "https://ff.example.com/?x=1"}, "PUBLIC_BASE_URL"),
    ],
    ids=["database-url-mysql", "redis-url-http", "debug-not-boolean", "debug-off-without-secret-key",
         "public-url-without-scheme", "public-url-with-query"],
)
def test_bad_value_stops_start_up_naming_the_variable(env, variable):
    result = run_settings(PRINT_DATABASES, **env)

    assert result.returncode != 0, result.stdout
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("django.core.exceptions.ImproperlyConfigured:"), result.stderr
    assert variable in last_line


def test_default_database_is_sqlite_under_var_with_immediate_transactions_and_wal():
    result = run_settings(SETUP + "import json; print(json.dumps(settings.DATABASES['default'], default=str))")

    assert result.returncode == 0, result.stderr
    database = json.loads(result.stdout)
    assert database["ENGINE"] == "django.db.backends.sqlite3"
    assert Path(database["NAME"]) == ROOT / "var" / "flashfusion.sqlite3"
    assert database["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert database["OPTIONS"]["timeout"] > 0
    assert "journal_mode=WAL" in database["OPTIONS"]["init_command"]
    # The test database is a file too, so browser tests' child processes can open it.
    assert Path(database["TEST"]["NAME"]).parent == ROOT / "var"


def test_sqlite_connection_runs_in_wal_mode(tmp_path):
    path = tmp_path / "wal.sqlite3"
    code = SETUP + (
        "from django.db import connection\n"
        "with connection.cursor() as cursor:\n"
        "    cursor.execute('PRAGMA journal_mode')\n"
        "    print(cursor.fetchone()[0])\n"
    )

    result = run_settings(code, DATABASE_URL=f"sqlite:///{path}")

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "wal"


def test_valid_values_start():
    result = run_settings(
        PRINT_DATABASES,
        DATABASE_URL="postgresql://flash@127.0.0.1:5432/flashfusion",
        REDIS_URL="redis://127.0.0.1:6379/0",
        DEBUG="0",
        SECRET_KEY="a-long-random-secret-for-this-test-only",
    )

    assert result.returncode == 0, result.stderr
    assert "django.db.backends.postgresql" in result.stdout


def test_postgresql_sessions_plan_for_ssd_unless_told_otherwise():
    code = SETUP + "print(settings.DATABASES['default'].get('OPTIONS', {}).get('options', ''))"
    url = "postgresql://flash@127.0.0.1:5432/flashfusion"
    assert run_settings(code, DATABASE_URL=url).stdout.strip() == "-c random_page_cost=1.1"
    assert run_settings(code, DATABASE_URL=url, PG_RANDOM_PAGE_COST="0").stdout.strip() == ""
    refused = run_settings(code, DATABASE_URL=url, PG_RANDOM_PAGE_COST="fast")
    assert refused.returncode != 0 and "PG_RANDOM_PAGE_COST" in refused.stderr.strip().splitlines()[-1]


def test_the_public_url_loses_its_trailing_slash():
    result = run_settings(SETUP + "print(settings.PUBLIC_BASE_URL)", PUBLIC_BASE_URL="https://ff.example.com/shop/")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "https://ff.example.com/shop"
