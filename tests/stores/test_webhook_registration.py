"""Webhook registration through the real pages and jobs, against both emulators over real HTTP: connecting a
store registers its product webhooks at our public URL, the health check re-creates what the store lost,
"Repair webhooks" fixes the rest, nothing is registered twice, and no secret goes into a URL or a log line."""

import logging

import httpx
import pytest
from django.urls import reverse
from oauthlib.oauth1 import SIGNATURE_TYPE_QUERY, Client

from agents import runner
from agents.services import enqueue
from flashfusion.models import Event
from stores.emulators.shopify import start_emulator as start_shopify
from stores.emulators.woocommerce import start_emulator as start_woo
from stores.models import HealthCheck, Store, WebhookDelivery, WebhookSubscription
from stores.webhook_registration import TOPICS, register
from stores.webhooks import webhook_token

WOO_TOPICS = set(TOPICS["woocommerce"])
SHOPIFY_TOPICS = set(TOPICS["shopify"])
APP_SECRET = "shpss_app-client-secret-0123456789"


@pytest.fixture
def woo():
    with start_woo() as running:
        yield running


@pytest.fixture
def shop():
    with start_shopify(webhook_secret=APP_SECRET) as running:
        yield running


@pytest.fixture
def public(settings, live_server):
    """The product's public URL is the live server's: the emulators deliver to it."""
    settings.PUBLIC_BASE_URL = live_server.url
    return live_server.url


def _connect(client, admin_user, **form):
    client.force_login(admin_user)
    data = {"name": "Main shop", "timeout": "10", **form}
    response = client.post(reverse("stores:connect"), data, follow=True)
    assert response.status_code == 200
    return Store.objects.get(name=data["name"]), response


def _woo_connect(client, admin_user, woo):
    return _connect(client, admin_user, platform="woocommerce", base_url=woo.base_url, consumer_key="ck_demo",
                    consumer_secret="cs_demo")


def _woo_rest(woo, method: str, path: str, **kwargs) -> httpx.Response:
    url, _h, _b = Client("ck_demo", client_secret="cs_demo", signature_type=SIGNATURE_TYPE_QUERY).sign(
        woo.api_url + path, http_method=method)
    return httpx.request(method, url, timeout=10, **kwargs)


def _ours(store) -> str:
    return f"/webhooks/in/{webhook_token(store)}/"


def _health_check(store) -> HealthCheck:
    job = enqueue(store.organization, "store.health_check", store=store)
    assert runner.execute(job.pk) == "succeeded"
    return HealthCheck.objects.filter(store=store).latest("checked_at")


# --------------------------------------------------------------------------- WooCommerce


def test_connecting_a_woocommerce_store_registers_its_webhooks_at_the_public_url(client, admin_user, woo, public,
                                                                                  caplog):
    caplog.set_level(logging.DEBUG)
    store, response = _woo_connect(client, admin_user, woo)
    address = public + _ours(store)
    hooks = woo.webhooks()
    assert {h["topic"] for h in hooks} == WOO_TOPICS and len(hooks) == 4
    assert {h["delivery_url"] for h in hooks} == {address} and {h["status"] for h in hooks} == {"active"}
    # the secret was generated for the store and given to WooCommerce, which signs with it
    assert store.webhook_secret and {h["secret"] for h in hooks} == {store.webhook_secret}
    assert set(store.webhook_subscriptions.values_list("topic", flat=True)) == WOO_TOPICS
    assert "4 webhooks deliver to" in response.content.decode()
    # WooCommerce pinged the live endpoint once per webhook, and it answered
    assert woo.flush_webhooks(10)
    assert [d["status"] for d in woo.webhook_deliveries if d["kind"] == "ping"] == [200] * 4
    # the store page shows what is registered
    page = client.get(store.get_absolute_url()).content.decode()
    assert "Repair webhooks" in page and all(topic in page for topic in WOO_TOPICS)
    # the secret is in no URL the emulator saw and in no log line
    assert all(store.webhook_secret not in path for _m, path in woo.request_log)
    assert store.webhook_secret not in address
    assert not [r for r in caplog.records if store.webhook_secret in r.getMessage()]


def test_a_shop_side_edit_reaches_the_ledger_through_the_registered_webhook(client, admin_user, woo, public):
    store, _ = _woo_connect(client, admin_user, woo)
    made = _woo_rest(woo, "POST", "products", json={"name": "Mug", "sku": "MUG-1", "regular_price": "9"})
    assert made.status_code == 201
    assert woo.flush_webhooks(10)
    delivery = WebhookDelivery.objects.get(store=store, topic="product.created")
    assert delivery.resource_id == str(made.json()["id"])


def test_registering_again_finds_ours_by_url_and_creates_nothing(client, admin_user, woo, public):
    store, _ = _woo_connect(client, admin_user, woo)
    first = sorted(h["id"] for h in woo.webhooks())
    outcome = register(store, address=public + _ours(store))
    assert outcome.ok and not outcome.created and sorted(outcome.kept) == sorted(WOO_TOPICS)
    assert sorted(h["id"] for h in woo.webhooks()) == first


def test_the_health_check_recreates_a_webhook_deleted_in_the_store(client, admin_user, woo, public):
    store, _ = _woo_connect(client, admin_user, woo)
    updated = next(h for h in woo.webhooks() if h["topic"] == "product.updated")
    assert _woo_rest(woo, "DELETE", f"webhooks/{updated['id']}?force=true").status_code == 200
    check = _health_check(store)
    assert check.ok and "re-created product.updated" in check.notes
    hooks = woo.webhooks()
    assert {h["topic"] for h in hooks} == WOO_TOPICS and len(hooks) == 4
    again = next(h for h in hooks if h["topic"] == "product.updated")
    assert again["delivery_url"] == public + _ours(store) and again["secret"] == store.webhook_secret
    assert WebhookSubscription.objects.get(store=store, topic="product.updated").external_id == str(again["id"])
    event = Event.objects.filter(topic="store.webhooks_registered").latest("id")
    assert "created product.updated" in event.message and event.payload["created"] == ["product.updated"]
    # nothing missing: the next check changes nothing and says nothing
    assert _health_check(store).notes == ""
    assert len(woo.webhooks()) == 4


def test_repair_reactivates_a_webhook_woocommerce_disabled_and_resends_the_secret(client, admin_user, woo, public):
    store, _ = _woo_connect(client, admin_user, woo)
    hook = next(h for h in woo.webhooks() if h["topic"] == "product.deleted")
    assert _woo_rest(woo, "PUT", f"webhooks/{hook['id']}", json={"status": "disabled", "secret": "stale-secret-xx"}
                     ).status_code == 200
    response = client.post(reverse("stores:repair_webhooks", args=[store.pk]), follow=True)
    assert "re-activated product.deleted" in response.content.decode()
    hooks = {h["topic"]: h for h in woo.webhooks()}
    assert hooks["product.deleted"]["status"] == "active"
    assert {h["secret"] for h in hooks.values()} == {store.webhook_secret}


def test_rotating_the_secret_gives_woocommerce_the_new_one(client, admin_user, woo, public):
    store, _ = _woo_connect(client, admin_user, woo)
    client.post(reverse("stores:rotate_webhook_secret", args=[store.pk]), {"new_secret": "a-brand-new-secret-123"})
    assert {h["secret"] for h in woo.webhooks()} == {"a-brand-new-secret-123"}


def test_disconnecting_removes_our_webhooks_from_the_store(client, admin_user, woo, public):
    store, _ = _woo_connect(client, admin_user, woo)
    assert len(woo.webhooks()) == 4
    response = client.post(reverse("stores:disconnect", args=[store.pk]), {"confirm_name": store.name}, follow=True)
    assert "its 4 webhooks were removed from the store" in response.content.decode()
    assert woo.webhooks() == [] and not Store.objects.exists()


def test_only_an_admin_repairs_webhooks(client, operator, admin_user, woo, public):
    store, _ = _woo_connect(client, admin_user, woo)
    client.force_login(operator)
    assert client.post(reverse("stores:repair_webhooks", args=[store.pk])).status_code == 403
    page = client.get(store.get_absolute_url()).content.decode()
    assert "Repair webhooks" not in page


def test_without_a_public_url_the_connect_request_host_is_used(client, admin_user, woo, settings):
    settings.PUBLIC_BASE_URL = ""
    store, _ = _woo_connect(client, admin_user, woo)
    assert {h["delivery_url"] for h in woo.webhooks()} == {"http://testserver" + _ours(store)}


# --------------------------------------------------------------------------- Shopify


def _shopify_connect(client, admin_user, shop):
    return _connect(client, admin_user, platform="shopify", base_url=shop.base_url, consumer_secret="shpat_demo")


def _subscriptions(shop) -> list[dict]:
    answer = httpx.post(shop.graphql_url, headers={"X-Shopify-Access-Token": "shpat_demo"}, json={
        "query": "{ webhookSubscriptions(first: 50) { nodes { id topic uri format } } }"}, timeout=10)
    return answer.json()["data"]["webhookSubscriptions"]["nodes"]


def test_a_shopify_store_without_the_app_secret_is_connected_and_told_how_to_register(client, admin_user, shop,
                                                                                       public):
    store, response = _shopify_connect(client, admin_user, shop)
    text = response.content.decode()
    assert f"Connected {store.name}" in text  # the connect stands
    assert "webhooks not registered" in text and "client secret" in text and "Repair webhooks" in text
    assert _subscriptions(shop) == [] and not store.webhook_subscriptions.exists()
    store.refresh_from_db()
    assert "client secret" in store.webhooks_error  # the store page says why
    assert "client secret" in client.get(store.get_absolute_url()).content.decode()


def test_shopify_webhooks_are_registered_with_graphql_once_the_app_secret_is_entered(client, admin_user, shop,
                                                                                      public):
    store, _ = _shopify_connect(client, admin_user, shop)
    response = client.post(reverse("stores:rotate_webhook_secret", args=[store.pk]), {"new_secret": APP_SECRET},
                           follow=True)
    assert "3 webhooks deliver to" in response.content.decode()
    address = public + _ours(store)
    nodes = _subscriptions(shop)
    assert {n["topic"] for n in nodes} == {"PRODUCTS_CREATE", "PRODUCTS_UPDATE", "PRODUCTS_DELETE"}
    assert {n["uri"] for n in nodes} == {address} and {n["format"] for n in nodes} == {"JSON"}
    assert set(store.webhook_subscriptions.values_list("topic", flat=True)) == SHOPIFY_TOPICS
    # the emulator signs with the app secret: an owner's edit is verified and lands in the ledger
    made = httpx.post(shop.api_url + "/products.json", headers={"X-Shopify-Access-Token": "shpat_demo"},
                      json={"product": {"title": "Belt"}}, timeout=10)
    assert made.status_code == 201, made.text
    created = made.json()["product"]
    shop.edit_product(created["id"], title="Belt (shop)")
    assert shop.flush_webhooks(10)
    assert [a.status for a in shop.webhook_log] == [200]
    assert WebhookDelivery.objects.get(store=store).topic == "products/update"


def test_the_health_check_recreates_a_shopify_subscription_deleted_in_the_shop(client, admin_user, shop, public):
    store, _ = _shopify_connect(client, admin_user, shop)
    client.post(reverse("stores:rotate_webhook_secret", args=[store.pk]), {"new_secret": APP_SECRET})
    gone = next(n for n in _subscriptions(shop) if n["topic"] == "PRODUCTS_DELETE")
    answer = httpx.post(shop.graphql_url, headers={"X-Shopify-Access-Token": "shpat_demo"}, json={
        "query": "mutation($id: ID!) { webhookSubscriptionDelete(id: $id) { deletedWebhookSubscriptionId } }",
        "variables": {"id": gone["id"]}}, timeout=10)
    assert answer.json()["data"]["webhookSubscriptionDelete"]["deletedWebhookSubscriptionId"] == gone["id"]
    check = _health_check(store)
    assert "re-created products/delete" in check.notes
    nodes = _subscriptions(shop)
    assert {n["topic"] for n in nodes} == {"PRODUCTS_CREATE", "PRODUCTS_UPDATE", "PRODUCTS_DELETE"}
    assert len(nodes) == 3 and {n["uri"] for n in nodes} == {public + _ours(store)}
