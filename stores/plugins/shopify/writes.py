"""Writes of whole products and of variants and stock (``ProductWrites``, a part of ``ShopifyPlugin``):
``productSet`` create and update by handle or GID, ``productDelete``, ``productVariantsBulkUpdate``,
``inventorySetQuantities``; and how their refusals are read (gone, not stocked)."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

from stores.plugins import ItemResult, NotFound, Rejected, RemoteListing, StoreError, Transient, variant_key

from .ids import VARIANT_GID, product_gid
from .payload import _public, shopify_handle
from .queries import (
    INVENTORY_SET,
    MAX_INPUT_ITEMS,
    MAX_PAGE,
    MUTATION_COST,
    PRODUCT_DELETE,
    PRODUCT_SET,
    VARIANTS_BULK_UPDATE,
    _product_set_cost,
)

if TYPE_CHECKING:
    from products.models import Product, Variant
    from stores.models import Listing

log = logging.getLogger(__name__)

#: Codes/messages that say the product (or variant) is not in the store.
GONE_CODES = {"PRODUCT_DOES_NOT_EXIST", "NOT_FOUND"}
_GONE_MESSAGE = re.compile(r"does not exist|doesn't exist|not found|could not be found|couldn't find", re.I)


def _is_gone(err: StoreError) -> bool:
    """True when the error says the product is not in the store.

    404; a ``productSet`` userError coded ``PRODUCT_DOES_NOT_EXIST`` /
    ``NOT_FOUND``; or, for ``productDelete`` whose ``UserError`` has no code,
    userErrors whose every message says so ("Product does not exist").
    """
    if isinstance(err, NotFound):
        return True
    if not isinstance(err, Rejected):
        return False
    if err.code in GONE_CODES:
        return True
    details = getattr(err, "details", None)
    errors = details.get("userErrors") if isinstance(details, dict) else None
    if err.code or not errors:
        return False
    return all(isinstance(e, dict) and _GONE_MESSAGE.search(str(e.get("message") or "")) for e in errors)


def _not_stocked(err: StoreError) -> bool:
    """True when a write was refused because an item is not stocked at the location it named
    (``inventorySetQuantities``: ``ITEM_NOT_STOCKED_AT_LOCATION``; ``productSet`` on an existing variant: a
    userError saying so — the docs give no code, so the message decides)."""
    return isinstance(err, Rejected) and (err.code == "ITEM_NOT_STOCKED_AT_LOCATION"
                                          or re.search(r"not stocked", str(err), re.I) is not None)


def note_stock(snapshot: dict, location_id: str, quantities: dict[str, int]) -> None:
    """Record in a listing snapshot the ``available`` units a write just set at ``location_id``.

    ``quantities``: variant GID → units. Each such variant node gets ``inventoryItem.inventoryLevel =
    {"quantities": [{"name": "available", "quantity": n}]}`` and the snapshot ``_stockLocation =
    location_id`` — the shape ``fetch_product`` answers — so the Pull agent compares the stock at our
    location with the stock at our location (``inventoryQuantity`` is the total over every location, and
    asking for the level in every write's read-back would cost 2 points a variant on every publish). Call
    it after any write that sets stock (``productSet``, ``inventorySetQuantities``).
    """
    if not quantities:
        return
    for node in (snapshot.get("variants") or {}).get("nodes") or []:
        quantity = quantities.get(str(node.get("id")))
        if quantity is None:
            continue
        item = node.get("inventoryItem")
        if not isinstance(item, dict):
            item = node["inventoryItem"] = {}
        item["inventoryLevel"] = {"quantities": [{"name": "available", "quantity": int(quantity)}]}
    snapshot["_stockLocation"] = location_id


class ProductWrites:
    """Create, update and delete listings, one ``productSet`` or ``productDelete`` per product, and the partial
    writes of variants and stock. Idempotent: see ``ShopifyPlugin``."""

    def create_listings(self, items: list[tuple[Product, dict]]) -> list[ItemResult]:
        """Create products with ``productSet(identifier: {handle})``, one mutation each.

        The handle identifies the product: when the store already has it (a
        crashed attempt, or a product made by hand with our handle) it is
        updated in place — bound — never created twice. ``RemoteListing``:
        ``external_id`` = product GID; ``variant_ids`` =
        ``variant_key(sku, position)`` → variant GID; ``snapshot`` = the
        product as Shopify answered (variants under ``variants.nodes``).
        """
        results = []
        for product, payload in items:
            results.append(self._write(product, payload, identifier={"handle": payload.get("handle") or
                                                                     shopify_handle(product.handle)}, known={}))
        return results

    def update_listings(self, items: list[tuple[Listing, Product, dict]]) -> list[ItemResult]:
        """Write the whole payload to each listing's product (``productSet(identifier: {id})``).

        ``productSet`` replaces the variant list, so the full list is always
        sent; variants recorded in ``listing.variant_ids`` carry their GID so
        Shopify updates them in place (same variant and inventory item ids)
        instead of replacing them. A recorded variant that no longer exists
        (``PRODUCT_VARIANT_DOES_NOT_EXIST``) → the write is repeated without
        variant ids. A product gone from the store (``PRODUCT_DOES_NOT_EXIST``
        / ``NOT_FOUND``) or a listing without an external id → re-created by
        handle through the create path.
        """
        results = []
        for listing, product, payload in items:
            gid = product_gid(listing.external_id)
            if not gid:
                results.append(self._write(product, payload, identifier={"handle": payload.get("handle") or
                                                                         shopify_handle(product.handle)}, known={}))
                continue
            try:
                self._stock_at_chosen_location(listing, product, payload)
            except StoreError as err:
                results.append(ItemResult(product.pk, error=err))
                continue
            result = self._write(product, payload, identifier={"id": gid}, known=dict(listing.variant_ids or {}))
            if result.error is not None and _not_stocked(result.error):
                try:
                    again = self._activate_where_sent(listing, product, payload)
                except StoreError as err:
                    again, result = 0, ItemResult(product.pk, error=err)
                if again:
                    log.info("Shopify: stocked %d variant(s) of %s at the stock location; writing again", again,
                             product.handle)
                    result = self._write(product, payload, identifier={"id": gid},
                                         known=dict(listing.variant_ids or {}))
            if result.error is not None and _is_gone(result.error):
                log.info("Shopify: product %s is gone from the store; re-creating %s by handle", gid, product.handle)
                result = self._write(product, payload, identifier={"handle": payload.get("handle") or
                                                                   shopify_handle(product.handle)}, known={})
            results.append(result)
        return results

    def _write(self, product: Product, payload: dict, *, identifier: dict, known: dict[str, str]) -> ItemResult:
        if payload.get("_unsupported"):
            return ItemResult(product.pk, error=Rejected(f"unsupported_kind: {payload['_unsupported']}",
                                                       status=None, code="unsupported_kind", field="kind"))
        variants = list(product.variants.all())
        body = _public(payload)
        keys = [variant_key(v.sku, v.position) for v in variants]
        with_ids = False
        if known and len(keys) == len(body.get("variants", [])):
            sent = []
            for key, variant_body in zip(keys, body["variants"]):
                vid = known.get(key)
                if vid and str(vid).startswith(VARIANT_GID):
                    variant_body = {"id": str(vid), **variant_body}
                    with_ids = True
                sent.append(variant_body)
            body = {**body, "variants": sent}
        try:
            answer = self._product_set(identifier, body)
        except StoreError as err:
            if with_ids and isinstance(err, Rejected) and err.code == "PRODUCT_VARIANT_DOES_NOT_EXIST":
                log.info("Shopify: a recorded variant of %s is gone; writing the variants afresh", product.handle)
                try:
                    answer = self._product_set(identifier, _public(payload))
                except StoreError as again:
                    return ItemResult(product.pk, error=again)
            else:
                return ItemResult(product.pk, error=err)
        remote = self._remote_listing(product, variants, payload, answer)
        location, quantities = None, {}
        for v, variant_body in zip(variants, payload.get("variants") or []):
            levels = variant_body.get("inventoryQuantities") or []
            vid = remote.variant_ids.get(variant_key(v.sku, v.position))
            if levels and vid:
                location = levels[0]["locationId"]
                quantities[str(vid)] = int(levels[0]["quantity"])
        if location:
            note_stock(remote.snapshot, location, quantities)
        return ItemResult(product.pk, listing=remote)

    # ------------------------------------------------------------------ stocking at the chosen location

    def _stock_at_chosen_location(self, listing: Listing, product: Product, payload: dict) -> int:
        """Before rewriting ``listing``: stock its known variants at the store's chosen ``stock_location``
        (``activate_inventory``) unless FlashFusion holds an ``InventoryLevel`` for them there (a level we
        wrote or read proves the item is stocked). Nothing to do for the primary location (Shopify stocks
        every new variant there) or a store without a chosen location. Returns the number activated."""
        chosen = getattr(self.store, "stock_location", None) if self.store is not None else None
        if chosen is None or not chosen.is_active or chosen.is_primary or not chosen.external_id:
            return 0
        from stores.models import InventoryLevel

        stocked = set(InventoryLevel.objects.filter(location=chosen, variant__product_id=product.pk)
                      .values_list("variant_id", flat=True))
        return self._activate_where_sent(listing, product, payload, only=chosen.external_id, skip=stocked)

    def _activate_where_sent(self, listing: Listing, product: Product, payload: dict, *, only: str | None = None,
                             skip: set[int] = frozenset()) -> int:
        """``activate_inventory`` for each variant of ``listing`` whose payload sets a quantity (at ``only``
        when given), starting at that quantity; variants in ``skip`` (our variant ids) or whose inventory item
        the listing's snapshot lacks are left alone. Returns the number activated."""
        known = listing.variant_ids or {}
        items = {str(n.get("id")): ((n.get("inventoryItem") or {}).get("id"))
                 for n in ((listing.remote_snapshot or {}).get("variants") or {}).get("nodes") or []}
        count = 0
        for v, variant_body in zip(product.variants.all(), payload.get("variants") or []):
            levels = variant_body.get("inventoryQuantities") or []
            if not levels or v.pk in skip or (only is not None and levels[0].get("locationId") != only):
                continue
            item = items.get(str(known.get(variant_key(v.sku, v.position)) or ""))
            if item:
                self.activate_inventory(str(item), levels[0]["locationId"], available=int(levels[0]["quantity"]))
                count += 1
        return count

    def _product_set(self, identifier: dict, body: dict) -> dict:
        count = len(body.get("variants") or [])
        first = max(1, min(MAX_PAGE, count))
        data = self.client.graphql(PRODUCT_SET, {"identifier": identifier, "input": body, "variantsFirst": first},
                                   cost=_product_set_cost(body, first, self.client.api_version))
        product = (data.get("productSet") or {}).get("product")
        if not isinstance(product, dict) or not product.get("id"):
            raise Transient("productSet answered without a product", status=200, code="no_product")
        self._complete_variants(product)
        return product

    @staticmethod
    def _remote_listing(product: Product, variants: list[Variant], payload: dict, answer: dict) -> RemoteListing:
        """Bind our variants to Shopify's: by SKU, else by option values, else by order."""
        remote = list((answer.get("variants") or {}).get("nodes") or [])
        free = list(remote)
        by_sku: dict[str, dict] = {}
        for node in remote:
            if node.get("sku"):
                by_sku.setdefault(str(node["sku"]), node)
        sent = payload.get("variants") or []
        ids: dict[str, str] = {}
        pending: list[tuple[int, Variant]] = []
        for index, v in enumerate(variants):
            node = by_sku.get(v.sku) if v.sku else None
            if node is not None and node in free:
                free.remove(node)
                ids[variant_key(v.sku, v.position)] = str(node["id"])
            else:
                pending.append((index, v))
        unresolved = []
        for index, v in pending:
            wanted = {(o["optionName"], o["name"]) for o in (sent[index]["optionValues"] if index < len(sent) else [])}
            node = next((n for n in free if {(o.get("name"), o.get("value"))
                                              for o in n.get("selectedOptions") or []} == wanted), None)
            if node is not None:
                free.remove(node)
                ids[variant_key(v.sku, v.position)] = str(node["id"])
            else:
                unresolved.append(v)
        for v, node in zip(unresolved, sorted(free, key=lambda n: n.get("position") or 0)):
            ids[variant_key(v.sku, v.position)] = str(node["id"])
        return RemoteListing(external_id=str(answer["id"]), variant_ids=ids, snapshot=answer)

    # ------------------------------------------------------------------ delete

    def delete_listings(self, listings: list[Listing]) -> list[ItemResult]:
        """``productDelete`` each listing's product (permanent, with its variants and media — shopify.dev).

        Already gone (404 or a userError like "Product does not exist") is a
        success. A listing without an external id (its create crashed before
        the binding was saved) is looked up by the product's handle; when the
        store has no such product there is nothing to delete.
        """
        results = []
        for listing in listings:
            try:
                gid = product_gid(listing.external_id)
                if not gid:
                    found = self.find_product(shopify_handle(listing.product.handle)) if listing.product_id else None
                    gid = str(found["id"]) if found else ""
                if gid:
                    self.client.graphql(PRODUCT_DELETE, {"input": {"id": gid}}, cost=MUTATION_COST + 1)
            except StoreError as err:
                results.append(ItemResult(listing.product_id, error=None if _is_gone(err) else err))
                continue
            results.append(ItemResult(listing.product_id))
        return results

    # ------------------------------------------------------------------ partial writes

    def update_variants(self, product_id: str, variants: list[dict]) -> list[dict]:
        """``productVariantsBulkUpdate``: change some variants of one product (e.g. prices) without a full write.

        ``variants`` are ``ProductVariantsBulkInput`` dicts, each with its
        ``id`` (variant GID) and the fields to change (``price``,
        ``compareAtPrice`` as Money strings…). Returns the updated variants
        ``[{id, sku, price, compareAtPrice}]``. More than 250 variants go in
        several calls (the input-array limit).
        """
        updated: list[dict] = []
        for start in range(0, len(variants), MAX_INPUT_ITEMS):
            chunk = variants[start:start + MAX_INPUT_ITEMS]
            data = self.client.graphql(VARIANTS_BULK_UPDATE, {"productId": product_gid(product_id), "variants": chunk},
                                       cost=MUTATION_COST + 2 + len(chunk))
            updated.extend((data.get("productVariantsBulkUpdate") or {}).get("productVariants") or [])
        return updated

    def set_inventory(self, quantities: list[tuple[str, str, int]], *, reason: str = "correction") -> None:
        """``inventorySetQuantities``: set ``available`` for (inventory item GID, location GID, quantity) triples.

        Our catalog is the truth, so the compare-and-set check is skipped
        (``ignoreCompareQuantity: true``); ``reason`` is one of Shopify's
        inventory reasons (``correction``, ``cycle_count_available``…). More
        than 250 triples go in several calls (the input-array limit).
        """
        quantities = list(quantities)
        for start in range(0, len(quantities), MAX_INPUT_ITEMS):
            payload = {
                "name": "available",
                "reason": reason,
                "ignoreCompareQuantity": True,
                "quantities": [{"inventoryItemId": item, "locationId": location, "quantity": int(qty)}
                               for item, location, qty in quantities[start:start + MAX_INPUT_ITEMS]],
            }
            self.client.graphql(INVENTORY_SET, {"input": payload}, cost=MUTATION_COST + 3)
