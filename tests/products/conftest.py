"""Every products test also checks that each product's stored ``stock_total`` still equals its variants' sum."""

import pytest


def stock_total_drift() -> list[tuple[int, int | None, int | None]]:
    """``(product id, stored, summed)`` for each product whose ``stock_total`` is not its variants' tracked stock,
    summed here in Python (not with the SQL that writes it)."""
    from products.models import Product, Variant

    sums: dict[int, int | None] = {}
    for product_id, stock in Variant.objects.values_list("product_id", "stock"):
        if stock is not None:
            sums[product_id] = (sums.get(product_id) or 0) + stock
    return [(pk, stored, sums.get(pk)) for pk, stored in Product.objects.values_list("pk", "stock_total")
            if stored != sums.get(pk)]


@pytest.fixture(autouse=True)
def stock_totals_stay_right(request):
    """A catalog writer that forgets ``refresh_stock_totals`` fails the test that used it."""
    if not ({"db", "transactional_db"} & set(request.fixturenames) or request.node.get_closest_marker("django_db")):
        yield
        return
    request.getfixturevalue("db")  # so the check below runs before the test's database is rolled back
    yield
    assert stock_total_drift() == [], "stock_total differs from the variants' sum (product, stored, summed)"
