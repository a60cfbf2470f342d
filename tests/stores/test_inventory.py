"""Stock per location (``stores.inventory``): locations read from the Shopify emulator over real HTTP, stock
written at the chosen location, levels recorded after a write and read back by location."""

from __future__ import annotations

import json
from decimal import Decimal

import httpx
import pytest

from agents import runner
from agents.services import enqueue
from flashfusion.models import Event
from stores.emulators.shopify import start_emulator
from stores.inventory import read_levels, record_pushed, refresh_locations, stock_location_row
from stores.models import InventoryLevel, Listing, Store, StoreLocation
from stores.plugins import AuthFailed, Transient, variant_key
from stores.plugins.shopify import ShopifyClient, ShopifyPlugin
from tests.factories import ProductFactory, StoreFactory, VariantFactory

TOKEN = "shpat_demo"


@pytest.fixture
def emulator():
    with start_emulator(port=0, access_token=TOKEN) as running:
        yield running


@pytest.fixture
def shop(org, emulator):
    return Store.objects.create(organization=org, name="Emulated Shopify", platform="shopify",
                                base_url=emulator.base_url, consumer_secret=TOKEN)


def _gid(location: dict) -> str:
    return location["admin_graphql_api_id"]


def _product(org, sku="TEE", stocks=(7,)):
    product = ProductFactory(organization=org, sku=sku, handle=sku.lower(), kind="simple" if len(stocks) == 1
                             else "variable", images=[],
                             options=[] if len(stocks) == 1 else [{"name": "Size", "values": [
                                 f"S{n}" for n in range(len(stocks))]}])
    for n, stock in enumerate(stocks):
        VariantFactory(product=product, sku=f"{sku}-{n}", position=n + 1, price=Decimal("20.00"), stock=stock,
                       option_values={} if len(stocks) == 1 else {"Size": f"S{n}"})
    return type(product).objects.prefetch_related("variants").get(pk=product.pk)


def _levels(emulator, handle: str) -> dict[str, dict[int, int]]:
    """SKU → {location number: available} as the emulator holds them."""
    [stored] = [p for p in emulator.products() if p["handle"] == handle]
    return {v["sku"]: {lv["location_id"]: lv["available"] for lv in v["inventory_levels"]} for v in stored["variants"]}


def _publish(store, product):
    job = enqueue(store.organization, "store.publish", store=store, params={"product_ids": [product.pk]})
    assert runner.execute(job.pk) == "succeeded", job.error
    listing = Listing.objects.select_related("product").get(store=store, product=product)
    assert listing.state == "in_sync", listing.last_error
    return listing


# --------------------------------------------------------------------------- refresh_locations


def test_refresh_reads_every_location_and_the_primary(shop, emulator):
    rows = refresh_locations(shop)
    primary, warehouse = emulator.locations()
    assert [(r.name, r.external_id, r.is_primary, r.is_active) for r in rows] == [
        ("Shop location", _gid(primary), True, True), ("Warehouse", _gid(warehouse), False, True)]
    event = Event.objects.get(topic="store.locations_refreshed")
    assert event.payload["added"] == ["Shop location", "Warehouse"] and not event.payload["quiet"]
    again = refresh_locations(shop)
    assert [r.pk for r in again] == [r.pk for r in rows]  # upserted, not duplicated
    assert Event.objects.filter(topic="store.locations_refreshed").latest("pk").payload["quiet"] is True


def test_refresh_adds_new_renames_and_marks_gone_or_deactivated_inactive(shop, emulator):
    refresh_locations(shop)
    primary, warehouse = emulator.locations()
    popup = emulator.add_location("Pop-up", city="Lisbon")
    outlet = emulator.add_location("Outlet")
    emulator.edit_location(primary["id"], name="Flagship")
    emulator.edit_location(warehouse["id"], active=False)
    emulator.delete_location(warehouse["id"])  # gone from the shop altogether
    emulator.edit_location(outlet["id"], active=False)  # listed, but inactive

    rows = {r.external_id: r for r in refresh_locations(shop)}
    assert rows[_gid(primary)].name == "Flagship" and rows[_gid(primary)].is_primary
    assert rows[_gid(popup)].is_active and rows[_gid(popup)].name == "Pop-up"
    assert rows[_gid(warehouse)].is_active is False and rows[_gid(warehouse)].name == "Warehouse"
    assert rows[_gid(outlet)].is_active is False
    event = Event.objects.filter(topic="store.locations_refreshed").latest("pk")
    assert event.payload["renamed"] == [["Shop location", "Flagship"]]
    assert event.payload["deactivated"] == ["Warehouse"]
    assert sorted(event.payload["added"]) == ["Outlet", "Pop-up"]  # the outlet is new to us, and inactive


def test_a_chosen_location_that_is_gone_is_cleared(shop, emulator):
    rows = {r.name: r for r in refresh_locations(shop)}
    shop.stock_location = rows["Warehouse"]
    shop.save()
    emulator.edit_location(rows["Warehouse"].external_id, active=False)
    emulator.delete_location(rows["Warehouse"].external_id)

    refresh_locations(shop)
    assert shop.stock_location is None
    shop.refresh_from_db()
    assert shop.stock_location is None
    event = Event.objects.get(topic="store.updated")
    assert event.payload["fields"] == ["stock_location"]
    assert "Warehouse is no longer active" in event.message and "Shop location" in event.message
    assert stock_location_row(shop).name == "Shop location"


def test_a_refused_token_writes_nothing(shop, emulator):
    shop.consumer_secret = "shpat_wrong"
    shop.save()
    with pytest.raises(AuthFailed):
        refresh_locations(shop)
    assert not StoreLocation.objects.exists() and not Event.objects.exists()


def test_woocommerce_has_no_locations_and_is_never_called(org):
    store = StoreFactory(organization=org)  # a closed port: any call would fail
    product = _product(org)
    listing = Listing.objects.create(organization=org, store=store, product=product, external_id="12")
    assert refresh_locations(store) == []
    record_pushed(store, product)
    assert read_levels(store, listing) == []
    assert not InventoryLevel.objects.exists() and not StoreLocation.objects.exists()


def _answer(data: dict) -> httpx.Response:
    cost = {"requestedQueryCost": 253, "actualQueryCost": 5,
            "throttleStatus": {"maximumAvailable": 2000.0, "currentlyAvailable": 1990.0, "restoreRate": 100.0}}
    return httpx.Response(200, content=json.dumps({"data": data, "extensions": {"cost": cost}}).encode())


def test_list_locations_follows_pages_and_refuses_an_unreadable_answer():
    pages = [
        {"location": {"id": "gid://shopify/Location/2"},
         "locations": {"nodes": [{"id": "gid://shopify/Location/1", "name": "A", "isActive": False}],
                       "pageInfo": {"hasNextPage": True, "endCursor": "c1"}}},
        {"location": {"id": "gid://shopify/Location/2"},
         "locations": {"nodes": [{"id": "gid://shopify/Location/2", "name": "B", "isActive": True}],
                       "pageInfo": {"hasNextPage": False, "endCursor": "c2"}}},
    ]
    sent = []

    def handler(request):
        sent.append(json.loads(request.content))
        return _answer(pages[len(sent) - 1])

    plugin = ShopifyPlugin(ShopifyClient("https://acme.myshopify.com", TOKEN, transport=httpx.MockTransport(handler)))
    assert plugin.list_locations() == [
        {"external_id": "gid://shopify/Location/1", "name": "A", "is_active": False, "is_primary": False},
        {"external_id": "gid://shopify/Location/2", "name": "B", "is_active": True, "is_primary": True}]
    assert [s["variables"] for s in sent] == [{"first": 250, "after": None}, {"first": 250, "after": "c1"}]
    assert "includeInactive: true" in sent[0]["query"]
    assert plugin.primary_location_id() == "gid://shopify/Location/2"  # cached: no third request
    assert len(sent) == 2

    def broken(request):
        return _answer({"location": None, "locations": {"nodes": [{"id": "gid://shopify/Product/1", "name": "X",
                                                                   "isActive": True}], "pageInfo": {}}})

    bad = ShopifyPlugin(ShopifyClient("https://acme.myshopify.com", TOKEN, transport=httpx.MockTransport(broken)))
    with pytest.raises(Transient) as caught:
        bad.list_locations()
    assert caught.value.code == "bad_shape"


# --------------------------------------------------------------------------- writing at the chosen location


def test_publishing_with_a_chosen_warehouse_puts_the_stock_there_not_at_the_primary(org, shop, emulator):
    rows = {r.name: r for r in refresh_locations(shop)}
    shop.stock_location, shop.stock_rule, shop.stock_buffer = rows["Warehouse"], "buffer", 2
    shop.save()
    tee = _product(org, "TEE", stocks=(7,))
    listing = _publish(shop, tee)

    primary, warehouse = emulator.locations()
    assert _levels(emulator, "tee") == {"TEE-0": {primary["id"]: 0, warehouse["id"]: 5}}
    # the snapshot says what was set where, without asking the store for levels after the write
    assert listing.remote_snapshot["_stockLocation"] == rows["Warehouse"].external_id
    node = listing.remote_snapshot["variants"]["nodes"][0]
    assert node["inventoryItem"]["inventoryLevel"] == {"quantities": [{"name": "available", "quantity": 5}]}
    assert "inventoryLevels" not in json.dumps(listing.remote_snapshot)


def test_switching_to_the_warehouse_stocks_existing_variants_there_first(org, shop, emulator):
    rows = {r.name: r for r in refresh_locations(shop)}
    hoodie = _product(org, "HOOD", stocks=(3, 4))
    listing = _publish(shop, hoodie)
    primary, warehouse = emulator.locations()
    assert _levels(emulator, "hood") == {"HOOD-0": {primary["id"]: 3}, "HOOD-1": {primary["id"]: 4}}

    shop.stock_location = rows["Warehouse"]
    shop.save()
    plugin = ShopifyPlugin.for_store(shop)
    try:
        emulator.reset_log()
        [result] = plugin.update_listings([(listing, hoodie, plugin.build_payload(hoodie))])
        assert result.ok, result.error
        # stocked there first (our rows know no level at the warehouse), then one write: no refusal on the way
        assert [entry[2] for entry in emulator.request_log] == [
            "FlashFusionInventoryActivate", "FlashFusionInventoryActivate", "FlashFusionProductSet"]
        # the merchant's units stay at the old location; ours are at the warehouse now
        assert _levels(emulator, "hood") == {"HOOD-0": {primary["id"]: 3, warehouse["id"]: 3},
                                             "HOOD-1": {primary["id"]: 4, warehouse["id"]: 4}}

        listing.remote_snapshot = result.listing.snapshot
        listing.save()
        record_pushed(shop, hoodie)
        hoodie.variants.filter(sku="HOOD-1").update(stock=9)
        hoodie = type(hoodie).objects.prefetch_related("variants").get(pk=hoodie.pk)
        emulator.reset_log()
        [result] = plugin.update_listings([(listing, hoodie, plugin.build_payload(hoodie))])
        assert result.ok, result.error
        assert [entry[2] for entry in emulator.request_log] == ["FlashFusionProductSet"]  # known stocked: no activation
        assert _levels(emulator, "hood")["HOOD-1"][warehouse["id"]] == 9
    finally:
        plugin.close()


def test_a_refusal_for_an_unstocked_location_activates_and_writes_again(org, shop, emulator):
    """Our level rows can be stale (the merchant unstocked the item): the store's refusal still gets it right."""
    rows = {r.name: r for r in refresh_locations(shop)}
    lamp = _product(org, "LAMP", stocks=(6,))
    listing = _publish(shop, lamp)
    shop.stock_location = rows["Warehouse"]
    shop.save()
    InventoryLevel.objects.create(location=rows["Warehouse"], variant=lamp.variants.get(), available=6, pushed=True)
    plugin = ShopifyPlugin.for_store(shop)
    try:
        emulator.reset_log()
        [result] = plugin.update_listings([(listing, lamp, plugin.build_payload(lamp))])
    finally:
        plugin.close()
    assert result.ok, result.error
    assert [entry[2] for entry in emulator.request_log] == [
        "FlashFusionProductSet", "FlashFusionInventoryActivate", "FlashFusionProductSet"]
    assert _levels(emulator, "lamp")["LAMP-0"][emulator.locations()[1]["id"]] == 6


# --------------------------------------------------------------------------- record_pushed


def test_record_pushed_is_a_no_op_without_location_rows(org, shop):
    record_pushed(shop, _product(org))
    assert not InventoryLevel.objects.exists()


def test_record_pushed_keeps_the_published_stock_at_our_location(org, shop, emulator):
    rows = {r.name: r for r in refresh_locations(shop)}
    shop.stock_rule, shop.stock_percent = "percent", 50
    shop.save()
    product = _product(org, "CAP", stocks=(9, None))
    tracked, untracked = product.variants.order_by("position")

    record_pushed(shop, product)
    [level] = InventoryLevel.objects.all()
    assert (level.location, level.variant, level.available, level.pushed) == (rows["Shop location"], tracked, 4, True)

    shop.stock_location = rows["Warehouse"]
    shop.save()
    product.variants.filter(pk=tracked.pk).update(stock=20)
    product = type(product).objects.prefetch_related("variants").get(pk=product.pk)
    record_pushed(shop, product)
    record_pushed(shop, product)  # a repeat updates, never duplicates
    levels = {lv.location.name: (lv.available, lv.pushed) for lv in InventoryLevel.objects.select_related("location")}
    assert levels == {"Warehouse": (10, True), "Shop location": (4, False)}
    assert not InventoryLevel.objects.filter(variant=untracked).exists()


def test_record_pushed_skips_an_inactive_chosen_location_for_the_primary(org, shop, emulator):
    rows = {r.name: r for r in refresh_locations(shop)}
    StoreLocation.objects.filter(pk=rows["Warehouse"].pk).update(is_active=False)
    shop.stock_location = rows["Warehouse"]
    shop.save()
    record_pushed(shop, _product(org, "MUG", stocks=(2,)))
    assert [lv.location.name for lv in InventoryLevel.objects.select_related("location")] == ["Shop location"]


# --------------------------------------------------------------------------- read_levels


def test_read_levels_reads_every_location_and_marks_ours(org, shop, emulator):
    rows = {r.name: r for r in refresh_locations(shop)}
    product = _product(org, "BOOT", stocks=(5, 8))
    listing = _publish(shop, product)
    first, second = product.variants.order_by("position")
    remote = next(p for p in emulator.products() if p["handle"] == "boot")
    warehouse = emulator.locations()[1]
    emulator.edit_product(remote["id"], variants=[{"id": remote["variants"][0]["id"], "inventory_quantity": 11,
                                                   "location_id": warehouse["id"]}])
    InventoryLevel.objects.create(location=rows["Warehouse"], variant=second, available=99)  # gone from the store

    levels = read_levels(shop, listing)
    got = {(lv.variant.sku, lv.location.name): (lv.available, lv.pushed) for lv in levels}
    assert got == {("BOOT-0", "Shop location"): (5, True), ("BOOT-0", "Warehouse"): (11, False),
                   ("BOOT-1", "Shop location"): (8, True)}
    assert InventoryLevel.objects.count() == 3
    assert Event.objects.get(topic="inventory.read").payload["quiet"] is True


def test_read_levels_learns_a_location_it_did_not_know(org, shop, emulator):
    refresh_locations(shop)
    product = _product(org, "SOCK", stocks=(2,))
    listing = _publish(shop, product)
    popup = emulator.add_location("Pop-up")
    remote = next(p for p in emulator.products() if p["handle"] == "sock")
    emulator.edit_product(remote["id"], variants=[{"id": remote["variants"][0]["id"], "inventory_quantity": 4,
                                                   "location_id": popup["id"]}])
    levels = read_levels(shop, listing)
    assert {lv.location.name: lv.available for lv in levels} == {"Shop location": 2, "Pop-up": 4}
    assert StoreLocation.objects.get(external_id=_gid(popup)).is_active


def test_read_levels_skips_variants_the_listing_does_not_bind(org, shop, emulator):
    refresh_locations(shop)
    product = _product(org, "BELT", stocks=(3,))
    listing = _publish(shop, product)
    remote = next(p for p in emulator.products() if p["handle"] == "belt")
    emulator.edit_product(remote["id"], variants=[{"id": remote["variants"][0]["id"], "inventory_quantity": 9}])
    listing.variant_ids = {variant_key("OTHER", 1): "gid://shopify/ProductVariant/1"}
    listing.save()
    before = sorted(InventoryLevel.objects.values_list("location_id", "variant_id", "available"))
    levels = read_levels(shop, listing)
    assert sorted((lv.location_id, lv.variant_id, lv.available) for lv in levels) == before  # nothing read: 9 unseen
    assert sorted(InventoryLevel.objects.values_list("location_id", "variant_id", "available")) == before
