"""The jobs pages as each role sees them: list filters and sorts, a job's page, actions, retry-all, dead letters."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from agents.choices import AttemptOutcome, JobKind, JobStatus, Priority
from agents.fingerprint import fingerprint
from agents.models import Job, JobAttempt
from approvals.models import AuditEntry
from tests.factories import ProductFactory, StoreFactory

LIST = reverse("agents:job_list")
RETRY_ALL = reverse("agents:jobs_retry")
DEAD = reverse("agents:dead_letters")


def make_job(org, *, kind=JobKind.STORE_HEALTH, status=JobStatus.SUCCEEDED, summary="", error="", error_class="",
             created_at=None, **fields):
    """A job row as a worker would have left it; a dead one gets its error fingerprint."""
    if status == JobStatus.DEAD and error:
        fields.setdefault("error_fingerprint", fingerprint(kind, error_class, error))
    job = Job.objects.create(organization=org, kind=kind, status=status, summary=summary or f"{kind} job",
                             error=error, error_class=error_class, **fields)
    if created_at is not None:
        Job.objects.filter(pk=job.pk).update(created_at=created_at)
        job.created_at = created_at
    return job


def listed(response) -> set[int]:
    """Ids of the jobs in the table of a list response."""
    return {row.record.pk for row in response.context["table"].paginated_rows}


@pytest.fixture
def jobs(org, other_org):
    """A spread of jobs in ``org`` (and one in ``other_org`` that must never show)."""
    store = StoreFactory(organization=org, name="Demo Woo")
    other_store = StoreFactory(organization=org, name="Second Shop")
    now = timezone.now()
    return {
        "store": store,
        "other_store": other_store,
        "old_health": make_job(org, store=store, summary="Health check of Demo Woo", created_at=now - timedelta(days=3)),
        "publish_dead": make_job(
            org, kind=JobKind.STORE_PUBLISH, store=store, status=JobStatus.DEAD, priority=Priority.HIGH,
            summary="Publish to Demo Woo (1 product)", error="Rejected: product 12 'blue' price must be positive (422)",
            error_class="Rejected", created_at=now - timedelta(minutes=30)),
        "publish_dead_2": make_job(
            org, kind=JobKind.STORE_PUBLISH, store=other_store, status=JobStatus.DEAD, priority=Priority.HIGH,
            summary="Publish to Second Shop (1 product)", error="Rejected: product 99 'red' price must be positive (422)",
            error_class="Rejected", created_at=now - timedelta(minutes=20)),
        "import_cancelled": make_job(
            org, kind=JobKind.CATALOG_IMPORT, status=JobStatus.CANCELLED, priority=Priority.CRITICAL,
            summary="Import spring.csv", created_at=now - timedelta(minutes=10)),
        "retrying": make_job(
            org, kind=JobKind.STORE_PULL, store=other_store, status=JobStatus.RETRY, priority=Priority.LOW,
            summary="Pull changes from Second Shop", error="503 from store timeout", error_class="Transient",
            run_after=now + timedelta(minutes=5), created_at=now - timedelta(minutes=5)),
        "foreign": make_job(other_org, status=JobStatus.DEAD, error="Rejected: nope", error_class="Rejected",
                            summary="Health check elsewhere"),
    }


# ---- the list ----------------------------------------------------------------------


def test_list_shows_only_this_organizations_jobs(client, viewer, jobs):
    client.force_login(viewer)
    response = client.get(LIST)
    assert response.status_code == 200
    assert jobs["foreign"].pk not in listed(response)
    assert len(listed(response)) == 5
    assert b"Retry all that match" not in response.content  # viewers do not get the action


@pytest.mark.parametrize(
    "params, expected",
    [
        ({"status": "dead"}, {"publish_dead", "publish_dead_2"}),
        ({"kind": "catalog.import"}, {"import_cancelled"}),
        ({"priority": "20"}, {"publish_dead", "publish_dead_2"}),
        ({"priority": "0"}, {"retrying"}),
        ({"q": "spring.csv"}, {"import_cancelled"}),
        ({"q": "503 from"}, {"retrying"}),  # matches the error text
        ({"queued": "1h"}, {"publish_dead", "publish_dead_2", "import_cancelled", "retrying"}),
        ({"status": "dead", "q": "SECOND shop"}, {"publish_dead_2"}),
    ],
)
def test_each_filter_narrows_the_list(client, viewer, jobs, params, expected):
    client.force_login(viewer)
    response = client.get(LIST, params)
    assert listed(response) == {jobs[name].pk for name in expected}


def test_store_filter(client, viewer, jobs):
    client.force_login(viewer)
    response = client.get(LIST, {"store": jobs["other_store"].pk})
    assert listed(response) == {jobs["publish_dead_2"].pk, jobs["retrying"].pk}


def test_queued_after_and_before_take_datetime_local_values(client, viewer, jobs):
    client.force_login(viewer)
    now = timezone.localtime()
    after = (now - timedelta(minutes=25)).strftime("%Y-%m-%dT%H:%M")
    before = (now - timedelta(minutes=7)).strftime("%Y-%m-%dT%H:%M")
    response = client.get(LIST, {"queued_after": after, "queued_before": before})
    assert listed(response) == {jobs["publish_dead_2"].pk, jobs["import_cancelled"].pk}
    assert f'value="{after}"'.encode() in response.content  # the input shows what was asked


def test_error_group_filter(client, viewer, jobs):
    client.force_login(viewer)
    group = jobs["publish_dead"].error_fingerprint
    assert group == jobs["publish_dead_2"].error_fingerprint  # same shape of message
    response = client.get(LIST, {"status": "dead", "error_group": group})
    assert listed(response) == {jobs["publish_dead"].pk, jobs["publish_dead_2"].pk}
    assert b"price must be positive" in response.content  # the banner names the group


@pytest.mark.parametrize("query", ["#{pk}", "{pk}"])
def test_text_search_matches_the_id(client, viewer, jobs, query):
    client.force_login(viewer)
    pk = jobs["old_health"].pk
    response = client.get(LIST, {"q": query.format(pk=pk)})
    assert pk in listed(response)
    assert jobs["foreign"].pk not in listed(response)


def test_sort_by_priority(client, viewer, jobs):
    client.force_login(viewer)
    rows = [row.record.priority for row in client.get(LIST, {"sort": "-priority"}).context["table"].paginated_rows]
    assert rows == sorted(rows, reverse=True) and rows[0] == Priority.CRITICAL
    rows = [row.record.priority for row in client.get(LIST, {"sort": "priority"}).context["table"].paginated_rows]
    assert rows[0] == Priority.LOW


@pytest.mark.parametrize("column", ["id", "kind", "status", "priority", "created_at", "finished_at"])
def test_every_sortable_column_sorts(client, viewer, jobs, column):
    client.force_login(viewer)
    for sort in (column, f"-{column}"):
        assert client.get(LIST, {"sort": sort}).status_code == 200


def test_unsortable_columns_are_not_offered(client, viewer, jobs):
    client.force_login(viewer)
    table = client.get(LIST).context["table"]
    orderable = {name for name, column in table.columns.items() if column.orderable}
    assert orderable == {"id", "kind", "status", "priority", "created_at", "finished_at"}


def test_list_issues_no_count_query(client, viewer, jobs):
    client.force_login(viewer)
    for params in ({}, {"status": "dead"}, {"page": "1", "sort": "-priority"}):
        with CaptureQueriesContext(connection) as queries:
            response = client.get(LIST, params)
        assert response.status_code == 200
        assert not [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]


def test_list_query_budget_does_not_grow_with_rows(client, viewer, org, jobs):
    client.force_login(viewer)
    with CaptureQueriesContext(connection) as few:
        client.get(LIST)
    stores = [jobs["store"], jobs["other_store"]]
    Job.objects.bulk_create([Job(organization=org, kind=JobKind.STORE_PUBLISH, store=stores[i % 2], summary=f"job {i}")
                             for i in range(40)])
    with CaptureQueriesContext(connection) as many:
        client.get(LIST)
    assert len(many) == len(few) <= 12


def test_list_pages_without_counting(client, viewer, org):
    Job.objects.bulk_create([Job(organization=org, kind=JobKind.STORE_HEALTH, summary=f"job {i}") for i in range(35)])
    client.force_login(viewer)
    first = client.get(LIST)
    assert len(listed(first)) == 25 and first.context["table"].page.has_next()
    second = client.get(LIST, {"page": 2})
    assert len(listed(second)) == 10 and not second.context["table"].page.has_next()


def test_retry_job_shows_when_it_runs_next(client, viewer, jobs):
    client.force_login(viewer)
    response = client.get(LIST, {"status": "retry"})
    assert b"Retry scheduled in 5 min" in response.content
    at = timezone.localtime(jobs["retrying"].run_after).strftime("%H:%M:%S")
    assert f"at {at}".encode() in response.content


def test_operator_sees_retry_all_link_with_the_filter(client, operator, jobs):
    client.force_login(operator)
    response = client.get(LIST, {"status": "dead", "sort": "-priority"})
    assert f'href="{RETRY_ALL}?status=dead"'.encode() in response.content


def test_htmx_request_gets_the_table_only(client, viewer, jobs):
    client.force_login(viewer)
    response = client.get(LIST, {"status": "dead"}, headers={"HX-Request": "true"})
    assert response.content.lstrip().startswith(b"<div id=\"object-table\"") or b'id="object-table"' in response.content[:400]
    assert b"<html" not in response.content


# ---- a job's page ------------------------------------------------------------------


def test_detail_shows_attempts_and_touched_objects(client, viewer, org, jobs):
    products = [ProductFactory(organization=org, title=f"Shirt {i}") for i in range(22)]
    job = jobs["publish_dead"]
    job.params = {"product_ids": [p.pk for p in products], "mode": "full"}
    job.attempts = 2
    job.log = ["10:00:00 publishing 22 products", "10:00:03 attempt 2 failed"]
    job.save()
    start = timezone.now() - timedelta(minutes=2)
    JobAttempt.objects.create(job=job, number=1, worker="host:1", started_at=start, finished_at=start + timedelta(seconds=3),
                              outcome=AttemptOutcome.FAILED, error="503 from store", error_class="Transient", retry_in=30)
    JobAttempt.objects.create(job=job, number=2, worker="host:2", started_at=start + timedelta(seconds=40),
                              finished_at=start + timedelta(seconds=41), outcome=AttemptOutcome.FAILED,
                              error=job.error, error_class="Rejected")
    client.force_login(viewer)
    response = client.get(job.get_absolute_url())
    body = response.content.decode()
    assert response.status_code == 200
    assert body.count('id="attempt-') == 2 and "host:2" in body and "30.0 s" in body
    assert reverse("stores:detail", args=[jobs["store"].pk]) in body
    assert reverse("products:detail", args=[products[0].pk]) in body
    assert reverse("products:detail", args=[products[19].pk]) in body
    assert reverse("products:detail", args=[products[20].pk]) not in body
    assert "+2 more" in body
    assert f"{LIST}?error_group={job.error_fingerprint}" in body
    assert "publishing 22 products" in body and "mode" in body
    assert "Retry this job" not in body  # viewers see no actions


def test_detail_links_an_import(client, operator, org, jobs):
    from products.models import CatalogImport

    imp = CatalogImport.objects.create(organization=org, format="woocommerce", filename="spring.csv", content="x")
    job = jobs["import_cancelled"]
    job.params = {"import_id": imp.pk, "filename": "spring.csv"}
    job.save()
    client.force_login(operator)
    body = client.get(job.get_absolute_url()).content.decode()
    assert f"Catalog import #{imp.pk}" in body and reverse("products:import") in body
    assert "Retry this job" in body and "Cancel this job" not in body


def test_outsider_gets_404_on_another_organizations_job(client, outsider, jobs):
    client.force_login(outsider)
    job = jobs["publish_dead"]
    assert client.get(job.get_absolute_url()).status_code == 404
    assert client.post(reverse("agents:job_retry", args=[job.pk])).status_code == 404
    assert client.post(reverse("agents:job_cancel", args=[job.pk])).status_code == 404
    job.refresh_from_db()
    assert job.status == JobStatus.DEAD


# ---- actions -----------------------------------------------------------------------


def test_operator_cancels_a_queued_job(client, operator, org):
    job = make_job(org, status=JobStatus.QUEUED)
    client.force_login(operator)
    response = client.post(reverse("agents:job_cancel", args=[job.pk]), follow=True)
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED
    assert f"Job #{job.pk} cancelled." in response.content.decode()
    entry = AuditEntry.objects.get(action="job_cancelled")
    assert entry.actor == operator and entry.ip_address == "127.0.0.1" and entry.details["job_ids"] == [job.pk]


def test_operator_retries_a_dead_job(client, operator, jobs):
    job = jobs["publish_dead"]
    client.force_login(operator)
    response = client.post(reverse("agents:job_retry", args=[job.pk]), follow=True)
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED
    assert "queued again" in response.content.decode()
    assert AuditEntry.objects.filter(action="job_retried", actor=operator).count() == 1


def test_retrying_a_finished_job_says_why_not(client, operator, jobs):
    job = jobs["old_health"]
    client.force_login(operator)
    response = client.post(reverse("agents:job_retry", args=[job.pk]), follow=True)
    assert "only dead or cancelled jobs can be retried" in response.content.decode()
    assert not AuditEntry.objects.exists()


def test_actions_need_post(client, operator, jobs):
    client.force_login(operator)
    assert client.get(reverse("agents:job_retry", args=[jobs["publish_dead"].pk])).status_code == 405


@pytest.mark.parametrize("name", ["agents:job_cancel", "agents:job_retry"])
def test_viewer_cannot_act_on_a_job(client, viewer, org, name):
    job = make_job(org, status=JobStatus.QUEUED if name == "agents:job_cancel" else JobStatus.DEAD)
    client.force_login(viewer)
    assert client.post(reverse(name, args=[job.pk])).status_code == 403
    assert Job.objects.get(pk=job.pk).status == job.status
    assert not AuditEntry.objects.exists()


def test_viewer_cannot_retry_all(client, viewer, jobs):
    client.force_login(viewer)
    assert client.get(RETRY_ALL, {"status": "dead"}).status_code == 403
    assert client.post(f"{RETRY_ALL}?status=dead").status_code == 403
    assert Job.objects.filter(status=JobStatus.DEAD).count() == 3


def test_confirmation_counts_dead_and_cancelled_jobs_that_match(client, operator, jobs):
    client.force_login(operator)
    response = client.get(RETRY_ALL)  # no filter: the two dead and the cancelled job of this org
    assert response.context["count"] == 3
    response = client.get(RETRY_ALL, {"kind": "store.publish", "store": jobs["store"].pk})
    assert response.context["count"] == 1
    body = response.content.decode()
    assert "1</strong> job will be retried" in body
    assert "kind Publish to store, store Demo Woo" in body
    response = client.get(RETRY_ALL, {"status": "succeeded"})
    assert response.context["count"] == 0 and "no dead or cancelled job matches" in response.content.decode()


def test_retry_all_that_match(client, manager, jobs):
    client.force_login(manager)
    group = jobs["publish_dead"].error_fingerprint
    response = client.post(f"{RETRY_ALL}?status=dead&error_group={group}", follow=True)
    assert response.redirect_chain[-1][0] == f"{LIST}?status=dead&error_group={group}"
    assert "2 jobs queued again" in response.content.decode()
    assert set(Job.objects.filter(status=JobStatus.QUEUED).values_list("pk", flat=True)) == {
        jobs["publish_dead"].pk, jobs["publish_dead_2"].pk}
    entry = AuditEntry.objects.get(action="jobs_retried")
    assert entry.details["count"] == 2 and "status Dead letter" in entry.message and group in entry.message
    assert entry.ip_address == "127.0.0.1"
    assert Job.objects.get(pk=jobs["foreign"].pk).status == JobStatus.DEAD


# ---- dead letters ------------------------------------------------------------------


def test_dead_letters_group_by_fingerprint(client, viewer, org, jobs):
    make_job(org, kind=JobKind.STORE_PULL, status=JobStatus.DEAD, error="Rejected: unknown topic 'x'",
             error_class="Rejected")
    client.force_login(viewer)
    response = client.get(DEAD)
    groups = {g["error_fingerprint"]: g for g in response.context["groups"]}
    assert len(groups) == 2  # the other org's dead letter is not here
    publish = groups[jobs["publish_dead"].error_fingerprint]
    assert publish["count"] == 2 and publish["sample"].pk == jobs["publish_dead_2"].pk  # the newest is the sample
    assert publish["shape"] == "Rejected: product N '…' price must be positive (422)"
    body = response.content.decode()
    assert f"{LIST}?status=dead&amp;error_group={publish['error_fingerprint']}" in body
    assert "Retry these" not in body  # viewers


def test_dead_letters_offer_retry_to_operators(client, operator, jobs):
    client.force_login(operator)
    body = client.get(DEAD).content.decode()
    assert "Retry these 2…" in body and f"{RETRY_ALL}?status=dead&amp;error_group=" in body


def test_dead_letters_empty_state(client, viewer, org):
    make_job(org, status=JobStatus.SUCCEEDED)
    client.force_login(viewer)
    assert "No dead letters — every job finished or will be retried." in client.get(DEAD).content.decode()


def test_outsider_sees_no_dead_letters_of_another_org(client, outsider, jobs):
    client.force_login(outsider)
    groups = client.get(DEAD).context["groups"]
    assert [g["sample"].pk for g in groups] == [jobs["foreign"].pk]
