"""The jobs table. A column sorts only where an index of ``Job.Meta.indexes`` serves that order.

Each sortable column orders by ``(column, id)`` in one direction, matching the
``(organization, column, -id)`` indexes read forward or backward, so a sort
at a million rows is an index scan that stops after one page, never a sort.

Rows are drawn in Python (``flashfusion.tables.PythonRowsTable``), links and
dates with ``format_html``: django-tables2's own cell loop (a signature
inspection per cell, link and date columns through templates) was about
half of a page's time (bench/bench_jobs_concurrency.py).
"""

import django_tables2 as tables
from django.template import Context
from django.template.loader import get_template
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils import timezone
from django.utils.dates import MONTHS_3
from django.utils.timesince import timeuntil

from agents.choices import JobStatus, Priority
from agents.models import Job
from flashfusion.tables import PythonRowsTable


PRIORITY_LABELS = dict(Priority.choices)
NOWRAP = {"th": {"class": "text-nowrap"}, "td": {"class": "text-nowrap"}}
#: An id no real row has, swapped for each row's own in a link (reverse() once a page, not once a row).
_PK = 987654321987
#: Dates as the list shows them (``date_format``, local time).
DATE_FORMAT = "M j, H:i"


class JobTable(PythonRowsTable):
    id = tables.Column(verbose_name="Job", attrs=NOWRAP)
    kind = tables.Column(verbose_name="What", order_by=("kind", "-id"), attrs={"td": {"style": "min-width: 14rem"}})
    store = tables.Column(default="—", orderable=False)
    status = tables.Column(order_by=("status", "-id"), attrs={"th": {"class": "text-nowrap"}})
    priority = tables.Column(order_by=("priority", "id"), attrs=NOWRAP)
    progress = tables.Column(empty_values=(), orderable=False)
    attempts = tables.Column(orderable=False, attrs=NOWRAP)
    created_at = tables.Column(verbose_name="Queued", order_by=("id",), attrs=NOWRAP)
    finished_at = tables.Column(verbose_name="Finished", default="—", order_by=("finished_at", "id"), attrs=NOWRAP)
    error = tables.Column(default="", orderable=False,
                          attrs={"td": {"class": "text-danger small text-truncate", "style": "max-width: 18rem",
                                         "title": lambda record: record.error}})

    class Meta:
        model = Job
        fields = ("id", "kind", "store", "status", "priority", "progress", "attempts", "created_at", "finished_at", "error")
        row_attrs = {"id": lambda record: f"job-row-{record.pk}"}
        empty_text = "No jobs yet. Import a catalog or publish to a store and its job appears here."

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._job_url = reverse("agents:job_detail", args=[_PK])
        self._store_url = reverse("stores:detail", args=[_PK])
        # Once a page: date_format() looks the format and month names up again for every date (~0.4 ms).
        self._months = {number: str(name).title() for number, name in MONTHS_3.items()}
        self._progress = get_template("agents/partials/progress.html").template

    def render_id(self, value):
        return format_html('<a href="{}">#{}</a>', self._job_url.replace(str(_PK), str(value)), value)

    def render_store(self, record, value):
        return format_html('<a href="{}">{}</a>', self._store_url.replace(str(_PK), str(record.store_id)), value)

    def _short_date(self, value) -> str:
        local = timezone.localtime(value)  # as date_format(local, DATE_FORMAT)
        return f"{self._months[local.month]} {local.day}, {local:%H:%M}"

    def render_created_at(self, value):
        return self._short_date(value)

    def render_finished_at(self, value):
        return self._short_date(value)

    def render_kind(self, record):
        return record.title

    # Status and priority are built with format_html, not a template per cell: at 50 rows a
    # render_to_string per cell was a third of the page's time (bench/bench_jobs_page.py).
    def render_status(self, record):
        border = " border" if record.status_badge == "light" else ""
        badge = format_html('<span class="badge text-bg-{}{}">{}</span>',
                            record.status_badge, border, record.status_label)
        hint = retry_hint(record)
        if not hint:
            return badge
        return format_html(
            '{}<div class="small text-secondary text-nowrap" title="Runs at {}">'
            '<i class="bi bi-clock" aria-hidden="true"></i> {}</div>',
            badge, date_format(timezone.localtime(record.run_after), "M j, H:i:s"), hint,
        )

    def render_priority(self, record):
        label = PRIORITY_LABELS.get(record.priority, str(record.priority))
        if record.priority >= Priority.CRITICAL:
            return format_html('<span class="badge text-bg-danger">{}</span>', label)
        if record.priority >= Priority.HIGH:
            return format_html('<span class="badge text-bg-warning">{}</span>', label)
        if record.priority <= Priority.LOW:
            return format_html('<span class="badge text-bg-light border">{}</span>', label)
        return format_html('<span class="text-secondary">{}</span>', label)

    def render_progress(self, record):
        # The job page's own partial, compiled once a page and drawn without localizing its numbers (whole
        # numbers read the same): localize() looked the number format up for each, a third of the partial.
        return mark_safe(self._progress.render(Context({"job": record}, use_l10n=False)))

    def render_attempts(self, record):
        return f"{record.attempts} of {record.max_attempts}"


def retry_hint(job: Job, now=None) -> str:
    """When a waiting job runs, in words, under its badge: "at 14:02:31" for a ``retry`` job (its badge says
    "Retry scheduled in 12 s"), "starts in 4 minutes" for a ``queued`` job whose ``run_after`` is still
    ahead (queued to run later); "" otherwise."""
    if job.status not in (JobStatus.RETRY, JobStatus.QUEUED) or job.run_after is None:
        return ""
    now = now or timezone.now()
    if job.run_after <= now:
        return ""
    if job.status == JobStatus.RETRY:
        return f"at {date_format(timezone.localtime(job.run_after), 'H:i:s')}"
    return f"starts in {timeuntil(job.run_after, now)}"
