"""The listings list (stores.listing_views) and the store page's listings card, which lazy-loads it."""

import html as html_lib
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from stores.models import Listing, Store
from tests.factories import ProductFactory, VariantFactory

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def store(org):
    return Store.objects.create(organization=org, name="Northwind Outlet", base_url="http://127.0.0.1:9",
                                consumer_key="ck_x", consumer_secret="cs_x")


def make_listings(org, store, count, *, state="in_sync", start=0):
    for n in range(start, start + count):
        product = ProductFactory(organization=org, title=f"Trail product {n:03d}", sku=f"TP-{n:03d}")
        Listing.objects.create(organization=org, store=store, product=product, state=state, external_id=f"ext-{n}")


def rows(html: str) -> list[str]:
    return re.findall(r'id="listing-row-(\d+)"', html)


def lazy_url(page_html: str) -> str:
    """The URL the store page's listings card loads once the page is up (its ``hx-trigger="load"`` element)."""
    match = re.search(r'<div hx-get="([^"]+)" hx-trigger="load"[^>]*hx-select="#listings-panel"', page_html)
    assert match, "the store page has no lazy-loaded listings card"
    return html_lib.unescape(match.group(1))


def next_link(fragment: str) -> str | None:
    match = re.search(r'<a href="([^"]+)" class="page-link" rel="next">', fragment)
    return html_lib.unescape(match.group(1)) if match else None


def test_store_page_pages_its_listings(client, org, store, viewer):
    make_listings(org, store, 120)
    client.force_login(viewer)
    page = client.get(reverse("stores:detail", args=[store.pk])).content.decode()
    assert rows(page) == []  # the page itself draws none: the card loads them
    url = lazy_url(page)
    assert url.startswith(reverse("stores:listings")) and f"store={store.pk}" in url

    first = client.get(url, **HTMX).content.decode()
    assert len(rows(first)) == 50 and 'id="listings-panel"' in first
    assert "Trail product 000" in first and "Trail product 050" not in first  # by product title
    assert 'hx-push-url="false"' in first  # paging inside the store page leaves its address alone
    second_url = next_link(first)
    assert second_url.startswith(reverse("stores:listings") + "?") and "page=2" in second_url
    second = client.get(second_url, **HTMX).content.decode()
    assert len(rows(second)) == 50 and "Trail product 050" in second
    third = client.get(next_link(second), **HTMX).content.decode()
    assert len(rows(third)) == 20 and next_link(third) is None
    assert len(set(rows(first) + rows(second) + rows(third))) == 120


def test_store_page_card_filters_by_state_and_by_product_title_or_sku(client, org, store, viewer):
    make_listings(org, store, 6)
    make_listings(org, store, 3, state="error", start=6)
    variant_only = ProductFactory(organization=org, title="Camp mug", sku="")
    VariantFactory(product=variant_only, sku="MUG-BLUE-350")
    Listing.objects.create(organization=org, store=store, product=variant_only, state="pending")
    other = Store.objects.create(organization=org, name="Other", base_url="http://127.0.0.1:9/o", consumer_key="k",
                                 consumer_secret="s")
    make_listings(org, other, 2, start=50)
    client.force_login(viewer)
    url = reverse("stores:listings")
    scoped = {"store": store.pk, "embed": "1"}

    errors = client.get(url, {**scoped, "state": "error"}, **HTMX).content.decode()
    assert len(rows(errors)) == 3 and "Trail product 006" in errors
    by_title = client.get(url, {**scoped, "q": "product 004"}, **HTMX).content.decode()
    assert len(rows(by_title)) == 1 and "TP-004" in by_title
    by_variant_sku = client.get(url, {**scoped, "q": "MUG-BLUE"}, **HTMX).content.decode()
    assert len(rows(by_variant_sku)) == 1 and "Camp mug" in by_variant_sku
    none = client.get(url, {**scoped, "q": "no such thing"}, **HTMX).content.decode()
    assert rows(none) == [] and "Nothing matches these filters" in none
    everything = client.get(url, scoped, **HTMX).content.decode()
    assert len(rows(everything)) == 10 and "Trail product 050" not in everything  # only this store's


def test_store_page_card_of_a_store_without_listings_says_so(client, store, viewer):
    client.force_login(viewer)
    fragment = client.get(reverse("stores:listings"), {"store": store.pk, "embed": "1"}, **HTMX).content.decode()
    assert rows(fragment) == [] and "No listings yet" in fragment and "Nothing matches" not in fragment


def test_listings_table_query_budget(client, org, store, viewer):
    """One page costs the same queries with 5 listings as with 60 (no query per row)."""
    client.force_login(viewer)
    url = reverse("stores:listings")
    counts = []
    for count, start in ((5, 0), (55, 5)):
        make_listings(org, store, count, start=start)
        for params in ({"store": store.pk, "embed": "1"}, {"store": store.pk, "state": "in_sync", "q": "Trail"}, {}):
            with CaptureQueriesContext(connection) as queries:
                response = client.get(url, params, **HTMX)
            assert response.status_code == 200
            counts.append(len(queries))
    assert counts[:3] == counts[3:], counts
    assert max(counts) <= 8, counts


def test_every_listing_column_sorts(client, org, store, viewer):
    make_listings(org, store, 3)
    client.force_login(viewer)
    for column in ("product", "store", "state", "last_synced_at"):
        for sort in (column, f"-{column}"):
            response = client.get(reverse("stores:listings"), {"sort": sort})
            assert response.status_code == 200 and len(rows(response.content.decode())) == 3, sort


def test_listings_page_lists_every_store_with_its_filters(client, org, store, viewer):
    make_listings(org, store, 2)
    client.force_login(viewer)
    html = client.get(reverse("stores:listings")).content.decode()
    assert "<h1" in html and len(rows(html)) == 2
    assert 'name="store"' in html and "Northwind Outlet" in html  # the store column and filter
    assert 'hx-push-url="true"' in html


def test_it_shows_an_outsider_none_of_the_listings(client, org, store, outsider):
    make_listings(org, store, 3)
    client.force_login(outsider)
    html = client.get(reverse("stores:listings"), {"store": store.pk, "embed": "1"}, **HTMX).content.decode()
    assert rows(html) == []
    assert client.get(reverse("stores:listings")).content.decode().count("listing-row-") == 0
