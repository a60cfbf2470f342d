"""Webhooks as an admin meets them: connecting registers them, the store page shows them, "Repair webhooks" puts
back one deleted in the store, and the ledger is one click away in the navigation."""

import httpx
import pytest
from oauthlib.oauth1 import SIGNATURE_TYPE_QUERY, Client
from playwright.sync_api import expect

from flashfusion.choices import Role
from tests.browser.conftest import login
from tests.conftest import PASSWORD
from tests.factories import MembershipFactory, OrganizationFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
TOPICS = ("product.created", "product.updated", "product.deleted", "product.restored")


def _woo(emulator, method: str, path: str) -> httpx.Response:
    url, _h, _b = Client("ck_demo", client_secret="cs_demo", signature_type=SIGNATURE_TYPE_QUERY).sign(
        emulator.api_url + path, http_method=method)
    return httpx.request(method, url, timeout=10)


def test_connect_registers_webhooks_and_repair_puts_back_a_deleted_one(live_stack, page):
    org = OrganizationFactory(name="Hook Goods", slug="hooks")
    admin = MembershipFactory(organization=org, role=Role.ADMIN, user__username="hana").user
    emulator = live_stack.emulator
    login(page, live_stack.url, admin.username, PASSWORD)

    nav = page.get_by_role("navigation", name="Main navigation")
    nav.get_by_role("link", name="Stores", exact=True).click()
    page.get_by_role("link", name="Connect a store").click()
    with page.expect_response(lambda r: "/stores/connect/" in r.url and r.request.method == "GET"):
        page.get_by_label("Platform").select_option("woocommerce")
    page.get_by_label("Name").fill("Hooked Woo")
    page.get_by_label("Store URL").fill(emulator.base_url)
    page.get_by_label("Consumer key").fill("ck_demo")
    page.get_by_label("Consumer secret").fill("cs_demo")
    page.get_by_role("button", name="Test and connect").click()
    expect(page.get_by_role("heading", name="Hooked Woo")).to_be_visible()
    expect(page.get_by_text("4 webhooks deliver to")).to_be_visible()

    registered = page.get_by_role("list", name="Webhooks registered in Hooked Woo")
    for topic in TOPICS:
        expect(registered.get_by_text(topic, exact=True)).to_be_visible()
    hooks = emulator.webhooks()
    assert {h["topic"] for h in hooks} == set(TOPICS)
    assert all(h["delivery_url"].startswith(live_stack.url + "/webhooks/in/") for h in hooks)
    assert emulator.flush_webhooks(10)
    assert [d["status"] for d in emulator.webhook_deliveries if d["kind"] == "ping"] == [200] * 4

    # Someone deletes one in the shop; the admin repairs from the store page.
    gone = next(h for h in hooks if h["topic"] == "product.updated")
    assert _woo(emulator, "DELETE", f"webhooks/{gone['id']}?force=true").status_code == 200
    page.get_by_role("button", name="Repair webhooks").click()
    expect(page.get_by_text("created product.updated")).to_be_visible()
    assert sorted(h["topic"] for h in emulator.webhooks()) == sorted(TOPICS)

    # The ledger is in the navigation, marked as the current page there.
    nav.get_by_role("link", name="Webhooks", exact=True).click()
    expect(page.get_by_role("heading", name="Webhooks", exact=True)).to_be_visible()
    expect(nav.get_by_role("link", name="Webhooks", exact=True)).to_have_attribute("aria-current", "page")
