"""Page load budget in a real browser: chart pages draw with plotly's basic bundle, other pages load no plotly,
and the store page's listings arrive as a paged, filterable table."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from agents.models import Job
from flashfusion.choices import Role
from stores.models import HealthCheck, Listing, Store
from tests.browser.conftest import login
from tests.conftest import PASSWORD
from tests.factories import MembershipFactory, ProductFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _organization_with_data():
    membership = MembershipFactory(role=Role.VIEWER, user__username="load-viewer")
    org = membership.organization
    now = timezone.now()
    # Checked just now: the plugin manager queues no health check of its own while the test runs.
    store = Store.objects.create(organization=org, name="Northwind Outlet", base_url="http://127.0.0.1:9",
                                 consumer_key="ck_x", consumer_secret="cs_x", health_checked_at=now)
    for minutes in (120, 90, 60, 30):
        check = HealthCheck.objects.create(store=store, ok=minutes != 60, health="healthy" if minutes != 60 else "failing",
                                           latency=0.05 if minutes != 60 else None, error="" if minutes != 60 else "refused")
        HealthCheck.objects.filter(pk=check.pk).update(checked_at=now - timedelta(minutes=minutes))
    for n in range(60):
        Listing.objects.create(organization=org, store=store, state="in_sync", external_id=f"ext-{n}",
                               product=ProductFactory(organization=org, title=f"Trail product {n:03d}"))
    for minutes in (50, 40, 30):
        Job.objects.create(organization=org, kind="store.publish", store=store, status="succeeded", attempts=1,
                           started_at=now - timedelta(minutes=minutes, seconds=20), finished_at=now - timedelta(minutes=minutes))
    # Queued for tomorrow: the workers leave it in the queue.
    Job.objects.create(organization=org, kind="store.pull", store=store, status="queued", run_after=now + timedelta(days=1))
    return membership.user, store


def test_chart_pages_draw_with_the_basic_bundle_and_other_pages_load_none(live_stack, page):
    user, store = _organization_with_data()
    scripts, errors = [], []
    page.on("request", lambda request: scripts.append(request.url) if request.resource_type == "script" else None)
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    login(page, live_stack.url, user.username, PASSWORD)

    scripts.clear()
    page.goto(f"{live_stack.url}/jobs/")
    expect(page.locator("tr[id^=job-row-]").first).to_be_visible()
    page.goto(f"{live_stack.url}/")
    expect(page.get_by_role("heading", level=1, name="Dashboard")).to_be_visible()
    page.wait_for_load_state("networkidle")
    assert [url for url in scripts if "plotly" in url or "charts.js" in url] == []

    page.goto(f"{live_stack.url}/stores/{store.pk}/")
    expect(page.locator("#latency-chart .main-svg").first).to_be_attached()
    page.goto(f"{live_stack.url}/jobs/metrics/")
    for chart in ("throughput", "duration", "rates", "queue"):
        expect(page.locator(f"#{chart}-chart .main-svg").first).to_be_attached()
    plotly = {url.rsplit("/", 1)[-1] for url in scripts if "plotly" in url}
    assert plotly == {"plotly-basic.min.js"}
    assert errors == []


def test_store_page_listings_are_paged_and_filtered_in_place(live_stack, page):
    user, store = _organization_with_data()
    errors = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    login(page, live_stack.url, user.username, PASSWORD)
    page.goto(f"{live_stack.url}/stores/{store.pk}/")
    panel = page.locator("#listings-panel")
    listing_rows = panel.locator("tr[id^=listing-row-]")
    expect(listing_rows).to_have_count(50)
    expect(listing_rows.first).to_contain_text("Trail product 000")

    panel.get_by_role("link", name=re.compile("next")).click()
    expect(listing_rows).to_have_count(10)
    expect(listing_rows.first).to_contain_text("Trail product 050")
    assert page.url == f"{live_stack.url}/stores/{store.pk}/"  # paged in place, the address bar unchanged

    panel.get_by_label("Search").fill("product 007")
    expect(listing_rows).to_have_count(1)
    expect(listing_rows.first).to_contain_text("Trail product 007")
    panel.get_by_role("columnheader").get_by_role("link", name="Product").click()  # sorting stays in the card too
    expect(listing_rows).to_have_count(1)
    assert page.url == f"{live_stack.url}/stores/{store.pk}/"
    assert errors == []
