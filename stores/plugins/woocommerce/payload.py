"""``build_payload``: a catalog product as a WooCommerce product body, variations included
(``ProductPayload``, a part of ``WooCommercePlugin``), with its helpers: prices, weights, stock, downloads."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from stores.plugins import variant_key

if TYPE_CHECKING:
    from products.models import Product, Variant

STATUS_MAP = {"active": "publish", "draft": "draft", "archived": "private"}
PRODUCT_TYPES = ("simple", "variable", "grouped", "external")


def _money(value: Decimal | None) -> str:
    """A Decimal as WooCommerce's price string (``"19.99"``); ``""`` for no price (prices are JSON strings, seen)."""
    if value is None:
        return ""
    return format(Decimal(value), "f")


def _prices(variant: Variant | None) -> tuple[str, str]:
    """(regular_price, sale_price): our ``price`` is what the buyer pays, ``compare_at_price`` the "was" price."""
    if variant is None or variant.price is None:
        return "", ""
    price = Decimal(variant.price)
    compare_at = variant.compare_at_price
    if compare_at is not None and Decimal(compare_at) > price:
        return _money(compare_at), _money(price)
    return _money(price), ""


def _kilograms(grams: Decimal | None) -> str:
    """Grams as a kilogram string (``250`` → ``"0.25"``); ``""`` when unknown."""
    if grams is None:
        return ""
    kg = (Decimal(grams) / Decimal(1000)).normalize()
    return format(kg, "f")


def _stock(variant: Variant | None, store=None) -> dict:
    """Stock fields for ``variant``; ``store``'s stock rule (``Store.published_stock``) decides the quantity."""
    if variant is None or variant.stock is None:
        return {"manage_stock": False}
    quantity = int(variant.stock) if store is None else store.published_stock(int(variant.stock))
    return {"manage_stock": True, "stock_quantity": quantity}


def _downloads(product: Product) -> dict:
    files = [{"name": str(d.get("name") or ""), "file": str(d.get("url") or d.get("file") or "")}
             for d in product.downloads or []]
    return {"downloadable": bool(files), "downloads": files}


def _public(body: dict) -> dict:
    """The body without our private keys (``_variations``, ``_grouped_skus``)."""
    return {k: v for k, v in body.items() if not k.startswith("_")}


def _variation_key(body: dict) -> str:
    return variant_key(body.get("sku") or "", int(body.get("menu_order") or 0))


class ProductPayload:
    """The body a write sends; deterministic, so its hash decides whether a product is written."""

    def build_payload(self, product: Product) -> dict:
        """The WooCommerce product body for ``product`` (deterministic: its hash decides writes).

        Shape::

            {"name", "type": simple|variable|grouped|external,
             "status": publish|draft|private   (active|draft|archived),
             "sku", "description", "short_description",
             "images": [{"src": url}], "attributes": [{"name", "options", "visible", "variation"}],
             # simple, external:
             "regular_price", "sale_price",          # Decimal strings, "" = none
             # simple:
             "manage_stock", "stock_quantity"?, "weight", "downloadable", "downloads": [{"name", "file"}],
             # external:
             "external_url", "button_text",
             # variable:
             "manage_stock": false, "weight", "_variations": [variation body, …],
             # grouped:
             "_grouped_skus": [child SKU, …]}

        Prices: our ``Variant.price`` is what the buyer pays and
        ``compare_at_price`` the struck-through "was" price, so with a
        compare-at above the price ``regular_price`` = compare-at and
        ``sale_price`` = price; otherwise ``regular_price`` = price and
        ``sale_price`` = ``""``. Prices are strings (a number answers 400
        ``rest_invalid_type``, seen on WooCommerce 7.9.0).

        Stock: ``Variant.stock`` None → ``manage_stock: false`` (not tracked).

        Weight: WooCommerce stores weights in the store's own unit
        (WooCommerce > Settings > Products, default kg; per WooCommerce REST
        docs the field is a string). We send **kilograms** as a string computed
        from ``weight_grams`` (``250`` → ``"0.25"``); a store set to another
        unit will show wrong weights. ``""`` when the weight is unknown.

        Simple and external products take price, SKU fallback and stock from
        the first variant (by position). External products cannot manage stock
        or be downloadable (WooCommerce's ``WC_Product_External`` refuses
        both), grouped products have no price of their own. Downloads go on a
        simple product, or on every variation of a variable one.

        Variation bodies (``_variations``, one per variant in position order)::

            {"sku", "menu_order": position, "regular_price", "sale_price",
             "manage_stock", "stock_quantity"?, "attributes": [{"name", "option"}],
             "image": {"src"}?, "weight"?, "downloadable"?, "downloads"?}

        Private keys (``_variations``, ``_grouped_skus``) are never sent: the
        plugin writes variations through ``/products/{id}/variations/batch``
        and turns grouped children's SKUs into store ids itself.

        Categories and tags are left out: WooCommerce wants its own term ids
        for them, which takes extra API calls (look up or create each term).
        """
        kind = product.kind if product.kind in PRODUCT_TYPES else "simple"
        variants = list(product.variants.all())
        first = variants[0] if variants else None
        payload: dict[str, Any] = {
            "name": product.title,
            "type": kind,
            "status": STATUS_MAP.get(product.status, "draft"),
            "sku": product.sku or (first.sku if first and kind in ("simple", "external") else ""),
            "description": product.description,
            "short_description": product.short_description,
            "images": [{"src": url} for url in product.images or []],
            "attributes": [
                {
                    "name": str(option.get("name", "")),
                    "options": [str(v) for v in option.get("values", [])],
                    "visible": True,
                    "variation": kind == "variable",
                }
                for option in product.options or []
            ],
        }
        if kind == "simple":
            regular, sale = _prices(first)
            payload.update({"regular_price": regular, "sale_price": sale})
            payload.update(_stock(first, self.store))
            grams = product.weight_grams if product.weight_grams is not None else (first and first.weight_grams)
            payload["weight"] = _kilograms(grams)
            payload.update(_downloads(product))
        elif kind == "external":
            regular, sale = _prices(first)
            payload.update({"regular_price": regular, "sale_price": sale, "manage_stock": False,
                            "external_url": product.external_url, "button_text": product.button_text})
        elif kind == "variable":
            payload["manage_stock"] = False
            payload["weight"] = _kilograms(product.weight_grams)
            option_order = [str(o.get("name", "")) for o in product.options or []]
            downloads = _downloads(product) if product.downloads else {}
            payload["_variations"] = [self._variation_body(v, option_order, downloads, self.store) for v in variants]
        else:  # grouped
            payload["_grouped_skus"] = [str(s) for s in product.grouped_skus or []]
        return payload

    @staticmethod
    def _variation_body(variant: Variant, option_order: list[str], downloads: dict, store=None) -> dict:
        regular, sale = _prices(variant)
        values = dict(variant.option_values or {})
        names = [n for n in option_order if n in values] + [n for n in values if n not in option_order]
        body: dict[str, Any] = {
            "sku": variant.sku,
            "menu_order": variant.position,
            "regular_price": regular,
            "sale_price": sale,
            **_stock(variant, store),
            "attributes": [{"name": name, "option": str(values[name])} for name in names],
        }
        if variant.image_url:
            body["image"] = {"src": variant.image_url}
        if variant.weight_grams is not None:
            body["weight"] = _kilograms(variant.weight_grams)
        body.update(downloads)
        return body
