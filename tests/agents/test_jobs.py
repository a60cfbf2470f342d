"""Job rows: idempotency keys, single claim, retries only for retryable store errors."""

import pytest
from django_q.models import OrmQ, Schedule

from agents import runner
from agents.models import Job
from agents.services import backoff_seconds, enqueue
from flashfusion.models import Event
from stores.plugins import RateLimited, Rejected, Transient


@pytest.fixture
def run_handler(monkeypatch):
    """Point a job kind at a test handler (the edge: what the agent does is not under test here)."""

    def install(kind, func):
        monkeypatch.setitem(runner.HANDLERS, kind, f"{__name__}.{func.__name__}")
        globals()[func.__name__] = func

    return install


@pytest.mark.django_db(transaction=True)
def test_enqueue_submits_to_django_q_after_commit(org):
    job = enqueue(org, "store.health_check")
    assert job.status == "queued"
    assert OrmQ.objects.count() == 1
    assert Event.objects.filter(topic="job.created", payload__job_id=job.pk).exists()


def test_same_idempotency_key_returns_the_unfinished_job(org):
    first = enqueue(org, "store.health_check", idempotency_key="k1")
    second = enqueue(org, "store.health_check", idempotency_key="k1")
    assert first.pk == second.pk
    assert Job.objects.count() == 1


def test_finished_job_key_can_be_reused(org):
    first = enqueue(org, "store.health_check", idempotency_key="k1")
    Job.objects.filter(pk=first.pk).update(status="succeeded")
    assert enqueue(org, "store.health_check", idempotency_key="k1").pk != first.pk


def test_only_one_claim_wins(org):
    job = enqueue(org, "store.health_check")
    assert Job.claim(job.pk) is not None
    assert Job.claim(job.pk) is None
    job.refresh_from_db()
    assert job.attempts == 1 and job.status == "running"


def test_success_records_result(org, run_handler):
    def ok_handler(job):
        return {"created": 3}

    run_handler("store.health_check", ok_handler)
    job = enqueue(org, "store.health_check")
    assert runner.execute(job.pk) == "succeeded"
    job.refresh_from_db()
    assert job.result == {"created": 3} and job.finished_at is not None


def test_transient_error_is_retried_with_backoff(org, run_handler):
    def flaky_handler(job):
        raise Transient("503 from store")

    run_handler("store.health_check", flaky_handler)
    job = enqueue(org, "store.health_check", max_attempts=2)
    assert runner.execute(job.pk) == "queued"
    schedule = Schedule.objects.get(func="agents.runner.execute")
    assert schedule.args == repr((job.pk,))
    assert runner.execute(job.pk) == "failed"
    job.refresh_from_db()
    assert job.attempts == 2 and "503 from store" in job.error


def test_rate_limit_retry_after_wins():
    assert backoff_seconds(1, retry_after=12.5) == 12.5
    assert backoff_seconds(1) == 5 and backoff_seconds(3) == 20 and backoff_seconds(20) == 300


def test_rejected_error_fails_at_once(org, run_handler):
    def bad_handler(job):
        raise Rejected("price must be positive", status=400)

    run_handler("store.health_check", bad_handler)
    job = enqueue(org, "store.health_check", max_attempts=5)
    assert runner.execute(job.pk) == "failed"
    assert not Schedule.objects.filter(func="agents.runner.execute").exists()


def test_rate_limited_uses_retry_after(org, run_handler):
    def limited_handler(job):
        raise RateLimited("429", retry_after=42)

    run_handler("store.health_check", limited_handler)
    job = enqueue(org, "store.health_check")
    runner.execute(job.pk)
    schedule = Schedule.objects.get(func="agents.runner.execute")
    delay = (schedule.next_run - Job.objects.get(pk=job.pk).updated_at).total_seconds()
    assert 40 <= delay <= 43
