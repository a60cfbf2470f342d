"""A worker machine is lost (SIGKILL of the whole ``qcluster``) in the middle of a sync job.

Real parts: ``manage.py qcluster`` child processes on the test database, the
WooCommerce emulator over HTTP (slowed down so the job is caught half-way),
the sync agent. The job must be taken back when its lease runs out, retried
as a new attempt by the next cluster, and the store must end with every SKU
exactly once; nothing stays "running".
"""

import os
import signal
import sys
import time

import pytest

from agents.models import Job, JobAttempt
from agents.services import enqueue
from products.demo import demo_catalog_csv
from products.importers import apply_catalog, parse_catalog
from products.models import Variant
from stores.emulators.faults import FaultPlan
from stores.emulators.woocommerce import start_emulator
from stores.models import Listing, Store
from tests.agents.test_sync import remote_skus
from tests.browser.conftest import ROOT, _spawn, _stop, child_env

LEASE_SECONDS = 3


def _cluster(name, tmp_path):
    from django.db import connection

    env = child_env(connection, JOB_LEASE_SECONDS=str(LEASE_SECONDS))
    log_dir = tmp_path / name
    log_dir.mkdir()
    return _spawn(name, [sys.executable, str(ROOT / "manage.py"), "qcluster"], env, log_dir)


def _wait(predicate, timeout, what, children):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    logs = "\n".join(f"--- {c.name} ---\n{c.output()[-4000:]}" for c in children)
    pytest.fail(f"{what} within {timeout} s\n{logs}", pytrace=False)


@pytest.mark.django_db(transaction=True)
def test_sigkilled_worker_mid_sync_is_retried_after_its_lease_and_nothing_is_duplicated(org, tmp_path, settings):
    settings.JOB_LEASE_SECONDS = LEASE_SECONDS
    apply_catalog(org, parse_catalog("woocommerce", demo_catalog_csv(count=40)))
    # Slow answers and small batches: the job makes many calls, so the kill lands half-way.
    with start_emulator(faults=FaultPlan(latency=0.25, seed=7)) as emulator:
        store = Store.objects.create(
            organization=org, name="Crash Woo", base_url=emulator.base_url, consumer_key="ck_demo",
            consumer_secret="cs_demo", batch_size=3,
        )
        first = _cluster("workers-1", tmp_path)
        children = [first]
        try:
            job = enqueue(org, "store.publish", store=store)
            _wait(lambda: Job.objects.filter(pk=job.pk, status="running", progress_done__gte=6).exists(),
                  60, "the publish job did not get under way", children)
            os.killpg(first.process.pid, signal.SIGKILL)  # the machine is gone: sentinel, workers, keeper
            first.process.wait(timeout=10)
            half_done = Job.objects.get(pk=job.pk)
            assert half_done.status == "running" and half_done.progress_done < half_done.progress_total

            second = _cluster("workers-2", tmp_path)
            children.append(second)
            _wait(lambda: Job.objects.filter(pk=job.pk, status__in=["succeeded", "dead"]).exists(),
                  120, "the job was not finished by the second cluster", children)
        finally:
            _stop(children)

        job.refresh_from_db()
        assert job.status == "succeeded", job.error
        outcomes = list(JobAttempt.objects.filter(job=job).order_by("number").values_list("number", "outcome"))
        assert outcomes == [(1, "lost"), (2, "succeeded")]
        assert not Job.objects.filter(status="running").exists()

        remote = remote_skus(emulator)
        catalog_skus = set(Variant.objects.filter(product__organization=org).exclude(sku="").values_list("sku", flat=True))
        assert catalog_skus and catalog_skus <= set(remote)
        duplicates = {sku: n for sku, n in remote.items() if n > 1}
        assert not duplicates, f"SKUs created twice: {duplicates}"
        assert Listing.objects.filter(store=store).exclude(state="in_sync").count() == 0
