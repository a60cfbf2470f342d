"""An operator pushes prices and stock alone: "Prices and stock" on the store page, the job finishing live,
the history naming the fields, and the store holding the new price but not the catalog's new title."""

import time
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from agents.services import enqueue
from flashfusion.choices import Role
from products.models import Product, Variant
from stores.models import Store
from tests.browser.conftest import login
from tests.conftest import PASSWORD
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_prices_and_stock_button_writes_only_those(live_stack, page):
    operator = MembershipFactory(role=Role.OPERATOR, user__username="fields-operator").user
    org = operator.memberships.get().organization
    store = Store.objects.create(organization=org, name="Emulated Woo", base_url=live_stack.emulator.base_url,
                                 consumer_key="ck_demo", consumer_secret="cs_demo")
    lamp = Product.objects.create(organization=org, title="Head Lamp", handle="head-lamp", sku="LAMP")
    Variant.objects.create(organization=org, product=lamp, sku="LAMP", price=Decimal("30.00"), stock=4, position=0)
    job = enqueue(org, "store.publish", store=store)  # the live workers run it
    for _ in range(120):
        job.refresh_from_db()
        if job.status in ("succeeded", "dead"):
            break
        time.sleep(0.25)
    assert job.status == "succeeded", job.error
    # a catalog edit of the title and the price, written straight to the rows (no automatic sync queued)
    Product.objects.filter(pk=lamp.pk).update(title="Head Lamp Pro")
    Variant.objects.filter(product=lamp).update(price=Decimal("27.50"))

    login(page, live_stack.url, operator.username, PASSWORD)
    page.goto(f"{live_stack.url}/stores/{store.pk}/")
    page.get_by_role("group", name="Sync now").get_by_role("button", name="Prices and stock").click()
    expect(page.locator("[id^=job-status-]").get_by_text("Succeeded")).to_be_visible(timeout=30_000)

    page.goto(f"{live_stack.url}/stores/{store.pk}/")
    history = page.get_by_role("region", name="Sync history")
    expect(history.get_by_text("price and stock only")).to_be_visible()
    remote = next(p for p in live_stack.emulator.products() if p["sku"] == "LAMP")
    assert remote["regular_price"] == "27.50" and remote["name"] == "Head Lamp"
