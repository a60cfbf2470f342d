from django.db import models


class JobKind(models.TextChoices):
    CATALOG_IMPORT = "catalog.import", "Catalog import"
    STORE_PUBLISH = "store.publish", "Publish to store"
    STORE_HEALTH = "store.health_check", "Store health check"
    STORE_PULL = "store.pull", "Pull changes from store"


class JobStatus(models.TextChoices):
    """A job's life cycle: queued → running → succeeded | partial | refused | (attempt failed →) retry | dead;
    queued/retry/running → cancelled.

    ``partial``: the job ran to its end but some of its items failed (a sync with products the store
    refused); the failed items are in its result. ``refused``: the job refused its input (a catalog file
    with bad rows): nothing was done, the operator fixes the input; not a failure of the system, so not a
    dead letter and not retried.
    """

    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    RETRY = "retry", "Retry scheduled"
    SUCCEEDED = "succeeded", "Succeeded"
    PARTIAL = "partial", "Succeeded with failed items"
    REFUSED = "refused", "Input refused"
    DEAD = "dead", "Dead letter"
    CANCELLED = "cancelled", "Cancelled"


#: Statuses a worker may pick up (when ``run_after`` has come).
RUNNABLE = (JobStatus.QUEUED, JobStatus.RETRY)
#: Statuses of a job that is not over yet: its idempotency key is taken.
UNFINISHED = (JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.RETRY)
#: End states (``Job.is_finished``).
FINISHED = (JobStatus.SUCCEEDED, JobStatus.PARTIAL, JobStatus.REFUSED, JobStatus.DEAD, JobStatus.CANCELLED)
#: Statuses an operator can retry by hand (a refused job would only be refused again: its input must change).
RETRYABLE_BY_HAND = (JobStatus.DEAD, JobStatus.CANCELLED)

#: Bootstrap colour of each status: waiting to retry (info) and finished with failed items (warning) differ.
STATUS_BADGES = {
    JobStatus.QUEUED: "secondary",
    JobStatus.RUNNING: "primary",
    JobStatus.RETRY: "info",
    JobStatus.SUCCEEDED: "success",
    JobStatus.PARTIAL: "warning",
    JobStatus.REFUSED: "light",
    JobStatus.DEAD: "danger",
    JobStatus.CANCELLED: "dark",
}


class AttemptOutcome(models.TextChoices):
    """How one attempt of a job ended."""

    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    PARTIAL = "partial", "Finished with failed items"
    REFUSED = "refused", "Input refused"
    FAILED = "failed", "Failed"
    TIMED_OUT = "timed_out", "Timed out"
    LOST = "lost", "Worker lost (lease expired)"
    CANCELLED = "cancelled", "Cancelled"
    PAUSED = "paused", "Paused (not counted)"


ATTEMPT_BADGES = {
    AttemptOutcome.RUNNING: "primary",
    AttemptOutcome.SUCCEEDED: "success",
    AttemptOutcome.PARTIAL: "warning",
    AttemptOutcome.REFUSED: "light",
    AttemptOutcome.FAILED: "danger",
    AttemptOutcome.TIMED_OUT: "danger",
    AttemptOutcome.LOST: "danger",
    AttemptOutcome.CANCELLED: "secondary",
    AttemptOutcome.PAUSED: "secondary",
}

#: How the counts in a job's result read on its page (a key not listed reads as itself, underscores as spaces).
RESULT_LABELS = {
    # store.publish (agents.sync)
    "created": "Created",
    "updated": "Updated",
    "deleted": "Deleted",
    "unchanged": "Unchanged",
    "failed": "Failed",
    "considered": "Products considered",
    # catalog.import (products.importers.apply_catalog)
    "products": "Products in the file",
    "variants": "Variants in the file",
    # store.pull (agents.pull)
    "in_sync": "Already in sync",
    "pending": "Changed in the catalog (publish pending)",
    "fields": "Fields that differ",
    "conflicts": "Conflicts",
    "ignored": "Ignored",
    "resolved": "Resolved",
    "taken": "Fields taken from the store",
    "kept": "Fields kept from the catalog",
    "unknown": "Not listed here",
    # store.health_check (stores.services)
    "health": "Health",
    "latency": "Latency (s)",
    "enabled": "Enabled",
    # catalog.import refused (products.services.ImportFailed)
    "input_error_count": "Problems in the file",
}


class Priority(models.IntegerChoices):
    LOW = 0, "Low"
    NORMAL = 10, "Normal"
    HIGH = 20, "High"
    CRITICAL = 30, "Critical"


class Backoff(models.TextChoices):
    EXPONENTIAL = "exponential", "Exponential"
    LINEAR = "linear", "Linear"
    CONSTANT = "constant", "Constant"
