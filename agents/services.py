"""Creating jobs and handing them to django-q2."""

import logging
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from django_q.models import Schedule
from django_q.tasks import async_task

from agents.choices import UNFINISHED, JobKind, JobStatus, Priority
from agents.models import Job

log = logging.getLogger(__name__)

#: Job kinds that read from or write to a store's catalog: refused for a disabled store.
STORE_SYNC_KINDS = frozenset({JobKind.STORE_PUBLISH, JobKind.STORE_PULL})


class StoreDisabled(ValueError):
    """A sync job was asked for a store that is disabled (``Store.is_enabled`` is false)."""

    def __init__(self, store):
        super().__init__(
            f"{store} is disabled, so it gets no new publish or pull jobs. "
            "An admin can re-enable it on the store's page once its credentials work again."
        )
        self.store = store


def enqueue(
    organization,
    kind: str,
    *,
    store=None,
    params: dict | None = None,
    priority: int = Priority.NORMAL,
    idempotency_key: str = "",
    created_by=None,
    max_attempts: int = 3,
) -> Job:
    """Create a queued job and submit it to the workers after commit.

    With an ``idempotency_key`` an unfinished job with the same key is
    returned instead of creating a second one (also under a race: the
    database's conditional unique constraint decides).

    Raises ``StoreDisabled`` for a publish or pull job (``STORE_SYNC_KINDS``)
    on a store that is disabled (read from the database, not from the
    possibly stale ``store`` object).
    """
    if store is not None and kind in STORE_SYNC_KINDS:
        from stores.models import Store

        if not Store.objects.filter(pk=store.pk, is_enabled=True).exists():
            raise StoreDisabled(store)
    if idempotency_key:
        existing = _unfinished(organization, idempotency_key)
        if existing:
            return existing
    try:
        with transaction.atomic():
            job = Job.objects.create(
                organization=organization,
                kind=kind,
                store=store,
                params=params or {},
                priority=priority,
                idempotency_key=idempotency_key,
                created_by=created_by if created_by is not None and created_by.is_authenticated else None,
                max_attempts=max_attempts,
            )
            job._publish(f"{job} queued", topic="job.created")
            transaction.on_commit(lambda: submit(job.pk))
    except IntegrityError:
        existing = _unfinished(organization, idempotency_key) if idempotency_key else None
        if existing is None:
            raise
        return existing
    return job


def _unfinished(organization, key: str) -> Job | None:
    return Job.objects.filter(organization=organization, idempotency_key=key, status__in=UNFINISHED).first()


def submit(job_id: int, *, delay: float = 0) -> None:
    """Hand a job to django-q2 now, or after ``delay`` seconds via a one-off schedule."""
    if delay <= 0:
        async_task("agents.runner.execute", job_id, task_name=f"job-{job_id}", group="flashfusion-jobs")
        return
    Schedule.objects.create(
        name=f"job-{job_id}-retry-{timezone.now():%H%M%S%f}",
        func="agents.runner.execute",
        args=repr((job_id,)),
        schedule_type=Schedule.ONCE,
        repeats=1,
        next_run=timezone.now() + timedelta(seconds=delay),
    )


def pause(job: Job, delay: float, reason: str) -> None:
    """running → queued for ``delay`` seconds *without* counting the attempt (the claim's count is given back).

    For a job that could not start its work for a reason outside itself — its
    store's circuit breaker is open — so an outage pauses a store's jobs
    instead of burning their attempts.
    """
    delay = max(0.0, float(delay))
    job.attempts = max(0, job.attempts - 1)
    job.status = JobStatus.QUEUED
    job.add_log(f"paused for {delay:.0f} s, attempt not counted: {reason}")
    job._save_and_publish(f"{job} paused for {delay:.0f} s: {reason[:200]}")
    submit(job.pk, delay=delay)


def backoff_seconds(attempt: int, retry_after: float | None = None) -> float:
    """Seconds before attempt ``attempt + 1``: the store's Retry-After wins, else 5·2^(n-1), at most 300."""
    if retry_after is not None:
        return max(0.0, float(retry_after))
    return float(min(300, 5 * 2 ** max(0, attempt - 1)))
