"""The publishing matrix and bulk publish with products a store's platform cannot take (``StorePlugin.refusals``):
refused cells offer no box, say why, are listed as skipped on the confirmation and get no job."""

import re

import pytest
from django.urls import reverse

from agents.models import Job
from products import bulk
from products.choices import ProductKind
from tests.factories import ProductFactory, StoreFactory, VariantFactory


@pytest.fixture
def cells(org):
    shop = StoreFactory(organization=org, name="Shop", platform="shopify")
    woo = StoreFactory(organization=org, name="Woo")
    child = ProductFactory(organization=org, title="Beanie", sku="beanie")
    VariantFactory(product=child)
    group = ProductFactory(organization=org, title="Logo Collection", sku="logo-collection", kind=ProductKind.GROUPED,
                           grouped_skus=["beanie"])
    return {"shop": shop, "woo": woo, "child": child, "group": group}


def _cell(store, product) -> str:
    return f"{store.pk}:{product.pk}"


def test_matrix_marks_the_cell_refused_with_the_reason_as_the_boxs_description(client, operator, cells):
    shop, woo, group = cells["shop"], cells["woo"], cells["group"]
    client.force_login(operator)
    html = client.get(reverse("products:matrix")).content.decode()
    box = re.search(r'<input[^>]*aria-label="Logo Collection in Shop"[^>]*>', html).group(0)
    assert "disabled" in box and 'name="cells"' not in box
    described = re.search(r'aria-describedby="([^"]+)"', box).group(1)
    reason = re.search(rf'id="{described}">(.*?)</div>', html, re.S).group(1)
    assert "Shopify has no grouped products" in reason
    assert f'value="{_cell(woo, group)}"' in html  # WooCommerce takes a grouped product
    assert f'value="{_cell(shop, cells["child"])}"' in html
    assert "Not publishable here" in html


def test_a_viewer_sees_the_reason_too(client, viewer, cells):
    client.force_login(viewer)
    html = client.get(reverse("products:matrix")).content.decode()
    assert "Shopify has no grouped products" in html and 'type="checkbox"' not in html


def test_matrix_confirmation_lists_refused_cells_as_skipped_and_queues_none_for_them(client, operator, cells):
    shop, woo, group, child = cells["shop"], cells["woo"], cells["group"], cells["child"]
    posted = [_cell(shop, group), _cell(shop, child), _cell(woo, group)]
    client.force_login(operator)
    response = client.post(reverse("products:matrix"), {"action": "publish", "cells": posted})
    assert response.status_code == 200 and not Job.objects.exists()
    summary = [(store.name, n, skipped) for store, n, skipped in response.context["summary"]]
    assert sorted(summary) == [("Shop", 1, 1), ("Woo", 1, 0)]
    html = response.content.decode()
    assert "1 selected cell skipped" in html and "Shopify has no grouped products" in html
    assert "Publish 2 listings" in html and f'value="{_cell(shop, group)}"' not in html

    client.post(reverse("products:matrix"), {"action": "publish", "cells": posted, "confirm": "on"})
    jobs = {job.store.name: job.params["product_ids"] for job in Job.objects.all()}
    assert jobs == {"Shop": [child.pk], "Woo": [group.pk]}


def test_only_refused_cells_offer_nothing_to_publish(client, operator, cells):
    client.force_login(operator)
    response = client.post(reverse("products:matrix"), {"action": "publish",
                                                        "cells": [_cell(cells["shop"], cells["group"])]})
    html = response.content.decode()
    assert "Nothing here can be published" in html and "Publish 0" not in html and "Shopify has no grouped" in html
    client.post(reverse("products:matrix"), {"action": "publish", "cells": [_cell(cells["shop"], cells["group"])],
                                             "confirm": "on"})
    assert not Job.objects.exists()


def test_bulk_publish_leaves_refused_products_out_of_the_job_and_lists_them(org, operator, cells):
    shop, group, child = cells["shop"], cells["group"], cells["child"]
    products = org.products.filter(pk__in=[group.pk, child.pk])
    operation = bulk.Operation(bulk.Kind.PUBLISH, store_ids=(shop.pk,))
    preview = bulk.preview(org, products, operation)
    assert preview.listings_touched == 1
    assert [(store.name, [p.title for p, _r in items]) for store, items in preview.refused] == [
        ("Shop", ["Logo Collection"])]
    result = bulk.apply(org, products, operation, operator)
    [job] = result.jobs
    assert job.params["product_ids"] == [child.pk]


def test_bulk_publish_of_only_refused_products_says_why(org, operator, cells):
    products = org.products.filter(pk=cells["group"].pk)
    operation = bulk.Operation(bulk.Kind.PUBLISH, store_ids=(cells["shop"].pk,))
    with pytest.raises(bulk.BulkError, match="Shopify has no grouped products"):
        bulk.apply(org, products, operation, operator)
    assert not Job.objects.exists()
