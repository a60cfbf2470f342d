"""Field-selective sync: prices and stock written alone, against both emulators over real HTTP.

A listing whose content is unchanged gets only its changed prices or stock
(cheaper calls); a store scoped to "price and stock only" never gets titles
or descriptions, nor new products; a one-off ``fields`` run writes only what
it names and leaves the rest for the next sync.
"""

from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone

from agents import runner
from agents.models import Job, SyncRun
from agents.services import enqueue
from products.importers import apply_catalog, parse_catalog
from products.models import Product, Variant, hash_json
from products.services import apply_snapshot
from stores.emulators.shopify import start_emulator as start_shopify
from stores.models import Listing, Store
from tests.agents.test_sync import WRITES, catalog, emulator, publish, store  # noqa: F401  (fixtures)

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
TOKEN = "shpat_fields"


def _edit(product, **changes):
    """A catalog edit through the same service the product page uses (bumps ``updated_at``)."""
    snap = product.snapshot()
    variants = changes.pop("variants", {})
    snap.update(changes)
    for v in snap["variants"]:
        v.update(variants.get(v["sku"], {}))
    apply_snapshot(product, snap)


def _woo_product(emulator, sku):
    return next(p for p in emulator.products() if p.get("sku") == sku)


def _woo_variation(emulator, sku):
    for product in emulator.products():
        for variation in product["variation_details"]:
            if variation.get("sku") == sku:
                return variation
    raise AssertionError(f"{sku} not in the store")


def _writes(emulator):
    return [(method, path) for method, path in emulator.request_log if method in WRITES]


# --------------------------------------------------------------------------- WooCommerce


def _track_stock(catalog, quantity=5):
    """The shared sample tracks no stock; tracking it is a content change, so do it before the first publish."""
    Variant.objects.filter(product__in=catalog).update(stock=quantity)


def test_a_price_change_writes_only_prices_and_leaves_the_listing_whole(catalog, store, emulator):
    _track_stock(catalog)
    publish(store)
    beanie = catalog.get(sku="woo-beanie")
    hoodie = catalog.get(sku="woo-hoodie")
    hoodie_variant = hoodie.variants.order_by("position").first()
    _edit(beanie, variants={"woo-beanie": {"price": "21.50"}})
    _edit(hoodie, variants={hoodie_variant.sku: {"price": "47.00", "stock": 3}})
    emulator.reset_log()

    result = publish(store, strategy="incremental")

    assert result["updated"] == 2 and result["failed"] == 0
    hoodie_listing = Listing.objects.get(store=store, product=hoodie)
    # one batch for the simple product, one variations batch for the variable one; nothing read back, no full write
    assert sorted(_writes(emulator)) == sorted([
        ("POST", "/wp-json/wc/v3/products/batch"),
        ("POST", f"/wp-json/wc/v3/products/{hoodie_listing.external_id}/variations/batch"),
    ])
    assert not [call for call in emulator.request_log if call[0] == "GET"]
    assert _woo_product(emulator, "woo-beanie")["regular_price"] == "21.50"
    variation = _woo_variation(emulator, hoodie_variant.sku)
    assert variation["regular_price"] == "47.00" and variation["stock_quantity"] == 3
    # the store holds the whole payload again: in sync, and a full sync has nothing to write
    plugin = store.plugin()
    for listing in Listing.objects.filter(store=store, product__in=[beanie, hoodie]):
        assert listing.state == "in_sync"
        assert listing.content_hash == hash_json(plugin.build_payload(listing.product))
    emulator.reset_log()
    again = publish(store, strategy="full")
    assert again["updated"] == 0 and again["unchanged"] == catalog.count()
    assert not _writes(emulator)
    # the snapshot carries what was written, so a later pull compares with the truth
    assert any(v.get("regular_price") == "47.00" for v in hoodie_listing.remote_snapshot["variations_detail"])


def test_a_content_change_still_writes_the_whole_product(catalog, store, emulator):
    publish(store)
    beanie = catalog.get(sku="woo-beanie")
    _edit(beanie, title="Beanie, warmer", variants={"woo-beanie": {"price": "19.00"}})
    result = publish(store, strategy="incremental")
    assert result["updated"] == 1
    remote = _woo_product(emulator, "woo-beanie")
    assert remote["name"] == "Beanie, warmer" and remote["sale_price"] == "19.00"  # below its compare-at 20.00
    assert SyncRun.objects.filter(store=store).first().fields == ""  # whole products


def test_a_store_scoped_to_price_and_stock_never_gets_content_or_new_products(catalog, store, emulator, org):
    _track_stock(catalog)
    publish(store)
    Store.objects.filter(pk=store.pk).update(sync_scope="price_stock")
    store.refresh_from_db()
    beanie = catalog.get(sku="woo-beanie")
    _edit(beanie, title="Renamed in the catalog", variants={"woo-beanie": {"price": "9.99", "stock": 4}})
    before = len(emulator.products())
    new = Product.objects.create(organization=org, title="Brand new", handle="brand-new", sku="brand-new")
    new.variants.create(organization=org, sku="brand-new", price=Decimal("5.00"), position=0)

    result = publish(store, strategy="incremental")

    remote = _woo_product(emulator, "woo-beanie")
    assert remote["sale_price"] == "9.99" and remote["stock_quantity"] == 4
    assert remote["name"] != "Renamed in the catalog"
    assert len(emulator.products()) == before and result["created"] == 0
    listing = Listing.objects.get(store=store, product=beanie)
    assert listing.state == "in_sync"  # every field this store takes from the catalog is there
    run = SyncRun.objects.filter(store=store).first()
    assert run.fields == "price,stock" and run.updated == 1
    job = Job.objects.filter(store=store).order_by("-id").first()
    assert any("1 not listed in this store, left alone" in line for line in job.log)
    store.refresh_from_db()
    assert store.sync_cursor >= run.started_at  # the store's scope is covered: the cursor moves


def test_a_one_off_stock_run_leaves_content_for_the_next_sync(catalog, store, emulator):
    _track_stock(catalog)
    publish(store)
    beanie = catalog.get(sku="woo-beanie")
    _edit(beanie, title="Beanie v2", variants={"woo-beanie": {"stock": 11}})
    store.refresh_from_db()
    cursor = store.sync_cursor

    result = publish(store, strategy="incremental", fields=["stock"])

    remote = _woo_product(emulator, "woo-beanie")
    assert result["updated"] == 1
    assert remote["stock_quantity"] == 11 and remote["name"] != "Beanie v2"
    store.refresh_from_db()
    assert store.sync_cursor == cursor  # the title is still to publish
    publish(store, strategy="incremental")
    assert _woo_product(emulator, "woo-beanie")["name"] == "Beanie v2"


def test_an_unknown_field_group_fails_the_job_naming_the_parameter(catalog, store, emulator):
    job = enqueue(store.organization, "store.publish", store=store, params={"fields": ["price", "title"]})
    assert runner.execute(job.pk) == "dead"
    job.refresh_from_db()
    assert "params['fields']" in job.error and "'title'" in job.error and "price or stock" in job.error
    assert not _writes(emulator)


# --------------------------------------------------------------------------- Shopify


@pytest.fixture
def shop():
    with start_shopify(access_token=TOKEN) as running:
        yield running


@pytest.fixture
def shop_store(org, shop):
    text = (SHARED_DATA / "shopify" / "product_template.csv").read_text(encoding="utf-8-sig")
    apply_catalog(org, parse_catalog("shopify", text))
    store = Store.objects.create(organization=org, name="Emulated Shop", platform="shopify",
                                 base_url=shop.base_url, consumer_secret=TOKEN)
    publish(store)
    return store


def _operations(shop):
    return [operation for _method, _path, operation in shop.request_log if operation]


def _shop_variant(shop, sku):
    for product in shop.products():
        for variant in product["variants"]:
            if variant["sku"] == sku:
                return variant
    raise AssertionError(f"{sku} not in the shop")


def test_shopify_prices_go_through_variants_bulk_update_and_stock_in_one_shared_call(org, shop_store, shop):
    products = list(Product.objects.filter(organization=org).exclude(kind="grouped").prefetch_related("variants"))
    tracked = [p for p in products if any(v.stock is not None for v in p.variants.all())][:3]
    assert len(tracked) >= 2, "the shared Shopify file has products with stock"
    priced = products[0]
    first = priced.variants.order_by("position").first()
    _edit(priced, variants={first.sku: {"price": "123.45"}})
    for product in tracked:
        _edit(product, variants={v.sku: {"stock": 7} for v in product.variants.all() if v.stock is not None})
    shop.reset_log()

    result = publish(shop_store, strategy="incremental")

    assert result["failed"] == 0 and result["updated"] == len({priced.pk, *[p.pk for p in tracked]})
    operations = _operations(shop)
    assert "FlashFusionProductSet" not in operations
    assert operations.count("FlashFusionInventorySet") == 1  # every product's stock in one call
    assert "FlashFusionVariantsBulkUpdate" in operations
    assert Decimal(_shop_variant(shop, first.sku)["price"]) == Decimal("123.45")
    for product in tracked:
        for variant in product.variants.all():
            if variant.stock is not None:
                assert _shop_variant(shop, variant.sku)["inventory_quantity"] == 7
    # the snapshot holds the level set at our location, as a pull reads the store (not the all-locations total)
    from agents.pull import shopify_fields

    for product in tracked:
        listing = Listing.objects.get(store=shop_store, product=product)
        assert listing.remote_snapshot["_stockLocation"].startswith("gid://shopify/Location/")
        stocks = {k: v for k, v in shopify_fields(listing.remote_snapshot).items() if k.endswith("stock")}
        assert stocks and set(stocks.values()) == {"7"}
    shop.reset_log()
    assert publish(shop_store, strategy="full")["updated"] == 0
    assert "FlashFusionProductSet" not in _operations(shop)


def test_shopify_stock_refused_for_one_product_fails_only_that_product(org, shop_store, shop):
    products = [p for p in Product.objects.filter(organization=org).exclude(kind="grouped")
                if any(v.stock is not None for v in p.variants.all())][:2]
    broken, fine = products
    # the broken listing's snapshot names an inventory item the shop does not have
    listing = Listing.objects.get(store=shop_store, product=broken)
    for node in listing.remote_snapshot["variants"]["nodes"]:
        node["inventoryItem"]["id"] = "gid://shopify/InventoryItem/999999999"
    listing.save(update_fields=["remote_snapshot"])
    for product in products:
        _edit(product, variants={v.sku: {"stock": 2} for v in product.variants.all() if v.stock is not None})

    job = enqueue(org, "store.publish", store=shop_store, params={"strategy": "incremental"})
    runner.execute(job.pk)
    job.refresh_from_db()

    assert Listing.objects.get(store=shop_store, product=broken).state == "error"
    assert Listing.objects.get(store=shop_store, product=fine).state == "in_sync"
    for variant in fine.variants.all():
        if variant.stock is not None:
            assert _shop_variant(shop, variant.sku)["inventory_quantity"] == 2


def test_a_shopify_store_scoped_to_stock_starts_tracking_when_the_catalog_does(org, shop_store, shop):
    Store.objects.filter(pk=shop_store.pk).update(sync_scope="stock")
    shop_store.refresh_from_db()
    product = next(p for p in Product.objects.filter(organization=org).exclude(kind="grouped")
                   if all(v.stock is None for v in p.variants.all()))
    _edit(product, title="Not for this store", variants={v.sku: {"stock": 6} for v in product.variants.all()})

    result = publish(shop_store, strategy="incremental")

    assert result["updated"] == 1 and result["failed"] == 0
    for variant in product.variants.all():
        remote = _shop_variant(shop, variant.sku)
        assert remote["inventory_management"] == "shopify" and remote["inventory_quantity"] == 6
    assert all(p["title"] != "Not for this store" for p in shop.products())


def test_stock_written_alone_is_noted_at_the_store_stock_location(org, shop_store, shop):
    from stores.inventory import refresh_locations
    from stores.models import InventoryLevel

    refresh_locations(shop_store)
    shop_store.refresh_from_db()
    product = next(p for p in Product.objects.filter(organization=org).exclude(kind="grouped")
                   if any(v.stock is not None for v in p.variants.all()))
    _edit(product, variants={v.sku: {"stock": 9} for v in product.variants.all() if v.stock is not None})

    assert publish(shop_store, strategy="incremental")["updated"] == 1

    levels = InventoryLevel.objects.filter(variant__product=product, location__store=shop_store)
    assert levels and all(lv.available == 9 and lv.pushed and lv.location.is_primary for lv in levels)


# --------------------------------------------------------------------------- edge cases a review found


def _sync_run(store, **params):
    job = enqueue(store.organization, "store.publish", store=store, params=params)
    status = runner.execute(job.pk)
    job.refresh_from_db()
    return status, job


def test_a_one_off_price_write_then_undoing_every_edit_still_restores_the_store(catalog, store, emulator):
    _track_stock(catalog)
    publish(store)
    beanie = catalog.get(sku="woo-beanie")
    original = beanie.snapshot()
    _edit(beanie, title="Beanie for a day", variants={"woo-beanie": {"price": "25.00"}})
    publish(store, strategy="incremental", fields=["price", "stock"])
    assert _woo_product(emulator, "woo-beanie")["regular_price"] == "25.00"
    apply_snapshot(beanie, original)  # back to exactly what was published whole before

    publish(store, strategy="full")

    remote = _woo_product(emulator, "woo-beanie")
    assert remote["sale_price"] == "18.00" and remote["name"] == original["title"]


def test_a_pending_listing_stays_pending_after_a_fields_run(catalog, store, emulator):
    _track_stock(catalog)
    publish(store)
    listing = Listing.objects.get(store=store, product__sku="woo-beanie")
    emulator.edit_product(int(listing.external_id), name="Shop owner's title")  # no webhook subscription here
    Listing.objects.filter(pk=listing.pk).update(state="pending")  # as "catalog wins" leaves it
    _edit(listing.product, variants={"woo-beanie": {"price": "19.50"}})

    publish(store, strategy="full", fields=["price", "stock"])
    listing.refresh_from_db()
    assert listing.state == "pending" and listing.content_hash == ""

    publish(store, product_ids=[listing.product_id])  # the catalog-wins publish
    assert _woo_product(emulator, "woo-beanie")["name"] == listing.product.title


def test_a_scoped_store_never_writes_a_product_whole_for_a_new_variant(catalog, store, emulator, org):
    _track_stock(catalog)
    publish(store)
    Store.objects.filter(pk=store.pk).update(sync_scope="price_stock")
    store.refresh_from_db()
    hoodie = catalog.get(sku="woo-hoodie")
    Variant.objects.create(organization=org, product=hoodie, sku="woo-hoodie-black", price=Decimal("44.00"),
                           stock=2, position=9, option_values={"Color": "Black"})
    _edit(hoodie, title="Catalog-only title")

    status, job = _sync_run(store, strategy="incremental")

    remote = _woo_product(emulator, "woo-hoodie")
    assert remote["name"] != "Catalog-only title"
    listing = Listing.objects.get(store=store, product=hoodie)
    assert listing.state == "error" and "Publish now" in listing.last_error
    assert status == "partial" and job.result["failed"] == 1
    assert job.result["failed_product_ids"] == [hoodie.pk] and "Publish now" in job.result["failed_items"][0]["error"]


def test_the_prices_and_stock_run_keeps_to_a_price_only_store(catalog, store, emulator):
    _track_stock(catalog)
    publish(store)
    Store.objects.filter(pk=store.pk).update(sync_scope="price")
    store.refresh_from_db()
    _edit(catalog.get(sku="woo-beanie"), variants={"woo-beanie": {"price": "17.00", "stock": 9}})

    publish(store, strategy="full", fields=["price", "stock"])

    remote = _woo_product(emulator, "woo-beanie")
    assert remote["sale_price"] == "17.00" and remote["stock_quantity"] == 5


def test_unpublish_and_catalog_deletes_reach_a_scoped_store(catalog, store, emulator):
    publish(store)
    Store.objects.filter(pk=store.pk).update(sync_scope="price_stock")
    store.refresh_from_db()
    beanie, belt = catalog.get(sku="woo-beanie"), catalog.get(sku="woo-belt")

    publish(store, product_ids=[beanie.pk], unpublish=True)
    Product.objects.filter(pk=belt.pk).update(deleted_at=timezone.now())
    publish(store, strategy="incremental")

    skus = {p.get("sku") for p in emulator.products()}
    assert "woo-beanie" not in skus and "woo-belt" not in skus


def test_publish_now_writes_the_whole_product_to_a_scoped_store(catalog, store, emulator):
    publish(store)
    Store.objects.filter(pk=store.pk).update(sync_scope="price_stock")
    store.refresh_from_db()
    beanie = catalog.get(sku="woo-beanie")
    _edit(beanie, title="Beanie, on purpose")
    publish(store, product_ids=[beanie.pk], whole=True)
    assert _woo_product(emulator, "woo-beanie")["name"] == "Beanie, on purpose"


def test_widening_the_scope_sends_what_was_held_back(catalog, store, emulator):
    publish(store)
    Store.objects.filter(pk=store.pk).update(sync_scope="price_stock")
    store.refresh_from_db()
    beanie = catalog.get(sku="woo-beanie")
    _edit(beanie, title="Held back while scoped")
    publish(store, strategy="incremental")
    assert _woo_product(emulator, "woo-beanie")["name"] != "Held back while scoped"

    store.sync_scope = "all"
    store.save(update_fields=["sync_scope"])
    assert store.widen_sync_scope("price_stock") is True
    publish(Store.objects.get(pk=store.pk), strategy="incremental")

    assert _woo_product(emulator, "woo-beanie")["name"] == "Held back while scoped"
    assert Store(sync_scope="price").widen_sync_scope("price_stock") is False  # narrower: nothing to forget


def test_a_scoped_store_stops_tracking_stock_when_the_catalog_does(catalog, store, emulator):
    _track_stock(catalog)
    publish(store)
    Store.objects.filter(pk=store.pk).update(sync_scope="stock")
    store.refresh_from_db()
    _edit(catalog.get(sku="woo-beanie"), variants={"woo-beanie": {"stock": None}})
    publish(store, strategy="incremental")
    assert _woo_product(emulator, "woo-beanie")["manage_stock"] is False


def test_a_variation_error_keeps_its_type_and_retry_time():
    from datetime import datetime, timezone as tz

    from stores.breaker import CircuitOpen
    from stores.plugins.woocommerce import _variation_error

    open_breaker = CircuitOpen("breaker open", retry_after=12.0, until=datetime.now(tz.utc))
    err = _variation_error(open_breaker, {"sku": "TEE-RED"})
    assert isinstance(err, CircuitOpen) and err.retry_after == 12.0 and err.until == open_breaker.until
    assert str(err) == "variation TEE-RED: breaker open" and open_breaker.message == "breaker open"
