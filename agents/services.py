"""Creating jobs, waking workers, and the operator's actions on jobs (each audited)."""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_q.tasks import async_task

from agents.choices import FINISHED, RETRYABLE_BY_HAND, UNFINISHED, JobKind, JobStatus
from agents.models import Job
from agents.policies import policy_for

log = logging.getLogger(__name__)

#: Job kinds that read from or write to a store's catalog: refused for a disabled store.
STORE_SYNC_KINDS = frozenset({JobKind.STORE_PUBLISH, JobKind.STORE_PULL})
#: Most jobs one bulk retry re-queues (a confirmation shows the count first).
BULK_RETRY_LIMIT = 10_000


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
    priority: int | None = None,
    idempotency_key: str = "",
    created_by=None,
    max_attempts: int | None = None,
    run_after=None,
) -> Job:
    """Create a queued job and wake a worker after commit.

    ``priority`` and ``max_attempts`` default to the kind's policy
    (``agents.policies``). With an ``idempotency_key`` an unfinished job with
    the same key is returned instead of creating a second one (also under a
    race: the database's conditional unique constraint decides).

    Raises ``StoreDisabled`` for a publish or pull job (``STORE_SYNC_KINDS``)
    on a store that is disabled (read from the database, not from the
    possibly stale ``store`` object), and ``KeyError`` for an unknown kind.
    """
    policy = policy_for(kind)
    if store is not None and kind in STORE_SYNC_KINDS:
        from stores.models import Store

        if not Store.objects.filter(pk=store.pk, is_enabled=True).exists():
            raise StoreDisabled(store)
    if idempotency_key:
        existing = _unfinished(organization, idempotency_key)
        if existing:
            return existing
    job = Job(
        organization=organization,
        kind=kind,
        store=store,
        params=params or {},
        priority=policy.priority if priority is None else priority,
        idempotency_key=idempotency_key,
        created_by=created_by if created_by is not None and created_by.is_authenticated else None,
        max_attempts=policy.max_attempts if max_attempts is None else max_attempts,
        run_after=run_after or timezone.now(),
    )
    job.summary = job.title[:200]
    try:
        with transaction.atomic():
            job.save()
            job._publish(f"{job} queued", topic="job.created")
            if run_after is None:
                if "orm" in settings.Q_CLUSTER:
                    wake_workers()  # the broker's row commits with the job: one commit, and never one without the other
                else:
                    transaction.on_commit(wake_workers)
    except IntegrityError:
        existing = _unfinished(organization, idempotency_key) if idempotency_key else None
        if existing is None:
            raise
        return existing
    return job


def _unfinished(organization, key: str) -> Job | None:
    return Job.objects.filter(organization=organization, idempotency_key=key, status__in=UNFINISHED).first()


def wake_workers(count: int = 1) -> None:
    """Hand django-q2 ``count`` tasks that each run the best runnable jobs (``agents.runner.run_next``).

    A task carries no job id: whichever worker gets it claims by priority, so a
    critical job queued behind a backlog still starts first. Extra tasks find
    nothing and end at once; so no more than one per worker is kept waiting
    (a burst of 2,000 jobs costs a handful of tasks: each drains the queue).
    """
    waiting = _tasks_waiting()
    wanted = min(max(0, count), max(0, settings.Q_CLUSTER["workers"] - waiting))
    for _ in range(wanted):
        async_task("agents.runner.run_next", task_name="run-next-job", group="flashfusion-jobs",
                   q_options={"ack_failure": True})


def _tasks_waiting() -> int:
    """Tasks django-q2 holds that no worker took yet (0 when the broker cannot say)."""
    from django_q.brokers import get_broker

    try:
        return get_broker().queue_size() or 0
    except Exception:  # a broker that cannot count: wake anyway, extra tasks are harmless
        return 0


# ---- Operator actions: each one is audited ----------------------------------------


def _audit(job_or_org_id, action: str, message: str, *, actor, ip_address=None, details=None):
    from approvals.services import record

    return record(job_or_org_id, action, message, actor=actor, ip_address=ip_address, details=details or {})


def cancel_job(job: Job, *, actor, ip_address=None) -> str:
    """Cancel ``job`` (queued at once, running at its next checkpoint) and audit it.

    Returns ``"cancelled"``, ``"requested"`` or ``"finished"`` (nothing was done, nothing audited).
    """
    from approvals.choices import AuditAction

    with transaction.atomic():
        outcome = job.cancel()
        if outcome == "finished":
            return outcome
        verb = "cancelled" if outcome == "cancelled" else "asked to stop"
        _audit(job.organization_id, AuditAction.JOB_CANCELLED, f"Job #{job.pk} {verb}: {job.title}",
               actor=actor, ip_address=ip_address, details={"job_ids": [job.pk], "outcome": outcome})
    return outcome


def retry_job(job: Job, *, actor, ip_address=None) -> bool:
    """Queue a dead or cancelled job again with a fresh attempt budget; audited. ``False`` if it was not retryable."""
    from approvals.choices import AuditAction

    with transaction.atomic():
        if not job.retry_by_hand():
            return False
        _audit(job.organization_id, AuditAction.JOB_RETRIED, f"Job #{job.pk} retried by hand: {job.title}",
               actor=actor, ip_address=ip_address, details={"job_ids": [job.pk]})
        transaction.on_commit(wake_workers)
    return True


#: Parameters of a publish that say how it writes; a retry of its failed items writes them the same way.
WRITE_PARAMS = ("fields", "whole", "unpublish")


def retry_failed_items(job: Job, *, actor, ip_address=None) -> Job | None:
    """Queue a ``store.publish`` of just the products that failed in ``job`` (a publish that ended "partial").

    The new job publishes ``job.failed_product_ids`` the way ``job`` did (its ``fields``, ``whole`` and
    ``unpublish`` parameters), with ``params["retry_of"] = job.pk`` and trigger "retry"; one per job while
    it is unfinished (idempotency key ``retry-failed:<id>``: a second click gets the same job). Audited as a
    job retry. Returns the new (or still unfinished) job, ``None`` when ``job`` has no failed items to retry
    (``Job.can_retry_failed``). Raises ``StoreDisabled`` when the store was disabled since.
    """
    from approvals.choices import AuditAction

    if not job.can_retry_failed:
        return None
    ids = job.failed_product_ids
    params = {"product_ids": ids, "trigger": "retry", "retry_of": job.pk}
    params.update({k: job.params[k] for k in WRITE_PARAMS if isinstance(job.params, dict) and job.params.get(k)})
    key = f"retry-failed:{job.pk}"
    existing = _unfinished(job.organization, key)
    if existing is not None:
        return existing
    with transaction.atomic():
        new = enqueue(job.organization, JobKind.STORE_PUBLISH, store=job.store, params=params,
                      idempotency_key=key, created_by=actor)
        _audit(job.organization_id, AuditAction.JOB_RETRIED,
               f"Job #{job.pk}: its {len(ids)} failed item{'s' if len(ids) != 1 else ''} queued again as job #{new.pk}",
               actor=actor, ip_address=ip_address,
               details={"job_ids": [job.pk], "new_job_id": new.pk, "product_ids": ids[:1000], "count": len(ids)})
    return new


def retryable(queryset):
    """The dead and cancelled jobs of ``queryset`` (what "retry all that match" acts on)."""
    return queryset.filter(status__in=RETRYABLE_BY_HAND)


def retry_matching(organization, queryset, *, actor, ip_address=None, description: str = "") -> int:
    """Retry every dead or cancelled job in ``queryset`` (at most ``BULK_RETRY_LIMIT``) in one transaction.

    Each job gets a fresh attempt budget; one audit entry lists the ids and
    ``description`` (the filter, in words). Returns how many were queued.
    """
    from approvals.choices import AuditAction

    ids = list(retryable(queryset).filter(organization=organization).order_by("id").values_list("pk", flat=True)[:BULK_RETRY_LIMIT])
    retried = []
    with transaction.atomic():
        for job in Job.objects.filter(pk__in=ids).select_related("store"):
            if job.retry_by_hand():
                retried.append(job.pk)
        if retried:
            _audit(organization.pk, AuditAction.JOBS_RETRIED,
                   f"{len(retried)} jobs retried by hand" + (f" ({description})" if description else ""),
                   actor=actor, ip_address=ip_address, details={"job_ids": retried[:1000], "count": len(retried)})
            transaction.on_commit(lambda: wake_workers(min(len(retried), settings.JOB_CONCURRENCY["total"])))
    return len(retried)


#: Finished jobs kept ``settings.JOB_RETENTION_DAYS``; dead letters are kept longer.
PRUNED_WITH_RETENTION = tuple(s for s in FINISHED if s != JobStatus.DEAD)


def prune_finished_jobs(now=None, *, chunk: int = 5000) -> dict:
    """Delete finished jobs older than ``settings.JOB_RETENTION_DAYS`` (dead letters: ``JOB_DEAD_LETTER_RETENTION_DAYS``).

    "Finished" is every end state but dead: succeeded, partial (with failed items), refused and cancelled.
    Deletes in chunks of ``chunk`` rows so no transaction holds the table long.
    Returns ``{"finished": n, "dead": n}``. Schedule entry point.
    """
    now = now or timezone.now()
    cutoffs = {
        "finished": (PRUNED_WITH_RETENTION, now - timedelta(days=settings.JOB_RETENTION_DAYS)),
        "dead": ((JobStatus.DEAD,), now - timedelta(days=settings.JOB_DEAD_LETTER_RETENTION_DAYS)),
    }
    counts = {}
    for name, (statuses, before) in cutoffs.items():
        total = 0
        while True:
            ids = list(
                Job.objects.filter(status__in=statuses, finished_at__lt=before).values_list("pk", flat=True)[:chunk]
            )
            if not ids:
                break
            with transaction.atomic():
                Job.objects.filter(pk__in=ids).delete()
            total += len(ids)
        counts[name] = total
    if any(counts.values()):
        log.info("pruned jobs: %s", counts)
    return counts
