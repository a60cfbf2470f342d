"""Prices and stock written alone, without a whole product write (``FieldWrites``, a part of
``WooCommercePlugin``): ``split_payload`` tells them apart from the content, ``update_fields`` writes them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from stores.plugins import FieldUpdate, ItemResult, StoreError, Transient

from .client import _as_id, _is_gone
from .payload import _variation_key
from .variations import _variation_error

if TYPE_CHECKING:
    from products.models import Product

#: The price and stock fields of a product or variation body (``split_payload``).
OFFER_FIELDS = ("regular_price", "sale_price", "stock_quantity")
#: ``split_payload`` key of a simple or external product's own price and stock.
PRODUCT_KEY = "@product"


class FieldWrites:
    """Price and stock updates: one ``products/batch`` per 100 products, one ``variations/batch`` per variable
    product."""

    def split_payload(self, product: Product, payload: dict) -> tuple[dict, dict[str, dict]]:
        """(content, {"price": {key: [regular_price, sale_price]}, "stock": {key: stock_quantity or None}}).

        A simple or external product keeps its price and stock on the product
        itself: key ``PRODUCT_KEY``. A variable product keeps them on its
        variations: the variation's key (SKU, or ``#<menu_order>``). Grouped
        products have neither. ``manage_stock`` stays in the content: turning
        stock tracking on or off rewrites the product.
        """
        content = {k: v for k, v in payload.items() if k not in OFFER_FIELDS}
        price: dict[str, list] = {}
        stock: dict[str, int | None] = {}
        kind = payload.get("type")
        if kind in ("simple", "external"):
            price[PRODUCT_KEY] = [payload.get("regular_price", ""), payload.get("sale_price", "")]
            stock[PRODUCT_KEY] = payload.get("stock_quantity") if payload.get("manage_stock") else None
        elif kind == "variable":
            content["_variations"] = [{k: v for k, v in body.items() if k not in OFFER_FIELDS}
                                      for body in payload.get("_variations", [])]
            for body in payload.get("_variations", []):
                key = _variation_key(body)
                price[key] = [body.get("regular_price", ""), body.get("sale_price", "")]
                stock[key] = body.get("stock_quantity") if body.get("manage_stock") else None
        return content, {"price": price, "stock": stock}

    @staticmethod
    def _offer_body(groups: dict[str, dict], key: str) -> dict:
        """The REST fields that write ``key``'s price and/or stock (untracked stock: ``manage_stock`` false)."""
        body: dict[str, Any] = {}
        if key in groups.get("price", {}):
            body["regular_price"], body["sale_price"] = groups["price"][key]
        stock = groups.get("stock", {})
        if key in stock:
            # manage_stock too: a store that takes stock alone starts or stops tracking when the catalog does
            if stock[key] is None:
                body["manage_stock"] = False
            else:
                body.update(manage_stock=True, stock_quantity=stock[key])
        return body

    def update_fields(self, items: list[FieldUpdate]) -> list[ItemResult]:
        """Write prices and/or stock alone: one ``POST products/batch`` per 100 simple or external products,
        one ``POST products/<id>/variations/batch`` per variable product (WooCommerce has no cross-product
        variation batch — REST docs).

        A listing the store no longer has (404 / ``…_invalid_id``), or a variation not recorded in
        ``listing.variant_ids``, goes to ``write_whole`` (written whole, or refused where the store takes only
        these fields). The snapshot returned is the listing's with the store's answers put in.
        """
        results: list[ItemResult | None] = [None] * len(items)
        whole: list[int] = []
        parents: dict[int, dict] = {}
        for i, item in enumerate(items):
            pid = _as_id(item.listing.external_id)
            kind = item.payload.get("type")
            if pid is None:
                whole.append(i)
            elif kind in ("simple", "external"):
                body = self._offer_body(item.groups, PRODUCT_KEY)
                if body:
                    parents[i] = {**body, "id": pid}
                else:
                    results[i] = item.written(item.listing.remote_snapshot)
            elif kind == "variable":
                self._update_variation_offers(i, item, results, whole)
            else:
                results[i] = item.written(item.listing.remote_snapshot)
        if parents:
            order = list(parents)
            answer = self.client.batch("products/batch", update=[parents[i] for i in order], partial=True)["update"]
            for i, entry in zip(order, answer):
                if isinstance(entry, StoreError):
                    if _is_gone(entry):
                        whole.append(i)
                    else:
                        results[i] = ItemResult(items[i].product.pk, error=entry)
                    continue
                snapshot = dict(entry)
                if "variations_detail" in (items[i].listing.remote_snapshot or {}):
                    snapshot["variations_detail"] = items[i].listing.remote_snapshot["variations_detail"]
                results[i] = items[i].written(snapshot)
        self.write_whole(items, whole, results)
        return [r if r is not None else ItemResult(items[i].product.pk, error=Transient(
            "no result for this item", status=None)) for i, r in enumerate(results)]

    def _update_variation_offers(self, i: int, item: FieldUpdate, results: list, whole: list[int]) -> None:
        """One ``…/variations/batch`` for item ``i``'s variations; fills ``results[i]`` or adds ``i`` to ``whole``."""
        known = item.bound
        keys = sorted(set(item.groups.get("price", {})) | set(item.groups.get("stock", {})))
        if any(_as_id(known.get(key)) is None for key in keys):
            whole.append(i)  # a variation we never bound: the whole write creates or binds it
            return
        bodies = [(key, {**self._offer_body(item.groups, key), "id": int(known[key])}) for key in keys]
        bodies = [(key, body) for key, body in bodies if len(body) > 1]
        if not bodies:
            results[i] = item.written(item.listing.remote_snapshot)
            return
        pid = _as_id(item.listing.external_id)
        # partial: a refused call comes back as every item's error, never raised
        answer = self.client.batch(f"products/{pid}/variations/batch", update=[b for _k, b in bodies],
                                   partial=True)["update"]
        written = {}
        for (key, body), entry in zip(bodies, answer):
            if isinstance(entry, StoreError):
                if _is_gone(entry):
                    whole.append(i)
                else:
                    results[i] = ItemResult(item.product.pk, error=_variation_error(entry, body))
                return
            written[str(entry.get("id"))] = entry
        snapshot = dict(item.listing.remote_snapshot or {})
        detail = [written.pop(str(v.get("id")), v) for v in snapshot.get("variations_detail") or []]
        snapshot["variations_detail"] = detail + list(written.values())
        results[i] = item.written(snapshot)
