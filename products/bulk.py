"""Bulk changes of the catalog: price, stock, publish, unpublish, delete — previewed, then applied or held for review.

An operator picks products (ids, or the products list's filter) and one
``Operation``. ``preview(org, products, operation)`` reads only: how many
products, variants and store listings change, sample diffs, what the Sync
agent's publish jobs will cost in API calls against each store's rate limit,
and whether an approval rule holds the change. ``apply(...)`` validates every
product first, then either opens ONE approval request (action ``bulk``) or
writes everything in one transaction and queues one ``store.publish`` job per
store that lists an affected product.

Approval rules see a bulk change as resource "product" with the actions it
amounts to: always ``bulk``, plus ``price_change`` (and ``update``) for a
price change, ``update`` for stock, ``publish`` / ``unpublish`` / ``delete``
for those; a price or stock change also asks the variant rules, as a single
edit does (``approvals.rules.evaluate_product_edit``). ``price_drop_percent``
is the largest cut over all variants; ``listings_touched`` the store listings
the change reaches. A bulk delete always waits, like a single delete
(``approvals.rules.FALLBACK_DELETE`` when no rule matches).

Call-cost estimate (``StoreCost``) — counted from what our connectors do, not
from the platforms' best case:

* WooCommerce (``stores/plugins/woocommerce/``; batches hold at most 100
  items — WooCommerce REST API docs, 101 answers 413 as seen on 7.9.0). The
  Sync agent cuts a store's work into chunks of ``min(store.batch_size, 100)``
  products. Per chunk: one ``products/batch`` call for the plain products and
  one for grouped ones (plus one ``GET /products?sku=…`` per 50 child SKUs);
  for every variable product a ``GET …/variations`` (one per 100 variations;
  skipped for a product being created) and a ``…/variations/batch`` call (one
  per 100 variations); one ``GET /products?include=…`` re-reading the
  chunk's variable products; one ``…/variations/batch`` delete for a product
  that stopped being variable. Deletes: one ``products/batch`` per chunk, plus
  a SKU lookup per 50 listings without a store id. WooCommerce sets no API
  limit; FlashFusion holds itself to a 10-call burst and 5 calls/s
  (``WooCommercePlugin.rate_limits``).
* Shopify (``stores/plugins/shopify/``, ``max_batch`` 1): one
  ``productSet`` mutation per product written, costing 50 points up to API
  2025-07 (10 + 0.2 × variants … from 2025-10; shopify.dev changelog "Dynamic
  complexity cost for productSet") plus 2 + 3 × variants for the product read
  back; one more page query per 250 variants beyond the first 250; one
  1-point location query per job when stock is tracked; ``productDelete``
  costs 11 points per listing. Restore 100 / 200 / 1000 / 2000 points/s by
  plan with a 2000 / 4000 / 20000 / 40000-point bucket (shopify.dev "GraphQL
  Admin API rate limits"; ``ShopifyPlugin.rate_limits``).
* Prices or stock alone: a price or stock change of a listing in sync whose
  prices or stock are all that changed is written alone (``agents.sync``):
  on WooCommerce one ``products/batch`` per chunk for simple products and one
  ``…/variations/batch`` per variable product; on Shopify one
  ``productVariantsBulkUpdate`` per product (10 + 2 + 1 per variant points,
  as ``ShopifyPlugin.update_variants`` declares) or one
  ``inventorySetQuantities`` per 50 products (at most 250 quantities, 13
  points). Turning stock tracking on (setting stock on a variant that had
  none) is a content change: the whole product is written. A store whose
  sync scope leaves out the changed field gets no call.
* Time ≈ (units − what the bucket holds now) ÷ leak rate: the rate limit
  alone, with a full budget at the start; network time, retries after a 429,
  listings gone from the store (re-created) and other jobs sharing the budget
  come on top. A publish counts every selected product as written (but those
  a store's platform cannot take, ``StorePlugin.refusals``: skipped there, and
  listed apart in the preview); the Sync
  agent skips products whose content hash matches the last push, so the real
  count can be lower.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import asdict, dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from agents.choices import JobKind, Priority
from agents.services import StoreDisabled, enqueue
from flashfusion import events
from products.choices import ProductKind
from products.models import Product, Variant
from stores.models import Listing, RateLimitBucket, Store
from stores.plugins import refusals_by_store

#: Most products one bulk change may touch: the change is written in one transaction and a
#: reviewer reads its per-store counts; a larger selection is refused (narrow the filter).
MAX_PRODUCTS = 2000
#: Products shown as sample diffs in the preview.
SAMPLE_SIZE = 5

CENT = Decimal("0.01")


class Kind:
    PRICE = "price"
    STOCK = "stock"
    PUBLISH = "publish"
    UNPUBLISH = "unpublish"
    DELETE = "delete"

    CHOICES = [
        (PRICE, "Change prices"),
        (STOCK, "Set stock"),
        (PUBLISH, "Publish to stores"),
        (UNPUBLISH, "Unpublish from stores"),
        (DELETE, "Delete products"),
    ]


class Rounding:
    NONE = "none"
    NINETY_NINE = "99"
    NINETY_FIVE = "95"
    WHOLE = "whole"
    STEP_05 = "step05"

    CHOICES = [
        (NONE, "None (to the cent)"),
        (NINETY_NINE, "To .99 (nearest price ending in .99)"),
        (NINETY_FIVE, "To .95 (nearest price ending in .95)"),
        (WHOLE, "To whole units"),
        (STEP_05, "To a 0.05 step"),
    ]


@dataclass(frozen=True)
class Operation:
    """One bulk operation, JSON-safe through ``as_json`` / ``from_json``.

    ``kind``: a ``Kind``. Price: ``mode`` "percent" or "amount", ``direction``
    "up" or "down", ``value`` (a positive Decimal: percent, or an amount in
    the organization's currency), ``rounding`` (a ``Rounding``),
    ``compare_at`` "keep" or "sale" (the old price becomes the compare-at
    price, shown struck through). Stock: ``stock`` (absolute, ≥ 0, every
    variant). Publish / unpublish: ``store_ids``.
    """

    kind: str
    mode: str = "percent"
    direction: str = "down"
    value: Decimal = Decimal(0)
    rounding: str = Rounding.NONE
    compare_at: str = "keep"
    stock: int | None = None
    store_ids: tuple[int, ...] = ()

    def as_json(self) -> dict:
        data = asdict(self)
        data["value"] = str(self.value)
        data["store_ids"] = list(self.store_ids)
        return data

    @classmethod
    def from_json(cls, data: dict) -> Operation:
        data = dict(data)
        data["value"] = Decimal(str(data.get("value") or "0"))
        data["store_ids"] = tuple(int(i) for i in data.get("store_ids") or ())
        return cls(**data)

    @property
    def changes_catalog(self) -> bool:
        return self.kind in (Kind.PRICE, Kind.STOCK, Kind.DELETE)

    def describe(self, currency: str = "") -> str:
        """"Prices −30%, rounded to .99, old price shown as compare-at", "Stock set to 0", "Publish to 2 stores"."""
        if self.kind == Kind.PRICE:
            sign = "−" if self.direction == "down" else "+"
            amount = f"{self.value.normalize():f}%" if self.mode == "percent" else f"{self.value:.2f} {currency}".strip()
            text = f"Prices {sign}{amount}"
            if self.rounding != Rounding.NONE:
                text += ", rounded " + dict(Rounding.CHOICES)[self.rounding].split(" (")[0].lower()
            if self.compare_at == "sale":
                text += ", old price shown as compare-at"
            return text
        if self.kind == Kind.STOCK:
            return f"Stock set to {self.stock}"
        if self.kind in (Kind.PUBLISH, Kind.UNPUBLISH):
            n = len(self.store_ids)
            return f"{'Publish to' if self.kind == Kind.PUBLISH else 'Unpublish from'} {n} store{'s' if n != 1 else ''}"
        return "Delete products"


class BulkError(ValidationError):
    """The bulk change cannot run as asked; ``messages`` say why (naming products and SKUs). Nothing was written."""


# --- prices ----------------------------------------------------------------


def round_price(value: Decimal, rounding: str) -> Decimal:
    """``value`` rounded as ``rounding`` asks, to two decimals (ties round up).

    .99 / .95: the nearest price ending in .99 / .95 (17.50 → 17.99,
    18.00 → 17.99); whole units: 17.50 → 18.00; 0.05 step: 17.52 → 17.50.
    """
    if rounding == Rounding.NINETY_NINE:
        return ((value + CENT).quantize(Decimal(1), ROUND_HALF_UP) - CENT).quantize(CENT)
    if rounding == Rounding.NINETY_FIVE:
        five = Decimal("0.05")
        return ((value + five).quantize(Decimal(1), ROUND_HALF_UP) - five).quantize(CENT)
    if rounding == Rounding.WHOLE:
        return value.quantize(Decimal(1), ROUND_HALF_UP).quantize(CENT)
    if rounding == Rounding.STEP_05:
        return ((value / Decimal("0.05")).quantize(Decimal(1), ROUND_HALF_UP) * Decimal("0.05")).quantize(CENT)
    return value.quantize(CENT, ROUND_HALF_UP)


#: The distance between two prices a rounding can give (a price ending in .99 is one unit from the next one).
ROUNDING_STEPS = {Rounding.NINETY_NINE: Decimal(1), Rounding.NINETY_FIVE: Decimal(1), Rounding.WHOLE: Decimal(1),
                  Rounding.STEP_05: Decimal("0.05")}


def new_price(old: Decimal, op: Operation) -> Decimal:
    """The price ``op`` makes of ``old`` (exact Decimal arithmetic, rounded once at the end).

    Rounding never turns the change around or cancels it: "+2 %, to .99" makes 15.00 (15.30 → nearest 14.99)
    into 15.99, the next price ending in .99 above the old one; "−2 %" on 14.99 makes 13.99. ``rounded_past``
    tells when this happened, for the preview to say so.
    """
    return _new_price(old, op)[0]


def rounded_past(old: Decimal, op: Operation) -> bool:
    """True when the nearest rounded price would not move ``old`` the way ``op`` asks, so ``new_price`` took the
    next one in the change's direction."""
    return _new_price(old, op)[1]


def _new_price(old: Decimal, op: Operation) -> tuple[Decimal, bool]:
    sign = -1 if op.direction == "down" else 1
    if op.mode == "percent":
        raw = old * (1 + sign * op.value / 100)
    else:
        raw = old + sign * op.value
    price = round_price(raw, op.rounding)
    step = ROUNDING_STEPS.get(op.rounding)
    if step is None or not op.value:
        return price, False
    moved = False
    while (price <= old) if sign > 0 else (price >= old):
        price, moved = price + sign * step, True
    return price, moved


# --- planning ---------------------------------------------------------------


@dataclass
class VariantChange:
    variant: Variant
    before: dict
    after: dict


@dataclass
class ProductChange:
    """What the operation does to one product: its changed variants, and the listings it touches per store."""

    product: Product
    variants: list[VariantChange] = field(default_factory=list)
    #: store id → "create" | "update" | "delete" (what the Sync agent will do there)
    store_actions: dict[int, str] = field(default_factory=dict)
    #: store id → ``[Refusal]``: stores whose platform cannot take the product (``StorePlugin.refusals``); the
    #: Sync agent skips it there ("not publishable here"), so no write is planned or counted for them
    refused: dict[int, list] = field(default_factory=dict)


@dataclass
class Plan:
    operation: Operation
    products: list[Product]
    changes: list[ProductChange]
    stores: list[Store]
    listings: dict[tuple[int, int], Listing]
    errors: list[str]
    price_drop: Decimal = Decimal(0)
    price_drop_item: str = ""
    #: Prices whose nearest rounding would have gone against the change, taken one step further (``new_price``).
    rounding_notes: list[str] = field(default_factory=list)

    @property
    def changed(self) -> list[ProductChange]:
        return [c for c in self.changes if c.variants or c.store_actions or self.operation.kind == Kind.DELETE]


def _load(organization, product_qs) -> list[Product]:
    """The organization's live products of ``product_qs`` (another organization's never), with variants."""
    ids = list(
        product_qs.model.objects.filter(pk__in=product_qs.values("pk"))
        .live()
        .filter(organization=organization)
        .order_by("title", "id")
        .values_list("pk", flat=True)[: MAX_PRODUCTS + 1]
    )
    if len(ids) > MAX_PRODUCTS:
        raise BulkError(
            f"A bulk change takes at most {MAX_PRODUCTS} products; this selection has more. Narrow the filter."
        )
    return list(
        Product.objects.filter(pk__in=ids).select_related("organization").prefetch_related("variants").order_by("title", "id")
    )


def _label(product: Product, variant: Variant) -> str:
    return f"“{product.title}” (SKU {variant.sku})" if variant.sku else f"“{product.title}” variant {variant.position}"


def plan(organization, product_qs, op: Operation) -> Plan:
    """Work out every change without writing anything. ``errors`` lists what refuses the whole change."""
    from products.services import price_drop_percent

    products = _load(organization, product_qs)
    stores = list(Store.objects.filter(organization=organization, is_enabled=True).order_by("name"))
    store_ids = {s.pk for s in stores}
    ids = [p.pk for p in products]
    listings = {
        (lst.store_id, lst.product_id): lst
        for lst in Listing.objects.filter(product_id__in=ids, store_id__in=store_ids)
    }
    errors: list[str] = []
    if op.kind in (Kind.PUBLISH, Kind.UNPUBLISH):
        chosen = Store.objects.filter(organization=organization, pk__in=op.store_ids)
        found = {s.pk: s for s in chosen}
        if not op.store_ids or len(found) != len(set(op.store_ids)):
            errors.append("Choose one or more of your organization's stores.")
        for store in found.values():
            if not store.is_enabled:
                errors.append(f"{store} is disabled, so it gets no publish jobs. An admin can re-enable it.")
    result = Plan(op, products, [], stores, listings, errors)
    # What a store's platform cannot take is skipped there by the Sync agent: no write planned, none counted.
    if op.kind in (Kind.UNPUBLISH, Kind.DELETE):
        refused = {}
    else:
        targets = [s for s in stores if s.pk in op.store_ids] if op.kind == Kind.PUBLISH else stores
        refused = refusals_by_store(targets, products)
    for product in products:
        change = ProductChange(product)
        if op.kind == Kind.PRICE:
            for variant in product.variants.all():
                if variant.price is None:
                    continue
                price, moved = _new_price(variant.price, op)
                if moved:
                    result.rounding_notes.append(f"{_label(product, variant)}: {variant.price} → {price}")
                if price <= 0:
                    errors.append(
                        f"{_label(product, variant)}: the price would be {price} {organization.currency}; "
                        "a price must stay above 0."
                    )
                    continue
                compare = variant.compare_at_price
                if op.compare_at == "sale" and price < variant.price:
                    compare = variant.price
                if price == variant.price and compare == variant.compare_at_price:
                    continue
                change.variants.append(VariantChange(
                    variant,
                    {"price": variant.price, "compare_at_price": variant.compare_at_price},
                    {"price": price, "compare_at_price": compare},
                ))
                drop = price_drop_percent(variant.price, price)
                if drop > result.price_drop:
                    result.price_drop, result.price_drop_item = drop, variant.sku or product.title
        elif op.kind == Kind.STOCK:
            for variant in product.variants.all():
                if variant.stock != op.stock:
                    change.variants.append(VariantChange(variant, {"stock": variant.stock}, {"stock": op.stock}))
        if op.kind in (Kind.PRICE, Kind.STOCK) and change.variants or op.kind == Kind.DELETE:
            for store in stores:
                listing = listings.get((store.pk, product.pk))
                if listing is not None:
                    change.store_actions[store.pk] = "delete" if op.kind == Kind.DELETE else write_action(listing)
        elif op.kind == Kind.PUBLISH:
            for store_id in op.store_ids:
                if store_id in store_ids:
                    listing = listings.get((store_id, product.pk))
                    change.store_actions[store_id] = "create" if listing is None else write_action(listing)
        elif op.kind == Kind.UNPUBLISH:
            for store_id in op.store_ids:
                if (store_id, product.pk) in listings:
                    change.store_actions[store_id] = "delete"
        for store_id, action in list(change.store_actions.items()):
            if action != "delete" and (store_id, product.pk) in refused:
                change.refused[store_id] = refused[(store_id, product.pk)]
                del change.store_actions[store_id]
        result.changes.append(change)
    return result


def write_action(listing: Listing) -> str:
    """What the Sync agent does with a listing whose product changed: update, or create when never bound."""
    return "update" if listing.external_id else "create"


# --- call cost ---------------------------------------------------------------


@dataclass
class StoreCost:
    """One store's share of the change and what its publish job will cost.

    ``listings``: listings written or deleted there (``actions``: counts by
    create / update / delete); ``calls``: API calls; ``units``: what the
    rate limiter counts (calls, or Shopify cost points); ``seconds``: the
    wait the rate limit alone imposes; ``limit``: the store's bucket in words
    and ``source`` where its figures come from; ``basis``: how the calls were
    counted (with sources); ``product_ids``: the products its job publishes.
    """

    store: Store
    listings: int
    actions: dict
    calls: int
    units: float
    unit: str
    seconds: float
    limit: str
    basis: str
    product_ids: list[int] = field(default_factory=list)
    source: str = ""

    @property
    def duration(self) -> str:
        if self.seconds < 1:
            return "under a second"
        if self.seconds < 90:
            return f"≈ {math.ceil(self.seconds)} s"
        return f"≈ {math.ceil(self.seconds / 60)} min"


def _chunks(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start : start + size]


#: ``StoreCost.actions`` name of a listing whose prices or stock are written alone.
FIELD_WRITE = "price or stock update"


def field_write(op: Operation, change: ProductChange, listing: Listing | None, store: Store) -> str | None:
    """How the Sync agent will write ``change`` to ``store``: ``FIELD_WRITE`` (prices or stock alone), ``"skip"``
    (the store's sync scope leaves that field out) or ``None`` (the usual whole write).

    The Sync agent's rules (``agents.sync.SyncAgent.plan``): a store that takes only some fields from the
    catalog gets the operation's field alone whatever the listing's state, or nothing when its scope leaves
    that field out; any other store gets it alone when the listing is in sync with field hashes recorded and,
    for stock, no variant starts or stops tracking stock.
    """
    from stores.choices import CONTENT, SCOPE_FIELDS, ListingState

    group = {Kind.PRICE: "price", Kind.STOCK: "stock"}.get(op.kind)
    if group is None or listing is None or not listing.external_id:
        return None
    scope = SCOPE_FIELDS.get(store.sync_scope, frozenset())
    if scope:
        return FIELD_WRITE if group in scope else "skip"
    if listing.state != ListingState.IN_SYNC or CONTENT not in (listing.field_hashes or {}):
        return None
    if group == "stock" and any((vc.before.get("stock") is None) != (vc.after.get("stock") is None)
                                for vc in change.variants):
        return None
    return FIELD_WRITE


def _field_write_cost(platform: str, store: Store, changes: list[ProductChange], group: str) -> tuple[int, float]:
    """Calls and rate-limit units of writing ``changes``' prices or stock alone (see the module docstring)."""
    if not changes:
        return 0, 0.0
    if platform == "shopify":
        from stores.plugins.shopify import MAX_INPUT_ITEMS, MUTATION_COST, ShopifyPlugin

        if group == "price":
            calls = len(changes)
            return calls, sum(MUTATION_COST + 2 + len(c.product.variants.all()) for c in changes)
        calls = 0
        # as the agent sends them: chunks of the store's batch size (at most max_field_batch), each chunk's
        # products packed into calls of at most 250 quantities
        for chunk in _chunks(changes, max(1, min(store.batch_size, ShopifyPlugin.max_field_batch))):
            filled = 0
            for change in chunk:
                count = len(change.product.variants.all())
                if filled and filled + count > MAX_INPUT_ITEMS:
                    calls, filled = calls + 1, 0
                filled += count
            calls += max(1, math.ceil(filled / MAX_INPUT_ITEMS))
        return calls, float(calls * (MUTATION_COST + 3))
    size = max(1, min(store.batch_size, 100))
    variable = [c for c in changes if c.product.kind == ProductKind.VARIABLE]
    plain = len(changes) - len(variable)
    calls = math.ceil(plain / size) + sum(max(1, math.ceil(len(c.product.variants.all()) / 100)) for c in variable)
    return calls, float(calls)


def _woo_calls(store: Store, entries: list[tuple[ProductChange, str]], listings, max_batch: int) -> tuple[int, str]:
    size = max(1, min(store.batch_size, max_batch))
    calls = 0
    by_action = {a: [c for c, act in entries if act == a] for a in ("create", "update", "delete")}
    for action in ("create", "update"):
        for chunk in _chunks(by_action[action], size):
            plain = [c for c in chunk if c.product.kind != ProductKind.GROUPED]
            grouped = [c for c in chunk if c.product.kind == ProductKind.GROUPED]
            calls += 1 if plain else 0
            if grouped:
                children = {s for c in grouped for s in c.product.grouped_skus or [] if s}
                calls += 1 + math.ceil(len(children) / 50)
            variable = [c for c in plain if c.product.kind == ProductKind.VARIABLE]
            for c in variable:
                pages = max(1, math.ceil(len(c.product.variants.all()) / 100))
                calls += pages if action == "update" else 0  # GET …/variations (skipped for a fresh create)
                calls += pages  # …/variations/batch
            calls += math.ceil(len(variable) / 100)  # GET /products?include=… re-reads them
            if action == "update":
                for c in plain:
                    if c.product.kind == ProductKind.VARIABLE:
                        continue
                    listing = listings.get((store.pk, c.product.pk))
                    own = str(listing.external_id) if listing else ""
                    if listing and any(str(v) != own for v in (listing.variant_ids or {}).values()):
                        calls += 1  # drops the variations of a product that stopped being variable
    for chunk in _chunks(by_action["delete"], size):
        calls += 1
        unbound = [c for c in chunk if not listings[(store.pk, c.product.pk)].external_id]
        calls += math.ceil(len(unbound) / 50)
    basis = (
        f"WooCommerce: one products/batch call per {size} listings (a batch holds at most 100 items: WooCommerce "
        "REST API docs), plus for each variable product a variations read and a variations/batch call, as our "
        "connector makes them (stores/plugins/woocommerce/)."
    )
    return calls, basis


def _shopify_cost(entries: list[tuple[ProductChange, str]]) -> tuple[int, float, str]:
    from stores.plugins.shopify import API_VERSION, MAX_PAGE, MUTATION_COST, _product_cost, _product_set_cost

    calls, points = 0, 0.0
    tracked = False
    for change, action in entries:
        if action == "delete":
            calls += 1
            points += MUTATION_COST + 1
            continue
        variants = list(change.product.variants.all())
        if change.product.kind == ProductKind.GROUPED:
            continue  # refused before any call: Shopify has no grouped products
        first = max(1, min(MAX_PAGE, len(variants)))
        body = {"variants": [{} for _ in variants], "files": list(change.product.images or [])}
        calls += 1
        points += _product_set_cost(body, first, API_VERSION)
        extra_pages = max(0, math.ceil(len(variants) / MAX_PAGE) - 1)
        calls += extra_pages
        points += extra_pages * _product_cost(MAX_PAGE, mutation=False)
        tracked = tracked or any(v.stock is not None for v in variants)
    if tracked:
        calls += 1
        points += 1
    basis = (
        f"Shopify: one productSet mutation per product (no batch writes), {_product_set_cost({}, 1, API_VERSION):g}+ "
        f"points each at API {API_VERSION} (shopify.dev GraphQL cost: productSet 50 points until 2025-07, plus the "
        "product read back), productDelete 11 points."
    )
    return calls, points, basis


def store_costs(op: Operation, plan_: Plan) -> list[StoreCost]:
    """Per store with work: listings, calls and the rate-limit wait (see the module docstring for the method)."""
    from stores.plugins import Rejected, plugin_class

    buckets = {b.store_id: b for b in RateLimitBucket.objects.filter(store__in=plan_.stores)}
    out = []
    for store in plan_.stores:
        entries = [(c, c.store_actions[store.pk]) for c in plan_.changes if store.pk in c.store_actions]
        alone: list[ProductChange] = []
        whole = []
        for change, action in entries:
            how = field_write(op, change, plan_.listings.get((store.pk, change.product.pk)), store) \
                if action == "update" else None
            if how == FIELD_WRITE:
                alone.append(change)
            elif how is None:
                whole.append((change, action))
        entries = whole
        if not entries and not alone:
            continue
        actions: dict[str, int] = {}
        for _c, action in entries:
            actions[action] = actions.get(action, 0) + 1
        if alone:
            actions[FIELD_WRITE] = len(alone)
        try:
            cls = plugin_class(store.platform)
        except Rejected:
            continue
        limit = cls.rate_limits(store.rate_plan)
        bucket = buckets.get(store.pk)
        capacity = bucket.capacity if bucket else limit.capacity
        leak = bucket.leak_rate if bucket else limit.leak_rate
        room = capacity
        if bucket is not None:
            room = capacity - max(0.0, bucket.level - (time.time() - bucket.stamp) * leak)
        if store.platform == "shopify":
            calls, units, basis = _shopify_cost(entries)
        elif store.platform == "woocommerce":
            calls, basis = _woo_calls(store, entries, plan_.listings, cls.max_batch)
            units = float(calls)
        else:
            calls = sum(math.ceil(n / max(1, cls.max_batch)) for n in actions.values())
            units, basis = float(calls), f"{cls.label or store.platform}: one call per {cls.max_batch} listings."
        if not entries:
            calls, units, basis = 0, 0.0, ""
        if alone:
            group = "price" if op.kind == Kind.PRICE else "stock"
            more_calls, more_units = _field_write_cost(store.platform, store, alone, group)
            calls, units = calls + more_calls, units + more_units
            basis = (f"{basis} " if basis else "") + (
                f"{len(alone)} listing{'s' if len(alone) != 1 else ''} get only their "
                f"{'prices' if group == 'price' else 'stock'} written: {more_calls} call{'s' if more_calls != 1 else ''}.")
        seconds = max(0.0, units - room) / leak if leak else 0.0
        unit = limit.unit
        plan_name = f" {store.rate_plan}" if store.rate_plan else ""
        limit_text = f"{cls.label or store.platform}{plan_name}: {leak:g} {unit}s/s, bucket {capacity:g} {unit}s"
        ids = sorted([c.product.pk for c, _a in entries] + [c.product.pk for c in alone])
        out.append(StoreCost(store, len(entries) + len(alone), actions, calls, units, unit, seconds, limit_text, basis, ids,
                             limit.source))
    return out


# --- approval rules ---------------------------------------------------------


def _actions(op: Operation) -> tuple[str, ...]:
    from approvals.choices import ChangeAction as A

    return {
        Kind.PRICE: (A.BULK, A.PRICE_CHANGE, A.UPDATE),
        Kind.STOCK: (A.BULK, A.UPDATE),
        Kind.PUBLISH: (A.BULK, A.PUBLISH),
        Kind.UNPUBLISH: (A.BULK, A.UNPUBLISH),
        Kind.DELETE: (A.BULK, A.DELETE),
    }[op.kind]


def policy_for(organization, op: Operation, plan_: Plan):
    """The approval policy that holds this bulk change (action ``bulk``), or ``None`` to run it at once."""
    from dataclasses import replace

    from approvals.choices import ChangeAction, ResourceType
    from approvals.models import ApprovalRule
    from approvals.rules import FALLBACK_DELETE, ProposedChange, evaluate, strictness

    touched = sum(len(c.store_actions) for c in plan_.changes)
    actions = _actions(op)
    changes = [ProposedChange(ResourceType.PRODUCT, actions, plan_.price_drop, plan_.price_drop_item, touched)]
    if op.kind in (Kind.PRICE, Kind.STOCK):
        variant_actions = tuple(a for a in actions if a != ChangeAction.BULK)
        changes.append(ProposedChange(ResourceType.VARIANT, variant_actions, plan_.price_drop, plan_.price_drop_item, touched))
    rules = list(
        ApprovalRule.objects.filter(
            organization=organization, resource_type__in=[c.resource_type for c in changes],
            action__in=actions, is_enabled=True,
        ).prefetch_related("tiers")
    )
    policies = [p for c in changes if (p := evaluate(None, c, rules=rules))]
    if policies:
        policy = sorted(policies, key=lambda p: strictness(p.rule))[0]
    elif op.kind == Kind.DELETE:
        policy = FALLBACK_DELETE
    else:
        return None
    return replace(policy, action=ChangeAction.BULK, reason=f"Bulk change: {policy.reason}")


# --- preview ------------------------------------------------------------------


@dataclass
class Sample:
    title: str
    url: str
    rows: list


@dataclass
class BulkPreview:
    """What ``apply`` would do, computed without writing.

    ``products``: live products selected; ``products_changed`` /
    ``variants_changed``: what the catalog write changes (for publish /
    unpublish: products with a listing to write or remove); ``stores``:
    ``StoreCost`` per store with work; ``samples``: the first changed
    products as diff rows (``approvals.diff.DiffRow``); ``errors``: what
    refuses the change (e.g. a price ≤ 0, naming the SKU); ``policy``: the
    approval rule's policy when the change will wait for review;
    ``fingerprint``: changes when the selection or its values change, so an
    apply can insist on the state that was previewed.
    """

    operation: Operation
    description: str
    products: int
    products_changed: int
    variants_changed: int
    listings_touched: int
    stores: list[StoreCost]
    samples: list[Sample]
    errors: list[str]
    policy: object
    fingerprint: str
    product_ids: list[int]
    assumptions: list[str] = field(default_factory=list)
    #: Warnings that do not refuse the change: e.g. prices rounded past the nearest ending (``Plan.rounding_notes``).
    notes: list[str] = field(default_factory=list)
    #: ``(store, [(product, [Refusal])])`` per store that cannot take some selected products: skipped there
    refused: list = field(default_factory=list)

    @property
    def calls(self) -> int:
        return sum(s.calls for s in self.stores)


ASSUMPTIONS = [
    "Calls are counted from what our connectors send (stores/plugins/woocommerce/, stores/plugins/shopify/), "
    "one publish job per store.",
    "WooCommerce: a batch holds at most 100 items (WooCommerce REST API docs; 101 answers 413); WooCommerce has no "
    "API rate limit, so FlashFusion holds itself to a 10-call burst and 5 calls/s.",
    "Shopify: no batch writes — one productSet per product, 50 cost points each at API 2025-07 plus 3 per variant "
    "read back (shopify.dev GraphQL cost); Standard shops restore 100 points/s (shopify.dev rate limits).",
    "Time is the rate-limit wait alone, starting from the budget the store has now; network time, retries and other "
    "jobs on the same store come on top. A publish counts every product as written; products already in sync are "
    "skipped by the Sync agent.",
]


def _sample_rows(op: Operation, change: ProductChange, stores: dict[int, Store]) -> list:
    from approvals.diff import DiffRow, snapshot_diff

    before, after = _item_snapshots(op, change)
    if op.kind in (Kind.PUBLISH, Kind.UNPUBLISH):
        labels = {"create": "listed (created)", "update": "listed (updated)", "delete": "not listed"}
        return [
            DiffRow(stores[s].name, "Listing", "listed" if a != "create" else "not listed", labels[a], True)
            for s, a in change.store_actions.items()
        ]
    return [r for r in snapshot_diff(before, after) if r.changed]


def _item_snapshots(op: Operation, change: ProductChange) -> tuple[dict, dict]:
    """Compact before / after snapshots of one product (only what the operation touches) for the diff renderers."""
    product = change.product
    if op.kind == Kind.DELETE:
        return {"title": product.title, "status": product.status}, {"title": product.title, "status": "deleted"}
    if op.kind in (Kind.PUBLISH, Kind.UNPUBLISH):
        return {"title": product.title}, {"title": product.title}
    before, after = [], []
    for vc in change.variants:
        key = {"sku": vc.variant.sku, "position": vc.variant.position}
        before.append({**key, **{k: _json(v) for k, v in vc.before.items()}})
        after.append({**key, **{k: _json(v) for k, v in vc.after.items()}})
    return {"title": product.title, "variants": before}, {"title": product.title, "variants": after}


def _json(value):
    return str(value) if isinstance(value, Decimal) else value


def _fingerprint(op: Operation, products: list[Product]) -> str:
    state = [
        [p.pk, [[v.pk, _json(v.price), _json(v.compare_at_price), v.stock] for v in p.variants.all()]]
        for p in products
    ]
    data = json.dumps([op.as_json(), state], sort_keys=True, default=str).encode()
    return hashlib.sha256(data).hexdigest()[:32]


def preview(organization, product_qs, operation: Operation) -> BulkPreview:
    """What ``apply`` would do to ``product_qs`` (narrowed to ``organization``'s live products); writes nothing."""
    plan_ = plan(organization, product_qs, operation)
    changed = plan_.changed
    by_id = {s.pk: s for s in plan_.stores}
    samples = [
        Sample(c.product.title, c.product.get_absolute_url(), _sample_rows(operation, c, by_id))
        for c in changed[:SAMPLE_SIZE]
    ]
    return BulkPreview(
        operation=operation,
        description=operation.describe(organization.currency),
        products=len(plan_.products),
        products_changed=len(changed),
        variants_changed=sum(len(c.variants) for c in changed),
        listings_touched=sum(len(c.store_actions) for c in changed),
        stores=store_costs(operation, plan_),
        samples=samples,
        errors=plan_.errors,
        policy=None if plan_.errors or not changed else policy_for(organization, operation, plan_),
        fingerprint=_fingerprint(operation, plan_.products),
        product_ids=[p.pk for p in plan_.products],
        assumptions=list(ASSUMPTIONS),
        notes=_rounding_note(operation, plan_.rounding_notes),
        refused=_refused_by_store(plan_),
    )


def _rounding_note(op: Operation, moved: list[str]) -> list[str]:
    """One warning for the prices ``new_price`` rounded past the nearest ending, naming the first few."""
    if not moved:
        return []
    ending = dict(Rounding.CHOICES)[op.rounding].split(" (")[0].lower().removeprefix("to ")
    raises = op.direction == "up"
    shown = "; ".join(moved[:5]) + (f"; and {len(moved) - 5} more" if len(moved) > 5 else "")
    n = len(moved)
    return [f"{n} price{'s' if n != 1 else ''} go{'es' if n == 1 else ''} to the next {ending} "
            f"{'up' if raises else 'down'} instead of the nearest, so that rounding does not "
            f"{'lower or keep a price this change raises' if raises else 'raise or keep a price this change lowers'}: "
            f"{shown}."]


def _refused_by_store(plan_: Plan) -> list:
    """``BulkPreview.refused``: per store (in the plan's order) the selected products it cannot take."""
    out = []
    for store in plan_.stores:
        items = [(c.product, c.refused[store.pk]) for c in plan_.changes if store.pk in c.refused]
        if items:
            out.append((store, items))
    return out


# --- apply --------------------------------------------------------------------


@dataclass
class BulkResult:
    """The outcome of a bulk change that ran: counts, the jobs queued, the products skipped (deleted meanwhile)."""

    operation: Operation
    products_changed: int
    variants_changed: int
    jobs: list = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    refused_stores: list[str] = field(default_factory=list)

    def message(self, currency: str = "") -> str:
        text = f"{self.operation.describe(currency)}: {self.products_changed} product{'s' if self.products_changed != 1 else ''}"
        if self.variants_changed:
            text += f", {self.variants_changed} variant{'s' if self.variants_changed != 1 else ''}"
        text += f"; {len(self.jobs)} publish job{'s' if len(self.jobs) != 1 else ''} queued"
        if self.skipped:
            text += f"; {len(self.skipped)} skipped (deleted meanwhile)"
        if self.refused_stores:
            text += f"; no job for {', '.join(self.refused_stores)} (disabled)"
        return text + "."


def apply(organization, product_qs, operation: Operation, actor, *, fingerprint: str = ""):
    """Run ``operation`` on ``product_qs`` now, or hold it for review.

    Returns the pending ``ApprovalRequest`` (one, action ``bulk``) when an
    approval rule matches, else the ``BulkResult``. Raises ``BulkError``
    (nothing written) when any product refuses the change, nothing would
    change, or — with ``fingerprint`` from the preview — the selection
    changed since the preview (also what a second click on Apply meets).
    """
    plan_ = plan(organization, product_qs, operation)
    if fingerprint and fingerprint != _fingerprint(operation, plan_.products):
        raise BulkError(
            "The selected products changed since the preview (or this change was already applied). "
            "Check the new preview and apply again."
        )
    if plan_.errors:
        raise BulkError(plan_.errors)
    if not plan_.changed:
        refused = _refused_by_store(plan_)
        if refused:
            raise BulkError([f"{store.name} cannot take {product.title}: " + " ".join(r.message for r in refusals)
                             for store, items in refused for product, refusals in items][:20])
        raise BulkError("Nothing to change: every selected product already has these values.")
    policy = policy_for(organization, operation, plan_)
    if policy is not None:
        return _request(organization, operation, plan_, policy, actor)
    return _run(organization, operation, plan_, actor)


def _request(organization, op: Operation, plan_: Plan, policy, actor):
    from approvals.choices import ChangeAction, ResourceType
    from approvals.services import open_request

    changed = plan_.changed
    by_id = {s.pk: s for s in plan_.stores}
    items = []
    for change in changed:
        before, after = _item_snapshots(op, change)
        if op.kind in (Kind.PUBLISH, Kind.UNPUBLISH):
            words = {"create": "listed (created)", "update": "listed (updated)", "delete": "not listed"}
            for store_id, action in change.store_actions.items():
                items.append({"store": by_id[store_id].name, "action": action, "title": change.product.title,
                              "before": {"title": change.product.title, "status": "not listed" if action == "create" else "listed"},
                              "after": {"title": change.product.title, "status": words[action]}})
            continue
        targets = [(by_id[s].name, a) for s, a in change.store_actions.items()] or [("Catalog only (in no store)", "update")]
        for store_name, action in targets:
            items.append({"store": store_name, "action": "delete" if op.kind == Kind.DELETE else action,
                          "title": change.product.title, "before": before, "after": after})
    ids = [c.product.pk for c in changed]
    description = op.describe(organization.currency)
    title = f"{description} · {len(ids)} product{'s' if len(ids) != 1 else ''}"
    return open_request(
        organization,
        resource_type=ResourceType.PRODUCT,
        action=ChangeAction.BULK,
        title=title,
        before={"operation": op.as_json(), "product_ids": ids},
        after={"operation": op.as_json(), "product_ids": ids, "bulk": {"description": description, "items": items}},
        policy=policy,
        user=actor,
    )


def _run(organization, op: Operation, plan_: Plan, actor, *, skipped=()) -> BulkResult:
    """Write the change in one transaction, queue one publish job per store, publish one event."""
    from approvals.models import ApprovalRequest
    from approvals.services import dismiss_stale_requests

    changed = plan_.changed
    ids = [c.product.pk for c in changed]
    result = BulkResult(op, len(changed), sum(len(c.variants) for c in changed), skipped=list(skipped))
    now = timezone.now()
    with transaction.atomic():
        variants = [vc.variant for c in changed for vc in c.variants]
        for c in changed:
            for vc in c.variants:
                for name, value in vc.after.items():
                    setattr(vc.variant, name, value)
        if op.kind == Kind.PRICE:
            Variant.objects.bulk_update(variants, ["price", "compare_at_price"], batch_size=500)
        elif op.kind == Kind.STOCK:
            Variant.objects.bulk_update(variants, ["stock"], batch_size=500)
        if op.kind == Kind.DELETE:
            Product.objects.filter(pk__in=ids).update(deleted_at=now, updated_at=now)
        elif op.kind == Kind.STOCK:
            Product.objects.refresh_stock_totals(ids, updated_at=now)  # one UPDATE of each row, not two
        elif op.changes_catalog:
            Product.objects.filter(pk__in=ids).update(updated_at=now)
        if op.changes_catalog:
            pending = set(
                ApprovalRequest.objects.filter(product_id__in=ids, status="pending").values_list("product_id", flat=True)
            )
            for c in changed:
                if c.product.pk in pending:
                    c.product.refresh_from_db()
                    dismiss_stale_requests(c.product, actor=actor)
        priority = Priority.HIGH if op.kind == Kind.STOCK else Priority.NORMAL
        digest = _fingerprint(op, [c.product for c in changed])[:16]
        for cost in store_costs(op, plan_):
            params = {"product_ids": cost.product_ids}
            if op.kind == Kind.UNPUBLISH:
                params["unpublish"] = True
            elif op.kind == Kind.PUBLISH:
                params["whole"] = True  # chosen products go whole, whatever the store's sync scope
            try:
                result.jobs.append(enqueue(
                    organization, JobKind.STORE_PUBLISH, store=cost.store, params=params, priority=priority,
                    idempotency_key=f"bulk:{op.kind}:{digest}:{cost.store.pk}", created_by=actor,
                ))
            except StoreDisabled:
                result.refused_stores.append(cost.store.name)
        events.publish(
            organization.pk,
            "product.bulk_changed",
            result.message(organization.currency),
            {
                "operation": op.as_json(),
                "product_ids": ids[:1000],
                "products": result.products_changed,
                "variants": result.variants_changed,
                "job_ids": [j.pk for j in result.jobs],
                "skipped": result.skipped,
            },
            actor=actor,
        )
    return result


# --- the approval executor --------------------------------------------------------


def execute_approved(approval, actor) -> BulkResult:
    """Run an approved bulk request: its operation on its products as they are now.

    Products deleted (or moved out of the organization) since the request are
    skipped and reported in the event; a product that now refuses the change
    (e.g. a price edited meanwhile would drop to ≤ 0) raises ``BulkError``,
    which rolls the approval back.
    """
    if "operation" not in (approval.after or {}):
        raise BulkError("This bulk request carries no operation (it was not made by the bulk change page); reject it.")
    op = Operation.from_json(approval.after["operation"])
    ids = [int(i) for i in approval.after.get("product_ids") or []]
    organization = approval.organization
    products = Product.objects.filter(organization=organization, pk__in=ids)
    plan_ = plan(organization, products, op)
    if plan_.errors:
        raise BulkError(plan_.errors)
    present = {p.pk for p in plan_.products}
    return _run(organization, op, plan_, actor, skipped=[i for i in ids if i not in present])


def _never_stale(approval) -> bool:
    """A bulk request is re-planned when approved (relative changes apply to the values then), so it never goes stale."""
    return False


def register() -> None:
    """Make approved bulk product requests executable, and declare what ``policy_for`` asks the rules
    (the rules pages list it), called from ``ProductsConfig.ready``."""
    from approvals.choices import ChangeAction, ResourceType
    from approvals.rules import register_checkpoint
    from approvals.services import Executor, register_executor

    register_executor(ResourceType.PRODUCT, [ChangeAction.BULK], Executor(apply=execute_approved, is_stale=_never_stale))
    # The same actions policy_for asks: every kind's on products; price and stock also on variants.
    for kind, _label in Kind.CHOICES:
        actions = _actions(Operation(kind=kind))
        register_checkpoint("bulk changes", ResourceType.PRODUCT, actions)
        if kind in (Kind.PRICE, Kind.STOCK):
            register_checkpoint("bulk changes", ResourceType.VARIANT, [a for a in actions if a != ChangeAction.BULK])
