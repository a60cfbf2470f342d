"""Products list figures and filters."""

from decimal import Decimal

from django.urls import reverse

from stores.models import Listing, Store
from tests.factories import ProductFactory, VariantFactory


def test_stock_and_price_are_not_multiplied_by_stores_or_variants(client, org, operator):
    product = ProductFactory(organization=org, title="Kestrel Headlamp")
    VariantFactory(product=product, sku="K-1", price=Decimal("19.99"), stock=10)
    VariantFactory(product=product, sku="K-2", price=Decimal("24.99"), stock=21)
    for name in ("One", "Two"):
        store = Store.objects.create(organization=org, name=name, base_url="http://127.0.0.1:9", consumer_key="k", consumer_secret="s")
        Listing.objects.create(organization=org, store=store, product=product, external_id=name)
    client.force_login(operator)
    for params in ({}, {"q": "K-"}):
        row = client.get(reverse("products:list"), params).context["table"].rows[0]
        assert row.get_cell_value("stock_total") == 31
        assert row.get_cell_value("variant_count") == 2
        assert row.get_cell_value("listing_count") == 2
        assert "19.99 – 24.99 USD" in row.get_cell("price_min")


def test_filtered_empty_list_says_so(client, org, operator):
    ProductFactory(organization=org, title="Tent")
    client.force_login(operator)
    html = client.get(reverse("products:list"), {"q": "no-such-thing"}).content.decode()
    assert "Nothing matches these filters" in html
    assert 'type="search"' in html


def test_filter_form_keeps_the_sort(client, org, operator):
    client.force_login(operator)
    html = client.get(reverse("products:list"), {"sort": "-price_min"}).content.decode()
    assert '<input type="hidden" name="sort" value="-price_min">' in html


# ---- filters, search, product page, matrix (issue 5) -----------------------------

import pytest  # noqa: E402

from agents.models import Job  # noqa: E402
from products.models import hash_json  # noqa: E402
from stores.choices import ListingState  # noqa: E402
from stores.plugins import plugin_class  # noqa: E402
from tests.factories import StoreFactory  # noqa: E402


@pytest.fixture
def catalog(org):
    """Four products over two stores: every filter below picks a known subset."""
    woo, shop = StoreFactory(organization=org, name="Woo"), StoreFactory(organization=org, name="Shop")
    tent = ProductFactory(organization=org, title="Alpine Tent", handle="alpine-tent", sku="TENT", kind="variable")
    VariantFactory(product=tent, sku="TENT-RED", price=Decimal("199.00"), stock=2)
    VariantFactory(product=tent, sku="TENT-BLUE", price=Decimal("209.00"), stock=1)
    mug = ProductFactory(organization=org, title="Camp Mug", handle="camp-mug", sku="MUG", status="draft")
    VariantFactory(product=mug, sku="MUG-1", price=Decimal("12.50"), stock=0)
    lamp = ProductFactory(organization=org, title="Head Lamp", handle="head-lamp", sku="LAMP")
    VariantFactory(product=lamp, sku="LAMP-1", price=Decimal("35.00"), stock=40)
    rope = ProductFactory(organization=org, title="Climbing Rope", handle="rope", sku="ROPE")
    VariantFactory(product=rope, sku="ROPE-1", price=Decimal("89.00"), stock=None)
    listing = Listing.objects.create
    listing(organization=org, store=woo, product=tent, external_id="11", state=ListingState.IN_SYNC)
    listing(organization=org, store=shop, product=tent, external_id="12", state=ListingState.CONFLICT)
    listing(organization=org, store=woo, product=mug, external_id="13", state=ListingState.ERROR, last_error="Rejected: sku")
    listing(organization=org, store=shop, product=lamp, external_id="14", state=ListingState.PENDING)
    return {"woo": woo, "shop": shop, "tent": tent, "mug": mug, "lamp": lamp, "rope": rope}


def _titles(client, **params):
    rows = client.get(reverse("products:list"), params).context["table"].rows
    titles = [row.record.title for row in rows]
    assert len(titles) == len(set(titles)), f"duplicate rows: {titles}"
    return sorted(titles)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status": "draft"}, ["Camp Mug"]),
        ({"kind": "variable"}, ["Alpine Tent"]),
        ({"sync": "in_sync"}, ["Alpine Tent"]),
        ({"sync": "conflict"}, ["Alpine Tent"]),
        ({"sync": "error"}, ["Camp Mug"]),
        ({"sync": "pending"}, ["Head Lamp"]),
        ({"sync": "none"}, ["Climbing Rope"]),
        ({"stock": "out"}, ["Camp Mug"]),
        ({"stock": "low"}, ["Alpine Tent"]),
        ({"stock": "in"}, ["Head Lamp"]),
        ({"price_min": "30", "price_max": "100"}, ["Climbing Rope", "Head Lamp"]),
        ({"price_min": "200"}, ["Alpine Tent"]),
        ({"price_max": "20"}, ["Camp Mug"]),
        ({"discrepancy": "true"}, ["Alpine Tent", "Camp Mug"]),
        ({"discrepancy": "false"}, ["Climbing Rope", "Head Lamp"]),
        ({"q": "tent-blu"}, ["Alpine Tent"]),
        ({"q": "TENT"}, ["Alpine Tent"]),
        ({"q": "lamp"}, ["Head Lamp"]),
        ({"q": "rope"}, ["Climbing Rope"]),
        ({"status": "active", "sync": "conflict", "q": "tent"}, ["Alpine Tent"]),
    ],
)
def test_each_filter_narrows(client, operator, catalog, params, expected):
    client.force_login(operator)
    assert _titles(client, **params) == expected


def test_store_filter_narrows_to_that_store(client, operator, catalog):
    client.force_login(operator)
    assert _titles(client, store=catalog["woo"].pk) == ["Alpine Tent", "Camp Mug"]
    assert _titles(client, store=catalog["shop"].pk) == ["Alpine Tent", "Head Lamp"]
    assert _titles(client, store=catalog["shop"].pk, sync="conflict") == ["Alpine Tent"]


def test_another_organizations_store_is_not_a_choice(client, operator, catalog, other_org):
    foreign = StoreFactory(organization=other_org, name="Rival shop")
    client.force_login(operator)
    response = client.get(reverse("products:list"), {"store": foreign.pk})
    assert "Rival shop" not in response.content.decode()
    assert not response.context["filterset"].form.is_valid()


def test_search_by_variant_sku_shows_a_product_once(client, operator, catalog):
    client.force_login(operator)
    # Both variants match "TENT-": still one row, with both stores and both variants counted once.
    row = client.get(reverse("products:list"), {"q": "tent-"}).context["table"].rows
    assert [r.record.title for r in row] == ["Alpine Tent"]
    assert row[0].get_cell_value("variant_count") == 2
    assert row[0].get_cell_value("listing_count") == 2
    assert row[0].get_cell_value("stock_total") == 3


def test_every_column_sorts(client, operator, catalog):
    client.force_login(operator)
    table = client.get(reverse("products:list")).context["table"]
    for column in table.columns:
        if column.orderable:
            for sort in (column.name, f"-{column.name}"):
                assert len(_titles(client, sort=sort)) == 4, sort


def test_list_query_budget(client, operator, catalog, django_assert_max_num_queries):
    client.force_login(operator)
    with django_assert_max_num_queries(12):
        client.get(reverse("products:list"), {"q": "a", "sync": "in_sync", "stock": "low"})


def test_list_queries_do_not_grow_with_rows(client, operator, org, catalog):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(operator)

    def queries():
        with CaptureQueriesContext(connection) as captured:
            response = client.get(reverse("products:list"), {"sort": "-updated_at"})
        return len(captured), len(response.context["table"].page.object_list)

    few, shown = queries()
    for n in range(40):
        VariantFactory(product=ProductFactory(organization=org, title=f"Extra {n}"), sku=f"X-{n}", stock=n)
    many, more_shown = queries()
    assert (shown, more_shown) == (4, 44) and many == few


# ---- product page ------------------------------------------------------------------


def _mark_published(listing, product):
    payload = plugin_class(listing.store.platform).__new__(plugin_class(listing.store.platform)).build_payload(product)
    listing.content_hash = hash_json(payload)
    listing.remote_snapshot = {k: v for k, v in payload.items() if not k.startswith("_")}
    listing.remote_snapshot["variations_detail"] = payload.get("_variations", [])
    listing.save()


def test_product_page_has_one_row_per_store_with_state_and_diff(client, operator, catalog):
    tent, lamp = catalog["tent"], catalog["lamp"]
    for listing in tent.listings.select_related("store"):
        _mark_published(listing, tent)
    # The catalog changes after the Woo publish: the page shows what the store still has.
    tent.variants.filter(sku="TENT-RED").update(price=Decimal("179.00"))
    woo_listing = tent.listings.get(store=catalog["woo"])
    shop_listing = tent.listings.get(store=catalog["shop"])
    client.force_login(operator)
    response = client.get(reverse("products:detail", args=[tent.pk]))
    rows = {row.store.name: row for row in response.context["store_rows"]}
    assert set(rows) == {"Woo", "Shop"}
    assert not rows["Woo"].in_sync
    diff = {(d.field, d.catalog, d.store) for d in rows["Woo"].differences}
    assert ("variant TENT-RED price", "179.00", "199.00") in diff
    html = response.content.decode()
    assert f'id="store-row-{catalog["woo"].pk}"' in html and "Changed in store" in html
    assert "179.00" in html and "199.00" in html
    assert "wp-admin/post.php?post=11" in html
    # A listing whose pushed hash equals the catalog's payload reads "In sync".
    _mark_published(woo_listing, tent)
    rows = {row.store.name: row for row in client.get(reverse("products:detail", args=[tent.pk])).context["store_rows"]}
    assert rows["Woo"].in_sync and rows["Woo"].differences == []
    assert shop_listing.state == ListingState.CONFLICT
    # A store that does not list the product offers to publish to it.
    html = client.get(reverse("products:detail", args=[lamp.pk])).content.decode()
    assert "Publish to Woo" in html


def test_publish_now_as_operator_queues_a_job(client, operator, catalog):
    client.force_login(operator)
    tent, woo = catalog["tent"], catalog["woo"]
    response = client.post(reverse("products:publish", args=[tent.pk, woo.pk]))
    assert response.status_code == 302
    job = Job.objects.get(kind="store.publish")
    assert job.store == woo and job.params == {"product_ids": [tent.pk], "whole": True}


def test_unpublish_as_operator_queues_a_removal(client, operator, catalog):
    client.force_login(operator)
    tent, shop = catalog["tent"], catalog["shop"]
    client.post(reverse("products:unpublish", args=[tent.pk, shop.pk]))
    job = Job.objects.get(kind="store.publish")
    assert job.store == shop and job.params == {"product_ids": [tent.pk], "unpublish": True}
    # Nothing to remove where the product is not listed.
    client.post(reverse("products:unpublish", args=[catalog["rope"].pk, shop.pk]))
    assert Job.objects.count() == 1


@pytest.mark.parametrize("name", ["publish", "unpublish"])
def test_publish_buttons_reject_a_viewer(client, viewer, catalog, name):
    client.force_login(viewer)
    response = client.post(reverse(f"products:{name}", args=[catalog["tent"].pk, catalog["woo"].pk]))
    assert response.status_code == 403
    assert not Job.objects.exists()


@pytest.mark.parametrize("name", ["publish", "unpublish"])
def test_publish_buttons_reject_an_outsider(client, outsider, catalog, name):
    client.force_login(outsider)
    response = client.post(reverse(f"products:{name}", args=[catalog["tent"].pk, catalog["woo"].pk]))
    assert response.status_code == 404
    assert not Job.objects.exists()


def test_product_page_rejects_an_outsider(client, outsider, catalog):
    client.force_login(outsider)
    assert client.get(reverse("products:detail", args=[catalog["tent"].pk])).status_code == 404


# ---- publishing matrix ---------------------------------------------------------------


def test_matrix_shows_states_as_text(client, viewer, catalog):
    client.force_login(viewer)
    response = client.get(reverse("products:matrix"))
    html = response.content.decode()
    assert "Changed in store" in html and "In sync" in html and "Not listed" in html
    assert 'name="cells"' not in html  # read-only for viewers
    assert "Publish selected" not in html


def test_matrix_filters_like_the_list(client, operator, catalog):
    client.force_login(operator)
    response = client.get(reverse("products:matrix"), {"sync": "error"})
    assert [p.title for p, _ in response.context["rows"]] == ["Camp Mug"]


def test_matrix_publish_asks_then_queues_one_job_per_store(client, operator, catalog):
    c = catalog
    cells = [f"{c['woo'].pk}:{c['lamp'].pk}", f"{c['woo'].pk}:{c['rope'].pk}", f"{c['shop'].pk}:{c['rope'].pk}"]
    client.force_login(operator)
    response = client.post(reverse("products:matrix"), {"action": "publish", "cells": cells})
    assert response.status_code == 200 and not Job.objects.exists()
    assert [(s.name, n, skipped) for s, n, skipped in response.context["summary"]] == [("Woo", 2, 0), ("Shop", 1, 0)]
    assert "Publish 3 listings" in response.content.decode()
    client.post(reverse("products:matrix"), {"action": "publish", "cells": cells, "confirm": "on"})
    jobs = {job.store.name: job.params for job in Job.objects.all()}
    assert jobs == {"Woo": {"product_ids": sorted([c["lamp"].pk, c["rope"].pk]), "whole": True},
                    "Shop": {"product_ids": [c["rope"].pk], "whole": True}}


def test_matrix_unpublish_queues_removals_for_listed_cells_only(client, operator, catalog):
    c = catalog
    cells = [f"{c['woo'].pk}:{c['tent'].pk}", f"{c['woo'].pk}:{c['mug'].pk}", f"{c['woo'].pk}:{c['rope'].pk}",
             f"{c['shop'].pk}:{c['lamp'].pk}"]
    client.force_login(operator)
    response = client.post(reverse("products:matrix"), {"action": "unpublish", "cells": cells})
    assert [(s.name, n, skipped) for s, n, skipped in response.context["summary"]] == [("Woo", 2, 0), ("Shop", 1, 0)]
    client.post(reverse("products:matrix"), {"action": "unpublish", "cells": cells, "confirm": "on"})
    jobs = {job.store.name: job.params for job in Job.objects.all()}
    assert jobs == {
        "Woo": {"product_ids": sorted([c["tent"].pk, c["mug"].pk]), "unpublish": True},
        "Shop": {"product_ids": [c["lamp"].pk], "unpublish": True},
    }


def test_matrix_ignores_another_organizations_cells(client, operator, catalog, other_org):
    foreign = StoreFactory(organization=other_org, name="Rival shop")
    foreign_product = ProductFactory(organization=other_org)
    client.force_login(operator)
    cells = [f"{foreign.pk}:{catalog['tent'].pk}", f"{catalog['woo'].pk}:{foreign_product.pk}"]
    client.post(reverse("products:matrix"), {"action": "publish", "cells": cells, "confirm": "on"})
    assert not Job.objects.exists()


def test_matrix_rejects_a_viewers_post(client, viewer, catalog):
    client.force_login(viewer)
    cells = [f"{catalog['woo'].pk}:{catalog['lamp'].pk}"]
    response = client.post(reverse("products:matrix"), {"action": "publish", "cells": cells, "confirm": "on"})
    assert response.status_code == 403 and not Job.objects.exists()


def test_matrix_rejects_an_outsider(client, outsider, catalog):
    client.force_login(outsider)
    cells = [f"{catalog['woo'].pk}:{catalog['lamp'].pk}"]
    client.post(reverse("products:matrix"), {"action": "publish", "cells": cells, "confirm": "on"})
    assert not Job.objects.exists()
    assert "Alpine Tent" not in client.get(reverse("products:matrix")).content.decode()


def test_unpublish_job_removes_only_those_products_from_that_store(org, operator):
    """The sync agent's ``unpublish`` param, over real HTTP to the WooCommerce emulator."""
    from agents import runner
    from stores.emulators.woocommerce import start_emulator

    keep = ProductFactory(organization=org, title="Keep Me", handle="keep-me", sku="KEEP")
    VariantFactory(product=keep, sku="KEEP", price=Decimal("10.00"))
    drop = ProductFactory(organization=org, title="Drop Me", handle="drop-me", sku="DROP")
    VariantFactory(product=drop, sku="DROP", price=Decimal("12.00"))
    with start_emulator() as emulator:
        store = Store.objects.create(organization=org, name="Emulated Woo", base_url=emulator.base_url,
                                     consumer_key="ck_demo", consumer_secret="cs_demo")
        from products.views import _publish, _unpublish

        for job in (_publish(store, [keep.pk, drop.pk], operator), _unpublish(store, [drop.pk], operator)):
            assert runner.execute(job.pk) == "succeeded"
        assert sorted(p["sku"] for p in emulator.products()) == ["KEEP"]
    assert list(Listing.objects.values_list("product__sku", flat=True)) == ["KEEP"]
    assert Job.objects.get(params__unpublish=True).result["deleted"] == 1
