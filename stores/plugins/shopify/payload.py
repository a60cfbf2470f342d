"""``build_payload``: a catalog product as Shopify's ``ProductSetInput`` (``ProductPayload``, a part of
``ShopifyPlugin``), with its helpers: options and option values, money, weights, images and handles."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from products.models import Product, Variant

#: Shopify's "no options" marker: one option "Title" whose one value is "Default Title" (Shopify product CSV docs).
DEFAULT_OPTION = ("Title", "Default Title")

STATUS_MAP = {"active": "ACTIVE", "draft": "DRAFT", "archived": "ARCHIVED"}


def _money(value: Decimal | None) -> str | None:
    """A Decimal as Shopify's Money string (``"19.99"``); None for no value."""
    if value is None:
        return None
    return format(Decimal(value), "f")


def _grams(value: Decimal | None) -> float | None:
    """Grams as the ``Weight.value`` float (GraphQL ``Float``: a JSON number, not a string)."""
    if value is None:
        return None
    return float(Decimal(value))


def _options(product: Product, variants: list[Variant]) -> list[tuple[str, list[str]]]:
    """(option name, values used by the variants) in the catalog's order.

    Names come from ``product.options``, then any name only the variants
    use. Values: the declared order first, then first appearance; a declared
    value no variant uses is left out (Shopify keeps only option values that
    some variant has). No options at all → Shopify's ``Title`` / ``Default
    Title`` for one variant; several variants without options are told apart
    by SKU (or position) under ``Title``.
    """
    declared = [(str(o.get("name", "")).strip(), [str(v) for v in o.get("values", [])])
                for o in product.options or [] if str(o.get("name", "")).strip()]
    names = [n for n, _ in declared]
    for v in variants:
        for name in (v.option_values or {}):
            if str(name) not in names:
                names.append(str(name))
    if not names:
        if len(variants) <= 1:
            return [(DEFAULT_OPTION[0], [DEFAULT_OPTION[1]])]
        return [(DEFAULT_OPTION[0], [v.sku or f"#{v.position}" for v in variants])]
    order = dict(declared)
    out = []
    for name in names:
        used = []
        for v in variants:
            value = (v.option_values or {}).get(name)
            if value is not None and str(value) not in used:
                used.append(str(value))
        ranked = [x for x in order.get(name, []) if x in used] + [x for x in used if x not in order.get(name, [])]
        out.append((name, ranked))
    return out


def _variant_option_values(variant: Variant, options: list[tuple[str, list[str]]]) -> list[dict]:
    """``[{optionName, name}]`` for one variant, in option order (see ``_options`` for the no-option cases)."""
    values = variant.option_values or {}
    if not values and options and options[0][0] == DEFAULT_OPTION[0]:
        if options[0][1] == [DEFAULT_OPTION[1]]:
            return [{"optionName": DEFAULT_OPTION[0], "name": DEFAULT_OPTION[1]}]
        return [{"optionName": DEFAULT_OPTION[0], "name": variant.sku or f"#{variant.position}"}]
    return [{"optionName": name, "name": str(values[name])} for name, _ in options if name in values]


def shopify_handle(handle: str) -> str:
    """Our handle as Shopify stores it: lower case, each run of characters other than letters and digits one
    "-", no dash at either end (``My_Tee`` → ``my-tee``). Shopify handles are lower case letters, digits and
    single dashes (shopify.dev ``ProductSetInput.handle``); sending the stored form keeps the upsert by handle
    exact. Non-ASCII letters are kept: Shopify may transliterate them, and then a retried create meets
    ``HANDLE_NOT_UNIQUE`` (a typed refusal) rather than a duplicate."""
    return re.sub(r"[\W_]+", "-", (handle or "").lower()).strip("-") or (handle or "").lower()


def _image(url: str) -> dict:
    return {"originalSource": url, "contentType": "IMAGE"}


def _public(payload: dict) -> dict:
    """The ProductSetInput without our private keys (``_unsupported``)."""
    return {k: v for k, v in payload.items() if not k.startswith("_")}


class ProductPayload:
    """The payload a write sends; deterministic, so its hash decides whether a product is written."""

    def build_payload(self, product: Product) -> dict:
        """The ``ProductSetInput`` for ``product`` (deterministic: its hash decides writes).

        Shape::

            {"title", "handle", "descriptionHtml", "vendor", "productType",
             "status": "ACTIVE" | "DRAFT" | "ARCHIVED",
             "tags": [str],
             "productOptions": [{"name", "position": 1.., "values": [{"name"}]}],
             "files"?: [{"originalSource": url, "contentType": "IMAGE"}],   # when the product has images
             "variants": [{
                 "optionValues": [{"optionName", "name"}],
                 "sku", "barcode"?,
                 "price"?: "19.99",                 # Money string; left out when the catalog has none
                 "compareAtPrice": "25.00" | None,  # only when above the price, else None (cleared)
                 "inventoryPolicy": "DENY",
                 "inventoryItem": {"tracked": bool, "measurement"?: {"weight": {"unit": "GRAMS", "value": float}}},
                 "inventoryQuantities"?: [{"locationId": stock location GID, "name": "available", "quantity"}],
                 "file"?: {"originalSource", "contentType": "IMAGE"}}],
             "_unsupported"?: reason}       # private: never sent; the item is refused

        Our ``Variant.price`` is what the buyer pays and ``compare_at_price``
        the "was" price; Shopify's ``compareAtPrice`` is that same "was"
        price. Stock: ``Variant.stock`` None → not tracked, no quantities;
        otherwise tracked with the quantity (after the store's stock rule) set
        as ``available`` at the store's stock location (``stock_location_id``:
        the chosen one, else the primary; one cheap query, cached). ``productSet``
        replaces the lists it is given, so ``variants``, ``productOptions``
        and ``tags`` are always sent: what the catalog dropped is dropped in
        the store. ``files`` is sent only when the product has images (an
        image removed from the catalog is removed from the store; a product
        whose last image was removed keeps its store media, which avoids
        wiping media the merchant added by hand to image-less products).
        Weight: the variant's grams, else the product's. A variant image is
        also listed in ``files`` (Shopify requires it). Options: see
        ``_options``.

        Shopify has no grouped products: a grouped product's payload carries
        ``_unsupported`` and writing it answers ``Rejected``
        (``unsupported_kind``). An external product is published as a normal
        product (Shopify has no affiliate type; the button URL is not sent).
        Downloads and categories are not sent (Shopify needs an app for
        digital files and taxonomy ids for categories).
        """
        variants = list(product.variants.all())
        options = _options(product, variants)
        images = [str(u) for u in product.images or [] if u]
        for v in variants:
            if v.image_url and v.image_url not in images:
                images.append(v.image_url)
        payload: dict[str, Any] = {
            "title": product.title,
            "handle": shopify_handle(product.handle),
            "descriptionHtml": product.description or "",
            "vendor": product.vendor or "",
            "productType": product.product_type or "",
            "status": STATUS_MAP.get(product.status, "DRAFT"),
            "tags": [str(t) for t in product.tags or []],
            "productOptions": [
                {"name": name, "position": position, "values": [{"name": value} for value in values]}
                for position, (name, values) in enumerate(options, start=1)
            ],
            "variants": [],
        }
        if images:
            payload["files"] = [_image(u) for u in images]
        if product.kind == "grouped":
            payload["_unsupported"] = "Shopify has no grouped products: publish each child product on its own"
            return payload
        tracked = any(v.stock is not None for v in variants)
        location = self.stock_location_id() if tracked else None
        for v in variants:
            body: dict[str, Any] = {
                "optionValues": _variant_option_values(v, options),
                "sku": v.sku,
            }
            if v.barcode:
                body["barcode"] = v.barcode
            if v.price is not None:
                body["price"] = _money(v.price)
                compare = v.compare_at_price
                body["compareAtPrice"] = _money(compare) if compare is not None and compare > v.price else None
            body["inventoryPolicy"] = "DENY"
            item: dict[str, Any] = {"tracked": v.stock is not None}
            grams = v.weight_grams if v.weight_grams is not None else product.weight_grams
            if grams is not None:
                item["measurement"] = {"weight": {"unit": "GRAMS", "value": _grams(grams)}}
            body["inventoryItem"] = item
            if v.stock is not None:
                quantity = int(v.stock) if self.store is None else self.store.published_stock(int(v.stock))
                body["inventoryQuantities"] = [{"locationId": location, "name": "available", "quantity": quantity}]
            if v.image_url:
                body["file"] = _image(v.image_url)
            payload["variants"].append(body)
        return payload
