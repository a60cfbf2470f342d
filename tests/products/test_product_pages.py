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
