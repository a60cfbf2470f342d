"""The publishing matrix as an operator meets a product a store cannot take: WooCommerce's sample catalog, a Shopify
store and a WooCommerce store; the grouped product's Shopify cell is refused, by its accessible name and description."""

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from flashfusion.choices import Role
from products.importers import apply_catalog, parse_catalog
from stores.models import Store
from tests.browser.conftest import login
from tests.conftest import PASSWORD
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db(transaction=True)

SAMPLE = Path(__file__).resolve().parents[3] / "shared" / "data" / "woocommerce" / "sample_products.csv"
#: Where the lead's closing note takes its picture of the matrix refusing a grouped product for Shopify.
SCREENSHOT = Path("/work/notes/screens/matrix-refused.png")


def test_the_grouped_products_shopify_cell_is_refused_with_the_reason(live_stack, page):
    operator = MembershipFactory(role=Role.OPERATOR, user__username="matrix-operator").user
    org = operator.memberships.get().organization
    apply_catalog(org, parse_catalog("woocommerce", SAMPLE.read_text(encoding="utf-8-sig")))
    # The Shopify store is never called: the matrix decides what it cannot take offline.
    Store.objects.create(organization=org, name="Shopify shop", platform="shopify", base_url="http://127.0.0.1:9",
                         consumer_secret="shpat_unused")
    Store.objects.create(organization=org, name="Woo shop", base_url=live_stack.emulator.base_url,
                         consumer_key="ck_demo", consumer_secret="cs_demo")

    login(page, live_stack.url, operator.username, PASSWORD)
    page.goto(f"{live_stack.url}/products/matrix/")
    refused = page.get_by_role("checkbox", name="Logo Collection in Shopify shop")
    expect(refused).to_be_disabled()
    expect(refused).to_have_accessible_description(re.compile("Shopify has no grouped products"))
    expect(page.get_by_role("checkbox", name="Logo Collection in Woo shop")).to_be_enabled()
    vneck = page.get_by_role("checkbox", name="V-Neck T-Shirt in Shopify shop")
    expect(vneck).to_be_disabled()
    expect(vneck).to_have_accessible_description(re.compile("have no Size"))
    expect(page.get_by_role("checkbox", name="Hoodie in Shopify shop")).to_be_enabled()

    # The store column's box ticks what the store can take, never a refused cell.
    page.get_by_role("checkbox", name="Select every product on this page for Shopify shop").check()
    expect(refused).not_to_be_checked()
    expect(page.get_by_role("checkbox", name="Hoodie in Shopify shop")).to_be_checked()

    row = page.locator("tr", has=page.get_by_role("link", name="Logo Collection", exact=True))
    row.scroll_into_view_if_needed()
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)

    # Refused cells are not posted: the confirmation counts only what Shopify can take (18 products, 2 refused).
    page.get_by_role("button", name="Publish selected", exact=True).click()
    expect(page.get_by_role("heading", name="Publish 16 listings?")).to_be_visible()
    expect(page.get_by_role("table", name="Listings per store")).to_contain_text("Shopify shop")
