"""A large import in a real worker process: others can still write, and a killed import resumes exactly.

Real parts: ``manage.py qcluster`` and ``daphne`` child processes on the test database (the embedded
SQLite default, or PostgreSQL in CI's second pass), a generated WooCommerce file, a login over HTTP.
(a) during a 20,000-product import, a login and a job heartbeat each answer within 1 s (issue 12:
logins answered "database is locked" after 22 s); (b) a worker SIGKILLed mid-import: the next one
resumes after the last committed chunk and the catalog ends with exactly the file's products.
"""

import http.cookiejar
import os
import re
import signal
import statistics
import sys
import time
import urllib.parse
import urllib.request

import pytest
from django.conf import settings as django_settings

from agents.models import Job, JobAttempt
from agents.services import enqueue
from products.demo import demo_catalog_csv
from products.importers import parse_catalog
from products.models import CatalogImport, Product, Variant
from products.services import start_import
from tests.browser.conftest import ROOT, _free_port, _spawn, _stop, child_env
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)  # no skip marker: CI runs these (~60 s together)


def _env(**extra):
    from django.db import connection

    return child_env(connection, CATALOG_IMPORT_ROOT=str(django_settings.CATALOG_IMPORT_ROOT), **extra)


def _wait(predicate, timeout, what, children):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    logs = "\n".join(f"--- {c.name} ---\n{c.output()[-4000:]}" for c in children)
    pytest.fail(f"{what} within {timeout} s\n{logs}", pytrace=False)


def _login_seconds(url: str, username: str) -> float:
    """Log in over HTTP (login page, then the form post with its CSRF token); seconds for the post."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    with opener.open(f"{url}/login/", timeout=30) as response:
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', response.read().decode()).group(1)
    data = urllib.parse.urlencode({"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token}).encode()
    started = time.monotonic()
    with opener.open(urllib.request.Request(f"{url}/login/", data=data, headers={"Referer": f"{url}/login/"}),
                     timeout=30) as response:
        assert response.status == 200 and "/login/" not in response.url, "the login did not go through"
    assert any(cookie.name == "sessionid" for cookie in jar)
    return time.monotonic() - started


def test_a_login_and_a_heartbeat_answer_within_a_second_during_a_20000_product_import(org, operator, tmp_path):
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = _env()  # the product's own chunk settings: the embedded default is what the issue asks about
    children = [
        _spawn("web", [str(os.path.join(os.path.dirname(sys.executable), "daphne")), "-b", "127.0.0.1", "-p",
                       str(port), "flashfusion.asgi:application"], env, tmp_path),
        _spawn("workers", [sys.executable, str(ROOT / "manage.py"), "qcluster"], env, tmp_path),
    ]
    # Another running job whose heartbeat this test sends, as a worker's lease thread would.
    other = Job.claim(enqueue(org, "store.health_check").pk, worker="other:1")
    try:
        _wait(lambda: _answers(url), 30, "the web server did not answer", children)
        job = start_import(org, format="woocommerce", filename="big.csv", text=demo_catalog_csv(count=20000),
                           user=operator)
        _wait(lambda: Job.objects.filter(pk=job.pk, progress_done__gt=0).exists(), 120,
              "the import did not start writing", children)
        logins, beats = [], []
        while Job.objects.filter(pk=job.pk, status="running").exists():
            logins.append(_login_seconds(url, operator.username))
            started = time.monotonic()
            assert other.heartbeat()
            beats.append(time.monotonic() - started)
            time.sleep(0.2)
        _wait(lambda: Job.objects.filter(pk=job.pk).exclude(status="running").exists(), 10, "no outcome",
              children)
    finally:
        _stop(children)
    job.refresh_from_db()
    assert job.status == "succeeded", job.error
    assert job.progress_done == job.progress_total == 20000
    assert Product.objects.filter(organization=org).count() == 20000
    assert len(logins) >= 3, "the import ended before the test could log in during it"
    print(f"\nduring the import: {len(logins)} logins, p50 {statistics.median(logins):.3f} s, slowest "
          f"{max(logins):.3f} s; {len(beats)} heartbeats, p50 {statistics.median(beats):.3f} s, slowest "
          f"{max(beats):.3f} s")
    # The heartbeat is one write: it measures the wait for SQLite's write lock. A login also hashes the
    # password (PBKDF2, ~0.6 s on CI's 2 shared cores while the worker parses), so it gets that on top.
    assert max(beats) < 1.0
    assert max(logins) < 1.5


def _answers(url):
    try:
        with urllib.request.urlopen(f"{url}/login/", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def test_a_sigkilled_import_resumes_and_ends_with_exactly_the_files_products(org, operator, tmp_path):
    text = demo_catalog_csv(count=3000)
    expected = parse_catalog("woocommerce", text)
    env = _env(JOB_LEASE_SECONDS="3", CATALOG_IMPORT_CHUNK_PRODUCTS="100")
    django_settings.JOB_LEASE_SECONDS = 3
    first = _spawn("workers-1", [sys.executable, str(ROOT / "manage.py"), "qcluster"], env, tmp_path)
    children = [first]
    try:
        job = start_import(org, format="woocommerce", filename="kill.csv", text=text, user=operator)
        _wait(lambda: Job.objects.filter(pk=job.pk, progress_done__gte=500).exists(), 120,
              "the import did not get under way", children)
        os.killpg(first.process.pid, signal.SIGKILL)
        first.process.wait(timeout=10)
        half = CatalogImport.objects.get(job=job).checkpoint
        assert 0 < half["products_done"] < 3000
        assert Product.objects.filter(organization=org).count() == half["products_done"]  # chunk and checkpoint agree

        second = _spawn("workers-2", [sys.executable, str(ROOT / "manage.py"), "qcluster"], env, tmp_path)
        children.append(second)
        _wait(lambda: Job.objects.filter(pk=job.pk, status__in=["succeeded", "dead", "refused"]).exists(), 120,
              "the second worker did not finish the import", children)
    finally:
        _stop(children)
    job.refresh_from_db()
    assert job.status == "succeeded", job.error
    outcomes = list(JobAttempt.objects.filter(job=job).order_by("number").values_list("outcome", flat=True))
    assert outcomes == ["lost", "succeeded"]
    assert job.result["created"] == 3000 and job.result["updated"] == job.result["unchanged"] == 0
    handles = list(Product.objects.filter(organization=org).values_list("handle", flat=True))
    assert sorted(handles) == sorted(p.handle for p in expected)
    assert Variant.objects.filter(organization=org).count() == sum(len(p.variants) for p in expected)
