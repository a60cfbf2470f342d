"""The sweeper never declares a job lost whose worker is alive, and never waits on a busy database for nothing.

Real database and connections: a heartbeat in flight (PostgreSQL row lock) must win over the
sweeper's look at the expired lease; on SQLite, where every write waits for the one write lock,
a sweep with no expired lease must not open a write transaction at all.
"""

import sqlite3
import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone

from agents import runner
from agents.models import Job
from agents.services import enqueue


def ok(job):
    return {"done": 1}


@pytest.mark.django_db(transaction=True)
def test_a_heartbeat_committed_while_the_sweeper_looks_keeps_the_job(org, job_kind):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serializes the two writes with its write lock; the race is PostgreSQL's")
    kind = job_kind("test.work", ok, max_attempts=3)
    job = Job.claim(enqueue(org, kind).pk, worker="alive:1")
    Job.objects.filter(pk=job.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    beating, result = threading.Event(), {}

    def heartbeat_in_flight():
        try:
            with transaction.atomic():
                assert job.heartbeat()  # row locked, renewed lease not yet committed
                beating.set()
                time.sleep(1.0)  # the sweeper looks meanwhile
        finally:
            connections.close_all()

    def sweeper():
        beating.wait(5)
        try:
            result["taken"] = Job.take_back_lost()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=heartbeat_in_flight), threading.Thread(target=sweeper)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(15)

    assert result["taken"] == []
    job.refresh_from_db()
    assert job.status == "running" and job.attempts == 1 and job.lease_expires_at > timezone.now()


@pytest.mark.django_db(transaction=True)
def test_a_sweep_without_expired_leases_does_not_wait_for_the_write_lock(org, job_kind):
    if connection.vendor != "sqlite":
        pytest.skip("the single write lock is SQLite's")
    kind = job_kind("test.work", ok, max_attempts=3)
    Job.claim(enqueue(org, kind).pk, worker="alive:1")  # running, lease fresh
    other = sqlite3.connect(connection.settings_dict["NAME"], timeout=0.1)
    other.execute("BEGIN IMMEDIATE")  # another process writing (an import's chunk)
    try:
        started = time.monotonic()
        assert runner.sweep()["taken_back"] == 0
        elapsed = time.monotonic() - started
    finally:
        other.rollback()
        other.close()
    assert elapsed < 1.0, f"the sweep waited {elapsed:.1f} s for a write lock it did not need"
