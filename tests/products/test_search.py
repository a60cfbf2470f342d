"""The products list's search box: the same matches on PostgreSQL (pg_trgm) and SQLite (FTS5 trigram tables)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from products import search
from products.models import Product, Variant
from tests.factories import ProductFactory, VariantFactory

sqlite_only = pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's FTS5 search tables")


@pytest.fixture
def catalog(org, other_org):
    rows = [
        ("Kestrel Headlamp", "kestrel-headlamp", "KH-100", ["KH-100-RED", "KH-100-BLU"]),
        ("Alpine KESTREL Tent", "alpine-tent", "AT-7", ["AT-7-2P"]),
        ("Camp Mug 100% steel", "camp-mug", "MUG_1", ["MUG_1-A"]),
        ('The "Quoted" Cap', "quoted-cap", "CAP", []),
        ("Rope", "rope-kestrelline", "RP", ["RP-ONE"]),
    ]
    for title, handle, sku, variants in rows:
        product = ProductFactory(organization=org, title=title, handle=handle, sku=sku)
        for variant_sku in variants:
            VariantFactory(product=product, sku=variant_sku)
    # Another organization's product matching everything: never listed.
    rival = ProductFactory(organization=other_org, title="Kestrel Mug 100% Quoted", handle="rival", sku="KH-100X")
    VariantFactory(product=rival, sku="AT-7-2PX")


def found(client, term) -> list[str]:
    rows = client.get(reverse("products:list"), {"q": term}).context["table"].rows
    return sorted(row.record.title for row in rows)


def expected(org, term) -> list[str]:
    """Case-insensitive substring of title, handle, parent SKU or a variant SKU, worked out in Python."""
    needle = term.strip().lower()
    titles = []
    for product in Product.objects.filter(organization=org).prefetch_related("variants"):
        texts = [product.title, product.handle, product.sku, *(v.sku for v in product.variants.all())]
        if any(needle in text.lower() for text in texts):
            titles.append(product.title)
    return sorted(titles)


@pytest.mark.parametrize("term", [
    "kestrel", "KESTREL", "KeStReL", "kestrelline", "headlamp", "KH-100", "kh-100-blu", "at-7-2p", "100%", "mug_",
    '"quoted"', 'he "qu', "p", "mu", "zzz-no-such", " rope ",
])
def test_search_finds_what_icontains_finds(client, operator, org, catalog, term):
    client.force_login(operator)
    assert found(client, term) == expected(org, term)


def test_search_finds_each_kind_of_field(client, operator, org, catalog):
    client.force_login(operator)
    assert found(client, "blu") == ["Kestrel Headlamp"]  # a variant SKU
    assert found(client, "kestrelline") == ["Rope"]  # the handle
    assert found(client, "mug_1") == ["Camp Mug 100% steel"]  # the parent SKU, "_" taken literally
    assert found(client, "100%") == ["Camp Mug 100% steel"]  # "%" taken literally


@sqlite_only
def test_sqlite_reads_the_trigram_tables_for_three_characters_or_more(client, operator, catalog):
    client.force_login(operator)
    with CaptureQueriesContext(connection) as long_term:
        client.get(reverse("products:list"), {"q": "kes"})
    with CaptureQueriesContext(connection) as short_term:
        client.get(reverse("products:list"), {"q": "ke"})
    assert any(search.PRODUCT_TABLE in q["sql"] and "MATCH" in q["sql"] for q in long_term.captured_queries)
    assert not any("MATCH" in q["sql"] for q in short_term.captured_queries)  # no trigram in 2 characters: LIKE


@sqlite_only
def test_sqlite_search_follows_every_write(client, operator, org, catalog):
    client.force_login(operator)
    headlamp = Product.objects.get(handle="kestrel-headlamp")
    headlamp.title = "Summit Headlamp"
    headlamp.save()
    assert found(client, "kestrel h") == [] and found(client, "summit") == ["Summit Headlamp"]
    Product.objects.filter(pk=headlamp.pk).update(sku="SUMMIT-9")  # a queryset update, no save()
    assert found(client, "summit-9") == ["Summit Headlamp"]
    Variant.objects.filter(sku="KH-100-BLU").update(sku="SH-GREEN")
    assert found(client, "kh-100-blu") == [] and found(client, "sh-green") == ["Summit Headlamp"]
    Variant.objects.filter(sku="SH-GREEN").delete()
    Product.objects.refresh_stock_totals([headlamp.pk])  # as a catalog writer would (conftest checks it)
    assert found(client, "sh-green") == []
    Product.objects.filter(handle="rope-kestrelline").delete()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {search.PRODUCT_TABLE} WHERE {search.PRODUCT_TABLE} MATCH %s",
                       [search.phrase("kestrelline")])
        assert cursor.fetchone()[0] == 0


@sqlite_only
def test_lost_triggers_come_back_after_migrate_and_the_index_catches_up(client, operator, catalog):
    # SQLite drops a table's triggers when Django rebuilds the table for an ALTER; post_migrate restores them.
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER products_product_search_update")
    Product.objects.filter(handle="rope-kestrelline").update(title="Glacier Rope")  # not indexed: no trigger
    client.force_login(operator)
    assert found(client, "glacier") == []
    assert search.ensure_sqlite_search(connection)
    assert found(client, "glacier") == ["Glacier Rope"]
    assert found(client, "Rope") == ["Glacier Rope"]


def test_phrase_quotes_the_term():
    assert search.phrase('say "hi"') == '"say ""hi"""'
