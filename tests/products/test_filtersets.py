"""The products filters refuse what cannot match, with the error next to the field, and select nothing then
(the list, the export, the bulk selection): ``products.filtersets`` on ``flashfusion.filters.BootstrapFilterSet``."""

from decimal import Decimal

import pytest
from django.urls import reverse

from tests.factories import ProductFactory, VariantFactory

MESSAGE = "The minimum price is above the maximum"


@pytest.fixture
def catalog(org):
    for title, price in (("Tent", "120.00"), ("Mug", "12.00"), ("Lamp", "30.00")):
        VariantFactory(product=ProductFactory(organization=org, title=title, sku=title.upper()), price=Decimal(price))


def _error(html: str, name: str) -> str:
    return html.split(f'id="filter-error-{name}"')[1].split("</div>")[0]


def test_a_minimum_above_the_maximum_is_an_error_next_to_the_field(client, catalog, operator):
    client.force_login(operator)
    response = client.get(reverse("products:list"), {"price_min": "50", "price_max": "20"})
    assert response.status_code == 200
    html = response.content.decode()
    assert MESSAGE in _error(html, "price_min") and "(50 &gt; 20)" in _error(html, "price_min")
    field = html.split('name="price_min"')[1].split(">")[0]
    assert 'aria-invalid="true"' in field and "is-invalid" in field and 'aria-describedby="filter-error-price_min"' in field
    assert 'aria-invalid="true"' not in html.split('name="price_max"')[1].split(">")[0]
    assert list(response.context["table"].data) == []
    assert "A filter above has an error" in html


def test_a_live_filter_update_brings_its_error_and_clears_it(client, catalog, operator):
    """The filter form swaps only the table and picks the error boxes out of the answer (hx-select-oob)."""
    client.force_login(operator)
    page = client.get(reverse("products:list")).content.decode()
    form = page.split('role="search"')[1].split(">")[0]
    assert "#filter-error-price_min" in form.split('hx-select-oob="')[1].split('"')[0]
    assert _error(page, "price_min").endswith('aria-live="polite">')

    wrong = client.get(reverse("products:list"), {"price_min": "50", "price_max": "20"}, HTTP_HX_REQUEST="true")
    html = wrong.content.decode()
    assert 'id="object-table"' in html and MESSAGE in _error(html, "price_min")
    right = client.get(reverse("products:list"), {"price_min": "20", "price_max": "50"}, HTTP_HX_REQUEST="true")
    html = right.content.decode()
    assert MESSAGE not in html and _error(html, "price_min").endswith('aria-live="polite">')
    assert [p.title for p in right.context["table"].data] == ["Lamp"]


def test_a_negative_price_is_refused(client, catalog, operator):
    client.force_login(operator)
    html = client.get(reverse("products:list"), {"price_max": "-1"}).content.decode()
    assert "greater than or equal to 0" in _error(html, "price_max")


def test_equal_bounds_are_a_valid_range(client, catalog, operator):
    client.force_login(operator)
    response = client.get(reverse("products:list"), {"price_min": "12", "price_max": "12"})
    assert [p.title for p in response.context["table"].data] == ["Mug"]


def test_the_export_of_a_refused_filter_says_why_and_exports_nothing(client, catalog, operator):
    client.force_login(operator)
    response = client.get(reverse("products:export"), {"format": "woocommerce", "price_min": "50", "price_max": "20"})
    assert response.status_code == 400 and not response.streaming
    body = response.content.decode()
    assert "Nothing exported" in body and MESSAGE in body and "Tent" not in body


def test_a_bulk_change_over_a_refused_filter_selects_nothing(client, catalog, operator):
    client.force_login(operator)
    data = {"operation": "price", "mode": "percent", "direction": "down", "value": "10", "rounding": "none",
            "compare_at": "keep", "ids": "", "filter": "price_min=50&price_max=20", "action": "preview"}
    html = client.post(reverse("products:bulk"), data).content.decode()
    assert "Every product in the catalog" not in html
    assert "No product: the filter has an error" in html and MESSAGE in html


def test_the_audit_trail_refuses_a_reversed_date_range(client, org, manager):
    client.force_login(manager)
    html = client.get(reverse("approvals:audit"), {"since": "2026-03-02", "until": "2026-03-01"}).content.decode()
    assert "“From” is after “until”" in _error(html, "since")
