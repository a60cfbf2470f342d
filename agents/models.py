"""The job table: one row per unit of agent work. State changes only via methods."""

from django.conf import settings
from django.db import models, transaction
from django.urls import reverse
from django.utils import timezone

from agents.choices import STATUS_BADGES, UNFINISHED, JobKind, JobStatus, Priority
from flashfusion import events
from flashfusion.models import Organization


class Job(models.Model):
    """One unit of agent work, executed by a django-q2 worker.

    ``params`` holds the kind's inputs (JSON); ``result`` its counts;
    ``progress_done`` / ``progress_total`` drive the progress bar;
    ``idempotency_key``: at most one unfinished job per key and organization,
    a second request gets the existing job (``agents.services.enqueue``).
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="jobs")
    kind = models.CharField(max_length=32, choices=JobKind.choices)
    store = models.ForeignKey("stores.Store", null=True, blank=True, on_delete=models.CASCADE, related_name="jobs")
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED)
    priority = models.SmallIntegerField(choices=Priority.choices, default=Priority.NORMAL)
    params = models.JSONField(default=dict, blank=True)
    result = models.JSONField(default=dict, blank=True)
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    attempts = models.PositiveSmallIntegerField(default=0)
    max_attempts = models.PositiveSmallIntegerField(default=3)
    error = models.TextField(blank=True)
    log = models.JSONField(default=list, blank=True, help_text="Lines of what the job decided, oldest first.")
    idempotency_key = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["organization", "status", "-id"], name="job_org_status"),
            models.Index(fields=["organization", "kind", "-id"], name="job_org_kind"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "idempotency_key"],
                condition=models.Q(status__in=UNFINISHED) & ~models.Q(idempotency_key=""),
                name="job_unique_unfinished_key",
            )
        ]

    def __str__(self):
        return f"{self.title} · job #{self.pk}"

    @property
    def title(self) -> str:
        """What the job does, in words: "Publish to Demo Woo (1 product)", "Import demo.csv"."""
        store = self.store.name if self.store_id else ""
        if self.kind == JobKind.CATALOG_IMPORT:
            return f"Import {self.params.get('filename', 'catalog')}"
        if not store:
            return self.get_kind_display()
        if self.kind == JobKind.STORE_PUBLISH:
            count = len(self.params.get("product_ids") or [])
            scope = f" ({count} product{'s' if count != 1 else ''})" if count else ""
            return f"Publish to {store}{scope}"
        if self.kind == JobKind.STORE_HEALTH:
            return f"Health check of {store}"
        if self.kind == JobKind.STORE_PULL:
            return f"Pull changes from {store}"
        return self.get_kind_display()

    def get_absolute_url(self):
        return reverse("agents:job_detail", args=[self.pk])

    @property
    def status_badge(self) -> str:
        return STATUS_BADGES.get(self.status, "secondary")

    @property
    def is_finished(self) -> bool:
        return self.status not in UNFINISHED

    @property
    def progress_percent(self) -> int:
        if self.status == JobStatus.SUCCEEDED:
            return 100
        if not self.progress_total:
            return 0
        return min(100, int(100 * self.progress_done / self.progress_total))

    @property
    def duration(self) -> float | None:
        """Seconds from start to finish (or to now while running)."""
        if not self.started_at:
            return None
        return ((self.finished_at or timezone.now()) - self.started_at).total_seconds()

    # State changes: each saves and publishes ``job.updated`` in one transaction.

    @classmethod
    def claim(cls, pk: int) -> "Job | None":
        """queued → running for exactly one caller, counting an attempt; ``None`` if not queued.

        A conditional UPDATE: of two workers handed the same job, one wins.
        """
        now = timezone.now()
        with transaction.atomic():
            won = cls.objects.filter(pk=pk, status=JobStatus.QUEUED).update(
                status=JobStatus.RUNNING,
                attempts=models.F("attempts") + 1,
                started_at=now,
                finished_at=None,
                updated_at=now,
            )
            if not won:
                return None
            job = cls.objects.select_related("organization", "store").get(pk=pk)
            job._publish(f"{job} started (attempt {job.attempts})", quiet=True)
        return job

    def set_progress(self, done: int, total: int | None = None) -> None:
        """Record progress; ``total`` stays as it was when not given."""
        self.progress_done = done
        if total is not None:
            self.progress_total = total
        self._save_and_publish(None)

    def add_log(self, line: str) -> None:
        """Append one line to the job log (saved with the next state change)."""
        self.log.append(f"{timezone.now():%H:%M:%S} {line}")

    def succeed(self, result: dict | None = None) -> None:
        """running → succeeded with ``result`` counts."""
        self.status = JobStatus.SUCCEEDED
        self.result = result or {}
        self.finished_at = timezone.now()
        self._save_and_publish(f"{self} succeeded")

    def fail(self, error: str, *, retry: bool = False) -> None:
        """running → failed, or back to queued when ``retry`` and attempts remain."""
        self.error = error
        self.add_log(f"attempt {self.attempts} failed: {error}")
        if retry and self.attempts < self.max_attempts:
            self.status = JobStatus.QUEUED
            self._save_and_publish(f"{self} failed, retrying: {error[:200]}")
            return
        self.status = JobStatus.FAILED
        self.finished_at = timezone.now()
        self._save_and_publish(f"{self} failed: {error[:200]}")

    def _save_and_publish(self, message: str | None) -> None:
        with transaction.atomic():
            self.save()
            self._publish(message)

    def _publish(self, message: str | None, topic: str | None = None, *, quiet: bool = False) -> None:
        events.publish(
            self.organization_id,
            topic or ("job.updated" if message is None else "job.changed"),
            message or f"{self} progress {self.progress_done}/{self.progress_total}",
            {"job_id": self.pk, "status": self.status, "quiet": quiet or message is None},
            actor=self.created_by if topic == "job.created" else None,
        )
