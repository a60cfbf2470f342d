"""Sync strategies, triggers, stock rules and the sync history, against the WooCommerce emulator over HTTP."""

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from agents import runner
from agents.models import Job, SyncRun
from agents.services import enqueue
from agents.triggers import request_sync, run_due_syncs
from products.services import apply_snapshot
from stores.models import Listing, Store
from tests.agents.test_sync import catalog, emulator, publish, store  # noqa: F401  (fixtures)


def _stock_of(emulator, sku):
    for product in emulator.products():
        if product.get("sku") == sku:
            return product.get("stock_quantity")
        for variation in product["variation_details"]:
            if variation.get("sku") == sku:
                return variation.get("stock_quantity")
    raise AssertionError(f"{sku} not in the store")


def test_incremental_sync_looks_only_at_what_changed(catalog, store, emulator):
    first = publish(store)  # no cursor yet: runs full
    assert first["considered"] == catalog.count()
    store.refresh_from_db()
    assert store.sync_cursor is not None
    beanie = catalog.get(sku="woo-beanie")
    snap = beanie.snapshot()
    snap["title"] = "Beanie, now warmer"
    apply_snapshot(beanie, snap)
    result = publish(store, strategy="incremental")
    assert result["considered"] == 1 and result["updated"] == 1
    assert any(p["name"] == "Beanie, now warmer" for p in emulator.products())
    runs = list(SyncRun.objects.filter(store=store).order_by("id").values_list("strategy", "considered", "updated"))
    assert runs[0][0] == "full" and runs[-1] == ("incremental", 1, 1)


def test_incremental_sync_picks_up_deletes_and_failed_listings(catalog, store, emulator):
    publish(store)
    gone = catalog.get(sku="woo-beanie")
    gone.deleted_at = timezone.now()
    gone.save(update_fields=["deleted_at", "updated_at"])
    failed = Listing.objects.filter(store=store).exclude(product=gone).first()
    Listing.objects.filter(pk=failed.pk).update(state="error")
    result = publish(store, strategy="incremental")
    assert result["considered"] == 2 and result["deleted"] == 1 and result["updated"] == 1
    assert not any(p["sku"] == "woo-beanie" for p in emulator.products())


def test_full_and_incremental_leave_conflicts_for_review_but_selective_overwrites(catalog, store, emulator):
    publish(store)
    listing = Listing.objects.filter(store=store).first()
    Listing.objects.filter(pk=listing.pk).update(state="conflict")
    assert publish(store, strategy="full")["updated"] == 0
    assert Listing.objects.get(pk=listing.pk).state == "conflict"
    assert publish(store, product_ids=[listing.product_id])["updated"] == 1
    assert Listing.objects.get(pk=listing.pk).state == "in_sync"


def test_stock_rule_buffer_and_percentage_shape_what_the_store_sells(catalog, store, emulator):
    variant = catalog.get(sku="woo-beanie").variants.get()
    variant.stock = 10
    variant.save()
    Store.objects.filter(pk=store.pk).update(stock_rule="buffer", stock_buffer=3)
    publish(Store.objects.get(pk=store.pk))
    assert _stock_of(emulator, "woo-beanie") == 7
    Store.objects.filter(pk=store.pk).update(stock_rule="percent", stock_percent=50)
    publish(Store.objects.get(pk=store.pk), strategy="full")
    assert _stock_of(emulator, "woo-beanie") == 5
    assert Store(stock_rule="percent", stock_percent=50).published_stock(1) == 0
    assert Store(stock_rule="buffer", stock_buffer=3).published_stock(2) == 0
    assert Store(stock_rule="all").published_stock(None) is None


def test_catalog_edits_are_debounced_into_one_sync_and_stock_goes_first(catalog, store, emulator, settings):
    settings.SYNC_DEBOUNCE_SECONDS, settings.SYNC_STOCK_DEBOUNCE_SECONDS = 30, 2
    publish(store)
    products = list(catalog.filter(sku__in=["woo-beanie", "woo-belt"]))
    for product in products:
        snap = product.snapshot()
        snap["title"] += " (new)"
        apply_snapshot(product, snap)
    waiting = Job.objects.filter(store=store, status="queued", params__trigger="catalog")
    assert waiting.count() == 1
    job = waiting.get()
    assert job.params["strategy"] == "incremental" and job.run_after > timezone.now() + timedelta(seconds=20)
    assert Job.claim_next() is None  # not due yet
    # A stock-only edit: high priority, and it pulls the waiting sync forward.
    belt = catalog.get(sku="woo-belt")
    snap = belt.snapshot()
    snap["variants"][0]["stock"] = (snap["variants"][0]["stock"] or 0) + 5
    apply_snapshot(belt, snap)
    job.refresh_from_db()
    assert job.priority == 20 and job.run_after < timezone.now() + timedelta(seconds=3)
    assert runner.execute(job.pk) == "succeeded"
    job.refresh_from_db()
    assert job.result["considered"] == 2 and job.result["updated"] == 2


def test_due_stores_get_one_scheduled_sync(org, catalog, store, emulator):
    Store.objects.filter(pk=store.pk).update(auto_sync=True, sync_interval=300, last_synced_at=None)
    idle = Store.objects.create(organization=org, name="Manual only", base_url=emulator.base_url,
                                consumer_key="ck_demo", consumer_secret="cs_demo", auto_sync=False)
    assert run_due_syncs() == 1
    assert run_due_syncs() == 1  # same unfinished job returned, not a second one
    assert Job.objects.filter(store=store, params__trigger="schedule").count() == 1
    assert not Job.objects.filter(store=idle).exists()
    Job.objects.filter(store=store).update(status="succeeded")
    Store.objects.filter(pk=store.pk).update(last_synced_at=timezone.now() - timedelta(seconds=60))
    assert run_due_syncs() == 0  # synced a minute ago, interval 5 min


def test_disabled_store_gets_no_sync(catalog, store):
    Store.objects.filter(pk=store.pk).update(is_enabled=False)
    assert request_sync(Store.objects.get(pk=store.pk), trigger="manual") is None


def test_sync_history_records_a_failed_run(catalog, store, emulator):
    from stores.emulators.faults import FaultPlan

    emulator.set_faults(FaultPlan(error_rate=1.0, seed=1))
    job = enqueue(store.organization, "store.publish", store=store, params={"strategy": "full"})
    assert runner.execute(job.pk) in ("retry", "dead")
    run = SyncRun.objects.get(job=job)
    assert run.status == "failed" and run.finished_at and run.error
    store.refresh_from_db()
    assert store.sync_cursor is None  # an incomplete run does not move the cursor


def test_money_is_unchanged_by_incremental_planning(catalog, store, emulator):
    publish(store)
    beanie = catalog.get(sku="woo-beanie")
    snap = beanie.snapshot()
    snap["variants"][0]["price"] = "12.99"
    apply_snapshot(beanie, snap)
    publish(store, strategy="incremental")
    stored = next(p for p in emulator.products() if p["sku"] == "woo-beanie")
    assert Decimal(stored["price"]) == Decimal("12.99")
