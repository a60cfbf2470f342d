"""The LISTEN/NOTIFY broker: a waiting worker wakes when a task is queued, not at its next poll."""

import threading
import time

import pytest
from django.db import connection, connections


@pytest.mark.django_db(transaction=True)
def test_a_queued_task_wakes_the_waiting_dequeue_long_before_the_poll(settings):
    if connection.vendor != "postgresql":
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's (CI runs this on PostgreSQL)")
    from django_q.conf import Conf

    from flashfusion.q_broker import PostgresNotifyBroker

    poll, orm = Conf.POLL, Conf.ORM
    Conf.POLL = 5.0  # a poll this long would fail the timing below
    Conf.ORM = "default"  # the broker's database (with REDIS_URL set, q2 itself runs its Redis broker)
    broker = PostgresNotifyBroker(list_key="test-notify")
    got = {}

    def worker():
        started = time.monotonic()
        while time.monotonic() - started < 8 and "tasks" not in got:
            tasks = broker.dequeue()
            if tasks:
                got["tasks"], got["after"] = tasks, time.monotonic()
        connections.close_all()

    try:
        thread = threading.Thread(target=worker)
        thread.start()
        time.sleep(0.5)  # the worker is now waiting on LISTEN with an empty queue
        queued_at = time.monotonic()
        broker.enqueue("payload-1")
        thread.join(timeout=10)
    finally:
        Conf.POLL, Conf.ORM = poll, orm
        broker._close_listener()
    assert [payload for _, payload in got["tasks"]] == ["payload-1"]
    assert got["after"] - queued_at < 1.0  # woken by NOTIFY, not after the 5 s poll
