"""Job metrics (agents.metrics) on the real database, and the metrics page as each role and as an outsider."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from agents import metrics_charts
from agents.choices import AttemptOutcome, JobStatus
from agents.metrics import WINDOWS, job_metrics, percentile, window_for
from agents.models import Job, JobAttempt

NOW = timezone.now().replace(minute=30, second=0, microsecond=0)
DAY = WINDOWS["24h"]


def make_job(org, kind="store.publish", status=JobStatus.SUCCEEDED, *, finished=None, duration=None,
             outcomes=(AttemptOutcome.SUCCEEDED,), run_after=None, created=None):
    """A job with one attempt per outcome, each ``duration`` seconds, the last ending at ``finished``.

    ``finished`` is also the job's ``finished_at`` (a retry-status job keeps the time its attempt failed,
    as ``Job.fail_attempt`` does); a queued job has no attempts unless given.
    """
    duration = 10.0 if duration is None else duration
    job = Job.objects.create(organization=org, kind=kind, status=status, attempts=len(outcomes),
                             run_after=run_after or NOW)
    end = finished
    starts = []
    for number, outcome in enumerate(outcomes, start=1):
        # attempts back to back, the last ending at ``finished``
        offset = (len(outcomes) - number) * (duration + 5)
        attempt_end = end - timedelta(seconds=offset) if end else None
        attempt_start = (attempt_end or NOW) - timedelta(seconds=duration)
        starts.append(attempt_start)
        JobAttempt.objects.create(job=job, number=number, started_at=attempt_start, outcome=outcome,
                                  finished_at=None if outcome == AttemptOutcome.RUNNING else attempt_end)
    Job.objects.filter(pk=job.pk).update(
        created_at=created or ((starts[0] if starts else NOW) - timedelta(seconds=1)),
        started_at=starts[-1] if starts else None,
        finished_at=finished if status != JobStatus.RUNNING else None,
    )
    return job


def row_of(result, kind):
    return next(row for row in result.kinds if row.kind == kind)


def test_percentile_is_nearest_rank():
    values = [float(v) for v in range(1, 21)]  # 1..20
    assert percentile(values, 50) == 10.0
    assert percentile(values, 95) == 19.0
    assert percentile([4.0], 95) == 4.0
    assert percentile([], 50) is None


def test_unknown_window_falls_back_to_a_day():
    assert window_for("bogus") is DAY and window_for(None) is DAY and window_for("1h").key == "1h"


def test_throughput_durations_and_rates(org):
    # Publishing: 20 succeeded jobs of 1..20 s, spread over the day; two of them needed a second attempt.
    for index in range(20):
        outcomes = (AttemptOutcome.FAILED, AttemptOutcome.SUCCEEDED) if index < 2 else (AttemptOutcome.SUCCEEDED,)
        make_job(org, finished=NOW - timedelta(hours=index), duration=index + 1, outcomes=outcomes)
    # One dead letter after three attempts (failed, timed out, lost); one cancelled while queued (never ran).
    make_job(org, status=JobStatus.DEAD, finished=NOW - timedelta(hours=3),
             outcomes=(AttemptOutcome.FAILED, AttemptOutcome.TIMED_OUT, AttemptOutcome.LOST))
    make_job(org, status=JobStatus.CANCELLED, finished=NOW - timedelta(hours=2), outcomes=())
    # Health checks: one waiting to retry (its failed attempt counts, the job is not finished).
    make_job(org, "store.health_check", status=JobStatus.RETRY, finished=NOW - timedelta(minutes=5),
             outcomes=(AttemptOutcome.FAILED,), run_after=NOW + timedelta(minutes=1))

    result = job_metrics(org, DAY, now=NOW)
    publish = row_of(result, "store.publish")
    assert (publish.succeeded, publish.dead, publish.cancelled) == (20, 1, 1)
    assert publish.finished == 22
    assert publish.throughput == pytest.approx(22 / 24)
    assert publish.p50 == pytest.approx(10.0)  # nearest rank of 1..20 s
    assert publish.p95 == pytest.approx(19.0)
    # attempts: 20 successes + 2 failures (retried jobs) + 3 of the dead letter = 25, of which 5 failed
    assert (publish.attempts, publish.failed_attempts) == (25, 5)
    assert publish.failure_rate == pytest.approx(5 / 25)
    # retried: the two jobs with a second attempt and the dead letter, of the 21 finished jobs that ran
    assert (publish.retried, publish.ran) == (3, 21)
    assert publish.retry_rate == pytest.approx(3 / 21)

    health = row_of(result, "store.health_check")
    assert health.finished == 0 and health.throughput == 0
    assert (health.attempts, health.failed_attempts) == (1, 1)
    assert health.retry_rate is None and health.p50 is None
    assert (health.queued, health.due) == (1, 0)

    # The series holds every finished job, in its hour.
    assert sum(result.series["store.publish"]) == 22
    assert len(result.series["store.publish"]) == len(result.buckets)
    assert result.total.finished == 22 and not result.capped


def test_partial_and_refused_jobs_are_finished_apart_and_not_failed_attempts(client, org, viewer):
    make_job(org, finished=NOW - timedelta(hours=1), duration=4)
    make_job(org, status=JobStatus.PARTIAL, finished=NOW - timedelta(hours=2), duration=8,
             outcomes=(AttemptOutcome.PARTIAL,))
    make_job(org, "catalog.import", status=JobStatus.REFUSED, finished=NOW - timedelta(hours=1), duration=1,
             outcomes=(AttemptOutcome.REFUSED,))

    result = job_metrics(org, DAY, now=NOW)
    publish, imports = row_of(result, "store.publish"), row_of(result, "catalog.import")
    assert (publish.succeeded, publish.partial, publish.finished) == (1, 1, 2)
    assert publish.durations == [4.0, 8.0]  # both ran to their end
    assert (publish.attempts, publish.failed_attempts) == (2, 0)  # failed items are not a failed attempt
    assert (imports.refused, imports.finished, imports.failed_attempts, imports.dead) == (1, 1, 0, 0)
    assert result.total.finished == 3 and sum(result.series["store.publish"]) == 2

    client.force_login(viewer)
    body = client.get(reverse("job_metrics:index")).content.decode()
    assert "With failed items" in body and "1 with failed items, 1 refused" in body
    assert f"{reverse('agents:job_list')}?kind=store.publish&amp;status=partial" in body


def test_queue_depth_counts_queued_and_retry_and_due(org):
    make_job(org, "catalog.import", status=JobStatus.QUEUED, outcomes=(), run_after=NOW - timedelta(minutes=1))
    make_job(org, "catalog.import", status=JobStatus.QUEUED, outcomes=(), run_after=NOW + timedelta(hours=1))
    make_job(org, "catalog.import", status=JobStatus.RETRY, finished=NOW - timedelta(minutes=3),
             outcomes=(AttemptOutcome.FAILED,), run_after=NOW - timedelta(seconds=5))
    make_job(org, "catalog.import", status=JobStatus.RUNNING, outcomes=(AttemptOutcome.RUNNING,))

    row = row_of(job_metrics(org, DAY, now=NOW), "catalog.import")
    assert (row.queued, row.due, row.waiting, row.running) == (3, 2, 1, 1)


def test_a_running_jobs_earlier_failed_attempt_counts(org):
    job = make_job(org, "store.pull", status=JobStatus.RUNNING,
                   outcomes=(AttemptOutcome.FAILED, AttemptOutcome.RUNNING))
    JobAttempt.objects.filter(job=job, number=1).update(finished_at=NOW - timedelta(minutes=10))
    row = row_of(job_metrics(org, DAY, now=NOW), "store.pull")
    assert (row.attempts, row.failed_attempts, row.running) == (1, 1, 1)


def test_jobs_outside_the_window_are_left_out(org):
    make_job(org, finished=NOW - timedelta(hours=2))
    make_job(org, finished=NOW - timedelta(hours=30), outcomes=(AttemptOutcome.FAILED, AttemptOutcome.SUCCEEDED))
    make_job(org, status=JobStatus.DEAD, finished=NOW - timedelta(days=3), outcomes=(AttemptOutcome.FAILED,))

    day = row_of(job_metrics(org, DAY, now=NOW), "store.publish")
    assert (day.finished, day.attempts, day.failed_attempts, day.dead) == (1, 1, 0, 0)
    assert not job_metrics(org, WINDOWS["1h"], now=NOW).kinds
    week = row_of(job_metrics(org, WINDOWS["7d"], now=NOW), "store.publish")
    assert (week.finished, week.dead, week.failed_attempts) == (3, 1, 2)


def test_other_organizations_jobs_are_left_out(org, other_org):
    make_job(org, finished=NOW - timedelta(hours=1))
    make_job(other_org, finished=NOW - timedelta(hours=1))
    make_job(other_org, "catalog.import", status=JobStatus.QUEUED, outcomes=())
    result = job_metrics(org, DAY, now=NOW)
    assert [row.kind for row in result.kinds] == ["store.publish"]
    assert result.total.finished == 1 and result.total.attempts == 1 and result.total.queued == 0


def test_durations_are_capped_to_the_newest(org):
    for index in range(5):
        make_job(org, finished=NOW - timedelta(minutes=index), duration=index + 1)
    result = job_metrics(org, DAY, now=NOW, cap=3)
    assert result.capped and result.sampled == 3
    row = row_of(result, "store.publish")
    assert row.durations == [1.0, 2.0, 3.0]  # the three newest
    assert row.finished == 5  # counts are never capped


def test_summaries_say_what_the_charts_show(org):
    make_job(org, finished=NOW - timedelta(hours=1), duration=4)
    make_job(org, status=JobStatus.DEAD, finished=NOW - timedelta(hours=1), outcomes=(AttemptOutcome.FAILED,))
    make_job(org, "catalog.import", status=JobStatus.QUEUED, outcomes=(), run_after=NOW - timedelta(minutes=1))
    result = job_metrics(org, DAY, now=NOW)
    assert metrics_charts.throughput_summary(result).startswith("2 jobs finished in the last 24 hours")
    assert "Publish to store: median 4.0 s" in metrics_charts.duration_summary(result)
    assert "50% of 2 attempts failed" in metrics_charts.rates_summary(result)
    assert metrics_charts.queue_summary(result) == "1 job waiting now, 1 of them due: Catalog import 1 (1 due)."


# ---- the page -------------------------------------------------------------------------


def test_page_shows_table_charts_and_text_alternatives(client, org, viewer):
    make_job(org, finished=timezone.now() - timedelta(hours=1), duration=3)
    make_job(org, "catalog.import", status=JobStatus.QUEUED, outcomes=())
    client.force_login(viewer)
    response = client.get(reverse("job_metrics:index"))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="throughput-chart"' in html and 'class="plotly-graph-div"' in html
    assert 'id="duration-chart"' in html and 'id="queue-chart"' in html
    summary = metrics_charts.throughput_summary(response.context["metrics"])
    assert f'aria-label="{summary}"' in html
    assert "vendor/plotly/plotly-basic.min.js" in html
    assert "Publish to store" in html and "Catalog import" in html
    assert 'aria-current="page" href="?window=24h"' in html


def test_page_window_choice(client, org, operator):
    make_job(org, finished=timezone.now() - timedelta(hours=3))
    client.force_login(operator)
    response = client.get(reverse("job_metrics:index"), {"window": "1h"})
    assert response.context["window"].key == "1h"
    assert 'id="metrics-empty"' in response.content.decode()
    response = client.get(reverse("job_metrics:index"), {"window": "7d"})
    assert response.context["metrics"].total.finished == 1


def test_page_shows_the_cap_note(client, org, viewer, monkeypatch):
    from agents import metrics

    monkeypatch.setattr(metrics, "DURATION_SAMPLE_CAP", 1)
    make_job(org, finished=timezone.now() - timedelta(hours=1))
    make_job(org, finished=timezone.now() - timedelta(hours=2))
    client.force_login(viewer)
    html = client.get(reverse("job_metrics:index")).content.decode()
    assert 'id="metrics-capped"' in html and "newest 1 of them" in html


def test_outsider_sees_only_their_own_organization(client, org, outsider):
    make_job(org, finished=timezone.now() - timedelta(hours=1))
    client.force_login(outsider)
    response = client.get(reverse("job_metrics:index"))
    assert response.status_code == 200
    assert response.context["metrics"].is_empty
    assert "Publish to store" not in response.content.decode()


def test_metrics_url_does_not_shadow_job_pages(client, org, viewer):
    job = make_job(org, finished=timezone.now())
    client.force_login(viewer)
    assert reverse("job_metrics:index") == "/jobs/metrics/"
    assert client.get(reverse("agents:job_detail", args=[job.pk])).status_code == 200
    assert client.get(reverse("agents:job_list")).status_code == 200


def test_anonymous_is_sent_to_log_in(client):
    response = client.get(reverse("job_metrics:index"))
    assert response.status_code == 302 and "/login/" in response["Location"]
