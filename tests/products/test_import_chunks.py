"""Chunked, resumable import writes (products.importers.writing.write_in_chunks via apply_catalog).

Real database, real transactions: a chunk that fails leaves the chunks before it committed and its
checkpoint says so; a resumed write starts after the last committed chunk and writes nothing twice.
"""

import time
from decimal import Decimal

import pytest
from django.db import connection
from django.test import override_settings

from products.importers import CheckpointConflict, ProductData, VariantData, apply_catalog
from products.importers.writing import write_in_chunks
from products.models import CatalogImport, Product, Variant


def product(handle, *skus, price="10.00", title=None):
    return ProductData(
        handle=handle, title=title or handle.title(), kind="variable" if len(skus) > 1 else "simple",
        variants=[VariantData(sku=sku, position=n, price=Decimal(price), stock=3) for n, sku in enumerate(skus, 1)],
    )


def catalog(count, prefix="p"):
    return [product(f"{prefix}{n:03d}", f"{prefix.upper()}{n:03d}-A", f"{prefix.upper()}{n:03d}-B") for n in range(count)]


def skus_of(org):
    return dict(Variant.objects.filter(organization=org).values_list("sku", "product__handle"))


@pytest.fixture
def catalog_import(org):
    return CatalogImport.objects.create(organization=org, format="woocommerce", filename="file.csv")


class Boom(Exception):
    pass


def failing_after(products, calls):
    """progress callback that raises after ``calls`` chunks (as a worker killed between chunks would stop)."""
    seen = []

    def progress(done, total):
        seen.append(done)
        if len(seen) == calls:
            raise Boom(f"stopped after {done}")

    return progress


@pytest.mark.django_db(transaction=True)
def test_each_chunk_commits_before_its_progress_is_reported(org, catalog_import):
    calls = []

    def progress(done, total):
        # Reported outside any transaction, and what it reports is in the database for everyone.
        assert not connection.in_atomic_block
        calls.append((done, total, Product.objects.filter(organization=org).count()))

    counts = apply_catalog(org, catalog(7), catalog_import=catalog_import, chunk_size=3, progress=progress)

    assert calls == [(3, 7, 3), (6, 7, 6), (7, 7, 7)]
    assert counts == {"created": 7, "updated": 0, "unchanged": 0, "products": 7, "variants": 14}
    catalog_import.refresh_from_db()
    assert catalog_import.checkpoint["chunks_done"] == 3
    assert catalog_import.checkpoint["products_done"] == 7
    assert catalog_import.checkpoint["counts"] == {"created": 7, "updated": 0, "unchanged": 0}


@pytest.mark.django_db(transaction=True)
def test_a_stopped_import_resumes_after_its_last_committed_chunk_and_writes_nothing_twice(org, catalog_import):
    products = catalog(10)
    with pytest.raises(Boom):
        apply_catalog(org, products, catalog_import=catalog_import, chunk_size=4, progress=failing_after(products, 2))
    catalog_import.refresh_from_db()
    assert catalog_import.checkpoint["chunks_done"] == 2
    assert Product.objects.filter(organization=org).count() == 8
    before = dict(Product.objects.filter(organization=org).values_list("handle", "updated_at"))

    written = []
    counts = apply_catalog(org, products, catalog_import=catalog_import, chunk_size=4,
                           progress=lambda done, total: written.append(done))

    # The resumed run reports where it starts, then only the last chunk; counts cover the whole file.
    assert written == [8, 10]
    assert counts == {"created": 10, "updated": 0, "unchanged": 0, "products": 10, "variants": 20}
    assert Product.objects.filter(organization=org).count() == 10
    assert Variant.objects.filter(organization=org).count() == 20
    after = dict(Product.objects.filter(organization=org).values_list("handle", "updated_at"))
    assert {h: after[h] for h in before} == before  # the first 8 were not written again


@pytest.mark.django_db(transaction=True)
def test_a_failing_chunk_rolls_back_only_itself(org, catalog_import):
    def write_chunk(piece):
        if piece[0] == 4:
            Product.objects.create(organization=org, handle="half-written", title="Half")
            raise Boom("bad row")
        for i in piece:
            Product.objects.create(organization=org, handle=f"h{i}", title=f"H{i}")
        return {"created": len(piece)}

    with pytest.raises(Boom):
        write_in_chunks(catalog_import, list(range(10)), write_chunk, chunk_size=2, pause=0)
    assert sorted(Product.objects.values_list("handle", flat=True)) == ["h0", "h1", "h2", "h3"]
    catalog_import.refresh_from_db()
    assert catalog_import.checkpoint["chunks_done"] == 2 and catalog_import.checkpoint["counts"] == {"created": 4}


@pytest.mark.django_db(transaction=True)
def test_a_checkpoint_advanced_by_another_process_stops_this_one_before_it_writes(org, catalog_import):
    written = []

    def write_chunk(piece):
        written.extend(piece)
        return {"created": len(piece)}

    def progress(done, total):
        if done == 2:  # meanwhile another worker (which took the job back) committed the next chunk
            CatalogImport.objects.filter(pk=catalog_import.pk).update(
                checkpoint={"chunks_done": 2, "products_done": 4, "chunk_size": 2, "counts": {"created": 4}}
            )

    stale = CatalogImport.objects.get(pk=catalog_import.pk)
    with pytest.raises(CheckpointConflict, match="advanced by another process"):
        write_in_chunks(stale, list(range(6)), write_chunk, chunk_size=2, pause=0, progress=progress)
    assert written == [0, 1]  # the second chunk was refused before write_chunk ran


@pytest.mark.django_db(transaction=True)
def test_without_an_import_nothing_is_checkpointed(org):
    counts = apply_catalog(org, catalog(5), chunk_size=2)
    assert counts["created"] == 5 and Product.objects.filter(organization=org).count() == 5


@pytest.mark.django_db(transaction=True)
def test_the_pause_between_chunks_is_outside_the_transaction(org, monkeypatch):
    import products.importers.writing as writing

    slept = []
    monkeypatch.setattr(writing.time, "sleep", lambda s: slept.append((s, connection.in_atomic_block)))
    write_in_chunks(None, list(range(5)), lambda piece: {"n": len(piece)}, chunk_size=2, pause=0.25)
    assert slept == [(0.25, False), (0.25, False)]  # between the 3 chunks, none after the last


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("mode", ["merge", "replace"])
@pytest.mark.parametrize("direction", ["to a later chunk", "to an earlier chunk"])
def test_a_sku_moving_between_products_in_different_chunks_never_collides(org, catalog_import, mode, direction):
    with_mover_early = [product("early", "E-1", "MOVER"), product("mid", "M-1"), product("late", "L-1")]
    with_mover_late = [product("early", "E-1"), product("mid", "M-1"), product("late", "L-1", "MOVER")]
    before, second = (
        (with_mover_early, with_mover_late) if direction == "to a later chunk" else (with_mover_late, with_mover_early)
    )
    apply_catalog(org, before)

    counts = apply_catalog(org, second, mode=mode, catalog_import=catalog_import, chunk_size=1)

    owner = "late" if direction == "to a later chunk" else "early"
    assert skus_of(org) == {"E-1": "early", "M-1": "mid", "L-1": "late", "MOVER": owner}
    assert counts["updated"] == 2 and counts["unchanged"] == 1  # the product that lost it and the one that got it


@pytest.mark.django_db(transaction=True)
def test_a_resumed_import_still_counts_the_product_a_sku_left_in_an_earlier_chunk(org, catalog_import):
    apply_catalog(org, [product("early", "E-1"), product("mid", "M-1"), product("late", "L-1", "MOVER")])
    second = [product("early", "E-1", "MOVER"), product("mid", "M-1"), product("late", "L-1")]
    with pytest.raises(Boom):  # stopped after the chunk that moved the SKU
        apply_catalog(org, second, catalog_import=catalog_import, chunk_size=1, progress=failing_after(second, 1))
    assert skus_of(org)["MOVER"] == "early"

    counts = apply_catalog(org, second, catalog_import=catalog_import, chunk_size=1)

    assert counts == {"created": 0, "updated": 2, "unchanged": 1, "products": 3, "variants": 4}


@pytest.mark.django_db(transaction=True)
def test_merge_keeps_variants_the_file_leaves_out_and_replace_removes_them(org):
    apply_catalog(org, [product("tee", "TEE-S", "TEE-M", "TEE-L")])
    apply_catalog(org, [product("tee", "TEE-S", "TEE-M")], mode="merge")
    assert sorted(skus_of(org)) == ["TEE-L", "TEE-M", "TEE-S"]
    counts = apply_catalog(org, [product("tee", "TEE-S", "TEE-M")], mode="replace")
    assert sorted(skus_of(org)) == ["TEE-M", "TEE-S"] and counts["updated"] == 1
    assert Product.objects.get(handle="tee").stock_total == 6  # summed again after the removal


def test_an_unknown_mode_is_refused(org):
    with pytest.raises(ValueError, match="merge or replace"):
        apply_catalog(org, catalog(1), mode="overwrite")


@pytest.mark.django_db
def test_a_chunk_without_a_fixed_size_lasts_about_the_time_budget_not_the_most_products():
    # 10 ms per entry, 50 ms per chunk: a chunk of 5 fits; the count allowed (50) would hold the lock 0.5 s.
    sizes = []

    def slow_write(piece):
        sizes.append(len(piece))
        time.sleep(0.01 * len(piece))
        return {"written": len(piece)}

    with override_settings(CATALOG_IMPORT_CHUNK_PRODUCTS=50):
        counts = write_in_chunks(None, list(range(60)), slow_write, seconds=0.05, pause=0)

    assert counts == {"written": 60} and sum(sizes) == 60
    assert sizes[0] == 5 and max(sizes) <= 5


@pytest.mark.django_db
def test_quick_chunks_grow_to_the_most_products_at_most_doubling():
    sizes = []

    def quick_write(piece):
        sizes.append(len(piece))
        return {}

    with override_settings(CATALOG_IMPORT_CHUNK_PRODUCTS=40):
        write_in_chunks(None, list(range(500)), quick_write, seconds=10, pause=0)

    assert sizes[:4] == [4, 8, 16, 32] and set(sizes[4:-1]) == {40}
    assert sum(sizes) == 500


@pytest.mark.django_db
def test_a_given_chunk_size_is_kept_whatever_the_time_budget():
    sizes = []
    write_in_chunks(None, list(range(10)), lambda piece: sizes.append(len(piece)) or {}, chunk_size=4,
                    seconds=0.000001, pause=0)
    assert sizes == [4, 4, 2]
