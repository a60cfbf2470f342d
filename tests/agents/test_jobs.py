"""Job orchestration on the real database: life cycle, priorities, limits, leases, timeouts, retries, dead letters."""

import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from django_q.models import OrmQ

from agents import runner
from agents.choices import Backoff, JobStatus, Priority
from agents.fingerprint import fingerprint, message_shape
from agents.models import Job, JobAttempt
from agents.policies import JobPolicy, policy_for
from agents.services import cancel_job, enqueue, prune_finished_jobs, retry_job, retry_matching
from approvals.models import AuditEntry
from flashfusion.models import Event
from stores.plugins import RateLimited, Rejected, Transient
from tests.factories import StoreFactory


def ok(job):
    return {"done": 1}


# ---- life cycle and idempotency -------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_enqueue_wakes_a_worker_after_commit(org, settings):
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "orm": "default"}
    settings.Q_CLUSTER.pop("redis", None)
    job = enqueue(org, "store.health_check")
    assert job.status == "queued" and job.summary == "Store health check"
    if not settings.REDIS_URL:
        assert OrmQ.objects.count() == 1
    assert Event.objects.filter(topic="job.created", payload__job_id=job.pk).exists()


def test_same_idempotency_key_returns_the_unfinished_job(org):
    first = enqueue(org, "store.health_check", idempotency_key="k1")
    second = enqueue(org, "store.health_check", idempotency_key="k1")
    assert first.pk == second.pk
    assert Job.objects.count() == 1


def test_a_job_waiting_for_retry_still_holds_its_key(org):
    first = enqueue(org, "store.health_check", idempotency_key="k1")
    Job.objects.filter(pk=first.pk).update(status="retry")
    assert enqueue(org, "store.health_check", idempotency_key="k1").pk == first.pk


def test_finished_job_key_can_be_reused(org):
    first = enqueue(org, "store.health_check", idempotency_key="k1")
    Job.objects.filter(pk=first.pk).update(status="succeeded")
    assert enqueue(org, "store.health_check", idempotency_key="k1").pk != first.pk


def test_only_one_claim_wins(org):
    job = enqueue(org, "store.health_check")
    assert Job.claim(job.pk) is not None
    assert Job.claim(job.pk) is None
    job.refresh_from_db()
    assert job.attempts == 1 and job.status == "running" and job.lease_expires_at > timezone.now()


def test_success_records_result_attempt_and_events(org, job_kind):
    kind = job_kind("test.work", ok)
    job = enqueue(org, kind)
    assert runner.execute(job.pk) == "succeeded"
    job.refresh_from_db()
    assert job.result == {"done": 1} and job.finished_at is not None and job.lease_expires_at is None
    attempt = JobAttempt.objects.get(job=job)
    assert attempt.outcome == "succeeded" and attempt.number == 1 and attempt.finished_at
    topics = list(Event.objects.filter(payload__job_id=job.pk).order_by("id").values_list("topic", flat=True))
    assert topics == ["job.created", "job.started", "job.succeeded"]


# ---- priorities and concurrency limits ----------------------------------------------


def test_critical_job_starts_before_a_backlog_of_lower_ones(org, job_kind):
    kind = job_kind("test.work", ok)
    backlog = [enqueue(org, kind, priority=Priority.LOW) for _ in range(5)]
    normal = enqueue(org, kind)
    critical = enqueue(org, kind, priority=Priority.CRITICAL)
    order = [Job.claim_next().pk for _ in range(3)]
    assert order == [critical.pk, normal.pk, backlog[0].pk]


def test_per_store_limit_skips_to_another_store(org, job_kind, settings):
    settings.JOB_CONCURRENCY = {"total": 10, "per_store": 1, "per_kind": {}}
    kind = job_kind("test.work", ok)
    busy, other = StoreFactory(organization=org), StoreFactory(organization=org)
    first = enqueue(org, kind, store=busy)
    enqueue(org, kind, store=busy)
    elsewhere = enqueue(org, kind, store=other)
    assert Job.claim_next().pk == first.pk
    assert Job.claim_next().pk == elsewhere.pk
    assert Job.claim_next() is None  # the second job of the busy store waits


def test_total_and_per_kind_limits(org, job_kind, settings):
    settings.JOB_CONCURRENCY = {"total": 2, "per_store": 5, "per_kind": {"test.slow": 1}}
    slow = job_kind("test.slow", ok)
    fast = job_kind("test.fast", ok)
    first_slow = enqueue(org, slow)
    enqueue(org, slow)
    a_fast = enqueue(org, fast)
    enqueue(org, fast)
    assert Job.claim_next().pk == first_slow.pk
    assert Job.claim_next().pk == a_fast.pk  # the second slow one is over its kind's limit
    assert Job.claim_next() is None  # two running: the total is reached


def test_backoff_keeps_a_retry_out_of_the_queue_until_due(org, job_kind):
    kind = job_kind("test.work", ok)
    job = enqueue(org, kind)
    Job.objects.filter(pk=job.pk).update(status="retry", run_after=timezone.now() + timedelta(seconds=60))
    assert Job.claim_next() is None
    assert Job.claim_next(now=timezone.now() + timedelta(seconds=61)).pk == job.pk


# ---- retries, backoff and dead letters ------------------------------------------------


def test_backoff_shapes_with_jitter_and_cap():
    no_jitter = {"jitter": 0.0, "base": 5, "cap": 60}
    expo = JobPolicy("x.y", backoff=Backoff.EXPONENTIAL, **no_jitter)
    linear = JobPolicy("x.y", backoff=Backoff.LINEAR, **no_jitter)
    constant = JobPolicy("x.y", backoff=Backoff.CONSTANT, **no_jitter)
    assert [expo.delay(n) for n in (1, 2, 3, 4, 5)] == [5, 10, 20, 40, 60]
    assert [linear.delay(n) for n in (1, 2, 3)] == [5, 10, 15]
    assert [constant.delay(n) for n in (1, 2, 3)] == [5, 5, 5]
    jittered = JobPolicy("x.y", backoff=Backoff.EXPONENTIAL, base=10, cap=300, jitter=0.5)
    assert jittered.delay(2, rng=lambda: 1.0) == 10.0 and jittered.delay(2, rng=lambda: 0.0) == 20.0
    samples = {round(jittered.delay(3), 3) for _ in range(50)}
    assert len(samples) > 1 and all(20 <= s <= 40 for s in samples)
    assert expo.delay(1, retry_after=42) == 42  # the store's Retry-After wins


def test_transient_error_is_retried_with_backoff_then_dead(org, job_kind):
    def flaky(job):
        raise Transient("503 from store")

    kind = job_kind("test.work", flaky, max_attempts=2, backoff=Backoff.CONSTANT, base=30, jitter=0)
    job = enqueue(org, kind)
    before = timezone.now()
    assert runner.execute(job.pk) == "retry"
    job.refresh_from_db()
    assert 29 <= (job.run_after - before).total_seconds() <= 31
    assert runner.execute(job.pk) == "dead"
    job.refresh_from_db()
    assert job.attempts == 2 and "503 from store" in job.error and job.error_class == "Transient"
    outcomes = list(JobAttempt.objects.filter(job=job).values_list("outcome", "retry_in"))
    assert outcomes == [("failed", 30.0), ("failed", None)]


def test_rate_limited_uses_retry_after(org, job_kind):
    def limited(job):
        raise RateLimited("429", retry_after=42)

    kind = job_kind("test.work", limited, base=1, jitter=0)
    job = enqueue(org, kind)
    before = timezone.now()
    runner.execute(job.pk)
    job.refresh_from_db()
    assert job.status == "retry" and 41 <= (job.run_after - before).total_seconds() <= 43


def test_rejected_error_goes_straight_to_dead(org, job_kind):
    def bad(job):
        raise Rejected("price must be positive", status=422)

    kind = job_kind("test.work", bad, max_attempts=5)
    job = enqueue(org, kind)
    assert runner.execute(job.pk) == "dead"
    job.refresh_from_db()
    assert job.attempts == 1 and job.error_fingerprint == fingerprint(kind, "Rejected", job.error)


def test_dead_letters_group_by_kind_class_and_message_shape():
    a = fingerprint("store.publish", "Rejected", "Rejected: product 1234 'blue-shirt' price must be positive (422)")
    b = fingerprint("store.publish", "Rejected", "Rejected: product 98 'red-hat' price must be positive (422)")
    other_status = fingerprint("store.publish", "Rejected", "Rejected: product 98 'red-hat' price must be positive (400)")
    other_kind = fingerprint("store.pull", "Rejected", "Rejected: product 98 'red-hat' price must be positive (422)")
    assert a == b and len({a, other_status, other_kind}) == 3
    assert message_shape("job #12 at https://x.test/a?b=1 took 3.5 s") == "job #N at <url> took N s"


# ---- timeouts ------------------------------------------------------------------------


def test_timeout_stops_a_cooperative_job_at_its_checkpoint(org, job_kind):
    def loops(job):
        while True:
            job.checkpoint()
            time.sleep(0.02)

    kind = job_kind("test.work", loops, timeout=0.3, max_attempts=2, jitter=0)
    job = enqueue(org, kind)
    started = time.monotonic()
    assert runner.execute(job.pk) == "retry"
    assert time.monotonic() - started < 3
    attempt = JobAttempt.objects.get(job=job)
    assert attempt.outcome == "timed_out" and "timeout" in attempt.error


def test_timeout_interrupts_a_job_blocked_in_a_call(org, job_kind):
    def blocks(job):
        time.sleep(30)

    kind = job_kind("test.work", blocks, timeout=0.5, max_attempts=1)
    job = enqueue(org, kind)
    started = time.monotonic()
    assert runner.execute(job.pk) == "dead"
    assert time.monotonic() - started < 5
    assert JobAttempt.objects.get(job=job).outcome == "timed_out"


# ---- leases and heartbeats ------------------------------------------------------------


def test_expired_lease_is_taken_back_as_a_new_attempt(org, job_kind):
    kind = job_kind("test.work", ok, max_attempts=3)
    job = enqueue(org, kind)
    claimed = Job.claim(job.pk, worker="dead-host:1")
    Job.objects.filter(pk=job.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    assert Job.claim_next(worker="live-host:2") is None  # still running as far as the table says
    assert Job.take_back_lost() == [job.pk]  # what each worker's keeper (runner.sweep) does every 2 s
    again = Job.claim_next(worker="live-host:2")
    assert again.pk == job.pk and again.attempts == 2
    rows = list(JobAttempt.objects.filter(job=job).values_list("number", "worker", "outcome"))
    assert rows == [(1, "dead-host:1", "lost"), (2, "live-host:2", "running")]
    # The first worker, back from the dead, cannot overwrite the new attempt.
    assert claimed.succeed({"late": True}) is False
    assert Job.objects.get(pk=job.pk).status == "running"


def test_lost_job_out_of_attempts_is_a_dead_letter(org, job_kind):
    kind = job_kind("test.work", ok, max_attempts=1)
    job = enqueue(org, kind)
    Job.claim(job.pk)
    Job.objects.filter(pk=job.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    assert Job.take_back_lost() == [job.pk]
    job.refresh_from_db()
    assert job.status == "dead" and job.error_class == "WorkerLost"


@pytest.mark.django_db(transaction=True)
def test_heartbeat_renews_the_lease_while_the_job_runs(org, job_kind, settings):
    settings.JOB_LEASE_SECONDS = 2
    seen = []

    def slow(job):
        first = Job.objects.get(pk=job.pk).lease_expires_at
        time.sleep(1.6)  # longer than one heartbeat interval (2/3 s), shorter than the lease
        seen.append((first, Job.objects.get(pk=job.pk).lease_expires_at))
        return {}

    kind = job_kind("test.work", slow)
    job = enqueue(org, kind)
    assert runner.execute(job.pk) == "succeeded"
    first, later = seen[0]
    assert later > first


# ---- cancel and retry by hand ---------------------------------------------------------


def test_cancel_a_queued_job_at_once_and_audit_it(org, operator, job_kind):
    kind = job_kind("test.work", ok)
    job = enqueue(org, kind)
    assert cancel_job(job, actor=operator, ip_address="10.0.0.1") == "cancelled"
    job.refresh_from_db()
    assert job.status == "cancelled" and Job.claim_next() is None
    entry = AuditEntry.objects.get(action="job_cancelled")
    assert entry.actor == operator and entry.details["job_ids"] == [job.pk] and entry.ip_address == "10.0.0.1"


def test_cancel_a_running_job_stops_it_at_the_next_checkpoint(org, operator, job_kind):
    steps = []

    def works(job):
        for step in range(100):
            steps.append(step)
            if step == 2:
                assert cancel_job(Job.objects.get(pk=job.pk), actor=operator) == "requested"
            job._last_check = None  # look at the flag on every step in this test
            job.set_progress(step + 1, 100)
        return {}

    kind = job_kind("test.work", works)
    job = enqueue(org, kind)
    assert runner.execute(job.pk) == "cancelled"
    assert steps == [0, 1, 2]
    assert JobAttempt.objects.get(job=job).outcome == "cancelled"


def test_retry_by_hand_gives_a_fresh_budget_and_keeps_the_attempts(org, operator, job_kind):
    def bad(job):
        raise Rejected("no")

    kind = job_kind("test.work", bad, max_attempts=2)
    job = enqueue(org, kind)
    runner.execute(job.pk)
    job.refresh_from_db()
    assert job.status == "dead"
    assert retry_job(job, actor=operator) is True
    job.refresh_from_db()
    assert job.status == "queued" and job.max_attempts == 3 and job.attempts == 1
    assert AuditEntry.objects.filter(action="job_retried", actor=operator).exists()
    assert retry_job(job, actor=operator) is False  # already queued


def test_retry_all_matching_only_touches_dead_and_cancelled_jobs_of_the_org(org, other_org, operator, job_kind):
    kind = job_kind("test.work", ok)
    dead = [enqueue(org, kind) for _ in range(3)]
    Job.objects.filter(pk__in=[j.pk for j in dead]).update(status="dead")
    running = enqueue(org, kind)
    Job.objects.filter(pk=running.pk).update(status="running")
    foreign = enqueue(other_org, kind)
    Job.objects.filter(pk=foreign.pk).update(status="dead")
    count = retry_matching(org, Job.objects.all(), actor=operator, description="status dead")
    assert count == 3
    assert set(Job.objects.filter(status="queued").values_list("pk", flat=True)) == {j.pk for j in dead}
    assert Job.objects.get(pk=foreign.pk).status == "dead"
    entry = AuditEntry.objects.get(action="jobs_retried")
    assert entry.details["count"] == 3 and "status dead" in entry.message


# ---- retention ------------------------------------------------------------------------


def test_prune_keeps_recent_jobs_and_dead_letters_longer(org, settings, job_kind):
    settings.JOB_RETENTION_DAYS, settings.JOB_DEAD_LETTER_RETENTION_DAYS = 14, 90
    kind = job_kind("test.work", ok)
    now = timezone.now()

    def job(status, days_ago):
        j = enqueue(org, kind)
        Job.objects.filter(pk=j.pk).update(status=status, finished_at=now - timedelta(days=days_ago))
        return j.pk

    old_ok, new_ok = job("succeeded", 20), job("succeeded", 3)
    old_partial, new_partial, old_refused = job("partial", 20), job("partial", 3), job("refused", 20)
    old_dead, aged_dead = job("dead", 100), job("dead", 20)
    queued = enqueue(org, kind).pk
    assert prune_finished_jobs(now=now, chunk=1) == {"finished": 3, "dead": 1}
    assert set(Job.objects.values_list("pk", flat=True)) == {new_ok, new_partial, aged_dead, queued}
    assert old_partial and old_refused
    assert old_ok not in Job.objects.values_list("pk", flat=True) and old_dead


# ---- the database connection drops ---------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_database_connection_dropped_mid_job_fails_cleanly_and_is_retried(org, job_kind):
    if connection.vendor != "postgresql":
        pytest.skip("only a PostgreSQL server connection can be cut from outside (CI runs this on PostgreSQL)")
    import psycopg

    calls = []

    def cut_off(job):
        calls.append(1)
        if len(calls) == 1:
            settings_dict = connection.settings_dict
            pid = connection.connection.info.backend_pid
            with psycopg.connect(
                dbname=settings_dict["NAME"], user=settings_dict["USER"], host=settings_dict["HOST"],
                port=settings_dict["PORT"] or 5432, autocommit=True,
            ) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", [pid])
            Job.objects.filter(pk=job.pk).exists()  # the next query meets the dropped connection
        return {"ok": True}

    kind = job_kind("test.work", cut_off, jitter=0, base=0)
    job = enqueue(org, kind)
    assert runner.execute(job.pk) == "retry"
    job.refresh_from_db()
    assert job.error_class in ("OperationalError", "InterfaceError") and "database unavailable" in job.error
    assert runner.execute(job.pk) == "succeeded"
    assert list(JobAttempt.objects.filter(job=job).values_list("outcome", flat=True)) == ["failed", "succeeded"]


def test_builtin_policies_are_complete():
    for kind in ("catalog.import", "store.publish", "store.pull", "store.health_check"):
        policy = policy_for(kind)
        assert policy.timeout > 0 and policy.max_attempts >= 1 and callable(policy.handler_function())


def test_states_are_the_issues_life_cycle():
    assert {s.value for s in JobStatus} == {"queued", "running", "retry", "succeeded", "partial", "refused", "dead",
                                            "cancelled"}


def test_publish_job_titles_say_what_the_sync_does(org):
    store = StoreFactory(organization=org, name="Main")
    title = lambda params: Job(organization=org, kind="store.publish", store=store, params=params).title  # noqa: E731
    assert title({"strategy": "full"}) == "Full sync of Main"
    assert title({"strategy": "incremental"}) == "Sync changes to Main"
    assert title({"product_ids": [1, 2]}) == "Publish to Main (2 products)"
    assert title({"product_ids": [1], "unpublish": True}) == "Unpublish 1 product from Main"
    assert title({"product_ids": [1, 2, 3], "retry_of": 7}) == "Retry 3 products that failed in job #7 · Main"
