"""WooCommerce REST API v3 connector: a typed client on httpx + oauthlib, and the store plugin.

Facts this package relies on, with their source (see /work/shared/PLATFORMS.md;
"seen" = observed on a real WooCommerce 7.9.0 install):

* Base ``{site}/wp-json/wc/v3/``; products ``/products``, variations
  ``/products/{id}/variations``, batches ``…/batch`` with ``create`` /
  ``update`` / ``delete`` lists (WooCommerce REST API docs; seen).
* Auth over HTTPS is HTTP Basic with the consumer key and secret; over plain
  HTTP it is OAuth 1.0a one-legged, HMAC-SHA1, with the ``oauth_*``
  parameters in the *query string* (WooCommerce's ``class-wc-rest-authentication.php``
  reads them from ``$_GET``; Basic over HTTP answers 401 — docs; seen).
  The signature covers the method, the URL and the query parameters only; a
  JSON body is not signed (WooCommerce signs ``$_GET`` + ``$_POST``, and a
  JSON body never reaches ``$_POST``). Nonce and timestamp are fresh for each
  request (WooCommerce refuses a reused nonce and a timestamp more than 15
  minutes off).
* A batch holds at most 100 items in all; 101 answers 413
  ``woocommerce_rest_request_entity_too_large`` (docs; seen). A batch answers
  200 even when items fail; a failed item is
  ``{"id": …, "error": {"code", "message", "data": {"status"}}}`` (seen).
  A batch ``delete`` is permanent: WooCommerce's ``batch_items`` calls
  ``delete_item`` with ``force=true`` (WooCommerce source,
  ``class-wc-rest-controller.php``).
* Pagination: ``per_page`` 1–100, ``page``; ``X-WP-Total``,
  ``X-WP-TotalPages`` and ``Link: <…>; rel="next"`` (WordPress REST handbook;
  seen). Under OAuth the ``Link`` URL still carries the previous request's
  ``oauth_*`` parameters: they are stripped and the request signed afresh (seen).
* Errors are ``{"code", "message", "data": {"status", "params"?}}`` (docs; seen).
* A duplicate SKU answers 400 ``product_invalid_sku`` with
  ``data.resource_id`` = the product that already holds it (seen); the
  plugin binds to that product instead of creating twice.
* Prices are JSON strings (``"65"``); a number answers 400
  ``rest_invalid_type`` (seen).
* ``GET /products?sku=a,b`` matches several SKUs and searches variations too
  (WooCommerce source, ``class-wc-rest-products-controller.php``: the SKU
  filter switches ``post_type`` to ``product`` + ``product_variation``).

Units: timeouts and ``Retry-After`` are seconds (float); money is sent as the
string of a ``Decimal`` (``"19.99"``); weights are kilograms (see
``WooCommercePlugin.build_payload``).

Typed errors (``stores.plugins``) raised here carry two extra attributes:
``details`` — WooCommerce's ``data`` object of the error (``{}`` when there
was none) — and ``field`` — the offending parameter named in
``data.params`` (``None`` when WooCommerce named none).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from stores.plugins import RateLimit, StorePlugin

from .client import MAX_BATCH_ITEMS, WooCommerceClient, error_from_answer
from .fields import FieldWrites
from .payload import STATUS_MAP, ProductPayload
from .reads import ProductReads
from .refusals import CapabilityChecks
from .variations import VariationWrites, _variation_error
from .webhooks import WebhookSubscriptions
from .writes import ProductWrites

if TYPE_CHECKING:
    from stores.models import Store


class WooCommercePlugin(ProductPayload, CapabilityChecks, ProductReads, ProductWrites, VariationWrites,
                        FieldWrites, WebhookSubscriptions, StorePlugin):
    """The WooCommerce connector (REST API v3).

    Writes are idempotent (DESIGN.md): a product whose SKU the store already
    holds is bound to that product and updated, never created twice. Results
    are one ``ItemResult`` per input, in input order. When a product was
    written but one of its variations failed, the result carries *both* the
    listing (so the binding can be saved) and the error.

    Its parts, one module of this package each: ``payload``
    (``build_payload``), ``refusals`` (the capability checks), ``reads``,
    ``writes`` (products), ``variations``, ``fields`` (prices and stock
    alone) and ``webhooks``; they call the REST API through ``client``
    (``WooCommerceClient``).
    """

    platform = "woocommerce"
    label = "WooCommerce"
    capabilities = frozenset({"read_products", "write_products", "batch_writes", "variants", "delete", "webhooks",
                              "field_updates"})
    max_batch = MAX_BATCH_ITEMS
    max_field_batch = MAX_BATCH_ITEMS

    @classmethod
    def rate_limits(cls, plan: str = "") -> RateLimit:
        """WooCommerce's REST API v3 sets no rate limit of its own; the site's PHP workers are the limit.

        We hold ourselves to a 10-call burst and 5 calls/s so a sync never
        starves the shop's storefront (our choice, not a platform figure).
        """
        return RateLimit(capacity=10, leak_rate=5, unit="call", source="self-imposed: WooCommerce REST v3 has no built-in limit")

    def __init__(self, client: WooCommerceClient):
        self.client = client

    @classmethod
    def for_store(cls, store: Store) -> WooCommercePlugin:
        """A connector for ``store`` whose every request goes through ``stores.limits.gate_for(store)``
        (rate limiter + circuit breaker; an ``OpenGate`` for an unsaved store, e.g. the connect form's test)."""
        from stores.limits import gate_for

        plugin = cls(WooCommerceClient(store.base_url, store.consumer_key, store.consumer_secret,
                                       timeout=store.timeout, gate=gate_for(store)))
        plugin.store = store
        return plugin

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> WooCommercePlugin:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def check(self) -> None:
        """``GET /products?per_page=1``: proves the URL, the credentials and read permission."""
        self.client.get("products", {"per_page": 1})


__all__ = [
    "MAX_BATCH_ITEMS", "STATUS_MAP", "WooCommerceClient", "WooCommercePlugin", "error_from_answer",
    # also imported from here by the tests
    "_variation_error",
]
