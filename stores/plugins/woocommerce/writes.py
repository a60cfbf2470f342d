"""Writes of whole products (``ProductWrites``, a part of ``WooCommercePlugin``): batch create, binding a
duplicate SKU to the product that holds it, batch update, re-creating what the store lost, grouped products'
children, and batch delete."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from stores.plugins import ItemResult, Rejected, StoreError, Transient

from .client import _as_id, _duplicate_sku_owner, _is_gone
from .payload import _public

if TYPE_CHECKING:
    from products.models import Product
    from stores.models import Listing

log = logging.getLogger(__name__)


class ProductWrites:
    """Create, update and delete listings, at most 100 products a batch call. Idempotent: see
    ``WooCommercePlugin``."""

    # ------------------------------------------------------------------ create

    def create_listings(self, items: list[tuple[Product, dict]]) -> list[ItemResult]:
        """Create products (≤100 per batch call), binding on duplicate SKU; one result per item, in order.

        1. Batch-create the parents (all but grouped). An item refused with
           ``product_invalid_sku`` + ``data.resource_id`` (seen on 7.9.0: the
           SKU is taken, e.g. by an attempt that crashed before its listing was
           saved) is bound to that product — after checking it is a product,
           not a variation — and updated instead.
        2. Variable products: their variations through
           ``/products/{id}/variations/batch``; a bound product's existing
           variations are matched by SKU (or position) and updated, and a
           duplicate-SKU variation of the same parent is bound the same way.
        3. Grouped products last (so children created in step 1 are found):
           ``_grouped_skus`` → ids with ``GET /products?sku=a,b,…``; a child
           missing from the store makes the item ``Rejected``
           (``grouped_child_missing``) and nothing is written for it.

        ``RemoteListing.snapshot`` is the store's product JSON, with the
        variations' JSON under ``"variations_detail"`` for variable products;
        ``variant_ids`` maps ``variant_key(sku, position)`` to the variation id
        (variable) or the product id (simple, external: its one variant).
        """
        return self._create(list(items))

    def _create(self, items: list[tuple[Product, dict]]) -> list[ItemResult]:
        results: list[ItemResult | None] = [None] * len(items)
        plain = {i: _public(payload) for i, (_p, payload) in enumerate(items) if payload.get("type") != "grouped"}
        written, errors, bound = self._create_parents(plain)
        for i, err in errors.items():
            results[i] = ItemResult(items[i][0].pk, error=err)
        self._finish(items, written, results, known={}, fresh={i for i in written if i not in bound})

        grouped = [i for i, (_p, payload) in enumerate(items) if payload.get("type") == "grouped"]
        if grouped:
            bodies, missing = self._grouped_bodies({i: items[i][1] for i in grouped})
            for i, err in missing.items():
                results[i] = ItemResult(items[i][0].pk, error=err)
            written, errors, _bound = self._create_parents(bodies)
            for i, err in errors.items():
                results[i] = ItemResult(items[i][0].pk, error=err)
            self._finish(items, written, results, known={}, fresh=set())
        return [r if r is not None else ItemResult(items[i][0].pk, error=Transient(
            "no result for this item", status=None)) for i, r in enumerate(results)]

    def _create_parents(self, bodies: dict[int, dict]) -> tuple[dict[int, dict], dict[int, StoreError], set[int]]:
        """Batch-create ``bodies``; bind duplicate SKUs.

        Returns (product JSON by index, errors by index, indexes that were bound).
        """
        if not bodies:
            return {}, {}, set()
        order = list(bodies)
        answer = self.client.batch("products/batch", create=[bodies[i] for i in order], partial=True)["create"]
        written: dict[int, dict] = {}
        errors: dict[int, StoreError] = {}
        to_bind: dict[int, int] = {}
        for i, entry in zip(order, answer):
            if isinstance(entry, StoreError):
                owner = _duplicate_sku_owner(entry)
                if owner is None:
                    errors[i] = entry
                else:
                    to_bind[i] = owner
            else:
                written[i] = entry
        if to_bind:
            updates: dict[int, dict] = {}
            for i, owner in to_bind.items():
                try:
                    existing = self.client.get(f"products/{owner}")
                except StoreError as err:
                    errors[i] = err
                    continue
                if existing.get("type") == "variation" or existing.get("parent_id"):
                    errors[i] = Rejected(
                        f"product_invalid_sku: SKU {bodies[i].get('sku')!r} belongs to variation "
                                  f"{owner} of product {existing.get('parent_id')}",
                        status=400, code="product_invalid_sku", details={"resource_id": owner})
                    continue
                log.info("WooCommerce: SKU %r already on product %s; binding instead of creating",
                         bodies[i].get("sku"), owner)
                updates[i] = {**bodies[i], "id": owner}
            updated, update_errors = self._update_parents(updates)
            written.update(updated)
            errors.update(update_errors)
        return written, errors, set(to_bind)

    def _update_parents(self, bodies: dict[int, dict]) -> tuple[dict[int, dict], dict[int, StoreError]]:
        """Batch-update ``bodies`` (each with its ``id``). Returns (product JSON by index, errors by index)."""
        if not bodies:
            return {}, {}
        order = list(bodies)
        answer = self.client.batch("products/batch", update=[bodies[i] for i in order], partial=True)["update"]
        written, errors = {}, {}
        for i, entry in zip(order, answer):
            if isinstance(entry, StoreError):
                errors[i] = entry
            else:
                written[i] = entry
        return written, errors

    def _grouped_bodies(self, payloads: dict[int, dict]) -> tuple[dict[int, dict], dict[int, StoreError]]:
        """Bodies for grouped products with ``grouped_products`` ids resolved from ``_grouped_skus``."""
        wanted = sorted({sku for p in payloads.values() for sku in p.get("_grouped_skus", []) if sku})
        try:
            ids = self._ids_by_sku(wanted)
        except StoreError as err:
            return {}, {i: err for i in payloads}
        bodies, errors = {}, {}
        for i, payload in payloads.items():
            skus = [s for s in payload.get("_grouped_skus", []) if s]
            missing = [s for s in skus if s not in ids]
            if missing:
                errors[i] = Rejected(f"grouped_child_missing: children not in the store: {', '.join(missing)}",
                                   status=None, code="grouped_child_missing", field="grouped_products")
                continue
            bodies[i] = {**_public(payload), "grouped_products": [ids[s] for s in skus]}
        return bodies, errors

    # ------------------------------------------------------------------ update

    def update_listings(self, items: list[tuple[Listing, Product, dict]]) -> list[ItemResult]:
        """Write new content to existing listings (batch update by ``listing.external_id``).

        Variable products: variations recorded in ``listing.variant_ids`` are
        updated, new ones created, recorded ones no longer in the catalog
        deleted (see ``_sync_variations``). A product that stopped being
        variable has its recorded variations deleted. A product gone from the
        store (404, or ``woocommerce_rest_product_invalid_id`` inside a batch —
        WooCommerce source) or a listing without an external id is re-created
        through the create path, so duplicate-SKU binding still applies.
        """
        items = list(items)
        results: list[ItemResult | None] = [None] * len(items)
        pairs = [(product, payload) for _listing, product, payload in items]
        gone: list[int] = []

        def run(indexes: list[int], bodies: dict[int, dict]) -> None:
            updates = {}
            for i in indexes:
                if i not in bodies:
                    continue
                pid = _as_id(items[i][0].external_id)
                if pid is None:
                    gone.append(i)
                else:
                    updates[i] = {**bodies[i], "id": pid}
            written, errors = self._update_parents(updates)
            for i, err in errors.items():
                if _is_gone(err):
                    gone.append(i)
                else:
                    results[i] = ItemResult(items[i][1].pk, error=err)
            known = {i: dict(items[i][0].variant_ids or {}) for i in written}
            self._finish(pairs, written, results, known=known, fresh=set())
            for i in written:
                if pairs[i][1].get("type") != "variable":
                    self._drop_stale_variations(items[i][0], written[i])

        plain = [i for i, (_p, payload) in enumerate(pairs) if payload.get("type") != "grouped"]
        run(plain, {i: _public(pairs[i][1]) for i in plain})
        recreate_plain = [i for i in gone if i in set(plain)]
        self._recreate(pairs, recreate_plain, results)

        grouped = [i for i, (_p, payload) in enumerate(pairs) if payload.get("type") == "grouped"]
        if grouped:
            gone.clear()
            bodies, missing = self._grouped_bodies({i: pairs[i][1] for i in grouped})
            for i, err in missing.items():
                results[i] = ItemResult(pairs[i][0].pk, error=err)
            run(grouped, bodies)
            self._recreate(pairs, list(gone), results)
        return [r if r is not None else ItemResult(pairs[i][0].pk, error=Transient(
            "no result for this item", status=None)) for i, r in enumerate(results)]

    def _recreate(self, pairs, indexes: list[int], results: list) -> None:
        if not indexes:
            return
        log.info("WooCommerce: %d listing(s) gone from the store; re-creating", len(indexes))
        for i, result in zip(indexes, self._create([pairs[i] for i in indexes])):
            results[i] = result

    # ------------------------------------------------------------------ delete

    def delete_listings(self, listings: list[Listing]) -> list[ItemResult]:
        """Delete products permanently (batch ``delete`` forces, WooCommerce source); one already gone is a success.

        A listing without an external id (its create crashed before the
        binding was saved) is looked up by the product's SKU; when the store
        has no such product there is nothing to delete and the item succeeds.
        Deleting a variable product deletes its variations (WooCommerce).
        """
        listings = list(listings)
        results: list[ItemResult | None] = [None] * len(listings)
        targets: dict[int, int] = {}
        by_sku: dict[int, str] = {}
        for i, listing in enumerate(listings):
            pid = _as_id(listing.external_id)
            if pid is not None:
                targets[i] = pid
            else:
                sku = listing.product.sku if listing.product_id else ""
                if sku:
                    by_sku[i] = sku
                else:
                    results[i] = ItemResult(listing.product_id)
        if by_sku:
            try:
                ids = self._ids_by_sku(sorted(set(by_sku.values())))
            except StoreError as err:
                ids = None
                for i in by_sku:
                    results[i] = ItemResult(listings[i].product_id, error=err)
            if ids is not None:
                for i, sku in by_sku.items():
                    if sku in ids:
                        targets[i] = ids[sku]
                    else:
                        results[i] = ItemResult(listings[i].product_id)

        unique = sorted(set(targets.values()))
        outcome: dict[int, StoreError | None] = {}
        if unique:
            answer = self.client.batch("products/batch", delete=unique, partial=True)["delete"]
            for pid, entry in zip(unique, answer):
                outcome[pid] = entry if isinstance(entry, StoreError) and not _is_gone(entry) else None
        for i, pid in targets.items():
            results[i] = ItemResult(listings[i].product_id, error=outcome.get(pid))
        return [r if r is not None else ItemResult(listings[i].product_id) for i, r in enumerate(results)]
