"""How agents.metrics asks the database: buckets and durations worked out in SQL, on SQLite and PostgreSQL."""

from datetime import UTC, datetime, timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext

from agents.choices import JobStatus
from agents.metrics import WINDOWS, job_metrics
from agents.models import Job

NOW = datetime(2026, 3, 4, 12, 30, tzinfo=UTC)


def _finished(org, finished, seconds, kind="store.publish"):
    return Job.objects.create(organization=org, kind=kind, status=JobStatus.SUCCEEDED, attempts=1,
                              started_at=finished - timedelta(seconds=seconds), finished_at=finished)


def test_buckets_and_durations_come_from_sql_at_their_edges(org):
    window = WINDOWS["24h"]  # hourly buckets, the first starting at 12:00 the day before
    _finished(org, datetime(2026, 3, 4, 11, 0, tzinfo=UTC), 0.25)  # exactly on a bucket's start: that bucket
    _finished(org, datetime(2026, 3, 4, 10, 59, 59, 999000, tzinfo=UTC), 1.5)  # the last moment of the one before
    _finished(org, datetime(2026, 3, 3, 12, 45, tzinfo=UTC), 7200)  # in the first bucket (the window starts at 12:30)
    _finished(org, datetime(2026, 3, 4, 12, 30, tzinfo=UTC), 3, kind="store.pull")  # at "now": the last bucket
    with CaptureQueriesContext(connection) as queries:
        metrics = job_metrics(org, window, now=NOW)
    buckets = metrics.buckets
    assert buckets[0] == datetime(2026, 3, 3, 12, 0, tzinfo=UTC) and len(buckets) == 25
    publish = metrics.series["store.publish"]
    assert publish[buckets.index(datetime(2026, 3, 4, 11, 0, tzinfo=UTC))] == 1
    assert publish[buckets.index(datetime(2026, 3, 4, 10, 0, tzinfo=UTC))] == 1
    assert publish[0] == 1 and sum(publish) == 3
    assert metrics.series["store.pull"][-1] == 1
    row = next(r for r in metrics.kinds if r.kind == "store.publish")
    assert row.durations == [0.25, 1.5, 7200.0]
    # No Python function per row: Django's Trunc on SQLite calls django_datetime_trunc for each one.
    assert not [q["sql"] for q in queries.captured_queries if "django_" in q["sql"].lower()]
    assert len(queries) <= 6
