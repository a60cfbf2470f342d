"""The shared leaky-bucket gate: one budget per store across OS processes, corrected by the platform's figures.

The two-process tests fork real worker processes against the test database
(the SQLite file, or PostgreSQL with ``DATABASE_URL``), hammer one store's
gate, and check every grant against the bucket: in any window from grant i to
grant j, at most capacity + leak × (t_j − t_i) units.
"""

from __future__ import annotations

import multiprocessing
import time

import httpx
import pytest
from django.db import connection, connections

from stores.limits import MARGIN_MIN, StoreGate, gate_for, leaked_level, margin
from stores.models import RateLimitBucket, Store
from stores.plugins import OpenGate, RateLimit, RateLimited, Rejected, Transient
from stores.plugins.woocommerce import WooCommerceClient, WooCommercePlugin


class FakeClock:
    """``time.time`` and ``time.sleep`` for one process: sleeping moves the clock."""

    def __init__(self, start: float = 1_000_000.0):
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def store(org):
    return Store.objects.create(organization=org, name="Limited", base_url="http://127.0.0.1:9",
                                consumer_key="ck", consumer_secret="cs")


def fake_gate(store, clock, **options):
    options.setdefault("limit", RateLimit(capacity=10, leak_rate=5))
    return StoreGate(store, clock=clock, sleep=clock.sleep, **options)


# --------------------------------------------------------------------------- one process, fake time


def test_unsaved_store_gets_an_open_gate_and_a_saved_one_a_store_gate(org, store):
    assert isinstance(gate_for(Store(organization=org, name="new", base_url="https://x.example")), OpenGate)
    assert isinstance(gate_for(store), StoreGate)


def test_bucket_row_is_created_on_first_use_from_the_plugins_published_limit(store):
    gate = gate_for(store)
    assert not RateLimitBucket.objects.filter(store=store).exists()
    gate.before_call()
    bucket = RateLimitBucket.objects.get(store=store)
    published = WooCommercePlugin.rate_limits(store.rate_plan)
    assert (bucket.capacity, bucket.leak_rate, bucket.level, bucket.calls) == (
        published.capacity, published.leak_rate, 1, 1)


def test_burst_fills_to_capacity_less_the_margin_then_waits_one_leak_per_call(store):
    clock = FakeClock()
    gate = fake_gate(store, clock)
    for _ in range(9):  # capacity 10 less a margin of 1 unit
        gate.before_call()
    assert clock.sleeps == []
    gate.before_call()
    assert sum(clock.sleeps) == pytest.approx(1 / 5, abs=0.02)  # one unit leaks in 1/5 s
    assert margin(10) == MARGIN_MIN and margin(2000) == 100


def test_gives_up_with_rate_limited_when_the_wait_passes_max_wait(store):
    clock = FakeClock()
    gate = fake_gate(store, clock, max_wait=0.1)
    for _ in range(9):
        gate.before_call()
    with pytest.raises(RateLimited) as raised:
        gate.before_call()
    assert raised.value.retry_after == pytest.approx(0.2) and clock.sleeps == []


def test_a_call_costlier_than_the_bucket_is_rejected(store):
    with pytest.raises(Rejected):
        fake_gate(store, FakeClock()).before_call(11)


@pytest.mark.django_db(transaction=True)
def test_it_sleeps_outside_the_transaction(org):
    store = Store.objects.create(organization=org, name="Tx", base_url="http://127.0.0.1:9",
                                 consumer_key="ck", consumer_secret="cs")
    clock = FakeClock()
    in_transaction = []

    def sleep(seconds):
        in_transaction.append(connection.in_atomic_block)
        clock.sleep(seconds)

    gate = StoreGate(store, limit=RateLimit(capacity=3, leak_rate=10), clock=clock, sleep=sleep)
    for _ in range(5):
        gate.before_call()
    assert in_transaction and not any(in_transaction)


def test_used_and_size_set_the_level_and_capacity_plus_calls_still_on_the_wire(store):
    clock = FakeClock()
    gate, other = fake_gate(store, clock), fake_gate(store, clock)
    gate.before_call()
    other.before_call()  # granted after ours: the platform's figure may not count it yet
    gate.after_call(used=6, size=12)
    bucket = RateLimitBucket.objects.get(store=store)
    assert bucket.capacity == 12 and bucket.level == 7


def test_available_on_a_cost_point_bucket_and_rest_usage_scaled_to_it(store):
    clock = FakeClock()
    gate = fake_gate(store, clock, limit=RateLimit(capacity=2000, leak_rate=100, unit="cost point"))
    gate.before_call(50)
    gate.after_call(available=1500)
    assert RateLimitBucket.objects.get(store=store).level == 500
    gate.before_call(1)
    gate.after_call(used=30, size=40)  # REST call limit through the same gate: 75 % full
    bucket = RateLimitBucket.objects.get(store=store)
    assert bucket.capacity == 2000 and bucket.level == 1500


def test_a_429_fills_the_bucket_counts_and_blocks_for_retry_after(store):
    clock = FakeClock()
    gate = fake_gate(store, clock)
    gate.before_call()
    gate.after_call(error=RateLimited("429", status=429, retry_after=3.0), retry_after=3.0)
    bucket = RateLimitBucket.objects.get(store=store)
    assert bucket.throttled == 1 and bucket.level == 10 and bucket.blocked_until == clock.now + 3.0
    started = clock.now
    gate.before_call()
    assert clock.now - started >= 3.0


def test_a_429_without_retry_after_backs_off_on_its_own(store):
    clock = FakeClock()
    gate = fake_gate(store, clock)
    gate.before_call()
    gate.after_call(error=RateLimited("429", status=429))
    bucket = RateLimitBucket.objects.get(store=store)
    assert bucket.blocked_until == clock.now + 1.0


def test_a_throttled_answer_with_figures_keeps_them_instead_of_filling_the_bucket(store):
    clock = FakeClock()
    gate = fake_gate(store, clock, limit=RateLimit(capacity=2000, leak_rate=100, unit="cost point"))
    gate.before_call(600)
    gate.after_call(error=RateLimited("THROTTLED", retry_after=1.0), available=500)
    bucket = RateLimitBucket.objects.get(store=store)
    assert bucket.level == 1500 and bucket.throttled == 1 and bucket.blocked_until == clock.now + 1.0


def test_a_new_plan_reshapes_the_bucket(store):
    clock = FakeClock()
    fake_gate(store, clock).before_call()
    fake_gate(store, clock, limit=RateLimit(capacity=400, leak_rate=20)).before_call()
    bucket = RateLimitBucket.objects.get(store=store)
    assert (bucket.capacity, bucket.leak_rate) == (400, 20)


# --------------------------------------------------------------------------- the WooCommerce client calls the gate


class RecordingGate(OpenGate):
    def __init__(self):
        self.calls = []

    def before_call(self, cost=1.0):
        self.calls.append(("before", cost))

    def after_call(self, **outcome):
        self.calls.append(("after", {k: v for k, v in outcome.items() if v is not None}))


def test_woocommerce_client_calls_the_gate_around_every_request_and_reports_retry_after():
    answers = iter([
        httpx.Response(200, json=[{"id": 1}], headers={"X-WP-TotalPages": "2"}),
        httpx.Response(200, json=[{"id": 2}], headers={"X-WP-TotalPages": "2"}),
        httpx.Response(429, json={"code": "too_many", "message": "slow down"}, headers={"Retry-After": "7"}),
    ])
    gate = RecordingGate()
    client = WooCommerceClient("https://shop.example.com", "ck", "cs", gate=gate,
                               transport=httpx.MockTransport(lambda request: next(answers)))
    assert [p["id"] for p in client.paginate("products")] == [1, 2]
    with pytest.raises(RateLimited):
        client.get("products")
    assert [c[0] for c in gate.calls] == ["before", "after"] * 3
    assert gate.calls[1] == ("after", {}) and gate.calls[3] == ("after", {})
    error_report = gate.calls[5][1]
    assert isinstance(error_report["error"], RateLimited) and error_report["retry_after"] == 7.0


def test_for_store_builds_the_stores_gate(store):
    plugin = WooCommercePlugin.for_store(store)
    try:
        assert isinstance(plugin.client.gate, StoreGate) and plugin.client.gate.store.pk == store.pk
    finally:
        plugin.close()


def test_a_store_that_keeps_failing_is_not_called_once_its_breaker_opens(store):
    sent = []

    def handler(request):
        sent.append(request)
        return httpx.Response(503, text="maintenance")

    client = WooCommerceClient("https://shop.example.com", "ck", "cs", gate=gate_for(store),
                               transport=httpx.MockTransport(handler))
    for _ in range(5):
        with pytest.raises(Transient):
            client.get("products")
    with pytest.raises(Transient) as raised:
        client.get("products")
    assert raised.value.code == "circuit_open" and len(sent) == 5
    store.refresh_from_db()
    assert store.breaker_state == "open"


# --------------------------------------------------------------------------- two OS processes, one database

CAPACITY, LEAK = 20.0, 40.0  # units, units per second: ~2.5 s of hammering gives ~120 grants


def _hammer(store_id: int, start_at: float, seconds: float, out, throttle_at: int | None = None):
    """Child process: call ``before_call(1)`` until ``seconds`` pass; send back the grant times (epoch s)."""
    connections.close_all()  # never use the parent's connection in a forked child
    try:
        store = Store.objects.get(pk=store_id)
        gate = StoreGate(store, limit=RateLimit(capacity=CAPACITY, leak_rate=LEAK), max_wait=30)
        time.sleep(max(0.0, start_at - time.time()))
        grants, reported = [], None
        while time.time() < start_at + seconds:
            gate.before_call(1)
            grants.append(gate.last_grant.at)
            if throttle_at is not None and len(grants) == throttle_at:
                gate.after_call(error=RateLimited("429", status=429, retry_after=1.0), retry_after=1.0)
                reported = time.time()
            else:
                gate.after_call()
        out.put({"grants": grants, "throttled_at": reported})
    except BaseException as exc:  # report, never hang the parent
        out.put({"error": repr(exc)})
    finally:
        connections.close_all()


def _run_processes(store, seconds: float, throttle_at: int | None = None) -> list[dict]:
    RateLimitBucket.objects.create(store=store, capacity=CAPACITY, leak_rate=LEAK, stamp=time.time())
    connections.close_all()
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    start_at = time.time() + 1.0
    children = [ctx.Process(target=_hammer, args=(store.pk, start_at, seconds, out, throttle_at if i == 0 else None))
                for i in range(2)]
    for child in children:
        child.start()
    results = [out.get(timeout=seconds + 60) for _ in children]
    for child in children:
        child.join(timeout=10)
    errors = [r["error"] for r in results if "error" in r]
    assert not errors, errors
    return results


def _check_bucket(grants: list[float]) -> tuple[float, int]:
    """Replay the grants through a leaky bucket; assert every window obeys it. Returns (max level, windows checked)."""
    level, last, peak = 0.0, grants[0], 0.0
    for at in grants:
        level = leaked_level(level, last, at, LEAK) + 1
        last = at
        peak = max(peak, level)
    checked = 0
    for i in range(len(grants)):
        for j in range(i, len(grants)):
            assert j - i + 1 <= CAPACITY + LEAK * (grants[j] - grants[i]) + 1e-6, (i, j)
            checked += 1
    return peak, checked


@pytest.mark.django_db(transaction=True)
def test_two_processes_never_exceed_the_shared_bucket(org, capsys):
    store = Store.objects.create(organization=org, name="Shared", base_url="http://127.0.0.1:9",
                                 consumer_key="ck", consumer_secret="cs")
    seconds = 2.5
    results = _run_processes(store, seconds)
    per_process = [len(r["grants"]) for r in results]
    grants = sorted(t for r in results for t in r["grants"])
    assert all(per_process), per_process  # both got calls through
    peak, windows = _check_bucket(grants)
    elapsed = grants[-1] - grants[0]
    assert len(grants) <= CAPACITY + LEAK * elapsed
    assert peak <= CAPACITY - margin(CAPACITY) + 1e-6
    bucket = RateLimitBucket.objects.get(store=store)
    assert bucket.calls == len(grants)
    with capsys.disabled():
        print(f"\n[{connection.vendor}] two processes, {seconds} s: grants {per_process} = {len(grants)} "
              f"over {elapsed:.2f} s (bound {CAPACITY:g} + {LEAK:g}/s × elapsed = {CAPACITY + LEAK * elapsed:.1f}); "
              f"max level {peak:.2f} of capacity {CAPACITY:g} (margin {margin(CAPACITY):g}); {windows} windows checked")


@pytest.mark.django_db(transaction=True)
def test_a_429_seen_by_one_process_blocks_both(org, capsys):
    store = Store.objects.create(organization=org, name="Throttled", base_url="http://127.0.0.1:9",
                                 consumer_key="ck", consumer_secret="cs")
    results = _run_processes(store, 2.5, throttle_at=10)
    bucket = RateLimitBucket.objects.get(store=store)
    assert bucket.throttled == 1
    blocked_from, blocked_until = bucket.blocked_until - 1.0, bucket.blocked_until
    during = [t for r in results for t in r["grants"] if blocked_from < t < blocked_until]
    after = [[t for t in r["grants"] if t >= blocked_until] for r in results]
    assert during == []
    assert all(after), "both processes call again once the block ends"
    peak, _ = _check_bucket(sorted(t for r in results for t in r["grants"]))
    with capsys.disabled():
        print(f"\n[{connection.vendor}] 429 with Retry-After 1 s: grants during the block {len(during)}, "
              f"after it {[len(a) for a in after]}; max level {peak:.2f} of {CAPACITY:g}")
