"""Prices and stock written alone, without a whole ``productSet`` (``FieldWrites``, a part of
``ShopifyPlugin``): ``split_payload`` tells them apart from the content, ``update_fields`` writes them."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

from stores.plugins import FieldUpdate, ItemResult, Rejected, StoreError, variant_key

from .ids import VARIANT_GID, product_gid
from .queries import MAX_INPUT_ITEMS
from .writes import _is_gone, note_stock

if TYPE_CHECKING:
    from products.models import Product

#: Variant fields a price or stock update writes alone (``ShopifyPlugin.split_payload``).
VARIANT_OFFER_FIELDS = ("price", "compareAtPrice", "inventoryQuantities")


class FieldWrites:
    """Price and stock updates: ``productVariantsBulkUpdate`` per product, shared ``inventorySetQuantities``."""

    def split_payload(self, product: Product, payload: dict) -> tuple[dict, dict[str, dict]]:
        """(content, {"price": {key: {"price", "compareAtPrice"}}, "stock": {key: [location GID, quantity] or None}}).

        Keys are ``variant_key(sku, position)`` of the product's variants, in
        the payload's order. The content keeps everything else, the
        inventory item's ``tracked`` flag included (turning tracking on or
        off rewrites the product). A grouped product (``_unsupported``) has
        no field groups.
        """
        bodies = payload.get("variants") or []
        content = {**payload, "variants": [{k: v for k, v in body.items() if k not in VARIANT_OFFER_FIELDS}
                                           for body in bodies]}
        price: dict[str, dict] = {}
        stock: dict[str, list | None] = {}
        if payload.get("_unsupported"):
            return content, {"price": price, "stock": stock}
        for variant, body in zip(product.variants.all(), bodies):
            key = variant_key(variant.sku, variant.position)
            if "price" in body:
                price[key] = {"price": body["price"], "compareAtPrice": body.get("compareAtPrice")}
            levels = body.get("inventoryQuantities") or []
            stock[key] = [levels[0]["locationId"], int(levels[0]["quantity"])] if levels else None
        return content, {"price": price, "stock": stock}

    def update_fields(self, items: list[FieldUpdate]) -> list[ItemResult]:
        """Write prices and/or stock alone: ``productVariantsBulkUpdate`` per product for prices (about 15
        points against ``productSet``'s 55–90), one ``inventorySetQuantities`` for the stock of every item
        (at most 250 quantities a call: Shopify's input-array limit, shopify.dev changelog 2019-12).

        ``inventorySetQuantities`` is all or nothing, so when a shared call is refused each product's
        quantities are sent again on their own and only the refused product fails. A listing without a
        product GID, a variant not bound in ``listing.variant_ids``, a variant whose inventory item the
        snapshot lacks, or a product or variant gone from the shop goes to ``write_whole`` (written whole,
        or refused where the store takes only these fields). An item not stocked at the location
        (``ITEM_NOT_STOCKED_AT_LOCATION``) is stocked there (``inventoryActivate``) and set again. A variant
        whose tracking differs from the catalog's (stock given to an untracked item, or taken away) is
        switched in the same ``productVariantsBulkUpdate``. The returned snapshot is the listing's with the
        new prices, tracking and the levels set at our location (``note_stock``) put in.
        """
        results: list[ItemResult | None] = [None] * len(items)
        snapshots = [copy.deepcopy(item.listing.remote_snapshot or {}) for item in items]
        whole: set[int] = set()
        quantities: dict[int, list[tuple[str, str, int]]] = {}
        for i, item in enumerate(items):
            gid = product_gid(item.listing.external_id)
            known = item.bound
            nodes = {str(n.get("id")): n for n in (snapshots[i].get("variants") or {}).get("nodes") or []}
            prices = item.groups.get("price") or {}
            untracked = [k for k, v in (item.groups.get("stock") or {}).items() if v is None]
            stock = {k: v for k, v in (item.groups.get("stock") or {}).items() if v is not None}
            if not gid or any(not known.get(k, "").startswith(VARIANT_GID) for k in [*prices, *stock, *untracked]):
                whole.add(i)
                continue
            items_by_key = {k: ((nodes.get(known[k]) or {}).get("inventoryItem") or {}).get("id") for k in stock}
            if any(not item_gid for item_gid in items_by_key.values()):
                whole.add(i)
                continue
            inputs = {k: {"id": known[k], **values} for k, values in prices.items()}
            for key, tracked in [*((k, True) for k in stock), *((k, False) for k in untracked)]:
                node = nodes.get(known[key]) or {}
                if ((node.get("inventoryItem") or {}).get("tracked") is True) != tracked:
                    # a store that takes stock alone starts or stops tracking when the catalog does
                    inputs.setdefault(key, {"id": known[key]})["inventoryItem"] = {"tracked": tracked}
            if inputs:
                sent = list(inputs.values())
                try:
                    answer = self.update_variants(gid, sent)
                except StoreError as err:
                    if _is_gone(err) or err.code == "PRODUCT_VARIANT_DOES_NOT_EXIST":
                        whole.add(i)
                    else:
                        results[i] = ItemResult(item.product.pk, error=err)
                    continue
                for variant in answer:
                    node = nodes.get(str(variant.get("id")))
                    if node is not None:
                        node.update(price=variant.get("price"), compareAtPrice=variant.get("compareAtPrice"))
                for key, values in inputs.items():
                    node = nodes.get(known[key])
                    if node is not None and "inventoryItem" in values:
                        node["inventoryItem"] = {**(node.get("inventoryItem") or {}), **values["inventoryItem"]}
            if stock:
                quantities[i] = [(items_by_key[k], location, quantity) for k, (location, quantity) in stock.items()]
        self._set_quantities(items, quantities, results, whole)
        for i, item in enumerate(items):
            if results[i] is not None or i in whole:
                continue
            known = item.bound
            by_location: dict[str, dict[str, int]] = {}
            for key, value in (item.groups.get("stock") or {}).items():
                if value is not None and known.get(key):
                    by_location.setdefault(value[0], {})[known[key]] = int(value[1])
            for location, quantities in by_location.items():
                # the level at our location, as a whole write notes it (inventoryQuantity is every location's total)
                note_stock(snapshots[i], location, quantities)
            results[i] = item.written(snapshots[i])
        self.write_whole(items, whole, results)
        return results

    def _set_quantities(self, items: list[FieldUpdate], quantities: dict[int, list], results: list,
                        whole: set[int]) -> None:
        """Send ``quantities`` (item index → triples) in shared calls; isolate a refused call per product."""
        pending = [i for i in quantities if results[i] is None and i not in whole]
        calls: list[list[int]] = []
        for i in pending:
            if calls and sum(len(quantities[j]) for j in calls[-1]) + len(quantities[i]) <= MAX_INPUT_ITEMS:
                calls[-1].append(i)
            else:
                calls.append([i])
        for group in calls:
            try:
                self.set_inventory([q for i in group for q in quantities[i]])
                continue
            except Rejected:
                pass  # all or nothing: send each product alone to find the refused one
            except StoreError as err:
                for i in group:
                    results[i] = ItemResult(items[i].product.pk, error=err)
                continue
            for i in group:
                try:
                    self.set_inventory(quantities[i])
                except StoreError as err:
                    if err.code != "ITEM_NOT_STOCKED_AT_LOCATION":
                        results[i] = ItemResult(items[i].product.pk, error=err)
                        continue
                    try:  # stock the items there first (shopify.dev inventoryActivate), then set again
                        for item_gid, location, quantity in quantities[i]:
                            self.activate_inventory(item_gid, location, available=quantity)
                        self.set_inventory(quantities[i])
                    except StoreError as again:
                        if items[i].allow_whole:
                            whole.add(i)
                        else:
                            results[i] = ItemResult(items[i].product.pk, error=again)  # the store's own reason
