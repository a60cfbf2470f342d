"""The store page's sync controls and status: sync now (incremental or full), lag, states, history, stock rule."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from agents.models import Job, SyncRun
from stores.models import Listing, Store
from tests.factories import ProductFactory, StoreFactory


@pytest.fixture
def store(org):
    return StoreFactory(organization=org, name="Main shop")


@pytest.mark.parametrize("strategy", ["incremental", "full"])
def test_sync_now_queues_the_chosen_strategy(client, store, operator, strategy):
    # A small incremental sync after a complete one is one click; a full sync is queued once confirmed
    # (tests/stores/test_publish_confirm.py covers the confirmation).
    Store.objects.filter(pk=store.pk).update(sync_cursor=timezone.now())
    client.force_login(operator)
    data = {"strategy": strategy, **({"confirm": "on"} if strategy == "full" else {})}
    response = client.post(reverse("stores:publish", args=[store.pk]), data)
    job = Job.objects.get(store=store)
    assert response.status_code == 302 and response["Location"] == job.get_absolute_url()
    assert job.params == {"strategy": strategy, "trigger": "manual"} and job.created_by == operator


def test_sync_now_refuses_an_unknown_strategy_and_viewers(client, store, operator, viewer):
    client.force_login(operator)
    client.post(reverse("stores:publish", args=[store.pk]), {"strategy": "everything"})
    assert not Job.objects.exists()
    client.force_login(viewer)
    assert client.post(reverse("stores:publish", args=[store.pk]), {"strategy": "full"}).status_code == 403


def test_store_page_shows_lag_states_and_history(client, org, store, viewer):
    synced, stale = ProductFactory(organization=org), ProductFactory(organization=org)
    Listing.objects.create(organization=org, store=store, product=synced, state="in_sync", external_id="1")
    Listing.objects.create(organization=org, store=store, product=stale, state="error", external_id="2")
    Store.objects.filter(pk=store.pk).update(sync_cursor=timezone.now() - timedelta(minutes=5))
    from products.models import Product

    Product.objects.filter(pk=stale.pk).update(updated_at=timezone.now() - timedelta(seconds=90))
    SyncRun.objects.create(organization=org, store=store, strategy="incremental", trigger="schedule", status="succeeded",
                           started_at=timezone.now() - timedelta(minutes=5), finished_at=timezone.now(), considered=7,
                           updated=3, unchanged=4)
    client.force_login(viewer)
    page = client.get(reverse("stores:detail", args=[store.pk])).content.decode()
    assert "Behind the catalog by" in page
    lag = client.get(reverse("stores:detail", args=[store.pk])).context["sync_lag"]
    assert 85 <= lag <= 120
    states = {state: count for state, _, count, _ in client.get(reverse("stores:detail", args=[store.pk])).context["listing_states"]}
    assert states["in_sync"] == 1 and states["error"] == 1
    assert "Sync history" in page and "Schedule" in page and ">7<" in page


def test_never_synced_store_says_so(client, store, viewer):
    client.force_login(viewer)
    page = client.get(reverse("stores:detail", args=[store.pk])).content.decode()
    assert "Not fully synced yet" in page and "No syncs yet" in page


def test_prices_and_stock_button_queues_a_field_selective_full_comparison(client, store, operator):
    client.force_login(operator)
    page = client.get(reverse("stores:detail", args=[store.pk])).content.decode()
    assert 'name="fields" value="price,stock"' in page and ">Prices and stock</button>" in page
    response = client.post(reverse("stores:publish", args=[store.pk]), {"fields": "price,stock"})
    job = Job.objects.get(store=store)
    assert response.status_code == 302
    assert job.params == {"strategy": "full", "trigger": "manual", "fields": ["price", "stock"]}


def test_sync_now_refuses_unknown_fields(client, store, operator):
    client.force_login(operator)
    response = client.post(reverse("stores:publish", args=[store.pk]), {"fields": "price,title"}, follow=True)
    assert not Job.objects.exists()
    assert "Unknown fields" in response.content.decode() and "choose price, stock or both" in response.content.decode()


def test_a_store_scoped_to_price_and_stock_says_so_and_its_runs_name_their_fields(client, org, store, viewer):
    Store.objects.filter(pk=store.pk).update(sync_scope="price_stock")
    SyncRun.objects.create(organization=org, store=store, strategy="incremental", trigger="schedule",
                           started_at=timezone.now(), fields="price,stock", status="succeeded", updated=3)
    client.force_login(viewer)
    page = client.get(reverse("stores:detail", args=[store.pk])).content.decode()
    assert "<strong>price and stock only</strong>" in page
    assert "price and stock only</span>" in page  # the history row's badge


def test_a_price_only_store_offers_a_prices_sync_only(client, store, operator):
    Store.objects.filter(pk=store.pk).update(sync_scope="price")
    client.force_login(operator)
    page = client.get(reverse("stores:detail", args=[store.pk])).content.decode()
    assert 'name="fields" value="price"' in page and ">Prices</button>" in page and ">Prices and stock<" not in page
