"""The compared fields: a product body (our payload, the store's answer, a snapshot) read in catalog terms.

What the pull agent (``agents.pull``) and echo suppression (``agents.echo``)
compare: title, status, SKU, description, short description, and per
variant the price, the compare-at price and the stock, as
``{field name: shown value}``. Values are in catalog terms, so messages
speak the operator's language: WooCommerce's ``regular_price`` /
``sale_price`` pair becomes our price (what the buyer pays) and compare-at
price, ``publish`` / ``draft`` / ``private`` become active / draft /
archived (the inverse of the plugin's ``STATUS_MAP``). Money is compared as
Decimals with two places, texts with runs of whitespace collapsed (WordPress
may re-wrap what it stores). Shopify stock is read at the store's stock
location when the body says what it is there (``_shopify_stock``,
``align_stock_base``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Callable

#: WooCommerce post status → our product status (inverse of ``stores.plugins.woocommerce.STATUS_MAP``).
WOO_STATUSES = {"publish": "active", "draft": "draft", "private": "archived"}
NONE = "—"


@dataclass(frozen=True)
class Difference:
    """One field where the store and the catalog disagree (values as shown to people)."""

    field: str
    catalog: str
    store: str

    def __str__(self) -> str:
        return f"{self.field} {_short(self.catalog)} → {_short(self.store)}"


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _money(value) -> str:
    """``"65"`` / ``"65.00"`` / ``65`` → ``"65.00"``; empty → ``"—"``; unreadable → as given."""
    if value is None or value == "":
        return NONE
    try:
        return str(Decimal(str(value)).quantize(Decimal("0.01")))
    except (InvalidOperation, ValueError):
        return str(value)


def _text(value) -> str:
    text = re.sub(r"\s+", " ", str(value or "")).strip()
    return text or NONE


def _woo_text(value) -> str:
    """A WooCommerce text through the connector's one normalizer: the shop stores a bare ``&`` as ``&amp;``
    (seen on 7.9.0), so entities are decoded on both sides before comparing (issue 13 items 7, 8)."""
    from stores.plugins.woocommerce.normalize import normalize_text

    return normalize_text(value) or NONE


def _woo_offer(data: dict, prefix: str) -> dict[str, str]:
    """Price, compare-at price and stock of a simple product or a variation, in catalog terms.

    WooCommerce sells at ``sale_price`` when there is one, the struck-through
    price being ``regular_price``; else at ``regular_price`` (the plugin's
    ``_prices`` in reverse). Stock counts only when ``manage_stock`` is
    true (a variation may say ``"parent"``; the plugin always sets it).
    """
    regular, sale = data.get("regular_price"), data.get("sale_price")
    if sale not in (None, ""):
        price, compare_at = _money(sale), _money(regular)
    else:
        price, compare_at = _money(regular), NONE
    stock = str(data.get("stock_quantity")) if data.get("manage_stock") is True else "not tracked"
    return {f"{prefix}price": price, f"{prefix}compare-at price": compare_at, f"{prefix}stock": stock}


def woocommerce_fields(data: dict) -> dict[str, str]:
    """The compared fields of a WooCommerce product body: our payload or the store's answer.

    Variations come from ``_variations`` (our payload) or ``variations_detail``
    (``WooCommercePlugin.fetch_product``), keyed by SKU (``#<position>``
    when blank), as the plugin binds them.
    """
    fields = {
        "title": _woo_text(data.get("name")),
        "status": WOO_STATUSES.get(str(data.get("status")), str(data.get("status") or NONE)),
        "SKU": _text(data.get("sku")),
        "description": _woo_text(data.get("description")),
        "short description": _woo_text(data.get("short_description")),
    }
    kind = data.get("type")
    if kind in ("simple", "external"):
        fields.update(_woo_offer(data, ""))
    elif kind == "variable":
        variations = data.get("_variations") if "_variations" in data else data.get("variations_detail") or []
        for variation in variations:
            key = variation.get("sku") or f"#{variation.get('menu_order') or 0}"
            fields.update(_woo_offer(variation, f"variant {key} "))
    return fields


#: Shopify product status → ours (inverse of ``stores.plugins.shopify.STATUS_MAP``).
SHOPIFY_STATUSES = {"ACTIVE": "active", "DRAFT": "draft", "ARCHIVED": "archived"}


def _shopify_stock(variant: dict) -> str:
    """Stock of a Shopify variant body, at the store's stock location when the body says what it is there.

    Our payload: its ``inventoryQuantities`` (one entry, at our location).
    The store's answer (``ShopifyPlugin.fetch_product``) or a write's
    snapshot (``shopify.note_stock``): ``inventoryItem.inventoryLevel``'s
    ``available`` at our location (``"0"`` when the item is not stocked
    there). Without a level (snapshots written before levels were kept):
    ``inventoryQuantity``, the total over every location.
    """
    item = variant.get("inventoryItem") or {}
    if item.get("tracked") is not True:
        return "not tracked"
    if "inventoryQuantities" in variant:
        return str(sum(int(q.get("quantity") or 0) for q in variant.get("inventoryQuantities") or []))
    if "inventoryLevel" in item:
        level = item.get("inventoryLevel") or {}
        available = next((q for q in level.get("quantities") or [] if q.get("name") == "available"), None)
        return str(int(available.get("quantity") or 0)) if available else "0"
    return str(variant.get("inventoryQuantity"))


def shopify_fields(data: dict) -> dict[str, str]:
    """The compared fields of a Shopify product body: our ``ProductSetInput`` or ``ShopifyPlugin.fetch_product``'s
    answer (variants under ``variants.nodes``).

    Shopify has no product SKU: each variant carries its own. Variants are
    keyed by SKU (``#<position>`` when blank; our payload's order is the
    position); a product with one variant speaks of "price", "stock" as a
    WooCommerce simple product does. Shopify's ``compareAtPrice`` is our
    compare-at price as is; stock is the quantity at the store's stock
    location when the inventory item is tracked (``_shopify_stock``): stock
    the merchant keeps at other locations is not ours to compare.
    """
    fields = {
        "title": _text(data.get("title")),
        "status": SHOPIFY_STATUSES.get(str(data.get("status")), str(data.get("status") or NONE).lower()),
        "description": _text(data.get("descriptionHtml")),
    }
    variants = data.get("variants") or []
    if isinstance(variants, dict):
        variants = sorted(variants.get("nodes") or [], key=lambda v: v.get("position") or 0)
    single = len(variants) == 1
    for position, variant in enumerate(variants, start=1):
        if single:
            prefix = ""
            fields["SKU"] = _text(variant.get("sku"))
        else:
            prefix = f"variant {variant.get('sku') or f'#{position}'} "
        fields[f"{prefix}price"] = _money(variant.get("price"))
        fields[f"{prefix}compare-at price"] = _money(variant.get("compareAtPrice"))
        fields[f"{prefix}stock"] = _shopify_stock(variant)
    return fields


#: Platform → reader of the compared fields from a product body (payload or store answer).
FIELD_READERS: dict[str, Callable[[dict], dict[str, str]]] = {"woocommerce": woocommerce_fields,
                                                                "shopify": shopify_fields}


def stock_location_of(platform: str, body: dict | None) -> str | None:
    """The location a store body's stock values were read or written at (Shopify ``_stockLocation``, set by
    ``fetch_product`` and by writes); None when the body does not say (WooCommerce has one stock per variant)."""
    if platform != "shopify" or not isinstance(body, dict):
        return None
    return body.get("_stockLocation") or None


def align_stock_base(base: dict[str, str] | None, catalog: dict[str, str], store: dict[str, str], *,
                     base_location: str | None, store_location: str | None,
                     catalog_unchanged: bool) -> dict[str, str] | None:
    """The last-synced fields with stock made comparable to the store's, when they were read elsewhere.

    The store's stock (``store_location``) is compared with the last synced
    stock only when both are at the same location. Otherwise (a snapshot
    written before levels were kept holds the total over every location; a
    changed stock location) the last-synced stock is unknown and becomes:
    the catalog's when the catalog did not change since the publish (we
    wrote exactly that at this location), else the store's (no store edit
    can be told apart; the catalog's change is published by the next sync).
    Fields other than stock are left alone; ``base`` None stays None.
    """
    if base is None or store_location is None or base_location == store_location:
        return base
    out = dict(base)
    for name in dict.fromkeys([*catalog, *store]):
        if name == "stock" or name.endswith(" stock"):
            out[name] = catalog.get(name, NONE) if catalog_unchanged else store.get(name, NONE)
    return out


def field_group(name: str) -> str | None:
    """The sync field group of a compared field: "price" for prices and compare-at prices, "stock" for stock,
    None for content (title, status, SKU, descriptions)."""
    if name.endswith("price"):
        return "price"
    if name.endswith("stock"):
        return "stock"
    return None


def only_groups(fields: dict[str, str] | None, groups: frozenset[str]) -> dict[str, str] | None:
    """``fields`` narrowed to the field groups a store takes from the catalog (all of them when ``groups`` is
    empty: the store takes everything)."""
    if fields is None or not groups:
        return fields
    return {name: value for name, value in fields.items() if field_group(name) in groups}


def compare(catalog: dict[str, str], store: dict[str, str]) -> list[Difference]:
    """Fields whose values differ, in the catalog's field order, then fields only the store has."""
    names = list(catalog) + [name for name in store if name not in catalog]
    return [Difference(name, catalog.get(name, NONE), store.get(name, NONE))
            for name in names if catalog.get(name, NONE) != store.get(name, NONE)]
