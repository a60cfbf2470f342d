"""The job table: the queue of record. A job's state changes only through its methods.

Each change is one conditional UPDATE (the job must still be in the state the
caller believes, and a worker's change must come from the attempt that holds
the lease), an attempt row, and an event, in one transaction.
"""

import os
import socket
from datetime import timedelta

from django.conf import settings
from django.db import connection, models, transaction
from django.urls import reverse
from django.utils import timezone

from agents.choices import (
    ATTEMPT_BADGES,
    FINISHED,
    RETRYABLE_BY_HAND,
    RUNNABLE,
    UNFINISHED,
    AttemptOutcome,
    JobKind,
    JobStatus,
    Priority,
)
from agents.fingerprint import fingerprint, message_shape
from agents.job_display import JobDisplay
from flashfusion import events
from flashfusion.models import Organization


def worker_name() -> str:
    """``host:pid`` of this process, shown on attempts so an operator can find the worker."""
    return f"{socket.gethostname()}:{os.getpid()}"


class JobCancelled(Exception):
    """Raised at a checkpoint of a running job that an operator cancelled."""


class JobTimedOut(Exception):
    """Raised in a running job that is over its kind's timeout (at a checkpoint, or by the alarm)."""


class JobLost(Exception):
    """Raised at a checkpoint when this worker no longer holds the job (its lease ran out and it was taken back)."""


class Job(JobDisplay, models.Model):
    """One unit of agent work, executed by a django-q2 worker.

    ``params`` holds the kind's inputs (JSON); ``result`` its counts;
    ``progress_done`` / ``progress_total`` drive the progress bar.
    ``idempotency_key``: at most one unfinished job per key and organization,
    a second request gets the existing job (``agents.services.enqueue``).
    ``run_after``: not picked up before this time (backoff). While running,
    ``lease_expires_at`` is pushed ahead by the worker's heartbeat; a job whose
    lease ran out is taken back (``take_back_lost``). ``error_fingerprint``
    groups dead letters (``agents.fingerprint``).
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="jobs")
    kind = models.CharField(max_length=32, choices=JobKind.choices)
    store = models.ForeignKey("stores.Store", null=True, blank=True, on_delete=models.CASCADE, related_name="jobs")
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED)
    priority = models.SmallIntegerField(choices=Priority.choices, default=Priority.NORMAL)
    summary = models.CharField(max_length=200, blank=True, help_text="The job's title when it was queued; searched by the jobs page.")
    params = models.JSONField(default=dict, blank=True)
    result = models.JSONField(default=dict, blank=True)
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    attempts = models.PositiveSmallIntegerField(default=0)
    max_attempts = models.PositiveSmallIntegerField(default=3)
    run_after = models.DateTimeField(default=timezone.now)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=100, blank=True)
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    error_class = models.CharField(max_length=100, blank=True)
    error_fingerprint = models.CharField(max_length=16, blank=True)
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
            # The jobs page: newest first, filtered by any one or two of these, never a full sort.
            models.Index(fields=["organization", "-id"], name="job_org_recent"),
            models.Index(fields=["organization", "status", "-id"], name="job_org_status"),
            models.Index(fields=["organization", "kind", "-id"], name="job_org_kind"),
            models.Index(fields=["organization", "store", "-id"], name="job_org_store"),
            models.Index(fields=["organization", "store", "status", "-id"], name="job_org_store_status"),
            models.Index(fields=["organization", "-priority", "-id"], name="job_org_priority"),
            models.Index(fields=["organization", "-finished_at", "-id"], name="job_org_finished"),
            models.Index(fields=["organization", "created_at"], name="job_org_created"),
            models.Index(
                fields=["organization", "error_fingerprint", "-id"],
                condition=~models.Q(error_fingerprint=""),
                name="job_org_error_group",
            ),
            # The workers: the runnable queue in pick-up order, and the running set by lease.
            models.Index(
                fields=["-priority", "id"], condition=models.Q(status__in=RUNNABLE), name="job_runnable"
            ),
            models.Index(
                fields=["lease_expires_at"], condition=models.Q(status=JobStatus.RUNNING), name="job_running_lease"
            ),
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
            products = f"{count} product{'s' if count != 1 else ''}"
            if count and isinstance(self.params.get("retry_of"), int):
                return f"Retry {products} that failed in job #{self.params['retry_of']} · {store}"
            if count and self.params.get("unpublish"):
                return f"Unpublish {products} from {store}"
            if count:
                return f"Publish to {store} ({products})"
            if self.params.get("strategy") == "full":
                return f"Full sync of {store}"
            if self.params.get("strategy") == "incremental":
                return f"Sync changes to {store}"
            return f"Publish to {store}"
        if self.kind == JobKind.STORE_HEALTH:
            return f"Health check of {store}"
        if self.kind == JobKind.STORE_PULL:
            return f"Pull changes from {store}"
        return f"{self.get_kind_display()} · {store}"

    def get_absolute_url(self):
        return reverse("agents:job_detail", args=[self.pk])

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED

    @property
    def can_cancel(self) -> bool:
        return self.status in UNFINISHED and not (self.status == JobStatus.RUNNING and self.cancel_requested_at)

    @property
    def can_retry(self) -> bool:
        return self.status in RETRYABLE_BY_HAND

    @property
    def can_retry_failed(self) -> bool:
        """A publish that finished with failed items can queue a publish of just those (``failed_product_ids``)."""
        return self.status == JobStatus.PARTIAL and self.kind == JobKind.STORE_PUBLISH and bool(
            self.store_id and self.failed_product_ids)

    @property
    def duration(self) -> float | None:
        """Seconds from start to finish (or to now while running)."""
        if not self.started_at:
            return None
        return ((self.finished_at or timezone.now()) - self.started_at).total_seconds()

    @property
    def waited(self) -> float | None:
        """Seconds from queued to the first start."""
        first = self.attempt_rows.order_by("number").first() if self.pk else None
        start = first.started_at if first else self.started_at
        return (start - self.created_at).total_seconds() if start else None

    # ---- State changes (worker side) -------------------------------------------------

    @classmethod
    def claim(cls, pk: int, *, worker: str | None = None) -> "Job | None":
        """queued/retry → running for exactly one caller, counting an attempt; ``None`` if not runnable.

        Ignores ``run_after`` and the concurrency limits: this is "run this job
        now" (tests, an operator's run-now). Workers use ``claim_next``.
        """
        with transaction.atomic():
            return cls._start(pk, worker)

    @classmethod
    def claim_next(cls, *, worker: str | None = None, now=None, precheck: bool = True) -> "Job | None":
        """Start the best runnable job, or return ``None`` when none may start.

        Best: highest priority, then oldest. Runnable: queued or retry with
        ``run_after`` passed, and below the concurrency limits (in all, per
        store, per kind: ``agents.policies.concurrency_limits``). Claims are
        serialized (PostgreSQL advisory lock; SQLite's write lock), so two
        workers never both see room for one more job. ``precheck``: first ask,
        without a lock, whether anything is due (cheap for the many empty
        claims). Jobs whose lease ran out are taken back by ``take_back_lost``
        (the workers' keeper runs it every 2 s), not here.
        """
        from agents.policies import concurrency_limits

        now = now or timezone.now()
        limits = concurrency_limits()
        if precheck and not cls.objects.filter(status__in=RUNNABLE, run_after__lte=max(now, timezone.now())).exists():
            return None  # nothing due: no lock, no write transaction
        with transaction.atomic():
            _lock_claims()
            running = list(cls.objects.filter(status=JobStatus.RUNNING).values_list("store_id", "kind"))
            if len(running) >= limits.total:
                return None
            per_store: dict = {}
            per_kind: dict = {}
            for store_id, kind in running:
                if store_id is not None:
                    per_store[store_id] = per_store.get(store_id, 0) + 1
                per_kind[kind] = per_kind.get(kind, 0) + 1
            full_stores = [s for s, n in per_store.items() if n >= limits.per_store]
            full_kinds = [k for k, n in per_kind.items() if (lim := limits.for_kind(k)) is not None and n >= lim]
            due = max(now, timezone.now())  # a job just taken back is due at once
            candidates = cls.objects.filter(status__in=RUNNABLE, run_after__lte=due)
            if full_stores:
                candidates = candidates.exclude(store_id__in=full_stores)
            if full_kinds:
                candidates = candidates.exclude(kind__in=full_kinds)
            pk = candidates.order_by("-priority", "id").values_list("pk", flat=True).first()
            if pk is None:
                return None
            return cls._start(pk, worker, now=now)

    @classmethod
    def _start(cls, pk: int, worker, now=None) -> "Job | None":
        now = now or timezone.now()
        worker = worker or worker_name()
        won = cls.objects.filter(pk=pk, status__in=RUNNABLE).update(
            status=JobStatus.RUNNING,
            attempts=models.F("attempts") + 1,
            started_at=now,
            finished_at=None,
            lease_expires_at=now + timedelta(seconds=settings.JOB_LEASE_SECONDS),
            heartbeat_at=now,
            worker=worker,
            result={},  # the new attempt plans afresh: an earlier attempt's counts no longer describe it
            updated_at=now,
        )
        if not won:
            return None
        job = cls.objects.select_related("organization", "store").get(pk=pk)
        JobAttempt.objects.create(job=job, number=job.attempts, worker=worker, started_at=now)
        job._publish(f"{job} started (attempt {job.attempts})", topic="job.started", quiet=True)
        return job

    def _transition(self, message: str | None, *, topic: str | None = None, **fields) -> bool:
        """Write ``fields`` if this attempt still holds the job; publish; ``False`` when it was taken back."""
        fields.setdefault("updated_at", timezone.now())
        with transaction.atomic(savepoint=False):
            won = Job.objects.filter(pk=self.pk, status=JobStatus.RUNNING, attempts=self.attempts).update(**fields)
            if not won:
                return False
            for name, value in fields.items():
                setattr(self, name, value)
            self._publish(message, topic=topic)
        return True

    def set_progress(self, done: int, total: int | None = None) -> None:
        """Record progress (``total`` stays when not given), then stop here if cancelled or over time."""
        fields = {"progress_done": done, "log": self.log}
        if total is not None:
            fields["progress_total"] = total
        if not self._transition(None, **fields):
            raise JobLost(f"job #{self.pk} was taken back from this worker")
        self.checkpoint()

    def add_log(self, line: str) -> None:
        """Append one line to the job log (saved with the next state change)."""
        self.log.append(f"{timezone.now():%H:%M:%S} {line}")

    def checkpoint(self) -> None:
        """A safe place to stop: raises ``JobCancelled``, ``JobTimedOut`` or ``JobLost``.

        Reads the cancel flag from the database at most once a second.
        """
        deadline = getattr(self, "deadline", None)
        if deadline is not None and timezone.now() >= deadline:
            raise JobTimedOut(f"over its {self._timeout_text()} timeout")
        now = timezone.now()
        last = getattr(self, "_last_check", None)
        if last is not None and (now - last).total_seconds() < 1.0:
            return
        self._last_check = now
        row = Job.objects.filter(pk=self.pk).values_list("status", "attempts", "cancel_requested_at").first()
        if row is None or row[0] != JobStatus.RUNNING or row[1] != self.attempts:
            raise JobLost(f"job #{self.pk} was taken back from this worker")
        if row[2] is not None:
            raise JobCancelled("cancelled by an operator")

    def _timeout_text(self) -> str:
        seconds = getattr(self, "timeout", None)
        return f"{seconds:.0f} s" if seconds else "set"

    def heartbeat(self) -> bool:
        """Push the lease ahead by ``settings.JOB_LEASE_SECONDS``; ``False`` when this attempt no longer holds the job."""
        now = timezone.now()
        return bool(
            Job.objects.filter(pk=self.pk, status=JobStatus.RUNNING, attempts=self.attempts).update(
                lease_expires_at=now + timedelta(seconds=settings.JOB_LEASE_SECONDS), heartbeat_at=now
            )
        )

    def succeed(self, result: dict | None = None) -> bool:
        """running → succeeded with ``result`` counts. ``False`` when the job was taken back meanwhile."""
        now = timezone.now()
        with transaction.atomic():
            done = self._transition(
                f"{self} succeeded", topic="job.succeeded", status=JobStatus.SUCCEEDED, result=result or {},
                finished_at=now, lease_expires_at=None, log=self.log,
            )
            if done:
                self._close_attempt(AttemptOutcome.SUCCEEDED, now=now)
        return done

    def succeed_partly(self, result: dict) -> bool:
        """running → partial: the job ran to its end but ``result["failed"]`` of its items failed.

        ``result`` keeps the counts and the failed items (``failed_items``, ``failed_product_ids``).
        ``False`` when the job was taken back meanwhile.
        """
        now = timezone.now()
        failed = result.get("failed", 0) if isinstance(result, dict) else 0
        with transaction.atomic():
            done = self._transition(
                f"{self} finished with {failed} failed item{'s' if failed != 1 else ''}", topic="job.partial",
                status=JobStatus.PARTIAL, result=result, finished_at=now, lease_expires_at=None, log=self.log,
            )
            if done:
                self._close_attempt(AttemptOutcome.PARTIAL, now=now)
        return done

    def refuse(self, message: str, *, details: dict | None = None) -> bool:
        """running → refused: the job's input cannot be used (``message`` says why, for the operator).

        Not a dead letter (no error group) and not retryable: the same input would be refused again.
        ``details`` (e.g. ``{"input_errors": [...]}``) becomes the result, for the page to list what to fix.
        ``False`` when the job was taken back meanwhile.
        """
        now = timezone.now()
        self.add_log(f"input refused: {message}")
        with transaction.atomic():
            done = self._transition(
                f"{self}: input refused: {message[:200]}", topic="job.refused", status=JobStatus.REFUSED,
                error=message, error_class="JobInputError", result=details or {}, finished_at=now,
                lease_expires_at=None, log=self.log,
            )
            if done:
                self._close_attempt(AttemptOutcome.REFUSED, error=message, error_class="JobInputError", now=now)
        return done

    def fail_attempt(
        self,
        error: str,
        *,
        error_class: str,
        retryable: bool,
        retry_after: float | None = None,
        outcome: str = AttemptOutcome.FAILED,
    ) -> bool:
        """End this attempt as failed: retry after backoff when ``retryable`` and attempts remain, else dead.

        Backoff is the kind's policy (``agents.policies.JobPolicy.delay``);
        ``retry_after`` (seconds, from a store's Retry-After) replaces it.
        ``False`` when the job was taken back meanwhile.
        """
        from agents.policies import policy_for

        now = timezone.now()
        self.add_log(f"attempt {self.attempts} {AttemptOutcome(outcome).label.lower()}: {error}")
        with transaction.atomic():
            if retryable and self.attempts < self.max_attempts:
                delay = _policy_delay(policy_for, self.kind, self.attempts, retry_after)
                self.add_log(f"retrying in {delay:.1f} s")
                done = self._transition(
                    f"{self} failed, retrying in {delay:.0f} s: {error[:200]}", topic="job.failed",
                    status=JobStatus.RETRY, run_after=now + timedelta(seconds=delay), error=error,
                    error_class=error_class, lease_expires_at=None, log=self.log, finished_at=now,
                    result=self.result or {},
                )
                if done:
                    self._close_attempt(outcome, error=error, error_class=error_class, retry_in=delay, now=now)
                return done
            done = self._transition(
                f"{self} is a dead letter: {error[:200]}", topic="job.dead",
                status=JobStatus.DEAD, error=error, error_class=error_class,
                error_fingerprint=fingerprint(self.kind, error_class, error),
                finished_at=now, lease_expires_at=None, log=self.log, result=self.result or {},
            )
            if done:
                self._close_attempt(outcome, error=error, error_class=error_class, now=now)
        return done

    def pause(self, delay: float, reason: str) -> bool:
        """running → retry after ``delay`` seconds *without* counting the attempt.

        For a job that could not start its work for a reason outside itself —
        its store's circuit breaker is open — so an outage pauses a store's
        jobs instead of burning their attempts.
        """
        now = timezone.now()
        delay = max(0.0, float(delay))
        self.add_log(f"paused for {delay:.0f} s, attempt not counted: {reason}")
        number = self.attempts
        with transaction.atomic():
            done = self._transition(
                f"{self} paused for {delay:.0f} s: {reason[:200]}", topic="job.paused",
                status=JobStatus.RETRY, run_after=now + timedelta(seconds=delay), lease_expires_at=None,
                log=self.log, attempts=max(0, self.attempts - 1),
            )
            if done:
                JobAttempt.objects.filter(job=self, number=number, finished_at=None).update(
                    outcome=AttemptOutcome.PAUSED, finished_at=now, error=reason[:2000], retry_in=delay,
                )
        return done

    def stop_cancelled(self) -> bool:
        """running → cancelled, at a checkpoint after an operator asked."""
        now = timezone.now()
        self.add_log("stopped: cancelled by an operator")
        with transaction.atomic():
            done = self._transition(
                f"{self} cancelled", topic="job.cancelled", status=JobStatus.CANCELLED,
                finished_at=now, lease_expires_at=None, log=self.log,
            )
            if done:
                self._close_attempt(AttemptOutcome.CANCELLED, now=now)
        return done

    def _close_attempt(self, outcome, *, error: str = "", error_class: str = "", retry_in=None, now=None) -> None:
        JobAttempt.objects.filter(job_id=self.pk, number=self.attempts, finished_at=None).update(
            outcome=outcome, finished_at=now or timezone.now(), error=error[:2000], error_class=error_class,
            retry_in=retry_in,
        )

    # ---- State changes (operator side) -------------------------------------------------

    def cancel(self) -> str:
        """Cancel: a queued job at once; a running one is asked to stop at its next checkpoint.

        Returns ``"cancelled"``, ``"requested"`` or ``"finished"`` (nothing to cancel).
        """
        now = timezone.now()
        with transaction.atomic():
            if Job.objects.filter(pk=self.pk, status__in=RUNNABLE).update(
                status=JobStatus.CANCELLED, finished_at=now, updated_at=now, cancel_requested_at=now
            ):
                self.refresh_from_db()
                self._publish(f"{self} cancelled", topic="job.cancelled")
                return "cancelled"
            if Job.objects.filter(pk=self.pk, status=JobStatus.RUNNING, cancel_requested_at=None).update(
                cancel_requested_at=now, updated_at=now
            ):
                self.refresh_from_db()
                self._publish(f"{self}: cancel requested, it stops at its next checkpoint", topic="job.cancel_requested")
                return "requested"
        self.refresh_from_db()
        return "requested" if self.status == JobStatus.RUNNING else "finished"

    def retry_by_hand(self) -> bool:
        """dead/cancelled → queued with a fresh budget of attempts (the old attempts stay on record)."""
        from agents.policies import policy_for

        try:
            budget = policy_for(self.kind).max_attempts
        except KeyError:
            budget = 1
        now = timezone.now()
        with transaction.atomic():
            won = Job.objects.filter(pk=self.pk, status__in=RETRYABLE_BY_HAND).update(
                status=JobStatus.QUEUED, run_after=now, finished_at=None, cancel_requested_at=None,
                max_attempts=models.F("attempts") + max(1, budget), updated_at=now,
            )
            if not won:
                return False
            self.refresh_from_db()
            self._publish(f"{self} queued again by hand", topic="job.retried")
        return True

    @classmethod
    def _take_back_expired(cls, now) -> list[int]:
        """Jobs whose worker stopped renewing the lease: the attempt is "lost"; retry or dead letter."""
        taken = []
        expired = cls.objects.filter(status=JobStatus.RUNNING, lease_expires_at__lt=now)
        # Locked and read again here, under the claim lock: a heartbeat committed since the caller
        # looked (PostgreSQL: it waits for our row lock, or we for its) keeps the job its worker's.
        for job in expired.select_for_update(of=("self",)).select_related("store"):
            silent = (now - (job.heartbeat_at or job.started_at or now)).total_seconds()
            if job.cancel_requested_at:
                job.add_log("worker lost after a cancel request: cancelled")
                job._transition(f"{job} cancelled (worker lost)", topic="job.cancelled", status=JobStatus.CANCELLED,
                                finished_at=now, lease_expires_at=None, log=job.log)
                job._close_attempt(AttemptOutcome.LOST, error="worker lost", now=now)
            else:
                job.fail_attempt(
                    f"worker {job.worker or '?'} stopped answering (no heartbeat for {silent:.0f} s; lease expired)",
                    error_class="WorkerLost", retryable=True, outcome=AttemptOutcome.LOST,
                    retry_after=0.0,  # the worker failed, not the work: no backoff
                )
            SyncRun.objects.filter(job_id=job.pk, status=SyncRun.Status.RUNNING).update(
                status=SyncRun.Status.FAILED, finished_at=now, error="worker lost"
            )
            taken.append(job.pk)
        return taken

    @classmethod
    def take_back_lost(cls) -> list[int]:
        """Take back every running job whose lease ran out; returns their ids.

        First a plain read (no lock, no write transaction): on SQLite every write transaction waits
        for the one write lock, and the workers' keepers call this every 2 s while an import writes.
        Then, under the claim lock, each lease is checked again before its job is declared lost.
        """
        if not cls.objects.filter(status=JobStatus.RUNNING, lease_expires_at__lt=timezone.now()).exists():
            return []
        with transaction.atomic():
            _lock_claims()
            return cls._take_back_expired(timezone.now())

    def _publish(self, message: str | None, topic: str | None = None, *, quiet: bool = False) -> None:
        events.publish(
            self.organization_id,
            topic or ("job.updated" if message is None else "job.changed"),
            message or f"{self} progress {self.progress_done}/{self.progress_total}",
            {"job_id": self.pk, "status": self.status, "quiet": quiet or message is None},
            actor=self.created_by if topic == "job.created" else None,
        )

    @property
    def error_shape(self) -> str:
        return message_shape(self.error)


#: Key of the PostgreSQL advisory lock that serializes claims (any fixed 64-bit number).
CLAIM_LOCK_ID = 0x466C617368  # "Flash"


def _lock_claims() -> None:
    """Serialize claims and take-backs until the transaction ends (SQLite's write lock already does)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CLAIM_LOCK_ID])


def _policy_delay(policy_for, kind, attempt, retry_after):
    try:
        return policy_for(kind).delay(attempt, retry_after)
    except KeyError:
        return float(retry_after or 5)


class JobAttempt(models.Model):
    """One try at running a job: who ran it, when, and how it ended."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="attempt_rows")
    number = models.PositiveSmallIntegerField()
    worker = models.CharField(max_length=100, blank=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=AttemptOutcome.choices, default=AttemptOutcome.RUNNING)
    error = models.TextField(blank=True)
    error_class = models.CharField(max_length=100, blank=True)
    retry_in = models.FloatField(null=True, blank=True, help_text="Seconds of backoff before the next attempt.")

    class Meta:
        ordering = ["job", "number", "id"]
        indexes = [models.Index(fields=["job", "number"], name="attempt_job_number")]

    def __str__(self):
        return f"job #{self.job_id} attempt {self.number}: {self.outcome}"

    @property
    def outcome_badge(self) -> str:
        return ATTEMPT_BADGES.get(self.outcome, "secondary")

    @property
    def duration(self) -> float | None:
        if not self.finished_at:
            return None
        return (self.finished_at - self.started_at).total_seconds()


class SyncRun(models.Model):
    """One publish pass of the Sync agent over one store: what it looked at and what it did.

    ``strategy``: full / incremental / selective (``stores.choices.SyncStrategy``);
    ``trigger``: what asked for it (manual, schedule, catalog, bulk, conflict);
    ``considered``: products the plan examined (for an incremental run, only
    those changed since the store's ``sync_cursor`` or not in sync). Counts
    are products. ``fields``: a field-selective run's field groups ("price,
    stock"), empty when it wrote whole products. ``status`` mirrors how the
    attempt ended.
    """

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        PARTIAL = "partial", "Finished with failed items"
        FAILED = "failed", "Stopped (will retry)"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="sync_runs")
    store = models.ForeignKey("stores.Store", on_delete=models.CASCADE, related_name="sync_runs")
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="sync_runs")
    strategy = models.CharField(max_length=16)
    trigger = models.CharField(max_length=16, blank=True)
    #: Field groups the run wrote alone ("price", "stock", comma-separated); empty: whole products.
    fields = models.CharField(max_length=32, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    considered = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    deleted = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["store", "-id"], name="syncrun_store_recent")]

    def __str__(self):
        return f"{self.strategy} sync of {self.store} at {self.started_at:%Y-%m-%d %H:%M}"

    @property
    def fields_label(self) -> str:
        """``fields`` as people read it: "price and stock only"; "" for whole products."""
        names = [n for n in self.fields.split(",") if n]
        return f"{' and '.join(names)} only" if names else ""

    @property
    def duration(self) -> float | None:
        return (self.finished_at - self.started_at).total_seconds() if self.finished_at else None
