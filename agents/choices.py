from django.db import models


class JobKind(models.TextChoices):
    CATALOG_IMPORT = "catalog.import", "Catalog import"
    STORE_PUBLISH = "store.publish", "Publish to store"
    STORE_HEALTH = "store.health_check", "Store health check"
    STORE_PULL = "store.pull", "Pull changes from store"


class JobStatus(models.TextChoices):
    """A job's life cycle: queued → running → succeeded | (attempt failed →) retry | dead; queued/retry/running → cancelled."""

    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    RETRY = "retry", "Retry scheduled"
    SUCCEEDED = "succeeded", "Succeeded"
    DEAD = "dead", "Dead letter"
    CANCELLED = "cancelled", "Cancelled"


#: Statuses a worker may pick up (when ``run_after`` has come).
RUNNABLE = (JobStatus.QUEUED, JobStatus.RETRY)
#: Statuses of a job that is not over yet: its idempotency key is taken.
UNFINISHED = (JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.RETRY)
#: Statuses an operator can retry by hand.
RETRYABLE_BY_HAND = (JobStatus.DEAD, JobStatus.CANCELLED)

STATUS_BADGES = {
    JobStatus.QUEUED: "secondary",
    JobStatus.RUNNING: "primary",
    JobStatus.RETRY: "warning",
    JobStatus.SUCCEEDED: "success",
    JobStatus.DEAD: "danger",
    JobStatus.CANCELLED: "dark",
}


class AttemptOutcome(models.TextChoices):
    """How one attempt of a job ended."""

    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    TIMED_OUT = "timed_out", "Timed out"
    LOST = "lost", "Worker lost (lease expired)"
    CANCELLED = "cancelled", "Cancelled"
    PAUSED = "paused", "Paused (not counted)"


class Priority(models.IntegerChoices):
    LOW = 0, "Low"
    NORMAL = 10, "Normal"
    HIGH = 20, "High"
    CRITICAL = 30, "Critical"


class Backoff(models.TextChoices):
    EXPONENTIAL = "exponential", "Exponential"
    LINEAR = "linear", "Linear"
    CONSTANT = "constant", "Constant"
