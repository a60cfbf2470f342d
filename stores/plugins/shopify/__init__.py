"""Shopify Admin API connector: a typed client on httpx (GraphQL first, REST where cheap) and the store plugin.

Facts this package relies on, with their source (see /work/shared/PLATFORMS.md):

* Auth header ``X-Shopify-Access-Token``; GraphQL at
  ``{shop}/admin/api/{YYYY-MM}/graphql.json``, REST at
  ``{shop}/admin/api/{YYYY-MM}/{resource}.json`` (shopify.dev, Admin API
  getting started). We target ``2025-07``.
* GraphQL rate limit: a leaky bucket of cost points per app and shop. Restore
  rate 100 / 200 / 1000 / 2000 points per second on Standard / Advanced /
  Plus / Enterprise (shopify.dev, "GraphQL Admin API rate limits"). The docs
  do not print the bucket size; answers from real shops carry it in
  ``throttleStatus.maximumAvailable``: 2000 on Basic (restore 100), 4000 on
  Advanced (restore 200), 20000 on Plus (restore 1000) — captured responses
  in public test fixtures (e.g. Microsoft's Shopify connector for Business
  Central). That is 20 s of restore on every plan, so Enterprise is taken as
  40000 (inferred, not observed).
* Every GraphQL answer carries ``extensions.cost = {requestedQueryCost,
  actualQueryCost, throttleStatus: {maximumAvailable, currentlyAvailable,
  restoreRate}}``. Over the limit the answer is HTTP 200 with
  ``errors: [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}]``
  and ``actualQueryCost: null`` (shopify.dev; Shopify community answers).
* REST: leaky bucket of calls; every answer has
  ``X-Shopify-Shop-Api-Call-Limit: used/size`` (e.g. ``32/40``); over the
  limit HTTP 429 with ``Retry-After`` seconds, sometimes without it
  (shopify.dev REST rate limits). Pagination by ``Link: <…page_info=…>;
  rel="next"`` used exactly as given (shopify.dev REST pagination).
* ``productSet`` creates or updates a whole product; list fields it is given
  (variants, files, options) replace the stored list (shopify.dev
  ``productSet``). Synchronous by default since 2024-07. Its ``identifier``
  argument (``ProductSetIdentifiers {id, handle, customId}``, in 2025-07)
  selects the product: ``handle`` *upserts* ("Handle of product to upsert"),
  ``id`` updates. Identity on create is therefore the handle: a retry after a
  crash with the same handle updates the product the first attempt made.
* ``ProductVariantSetInput`` takes ``sku``, ``price``, ``compareAtPrice``
  (Money strings), ``barcode``, ``optionValues [{optionName, name}]``
  (required), ``inventoryItem {tracked, measurement {weight {unit, value}}}``,
  ``inventoryQuantities [{locationId, name: "available"|"on_hand",
  quantity}]`` and ``file``; a variant ``file`` must also be among the
  product's ``files`` (shopify.dev ``ProductVariantSetInput``,
  ``ProductSetInventoryInput``).
* ``productSet`` errors are ``ProductSetUserError {field, message, code}``
  with codes such as ``PRODUCT_DOES_NOT_EXIST``,
  ``PRODUCT_VARIANT_DOES_NOT_EXIST``, ``HANDLE_NOT_UNIQUE``
  (``ProductSetUserErrorCode``). ``productDelete`` answers
  ``{deletedProductId, userErrors: [UserError {field, message}]}`` (no code).
* ``location`` without an id returns the shop's primary location
  (shopify.dev ``QueryRoot.location``); ``locations`` leaves deactivated
  locations out unless ``includeInactive: true`` (``QueryRoot.locations``).
* Stock lives per location (``InventoryLevel``). "If you're updating an
  existing variant, then you can only update the quantities at locations
  where the variant is already stocked" (``ProductVariantSetInput``);
  ``inventoryActivate`` stocks an item at a location first, its quantities
  being initial ones (shopify.dev ``inventoryActivate``).
* Webhooks: ``X-Shopify-Hmac-SHA256`` = base64(HMAC-SHA256(secret, raw
  body)) (shopify.dev webhook verification).

Identifiers: ``RemoteListing.external_id`` and every value of
``variant_ids`` are **GraphQL global ids** (``gid://shopify/Product/123``,
``gid://shopify/ProductVariant/456``): the GraphQL API takes them as they are
and the webhook bodies carry them as ``admin_graphql_api_id``. ``numeric_id``
turns one into the REST id (the number at the end); ``product_gid`` accepts
either form.

Typed errors (``stores.plugins``) raised here carry ``details`` (the
userErrors / GraphQL errors / REST error body as received, ``{}`` when none)
and ``field`` (the dotted input path Shopify named, e.g.
``"variants.0.price"``, or ``None``).

Units: seconds for timeouts and retry-after; money is the string of a
``Decimal`` (``"19.99"``); weights are grams; rate limits in cost points
(GraphQL) or calls (REST).
"""

from __future__ import annotations

import logging
from importlib import import_module
from importlib.util import find_spec
from typing import TYPE_CHECKING

from stores.plugins import Capability, OpenGate, RateLimit, StorePlugin, Transient

from .client import API_VERSION, RestAnswer, ShopifyClient, parse_call_limit, throttle_wait
from .fields import FieldWrites
from .ids import numeric_id, product_gid
from .locations import StockLocations
from .payload import STATUS_MAP, ProductPayload, shopify_handle
from .queries import MAX_INPUT_ITEMS, MAX_PAGE, MUTATION_COST, _product_cost, _product_set_cost, estimate_cost
from .reads import ProductReads
from .refusals import CapabilityChecks
from .webhooks import WebhookSubscriptions, verify_webhook
from .writes import ProductWrites, note_stock

if TYPE_CHECKING:
    from stores.models import Store

log = logging.getLogger(__name__)


#: GraphQL cost-point buckets by plan: (maximumAvailable, restoreRate per second). See the module docstring.
GRAPHQL_LIMITS: dict[str, tuple[float, float, str]] = {
    "standard": (2000.0, 100.0, "Shopify GraphQL: restore 100 points/s (shopify.dev rate limits, Standard); "
                                "bucket 2000 (throttleStatus.maximumAvailable seen on Basic shops)"),
    "advanced": (4000.0, 200.0, "Shopify GraphQL: restore 200 points/s (shopify.dev rate limits, Advanced); "
                                "bucket 4000 (throttleStatus.maximumAvailable seen on Advanced shops)"),
    "plus": (20000.0, 1000.0, "Shopify GraphQL: restore 1000 points/s (shopify.dev rate limits, Plus); "
                              "bucket 20000 (throttleStatus.maximumAvailable seen on Plus shops)"),
    "enterprise": (40000.0, 2000.0, "Shopify GraphQL: restore 2000 points/s (shopify.dev rate limits, "
                                    "Commerce Components); bucket 40000 inferred (20 s of restore, as on every "
                                    "other plan)"),
}
#: Store.rate_plan spellings → GRAPHQL_LIMITS key. Shopify's own plan names: Basic, Shopify/Grow, Advanced, Plus.
PLAN_ALIASES = {
    "": "standard", "standard": "standard", "basic": "standard", "shopify": "standard", "grow": "standard",
    "starter": "standard", "advanced": "advanced", "plus": "plus", "shopify_plus": "plus",
    "shopify plus": "plus", "enterprise": "enterprise", "commerce_components": "enterprise",
}


def _load_gate_for():
    """``stores.limits.gate_for`` when that module exists, else None (the connector then uses ``OpenGate``).

    An import error *inside* an existing ``stores.limits`` propagates: a
    broken limiter must not silently turn rate limiting off.
    """
    if find_spec("stores.limits") is None:
        return None
    module = import_module("stores.limits")
    gate_for = getattr(module, "gate_for", None)
    if gate_for is None:
        log.warning("stores.limits has no gate_for(store); Shopify calls run without a rate limiter")
    return gate_for


class ShopifyPlugin(StockLocations, ProductPayload, CapabilityChecks, ProductWrites, FieldWrites, ProductReads,
                    WebhookSubscriptions, StorePlugin):
    """The Shopify connector (GraphQL Admin API ``2025-07``).

    One product per ``productSet`` mutation, so ``max_batch`` is 1 and the
    Sync agent makes one call per product. Results are one ``ItemResult``
    per input, in input order; whole-call failures become the item's error,
    so one bad product never stops the others. Writes are idempotent: create
    upserts by handle (``identifier: {handle}``), update targets the
    listing's product GID, and a product gone from the store is re-created by
    handle.

    Its parts, one module of this package each: ``locations``, ``payload``
    (``build_payload``), ``refusals`` (the capability checks), ``writes``,
    ``fields`` (prices and stock alone), ``reads`` (products, stock, the bulk
    export) and ``webhooks``; they call the Admin API through ``client``
    (``ShopifyClient``) with the documents of ``queries``.
    """

    platform = "shopify"
    label = "Shopify"
    capabilities = frozenset({
        Capability.READ_PRODUCTS, Capability.WRITE_PRODUCTS, Capability.VARIANTS,
        Capability.INVENTORY_BY_LOCATION, Capability.DELETE, Capability.WEBHOOKS, Capability.BULK_EXPORT,
        Capability.FIELD_UPDATES,
    })
    max_batch = 1
    #: ``update_fields`` sets the stock of this many products in one ``inventorySetQuantities`` (≤ 250 inputs).
    max_field_batch = 50

    def __init__(self, client: ShopifyClient, *, location_id: str | None = None):
        self.client = client
        self._location_id = location_id

    @classmethod
    def rate_limits(cls, plan: str = "") -> RateLimit:
        """The GraphQL cost-point bucket for ``plan`` (capacity = maximumAvailable, leak = restoreRate per second).

        ``plan`` is ``Store.rate_plan``: standard (also "", basic, shopify,
        grow), advanced, plus, enterprise. An unknown plan gets Standard's
        limits — the smallest, so we never overrun a shop — and says so in
        ``source``.
        """
        key = PLAN_ALIASES.get((plan or "").strip().lower())
        if key is None:
            capacity, leak, source = GRAPHQL_LIMITS["standard"]
            return RateLimit(capacity=capacity, leak_rate=leak, unit="cost point",
                             source=f"unknown plan {plan!r}, Standard assumed. {source}")
        capacity, leak, source = GRAPHQL_LIMITS[key]
        return RateLimit(capacity=capacity, leak_rate=leak, unit="cost point", source=source)

    @classmethod
    def for_store(cls, store: Store) -> ShopifyPlugin:
        """Connector for a saved store: ``base_url``, ``consumer_secret`` = the Admin API access token, ``timeout``.

        The gate is ``stores.limits.gate_for(store)`` when that module is
        installed, else ``OpenGate``.
        """
        gate_for = _load_gate_for()
        gate = gate_for(store) if gate_for is not None else OpenGate()
        plugin = cls(ShopifyClient(store.base_url, store.consumer_secret, timeout=store.timeout, gate=gate))
        plugin.store = store
        return plugin

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> ShopifyPlugin:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def check(self) -> None:
        """``query { shop { name } }`` (1 point): proves the URL, the API version and the token."""
        data = self.client.graphql("query FlashFusionCheck { shop { name } }", cost=1)
        if not isinstance(data.get("shop"), dict):
            raise Transient("the shop query answered without a shop", status=200, code="bad_shape")


__all__ = [
    "API_VERSION", "GRAPHQL_LIMITS", "RestAnswer", "ShopifyClient", "ShopifyPlugin", "estimate_cost",
    "note_stock", "numeric_id", "parse_call_limit", "product_gid", "throttle_wait", "verify_webhook",
    # also imported from here by products.bulk (call estimates) and the tests
    "MAX_INPUT_ITEMS", "MAX_PAGE", "MUTATION_COST", "STATUS_MAP", "shopify_handle", "_product_cost",
    "_product_set_cost",
]
