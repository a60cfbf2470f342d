"""The product page under stores that sync only some fields: the row says so, and no template text leaks."""

from django.urls import reverse

from stores.models import Listing
from tests.factories import ProductFactory, StoreFactory, VariantFactory


def test_a_store_that_syncs_price_and_stock_only_says_so_on_the_product_page(client, org, viewer):
    product = ProductFactory(organization=org, title="Camp Mug")
    VariantFactory(product=product, sku="MUG-1")
    scoped = StoreFactory(organization=org, name="Outlet", sync_scope="price_stock")
    whole = StoreFactory(organization=org, name="Main")
    for store in (scoped, whole):
        Listing.objects.create(organization=org, store=store, product=product, external_id="7", state="in_sync")
    client.force_login(viewer)
    html = client.get(reverse("products:detail", args=[product.pk])).content.decode()
    assert f'id="store-scope-{scoped.pk}"' in html and f'id="store-scope-{whole.pk}"' not in html
    assert "This store syncs price and stock only: its other fields stay as edited in the store." in html
    assert "{#" not in html and "#}" not in html
