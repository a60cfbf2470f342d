"""Store plugins: one connector per platform behind one interface.

Every connector raises only the typed errors below, so agents decide retries
the same way for every platform: only ``RateLimited`` and ``Transient`` are
retried (DESIGN.md, Rules of the architecture).
"""

from __future__ import annotations

import email.utils
import logging
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, ClassVar, Protocol

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from products.models import Product
    from stores.models import Listing, Store


class StoreError(Exception):
    """A call to a store failed.

    ``status``: the HTTP status when there was one; ``code``: the platform's
    error code (e.g. WooCommerce ``product_invalid_sku``, Shopify
    ``THROTTLED``); ``field``: the input the store refused, when it names one;
    ``details``: the platform's error data (e.g. ``{"resource_id": 12}``).
    """

    retryable: ClassVar[bool] = False

    def __init__(self, message: str, *, status: int | None = None, code: str = "", field: str | None = None, details=None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.field = field
        self.details = details if details is not None else {}


class RateLimited(StoreError):
    """The store refused for rate (HTTP 429). ``retry_after`` is seconds, or None when not given."""

    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs):
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class Transient(StoreError):
    """A 5xx answer, a timeout, a dropped connection or an unreadable body: worth retrying."""

    retryable = True


class AuthFailed(StoreError):
    """The credentials were refused (401/403). Not retried: an admin must fix them."""


class NotFound(StoreError):
    """The resource does not exist in the store (404)."""


class Rejected(StoreError):
    """The store refused the request's content (4xx naming a field or rule). Not retried."""


@dataclass
class RemoteListing:
    """What the store holds for one product after a write.

    ``external_id``: the store's product id; ``variant_ids``: our variant key
    (SKU, or ``"#<position>"`` when the SKU is blank) to the store's variant
    id; ``snapshot``: the store's own answer for the product.
    """

    external_id: str
    variant_ids: dict[str, str] = field(default_factory=dict)
    snapshot: dict = field(default_factory=dict)


@dataclass
class FieldUpdate:
    """One listing's price and/or stock to write alone (``StorePlugin.update_fields``).

    ``payload``: the product's whole ``build_payload`` body; ``groups``:
    field group ("price", "stock") → that group's values from
    ``split_payload``, only the groups to write. ``allow_whole``: what
    cannot be written alone (a variant the listing does not bind, a product
    gone from the store) may be written whole instead; false for a store
    that takes only these fields from the catalog, where such an item fails
    with a ``Rejected`` that says how to publish it whole.
    """

    listing: Listing
    product: Product
    payload: dict
    groups: dict[str, dict]
    allow_whole: bool = True

    @property
    def bound(self) -> dict[str, str]:
        """The listing's ``variant_ids`` as strings: our variant key → the store's variant id."""
        return {str(k): str(v) for k, v in (self.listing.variant_ids or {}).items()}

    def written(self, snapshot: dict) -> ItemResult:
        """The result of a field write that succeeded: the listing's ids, and ``snapshot`` (the store's answer)."""
        return ItemResult(self.product.pk, listing=RemoteListing(
            external_id=str(self.listing.external_id), variant_ids=dict(self.listing.variant_ids or {}),
            snapshot=snapshot or {}))


@dataclass
class ItemResult:
    """Outcome for one product in a multi-item call: a listing or an error."""

    product_id: int
    listing: RemoteListing | None = None
    error: StoreError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class Refusal:
    """Why a platform cannot take a product as the catalog holds it (``StorePlugin.refusals``).

    ``code``: a stable name (e.g. ``grouped_product``, ``option_value_missing``); ``field``: the catalog field
    at fault, dotted (``kind``, ``options``, ``variants.option_values``, ``grouped_skus``); ``message``: one
    sentence for the operator that names the field and the fix.
    """

    code: str
    field: str
    message: str

    def __str__(self) -> str:
        return self.message


def refusal_text(refusals: list[Refusal]) -> str:
    """The refusals as one text (``Listing.last_error`` of a "not publishable here" listing): their sentences."""
    return " ".join(r.message for r in refusals)


def variant_label(variant) -> str:
    """A variant as an operator finds it in a refusal: ``SKU x``, or ``variant 3`` (its position) without a SKU."""
    return f"SKU {variant.sku}" if variant.sku else f"variant {variant.position}"


def few(labels: list[str], shown: int = 3) -> str:
    """``a``, ``a and b``, ``a, b and c``, or ``a, b, c and 4 more`` past ``shown`` labels."""
    if len(labels) > shown:
        return f"{', '.join(labels[:shown])} and {len(labels) - shown} more"
    return ", ".join(labels[:-1]) + (" and " if len(labels) > 1 else "") + (labels[-1] if labels else "")


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds, e.g. ``2.0``, or an HTTP-date, per RFC 9110);
    None when absent or unreadable."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - time.time()
    return max(0.0, seconds)


def variant_key(sku: str, position: int) -> str:
    """Key of a variant in ``RemoteListing.variant_ids``."""
    return sku or f"#{position}"


class Capability:
    """What a platform can do; plugins declare a subset in ``StorePlugin.capabilities``."""

    READ_PRODUCTS = "read_products"
    WRITE_PRODUCTS = "write_products"
    BATCH_WRITES = "batch_writes"
    VARIANTS = "variants"
    INVENTORY_BY_LOCATION = "inventory_by_location"
    DELETE = "delete"
    WEBHOOKS = "webhooks"
    BULK_EXPORT = "bulk_export"
    #: Prices or stock written alone (``StorePlugin.update_fields``), without rewriting the whole product.
    FIELD_UPDATES = "field_updates"

    ALL = (READ_PRODUCTS, WRITE_PRODUCTS, BATCH_WRITES, VARIANTS, INVENTORY_BY_LOCATION, DELETE, WEBHOOKS, BULK_EXPORT,
           FIELD_UPDATES)
    LABELS = {
        READ_PRODUCTS: "Read products",
        WRITE_PRODUCTS: "Write products",
        BATCH_WRITES: "Batch writes",
        VARIANTS: "Variants",
        INVENTORY_BY_LOCATION: "Inventory by location",
        DELETE: "Delete",
        WEBHOOKS: "Webhooks",
        BULK_EXPORT: "Bulk export",
        FIELD_UPDATES: "Price and stock updates",
    }


@dataclass(frozen=True)
class RateLimit:
    """A platform's published limit, shaped as a leaky bucket.

    ``capacity``: bucket size in ``unit``s; ``leak_rate``: units restored per
    second; ``unit``: "call" (REST) or "cost point" (GraphQL); ``source``:
    where the numbers come from (e.g. "Shopify REST: 40-call bucket, 2/s
    leak, standard plan, per shopify.dev").
    """

    capacity: float
    leak_rate: float
    unit: str = "call"
    source: str = ""


class CallGate(Protocol):
    """What a connector calls around every HTTP request to a store (rate limiter + circuit breaker).

    ``before_call(cost)`` blocks until the store's shared budget has room for
    ``cost`` units, or raises a ``StoreError`` (e.g. ``Transient`` while the
    breaker is open). ``after_call`` reports the outcome so the limiter can
    correct itself from the platform's own figures (``used``/``size`` from
    ``X-Shopify-Shop-Api-Call-Limit``; ``available`` from GraphQL
    ``throttleStatus.currentlyAvailable``; ``retry_after`` seconds from a 429)
    and the breaker can count consecutive failures.
    """

    def before_call(self, cost: float = 1.0) -> None: ...

    def after_call(
        self,
        *,
        error: StoreError | None = None,
        used: float | None = None,
        size: float | None = None,
        available: float | None = None,
        retry_after: float | None = None,
    ) -> None: ...


class OpenGate:
    """A gate that never waits: for tests and one-off calls outside any store (e.g. a connect test)."""

    def before_call(self, cost: float = 1.0) -> None:
        return None

    def after_call(self, **outcome) -> None:
        return None


class StorePlugin(ABC):
    """The connector interface every platform implements.

    ``capabilities`` is a subset of ``Capability.ALL``; ``max_batch`` is the
    most items one batch call may carry (1 without ``batch_writes``: the
    agent then makes one call per item and says so in the job log).
    ``rate_limits(plan)`` gives the platform's published limit for a store
    plan. Every method raises only ``StoreError`` subclasses.
    """

    platform: ClassVar[str]
    label: ClassVar[str] = ""
    capabilities: ClassVar[frozenset[str]]
    max_batch: ClassVar[int] = 1
    #: Most listings one ``update_fields`` call may carry (it batches inside as the platform allows).
    max_field_batch: ClassVar[int] = 1
    #: The saved store this connector serves (``for_store`` sets it); its stock rule shapes payloads.
    store: Store | None = None

    @classmethod
    @abstractmethod
    def rate_limits(cls, plan: str = "") -> RateLimit:
        """The leaky bucket this platform applies to one store on ``plan`` ("" = default plan)."""

    @classmethod
    @abstractmethod
    def for_store(cls, store: Store) -> StorePlugin:
        """Build a connector from a saved store's URL, credentials and timeout."""

    @abstractmethod
    def check(self) -> None:
        """One cheap authenticated read; raises a ``StoreError`` when the store is unusable."""

    @abstractmethod
    def build_payload(self, product: Product) -> dict:
        """The platform body that publishes ``product`` (variants included).

        Its hash decides whether a listing needs a write, so it must be
        deterministic and hold everything the store should show.
        """

    @abstractmethod
    def create_listings(self, items: list[tuple[Product, dict]]) -> list[ItemResult]:
        """Create products in the store, idempotently.

        A product that already exists (same SKU, e.g. after a crashed
        attempt) is bound and updated, never created twice.
        """

    @abstractmethod
    def update_listings(self, items: list[tuple[Listing, Product, dict]]) -> list[ItemResult]:
        """Write new content to existing listings; a listing gone from the store is re-created."""

    @abstractmethod
    def delete_listings(self, listings: list[Listing]) -> list[ItemResult]:
        """Delete products from the store; one already gone counts as deleted."""

    @classmethod
    def refusals(cls, product: Product) -> list[Refusal]:
        """Why this platform cannot take ``product`` as the catalog holds it; ``[]`` when it can.

        Decided from the platform's documented limits and from what this connector sends, without calling
        the store (the publishing matrix asks for every cell of a page), so it may read the database but
        never the network. The Sync agent skips a refused product and records its listing as "not
        publishable here" instead of writing it and failing on every run. Reads ``product.variants.all()``
        (prefetch it for many products). The default: no refusal.
        """
        return []

    def split_payload(self, product: Product, payload: dict) -> tuple[dict, dict[str, dict]]:
        """Split a ``build_payload`` body into (content, field groups), for plugins with ``field_updates``.

        Field groups: ``{"price": {variant key: the platform's price
        fields}, "stock": {variant key: quantity or None (not tracked)}}``,
        keyed like ``RemoteListing.variant_ids``. ``content`` is the body
        without those values. Hashing each part tells the Sync agent whether
        only prices or stock changed, so it can write just those
        (``update_fields``). Raises ``NotImplementedError`` for plugins
        without ``Capability.FIELD_UPDATES``.
        """
        raise NotImplementedError(f"{type(self).__name__} does not write prices or stock alone")

    def update_fields(self, items: list[FieldUpdate]) -> list[ItemResult]:
        """Write only the given field groups of listings the store already has; one ``ItemResult`` per item, in
        order, whose ``listing`` keeps the ids and carries the snapshot updated with what was written.

        Raises ``NotImplementedError`` for plugins without ``Capability.FIELD_UPDATES``.
        """
        raise NotImplementedError(f"{type(self).__name__} does not write prices or stock alone")

    def write_whole(self, items: list[FieldUpdate], indexes, results: list) -> None:
        """Fill ``results[i]`` for the ``items`` at ``indexes`` that could not take their fields alone: written
        whole through ``update_listings`` (which re-creates or re-binds), or — for an item that may not be
        written whole (``allow_whole`` false) — refused with a ``Rejected`` (``needs_whole_write``) that says
        how to publish it whole."""
        allowed = []
        for i in sorted(set(indexes)):
            if items[i].allow_whole:
                allowed.append(i)
            else:
                results[i] = ItemResult(items[i].product.pk, error=Rejected(
                    f"“{items[i].product}” cannot take its prices or stock alone here (a variant the store does not "
                    "have yet, or the product is gone from the store), and this store takes only prices and stock "
                    "from the catalog: use “Publish now” on the product's page to write it whole.",
                    code="needs_whole_write", field="variants"))
        if not allowed:
            return
        log.info("%s: %d listing(s) cannot take prices or stock alone; writing them whole",
                 self.label or self.platform, len(allowed))
        rewritten = self.update_listings([(items[i].listing, items[i].product, items[i].payload) for i in allowed])
        for i, result in zip(allowed, rewritten):
            results[i] = result

    def list_locations(self) -> list[dict]:
        """The places the store keeps stock, for platforms with ``Capability.INVENTORY_BY_LOCATION``:
        ``[{"external_id": str, "name": str, "is_active": bool, "is_primary": bool}]``, deactivated ones
        included. Platforms without locations (WooCommerce: one stock number per variant) have none: ``[]``.
        """
        return []

    def close(self) -> None:
        """Release connections."""


#: Entry-point group a third-party package uses to add a platform, e.g. in its pyproject.toml:
#: [project.entry-points."flashfusion.plugins"] etsy = "flashfusion_etsy:EtsyPlugin"
ENTRY_POINT_GROUP = "flashfusion.plugins"

#: Plugins that ship with FlashFusion (registered like third-party ones, without packaging).
BUILT_IN = {"woocommerce": "stores.plugins.woocommerce:WooCommercePlugin", "shopify": "stores.plugins.shopify:ShopifyPlugin"}


def _load(target: str) -> type[StorePlugin]:
    from importlib import import_module

    module, _, name = target.partition(":")
    return getattr(import_module(module), name)


@cache
def registered_plugins() -> dict[str, type[StorePlugin]]:
    """Platform name → plugin class: the built-in ones, then every ``flashfusion.plugins`` entry point.

    An entry point may not replace a built-in platform (a typo in a package
    must not silently swap the WooCommerce connector).
    """
    plugins = {name: _load(target) for name, target in BUILT_IN.items()}
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        if entry.name not in plugins:
            plugins[entry.name] = entry.load()
    return plugins


def plugin_class(platform: str) -> type[StorePlugin]:
    """The plugin class for ``platform``; raises ``Rejected`` when none is installed."""
    try:
        return registered_plugins()[platform]
    except KeyError:
        raise Rejected(f"No plugin is installed for the platform “{platform}”.", code="no_plugin") from None


def refusals_by_store(stores, products) -> dict[tuple[int, int], list[Refusal]]:
    """``(store id, product id)`` → ``StorePlugin.refusals`` for every pair the store's platform refuses.

    Asked once per platform and product, whatever the number of stores on that platform; no store is
    called. A store whose platform has no plugin installed refuses nothing here (its jobs fail with
    ``no_plugin`` instead). Prefetch the products' variants.
    """
    by_platform: dict[str, list] = {}
    for store in stores:
        by_platform.setdefault(store.platform, []).append(store)
    out: dict[tuple[int, int], list[Refusal]] = {}
    for platform, members in by_platform.items():
        try:
            cls = plugin_class(platform)
        except Rejected:
            continue
        for product in products:
            refusals = cls.refusals(product)
            if refusals:
                for store in members:
                    out[(store.pk, product.pk)] = refusals
    return out


def offline_plugin(store: Store) -> StorePlugin:
    """The store's plugin, good only for ``build_payload`` without calling the store: Shopify's stock location
    comes from the store's location rows (the chosen one, else the primary), or a stand-in when none were read
    (the compared stock is the quantity, whatever its location)."""
    from stores.inventory import stock_location_row
    from stores.plugins import plugin_class

    cls = plugin_class(store.platform)
    plugin = cls.__new__(cls)
    plugin.client = None
    plugin.store = store
    if hasattr(cls, "stock_location_id"):
        row = stock_location_row(store)
        plugin._location_id = row.external_id if row is not None else "gid://shopify/Location/offline"
    return plugin


def plugin_for(store: Store) -> StorePlugin:
    """The connector for ``store.platform``; raises ``Rejected`` when no plugin serves that platform."""
    return plugin_class(store.platform).for_store(store)
