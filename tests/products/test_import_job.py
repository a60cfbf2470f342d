"""The import job: a bad file fails it with a message for the operator and writes nothing."""

from pathlib import Path

from agents import runner
from products.models import CatalogImport, Product
from products.services import start_import

SAMPLE = Path(__file__).resolve().parents[3] / "shared" / "data" / "woocommerce" / "sample_products.csv"


def test_good_file_imports_with_progress(org, operator):
    job = start_import(org, format="woocommerce", filename="sample.csv", text=SAMPLE.read_text("utf-8-sig"), user=operator)
    assert runner.execute(job.pk) == "succeeded"
    job.refresh_from_db()
    assert job.progress_done == job.progress_total == 18
    assert Product.objects.filter(organization=org).count() == 18


def test_bad_row_refuses_the_job_with_a_plain_message(org, operator):
    text = SAMPLE.read_text("utf-8-sig").replace(',"Hoodie with Logo",', ',"",', 1)
    job = start_import(org, format="woocommerce", filename="bad.csv", text=text, user=operator)
    assert runner.execute(job.pk) == "refused"  # the operator's file, not a dead letter of the system
    job.refresh_from_db()
    assert job.error.startswith("Nothing was imported: 1 problem in the file. row 4, column “Name”")
    assert "ImportFailed" not in job.error
    assert job.error_fingerprint == "" and not job.can_retry
    assert job.result["input_error_count"] == 1
    assert job.result["input_errors"][0]["row"] == 4 and job.result["input_errors"][0]["column"] == "Name"
    assert not Product.objects.exists()
    assert CatalogImport.objects.get().summary["errors"][0]["row"] == 4
