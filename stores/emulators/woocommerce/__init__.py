"""A WooCommerce REST API v3 stand-in, served over real HTTP on loopback.

It answers like a WooCommerce 7.9 site on WordPress 6.1 (the install that
produced ``shared/data/woocommerce/``), rule by rule, including the awkward
parts a connector has to cope with. Each rule names its source: "seen" means
observed on that install; "source" means read in woocommerce/woocommerce
(``includes/rest-api/Controllers/Version2|3``, ``class-wc-rest-authentication.php``)
or WordPress core (``class-wp-rest-request.php``, ``rest-api.php``).

Routes, under ``<base_url>/wp-json/wc/v3/`` (case-insensitive, trailing slash
ignored, like WordPress)::

    GET|POST                    products
    GET|POST|PUT|PATCH|DELETE   products/<id>
    POST|PUT|PATCH              products/batch
    GET|POST                    products/<product_id>/variations
    GET|POST|PUT|PATCH|DELETE   products/<product_id>/variations/<id>
    POST|PUT|PATCH              products/<product_id>/variations/batch
    GET|POST                    webhooks
    GET|POST|PUT|PATCH|DELETE   webhooks/<id>

plus a small ``GET /wp-json/`` index. Anything else answers 404 ``rest_no_route``.

Webhooks go out as WooCommerce sends them (``_Webhooks``: signed JSON from a
background thread, the ping on creation). The emulator's own routes, outside
the REST API, drive it in a demo: ``POST /__emulator__/products/<id>`` makes
a shop-side edit (``WooCommerceEmulator.edit_product``), ``/__emulator__/faults``
reads or sets the fault plan (``stores.emulators.faults``: 5xx, latency, 429
bursts, hangs, malformed bodies, lost answers, an outage window).

Request pipeline (WordPress ``serve_request``/``dispatch`` order; source):

1. authentication (before routing, so a bad signature is 401 even on an
   unknown route): Basic or ``consumer_key``/``consumer_secret`` only when
   the request is HTTPS, here meaning ``X-Forwarded-Proto: https``;
   otherwise OAuth 1.0a one-legged (HMAC-SHA1 or -SHA256) with the
   ``oauth_*`` parameters in the query string, a form body or an
   ``Authorization: OAuth`` header; 15-minute timestamp window; nonces kept
   per key in a map keyed by timestamp, as WooCommerce does. No credentials
   at all is not an error yet: the request goes on as a visitor;
2. route match, else 404 ``rest_no_route``;
3. parameters: JSON body (only with a JSON ``Content-Type``; bad JSON is 400
   ``rest_invalid_json``), form body, query, route, then schema defaults,
   earlier ones winning; then schema validation of every argument that is not
   ``null`` (400 ``rest_invalid_param`` with ``data.params`` and
   ``data.details``, e.g. a numeric price gives ``details.regular_price.code
   == "rest_invalid_type"``);
4. permission: a visitor gets 401 ``woocommerce_rest_cannot_view`` /
   ``_create`` / ``_edit`` / ``_delete`` / ``_batch`` (so does Basic over
   plain HTTP: WooCommerce never reads it there); on single-item routes only
   when the item exists, otherwise the handler's 404 comes first;
5. the handler.

Items inside a batch skip step 3 entirely (``batch_items`` calls
``create_item`` directly; source), so a numeric price is accepted there and
stored as a string, as on a real site.

Other rules a client meets (source unless marked seen):

* lists: ``per_page`` 1–100 (default 10), ``page`` ≥ 1, headers
  ``X-WP-Total``/``X-WP-TotalPages``; ``Link`` rel="prev"/"next" is built
  from the request's own query, ``oauth_*`` included (seen), through
  ``add_query_arg``, which re-parses the raw values and so mangles a base64
  signature; without a pagination link, ``Link`` points at the API root;
* SKUs are unique over products and variations together, case-insensitively
  (MySQL collation), ignoring trashed holders; a duplicate is 400
  ``product_invalid_sku`` with ``data.resource_id`` (seen) and ``unique_sku``;
* ``DELETE`` without ``force`` trashes (status ``trash``, slug
  ``…__trashed``, a product's variations too; hidden from lists unless
  ``status=trash``; a second one is 410), with ``force=true`` deletes for
  good, a variable product with its variations; the answer is the item as
  it was before;
* an unknown id is 404 on GET and DELETE but 400 on update (CRUD controller);
* answers to writes use the ``edit`` context (texts as stored); GET uses
  ``view`` (``wpautop`` on descriptions), as WooCommerce does;
* ``price`` is the sale price while the product is on sale (sale price below
  the regular one, inside its dates), else the regular one; a variable
  product shows its cheapest published variation, a grouped one its cheapest
  child; managed stock sets ``stock_status`` from the quantity.

Known differences from a real site, on purpose: no product categories/tags
endpoints (categories are kept by id; only "Uncategorized", id 15, exists, and
new tags are created by name), no global (``pa_*``) attributes (an attribute
sent with an ``id`` is dropped), no shipping classes (any slug is dropped, as
on a site that has none), image and download URLs are not fetched (an image
``src`` must be http(s) with an image extension; it gets a new attachment id
and a local ``/wp-content/uploads/`` URL, like a real sideload), no kses or
``wptexturize`` on texts (``wpautop`` is applied where WooCommerce applies
it), ``related_ids`` is the first five matches by id instead of a random
sample, the default list order is date then id descending (the capture of
page 1 was in ascending id order, which WooCommerce's own ordering does not
explain), a variation is only created under an existing product, and
``OPTIONS``, ``_embed`` and ``_envelope`` are not supported (``_fields`` is).

Modules: ``server`` (HTTP, faults), ``api`` (routing, parameters, product and
variation routes), ``auth`` (Basic, OAuth 1.0a), ``batch``, ``webhooks``
(routes, storage, deliveries out), ``shop`` with ``products``, ``variations``
and ``queries`` (WooCommerce's data rules), ``state`` (persistence),
``schema`` (argument validation), ``php`` (PHP and WordPress helpers),
``constants``, ``errors``, ``wire`` (request and answer objects) and
``emulator`` (the public ``WooCommerceEmulator``).
"""

from __future__ import annotations

from .constants import API_ROOT, BATCH_LIMIT, CONTROL_PREFIX, MAX_PER_PAGE, NAMESPACE, OAUTH_WINDOW
from .emulator import WooCommerceEmulator, start_emulator
from .errors import RestError
from .webhooks import HOOKSHOT_AGENT, MAX_DELIVERY_FAILURES, WEBHOOK_TIMEOUT, webhook_signature

__all__ = ["API_ROOT", "BATCH_LIMIT", "CONTROL_PREFIX", "HOOKSHOT_AGENT", "MAX_DELIVERY_FAILURES", "MAX_PER_PAGE",
           "NAMESPACE", "OAUTH_WINDOW", "RestError", "WEBHOOK_TIMEOUT", "WooCommerceEmulator", "start_emulator",
           "webhook_signature"]
