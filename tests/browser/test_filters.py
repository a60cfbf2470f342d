"""A list's filter error as an operator meets it in chromium: typed in, it shows under the field without a reload,
and goes when corrected (the filter form swaps the table and takes the error boxes from the answer)."""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from flashfusion.choices import Role
from tests.browser.conftest import login
from tests.conftest import PASSWORD
from tests.factories import MembershipFactory, ProductFactory, VariantFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_reversed_price_range_says_so_under_the_field(live_stack, page):
    operator = MembershipFactory(role=Role.OPERATOR, user__username="filter-operator").user
    org = operator.memberships.get().organization
    for title, price in (("Alpine Tent", "120.00"), ("Camp Mug", "12.00"), ("Head Lamp", "30.00")):
        VariantFactory(product=ProductFactory(organization=org, title=title), price=Decimal(price))

    login(page, live_stack.url, operator.username, PASSWORD)
    page.goto(f"{live_stack.url}/products/")
    table = page.locator("#object-table")
    expect(table.get_by_text("Camp Mug")).to_be_visible()

    page.get_by_label("Price from").fill("50")
    page.get_by_label("Price to").fill("20")
    error = page.locator("#filter-error-price_min")
    expect(error).to_have_text(re.compile("The minimum price is above the maximum"))
    expect(table.get_by_text("A filter above has an error")).to_be_visible()
    expect(page).to_have_url(re.compile(r"price_min=50"))

    page.get_by_label("Price to").fill("150")
    expect(error).to_have_text("")
    expect(table.get_by_text("Alpine Tent")).to_be_visible()
    expect(table.get_by_text("Camp Mug")).to_have_count(0)
