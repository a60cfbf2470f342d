"""A Shopify Admin API stand-in (GraphQL and REST), served over real HTTP on loopback.

``base_url`` (``http://127.0.0.1:<port>``) stands for
``https://<shop>.myshopify.com``. Every call under
``/admin/api/<version>/`` needs ``X-Shopify-Access-Token``; a missing or
wrong token is 401 ``{"errors": "[API] Invalid API key or access token
(unrecognized login or wrong password)"}``, as on Shopify.

* GraphQL: ``POST /admin/api/<version>/graphql.json``, parsed and run by
  graphql-core against a subset of the Admin schema, with Shopify's cost
  calculation, cost bucket and ``THROTTLED`` answers (``graphql_api``,
  ``limits``);
* REST: products, locations, inventory levels, webhooks and shop under
  ``/admin/api/<version>/<resource>.json``, with the 40-call leaky bucket,
  ``X-Shopify-Shop-Api-Call-Limit``, 429 + ``Retry-After: 2.0`` and
  ``page_info`` pagination in ``Link`` headers (``rest_api``);
* webhooks out: a shop owner's edit (``edit_product``, or ``POST
  /__emulator__/products/<id>`` with a JSON object of changes) or delete
  (``delete_product``, ``DELETE /__emulator__/products/<id>``) is sent,
  signed with the app's client secret (``webhook_secret``), to every
  subscription made with REST ``POST webhooks.json`` or GraphQL
  ``webhookSubscriptionCreate`` (``webhooks``, ``graphql_webhooks``); so are
  the owner's location changes (``add_location``,
  ``edit_location`` to rename or deactivate, ``delete_location``);
* faults: 5xx with HTML bodies, latency, 429 bursts, hung connections,
  truncated JSON, outage windows and lost answers to applied writes, from a
  seeded ``FaultPlan`` (``faults``).

Rules of the data (``shop``): productSet semantics (lists replace, omitted
variants are deleted), userErrors with Shopify's codes, GIDs, inventory per
location (an existing variant's stock is set only where it is stocked;
``inventoryActivate`` stocks it elsewhere). Plans and their limits: ``limits.PLANS``.

Not emulated, on purpose: OAuth installs and access scopes (one token can
do everything), media and images (``productSet`` accepts ``files`` and a variant's ``file`` and
stores neither), metafields, collections, publications,
bulk operations, orders and customers, webhook retries (one attempt each)
and webhooks for the app's own API writes (Shopify sends those too), and
resource-based throttles on large shops (e.g. variant creation limits).

Usage::

    with start_emulator(port=0) as shop:
        httpx.post(shop.graphql_url, headers={"X-Shopify-Access-Token": "shpat_demo"},
                   json={"query": "{ shop { name } }"})
"""

from __future__ import annotations

import os

from stores.emulators.faults import FaultPlan
from .limits import PLANS, Plan
from .server import SUPPORTED_VERSIONS, ShopifyEmulator, ThrottleEvent
from .webhooks import WebhookAttempt, sign

__all__ = ["FaultPlan", "PLANS", "Plan", "SUPPORTED_VERSIONS", "ShopifyEmulator", "ThrottleEvent", "WebhookAttempt",
           "sign", "start_emulator"]


def start_emulator(*, host: str = "127.0.0.1", port: int = 0, access_token: str = "shpat_demo",
                   plan: str = "standard", api_version: str = "2025-07",
                   state_path: str | os.PathLike | None = None, faults: FaultPlan | None = None,
                   webhook_secret: str = "whsec_demo", shop: str = "flashfusion-demo") -> ShopifyEmulator:
    """Start a Shopify Admin API emulator in a daemon thread and return it (a context manager).

    ``port=0`` picks a free port (read ``.base_url``). ``plan`` is one of
    ``standard``, ``advanced``, ``plus``, ``enterprise`` and sets both
    buckets. ``api_version`` is the version the emulator answers as when a
    request names an unknown one; it also decides ``productSet``'s cost.
    With ``state_path`` the shop is loaded from that JSON file when it exists
    and written back atomically after every change. ``webhook_secret`` signs
    outgoing webhooks (the app's client secret on Shopify). ``shop`` makes
    the domain ``<shop>.myshopify.com`` sent in ``X-Shopify-Shop-Domain``.
    """
    return ShopifyEmulator(host=host, port=port, access_token=access_token, plan=plan, api_version=api_version,
                           state_path=state_path, faults=faults, webhook_secret=webhook_secret, shop=shop)
