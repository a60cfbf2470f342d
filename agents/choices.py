from django.db import models


class JobKind(models.TextChoices):
    CATALOG_IMPORT = "catalog.import", "Catalog import"
    STORE_PUBLISH = "store.publish", "Publish to store"
    STORE_HEALTH = "store.health_check", "Store health check"
    STORE_PULL = "store.pull", "Pull changes from store"


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


UNFINISHED = (JobStatus.QUEUED, JobStatus.RUNNING)

STATUS_BADGES = {
    JobStatus.QUEUED: "secondary",
    JobStatus.RUNNING: "primary",
    JobStatus.SUCCEEDED: "success",
    JobStatus.FAILED: "danger",
    JobStatus.CANCELLED: "dark",
}


class Priority(models.IntegerChoices):
    LOW = 0, "Low"
    NORMAL = 10, "Normal"
    HIGH = 20, "High"
    CRITICAL = 30, "Critical"
