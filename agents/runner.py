"""What a django-q2 worker runs: claim a job row, run its agent under a lease and a timeout, record the outcome.

django-q2 only executes. Attempts, leases and idempotency live in our job table
because q2 re-runs a task whose worker was killed only after its ``retry``
interval (so a half-done side effect happens twice), never counts a task that
kills its own worker (django-q2#327), and its Redis broker loses in-flight
tasks on a crash.
"""

import logging
import signal
import threading
import time
from contextlib import contextmanager
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, close_old_connections, connection, connections
from django.utils import timezone

from agents.choices import AttemptOutcome, JobStatus
from agents.models import Job, JobCancelled, JobLost, JobTimedOut, worker_name
from agents.policies import policy_for
from stores.breaker import Breaker, CircuitOpen
from stores.plugins import RateLimited, StoreError

log = logging.getLogger(__name__)

#: How long one ``run_next`` task keeps claiming more jobs before it hands the
#: worker back to django-q2 (seconds); any job it starts may run longer.
DRAIN_SECONDS = 20.0


class JobInputError(Exception):
    """A job refused its input (e.g. a catalog file with bad rows): the message is for the operator.

    The job ends "refused" (``Job.refuse``) with the message as its error and
    ``details`` (JSON, e.g. ``{"input_errors": [{"row", "column", "message"}]}``)
    as its result, without a class name or a logged traceback. It is not a
    dead letter and is not retried: the same input would be refused again.
    """

    def __init__(self, message: str, *, details: dict | None = None):
        super().__init__(message)
        self.details = details or {}


class JobRetryLater(Exception):
    """A job met a transient conflict (e.g. another process wrote the same import's checkpoint): retry it.

    The attempt ends failed and retryable (backoff of the kind's policy); the message is kept on the job.
    """


def has_failed_items(result) -> bool:
    """Whether a handler's result reports failed items (``result["failed"] > 0``): the job ends "partial"."""
    failed = result.get("failed") if isinstance(result, dict) else None
    return isinstance(failed, int) and failed > 0


def run_next() -> int:
    """django-q2 task: run the best runnable jobs one after another for up to ``DRAIN_SECONDS``.

    Returns how many jobs it ran. Priorities and concurrency limits are
    applied by ``Job.claim_next``.
    """
    worker = worker_name()
    ran = 0
    stop_at = time.monotonic() + DRAIN_SECONDS
    while True:
        if time.monotonic() >= stop_at:
            # Out of time with work left: hand over to a fresh task so other q2 work interleaves.
            from agents.services import wake_workers

            wake_workers()
            break
        job = Job.claim_next(worker=worker, precheck=ran == 0)  # after a job, just try: work is likely
        if job is None:
            break
        _run(job)
        ran += 1
    return ran


def execute(job_id: int) -> str:
    """Run job ``job_id`` now if it is queued or waiting for a retry; returns its status after.

    "Run this one now": ignores ``run_after`` and the concurrency limits
    (tests and an operator's run-now use it; workers use ``run_next``).
    Returns ``"not-runnable"`` when the job is running, finished or missing.
    """
    job = Job.claim(job_id)
    if job is None:
        return "not-runnable"
    _run(job)
    return job.status


def _run(job: Job) -> None:
    """Run one claimed job to an outcome. Never raises (an outcome is always recorded, or the job was taken back)."""
    try:
        policy = policy_for(job.kind)
    except KeyError:
        job.fail_attempt(f"no handler for job kind {job.kind!r}", error_class="UnknownKind", retryable=False)
        return
    if job.store_id is not None:
        wait = Breaker(job.store).blocked_for()
        if wait is not None:
            job.pause(wait, f"circuit open for store {job.store}")
            return
    job.timeout = policy.timeout
    job.deadline = timezone.now() + timedelta(seconds=policy.timeout)
    try:
        with Lease(job), alarm(policy.timeout):
            result = policy.handler_function()(job)
    except CircuitOpen as exc:
        job.pause(exc.retry_after, str(exc))
    except StoreError as exc:
        retry_after = exc.retry_after if isinstance(exc, RateLimited) else None
        if exc.retryable and job.store_id is not None:
            # An open breaker's remaining cool-down wins over a shorter backoff.
            blocked = Breaker(job.store).blocked_for()
            if blocked:
                retry_after = max(retry_after or 0.0, blocked)
        job.fail_attempt(f"{type(exc).__name__}: {exc}", error_class=type(exc).__name__,
                         retryable=exc.retryable, retry_after=retry_after)
    except JobCancelled:
        _recover_connection()
        job.stop_cancelled()
    except JobLost as exc:
        log.warning("job %s: %s; its new attempt decides the outcome", job.pk, exc)
    except JobTimedOut as exc:
        _recover_connection()
        job.fail_attempt(f"timed out: {exc}", error_class="TimedOut", retryable=True,
                         outcome=AttemptOutcome.TIMED_OUT)
    except JobInputError as exc:  # the operator's input was refused: their message, no traceback
        job.refuse(str(exc), details=exc.details)
    except JobRetryLater as exc:
        log.warning("job %s: %s; retrying", job.pk, exc)
        _recover_connection()
        job.fail_attempt(str(exc), error_class="RetryLater", retryable=True)
    except (OperationalError, InterfaceError) as exc:
        # The database connection dropped or timed out: transient, retried on a new connection.
        log.warning("job %s: database error, will retry: %s", job.pk, exc)
        _recover_connection()
        job.fail_attempt(f"database unavailable: {type(exc).__name__}: {exc}".strip(), error_class=type(exc).__name__,
                         retryable=True)
    except Exception as exc:  # a bug or bad data: keep the error on the job, do not retry
        log.exception("job %s failed", job.pk)
        _recover_connection()
        job.fail_attempt(f"{type(exc).__name__}: {exc}", error_class=type(exc).__name__, retryable=False)
    else:
        if has_failed_items(result):
            job.succeed_partly(result)
        else:
            job.succeed(result)


def _recover_connection() -> None:
    """After an error mid-query: drop a broken connection so the outcome is written on a fresh one."""
    if connection.in_atomic_block:
        return
    try:
        connection.close_if_unusable_or_obsolete()
        if connection.connection is not None and not connection.is_usable():
            connection.close()
    except DatabaseError:
        connection.close()


@contextmanager
def alarm(seconds: float):
    """Raise ``JobTimedOut`` in this thread after ``seconds`` (SIGALRM; main thread only).

    django-q2 runs a task in its worker process's main thread, so blocking
    calls are interrupted too; elsewhere (a test thread) the job's
    checkpoints enforce the same deadline.
    """
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def on_alarm(signum, frame):
        raise JobTimedOut(f"over its {seconds:.0f} s timeout")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous or signal.SIG_DFL)


class Lease:
    """While a job runs, a thread renews its lease every third of ``settings.JOB_LEASE_SECONDS``.

    If the worker process dies, renewals stop and ``Job.take_back_lost``
    retries the job once the lease has run out. If a renewal finds the job
    taken back, the job's next checkpoint raises ``JobLost``.
    """

    def __init__(self, job: Job):
        self.job = job
        self.interval = max(0.5, settings.JOB_LEASE_SECONDS / 3)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"lease-job-{job.pk}", daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=5)
        return False

    def _beat(self):
        try:
            while not self._stop.wait(self.interval):
                try:
                    if not self.job.heartbeat():
                        log.warning("job %s: lease lost", self.job.pk)
                        return
                except DatabaseError as exc:  # keep trying: the lease has slack for a few misses
                    log.warning("job %s: heartbeat failed: %s", self.job.pk, exc)
                    connections["default"].close()
        finally:
            connections.close_all()


def sweep() -> dict:
    """Take back jobs whose worker died and wake workers for jobs whose backoff has passed.

    Runs in each worker process every few seconds (``agents.apps``) and on a
    django-q2 schedule. Returns ``{"taken_back": n, "due": n}``.
    """
    close_old_connections()
    taken = Job.take_back_lost()
    due = Job.objects.filter(status__in=(JobStatus.QUEUED, JobStatus.RETRY), run_after__lte=timezone.now()).exists()
    if taken or due:
        from agents.services import wake_workers

        wake_workers()  # tops up to one waiting task per worker, no more
    return {"taken_back": len(taken), "due": int(due)}
