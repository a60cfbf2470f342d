"""Store pages: list columns, connect by platform, the store page (chart, history, errors), edit, rotate, disconnect."""

import re
import sys
import time
from datetime import timedelta
from types import ModuleType

import pytest
from django.urls import reverse
from django.utils import timezone

from agents.models import Job
from flashfusion.models import Event
from stores.emulators.woocommerce import start_emulator
from stores.models import HealthCheck, Listing, RateLimitBucket, Store
from tests.factories import ProductFactory, VariantFactory


@pytest.fixture
def emulator():
    with start_emulator() as running:
        yield running


@pytest.fixture
def store(org):
    return Store.objects.create(
        organization=org, name="Northwind Outlet", base_url="http://127.0.0.1:9", consumer_key="ck_x", consumer_secret="cs_x"
    )


@pytest.fixture
def live_store(org, emulator):
    """A store whose saved credentials work against the emulator."""
    return Store.objects.create(
        organization=org, name="Main shop", base_url=emulator.base_url, consumer_key="ck_demo", consumer_secret="cs_demo"
    )


def _edit_data(store, **overrides):
    data = {
        "name": store.name,
        "base_url": store.base_url,
        "consumer_key": store.consumer_key,
        "consumer_secret": "",
        "rate_plan": store.rate_plan,
        "timeout": str(store.timeout),
        "is_enabled": "on" if store.is_enabled else "",
        "auto_sync": "on" if store.auto_sync else "",
        "sync_interval": str(store.sync_interval),
        "sync_strategy": store.sync_strategy,
        "sync_scope": store.sync_scope,
        "conflict_resolution": store.conflict_resolution,
        "batch_size": str(store.batch_size),
        "stock_rule": store.stock_rule,
        "stock_buffer": str(store.stock_buffer),
        "stock_percent": str(store.stock_percent),
        "health_check_interval": str(store.health_check_interval),
        "disable_on_auth_failure": "",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v != "" or k in ("consumer_secret", "rate_plan")}


def _api_calls(emulator):
    return [entry for entry in emulator.request_log if entry[1].startswith("/wp-json/wc/v3/")]


# --- access: every view as viewer, operator, admin and outsider ------------------------------


def _urls(store):
    return {
        "detail": reverse("stores:detail", args=[store.pk]),
        "edit": reverse("stores:edit", args=[store.pk]),
        "rotate": reverse("stores:rotate_webhook_secret", args=[store.pk]),
        "disconnect": reverse("stores:disconnect", args=[store.pk]),
    }


@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_it_shows_the_store_page_but_no_settings_below_admin(client, store, request, role):
    client.force_login(request.getfixturevalue(role))
    urls = _urls(store)
    html = client.get(urls["detail"]).content.decode()
    assert "Northwind Outlet" in html and reverse("stores:edit", args=[store.pk]) not in html
    assert client.get(urls["edit"]).status_code == 403
    assert client.post(urls["edit"], _edit_data(store)).status_code == 403
    assert client.post(urls["rotate"], {"new_secret": ""}).status_code == 403
    assert client.get(urls["disconnect"]).status_code == 403
    assert client.post(urls["disconnect"], {"confirm_name": store.name}).status_code == 403
    store.refresh_from_db()
    assert store.webhook_secret == ""


def test_it_shows_every_store_page_to_an_admin(client, store, admin_user):
    client.force_login(admin_user)
    urls = _urls(store)
    for name in ("detail", "edit", "disconnect"):
        assert client.get(urls[name]).status_code == 200, name
    assert reverse("stores:edit", args=[store.pk]) in client.get(urls["detail"]).content.decode()


def test_it_rejects_outsider_with_404(client, store, outsider):
    client.force_login(outsider)
    urls = _urls(store)
    for name in ("detail", "edit", "disconnect"):
        assert client.get(urls[name]).status_code == 404, name
    assert client.post(urls["edit"], _edit_data(store, name="Hijacked")).status_code == 404
    assert client.post(urls["rotate"], {"new_secret": ""}).status_code == 404
    assert client.post(urls["disconnect"], {"confirm_name": store.name}).status_code == 404
    store.refresh_from_db()
    assert store.name == "Northwind Outlet" and store.webhook_secret == ""


# --- the list -------------------------------------------------------------------------------


def test_list_shows_health_breaker_budget_listings_and_enabled(client, store, viewer, org):
    store.breaker_state = "open"
    store.health, store.health_latency = "healthy", 0.123
    store.save()
    RateLimitBucket.objects.create(store=store, level=8, capacity=10, leak_rate=0, stamp=time.time(), calls=42, throttled=3)
    Listing.objects.create(organization=org, store=store, product=ProductFactory(organization=org))
    Store.objects.create(organization=org, name="Idle shop", base_url="http://127.0.0.1:9", consumer_key="k", consumer_secret="s", is_enabled=False)
    client.force_login(viewer)
    response = client.get(reverse("stores:list"))
    table = response.context["table"]
    headers = [column.header for column in table.columns]
    assert headers[:9] == ["Name", "Platform", "Health", "Breaker", "Latency", "Rate-limit use", "Listings", "Last sync", "Enabled"]
    html = response.content.decode()
    assert "Open (calls paused)" in html and "123 ms" in html and "80%" in html
    assert "Disabled" in html and "Enabled" in html
    assert 'hx-trigger="stores-changed from:body' in html


def test_rate_limit_use_leaks_down_to_now(client, store, viewer):
    RateLimitBucket.objects.create(store=store, level=10, capacity=10, leak_rate=1, stamp=time.time() - 5)
    client.force_login(viewer)
    row = next(iter(client.get(reverse("stores:list")).context["table"].rows))
    assert 45 <= row.record.rate_use <= 50


@pytest.mark.parametrize("name", ["stores:list", "plugins:list"])
def test_every_store_column_sorts(client, store, admin_user, name):
    RateLimitBucket.objects.create(store=store, level=3, capacity=10, leak_rate=1, stamp=time.time())
    client.force_login(admin_user)
    table = client.get(reverse(name)).context["table"]
    for column in table.columns:
        if column.orderable:
            for prefix in ("", "-"):
                assert client.get(reverse(name), {"sort": prefix + column.name}).status_code == 200, column.name


@pytest.mark.parametrize("name", ["stores:list", "plugins:list"])
def test_store_lists_query_budget(client, org, admin_user, django_assert_max_num_queries, name):
    product = ProductFactory(organization=org)
    for i in range(20):
        store = Store.objects.create(organization=org, name=f"Shop {i}", base_url="http://127.0.0.1:9", consumer_key="k", consumer_secret="s")
        RateLimitBucket.objects.create(store=store, level=i % 10, capacity=10, leak_rate=1, stamp=time.time(), calls=i)
        Listing.objects.create(organization=org, store=store, product=product)
    client.force_login(admin_user)
    with django_assert_max_num_queries(10):
        response = client.get(reverse(name))
    assert response.status_code == 200 and "Shop 19" in response.content.decode()


def test_store_page_query_budget_does_not_grow_with_rows(client, store, org, viewer, django_assert_max_num_queries):
    for i in range(30):
        product = ProductFactory(organization=org)
        Listing.objects.create(organization=org, store=store, product=product, state="error" if i % 2 else "in_sync", last_error="boom")
        Job.objects.create(organization=org, kind="store.publish", store=store, status="dead", error="boom")
        _check(store, i * 10, ok=bool(i % 3))
    RateLimitBucket.objects.create(store=store, level=3, capacity=10, leak_rate=1, stamp=time.time())
    client.force_login(viewer)
    with django_assert_max_num_queries(17):  # 2 of them the Webhooks card: its subscriptions, the last delivery
        response = client.get(reverse("stores:detail", args=[store.pk]))
    assert response.status_code == 200


# --- connect by platform ----------------------------------------------------------------------


def test_connect_labels_the_fields_by_platform(client, admin_user):
    client.force_login(admin_user)
    woo = client.get(reverse("stores:connect")).content.decode()
    assert "Consumer key" in woo and "Consumer secret" in woo and "No plans: one limit for every store" in woo
    shopify = client.get(reverse("stores:connect"), {"platform": "shopify"}).content.decode()
    assert "Admin API access token" in shopify and "no key needed" in shopify and 'name="consumer_key"' not in shopify
    for plan in ("standard", "advanced", "plus"):
        assert f'value="{plan}"' in shopify
    assert 'hx-target="#platform-fields"' in woo


def test_connect_refuses_a_plan_the_platform_lacks(client, admin_user, emulator):
    client.force_login(admin_user)
    data = {"name": "Main shop", "platform": "woocommerce", "base_url": emulator.base_url, "consumer_key": "ck_demo",
            "consumer_secret": "cs_demo", "rate_plan": "plus", "timeout": "10"}
    html = client.post(reverse("stores:connect"), data).content.decode()
    assert 'id="id_rate_plan_error"' in html
    assert not Store.objects.exists() and not _api_calls(emulator)


# --- the store page --------------------------------------------------------------------------


def _check(store, minutes_ago, ok=True, latency=0.05, error=""):
    check = HealthCheck.objects.create(store=store, ok=ok, health="healthy" if ok else "failing", latency=latency if ok else None, error=error)
    HealthCheck.objects.filter(pk=check.pk).update(checked_at=timezone.now() - timedelta(minutes=minutes_ago))
    return check


def test_store_page_draws_the_latency_chart_from_health_checks(client, store, viewer):
    for minutes in (300, 200, 100):
        _check(store, minutes, latency=minutes / 1000)
    _check(store, 50, ok=False, error="Connection refused <script>")
    _check(store, 60 * 30, latency=9.0)  # older than 24 h: not on the chart, still in the history
    client.force_login(viewer)
    html = client.get(reverse("stores:detail", args=[store.pk])).content.decode()
    assert "/static/vendor/plotly/plotly-basic.min.js" in html and "cdn.plot.ly" not in html
    assert 'id="latency-chart"' in html and 'data-plotly-figure="latency-chart"' in html
    assert "Failed check" in html
    assert "4 health checks in the last 24 hours; median latency 200 ms, slowest 300 ms; 1 failed." in html
    assert "Connection refused &lt;script&gt;" in html and "Connection refused <script>" not in html
    assert html.count("<tr>") >= 5  # health history rows
    assert "9000 ms" in html


def test_store_page_without_health_checks_shows_an_empty_state(client, store, operator):
    client.force_login(operator)
    html = client.get(reverse("stores:detail", args=[store.pk])).content.decode()
    assert "No health checks in the last 24 hours." in html
    assert "plotly" not in html.lower()
    assert "No health checks recorded yet." in html
    assert "No errors: no listing is in error" in html


def test_the_plotly_bundle_is_served_locally(client, viewer):
    from django.contrib.staticfiles import finders

    assert finders.find("vendor/plotly/plotly-basic.min.js")


def test_store_page_shows_breaker_budget_and_recent_errors(client, store, org, viewer):
    opened = timezone.now() - timedelta(minutes=7)
    Store.objects.filter(pk=store.pk).update(breaker_state="open", breaker_opened_at=opened, breaker_failures=5, is_enabled=False)
    RateLimitBucket.objects.create(store=store, level=30, capacity=40, leak_rate=0, stamp=time.time(), calls=1200, throttled=4)
    product = ProductFactory(organization=org, title="Trail Tee")
    Listing.objects.create(organization=org, store=store, product=product, state="error", last_error="sku: duplicate")
    Job.objects.create(organization=org, kind="store.publish", store=store, status="dead", error="HTTP 500 from the store")
    client.force_login(viewer)
    html = client.get(reverse("stores:detail", args=[store.pk])).content.decode()
    assert "Open (calls paused)" in html and "the breaker opened" in html and "after 5 consecutive failed calls" in html
    assert "Disabled" in html and "This store is disabled" in html
    assert "30.0 / 40" in html and "75%" in html and "1200 calls" in html and "4 × 429" in html
    assert "sku: duplicate" in html and "HTTP 500 from the store" in html and "1 in error" in html


def test_store_page_summary_reloads_alone_for_htmx(client, store, viewer):
    client.force_login(viewer)
    response = client.get(reverse("stores:detail", args=[store.pk]), headers={"HX-Request": "true"})
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="store-summary"')
    assert "Latency, last 24 hours" not in html and "<html" not in html
    full = client.get(reverse("stores:detail", args=[store.pk])).content.decode()
    assert "regions=stores" in full and 'hx-trigger="stores-changed from:body' in full


def test_store_page_shows_the_webhook_endpoint_when_webhooks_are_installed(client, store, viewer, monkeypatch):
    module = ModuleType("stores.webhooks")
    module.webhook_url = lambda s, request=None: request.build_absolute_uri(f"/hooks/{s.pk}/")
    monkeypatch.setitem(sys.modules, "stores.webhooks", module)
    client.force_login(viewer)
    html = client.get(reverse("stores:detail", args=[store.pk])).content.decode()
    assert f"http://testserver/hooks/{store.pk}/" in html
    assert "No webhook secret yet" in html


def test_store_page_works_without_the_webhooks_module(client, store, viewer, monkeypatch):
    monkeypatch.setitem(sys.modules, "stores.webhooks", None)  # import fails
    client.force_login(viewer)
    response = client.get(reverse("stores:detail", args=[store.pk]))
    assert response.status_code == 200 and response.context["webhook_endpoint"] is None


def test_publish_is_refused_while_the_store_is_disabled(client, store, operator):
    Store.objects.filter(pk=store.pk).update(is_enabled=False)
    client.force_login(operator)
    response = client.post(reverse("stores:publish", args=[store.pk]))
    assert response["Location"] == store.get_absolute_url()
    assert not Job.objects.exists()


# --- edit -----------------------------------------------------------------------------------


def test_edit_keeps_the_secret_when_left_empty_and_makes_no_call(client, live_store, admin_user, emulator):
    client.force_login(admin_user)
    data = _edit_data(live_store, batch_size="50", health_check_interval="600", auto_sync="on", sync_interval="900")
    response = client.post(reverse("stores:edit", args=[live_store.pk]), data)
    assert response.status_code == 302, response.content.decode()
    live_store.refresh_from_db()
    assert live_store.consumer_secret == "cs_demo"
    assert (live_store.batch_size, live_store.health_check_interval, live_store.auto_sync, live_store.sync_interval) == (50, 600, True, 900)

    assert not _api_calls(emulator)
    event = Event.objects.get(topic="store.updated")
    assert "consumer_secret" not in event.payload["fields"] and "batch_size" in event.payload["fields"]


def test_edit_refuses_a_wrong_secret_next_to_the_field_and_saves_nothing(client, live_store, admin_user, emulator):
    client.force_login(admin_user)
    data = _edit_data(live_store, consumer_secret="cs_wrong", batch_size="20")
    response = client.post(reverse("stores:edit", args=[live_store.pk]), data)
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="id_consumer_secret_error"' in html and "The store refused these keys" in html
    assert _api_calls(emulator)
    live_store.refresh_from_db()
    assert (live_store.consumer_secret, live_store.batch_size) == ("cs_demo", 100)
    assert not Event.objects.filter(topic="store.updated").exists()


def test_edit_retests_and_saves_changed_credentials_that_work(client, org, admin_user, emulator):
    store = Store.objects.create(organization=org, name="Main shop", base_url=emulator.base_url, consumer_key="ck_demo",
                                 consumer_secret="cs_old", health="auth_failed", health_error="Consumer secret is invalid.")
    client.force_login(admin_user)
    response = client.post(reverse("stores:edit", args=[store.pk]), _edit_data(store, consumer_secret="cs_demo"))
    assert response.status_code == 302
    store.refresh_from_db()
    assert store.consumer_secret == "cs_demo" and store.health == "healthy" and store.health_error == ""
    assert ("GET", "/wp-json/wc/v3/products") in emulator.request_log


def test_edit_refuses_an_unreachable_url(client, live_store, admin_user):
    client.force_login(admin_user)
    html = client.post(reverse("stores:edit", args=[live_store.pk]), _edit_data(live_store, base_url="http://127.0.0.1:9")).content.decode()
    assert 'id="id_base_url_error"' in html and "Could not reach the store" in html
    live_store.refresh_from_db()
    assert live_store.base_url != "http://127.0.0.1:9"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("batch_size", "101", "WooCommerce takes at most 100 items per batch call"),
        ("batch_size", "0", "Use between 1 and 100"),
        ("timeout", "121", "Use between 1 and 120 seconds"),
        ("health_check_interval", "30", "use 60 seconds or more"),
        ("rate_plan", "plus", "has no plan"),
    ],
)
def test_edit_validates_sync_settings_next_to_the_field(client, store, admin_user, field, value, message):
    client.force_login(admin_user)
    html = client.post(reverse("stores:edit", args=[store.pk]), _edit_data(store, **{field: value})).content.decode()
    assert f'id="id_{field}_error"' in html and message in html
    store.refresh_from_db()
    assert str(getattr(store, field)) != value


def test_edit_of_a_shopify_store_asks_no_key_and_caps_batches_at_one(client, org, admin_user):
    store = Store.objects.create(organization=org, name="Summit", platform="shopify", base_url="https://127.0.0.1:9",
                                 consumer_key="", consumer_secret="shpat_saved", batch_size=100)
    client.force_login(admin_user)
    url = reverse("stores:edit", args=[store.pk])
    html = client.get(url).content.decode()
    assert 'name="consumer_key"' not in html and "Admin API access token" in html and 'value="plus"' in html
    assert client.get(url).context["form"]["batch_size"].value() == 1
    data = _edit_data(store, batch_size="2", rate_plan="plus")
    data.pop("consumer_key", None)
    html = client.post(url, data).content.decode()
    assert 'id="id_batch_size_error"' in html and "takes at most 1 items" in html
    response = client.post(url, {**data, "batch_size": "1"})
    assert response.status_code == 302  # settings only: no test call to the unreachable shop
    store.refresh_from_db()
    assert (store.batch_size, store.rate_plan, store.consumer_secret) == (1, "plus", "shpat_saved")


def test_edit_can_disable_the_store(client, store, admin_user):
    client.force_login(admin_user)
    data = _edit_data(store)
    data.pop("is_enabled")
    assert client.post(reverse("stores:edit", args=[store.pk]), data).status_code == 302
    store.refresh_from_db()
    assert not store.is_enabled


# --- webhook secret rotation ------------------------------------------------------------------


def test_rotate_keeps_the_previous_secret_for_an_hour(client, store, admin_user):
    Store.objects.filter(pk=store.pk).update(webhook_secret="old-secret-0123456789")
    client.force_login(admin_user)
    response = client.post(reverse("stores:rotate_webhook_secret", args=[store.pk]), {"new_secret": ""})
    assert response["Location"] == reverse("stores:edit", args=[store.pk])
    store.refresh_from_db()
    assert store.previous_webhook_secret == "old-secret-0123456789"
    assert len(store.webhook_secret) >= 32 and store.webhook_secret != store.previous_webhook_secret
    assert timezone.now() - store.webhook_secret_rotated_at < timedelta(seconds=30)
    assert Event.objects.filter(topic="store.webhook_secret_rotated").exists()
    assert store.webhook_secret not in str(Event.objects.get(topic="store.webhook_secret_rotated").payload)
    html = client.get(reverse("stores:edit", args=[store.pk])).content.decode()
    assert "The previous secret is still accepted until" in html


def test_rotate_takes_a_pasted_secret_and_refuses_a_short_one(client, store, admin_user):
    client.force_login(admin_user)
    url = reverse("stores:rotate_webhook_secret", args=[store.pk])
    html = client.post(url, {"new_secret": "short"}).content.decode()
    assert 'id="id_new_secret_error"' in html and "at least 16 characters" in html
    store.refresh_from_db()
    assert store.webhook_secret == ""
    client.post(url, {"new_secret": "shpss_app_secret_from_shopify"})
    store.refresh_from_db()
    assert store.webhook_secret == "shpss_app_secret_from_shopify" and store.previous_webhook_secret == ""


# --- disconnect -------------------------------------------------------------------------------


def test_disconnect_confirmation_counts_what_goes_and_deletes_on_post(client, store, org, admin_user):
    for _ in range(3):
        product = ProductFactory(organization=org)
        VariantFactory(product=product)
        Listing.objects.create(organization=org, store=store, product=product)
    Job.objects.create(organization=org, kind="store.publish", store=store, status="succeeded")
    Job.objects.create(organization=org, kind="store.publish", store=store, status="running")
    client.force_login(admin_user)
    url = reverse("stores:disconnect", args=[store.pk])
    html = client.get(url).content.decode()
    assert "Disconnect Northwind Outlet?" in html
    assert "<strong>3</strong>" in html and "<strong>2</strong>" in html
    assert "1 job of this store is queued or running" in html

    html = client.post(url, {"confirm_name": "Northwind"}).content.decode()
    assert 'id="id_confirm_name_error"' in html and Store.objects.filter(pk=store.pk).exists()

    response = client.post(url, {"confirm_name": "Northwind Outlet"})
    assert response["Location"] == reverse("stores:list")
    assert not Store.objects.filter(pk=store.pk).exists()
    assert not Listing.objects.exists() and not Job.objects.exists()
    event = Event.objects.get(topic="store.disconnected")
    assert event.payload["listings"] == 3 and event.payload["jobs"] == 2 and event.payload["store_id"] == store.pk


def test_switching_platform_sends_only_the_platform_and_keeps_the_typed_credentials(client, admin_user):
    """The redraw is a GET: it names the platform alone (a credential in its URL would land in access logs),
    and the credential inputs are kept as typed across it (hx-preserve). The browser test proves both live."""
    client.force_login(admin_user)
    html = client.get(reverse("stores:connect")).content.decode()
    assert 'hx-include="#id_platform"' in html and 'hx-include="closest form"' not in html
    assert re.search(r'<input[^>]*name="consumer_secret"[^>]*hx-preserve="true"', html)
    assert re.search(r'<input[^>]*name="consumer_key"[^>]*hx-preserve="true"', html)
    # Whatever a GET carries besides the platform is ignored, never echoed back.
    echoed = client.get(reverse("stores:connect"), {"platform": "shopify", "consumer_secret": "s3cret",
                                                    "name": "Outlet"}, HTTP_HX_REQUEST="true").content.decode()
    assert "s3cret" not in echoed and 'value="Outlet"' not in echoed and "Admin API access token" in echoed


def test_edit_sets_the_stock_rule_and_refuses_a_share_over_100(client, live_store, admin_user, emulator):
    client.force_login(admin_user)
    url = reverse("stores:edit", args=[live_store.pk])
    response = client.post(url, _edit_data(live_store, stock_rule="percent", stock_percent="150"))
    assert response.status_code == 200 and "stock_percent" in response.context["form"].errors
    live_store.refresh_from_db()
    assert live_store.stock_rule == "all"
    assert client.post(url, _edit_data(live_store, stock_rule="buffer", stock_buffer="4")).status_code == 302
    live_store.refresh_from_db()
    assert (live_store.stock_rule, live_store.stock_buffer) == ("buffer", 4)


def test_edit_sets_what_a_sync_writes_and_refuses_an_unknown_scope(client, live_store, admin_user, emulator):
    client.force_login(admin_user)
    url = reverse("stores:edit", args=[live_store.pk])
    html = client.post(url, _edit_data(live_store, sync_scope="titles")).content.decode()
    assert 'id="id_sync_scope_error"' in html and "Select a valid choice" in html
    live_store.refresh_from_db()
    assert live_store.sync_scope == "all"
    assert client.post(url, _edit_data(live_store, sync_scope="price_stock")).status_code == 302
    live_store.refresh_from_db()
    assert live_store.sync_scope == "price_stock"
    # back to everything: the next sync compares every product (what was held back goes out)
    type(live_store).objects.filter(pk=live_store.pk).update(sync_cursor=timezone.now())
    live_store.refresh_from_db()
    page = client.post(url, _edit_data(live_store, sync_scope="all"), follow=True).content.decode()
    live_store.refresh_from_db()
    assert live_store.sync_cursor is None and "the next sync compares every product" in page
