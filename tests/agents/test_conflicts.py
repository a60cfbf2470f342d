"""Store edits against the catalog, field by field, under each conflict resolution (``agents.conflicts``):
a shop-side edit in the WooCommerce emulator goes out as a signed webhook over real HTTP, the ``store.pull``
job compares last synced, catalog and store, and acts as the store's policy says."""

import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from agents import runner
from agents.conflicts import CATALOG, CONFLICT, SAME, STORE, FieldChange, three_way, winners
from agents.models import Job
from approvals.diff import review_context
from approvals.models import ApprovalRequest
from approvals.services import decide
from flashfusion.models import Event
from products.models import Product, Variant
from stores.models import Store, WebhookDelivery
from stores.webhooks import replay
from tests.agents.test_pull import (  # noqa: F401 (fixtures)
    _listing,
    _pull_the_last_delivery,
    catalog,
    emulator,
    published,
    store,
    subscribed,
)

TSHIRT = "woo-tshirt"  # a simple product at 18.00 in the sample catalog


def _policy(store, policy: str) -> None:
    Store.objects.filter(pk=store.pk).update(conflict_resolution=policy)


def _store_price(emulator, listing) -> str:
    return next(p for p in emulator.products() if str(p["id"]) == listing.external_id)["regular_price"]


def _catalog_price(listing) -> Decimal:
    return Variant.objects.filter(product=listing.product).order_by("position").first().price


def _catalog_edit(listing, *, price: str, newer_than_store: bool | None = None) -> None:
    """An operator's catalog edit that is not published yet (no publish job runs)."""
    Variant.objects.filter(product=listing.product).update(price=Decimal(price))
    if newer_than_store is not None:
        moment = timezone.now() + timedelta(days=1 if newer_than_store else -1)
        Product.objects.filter(pk=listing.product_id).update(updated_at=moment)


def _queued_publishes(store) -> list[Job]:
    return list(Job.objects.filter(kind="store.publish", store=store, status="queued").order_by("id"))


def _run_publishes(store) -> None:
    for job in _queued_publishes(store):
        assert runner.execute(job.pk) == "succeeded", job.error


def _member(user):
    return user.memberships.get()


# --------------------------------------------------------------------------- store-only edits


def test_store_only_edit_catalog_wins_publishes_the_catalog_again(subscribed, emulator):
    _policy(subscribed, "source_wins")
    listing = _listing(subscribed, TSHIRT)
    emulator.edit_product(int(listing.external_id), regular_price="15")
    delivery = _pull_the_last_delivery(emulator)

    assert delivery.job.result == {"resolved": 1, "taken": 0, "kept": 1}
    assert any("price: catalog 18.00, store 15.00, last synced 18.00 — changed in store → catalog wins" in line
               for line in delivery.job.log)
    listing.refresh_from_db()
    assert listing.state == "pending"
    [job] = _queued_publishes(subscribed)
    assert job.params == {"product_ids": [listing.product_id]}
    event = Event.objects.get(topic="listing.conflict_resolved")
    assert event.payload["changes"][0]["winner"] == "catalog" and event.payload["job_id"] == job.pk
    assert not ApprovalRequest.objects.exists()

    _run_publishes(subscribed)
    assert _store_price(emulator, listing) == "18.00"
    listing.refresh_from_db()
    assert listing.state == "in_sync" and _catalog_price(listing) == Decimal("18.00")


@pytest.mark.parametrize("policy", ["target_wins", "newest_wins"])
def test_store_only_edit_is_taken_into_the_catalog(subscribed, emulator, policy):
    _policy(subscribed, policy)
    listing = _listing(subscribed, TSHIRT)
    emulator.edit_product(int(listing.external_id), regular_price="15", name="T-Shirt (shop)")
    delivery = _pull_the_last_delivery(emulator)

    assert delivery.job.result == {"resolved": 1, "taken": 2, "kept": 0}
    product = Product.objects.get(pk=listing.product_id)
    assert product.title == "T-Shirt (shop)" and _catalog_price(listing) == Decimal("15.00")
    listing.refresh_from_db()
    assert listing.state == "in_sync" and listing.remote_snapshot["regular_price"] == "15"
    assert Event.objects.filter(topic="product.updated").exists()
    # every store listing the product gets a publish; this one has nothing left to write
    [job] = _queued_publishes(subscribed)
    assert runner.execute(job.pk) == "succeeded"
    job.refresh_from_db()
    assert job.result["unchanged"] == 1 and job.result["updated"] == 0


def test_store_only_edit_asks_a_reviewer_under_manual(subscribed, emulator):
    listing = _listing(subscribed, TSHIRT)
    emulator.edit_product(int(listing.external_id), regular_price="15")
    _pull_the_last_delivery(emulator)
    listing.refresh_from_db()
    assert listing.state == "conflict"
    approval = ApprovalRequest.objects.get()
    assert approval.after["variants"][0]["price"] == "15.00"
    assert approval.before["variants"][0]["price"] == "18.00"
    assert approval.before["synced_snapshot"]["variants"][0]["price"] == "18.00"
    assert not _queued_publishes(subscribed) and _catalog_price(listing) == Decimal("18.00")


# --------------------------------------------------------------------------- both sides changed


def test_conflict_catalog_wins(subscribed, emulator):
    _policy(subscribed, "source_wins")
    listing = _listing(subscribed, TSHIRT)
    _catalog_edit(listing, price="20")
    emulator.edit_product(int(listing.external_id), regular_price="15")
    delivery = _pull_the_last_delivery(emulator)
    assert any("price: catalog 20.00, store 15.00, last synced 18.00 — changed on both sides → catalog wins" in line
               for line in delivery.job.log)
    _run_publishes(subscribed)
    assert _store_price(emulator, listing) == "20.00" and _catalog_price(listing) == Decimal("20.00")


def test_conflict_store_wins(subscribed, emulator):
    _policy(subscribed, "target_wins")
    listing = _listing(subscribed, TSHIRT)
    _catalog_edit(listing, price="20")
    emulator.edit_product(int(listing.external_id), regular_price="15")
    delivery = _pull_the_last_delivery(emulator)
    assert delivery.job.result == {"resolved": 1, "taken": 1, "kept": 0}
    assert _catalog_price(listing) == Decimal("15.00")
    listing.refresh_from_db()
    assert listing.state == "pending"  # the catalog had moved: the queued publish writes the rest
    _run_publishes(subscribed)
    listing.refresh_from_db()
    assert listing.state == "in_sync" and _store_price(emulator, listing) == "15.00"


@pytest.mark.parametrize("catalog_newer, price", [(False, "15.00"), (True, "20.00")])
def test_conflict_newest_wins_both_ways(subscribed, emulator, catalog_newer, price):
    _policy(subscribed, "newest_wins")
    listing = _listing(subscribed, TSHIRT)
    _catalog_edit(listing, price="20", newer_than_store=catalog_newer)
    emulator.edit_product(int(listing.external_id), regular_price="15")
    delivery = _pull_the_last_delivery(emulator)
    newer = "the catalog" if catalog_newer else "the store"
    assert any("newest wins:" in line and line.endswith(f"{newer} is newer") for line in delivery.job.log), \
        delivery.job.log
    assert _catalog_price(listing) == Decimal(price)
    _run_publishes(subscribed)
    assert Decimal(_store_price(emulator, listing)) == Decimal(price)
    listing.refresh_from_db()
    assert listing.state == "in_sync"


def test_conflict_under_manual_is_one_three_way_request(subscribed, emulator):
    listing = _listing(subscribed, TSHIRT)
    _catalog_edit(listing, price="20")
    emulator.edit_product(int(listing.external_id), regular_price="15")
    _pull_the_last_delivery(emulator)
    # WooCommerce's delivery id is hash(webhook id . time()): a second edit in the same second is the same
    # delivery, deduplicated like a redelivery. Edit again in the next second, as a person would.
    time.sleep(1.05 - time.time() % 1)
    emulator.edit_product(int(listing.external_id), regular_price="14")  # the shop owner tries again
    delivery = _pull_the_last_delivery(emulator)
    assert any("approval request" in line and "updated" in line for line in delivery.job.log)

    approval = ApprovalRequest.objects.get()  # one request, updated in place
    assert approval.status == "pending"
    assert approval.before["variants"][0]["price"] == "20.00"
    assert approval.before["synced_snapshot"]["variants"][0]["price"] == "18.00"
    assert approval.before["store_snapshot"]["variants"][0]["price"] == "14.00"
    assert approval.after["variants"][0]["price"] == "14.00"
    review = review_context(approval)
    assert review["kind"] == "three_way" and review["has_base"]
    states = {(r.scope, r.field): r.state for r in review["rows"]}
    assert states[(TSHIRT, "Price")] == "conflict" and states[("Product", "Title")] == "same"
    listing.refresh_from_db()
    assert listing.state == "conflict"


# --------------------------------------------------------------------------- deciding a manual request


def test_approving_takes_the_store_values_and_republishes(subscribed, emulator, manager):
    listing = _listing(subscribed, TSHIRT)
    emulator.edit_product(int(listing.external_id), regular_price="15", short_description="From the shop")
    _pull_the_last_delivery(emulator)
    approval = ApprovalRequest.objects.get()

    decide(approval, membership=_member(manager), verdict="approve")
    product = Product.objects.get(pk=listing.product_id)
    assert _catalog_price(listing) == Decimal("15.00") and product.short_description == "From the shop"
    listing.refresh_from_db()
    assert listing.state == "pending"
    assert Event.objects.get(topic="listing.conflict_resolved").payload["winner"] == "store"
    _run_publishes(subscribed)
    listing.refresh_from_db()
    assert listing.state == "in_sync" and _store_price(emulator, listing) == "15.00"


def test_rejecting_keeps_the_catalog_and_publishes_it_over_the_store(subscribed, emulator, manager):
    listing = _listing(subscribed, TSHIRT)
    emulator.edit_product(int(listing.external_id), regular_price="15")
    _pull_the_last_delivery(emulator)
    approval = ApprovalRequest.objects.get()

    decide(approval, membership=_member(manager), verdict="reject", comment="The shop's sale was a mistake")
    assert _catalog_price(listing) == Decimal("18.00")
    [job] = _queued_publishes(subscribed)
    assert job.params == {"product_ids": [listing.product_id]}
    assert Event.objects.get(topic="listing.conflict_resolved").payload["job_id"] == job.pk
    _run_publishes(subscribed)
    listing.refresh_from_db()
    assert listing.state == "in_sync" and _store_price(emulator, listing) == "18.00"


# --------------------------------------------------------------------------- unrelated fields


def test_edits_of_different_fields_do_not_conflict(subscribed, emulator):
    _policy(subscribed, "target_wins")
    listing = _listing(subscribed, TSHIRT)
    Product.objects.filter(pk=listing.product_id).update(title="T-Shirt (catalog)")
    emulator.edit_product(int(listing.external_id), regular_price="15")
    delivery = _pull_the_last_delivery(emulator)

    assert any("title: catalog T-Shirt (catalog), store T-Shirt," in line and "left to the sync" in line
               for line in delivery.job.log), delivery.job.log
    product = Product.objects.get(pk=listing.product_id)
    assert product.title == "T-Shirt (catalog)" and _catalog_price(listing) == Decimal("15.00")
    changes = Event.objects.get(topic="listing.conflict_resolved").payload["changes"]
    assert [(c["field"], c["side"]) for c in changes] == [("price", "store")]
    _run_publishes(subscribed)
    remote = next(p for p in emulator.products() if str(p["id"]) == listing.external_id)
    assert remote["name"] == "T-Shirt (catalog)" and remote["regular_price"] == "15.00"


def test_a_catalog_only_change_is_left_to_the_sync(subscribed, emulator, operator):
    listing = _listing(subscribed, TSHIRT)
    _catalog_edit(listing, price="20")
    emulator.edit_product(int(listing.external_id), featured=True)  # a field we do not manage
    assert emulator.flush_webhooks(10)
    # the store still reads as we last wrote it: an echo, not even pulled
    delivery = WebhookDelivery.objects.get(resource_id=listing.external_id)
    assert delivery.status == "echo" and delivery.job is None
    # pulled anyway (a replay always fetches), only the catalog's change shows: left to the sync
    job, _replayed = replay(delivery, user=operator)
    assert runner.execute(job.pk) == "succeeded"
    job.refresh_from_db()
    assert job.result == {"pending": 1, "fields": 1}
    assert not ApprovalRequest.objects.exists() and not _queued_publishes(subscribed)
    assert not Event.objects.filter(topic__startswith="listing.conflict").exists()


# --------------------------------------------------------------------------- the decision table, no store


def test_three_way_names_the_side_of_each_field():
    base = {"title": "A", "price": "10.00", "stock": "3", "status": "active"}
    catalog = {"title": "B", "price": "12.00", "stock": "3", "status": "draft"}
    store = {"title": "A", "price": "11.00", "stock": "2", "status": "draft"}
    changes = three_way(base, catalog, store, catalog_unchanged=False)
    assert [(c.field, c.side) for c in changes] == [
        ("title", CATALOG), ("price", CONFLICT), ("stock", STORE), ("status", SAME)]
    # the catalog did not move since the publish: a field reading differently there is the store's rewording
    assert three_way({"title": "a"}, {"title": "A"}, {"title": "a"}, catalog_unchanged=True) == []
    # no last-synced version: every difference is a conflict
    assert [c.side for c in three_way(None, catalog, store, catalog_unchanged=False)] == [CONFLICT] * 3


def test_winners_per_policy():
    changes = [FieldChange("price", "10.00", "12.00", "11.00", CONFLICT),
               FieldChange("stock", "3", "3", "2", STORE), FieldChange("SKU", "A", "A", "B", STORE)]
    now = timezone.now()
    assert winners(changes, "source_wins", store_time=now, catalog_time=now) == {
        "price": "catalog", "stock": "catalog", "SKU": "catalog"}
    assert winners(changes, "target_wins", store_time=now, catalog_time=now) == {
        "price": "store", "stock": "store", "SKU": "catalog"}
    older = now - timedelta(minutes=1)
    assert winners(changes, "newest_wins", store_time=older, catalog_time=now)["price"] == "catalog"
    assert winners(changes, "newest_wins", store_time=now, catalog_time=older)["price"] == "store"
    assert winners(changes, "newest_wins", store_time=None, catalog_time=now) == {
        "price": "catalog", "stock": "store", "SKU": "catalog"}
    assert set(winners(changes, "manual", store_time=now, catalog_time=now).values()) == {"review"}


def test_a_store_edit_taken_into_the_catalog_leaves_no_stale_price_for_a_later_stock_write(subscribed, emulator):
    """The store's 15.00 is taken in; going back to 18.00 together with a stock change must write the price too
    (the listing's price hash is the taken value's, not the value first published)."""
    from products.services import apply_snapshot

    _policy(subscribed, "target_wins")
    listing = _listing(subscribed, TSHIRT)
    Variant.objects.filter(product=listing.product).update(stock=5)  # track stock: a whole write
    assert runner.execute(_queue_full_sync(subscribed).pk) == "succeeded"
    emulator.edit_product(int(listing.external_id), regular_price="15")
    _pull_the_last_delivery(emulator)
    _run_publishes(subscribed)
    listing.refresh_from_db()
    assert listing.state == "in_sync" and _catalog_price(listing) == Decimal("15.00")

    product = Product.objects.get(pk=listing.product_id)
    snap = product.snapshot()
    snap["variants"][0].update(price="18.00", stock=7)
    apply_snapshot(product, snap)
    _run_publishes(subscribed)
    remote = next(p for p in emulator.products() if str(p["id"]) == listing.external_id)
    assert (remote["regular_price"], remote["stock_quantity"]) == ("18.00", 7)


def _queue_full_sync(store) -> Job:
    from agents.services import enqueue

    return enqueue(store.organization, "store.publish", store=store, params={"strategy": "full"})


def test_a_store_that_takes_only_prices_and_stock_keeps_its_own_title_edits(subscribed, emulator):
    Store.objects.filter(pk=subscribed.pk).update(sync_scope="price_stock")
    listing = _listing(subscribed, TSHIRT)
    emulator.edit_product(int(listing.external_id), name="T-Shirt, as the shop calls it")
    assert emulator.flush_webhooks(10)
    # its prices and stock read as we wrote them: a title is the shop's own, not even pulled
    delivery = WebhookDelivery.objects.get(resource_id=listing.external_id)
    assert delivery.status == "echo" and delivery.job is None
    listing.refresh_from_db()
    assert listing.state == "in_sync" and not ApprovalRequest.objects.exists()
    # a price edit there is still the store disagreeing with the catalog: the reviewer decides
    emulator.edit_product(int(listing.external_id), regular_price="15")
    _pull_the_last_delivery(emulator)
    listing.refresh_from_db()
    assert listing.state == "conflict"
    approval = ApprovalRequest.objects.get()
    assert approval.after["variants"][0]["price"] == "15.00"
