"""``Product.stock_total``: the stored sum of the variants' tracked stock, right after every writer.

(``tests/products/conftest.py`` also checks every product after every test in this directory.)
"""

import importlib
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.db import connection
from django.urls import reverse

from agents.conflicts import take_store_values
from approvals.services import decide
from products import bulk
from products.importers import apply_catalog
from products.importers.common import ProductData, VariantData
from products.models import Product, Variant
from products.services import edit_product
from tests.factories import ProductFactory, VariantFactory
from tests.pages import product_edit_data


def stored(product) -> int | None:
    return Product.objects.get(pk=product.pk).stock_total


@pytest.fixture
def tent(org):
    tent = ProductFactory(organization=org, title="Alpine Tent", sku="TENT", kind="variable")
    VariantFactory(product=tent, sku="TENT-RED", price=Decimal("100.00"), stock=4, position=1)
    VariantFactory(product=tent, sku="TENT-BLUE", price=Decimal("100.00"), stock=3, position=2)
    return tent


def _variant_data(product):
    return {v.pk: {"price": v.price, "compare_at_price": v.compare_at_price, "stock": v.stock}
            for v in product.variants.all()}


def _fields(product):
    return {"title": product.title, "status": product.status, "description": product.description}


# ---- the one writer -------------------------------------------------------------------------


def test_refresh_sums_tracked_stock_only(org):
    mixed = ProductFactory(organization=org)
    Variant.objects.create(organization=org, product=mixed, sku="M-1", stock=5)
    Variant.objects.create(organization=org, product=mixed, sku="M-2", stock=None)
    Variant.objects.create(organization=org, product=mixed, sku="M-3", stock=-2)  # oversold
    untracked = ProductFactory(organization=org)
    Variant.objects.create(organization=org, product=untracked, sku="U-1", stock=None)
    bare = ProductFactory(organization=org)

    assert Product.objects.refresh_stock_totals([mixed.pk, untracked.pk, bare.pk]) == 3
    assert (stored(mixed), stored(untracked), stored(bare)) == (3, None, None)


def test_refresh_touches_only_the_products_asked_for(org):
    asked, other = ProductFactory(organization=org), ProductFactory(organization=org)
    for product in (asked, other):
        Variant.objects.create(organization=org, product=product, sku=f"S-{product.pk}", stock=7)
    Product.objects.refresh_stock_totals([asked.pk])
    assert (stored(asked), stored(other)) == (7, None)
    Product.objects.filter(pk=other.pk).refresh_stock_totals()  # the whole queryset
    assert stored(other) == 7


def test_refresh_goes_in_chunks_of_ids(org):
    products = ProductFactory.create_batch(3, organization=org)
    Variant.objects.bulk_create([Variant(organization=org, product=p, sku=f"C-{p.pk}", stock=p.pk) for p in products])
    ids = [p.pk for p in products] * 400  # 1200 ids (repeats too): more than one chunk of 500
    assert Product.objects.refresh_stock_totals(ids) == 3
    assert [stored(p) for p in products] == [p.pk for p in products]


def test_the_migration_backfills_every_product(org, tent):
    Product.objects.update(stock_total=None)
    migration = importlib.import_module("products.migrations.0004_product_stock_total")
    editor = SimpleNamespace(connection=connection, execute=lambda sql: connection.cursor().execute(sql))
    migration.backfill(apps, editor)
    assert stored(tent) == 7


# ---- every catalog writer -------------------------------------------------------------------


def test_an_operators_edit_updates_it(tent, operator):
    variants = _variant_data(tent)
    red = tent.variants.get(sku="TENT-RED")
    variants[red.pk]["stock"] = 10
    assert edit_product(tent, _fields(tent), variants, operator) is None
    assert stored(tent) == 13


def test_the_product_page_form_updates_it(client, tent, operator):
    client.force_login(operator)
    data = product_edit_data(client, tent, variants={v.pk: {"stock": 0} for v in tent.variants.all()})
    response = client.post(reverse("products:detail", args=[tent.pk]), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert stored(tent) == 0


def test_an_approved_held_edit_updates_it(tent, operator, manager):
    variants = _variant_data(tent)
    for values in variants.values():
        values.update(price=Decimal("50.00"), stock=1)  # a 50 % price cut waits for a manager
    approval = edit_product(tent, _fields(tent), variants, operator)
    assert approval is not None and stored(tent) == 7
    decide(approval, membership=manager.memberships.get(), verdict="approve")
    assert stored(tent) == 2


def test_taking_a_stores_value_updates_it(org):
    mug = ProductFactory(organization=org, title="Camp Mug", sku="MUG")
    VariantFactory(product=mug, sku="MUG", stock=9)
    take_store_values(mug, {"stock": 2})
    assert stored(mug) == 2


def test_a_bulk_stock_change_updates_it(org, tent, operator):
    everything = Product.objects.filter(organization=org)
    before = Product.objects.get(pk=tent.pk).updated_at
    result = bulk.apply(org, everything, bulk.Operation(bulk.Kind.STOCK, stock=5), operator)
    assert result.products_changed == 1
    assert stored(tent) == 10
    assert Product.objects.get(pk=tent.pk).updated_at > before  # written in the same UPDATE


def _data(handle, *stocks, title="Trail Poles"):
    variants = [VariantData(sku=f"{handle.upper()}-{i}", position=i, price=Decimal("10.00"), stock=stock)
                for i, stock in enumerate(stocks, start=1)]
    kind = "variable" if len(stocks) > 1 else "simple"
    return ProductData(handle=handle, title=title, sku=handle.upper(), kind=kind, variants=variants)


def test_an_import_sets_it_when_creating_changing_and_removing_variants(org):
    apply_catalog(org, [_data("poles", 2, None, 5), _data("cap", None)])
    poles, cap = Product.objects.get(handle="poles"), Product.objects.get(handle="cap")
    assert (stored(poles), stored(cap)) == (7, None)

    # variant 3 removed (replace mode: merge keeps variants the file leaves out), stock changed, cap tracked now
    apply_catalog(org, [_data("poles", 2, 8), _data("cap", 4)], mode="replace")
    assert (stored(poles), stored(cap)) == (10, 4)

    apply_catalog(org, [_data("poles", 2, 8, title="Trail Poles Pro"), _data("cap", 4)])  # a title only
    assert stored(poles) == 10


def test_the_stock_filter_follows_an_edit(client, tent, operator):
    client.force_login(operator)

    def listed(stock):
        return [row.record.pk for row in client.get(reverse("products:list"), {"stock": stock}).context["table"].rows]

    assert listed("in") == [tent.pk] and listed("out") == []
    variants = _variant_data(tent)
    for values in variants.values():
        values["stock"] = 0
    edit_product(tent, _fields(tent), variants, operator)
    assert listed("in") == [] and listed("out") == [tent.pk]


def test_oversold_stock_counts_as_out(client, org, operator):
    oversold = ProductFactory(organization=org, title="Oversold Boots")
    VariantFactory(product=oversold, sku="BOOT-1", stock=-3)
    VariantFactory(product=oversold, sku="BOOT-2", stock=1)
    untracked = ProductFactory(organization=org, title="Gift Card")
    VariantFactory(product=untracked, sku="GIFT", stock=None)
    client.force_login(operator)
    for stock, titles in (("out", ["Oversold Boots"]), ("low", []), ("in", [])):
        rows = client.get(reverse("products:list"), {"stock": stock}).context["table"].rows
        assert [row.record.title for row in rows] == titles, stock
