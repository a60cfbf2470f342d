"""How a job reads on the pages: its status in words, the shares of its progress bar, its result's counts,
failed items and input errors. ``Job.result`` is JSON written by each kind's handler, so it is read
defensively: a missing or malformed entry reads as nothing, never as an error on the page.
"""

import math

from django.utils import timezone

from agents.choices import RESULT_LABELS, STATUS_BADGES, JobStatus


def seconds_in_words(seconds: float) -> str:
    """A wait as people read it: "12 s" under two minutes, "5 min" under two hours, else "3 h" (rounded up)."""
    seconds = max(0.0, float(seconds))
    if seconds < 120:
        return f"{math.ceil(seconds)} s"
    if seconds < 7200:
        return f"{math.ceil(seconds / 60)} min"
    return f"{math.ceil(seconds / 3600)} h"


class JobDisplay:
    """Read-only properties of ``agents.models.Job`` for templates and tables (no queries, no writes)."""

    @property
    def status_badge(self) -> str:
        return STATUS_BADGES.get(self.status, "secondary")

    @property
    def status_label(self) -> str:
        """The status as the pages say it: "Succeeded with 3 failed", "Retry scheduled in 12 s", else its label."""
        if self.status == JobStatus.PARTIAL:
            return f"Succeeded with {self.failed_count} failed"
        if self.status == JobStatus.RETRY:
            wait = self.retry_in
            return "Retry due now" if not wait else f"Retry scheduled in {seconds_in_words(wait)}"
        try:
            return JobStatus(self.status).label
        except ValueError:
            return self.status

    @property
    def retry_in(self) -> float:
        """Seconds until a job waiting to retry runs again (0 when due or not waiting)."""
        if self.status != JobStatus.RETRY or self.run_after is None:
            return 0.0
        return max(0.0, (self.run_after - timezone.now()).total_seconds())

    # ---- What the result says (``result`` is JSON: read defensively) ---------------------

    @property
    def failed_count(self) -> int:
        """Items of the job that failed (``result["failed"]``: a sync's products the store refused)."""
        result = self.result if isinstance(self.result, dict) else {}
        value = result.get("failed")
        return value if isinstance(value, int) and value > 0 else 0

    @property
    def failed_items(self) -> list[dict]:
        """The failed items the job recorded, ``[{"product_id", "sku", "title", "error"}]`` (at most
        ``agents.sync.FAILED_ITEMS_KEPT``; ``failed_count`` says how many failed in all)."""
        result = self.result if isinstance(self.result, dict) else {}
        items = result.get("failed_items")
        return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []

    @property
    def failed_product_ids(self) -> list[int]:
        """Ids of every product that failed (what "Retry the failed items" publishes again)."""
        result = self.result if isinstance(self.result, dict) else {}
        ids = result.get("failed_product_ids")
        if not isinstance(ids, list):
            ids = [item.get("product_id") for item in self.failed_items]
        return [i for i in ids if isinstance(i, int)]

    @property
    def input_errors(self) -> list[dict]:
        """For a refused job, what to fix: ``[{"row", "column", "message"}]`` (``JobInputError.details``)."""
        result = self.result if isinstance(self.result, dict) else {}
        errors = result.get("input_errors")
        return [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []

    @property
    def input_error_count(self) -> int:
        """How many problems a refused input had in all (``input_errors`` keeps the first ones)."""
        result = self.result if isinstance(self.result, dict) else {}
        count = result.get("input_error_count")
        return count if isinstance(count, int) else len(self.input_errors)

    @property
    def result_items(self) -> list[tuple[str, object]]:
        """The result's counts as ``(label, value)`` for the job's page: labels from ``RESULT_LABELS``, choice
        values by their label; lists (failed items, input errors) are shown on their own."""
        result = self.result if isinstance(self.result, dict) else {}
        items = []
        for key, value in result.items():
            if isinstance(value, (list, dict)):
                continue
            if key == "health":
                from stores.choices import Health

                value = Health(value).label if value in Health.values else value
            items.append((RESULT_LABELS.get(key) or str(key).replace("_", " ").capitalize(), value))
        return items

    @property
    def progress_good(self) -> int:
        """Items done without failing: ``progress_done`` less the result's failed items."""
        return max(0, self.progress_done - self.failed_count)

    @property
    def progress_percent(self) -> int:
        """Share (0–100) of the work done, failed items not counted: a job waiting to retry shows what landed."""
        if self.status == JobStatus.SUCCEEDED:
            return 100
        if not self.progress_total:
            return 0
        return min(100, int(100 * self.progress_good / self.progress_total))

    @property
    def progress_bar_class(self) -> str:
        """Classes of the bar's done part: animated while running, green for what landed, else the status colour."""
        if self.status == JobStatus.RUNNING:
            return "progress-bar-striped progress-bar-animated"
        if self.status in (JobStatus.SUCCEEDED, JobStatus.PARTIAL):
            return "bg-success"
        badge = self.status_badge
        return f"bg-{badge} text-dark" if badge in ("warning", "info", "light") else f"bg-{badge}"

    @property
    def failed_percent(self) -> int:
        """Share (0–100) of the work that failed, drawn after ``progress_percent`` on the bar."""
        if not self.progress_total or not self.failed_count:
            return 0
        return max(0, min(100 - self.progress_percent, math.ceil(100 * self.failed_count / self.progress_total)))
