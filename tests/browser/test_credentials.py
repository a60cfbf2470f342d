"""Credentials never leave the POST body: switching the platform on Connect, a failed connect, a connect and a
secret rotation leave no key, secret or token in any URL the browser asked for, in the web server's and the
workers' logs, in a page, an event, an audit entry, a job or a health check."""

import json

import pytest
from playwright.sync_api import expect

from agents.models import Job
from approvals.models import AuditEntry
from flashfusion.choices import Role
from flashfusion.models import Event
from stores.emulators.woocommerce import start_emulator
from stores.models import HealthCheck, Store
from tests.browser.conftest import login
from tests.conftest import PASSWORD
from tests.factories import MembershipFactory, OrganizationFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

KEY = "ck_7f3e9a1c5b2d4e6f8a0b1c2d3e4f5a6b"
SECRET = "cs_2b4d6f8a0c1e3a5c7e9b1d3f5a7c9e1b"
WRONG = "cs_wrong_5e7a9c1b3d5f7a9c1e3b5d7f9a1c"
WEBHOOK_SECRET = "whsec_typed_4c6e8a0b2d4f6a8c0e2b4d6f"


@pytest.fixture
def shop():
    with start_emulator(consumer_key=KEY, consumer_secret=SECRET) as running:
        yield running


def test_credentials_stay_in_the_post_body(live_stack, page, shop):
    org = OrganizationFactory(name="Secret Goods", slug="secret")
    admin = MembershipFactory(organization=org, role=Role.ADMIN, user__username="ada").user
    urls: list[str] = []
    page.on("request", lambda request: urls.append(request.url))
    login(page, live_stack.url, admin.username, PASSWORD)

    page.goto(f"{live_stack.url}/stores/connect/")
    page.get_by_label("Name").fill("Secret Woo")
    page.get_by_label("Store URL").fill(shop.base_url)
    page.get_by_label("Consumer key").fill(KEY)
    page.get_by_label("Consumer secret").fill(WRONG)
    # Switch to Shopify and back: each redraw asks for the platform alone, and the typed secret stays.
    for platform, secret_label in (("shopify", "Admin API access token"), ("woocommerce", "Consumer secret")):
        with page.expect_response(lambda r: "/stores/connect/" in r.url and r.request.method == "GET"):
            page.get_by_label("Platform").select_option(platform)
        expect(page.get_by_label(secret_label)).to_have_value(WRONG)
    expect(page.get_by_label("Consumer key")).to_have_value("")  # the key field is new: Shopify had none
    page.get_by_label("Consumer key").fill(KEY)

    page.get_by_role("button", name="Test and connect").click()
    expect(page.get_by_text("The store refused these keys")).to_be_visible()
    failed_page = page.content()
    assert not Store.objects.exists()

    page.get_by_label("Consumer key").fill(KEY)
    page.get_by_label("Consumer secret").fill(SECRET)
    page.get_by_role("button", name="Test and connect").click()
    expect(page.get_by_role("heading", name="Secret Woo")).to_be_visible()
    store = Store.objects.get()
    assert (store.consumer_key, store.consumer_secret) == (KEY, SECRET)  # saved, encrypted at rest
    store_page = page.content()

    # Connecting registered our webhooks in the shop, signed with a secret generated for it.
    generated = store.webhook_secret
    assert len(generated) >= 32

    page.goto(f"{live_stack.url}/stores/{store.pk}/edit/")
    page.get_by_label("New webhook secret").fill(WEBHOOK_SECRET)
    page.get_by_role("button", name="Rotate secret").click()
    expect(page.get_by_text("New webhook secret saved")).to_be_visible()
    store.refresh_from_db()
    assert store.webhook_secret == WEBHOOK_SECRET
    # The one place a secret is drawn: the admin's own "Show the current secret" disclosure, to paste into the
    # store's webhook settings by hand. Anywhere else on the page it would be a leak.
    reveal = page.locator("#current-webhook-secret")
    expect(reveal).to_have_value(WEBHOOK_SECRET)
    edit_page = page.content().replace(f'value="{WEBHOOK_SECRET}"', 'value="(the disclosed secret)"', 1)

    assert [u for u in urls if "/stores/connect/?" in u] == [f"{live_stack.url}/stores/connect/?platform=shopify",
                                                           f"{live_stack.url}/stores/connect/?platform=woocommerce"]
    places = {
        "a URL the browser asked for": "\n".join(urls),
        "the web server's and workers' logs": live_stack.logs(),
        "a page": store_page + edit_page,  # the edit page shows the saved key's last characters only
        "an event": json.dumps([[e.topic, e.message, e.payload] for e in Event.objects.all()]),
        "an audit entry": json.dumps([[a.message, a.details] for a in AuditEntry.objects.all()]),
        "a job": json.dumps([[j.summary, j.params, j.result, j.log, j.error] for j in Job.objects.all()]),
        "a health check": json.dumps([h.error for h in HealthCheck.objects.all()]),
    }
    for where, text in places.items():
        for name, value in (("consumer key", KEY), ("consumer secret", SECRET), ("wrong secret", WRONG),
                            ("webhook secret", WEBHOOK_SECRET), ("generated webhook secret", generated)):
            assert value not in text, f"the {name} is in {where}"
    assert "csrfmiddlewaretoken" not in places["a URL the browser asked for"]
    # The refused connect gives the typed key back to its typist (it is no secret: OAuth 1.0a sends it in the
    # clear), never a secret.
    assert WRONG not in failed_page and SECRET not in failed_page
