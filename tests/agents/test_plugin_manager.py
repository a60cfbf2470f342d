"""Plugin Manager agent: scheduled health checks, health history, disabling a store whose keys are refused."""

from datetime import timedelta
from importlib import import_module
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.utils import timezone
from django_q.models import Schedule

from agents import runner
from agents.models import Job
from agents.plugin_manager import SCHEDULE_FUNC, SCHEDULE_NAME, PluginManager, run_due_health_checks
from agents.services import StoreDisabled, enqueue
from flashfusion.models import Event
from stores.models import HealthCheck, Store
from stores.plugins.woocommerce import WooCommercePlugin
from stores.services import record_health

KEY, SECRET = "ck_demo", "cs_demo"


@pytest.fixture
def emulator():
    from stores.emulators.woocommerce import start_emulator

    emu = start_emulator(port=0, consumer_key=KEY, consumer_secret=SECRET)
    try:
        yield emu
    finally:
        emu.stop()


def make_store(org, name, base_url="http://127.0.0.1:9", secret=SECRET, **fields):
    return Store.objects.create(organization=org, name=name, base_url=base_url, consumer_key=KEY,
                                consumer_secret=secret, **fields)


# --------------------------------------------------------------------------- which stores are due


def test_it_queues_checks_for_stores_never_checked_or_checked_longer_ago_than_their_interval(org):
    now = timezone.now()
    never = make_store(org, "Never checked")
    stale = make_store(org, "Stale", health_checked_at=now - timedelta(seconds=301))
    make_store(org, "Fresh", health_checked_at=now - timedelta(seconds=100))
    quick = make_store(org, "Quick interval", health_check_interval=60, health_checked_at=now - timedelta(seconds=61))
    make_store(org, "Disabled", is_enabled=False)

    queued = PluginManager(now=now).run()

    assert sorted(store_id for store_id, _job in queued) == sorted([never.pk, stale.pk, quick.pk])
    jobs = Job.objects.filter(kind="store.health_check")
    assert sorted(jobs.values_list("store_id", flat=True)) == sorted([never.pk, stale.pk, quick.pk])
    assert {job.idempotency_key for job in jobs} == {f"health:{pk}" for pk in (never.pk, stale.pk, quick.pk)}


def test_a_store_that_recovers_stops_showing_failing_within_a_minute(org, emulator):
    """A failing store is checked again after RECOVERY_INTERVAL (60 s), not its 5-minute interval."""
    store = make_store(org, "Came back", base_url=emulator.base_url)
    store.base_url = "http://127.0.0.1:9"
    record_health(store)  # the store was down
    store.refresh_from_db()
    assert store.health == "failing"
    Store.objects.filter(pk=store.pk).update(base_url=emulator.base_url)  # it answers again
    checked = store.health_checked_at
    assert not PluginManager(now=checked + timedelta(seconds=59)).run()
    queued = PluginManager(now=checked + timedelta(seconds=61)).run()
    assert [store_id for store_id, _job in queued] == [store.pk]
    assert runner.execute(queued[0][1]) == "succeeded"
    store.refresh_from_db()
    assert store.health == "healthy"


def test_checks_never_pile_up(org):
    make_store(org, "Slow workers")
    assert run_due_health_checks() == 1
    assert run_due_health_checks() == 1  # still due: the queued job is returned, not a second one
    assert Job.objects.filter(kind="store.health_check").count() == 1


def test_the_schedule_migration_is_idempotent(db):
    migration = import_module("agents.migrations.0003_plugin_manager_schedule")
    editor = SimpleNamespace(connection=SimpleNamespace(alias="default"))
    Schedule.objects.filter(name=SCHEDULE_NAME).delete()
    migration.create_schedule(apps, editor)
    migration.create_schedule(apps, editor)
    schedule = Schedule.objects.get(name=SCHEDULE_NAME)
    assert (schedule.func, schedule.schedule_type, schedule.minutes, schedule.repeats) == (
        SCHEDULE_FUNC, Schedule.MINUTES, 1, -1)
    migration.remove_schedule(apps, editor)
    assert not Schedule.objects.filter(name=SCHEDULE_NAME).exists()


# --------------------------------------------------------------------------- what a check records


def test_a_healthy_check_writes_history_and_the_stores_health(org, emulator):
    store = make_store(org, "Emulated", base_url=emulator.base_url)
    job = enqueue(org, "store.health_check", store=store)
    assert runner.execute(job.pk) == "succeeded"
    store.refresh_from_db()
    check = HealthCheck.objects.get(store=store)
    assert check.ok and check.health == "healthy" and 0 < check.latency < 10 and check.error == ""
    assert store.health == "healthy" and store.health_latency == check.latency
    assert store.health_checked_at == check.checked_at
    assert Event.objects.filter(topic="store.health", payload__store_id=store.pk).exists()


def test_an_unreachable_store_is_recorded_as_failing(org):
    store = make_store(org, "Nowhere")
    check = record_health(store)
    assert not check.ok and check.health == "failing" and check.latency is None and "network error" in check.error
    store.refresh_from_db()
    assert store.health == "failing" and store.is_enabled


def test_refused_credentials_disable_a_store_that_asks_for_it(org, emulator):
    store = make_store(org, "Bad keys", base_url=emulator.base_url, secret="cs_wrong", disable_on_auth_failure=True)
    record_health(store)
    store.refresh_from_db()
    assert store.health == "auth_failed" and not store.is_enabled
    disabled = Event.objects.get(topic="store.disabled", payload__store_id=store.pk)
    assert "store disabled: credentials refused" in disabled.message
    assert HealthCheck.objects.get(store=store).health == "auth_failed"
    with pytest.raises(StoreDisabled):
        enqueue(org, "store.publish", store=store)
    assert PluginManager().due() == []


def test_refused_credentials_leave_the_store_enabled_by_default(org, emulator):
    store = make_store(org, "Bad keys kept", base_url=emulator.base_url, secret="cs_wrong")
    record_health(store)
    store.refresh_from_db()
    assert store.health == "auth_failed" and store.is_enabled
    assert not Event.objects.filter(topic="store.disabled").exists()


def test_a_disabled_store_gets_no_publish_job_but_may_be_checked(org):
    store = make_store(org, "Off", is_enabled=False)
    with pytest.raises(StoreDisabled, match="Off is disabled"):
        enqueue(org, "store.publish", store=store)
    assert not Job.objects.filter(kind="store.publish").exists()
    assert enqueue(org, "store.health_check", store=store).pk


# --------------------------------------------------------------------------- logged workaround: no batch writes


def test_a_platform_without_batch_writes_logs_one_call_per_product(org, emulator, monkeypatch):
    from tests.factories import ProductFactory, VariantFactory

    monkeypatch.setattr(WooCommercePlugin, "max_batch", 1)
    monkeypatch.setattr(WooCommercePlugin, "capabilities", WooCommercePlugin.capabilities - {"batch_writes"})
    for n in range(3):
        VariantFactory(product=ProductFactory(organization=org, sku=f"ONE-{n}"), sku=f"ONE-{n}")
    store = make_store(org, "One by one", base_url=emulator.base_url)
    job = enqueue(org, "store.publish", store=store)
    assert runner.execute(job.pk) == "succeeded"
    job.refresh_from_db()
    assert job.result["created"] == 3
    assert any(line.endswith("no batch writes on WooCommerce: one call per product (3 calls)") for line in job.log)
