"""Job metrics of one organization over a window: throughput, durations, failure and retry rates, queue depth.

Pure functions of (organization, window, now) that return dataclasses; the
page (``agents.metrics_views``) and its charts (``agents.metrics_charts``)
only draw them.

Every query is bounded by the organization and a time range or a status, so
it walks an index instead of the whole table (a million rows and more):

- finished jobs by ``finished_at`` (index ``job_org_finished``);
- the queue by status (index ``job_org_status``);
- attempts through their job (``attempt_job_number``), never by scanning
  the attempt table.

Definitions (the page repeats them):

- *finished*: succeeded (with or without failed items), input refused, dead
  letter or cancelled, with ``finished_at`` in the window (a job waiting to
  retry is not finished);
- *throughput*: finished jobs per hour of the window;
- *duration*: ``started_at`` → ``finished_at`` of succeeded jobs (with or
  without failed items: both ran to their end), i.e. that attempt, in seconds; p50 and p95 are nearest-rank percentiles
  of the newest ``DURATION_SAMPLE_CAP`` succeeded jobs of the window (the page
  says when the cap cut some off);
- *failure rate*: attempts that ended failed, timed out or lost ÷ attempts
  that ended in the window (paused attempts are not counted, as the runner
  does not count them; an attempt that ran to its end with failed items, or
  refused its input, ended without failing: the items and the input are
  counted as jobs "with failed items" and "refused"), over the attempts of jobs that finished or went to
  retry in the window and of jobs running now;
- *retry rate*: finished jobs that needed more than one attempt ÷ finished
  jobs that ran at least once (a job cancelled while queued never ran);
- *dead letters*: jobs that became dead letters in the window;
- *queue depth*: queued + retry jobs now, and how many of them are due
  (``run_after`` passed).
"""

import math
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cached_property
from datetime import UTC, datetime, timedelta

from django.db.models import CharField, Count, FloatField, Func, IntegerField, Q, Value
from django.utils import timezone

from agents.choices import FINISHED, RUNNABLE, AttemptOutcome, JobKind, JobStatus
from agents.models import Job, JobAttempt

#: Attempt outcomes that count as failures.
FAILED_OUTCOMES = (AttemptOutcome.FAILED, AttemptOutcome.TIMED_OUT, AttemptOutcome.LOST)
#: Attempt outcomes that count at all (running and paused attempts do not).
ENDED_OUTCOMES = (*FAILED_OUTCOMES, AttemptOutcome.SUCCEEDED, AttemptOutcome.PARTIAL, AttemptOutcome.REFUSED,
                  AttemptOutcome.CANCELLED)
#: Job statuses whose durations are sampled: the job ran to its end.
RAN_TO_END = (JobStatus.SUCCEEDED, JobStatus.PARTIAL)
#: At most this many succeeded jobs (the newest of the window) feed the duration percentiles.
DURATION_SAMPLE_CAP = 50_000


@dataclass(frozen=True)
class Window:
    """A choice of the page: ``key`` in the URL (``?window=24h``), ``span`` back from now, chart ``bucket``."""

    key: str
    label: str
    span: timedelta
    bucket: timedelta
    bucket_label: str  # "hour", "5 minutes": the chart's "jobs finished per …"

    @property
    def hours(self) -> float:
        return self.span.total_seconds() / 3600


WINDOWS = {
    "1h": Window("1h", "Last hour", timedelta(hours=1), timedelta(minutes=5), "5 minutes"),
    "24h": Window("24h", "Last 24 hours", timedelta(hours=24), timedelta(hours=1), "hour"),
    "7d": Window("7d", "Last 7 days", timedelta(days=7), timedelta(hours=6), "6 hours"),
}
DEFAULT_WINDOW = "24h"


def window_for(key: str | None) -> Window:
    """The window named ``key``; the default (24 h) for a missing or unknown key."""
    return WINDOWS.get(key or "", WINDOWS[DEFAULT_WINDOW])


def kind_label(kind: str) -> str:
    """"Publish to store" for ``store.publish``; a kind outside ``JobKind`` (a deployment's own) as is."""
    try:
        return JobKind(kind).label
    except ValueError:
        return kind


def percentile(sorted_values: list[float], pct: float) -> float | None:
    """Nearest-rank percentile (``pct`` in 0–100) of an ascending list; ``None`` when empty."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(pct / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass
class KindMetrics:
    """Figures of one job kind: counts of jobs or attempts, durations in seconds, rates 0–1 (``None``: no data)."""

    kind: str
    label: str
    hours: float
    succeeded: int = 0
    partial: int = 0  # succeeded with failed items
    refused: int = 0  # input refused
    dead: int = 0
    cancelled: int = 0
    ran: int = 0  # finished jobs that ran at least once
    retried: int = 0  # finished jobs that needed more than one attempt
    attempts: int = 0  # attempts that ended in the window
    failed_attempts: int = 0
    durations: list[float] = field(default_factory=list, repr=False)  # seconds, ascending
    queued: int = 0  # queued + retry now
    due: int = 0  # of those, ``run_after`` passed
    running: int = 0

    @property
    def known(self) -> bool:
        """A ``JobKind`` (the jobs page can filter by it), not a deployment's own kind."""
        return self.kind in JobKind.values

    @property
    def finished(self) -> int:
        return self.succeeded + self.partial + self.refused + self.dead + self.cancelled

    @property
    def throughput(self) -> float:
        """Finished jobs per hour of the window."""
        return self.finished / self.hours if self.hours else 0.0

    @property
    def p50(self) -> float | None:
        return percentile(self.durations, 50)

    @property
    def p95(self) -> float | None:
        return percentile(self.durations, 95)

    @property
    def failure_rate(self) -> float | None:
        return _rate(self.failed_attempts, self.attempts)

    @property
    def retry_rate(self) -> float | None:
        return _rate(self.retried, self.ran)

    @property
    def failure_percent(self) -> float | None:
        return None if self.failure_rate is None else self.failure_rate * 100

    @property
    def retry_percent(self) -> float | None:
        return None if self.retry_rate is None else self.retry_rate * 100

    @property
    def waiting(self) -> int:
        """Queued or retry jobs that are not due yet (backoff, or queued for later)."""
        return self.queued - self.due

    @property
    def is_empty(self) -> bool:
        return not (self.finished or self.attempts or self.queued or self.running)


@dataclass
class JobMetrics:
    """Everything the metrics page shows for one organization and window.

    ``kinds``: one row per kind that had any activity or queue, in ``JobKind``
    order then by name. ``buckets``: start of each chart bucket (aware, UTC);
    ``series[kind]``: finished jobs per bucket, same length. ``sampled``:
    succeeded jobs whose durations were used; ``capped`` when the window held
    more than ``cap`` and the oldest were left out.
    """

    window: Window
    start: datetime
    end: datetime
    kinds: list[KindMetrics]
    buckets: list[datetime]
    series: dict[str, list[int]]
    sampled: int
    capped: bool
    cap: int = DURATION_SAMPLE_CAP

    @property
    def is_empty(self) -> bool:
        return not self.kinds

    @cached_property
    def total(self) -> KindMetrics:
        """All kinds together; percentiles over every sampled duration."""
        total = KindMetrics(kind="", label="All kinds", hours=self.window.hours)
        for row in self.kinds:
            for name in ("succeeded", "partial", "refused", "dead", "cancelled", "ran", "retried", "attempts",
                         "failed_attempts",
                         "queued", "due", "running"):
                setattr(total, name, getattr(total, name) + getattr(row, name))
        total.durations = sorted(d for row in self.kinds for d in row.durations)
        return total


class Unindexed(Func):
    """A column as is, in a form no index matches (SQLite's no-op unary ``+``), to group by it.

    Grouped by the bare ``kind``, SQLite walks the whole (organization, kind) index of the organization's
    jobs for its order (100,000 rows: 50–140 ms) instead of the index the WHERE narrows (the window's
    finished jobs, the queue's statuses) and a small sort. PostgreSQL plans by cost and gets the column.
    """

    output_field = CharField()

    def as_sqlite(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection, template="+%(expressions)s", **extra)

    def as_sql(self, compiler, connection, template=None, **extra):
        return super().as_sql(compiler, connection, template=template or "%(expressions)s", **extra)


class BucketIndex(Func):
    """``(seconds of the datetime ``expression`` since the epoch − origin) // size`` as an integer, in the
    database's own functions: Django's ``Trunc`` on SQLite calls back into Python for every row (at
    10,000 jobs in a 7-day window that was most of the page's time, bench/bench_page_load.py).
    ``origin`` and ``size`` are whole seconds, the expression at or after ``origin``."""

    output_field = IntegerField()

    def __init__(self, expression, origin: int, size: int):
        super().__init__(expression, Value(int(origin)), Value(int(size)))

    def as_sqlite(self, compiler, connection, **extra):
        # strftime('%s') is whole UTC seconds ("%%%%": kept as "%%" here, sent as "%"); integer division of
        # non-negative integers floors.
        template = "((CAST(strftime('%%%%s', %(expressions)s) AS INTEGER) - %(origin)s) / %(size)s)"
        return self.as_sql(compiler, connection, template=template, **extra)

    def as_sql(self, compiler, connection, template=None, **extra):
        sql_parts, params = [], []
        for argument in self.source_expressions:
            sql, argument_params = compiler.compile(argument)
            sql_parts.append(sql)
            params.extend(argument_params)
        template = template or "FLOOR((EXTRACT(EPOCH FROM %(expressions)s) - %(origin)s) / %(size)s)::integer"
        return template % {"expressions": sql_parts[0], "origin": sql_parts[1], "size": sql_parts[2]}, params


class SecondsBetween(Func):
    """``end − start`` in seconds (float; to the millisecond on SQLite) for two datetime expressions,
    computed by the database (SQLite's ``julianday``, PostgreSQL's ``EXTRACT(EPOCH …)``), so no row's
    datetimes reach Python."""

    output_field = FloatField()
    arity = 2

    def as_sqlite(self, compiler, connection, **extra):
        # julianday() is a float of days (~30 µs apart at today's dates): rounded to the millisecond.
        template = "ROUND((julianday(%(end)s) - julianday(%(start)s)) * 86400.0, 3)"
        return self.as_sql(compiler, connection, template=template, **extra)

    def as_sql(self, compiler, connection, template=None, **extra):
        (start, start_params), (end, end_params) = (compiler.compile(e) for e in self.source_expressions)
        template = template or "EXTRACT(EPOCH FROM (%(end)s - %(start)s))::double precision"
        # The template names end before start on SQLite: pass the parameters in the order they appear.
        order = [(template.index("%(start)s"), start_params), (template.index("%(end)s"), end_params)]
        params = [p for _, group in sorted(order, key=lambda item: item[0]) for p in group]
        return template % {"start": start, "end": end}, params


def _bucket_starts(window: Window, end: datetime) -> list[datetime]:
    """Bucket starts covering ``end - span`` … ``end``, aligned to whole buckets (UTC) so they read well."""
    size = int(window.bucket.total_seconds())
    epoch = int((end - window.span).timestamp())
    first = epoch - epoch % size
    last = int(end.timestamp())
    return [datetime.fromtimestamp(moment, tz=UTC) for moment in range(first, last + 1, size)]


def job_metrics(organization, window: Window, *, now: datetime | None = None, cap: int | None = None) -> JobMetrics:
    """Compute the metrics of ``organization``'s jobs over ``window`` ending ``now`` (default: now).

    Six indexed queries: finished counts by kind and status, the finished-per-
    bucket series, the duration sample (at most ``cap + 1`` rows; ``cap``
    defaults to ``DURATION_SAMPLE_CAP``), attempts of the window's jobs and of
    running jobs, and the queue now. Raises nothing of its own; an empty
    window gives ``JobMetrics.is_empty``.
    """
    cap = DURATION_SAMPLE_CAP if cap is None else cap
    end = now or timezone.now()
    start = end - window.span
    rows: dict[str, KindMetrics] = {}

    def row(kind: str) -> KindMetrics:
        if kind not in rows:
            rows[kind] = KindMetrics(kind=kind, label=kind_label(kind), hours=window.hours)
        return rows[kind]

    jobs = Job.objects.filter(organization=organization)
    finished = jobs.filter(finished_at__gte=start, finished_at__lte=end, status__in=FINISHED)

    for item in finished.order_by().values(group=Unindexed("kind")).annotate(
        succeeded=Count("id", filter=Q(status=JobStatus.SUCCEEDED)),
        partial=Count("id", filter=Q(status=JobStatus.PARTIAL)),
        refused=Count("id", filter=Q(status=JobStatus.REFUSED)),
        dead=Count("id", filter=Q(status=JobStatus.DEAD)),
        cancelled=Count("id", filter=Q(status=JobStatus.CANCELLED)),
        ran=Count("id", filter=Q(attempts__gte=1)),
        retried=Count("id", filter=Q(attempts__gt=1)),
    ):
        target = row(item["group"])
        for name in ("succeeded", "partial", "refused", "dead", "cancelled", "ran", "retried"):
            setattr(target, name, item[name])

    # Finished jobs per bucket and kind, counted in SQL: one row per (kind, bucket) that had any.
    buckets = _bucket_starts(window, end)
    size = int(window.bucket.total_seconds())
    origin = int(buckets[0].timestamp())
    series: dict[str, list[int]] = defaultdict(lambda: [0] * len(buckets))
    slots = finished.order_by().annotate(slot=BucketIndex("finished_at", origin, size)).values("kind", "slot")
    for item in slots.annotate(n=Count("id")):
        index = item["slot"]
        if 0 <= index < len(buckets):
            series[item["kind"]][index] += item["n"]

    # Durations of jobs that ran to their end (seconds, worked out in SQL), newest first along
    # job_org_finished, at most cap + 1 rows.
    sample = list(
        finished.filter(status__in=RAN_TO_END, started_at__isnull=False)
        .order_by("-finished_at", "-id")
        .annotate(seconds=SecondsBetween("started_at", "finished_at"))
        .values_list("kind", "seconds")[: cap + 1]
    )
    capped = len(sample) > cap
    sample = sample[:cap]
    durations: dict[str, list[float]] = defaultdict(list)
    for kind, seconds in sample:
        durations[kind].append(max(0.0, seconds))
    for kind, values in durations.items():
        row(kind).durations = sorted(values)

    # Attempts that ended in the window: of jobs finished or sent to retry in it, and of jobs running now.
    ended = Q(finished_at__gte=start, finished_at__lte=end, outcome__in=ENDED_OUTCOMES)
    for job_filter in (
        Q(job__organization=organization, job__finished_at__gte=start, job__finished_at__lte=end),
        Q(job__organization=organization, job__status=JobStatus.RUNNING),
    ):
        attempts = JobAttempt.objects.filter(job_filter, ended).order_by().values(group=Unindexed("job__kind"))
        for item in attempts.annotate(
            total=Count("id"), failed=Count("id", filter=Q(outcome__in=FAILED_OUTCOMES))
        ):
            target = row(item["group"])
            target.attempts += item["total"]
            target.failed_attempts += item["failed"]

    # The queue now (job_org_status).
    waiting = jobs.filter(status__in=(*RUNNABLE, JobStatus.RUNNING)).order_by().values(group=Unindexed("kind"))
    for item in waiting.annotate(
        queued=Count("id", filter=Q(status__in=RUNNABLE)),
        due=Count("id", filter=Q(status__in=RUNNABLE, run_after__lte=end)),
        running=Count("id", filter=Q(status=JobStatus.RUNNING)),
    ):
        target = row(item["group"])
        target.queued, target.due, target.running = item["queued"], item["due"], item["running"]

    order = {kind: index for index, kind in enumerate(JobKind.values)}
    kinds = sorted((r for r in rows.values() if not r.is_empty), key=lambda r: (order.get(r.kind, len(order)), r.kind))
    return JobMetrics(
        window=window,
        start=start,
        end=end,
        kinds=kinds,
        buckets=buckets,
        series={r.kind: series[r.kind] if r.kind in series else [0] * len(buckets) for r in kinds},
        sampled=len(sample),
        capped=capped,
        cap=cap,
    )
