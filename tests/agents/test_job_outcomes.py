"""Job outcomes that tell the truth, through the real runner, the WooCommerce emulator and the pages.

A sync with items the store refuses ends "Succeeded with N failed" (its own status, colour and KPI), lists
its failed items and retries just those in one click; a catalog file with a typo is "Input refused" (not a
dead letter, not retryable, not a failure on the dashboard) and says what to fix; a job waiting to retry
says when and shows what landed; job results read with their labels, never a raw value like "In_sync".
"""

import re
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone

from agents import runner
from agents.choices import AttemptOutcome, JobKind, JobStatus
from agents.live import render_job_fragments
from agents.models import Job, JobAttempt, SyncRun
from agents.services import enqueue
from approvals.models import AuditEntry
from dashboard.services import kpis
from products.importers import apply_catalog, parse_catalog
from products.models import Product
from products.services import start_import
from stores.emulators.faults import FaultPlan
from stores.emulators.woocommerce import start_emulator
from stores.models import Listing, Store

SAMPLE = Path(__file__).resolve().parents[3] / "shared" / "data" / "woocommerce" / "sample_products.csv"
#: The emulator, as WooCommerce, refuses an image of a file type it does not take (a spec sheet PDF).
REFUSED_IMAGE = "https://cdn.example.com/spec-sheet.pdf"
GOOD_IMAGE = "https://cdn.example.com/photo.jpg"
#: Simple products that no grouped product of the sample names, so only they fail.
BROKEN_SKUS = ("woo-belt", "woo-cap", "woo-sunglasses")
LIST = reverse("agents:job_list")


@pytest.fixture
def emulator():
    with start_emulator() as running:
        yield running


@pytest.fixture
def catalog(org):
    apply_catalog(org, parse_catalog("woocommerce", SAMPLE.read_text(encoding="utf-8-sig")))
    return Product.objects.filter(organization=org)


@pytest.fixture
def store(org, emulator):
    return Store.objects.create(organization=org, name="Emulated Woo", base_url=emulator.base_url,
                                consumer_key="ck_demo", consumer_secret="cs_demo")


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def row_of(html: str, job: Job) -> str:
    """The jobs table row of ``job`` (its HTML)."""
    match = re.search(rf'<tr[^>]*id="job-row-{job.pk}".*?</tr>', html, re.S)
    assert match, f"job #{job.pk} is not in the table"
    return match.group(0)


def store_skus(emulator) -> list[str]:
    return sorted(p["sku"] for p in emulator.products() if p.get("sku"))


def partial_sync(catalog, store, operator) -> tuple[Job, list[Product]]:
    """A full sync in which the store refuses the images of ``BROKEN_SKUS``."""
    broken = list(catalog.filter(sku__in=BROKEN_SKUS).order_by("pk"))
    assert len(broken) == 3
    catalog.filter(pk__in=[p.pk for p in broken]).update(images=[REFUSED_IMAGE])
    job = enqueue(store.organization, JobKind.STORE_PUBLISH, store=store, params={"strategy": "full"},
                  created_by=operator)
    assert runner.execute(job.pk) == "partial"
    job.refresh_from_db()
    return job, broken


# ---- a sync with refused items ------------------------------------------------------------------


def test_a_sync_with_refused_items_says_so_and_retries_just_those(client, operator, org, catalog, store, emulator):
    job, broken = partial_sync(catalog, store, operator)
    broken_ids = [p.pk for p in broken]

    # The job row: its own status, the counts, and which products failed with which error.
    assert job.status == JobStatus.PARTIAL and job.finished_at is not None
    assert job.result["failed"] == 3 and job.result["created"] == catalog.count() - 3
    assert sorted(job.result["failed_product_ids"]) == broken_ids
    assert {item["sku"] for item in job.result["failed_items"]} == set(BROKEN_SKUS)
    assert all("not allowed to upload this file type" in item["error"] for item in job.result["failed_items"])
    assert JobAttempt.objects.get(job=job).outcome == AttemptOutcome.PARTIAL
    run = SyncRun.objects.get(job=job)
    assert run.status == SyncRun.Status.PARTIAL and run.failed == 3
    # In the database and in the store.
    in_error = Listing.objects.filter(store=store, state="error").values_list("product_id", flat=True)
    assert set(in_error) == set(broken_ids)
    assert Listing.objects.filter(store=store, state="in_sync").count() == catalog.count() - 3
    in_store = store_skus(emulator)
    assert not set(BROKEN_SKUS) & set(in_store) and "woo-beanie" in in_store

    client.force_login(operator)
    # The job page: the badge in its own colour, the failed count, the failed items, the one-click retry.
    body = client.get(job.get_absolute_url()).content.decode()
    assert '<span class="badge text-bg-warning">Succeeded with 3 failed</span>' in body
    failed_table = body[body.index(f'id="failed-items-heading-{job.pk}"'):]
    failed_table = failed_table[:failed_table.index("</table>")]
    for product in broken:
        assert reverse("products:detail", args=[product.pk]) in failed_table and product.sku in failed_table
    assert failed_table.count("not allowed to upload this file type") == 3
    assert "Retry the 3 failed items" in body and "Retry this job" not in body
    assert 'aria-label="Failed items of job' in body and "3 failed" in text_of(body)
    # The jobs list, and its status filter.
    listing = client.get(LIST).content.decode()
    assert "Succeeded with 3 failed" in row_of(listing, job) and ">Succeeded<" not in row_of(listing, job)
    def listed(status):
        return {row.record.pk for row in client.get(LIST, {"status": status}).context["table"].paginated_rows}

    assert job.pk in listed("partial") and job.pk not in listed("succeeded")
    # The dashboard counts it apart, not as succeeded and not as failed.
    figures = kpis(org.pk)
    assert (figures["jobs_partial"], figures["jobs_failed"]) == (1, 0)
    dashboard = client.get(reverse("dashboard:index")).content.decode()
    assert 'data-kpi="jobs-partial">1<' in dashboard and 'data-kpi="jobs-failed">0<' in dashboard

    # The cause is fixed; "Retry the failed items" publishes just those products, audited.
    catalog.filter(pk__in=broken_ids).update(images=[GOOD_IMAGE], updated_at=timezone.now())
    response = client.post(reverse("agents:job_retry_failed", args=[job.pk]), follow=True)
    retry = Job.objects.exclude(pk=job.pk).get()
    assert response.redirect_chain[-1][0] == retry.get_absolute_url()
    assert f"job #{retry.pk} is queued" in response.content.decode()
    assert retry.kind == JobKind.STORE_PUBLISH and retry.store_id == store.pk and retry.created_by == operator
    assert sorted(retry.params["product_ids"]) == broken_ids
    assert retry.params["retry_of"] == job.pk and retry.params["trigger"] == "retry"
    entry = AuditEntry.objects.get(action="job_retried")
    assert entry.actor == operator and entry.details["new_job_id"] == retry.pk and entry.details["job_ids"] == [job.pk]
    # A second click while it waits gets the same job, not a second one.
    client.post(reverse("agents:job_retry_failed", args=[job.pk]))
    assert Job.objects.count() == 2 and AuditEntry.objects.filter(action="job_retried").count() == 1
    assert "Retries the failed items of" in client.get(retry.get_absolute_url()).content.decode()

    emulator.reset_log()
    assert runner.execute(retry.pk) == "succeeded"
    retry.refresh_from_db()
    assert retry.result["created"] == 3 and retry.result["failed"] == 0 and retry.result["considered"] == 3
    assert not Listing.objects.filter(store=store).exclude(state="in_sync").exists()
    skus = store_skus(emulator)
    assert set(BROKEN_SKUS) <= set(skus) and len(skus) == len(set(skus))  # created once each, no duplicate
    fixed = next(p for p in emulator.products() if p["sku"] == "woo-belt")
    assert fixed["images"] and fixed["images"][0]["src"].endswith(".jpg")
    assert "Succeeded with" not in client.get(retry.get_absolute_url()).content.decode()


def test_retry_the_failed_items_needs_an_operator(client, viewer, operator, catalog, store, emulator, outsider):
    job, _ = partial_sync(catalog, store, operator)
    url = reverse("agents:job_retry_failed", args=[job.pk])
    client.force_login(viewer)
    assert "Retry the 3 failed items" not in client.get(job.get_absolute_url()).content.decode()
    assert client.post(url).status_code == 403
    client.force_login(outsider)
    assert client.post(url).status_code == 404
    client.force_login(operator)
    assert client.get(url).status_code == 405
    assert Job.objects.count() == 1 and not AuditEntry.objects.exists()


def test_a_job_without_failed_items_offers_no_retry_of_them(client, operator, org):
    job = Job.objects.create(organization=org, kind=JobKind.STORE_PUBLISH, status=JobStatus.SUCCEEDED,
                             result={"created": 2, "failed": 0})
    client.force_login(operator)
    response = client.post(reverse("agents:job_retry_failed", args=[job.pk]), follow=True)
    assert "has no failed items to retry" in response.content.decode()
    assert Job.objects.count() == 1


def test_a_sync_waiting_to_retry_says_when_and_shows_what_landed(client, operator, org, catalog, store, emulator):
    emulator.set_faults(FaultPlan(error_rate=1.0))  # every call a 502/503: nothing lands, the job retries
    job = enqueue(org, JobKind.STORE_PUBLISH, store=store, params={"product_ids": [p.pk for p in catalog[:4]]})
    assert runner.execute(job.pk) == "retry"
    job.refresh_from_db()
    assert job.progress_done == job.progress_total == 4 and job.result["failed"] == 4  # the attempt's counts kept

    client.force_login(operator)
    row = row_of(client.get(LIST).content.decode(), job)
    assert re.search(r"Retry scheduled in \d+ s", row) and "Running" not in row
    assert 'aria-valuenow="0"' in row and "0/4" in text_of(row) and "4 failed" in text_of(row)
    body = client.get(job.get_absolute_url()).content.decode()
    summary = body[body.index(f'id="job-summary-{job.pk}"'):]
    assert re.search(r'text-bg-info"[^>]*>Retry scheduled in \d+ s<', summary)
    assert f'aria-label="Progress of job {job.pk}" aria-valuenow="0"' in summary
    assert "(of the last attempt)" in summary
    figures = kpis(org.pk)
    assert (figures["jobs_running"], figures["jobs_retrying"], figures["jobs_queued"]) == (0, 1, 0)
    assert "1 waiting to retry" in client.get(reverse("dashboard:index")).content.decode()


# ---- a catalog file with a typo -------------------------------------------------------------------


def test_a_csv_typo_is_refused_not_a_dead_letter(client, operator, org):
    text = SAMPLE.read_text("utf-8-sig").replace(',"Hoodie with Logo",', ',"",', 1)
    job = start_import(org, format="woocommerce", filename="typo.csv", text=text, user=operator)
    assert runner.execute(job.pk) == "refused"
    job.refresh_from_db()
    assert job.status == JobStatus.REFUSED and job.error_fingerprint == "" and not job.can_retry
    assert JobAttempt.objects.get(job=job).outcome == AttemptOutcome.REFUSED
    assert not Product.objects.exists()

    client.force_login(operator)
    body = client.get(job.get_absolute_url()).content.decode()
    assert "Input refused" in body and "Fix this problem in the file, then upload the corrected file." in body
    problems = body[body.index(f'aria-label="Problems to fix in the input of job {job.pk}"'):]
    problems = text_of(problems[:problems.index("</table>")])
    assert "4 Name" in problems
    assert f'href="{reverse("products:import")}"' in body and "Upload a corrected file" in body
    assert "Retry this job" not in body
    response = client.post(reverse("agents:job_retry", args=[job.pk]), follow=True)
    assert "only dead or cancelled jobs can be retried" in response.content.decode()
    assert Job.objects.get(pk=job.pk).status == JobStatus.REFUSED
    # Not a dead letter, not a failure of the system on the dashboard.
    assert client.get(reverse("agents:dead_letters")).context["groups"] == []
    figures = kpis(org.pk)
    assert (figures["jobs_failed"], figures["jobs_refused"]) == (0, 1)
    dashboard = client.get(reverse("dashboard:index")).content.decode()
    assert 'data-kpi="jobs-failed">0<' in dashboard and "Not counted: 1 input refused" in dashboard


# ---- dead letters update live ---------------------------------------------------------------------


def test_dead_letters_page_reloads_itself_when_a_job_dies(client, viewer, org, job_kind):
    from stores.plugins import Rejected

    def refuse(job):
        raise Rejected("price must be positive")

    kind = job_kind("test.dies", refuse)
    client.force_login(viewer)
    page = client.get(reverse("agents:dead_letters")).content.decode()
    assert "Reload" not in page
    assert 'hx-trigger="dead-letters-changed from:body' in page and "ws-connect=\"/ws/live/?regions=jobs\"" in page
    job = enqueue(org, kind)
    assert runner.execute(job.pk) == "dead"
    signals = [html for region, html in render_job_fragments(job.pk) if region == "jobs"]
    assert any('data-signal="dead-letters-changed"' in html for html in signals)
    # The reload asks for the groups only.
    groups = client.get(reverse("agents:dead_letters"), headers={"HX-Request": "true"}).content.decode()
    assert groups.lstrip().startswith("<div id=\"dead-letter-groups\"") and "price must be positive" in groups
    assert "<html" not in groups


def test_an_ordinary_job_does_not_reload_the_dead_letters(org, job_kind):
    job = enqueue(org, job_kind("test.fine", lambda job: {"done": 1}))
    runner.execute(job.pk)
    assert not any("dead-letters-changed" in html for _, html in render_job_fragments(job.pk))


# ---- results read with labels ---------------------------------------------------------------------


@pytest.mark.parametrize("result, shown, raw", [
    ({"in_sync": 1}, "Already in sync", "in_sync"),
    ({"health": "auth_failed", "latency": 0.02, "enabled": False}, "Credentials rejected", "auth_failed"),
])
def test_results_show_labels_not_raw_values(client, viewer, org, result, shown, raw):
    job = Job.objects.create(organization=org, kind=JobKind.STORE_PULL, status=JobStatus.SUCCEEDED, result=result)
    client.force_login(viewer)
    body = client.get(job.get_absolute_url()).content.decode()
    summary = body[body.index(f'id="job-summary-{job.pk}"'):]
    assert shown in summary and raw not in summary and "text-capitalize" not in summary


# ---- the data migration -------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_migration_turns_old_refused_dead_letters_into_refused_jobs(org):
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    executor.migrate([("agents", "0006_syncrun_fields")])
    old = executor.loader.project_state([("agents", "0006_syncrun_fields")]).apps
    OldJob, OldAttempt = old.get_model("agents", "Job"), old.get_model("agents", "JobAttempt")
    typo = OldJob.objects.create(organization_id=org.pk, kind="catalog.import", status="dead",
                                 error="Nothing was imported: 1 problem in the file.", error_class="JobInputError",
                                 error_fingerprint="0123456789abcdef")
    OldAttempt.objects.create(job=typo, number=1, started_at=timezone.now(), outcome="failed",
                              error_class="JobInputError")
    outage = OldJob.objects.create(organization_id=org.pk, kind="store.publish", status="dead", error="503",
                                   error_class="Transient", error_fingerprint="fedcba9876543210")
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    typo, outage = Job.objects.get(pk=typo.pk), Job.objects.get(pk=outage.pk)
    assert (typo.status, typo.error_fingerprint) == (JobStatus.REFUSED, "")
    assert JobAttempt.objects.get(job=typo).outcome == AttemptOutcome.REFUSED
    assert (outage.status, outage.error_fingerprint) == (JobStatus.DEAD, "fedcba9876543210")
