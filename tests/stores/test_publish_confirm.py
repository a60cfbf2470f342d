""""Publish" on the Stores list and the store page's "Full sync": a dry run of the Sync agent's plan is shown, and the
job is queued only after the confirmation. Against the WooCommerce and Shopify emulators over real HTTP."""

from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone

from agents.models import Job
from agents.publishable import preview_sync
from products.importers import apply_catalog, parse_catalog
from products.models import Product
from stores import views
from stores.emulators.shopify import start_emulator as start_shopify
from stores.models import Listing, Store
from tests.agents.test_sync import WRITES, catalog, emulator, publish, store  # noqa: F401  (fixtures)

SAMPLE = Path(__file__).resolve().parents[3] / "shared" / "data" / "woocommerce" / "sample_products.csv"


def _post(client, store, **data):
    return client.post(reverse("stores:publish", args=[store.pk]), data)


def test_list_publish_of_a_never_synced_store_shows_the_counts_and_queues_nothing(client, operator, catalog, store,
                                                                                   emulator):
    Product.objects.filter(handle="woo-belt").update(status="draft")
    client.force_login(operator)
    emulator.reset_log()
    response = _post(client, store, next=reverse("stores:list"))
    assert response.status_code == 200 and not Job.objects.exists()
    preview = response.context["preview"]
    assert (preview.create, preview.update, preview.delete, preview.unchanged) == (catalog.count(), 0, 0, 0)
    assert preview.strategy == "full" and preview.drafts == 1 and not preview.refused
    html = response.content.decode()
    assert f"Sync {catalog.count()} products" in html and "has had no complete sync yet" in html
    assert "1 of the product written is a draft" in html and "hidden from shoppers" in html
    assert f'href="{reverse("stores:list")}"' in html  # Cancel goes back to the list
    assert not emulator.request_log and not Listing.objects.exists()  # a dry run: nothing sent, nothing saved

    confirmed = _post(client, store, strategy="incremental", confirm="on")
    [job] = Job.objects.all()
    assert confirmed.status_code == 302 and confirmed.url == job.get_absolute_url()
    assert job.params["strategy"] == "incremental" and job.store == store


def test_full_sync_always_asks_first(client, operator, catalog, store, emulator):
    publish(store)
    client.force_login(operator)
    response = _post(client, store, strategy="full")
    assert response.status_code == 200 and not Job.objects.filter(created_by=operator).exists()
    preview = response.context["preview"]
    assert preview.unchanged == catalog.count() and preview.writes == 0
    assert "Run the sync" in response.content.decode()
    _post(client, store, strategy="full", confirm="on")
    assert Job.objects.get(created_by=operator).params["strategy"] == "full"


def test_a_small_incremental_sync_stays_one_click(client, operator, catalog, store, emulator):
    publish(store)
    Product.objects.filter(handle="woo-belt").update(title="Leather Belt", updated_at=timezone.now())
    client.force_login(operator)
    response = _post(client, store, strategy="incremental")
    [job] = Job.objects.filter(created_by=operator)
    assert response.status_code == 302 and response.url == job.get_absolute_url()


def test_an_incremental_sync_writing_more_than_the_one_click_limit_asks(client, operator, catalog, store, emulator,
                                                                         monkeypatch):
    publish(store)
    monkeypatch.setattr(views, "ONE_CLICK_WRITES", 1)
    Product.objects.filter(handle__in=["woo-belt", "woo-cap"]).update(updated_at=timezone.now(), title="Renamed")
    client.force_login(operator)
    response = _post(client, store, strategy="incremental")
    assert response.status_code == 200 and not Job.objects.filter(created_by=operator).exists()
    assert response.context["preview"].update == 2


def test_the_dry_run_keeps_what_the_run_would_clean_up(catalog, store, emulator):
    """``plan()`` used to delete the listings of deleted products the store never held; a preview must not."""
    publish(store)
    gone = catalog.get(handle="woo-belt")
    Listing.objects.filter(store=store, product=gone).update(external_id="")
    Product.objects.filter(pk=gone.pk).update(deleted_at=timezone.now(), updated_at=timezone.now())
    preview = preview_sync(store, strategy="full")
    assert preview.delete == 0 and Listing.objects.filter(store=store, product=gone).exists()
    publish(store, strategy="full")
    assert not Listing.objects.filter(store=store, product=gone).exists()


def test_viewers_cannot_ask_and_outsiders_do_not_see_the_store(client, viewer, outsider, store):
    client.force_login(viewer)
    assert _post(client, store).status_code == 403
    client.force_login(outsider)
    assert _post(client, store).status_code == 404
    assert not Job.objects.exists()


@pytest.fixture
def shop():
    with start_shopify(access_token="shpat_confirm") as running:
        yield running


def test_the_confirmation_lists_what_shopify_cannot_take(client, operator, org, shop):
    apply_catalog(org, parse_catalog("woocommerce", SAMPLE.read_text(encoding="utf-8-sig")))
    store = Store.objects.create(organization=org, name="Emulated Shop", platform="shopify", base_url=shop.base_url,
                                 consumer_secret="shpat_confirm")
    client.force_login(operator)
    response = _post(client, store, strategy="full")
    preview = response.context["preview"]
    assert sorted(p.handle for p, _refusals in preview.refused) == ["logo-collection", "woo-vneck-tee"]
    assert preview.create == Product.objects.filter(organization=org).count() - 2
    html = response.content.decode()
    assert "2 products Shopify cannot take" in html and "Shopify has no grouped products" in html
    assert "OPTION_VALUES_MISSING" in html
    assert not [op for _m, _p, op in shop.request_log if op == "FlashFusionProductSet"]
