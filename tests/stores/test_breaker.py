"""The store's circuit breaker: opens after consecutive failures, probes after the cool-down, pauses jobs."""

from datetime import timedelta

import pytest
from django.utils import timezone

from agents import runner
from agents.services import enqueue
from flashfusion.models import Event
from stores.breaker import COOL_DOWN, THRESHOLD, Breaker, CircuitOpen, outcome
from stores.limits import StoreGate
from stores.models import Store
from stores.plugins import AuthFailed, NotFound, RateLimit, RateLimited, Rejected, Transient


@pytest.fixture
def store(org):
    return Store.objects.create(organization=org, name="Flaky", base_url="http://127.0.0.1:9",
                                consumer_key="ck", consumer_secret="cs")


def gate(store):
    return StoreGate(store, limit=RateLimit(capacity=1000, leak_rate=1000))


def fail(g, times=1, error=None):
    for _ in range(times):
        g.before_call()
        g.after_call(error=error or Transient("503 Service Unavailable", status=503))


def breaker_events(store):
    return list(Event.objects.filter(topic="store.breaker", payload__store_id=store.pk).order_by("pk"))


def age_breaker(store, seconds=COOL_DOWN + 1):
    """Move the breaker's clock back as if ``seconds`` had passed."""
    store.refresh_from_db()
    Store.objects.filter(pk=store.pk).update(breaker_opened_at=store.breaker_opened_at - timedelta(seconds=seconds))


def test_outcomes():
    assert outcome(None) == "success"
    assert outcome(Transient("timeout")) == "failure"
    assert outcome(RateLimited("429")) == "neutral"
    assert outcome(RateLimited("429"), after_block=True) == "failure"
    assert {outcome(e("x")) for e in (Rejected, NotFound, AuthFailed)} == {"success"}


def test_it_opens_after_the_threshold_and_refuses_calls(store):
    g = gate(store)
    fail(g, THRESHOLD - 1)
    store.refresh_from_db()
    assert store.breaker_state == "closed" and store.breaker_failures == THRESHOLD - 1
    fail(g)
    store.refresh_from_db()
    assert store.breaker_state == "open" and store.breaker_opened_at is not None
    with pytest.raises(CircuitOpen) as raised:
        g.before_call()
    assert COOL_DOWN - 2 < raised.value.retry_after <= COOL_DOWN
    assert "circuit open for store Flaky until" in str(raised.value)
    [opened] = breaker_events(store)
    assert opened.payload == {"store_id": store.pk, "state": "open"} and "5 consecutive" in opened.message


def test_an_answered_error_resets_the_count_and_does_not_open(store):
    g = gate(store)
    fail(g, THRESHOLD - 1)
    fail(g, error=Rejected("bad price", status=400))
    fail(g, error=NotFound("gone", status=404))
    fail(g, THRESHOLD - 1)
    store.refresh_from_db()
    assert store.breaker_state == "closed" and store.breaker_failures == THRESHOLD - 1


def test_a_first_429_is_neutral_but_429s_after_waiting_out_a_block_count(store):
    g = StoreGate(store, limit=RateLimit(capacity=1000, leak_rate=1000), sleep=lambda s: None)
    fail(g, 2)
    fail(g, error=RateLimited("429", status=429, retry_after=0.0))
    store.refresh_from_db()
    assert store.breaker_failures == 2
    g.last_grant.after_block = True  # as when before_call had to wait for the store's Retry-After
    g.after_call(error=RateLimited("429", status=429, retry_after=0.0))
    store.refresh_from_db()
    assert store.breaker_failures == 3


def test_after_the_cool_down_one_probe_goes_and_its_success_closes(store):
    g, other = gate(store), gate(store)
    fail(g, THRESHOLD)
    age_breaker(store)
    g.before_call()  # the probe
    store.refresh_from_db()
    assert store.breaker_state == "half_open"
    with pytest.raises(CircuitOpen):
        other.before_call()
    g.after_call()
    store.refresh_from_db()
    assert (store.breaker_state, store.breaker_failures, store.breaker_opened_at) == ("closed", 0, None)
    assert [e.payload["state"] for e in breaker_events(store)] == ["open", "half_open", "closed"]
    other.before_call()


def test_a_failed_probe_opens_again_for_a_fresh_cool_down(store):
    g = gate(store)
    fail(g, THRESHOLD)
    age_breaker(store)
    fail(g)
    store.refresh_from_db()
    assert store.breaker_state == "open"
    assert timezone.now() - store.breaker_opened_at < timedelta(seconds=5)
    assert [e.payload["state"] for e in breaker_events(store)] == ["open", "half_open", "open"]
    with pytest.raises(CircuitOpen):
        g.before_call()


def test_a_lost_probe_is_replaced_after_another_cool_down(store):
    g = gate(store)
    fail(g, THRESHOLD)
    age_breaker(store)
    g.before_call()  # probe whose worker then dies: no after_call
    with pytest.raises(CircuitOpen):
        gate(store).before_call()
    age_breaker(store)
    gate(store).before_call()
    store.refresh_from_db()
    assert store.breaker_state == "half_open"


def test_reset_closes_by_hand(store):
    g = gate(store)
    fail(g, THRESHOLD)
    Breaker(store).reset()
    store.refresh_from_db()
    assert store.breaker_state == "closed" and store.breaker_failures == 0
    g.before_call()


# --------------------------------------------------------------------------- jobs pause instead of burning attempts


@pytest.fixture
def handler(settings):
    """Run health-check jobs through a test handler (what the agent does is not under test here)."""

    def install(func):
        settings.JOB_POLICY_OVERRIDES = {"store.health_check": {"handler": func}}

    return install


def retry_delay(job):
    job.refresh_from_db()
    return (job.run_after - timezone.now()).total_seconds()


def test_a_job_for_an_open_store_is_paused_without_counting_an_attempt(store, handler):
    calls = []

    def counting_handler(job):
        calls.append(job.pk)
        return {}

    handler(counting_handler)
    fail(gate(store), THRESHOLD)
    job = enqueue(store.organization, "store.health_check", store=store, max_attempts=1)
    for _ in range(3):
        assert runner.execute(job.pk) == "retry"
    job.refresh_from_db()
    assert job.attempts == 0 and calls == []
    assert COOL_DOWN - 5 < retry_delay(job) <= COOL_DOWN
    assert "paused" in job.log[-1] and "attempt not counted" in job.log[-1]


def test_a_job_stopped_by_circuit_open_is_paused_without_counting_an_attempt(store, handler):
    def open_handler(job):
        raise CircuitOpen("circuit open for store Flaky", retry_after=42, until=timezone.now())

    handler(open_handler)
    job = enqueue(store.organization, "store.health_check", store=store, max_attempts=1)
    assert runner.execute(job.pk) == "retry"
    job.refresh_from_db()
    assert job.attempts == 0 and job.status == "retry"
    assert 40 < retry_delay(job) <= 42


def test_a_failure_that_opens_the_breaker_retries_after_the_cool_down(store, handler):
    def outage_handler(job):
        fail(gate(job.store), THRESHOLD)
        raise Transient("503 Service Unavailable", status=503)

    handler(outage_handler)
    job = enqueue(store.organization, "store.health_check", store=store, max_attempts=3)
    assert runner.execute(job.pk) == "retry"
    job.refresh_from_db()
    assert job.attempts == 1
    assert retry_delay(job) > COOL_DOWN - 5  # not the 5 s backoff of a first attempt


# --- a store that refuses connections: a real closed port, the real plugins, the store's gate ---------------


def closed_port() -> int:
    """A local port nobody listens on (bound, then closed): connecting to it is refused."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def refusing(org):
    """``make(platform)`` → a saved store whose address refuses every connection."""
    port = closed_port()

    def make(platform="woocommerce"):
        credentials = {"consumer_key": "ck_x", "consumer_secret": "cs_x"} if platform == "woocommerce" else \
            {"consumer_secret": "shpat_x"}
        return Store.objects.create(organization=org, name=f"Down {platform}", platform=platform,
                                    base_url=f"http://127.0.0.1:{port}", **credentials)

    return make


@pytest.mark.parametrize("platform", ["woocommerce", "shopify"])
def test_refused_connections_open_the_breaker(refusing, platform):
    from stores.services import record_health

    store = refusing(platform)
    for n in range(1, THRESHOLD + 1):
        check = record_health(store)
        assert not check.ok and "Connection refused" in check.error
        store.refresh_from_db()
        assert store.breaker_failures == n
    assert store.breaker_state == "open"
    check = record_health(store)  # no connection is tried any more
    assert "circuit open for store" in check.error


def _edit(store, **changes):
    from tests.stores.test_store_pages import _edit_data

    return _edit_data(store, **changes)


def test_a_credentials_test_at_the_same_address_counts_for_its_breaker(client, refusing, admin_user):
    """Saving new keys for a store that refuses connections: each refused test call is one of the store's
    failed calls, and once its breaker opens the test is refused without connecting."""
    from django.urls import reverse

    store = refusing()
    client.force_login(admin_user)
    for n in range(1, THRESHOLD + 1):
        response = client.post(reverse("stores:edit", args=[store.pk]), _edit(store, consumer_key=f"ck_new{n}"))
        assert response.status_code == 200
        assert "Connection refused" in " ".join(response.context["form"].errors["base_url"])
        store.refresh_from_db()
        assert (store.consumer_key, store.breaker_failures) == ("ck_x", n)
    assert store.breaker_state == "open"
    response = client.post(reverse("stores:edit", args=[store.pk]), _edit(store, consumer_key="ck_again"))
    assert "circuit breaker is open until" in " ".join(response.context["form"].errors["base_url"])
    store.refresh_from_db()
    assert store.breaker_failures == THRESHOLD and store.consumer_key == "ck_x"


def test_a_new_address_is_tried_afresh_and_saving_it_closes_the_breaker(client, refusing, admin_user):
    from django.urls import reverse

    from stores.emulators.woocommerce import start_emulator

    store = refusing()
    Store.objects.filter(pk=store.pk).update(breaker_state="open", breaker_failures=THRESHOLD,
                                             breaker_opened_at=timezone.now())
    store.refresh_from_db()
    client.force_login(admin_user)
    with start_emulator() as emulator:
        data = _edit(store, base_url=emulator.base_url, consumer_key="ck_demo", consumer_secret="cs_demo")
        response = client.post(reverse("stores:edit", args=[store.pk]), data)
    assert response.status_code == 302, response.context["form"].errors
    store.refresh_from_db()
    assert store.base_url == emulator.base_url and store.health == "healthy"
    assert (store.breaker_state, store.breaker_failures, store.breaker_opened_at) == ("closed", 0, None)


def test_a_successful_test_at_the_same_address_resets_the_failure_count(client, org, admin_user):
    """The store answered the test call: its run of failures is over, and saving the form does not write back
    the count it read before the call."""
    from django.urls import reverse

    from stores.emulators.woocommerce import start_emulator

    client.force_login(admin_user)
    with start_emulator() as emulator:
        store = Store.objects.create(organization=org, name="Back up", base_url=emulator.base_url,
                                     consumer_key="ck_old", consumer_secret="cs_demo", breaker_failures=3)
        response = client.post(reverse("stores:edit", args=[store.pk]), _edit(store, consumer_key="ck_demo"))
    assert response.status_code == 302
    store.refresh_from_db()
    assert (store.consumer_key, store.breaker_state, store.breaker_failures) == ("ck_demo", "closed", 0)
