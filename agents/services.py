"""Creating jobs and handing them to django-q2."""

import logging
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from django_q.models import Schedule
from django_q.tasks import async_task

from agents.choices import UNFINISHED, Priority
from agents.models import Job

log = logging.getLogger(__name__)


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
    """
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


def backoff_seconds(attempt: int, retry_after: float | None = None) -> float:
    """Seconds before attempt ``attempt + 1``: the store's Retry-After wins, else 5·2^(n-1), at most 300."""
    if retry_after is not None:
        return max(0.0, float(retry_after))
    return float(min(300, 5 * 2 ** max(0, attempt - 1)))
