"""Sync agent against the WooCommerce emulator over real HTTP: create, skip unchanged, never duplicate."""

from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

from agents import runner
from agents.services import enqueue
from approvals.services import decide, request_delete
from products.importers import apply_catalog, parse_catalog
from products.models import Product
from products.services import edit_product
from stores.emulators.woocommerce import start_emulator
from stores.models import Listing, Store

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
WRITES = {"POST", "PUT", "PATCH", "DELETE"}


@pytest.fixture
def emulator():
    with start_emulator() as running:
        yield running


@pytest.fixture
def catalog(org):
    text = (SHARED_DATA / "woocommerce" / "sample_products.csv").read_text(encoding="utf-8-sig")
    apply_catalog(org, parse_catalog("woocommerce", text))
    return Product.objects.filter(organization=org)


@pytest.fixture
def store(org, emulator):
    return Store.objects.create(
        organization=org, name="Emulated Woo", base_url=emulator.base_url, consumer_key="ck_demo", consumer_secret="cs_demo"
    )


def publish(store, **params):
    job = enqueue(store.organization, "store.publish", store=store, params=params)
    status = runner.execute(job.pk)
    job.refresh_from_db()
    assert status == "succeeded", job.error
    return job.result


def remote_skus(emulator):
    """Every SKU the store holds, products and variations, counted."""
    skus = Counter()
    for product in emulator.products():
        if product.get("sku"):
            skus[product["sku"]] += 1
        for variation in product["variation_details"]:
            if isinstance(variation, dict) and variation.get("sku"):
                skus[variation["sku"]] += 1
    return skus


def test_publish_creates_the_whole_catalog(catalog, store, emulator):
    result = publish(store)
    assert result["created"] == catalog.count() and result["failed"] == 0
    assert len(emulator.products()) == catalog.count()
    assert Listing.objects.filter(store=store, state="in_sync").count() == catalog.count()
    hoodie = Listing.objects.get(store=store, product__sku="woo-hoodie")
    assert len(hoodie.variant_ids) == hoodie.product.variants.count() > 1


def test_second_run_without_changes_makes_no_write_calls(catalog, store, emulator):
    publish(store)
    emulator.reset_log()
    result = publish(store, strategy="full")
    assert result == {"created": 0, "updated": 0, "deleted": 0, "unchanged": catalog.count(), "failed": 0,
                      "considered": catalog.count()}
    assert not [call for call in emulator.request_log if call[0] in WRITES]


def test_retry_after_a_crash_never_duplicates(catalog, store, emulator):
    publish(store)
    # A crashed attempt: the store has everything, our listings were never saved.
    Listing.objects.filter(store=store).delete()
    result = publish(store, strategy="full")
    assert result["failed"] == 0
    assert all(count == 1 for count in remote_skus(emulator).values())
    assert len(emulator.products()) == catalog.count()


def test_price_change_updates_only_that_product(catalog, store, emulator, operator):
    publish(store)
    product = catalog.get(sku="woo-beanie")
    variant = product.variants.get()
    emulator.reset_log()
    edit_product(
        product,
        {"title": product.title, "status": product.status, "description": product.description},
        {variant.pk: {"price": variant.price - Decimal("1.00"), "compare_at_price": variant.compare_at_price, "stock": variant.stock}},
        operator,
    )
    result = publish(store)  # the store's default strategy, incremental: only the changed product is looked at
    assert result["updated"] == 1 and result["considered"] == 1 and result["created"] == 0
    stored = next(p for p in emulator.products() if p["sku"] == "woo-beanie")
    assert Decimal(stored["price"]) == variant.price - Decimal("1.00")


def test_approved_delete_removes_the_product_from_the_store(catalog, store, emulator, operator, manager):
    publish(store)
    product = catalog.get(sku="woo-beanie")
    approval = request_delete(product, user=operator)
    assert any(p["sku"] == "woo-beanie" for p in emulator.products())
    decide(approval, membership=manager.memberships.get(), verdict="approve")
    # Approval queued a publish of this product; run what the workers would.
    from agents.models import Job

    job = Job.objects.filter(store=store, status="queued").get()
    assert runner.execute(job.pk) == "succeeded"
    assert not any(p["sku"] == "woo-beanie" for p in emulator.products())
    assert not Listing.objects.filter(product=product).exists()


def test_grouped_product_is_created_after_children_in_later_batches(org, emulator):
    """Batches of 2: the grouped product sorts first by title, its children land in later batches."""
    from tests.factories import ProductFactory, VariantFactory

    for title, sku in [("Zeta Stove", "Z-STOVE"), ("Zulu Pot", "Z-POT"), ("Yankee Mug", "Y-MUG")]:
        VariantFactory(product=ProductFactory(organization=org, title=title, sku=sku), sku=sku)
    ProductFactory(organization=org, title="Alpha Kitchen Kit", sku="A-KIT", kind="grouped", grouped_skus=["Z-STOVE", "Z-POT", "Y-MUG"])
    store = Store.objects.create(
        organization=org, name="Small batches", base_url=emulator.base_url,
        consumer_key="ck_demo", consumer_secret="cs_demo", batch_size=2,
    )
    result = publish(store)
    assert result["created"] == 4 and result["failed"] == 0
    kit = next(p for p in emulator.products() if p["sku"] == "A-KIT")
    assert len(kit["grouped_products"]) == 3


def test_open_breaker_pauses_the_publish_without_failing_listings(catalog, store, emulator):
    from datetime import timedelta

    from django.utils import timezone

    from agents.models import Job

    Store.objects.filter(pk=store.pk).update(breaker_state="open", breaker_opened_at=timezone.now() - timedelta(seconds=1))
    job = enqueue(store.organization, "store.publish", store=store)
    assert runner.execute(job.pk) == "retry"
    job = Job.objects.get(pk=job.pk)
    assert job.attempts == 0
    assert not emulator.products()
    assert not Listing.objects.filter(store=store, state="error").exists()


def test_editing_a_product_listed_on_a_disabled_store_still_saves(catalog, store, emulator, operator):
    from agents.models import Job

    publish(store)
    Store.objects.filter(pk=store.pk).update(is_enabled=False)
    product = catalog.get(sku="woo-beanie")
    variant = product.variants.get()
    edit_product(
        product,
        {"title": "Beanie (winter)", "status": product.status, "description": product.description},
        {variant.pk: {"price": variant.price, "compare_at_price": variant.compare_at_price, "stock": variant.stock}},
        operator,
    )
    assert Product.objects.get(pk=product.pk).title == "Beanie (winter)"
    assert not Job.objects.filter(store=store, status="queued").exists()
