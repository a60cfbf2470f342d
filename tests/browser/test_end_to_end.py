"""The whole path as a person walks it: import, connect, publish live, ask to delete, approve."""

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from flashfusion.choices import Role
from products.models import Product
from tests.browser.conftest import login
from tests.conftest import PASSWORD
from tests.factories import MembershipFactory, OrganizationFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SAMPLE_CSV = Path(__file__).resolve().parents[3] / "shared" / "data" / "woocommerce" / "sample_products.csv"


def _nav(page, name: str):
    """A link of the main navigation (breadcrumbs repeat some names)."""
    return page.get_by_role("navigation", name="Main navigation").get_by_role("link", name=name, exact=True)


def _mark_page(page):
    """Tag the current document; the tag survives only if the page is never reloaded."""
    page.evaluate("window.__notReloaded = true")


def _still_same_page(page) -> bool:
    return page.evaluate("window.__notReloaded === true")


def test_import_publish_delete_with_approval(live_stack, page):
    org = OrganizationFactory(name="Walkthrough Goods", slug="walk")
    admin = MembershipFactory(organization=org, role=Role.ADMIN, user__username="ada").user
    manager = MembershipFactory(organization=org, role=Role.MANAGER, user__username="max").user

    login(page, live_stack.url, admin.username, PASSWORD)
    expect(page.locator("#live-status")).to_contain_text("Live")

    # Import the real WooCommerce sample file and watch its job finish in place.
    _nav(page, "Products").click()
    page.get_by_role("link", name="Import catalog").click()
    page.get_by_label("Catalog file (CSV)").set_input_files(str(SAMPLE_CSV))
    page.get_by_role("button", name="Upload and preview").click()
    expect(page.get_by_role("heading", name="sample_products.csv")).to_be_visible()
    _mark_page(page)
    # The preview fills in by itself when the plan job ends; nothing is written until Apply.
    expect(page.get_by_role("status", name="Import status: Ready to apply")).to_be_visible(timeout=20_000)
    assert _still_same_page(page)
    expect(page.locator('[data-count="create"]')).to_have_text("18")
    assert not Product.objects.filter(organization=org).exists()
    with page.expect_navigation():
        page.get_by_role("button", name="Apply this plan").click()
    _mark_page(page)
    expect(page.get_by_role("status", name="Import status: Applied")).to_be_visible(timeout=20_000)
    assert _still_same_page(page)
    expect(page.get_by_text("18 created")).to_be_visible()
    assert Product.objects.filter(organization=org).count() == 18

    # Connect the emulator as a store: a wrong secret is refused next to the field.
    _nav(page, "Stores").click()
    page.get_by_role("link", name="Connect a store").click()
    # Choosing the platform redraws its credential fields: choose first, wait for the redraw, then type.
    with page.expect_response(lambda r: "/stores/connect/" in r.url and r.request.method == "GET"):
        page.get_by_label("Platform").select_option("woocommerce")
    page.get_by_label("Name").fill("Emulated Woo")
    page.get_by_label("Store URL").fill(live_stack.emulator.base_url)
    page.get_by_label("Consumer key").fill("ck_demo")
    page.get_by_label("Consumer secret").fill("not-the-secret")
    page.get_by_role("button", name="Test and connect").click()
    expect(page.get_by_text("The store refused these keys")).to_be_visible()
    page.get_by_label("Consumer secret").fill("cs_demo")
    page.get_by_role("button", name="Test and connect").click()
    expect(page.get_by_role("heading", name="Emulated Woo")).to_be_visible()

    # Publish and watch the job go from queued to succeeded without a reload.
    page.get_by_role("button", name="Full sync").click()
    # A whole-catalog publish shows what it will write first, and queues nothing until confirmed.
    expect(page.get_by_role("heading", name="Full sync of Emulated Woo?")).to_be_visible()
    expect(page.get_by_role("table", name="What the sync will do")).to_contain_text("Created in the store")
    page.get_by_role("button", name="Sync 18 products").click()
    expect(page.get_by_role("heading", name=re.compile(r"^Full sync of Emulated Woo job #\d+$"))).to_be_visible()
    _mark_page(page)
    expect(page.locator("[id^=job-status-]").get_by_text("Succeeded")).to_be_visible(timeout=30_000)
    assert _still_same_page(page)
    assert len(live_stack.emulator.products()) == 18

    # The jobs page shows both finished jobs; the dashboard counts the products.
    _nav(page, "Jobs").click()
    expect(page.locator("#object-table tbody tr")).to_have_count(3)  # the import's plan and apply steps, the sync

    # Ask to delete a product: it waits for review.
    _nav(page, "Products").click()
    page.get_by_label("Search").fill("Beanie")
    page.get_by_role("link", name="Beanie", exact=True).click()
    page.get_by_role("button", name="Delete product").click()
    expect(page.get_by_text("Waiting for review")).to_be_visible()
    expect(page.get_by_role("button", name="Approve")).to_be_disabled()  # no self-approval
    assert any(p["sku"] == "woo-beanie" for p in live_stack.emulator.products())

    # The manager approves in the diff view; the product leaves the store.
    page.get_by_role("button", name="Log out").click()
    login(page, live_stack.url, manager.username, PASSWORD)
    expect(page.get_by_label("Approvals waiting: 1")).to_be_visible()
    _nav(page, "Approvals").click()
    page.get_by_role("row", name="Beanie").get_by_role("link").click()
    expect(page.get_by_role("table", name="Diff of the requested change")).to_contain_text("woo-beanie")
    page.get_by_label("Comment").fill("Discontinued line")
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_text("Approved and applied")).to_be_visible()

    _nav(page, "Dashboard").click()
    _mark_page(page)
    expect(page.get_by_label("Products: 17")).to_be_visible()
    expect(page.locator("#activity-feed")).to_contain_text("Beanie removed from Emulated Woo", timeout=30_000)
    assert _still_same_page(page)
    assert not any(p["sku"] == "woo-beanie" for p in live_stack.emulator.products())
    page.screenshot(path=str(Path(__file__).resolve().parents[2] / "test-results" / "end-to-end-dashboard.png"))
