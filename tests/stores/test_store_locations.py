"""Store locations on the store page and in the settings: the Locations card, "Refresh locations", the
"Stock location" select, and locations read on connect. Real HTTP to the Shopify emulator."""

import pytest
from django.urls import reverse

from stores.emulators.shopify import start_emulator
from stores.forms import StoreEditForm
from stores.inventory import refresh_locations
from stores.models import Store, StoreLocation
from tests.factories import StoreFactory

TOKEN = "shpat_demo"


@pytest.fixture
def emulator():
    with start_emulator(port=0, access_token=TOKEN) as running:
        yield running


@pytest.fixture
def shop(org, emulator):
    return Store.objects.create(organization=org, name="Summit Shop", platform="shopify", base_url=emulator.base_url,
                                consumer_secret=TOKEN)


def _edit_data(store, **overrides):
    data = {
        "name": store.name, "base_url": store.base_url, "consumer_secret": "", "rate_plan": store.rate_plan,
        "timeout": str(store.timeout), "is_enabled": "on", "auto_sync": "", "sync_interval": str(store.sync_interval),
        "sync_strategy": store.sync_strategy, "conflict_resolution": store.conflict_resolution,
        "batch_size": "1", "stock_rule": store.stock_rule, "stock_buffer": str(store.stock_buffer),
        "stock_percent": str(store.stock_percent), "health_check_interval": str(store.health_check_interval),
        "stock_location": "", "sync_scope": "all",
    }
    data.update(overrides)
    return data


def _graphql_operations(emulator) -> list[str]:
    return [entry[2] for entry in emulator.request_log if entry[1].endswith("/graphql.json")]


# --------------------------------------------------------------------------- the store page


def test_it_shows_the_locations_card_with_the_refresh_button_to_an_admin(client, shop, admin_user):
    refresh_locations(shop)
    client.force_login(admin_user)
    html = client.get(shop.get_absolute_url()).content.decode()
    assert 'id="locations-heading">Locations</h2>' in html
    assert "Shop location" in html and "Warehouse" in html and ">Primary</span>" in html
    assert html.count("Receives our stock") == 1
    primary = StoreLocation.objects.get(store=shop, is_primary=True)
    card = html[html.index(f'id="location-{primary.pk}"'):]
    assert card.index("Receives our stock") < card.index("</li>")
    assert reverse("stores:refresh_locations", args=[shop.pk]) in html
    assert "Our stock goes to the primary location." in html


@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_it_shows_the_locations_but_no_refresh_below_admin(client, shop, request, role):
    refresh_locations(shop)
    client.force_login(request.getfixturevalue(role))
    html = client.get(shop.get_absolute_url()).content.decode()
    assert "Warehouse" in html and "Receives our stock" in html
    assert reverse("stores:refresh_locations", args=[shop.pk]) not in html
    assert client.post(reverse("stores:refresh_locations", args=[shop.pk])).status_code == 403


def test_the_empty_card_says_where_stock_goes_and_what_to_do(client, shop, admin_user, viewer):
    client.force_login(viewer)
    html = client.get(shop.get_absolute_url()).content.decode()
    assert "No locations read yet: our stock goes to the shop's primary location." in html
    assert "An admin can read them from Shopify." in html
    client.force_login(admin_user)
    assert "“Refresh locations” reads them from Shopify" in client.get(shop.get_absolute_url()).content.decode()


def test_it_rejects_outsider_with_404(client, shop, outsider):
    client.force_login(outsider)
    assert client.post(reverse("stores:refresh_locations", args=[shop.pk])).status_code == 404
    assert client.get(shop.get_absolute_url()).status_code == 404
    assert not StoreLocation.objects.exists()


def test_refresh_reads_the_locations_and_marks_the_chosen_one(client, shop, admin_user, emulator):
    client.force_login(admin_user)
    response = client.post(reverse("stores:refresh_locations", args=[shop.pk]), follow=True)
    assert response.redirect_chain[-1][0].endswith("#locations")
    assert "2 active locations of 2 known" in response.content.decode()
    warehouse = StoreLocation.objects.get(store=shop, name="Warehouse")
    Store.objects.filter(pk=shop.pk).update(stock_location=warehouse)
    html = client.get(shop.get_absolute_url()).content.decode()
    card = html[html.index(f'id="location-{warehouse.pk}"'):]
    assert card.index("Receives our stock") < card.index("</li>")
    assert "Our stock goes to the chosen location." in html

    emulator.edit_location(warehouse.external_id, active=False)
    response = client.post(reverse("stores:refresh_locations", args=[shop.pk]), follow=True)
    text = response.content.decode()
    assert "no longer active: stock goes to the primary location" in text and ">Inactive</span>" in text
    shop.refresh_from_db()
    assert shop.stock_location is None


def test_a_woocommerce_store_has_no_locations_card_and_is_not_called(client, org, admin_user):
    store = StoreFactory(organization=org)
    client.force_login(admin_user)
    assert 'id="locations-heading"' not in client.get(store.get_absolute_url()).content.decode()
    response = client.post(reverse("stores:refresh_locations", args=[store.pk]), follow=True)
    assert "has no locations" in response.content.decode()
    form = StoreEditForm(instance=store)
    assert "stock_location" not in form.fields


# --------------------------------------------------------------------------- the settings


def test_the_stock_location_select_offers_this_stores_active_locations(shop, emulator):
    rows = {r.name: r for r in refresh_locations(shop)}
    StoreLocation.objects.filter(pk=rows["Warehouse"].pk).update(is_active=False)
    form = StoreEditForm(instance=shop)
    field = form.fields["stock_location"]
    assert list(field.queryset) == [rows["Shop location"]]
    assert field.empty_label == "Primary location (Shop location)"
    assert "Stock location" in str(form["stock_location"].label_tag())


def test_the_form_refuses_another_stores_location(org, other_org, shop, emulator):
    refresh_locations(shop)
    elsewhere = Store.objects.create(organization=org, name="Second shop", platform="shopify",
                                     base_url="https://127.0.0.1:9", consumer_secret=TOKEN)
    foreign = StoreLocation.objects.create(store=elsewhere, external_id="gid://shopify/Location/77", name="Depot")
    rival = Store.objects.create(organization=other_org, name="Rival", platform="shopify",
                                 base_url="https://127.0.0.1:8", consumer_secret=TOKEN)
    rival_location = StoreLocation.objects.create(store=rival, external_id="gid://shopify/Location/78", name="Theirs")
    for location in (foreign, rival_location):
        form = StoreEditForm(_edit_data(shop, stock_location=str(location.pk)), instance=shop)
        assert not form.is_valid()
        assert form.errors["stock_location"] == [
            "Choose one of this store's active locations, or the primary location. "
            "Refresh the locations on the store page if the list is out of date."]


def test_an_admin_chooses_the_warehouse_and_the_change_is_recorded(client, shop, admin_user, emulator):
    rows = {r.name: r for r in refresh_locations(shop)}
    client.force_login(admin_user)
    page = client.get(reverse("stores:edit", args=[shop.pk])).content.decode()
    assert '<label class="form-label" for="id_stock_location">Stock location</label>' in page
    assert "Primary location (Shop location)</option>" in page
    response = client.post(reverse("stores:edit", args=[shop.pk]),
                           _edit_data(shop, stock_location=str(rows["Warehouse"].pk)))
    assert response.status_code == 302, response.context["form"].errors
    shop.refresh_from_db()
    assert shop.stock_location == rows["Warehouse"]
    from flashfusion.models import Event

    assert "stock location" in Event.objects.get(topic="store.updated").message


def test_connecting_a_shopify_store_reads_its_locations(client, org, admin_user, emulator):
    client.force_login(admin_user)
    response = client.post(reverse("stores:connect"), {
        "name": "Fresh shop", "platform": "shopify", "base_url": emulator.base_url, "consumer_secret": TOKEN,
        "timeout": "10"}, follow=True)
    store = Store.objects.get(name="Fresh shop")
    assert sorted(StoreLocation.objects.filter(store=store).values_list("name", flat=True)) == [
        "Shop location", "Warehouse"]
    assert "2 active locations read from the store" in response.content.decode()
    assert "FlashFusionLocations" in _graphql_operations(emulator)


def test_new_credentials_read_the_locations_again_and_other_edits_do_not(client, shop, admin_user, emulator):
    client.force_login(admin_user)
    client.post(reverse("stores:edit", args=[shop.pk]), _edit_data(shop, name="Renamed shop"))
    assert "FlashFusionLocations" not in _graphql_operations(emulator)
    assert not StoreLocation.objects.exists()
    response = client.post(reverse("stores:edit", args=[shop.pk]),
                           _edit_data(shop, name="Renamed shop", timeout="12", consumer_secret=TOKEN,
                                      base_url=emulator.base_url + "/"))
    assert response.status_code == 302, response.context["form"].errors
    assert "FlashFusionLocations" in _graphql_operations(emulator)
    assert StoreLocation.objects.filter(store=shop).count() == 2
