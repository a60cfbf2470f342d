"""The Plugins page: registry, published limits per plan, capability matrix, live budgets per store."""

import time
from types import SimpleNamespace

import pytest
from django.urls import reverse

from stores import plugin_views
from stores.models import RateLimitBucket, Store
from stores.plugins import Capability, RateLimit, registered_plugins
from stores.plugins.woocommerce import WooCommercePlugin


@pytest.fixture
def store(org):
    store = Store.objects.create(organization=org, name="Northwind Outlet", base_url="http://127.0.0.1:9", consumer_key="k", consumer_secret="s")
    RateLimitBucket.objects.create(store=store, level=6, capacity=10, leak_rate=0, stamp=time.time(), calls=314, throttled=7)
    return store


@pytest.mark.parametrize("role", ["viewer", "operator", "admin_user"])
def test_it_shows_the_plugins_page_to_every_member(client, store, request, role):
    client.force_login(request.getfixturevalue(role))
    response = client.get(reverse("plugins:list"))
    assert response.status_code == 200
    assert "Northwind Outlet" in response.content.decode()


def test_it_shows_an_outsider_only_their_own_stores(client, store, outsider):
    client.force_login(outsider)
    html = client.get(reverse("plugins:list")).content.decode()
    assert "WooCommerce" in html and "Northwind Outlet" not in html and "314" not in html


def test_it_redirects_anonymous_to_login(client, db):
    response = client.get(reverse("plugins:list"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_registry_lists_every_plugin_with_origin_batch_and_limits(client, store, viewer):
    client.force_login(viewer)
    html = client.get(reverse("plugins:list")).content.decode()
    for platform, plugin in registered_plugins().items():
        assert f'id="plugin-{platform}"' in html
        assert plugin.label in html
    assert "stores.plugins.woocommerce:WooCommercePlugin" in html and "Built in" in html
    assert f"{WooCommercePlugin.max_batch} items per call" in html
    limit = WooCommercePlugin.rate_limits("")
    assert limit.source in html and f"{limit.leak_rate:g}/s" in html
    assert "1 connected" in html


def test_shopify_limits_are_listed_per_plan(client, viewer):
    if "shopify" not in registered_plugins():
        pytest.skip("no Shopify plugin installed")
    shopify = registered_plugins()["shopify"]
    client.force_login(viewer)
    html = client.get(reverse("plugins:list")).content.decode()
    section = html.split('id="plugin-shopify"')[1].split("</section>")[0]
    for plan, label in (("standard", "Standard (Basic, Shopify)"), ("advanced", "Advanced"), ("plus", "Shopify Plus")):
        limit = shopify.rate_limits(plan)
        assert label in section and f"{limit.leak_rate:g}/s" in section and limit.source in section


def test_capability_matrix_has_a_cell_with_text_for_every_plugin_and_capability(client, db, viewer):
    client.force_login(viewer)
    html = client.get(reverse("plugins:list")).content.decode()
    matrix = html.split('id="capability-matrix"')[1].split("</table>")[0]
    for label in Capability.LABELS.values():
        assert f">{label}</th>" in matrix
    for plugin in registered_plugins().values():
        for capability in Capability.ALL:
            verb = "supports" if capability in plugin.capabilities else "does not support"
            assert f"{plugin.label} {verb} {Capability.LABELS[capability].lower()}" in matrix
    assert matrix.count("✓") == sum(len(set(p.capabilities) & set(Capability.ALL)) for p in registered_plugins().values())


def test_budgets_show_level_calls_and_429s_and_reload_live(client, store, viewer):
    client.force_login(viewer)
    response = client.get(reverse("plugins:list"))
    html = response.content.decode()
    row = html.split(f'id="budget-row-{store.pk}"')[1].split("</tr>")[0]
    assert "6.0 / 10" in row and "60%" in row and ">314<" in row and ">7<" in row
    assert 'hx-trigger="stores-changed from:body' in html and "regions=stores" in html


def test_htmx_reload_returns_only_the_budget_table(client, store, viewer):
    client.force_login(viewer)
    html = client.get(reverse("plugins:list"), headers={"HX-Request": "true"}).content.decode()
    assert html.lstrip().startswith('<div id="object-table"')
    assert "capability-matrix" not in html and "Northwind Outlet" in html


def test_a_store_without_calls_yet_has_an_empty_budget(client, org, viewer):
    Store.objects.create(organization=org, name="Fresh shop", base_url="http://127.0.0.1:9", consumer_key="k", consumer_secret="s")
    client.force_login(viewer)
    response = client.get(reverse("plugins:list"))
    assert response.status_code == 200
    record = next(iter(response.context["table"].rows)).record
    assert record.rate_use is None


class EtsyPlugin(WooCommercePlugin):
    platform = "etsy"
    label = "Etsy"
    capabilities = frozenset({Capability.READ_PRODUCTS, Capability.WRITE_PRODUCTS, "listings_videos"})
    max_batch = 1

    @classmethod
    def rate_limits(cls, plan=""):
        return RateLimit(capacity=10, leak_rate=10, unit="call", source="Etsy Open API v3: 10 QPS")


def test_an_entry_point_plugin_names_its_package(client, org, viewer, monkeypatch):
    plugins = {**registered_plugins(), "etsy": EtsyPlugin}
    entry = SimpleNamespace(name="etsy", value="flashfusion_etsy:EtsyPlugin", dist=SimpleNamespace(name="flashfusion-etsy", version="1.2.0"))
    shadow = SimpleNamespace(name="woocommerce", value="typo_pkg:Woo", dist=SimpleNamespace(name="typo-pkg", version="0.1"))
    monkeypatch.setattr(plugin_views, "registered_plugins", lambda: plugins)
    monkeypatch.setattr(plugin_views, "entry_points", lambda group: [entry, shadow])
    Store.objects.create(organization=org, name="Legacy", platform="etsy", base_url="http://127.0.0.1:9", consumer_key="k", consumer_secret="s")
    client.force_login(viewer)
    html = client.get(reverse("plugins:list")).content.decode()
    section = html.split('id="plugin-etsy"')[1].split("</section>")[0]
    assert "flashfusion-etsy 1.2.0" in section and "flashfusion_etsy:EtsyPlugin" in section and "Package" in section
    assert "1 (one call per item)" in section and "Etsy Open API v3: 10 QPS" in section
    assert "Also declares: listings_videos" in section
    assert "typo_pkg:Woo" in html and "is ignored" in html


def test_stores_on_a_platform_without_plugin_are_flagged(client, org, viewer, monkeypatch):
    only_woo = {"woocommerce": WooCommercePlugin}
    monkeypatch.setattr(plugin_views, "registered_plugins", lambda: only_woo)
    Store.objects.create(organization=org, name="Orphan", platform="shopify", base_url="https://x.myshopify.com", consumer_key="", consumer_secret="t")
    client.force_login(viewer)
    html = client.get(reverse("plugins:list")).content.decode()
    assert "No plugin for <strong>Shopify</strong> is installed, so 1 store on it cannot sync." in html
