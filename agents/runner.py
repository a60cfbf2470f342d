"""What a django-q2 worker runs: claim one job row, run its agent, record the outcome."""

import logging
from importlib import import_module

from agents.choices import JobKind
from agents.models import Job
from agents.services import backoff_seconds, pause, submit
from stores.breaker import Breaker, CircuitOpen
from stores.plugins import RateLimited, StoreError

log = logging.getLogger(__name__)

#: Job kind → "module.function" taking the running Job and returning result counts.
HANDLERS = {
    JobKind.CATALOG_IMPORT: "products.services.run_import",
    JobKind.STORE_PUBLISH: "agents.sync.run_publish",
    JobKind.STORE_HEALTH: "stores.services.run_health_check",
    JobKind.STORE_PULL: "agents.pull.run_pull",
}


def _handler(kind: str):
    module, _, name = HANDLERS[kind].rpartition(".")
    return getattr(import_module(module), name)


class JobInputError(Exception):
    """A job refused its input (e.g. a catalog file with bad rows): the message is for the operator.

    The job fails for good with the message as its error, without a class
    name or a logged traceback.
    """


def execute(job_id: int) -> str:
    """Run job ``job_id`` once if it is still queued; returns the final status.

    A job for a store whose circuit breaker is open is not run: it goes back
    to the queue until the cool-down ends, without counting an attempt
    (``agents.services.pause``); so does a job whose work stopped on
    ``CircuitOpen``. A retryable store error (rate-limited, transient) puts
    the job back in the queue with backoff (the store's Retry-After wins, and
    an open breaker's remaining cool-down when longer) until
    ``max_attempts``; any other error fails it for good.
    """
    job = Job.claim(job_id)
    if job is None:
        return "not-queued"
    if job.store_id is not None:
        wait = Breaker(job.store).blocked_for()
        if wait is not None:
            pause(job, wait, f"circuit open for store {job.store}")
            return job.status
    try:
        result = _handler(job.kind)(job)
    except CircuitOpen as exc:
        pause(job, exc.retry_after, str(exc))
    except StoreError as exc:
        job.fail(f"{type(exc).__name__}: {exc}", retry=exc.retryable)
        if job.status == "queued":
            delay = backoff_seconds(job.attempts, exc.retry_after if isinstance(exc, RateLimited) else None)
            if job.store_id is not None:
                delay = max(delay, Breaker(job.store).blocked_for() or 0.0)
            job.add_log(f"retrying in {delay:.0f} s")
            job.save(update_fields=["log"])
            submit(job.pk, delay=delay)
    except JobInputError as exc:  # the operator's input was refused: their message, no traceback
        job.fail(str(exc))
    except Exception as exc:  # a bug or bad data: keep the error on the job, do not retry
        log.exception("job %s failed", job_id)
        job.fail(f"{type(exc).__name__}: {exc}")
    else:
        job.succeed(result)
    return job.status
