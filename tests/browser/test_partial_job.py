"""A sync in which the store refused some products, as an operator meets it: the job page says "Succeeded
with 3 failed", lists which products failed and why, and "Retry the 3 failed items" publishes just those."""

import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from agents.choices import FINISHED
from agents.models import Job
from agents.services import enqueue
from flashfusion.choices import Role
from products.importers import apply_catalog, parse_catalog
from products.models import Product
from stores.models import Listing, Store
from tests.browser.conftest import login
from tests.conftest import PASSWORD
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db(transaction=True)

SAMPLE = Path(__file__).resolve().parents[3] / "shared" / "data" / "woocommerce" / "sample_products.csv"
#: Where the lead's closing note takes its screenshot from.
SCREENSHOT = Path("/work/notes/screens/partial-job.png")
BROKEN = {"woo-belt": "Belt", "woo-cap": "Cap", "woo-sunglasses": "Sunglasses"}


def wait_finished(job: Job, seconds: float = 60) -> Job:
    """Wait for the live workers to finish ``job``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.status in FINISHED:
            return job
        time.sleep(0.25)
    raise AssertionError(f"job #{job.pk} still {job.status} after {seconds} s")


def test_job_page_of_a_partly_failed_sync(live_stack, page):
    operator = MembershipFactory(role=Role.OPERATOR, user__username="partial-operator").user
    org = operator.memberships.get().organization
    apply_catalog(org, parse_catalog("woocommerce", SAMPLE.read_text(encoding="utf-8-sig")))
    # The store takes no PDF as a product image: these three are refused, the rest lands.
    Product.objects.filter(organization=org, sku__in=BROKEN).update(images=["https://cdn.example.com/spec-sheet.pdf"])
    store = Store.objects.create(organization=org, name="Emulated Woo", base_url=live_stack.emulator.base_url,
                                 consumer_key="ck_demo", consumer_secret="cs_demo")
    job = wait_finished(enqueue(org, "store.publish", store=store, params={"strategy": "full"}, created_by=operator))
    assert job.status == "partial", job.error

    login(page, live_stack.url, operator.username, PASSWORD)
    page.goto(f"{live_stack.url}/jobs/{job.pk}/")
    expect(page.get_by_role("heading", name=f"Full sync of Emulated Woo job #{job.pk}")).to_be_visible()
    expect(page.locator(f"#job-status-{job.pk}").get_by_text("Succeeded with 3 failed", exact=True)).to_be_visible()
    failed = page.get_by_role("table", name="Failed items")
    expect(failed.get_by_role("row")).to_have_count(1 + len(BROKEN))  # the header and one row per product
    for sku, title in BROKEN.items():
        row = failed.get_by_role("row").filter(has_text=sku)
        expect(row.get_by_role("link", name=title, exact=True)).to_be_visible()
        expect(row.get_by_role("cell", name="not allowed to upload this file type")).to_be_visible()
    retry = page.get_by_role("button", name="Retry the 3 failed items")
    expect(retry).to_be_visible()
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)

    # Fix the cause, retry just those three, and watch the new job succeed on its page.
    Product.objects.filter(organization=org, sku__in=BROKEN).update(images=["https://cdn.example.com/photo.jpg"])
    retry.click()
    title = f"Retry 3 products that failed in job #{job.pk} · Emulated Woo"
    expect(page.get_by_role("heading", name=title)).to_be_visible()
    expect(page.locator("[id^=job-status-]").get_by_text("Succeeded", exact=True)).to_be_visible(timeout=30_000)
    assert not Listing.objects.filter(store=store).exclude(state="in_sync").exists()
    assert set(BROKEN) <= {p["sku"] for p in live_stack.emulator.products()}
