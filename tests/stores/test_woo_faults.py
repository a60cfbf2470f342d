"""Fault injection in the WooCommerce emulator, and a whole publish that survives 20 % injected faults.

Each fault is checked for its answer and for what it leaves in the shop:
only a lost answer applies the write (``stores.emulators.faults``).
"""

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from oauthlib.oauth1 import SIGNATURE_TYPE_QUERY, Client

from agents import runner
from agents.models import Job
from agents.services import enqueue
from products.importers import apply_catalog, parse_catalog
from products.models import Product
from stores.emulators.faults import FaultPlan, FaultState
from stores.emulators.woocommerce import start_emulator
from stores.models import Listing, Store

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
BELT = {"name": "Belt", "sku": "FAULT-BELT", "regular_price": "65"}


@pytest.fixture
def emulator():
    with start_emulator() as running:
        yield running


def _call(emulator, method: str, path: str, *, timeout: float = 10.0, **kwargs) -> httpx.Response:
    url, _headers, _body = Client("ck_demo", client_secret="cs_demo", signature_type=SIGNATURE_TYPE_QUERY).sign(
        emulator.api_url + path, http_method=method)
    return httpx.request(method, url, timeout=timeout, **kwargs)


def _skus(emulator) -> list[str]:
    return [p["sku"] for p in emulator.products()]


# --------------------------------------------------------------------------- the plan


def test_plan_refuses_shares_outside_0_1_and_half_an_outage():
    with pytest.raises(ValueError, match="error_rate"):
        FaultPlan(error_rate=1.5)
    with pytest.raises(ValueError, match="go together"):
        FaultPlan(outage_start=5)
    with pytest.raises(ValueError, match="5xx"):
        FaultPlan(error_statuses=(404,))
    with pytest.raises(ValueError, match="unknown"):
        FaultPlan.from_dict({"errors": 0.1})
    assert not FaultPlan().active and FaultPlan(latency=0.1).active


def test_same_seed_same_faults():
    plan = FaultPlan(error_rate=0.2, malformed_rate=0.2, lost_answer_rate=0.2, rate_limit_rate=0.1, seed=42)
    runs = []
    for _ in range(2):
        state = FaultState()
        state.set(plan)
        runs.append([(d.kind, d.status, d.lose_answer, d.malform) for d in
                     (state.decide(is_write=i % 2 == 0) for i in range(200))])
    assert runs[0] == runs[1]
    kinds = Counter(kind for kind, *_ in runs[0])
    assert kinds["error"] and kinds["burst_429"]


# --------------------------------------------------------------------------- each fault on the wire


def test_5xx_answers_and_applies_nothing(emulator):
    emulator.set_faults(FaultPlan(error_rate=1.0, error_statuses=(500,)))
    answer = _call(emulator, "POST", "products", json=BELT)
    assert answer.status_code == 500
    assert answer.json()["code"] == "internal_server_error"
    emulator.set_faults(FaultPlan(error_rate=1.0, error_statuses=(502,)))
    answer = _call(emulator, "POST", "products", json=BELT)
    assert answer.status_code == 502 and "Bad Gateway" in answer.text
    assert _skus(emulator) == [] and emulator.fault_counts == {"error": 2}


def test_malformed_answer_is_200_not_json_and_applies_nothing(emulator):
    emulator.set_faults(FaultPlan(malformed_rate=1.0))
    answer = _call(emulator, "POST", "products", json=BELT)
    assert answer.status_code == 200
    with pytest.raises(ValueError):
        answer.json()
    assert _skus(emulator) == []


def test_lost_answer_applies_the_write_and_answers_502(emulator):
    emulator.set_faults(FaultPlan(lost_answer_rate=1.0))
    assert _call(emulator, "GET", "products").status_code == 200  # a read has no answer to lose
    answer = _call(emulator, "POST", "products", json=BELT)
    assert answer.status_code == 502
    assert _skus(emulator) == ["FAULT-BELT"]
    assert emulator.fault_counts == {"lost_answer": 1}


def test_429_burst_with_retry_after(emulator):
    emulator.set_faults(FaultPlan(burst_429=2, retry_after=3))
    for _ in range(2):
        answer = _call(emulator, "POST", "products", json=BELT)
        assert answer.status_code == 429 and answer.headers["Retry-After"] == "3"
    assert _call(emulator, "POST", "products", json=BELT).status_code == 201
    assert _skus(emulator) == ["FAULT-BELT"]


def test_timeout_hangs_past_the_client_and_applies_nothing(emulator):
    emulator.set_faults(FaultPlan(timeout_rate=1.0, hang_seconds=3))
    with pytest.raises(httpx.TimeoutException):
        _call(emulator, "POST", "products", json=BELT, timeout=0.3)
    emulator.set_faults(None)
    assert _skus(emulator) == []


def test_outage_window_answers_503_with_retry_after(emulator):
    emulator.set_faults(FaultPlan(outage_start=0, outage_end=30))
    answer = _call(emulator, "GET", "products")
    assert answer.status_code == 503 and 1 <= int(answer.headers["Retry-After"]) <= 30
    assert "scheduled maintenance" in answer.text
    emulator.set_faults(FaultPlan(outage_start=30, outage_end=60))  # a window that has not begun
    assert _call(emulator, "GET", "products").status_code == 200


def test_latency_is_added_to_every_answer(emulator):
    emulator.set_faults(FaultPlan(latency=0.3))
    started = time.monotonic()
    assert _call(emulator, "GET", "products").status_code == 200
    assert time.monotonic() - started >= 0.3


def test_faults_can_be_set_over_http_and_spare_the_control_routes(emulator):
    answer = httpx.post(emulator.base_url + "/__emulator__/faults", json={"error_rate": 1.0})
    assert answer.status_code == 200 and answer.json()["plan"]["error_rate"] == 1.0
    assert _call(emulator, "GET", "products").status_code in (502, 503)
    assert httpx.get(emulator.base_url + "/__emulator__/faults").json()["counts"] == {"error": 1}
    assert httpx.post(emulator.base_url + "/__emulator__/faults", json={"bogus": 1}).status_code == 400
    assert httpx.post(emulator.base_url + "/__emulator__/faults", json={}).json()["plan"] is None
    assert _call(emulator, "GET", "products").status_code == 200


def test_management_command_takes_fault_flags():
    root = Path(__file__).resolve().parents[2]
    process = subprocess.Popen(
        [sys.executable, "manage.py", "woo_emulator", "--port", "0", "--state", "", "--fault-errors", "1",
         "--fault-seed", "3"],
        cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        first = process.stdout.readline()
        base_url = first.split(" at ")[1].split(" ")[0]
        assert "faults:" in "".join(process.stdout.readline() for _ in range(3))
        assert httpx.get(base_url + "/wp-json/wc/v3/products", timeout=5).status_code in (502, 503, 500, 504)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)
    assert process.returncode == 0


# --------------------------------------------------------------------------- a whole publish under faults


@pytest.fixture
def catalog(org):
    text = (SHARED_DATA / "woocommerce" / "sample_products.csv").read_text(encoding="utf-8-sig")
    apply_catalog(org, parse_catalog("woocommerce", text))
    return Product.objects.filter(organization=org).prefetch_related("variants")


def test_full_publish_under_20_percent_faults_ends_in_sync_without_duplicates(org, catalog):
    """5xx, lost answers, malformed bodies and 429 bursts: about one call in five fails.

    Batches of 2 make the publish about 30 calls, so the dice hit several times.

    The runner schedules a retry after each failed attempt; here each retry is
    run at once by calling ``execute`` again (a worker would wait out the
    backoff). An open circuit breaker would pause the job for its cool-down:
    the test stands in for the wait by closing it.
    """
    plan = FaultPlan(seed=3, error_rate=0.05, lost_answer_rate=0.06, malformed_rate=0.05, rate_limit_rate=0.04,
                     rate_limit_burst=2, retry_after=0, error_statuses=(500, 502, 503, 504))
    with start_emulator(faults=plan) as emulator:
        store = Store.objects.create(organization=org, name="Flaky Woo", base_url=emulator.base_url,
                                     consumer_key="ck_demo", consumer_secret="cs_demo", timeout=5, batch_size=2)
        job = enqueue(org, "store.publish", store=store, max_attempts=30)
        for _ in range(60):
            status = runner.execute(job.pk)
            if status not in ("queued", "running", "retry"):
                break
            Store.objects.filter(pk=store.pk).update(breaker_state="closed", breaker_failures=0,
                                                     breaker_opened_at=None)
        job = Job.objects.get(pk=job.pk)
        assert job.status == "succeeded", (job.error, job.log[-5:])
        faults = emulator.fault_counts
        assert sum(faults.values()) >= 3 and len(faults) >= 2, faults  # each kind alone is tested above
        assert job.attempts > 1

        emulator.set_faults(None)
        listings = Listing.objects.filter(store=store).select_related("product")
        assert listings.count() == catalog.count()
        assert all(listing.state == "in_sync" for listing in listings)

        remote = emulator.products()
        skus = Counter(p["sku"] for p in remote if p["sku"])
        skus.update(v["sku"] for p in remote for v in p["variation_details"] if v["sku"])
        expected = {v.sku for product in catalog for v in product.variants.all() if v.sku}
        expected |= {product.sku for product in catalog if product.sku}
        assert set(skus) == expected
        assert all(count == 1 for count in skus.values()), [sku for sku, n in skus.items() if n > 1]
        assert len(remote) == catalog.count()

        by_sku = {p["sku"]: p for p in remote}
        by_sku.update({v["sku"]: v for p in remote for v in p["variation_details"]})
        for product in catalog:
            for variant in product.variants.all():
                if product.kind == "grouped" or variant.price is None:
                    continue
                stored = by_sku[variant.sku or product.sku]
                assert Decimal(stored["price"]) == variant.price, variant.sku
