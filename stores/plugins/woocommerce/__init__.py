"""WooCommerce REST API v3 connector: a typed client on httpx + oauthlib, and the store plugin.

Facts this module relies on, with their source (see /work/shared/PLATFORMS.md;
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

import json as jsonlib
import logging
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import httpx
from oauthlib.oauth1 import SIGNATURE_HMAC_SHA1, SIGNATURE_TYPE_QUERY
from oauthlib.oauth1 import Client as OAuth1Client

from stores.plugins import (
    AuthFailed,
    CallGate,
    FieldUpdate,
    ItemResult,
    NotFound,
    OpenGate,
    RateLimit,
    RateLimited,
    Refusal,
    Rejected,
    RemoteListing,
    StoreError,
    StorePlugin,
    Transient,
    few,
    parse_retry_after,
    variant_key,
    variant_label,
)

if TYPE_CHECKING:
    from products.models import Product, Variant
    from stores.models import Listing, Store

log = logging.getLogger(__name__)

API_PREFIX = "/wp-json/wc/v3/"
MAX_BATCH_ITEMS = 100  # per WooCommerce REST docs; 101 answers 413 (seen on 7.9.0)
MAX_PER_PAGE = 100  # per WordPress REST handbook; 101 answers 400 rest_invalid_param (seen)
SKU_LOOKUP_CHUNK = 50  # SKUs per ``GET /products?sku=…`` (keeps the URL short)

USER_AGENT = "FlashFusion-WooCommerce/1.0 (+httpx)"
#: The price and stock fields of a product or variation body (``split_payload``).
OFFER_FIELDS = ("regular_price", "sale_price", "stock_quantity")
#: ``split_payload`` key of a simple or external product's own price and stock.
PRODUCT_KEY = "@product"


# --------------------------------------------------------------------------- errors






def error_from_answer(status: int, body: Any, *, retry_after: float | None = None,
                      fallback_message: str = "") -> StoreError:
    """The typed error for a WooCommerce error answer (whole request or one batch item).

    ``body`` is WooCommerce's ``{"code", "message", "data": {"status", "params"}}``
    (docs; seen) or anything else when the body was not that shape.
    401/403 → ``AuthFailed``; 404 → ``NotFound``; 429 → ``RateLimited``;
    408 and 5xx → ``Transient``; any other 4xx → ``Rejected`` naming
    WooCommerce's ``code`` and, when ``data.params`` is present, the parameter.
    """
    code, message, details = "", "", {}
    if isinstance(body, dict):
        code = str(body.get("code") or "")
        message = str(body.get("message") or "")
        if isinstance(body.get("data"), dict):
            details = body["data"]
    message = message or fallback_message or f"HTTP {status}"
    field = None
    params = details.get("params")
    if isinstance(params, dict) and params:
        field = next(iter(params))
        detail = params[field]
        message = f"{message} [{field}: {detail}]" if detail else f"{message} [{field}]"
    elif isinstance(params, list) and params:
        field = str(params[0])
        message = f"{message} [{field}]"
    text = f"{code}: {message}" if code else message

    if status == 429:
        return RateLimited(text, status=status, code=code, details=details, field=field,
                      retry_after=retry_after)
    if status in (401, 403):
        return AuthFailed(text, status=status, code=code, details=details, field=field)
    if status == 404:
        return NotFound(text, status=status, code=code, details=details, field=field)
    if status == 408 or status >= 500:
        return Transient(text, status=status, code=code, details=details, field=field)
    return Rejected(text, status=status, code=code, details=details, field=field)


def _is_gone(err: StoreError) -> bool:
    """True when the error says the product/variation does not exist.

    A single GET/DELETE answers 404; inside a batch, ``update`` of a missing id
    answers 400 ``woocommerce_rest_product_invalid_id`` (WooCommerce source,
    ``WC_REST_CRUD_Controller::update_item``).
    """
    return isinstance(err, NotFound) or err.code.endswith("_invalid_id")


def _duplicate_sku_owner(err: StoreError) -> int | None:
    """The id of the product that already holds the SKU, for a ``product_invalid_sku`` error (seen)."""
    if err.code != "product_invalid_sku":
        return None
    rid = (getattr(err, "details", None) or {}).get("resource_id")
    try:
        rid = int(rid)
    except (TypeError, ValueError):
        return None
    return rid if rid > 0 else None


# --------------------------------------------------------------------------- client


def _encode_query(params: dict[str, Any] | Sequence[tuple[str, Any]]) -> str:
    """RFC 3986 query string; lists become comma-separated (WooCommerce's ``include``, ``sku``), bools true/false."""
    pairs = params.items() if isinstance(params, dict) else params
    flat = []
    for key, value in pairs:
        if value is None:
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, (list, tuple, set)):
            value = ",".join(str(v) for v in value)
        flat.append((str(key), str(value)))
    return urlencode(flat, quote_via=quote, safe="")


class WooCommerceClient:
    """A small typed layer over ``httpx.Client`` for ``{base_url}/wp-json/wc/v3/``.

    ``base_url`` is the site root (``https://shop.example.com``, or with the
    WordPress sub-directory). ``https`` uses HTTP Basic; ``http`` signs each
    request with OAuth 1.0a (HMAC-SHA1, parameters in the query string, via
    ``oauthlib``). ``timeout`` is seconds for connect, read, write and pool.
    ``transport`` replaces the network (``httpx.MockTransport`` in tests).
    ``gate`` (``stores.plugins.CallGate``) is called around every request —
    the store's rate limiter and circuit breaker; ``None`` = ``OpenGate``.

    Paths are relative to the API root (``"products"``,
    ``"products/35/variations"``). Every method returns parsed JSON and raises
    only ``StoreError`` subclasses (see ``error_from_answer``); timeouts,
    connection errors and a success answer that is not JSON are ``Transient``.
    Redirects are not followed (a redirect would change the signed URL or leak
    Basic credentials): a 3xx is ``Rejected`` with code ``redirect``.
    """

    def __init__(self, base_url: str, consumer_key: str, consumer_secret: str, *, timeout: float = 20.0,
                 transport: httpx.BaseTransport | None = None, gate: CallGate | None = None):
        parts = urlsplit(base_url.strip())
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"WooCommerce base_url must be an http(s) site address, got {base_url!r}")
        self.base_url = urlunsplit((scheme, parts.netloc, parts.path.rstrip("/"), "", ""))
        self.api_url = self.base_url + API_PREFIX
        self._origin = (scheme, parts.netloc.lower())
        self.uses_oauth = scheme == "http"
        self.timeout = float(timeout)
        self._consumer_key = consumer_key
        self._consumer_secret = consumer_secret
        self.gate: CallGate = gate if gate is not None else OpenGate()
        self._http = httpx.Client(
            auth=None if self.uses_oauth else httpx.BasicAuth(consumer_key, consumer_secret),
            timeout=httpx.Timeout(self.timeout),
            transport=transport,
            follow_redirects=False,
            headers={"Accept": "application/json", "User-Agent": USER_AGENT},
        )

    # -- plumbing

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> WooCommerceClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def url(self, path: str, params: dict[str, Any] | Sequence[tuple[str, Any]] | None = None) -> str:
        """Absolute API URL for ``path`` with an encoded query string (unsigned)."""
        url = self.api_url + path.lstrip("/")
        query = _encode_query(params or {})
        return f"{url}?{query}" if query else url

    def _sign(self, method: str, url: str) -> str:
        """Add fresh ``oauth_*`` query parameters (one-legged OAuth 1.0a, HMAC-SHA1)."""
        signer = OAuth1Client(
            self._consumer_key,
            client_secret=self._consumer_secret,
            signature_method=SIGNATURE_HMAC_SHA1,
            signature_type=SIGNATURE_TYPE_QUERY,
        )
        signed, _headers, _body = signer.sign(url, http_method=method.upper())
        return signed

    def _send(self, method: str, url: str, *, json: Any = None) -> httpx.Response:
        """Send one HTTP request through the gate: ``before_call(1)``, the request, ``after_call(error=…)``.

        WooCommerce REST v3 reports no rate-limit usage in its answers, so the
        gate only hears the outcome (and a 429's ``Retry-After`` seconds).
        Errors the gate raises itself (breaker open, rate-limit wait too
        long) propagate before anything is sent.
        """
        self.gate.before_call(1)
        try:
            response = self._send_once(method, url, json=json)
        except StoreError as err:
            self.gate.after_call(error=err, retry_after=getattr(err, "retry_after", None))
            raise
        self.gate.after_call()
        return response

    def _send_once(self, method: str, url: str, *, json: Any = None) -> httpx.Response:
        method = method.upper()
        if self.uses_oauth:
            url = self._sign(method, url)
        kwargs = {}
        if json is not None:
            kwargs["content"] = jsonlib.dumps(json, separators=(",", ":"), default=str).encode()
            kwargs["headers"] = {"Content-Type": "application/json"}
        try:
            response = self._http.request(method, url, **kwargs)
        except httpx.TimeoutException as exc:
            raise Transient(f"timed out after {self.timeout:g}s: {method} {_safe(url)} ({type(exc).__name__})",
                         status=None) from exc
        except httpx.RequestError as exc:  # connect/read/write errors, dropped connections, undecodable bodies
            raise Transient(f"network error: {method} {_safe(url)}: {type(exc).__name__}: {exc}",
                         status=None) from exc
        if response.status_code >= 300:
            raise self._error_for(response)
        return response

    def _error_for(self, response: httpx.Response) -> StoreError:
        status = response.status_code
        if 300 <= status < 400:
            location = response.headers.get("Location", "")
            return Rejected(f"redirect: the store answered {status} to {location or 'elsewhere'}; "
                                    "set the store URL to the address it redirects to",
                          status=status, code="redirect")
        try:
            body = response.json()
        except ValueError:
            body = None
        fallback = f"HTTP {status} {response.reason_phrase}".strip()
        if body is None:
            snippet = response.text[:200].strip()
            if snippet:
                fallback = f"{fallback}: {snippet}"
        return error_from_answer(status, body, retry_after=parse_retry_after(response.headers.get("Retry-After")),
                                 fallback_message=fallback)

    @staticmethod
    def _parse(response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError as exc:
            snippet = response.text[:200].strip()
            raise Transient(f"unreadable answer (not JSON) from {response.request.method} "
                                    f"{_safe(str(response.request.url))}: {snippet!r}",
                         status=response.status_code) from exc

    # -- verbs

    def request(self, method: str, path: str, *, params=None, json: Any = None) -> Any:
        """Send one request; returns the parsed JSON answer.

        ``params`` go in the query string (lists joined with commas, as
        WooCommerce's ``include`` / ``sku`` filters take them); ``json`` is
        sent as an ``application/json`` body (Decimals as strings).
        """
        return self._parse(self._send(method, self.url(path, params), json=json))

    def get(self, path: str, params=None) -> Any:
        """``GET``: an object (``products/35``) or a list (one page of ``products``; see ``paginate``)."""
        return self.request("GET", path, params=params)

    def post(self, path: str, json: Any = None, params=None) -> Any:
        """``POST``: create (``products``) or batch (``products/batch``); answers the created object."""
        return self.request("POST", path, params=params, json=json if json is not None else {})

    def put(self, path: str, json: Any = None, params=None) -> Any:
        """``PUT``: update one object (``products/35``) with the fields given; answers the object."""
        return self.request("PUT", path, params=params, json=json if json is not None else {})

    def delete(self, path: str, params=None) -> Any:
        """``DELETE``: without ``{"force": True}`` a product goes to the trash (per WooCommerce REST docs)."""
        return self.request("DELETE", path, params=params)

    # -- pagination

    def paginate(self, path: str, params: dict[str, Any] | None = None, per_page: int = 100) -> Iterator[dict]:
        """Yield every item of a collection, page after page.

        Follows the ``Link: <…>; rel="next"`` URL (WordPress REST handbook). Its
        ``oauth_*`` parameters are stale (seen on WooCommerce 7.9.0): they are
        dropped and the request is signed afresh. Only the path and query of
        the link are used, resolved against ``base_url``, so credentials never
        go to another host. Without a ``Link`` header, ``X-WP-TotalPages``
        decides whether a next page exists. ``per_page`` is 1–100.
        """
        if not 1 <= per_page <= MAX_PER_PAGE:
            raise ValueError(f"per_page must be between 1 and {MAX_PER_PAGE}, got {per_page}")
        query = dict(params or {})
        query["per_page"] = per_page
        page = int(query.get("page") or 1)
        url = self.url(path, query)
        seen = set()
        while url:
            seen.add(url)
            response = self._send("GET", url)
            items = self._parse(response)
            if not isinstance(items, list):
                raise Transient(f"expected a list from GET {_safe(url)}, got {type(items).__name__}",
                             status=response.status_code)
            yield from items
            next_url = self._next_link(response)
            if next_url is None:
                total_pages = _int_header(response, "X-WP-TotalPages")
                if total_pages is not None and page < total_pages and items:
                    query["page"] = page + 1
                    next_url = self.url(path, query)
            page += 1
            url = next_url if next_url not in seen else None

    def _next_link(self, response: httpx.Response) -> str | None:
        link = response.links.get("next", {}).get("url")
        if not link:
            return None
        parts = urlsplit(link)
        pairs = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not k.startswith("oauth_")]
        scheme, netloc = self._origin
        query = _encode_query(pairs)
        return urlunsplit((scheme, netloc, parts.path, query, ""))

    # -- batches

    def batch(self, path: str, create: Iterable[dict] = (), update: Iterable[dict] = (),
              delete: Iterable[int | str] = (), *, partial: bool = False) -> dict[str, list]:
        """Run a batch in calls of at most 100 items in all (per WooCommerce REST docs; 101 answers 413, seen).

        ``path`` is the batch endpoint (``"products/batch"``,
        ``"products/35/variations/batch"``). Returns
        ``{"create": [...], "update": [...], "delete": [...]}``, each list in
        the order of the input, each entry the item's JSON or, for an item
        WooCommerce refused (``{"id", "error": {...}}``), the typed
        ``StoreError`` for that item.

        A whole call that fails raises, unless ``partial`` is true: then the
        error is recorded for every item of that call, and for store-wide
        failures (rate limit, transient, auth) also for the items not sent yet,
        which are not attempted.
        """
        ops = {
            "create": list(create),
            "update": list(update),
            "delete": [int(i) for i in delete],
        }
        if any(i <= 0 for i in ops["delete"]):
            raise ValueError("batch delete ids must be positive integers")  # WooCommerce skips id 0 silently
        results: dict[str, list] = {"create": [], "update": [], "delete": []}
        flat = [(op, item) for op in ("create", "update", "delete") for item in ops[op]]
        stop_error: StoreError | None = None
        for start in range(0, len(flat), MAX_BATCH_ITEMS):
            chunk = flat[start:start + MAX_BATCH_ITEMS]
            body: dict[str, list] = {}
            for op, item in chunk:
                body.setdefault(op, []).append(item)
            if stop_error is not None:
                for op, _item in chunk:
                    results[op].append(stop_error)
                continue
            try:
                answer = self.post(path, json=body)
                if not isinstance(answer, dict):
                    raise Transient(f"batch answer from {path} is not an object", status=None)
                for op, sent in body.items():
                    got = answer.get(op)
                    if not isinstance(got, list) or len(got) != len(sent):
                        raise Transient(f"batch answer from {path} has "
                                                f"{len(got) if isinstance(got, list) else 'no'} {op} results "
                                                f"for {len(sent)} items", status=None)
                for op, sent in body.items():
                    results[op].extend(self._batch_item(entry) for entry in answer[op])
            except StoreError as err:
                if not partial:
                    raise
                for op, _item in chunk:
                    results[op].append(err)
                if err.retryable or isinstance(err, AuthFailed):
                    stop_error = err
        return results

    @staticmethod
    def _batch_item(entry: Any) -> dict | StoreError:
        if not isinstance(entry, dict):
            return Transient(f"unreadable batch item: {entry!r}", status=None)
        error = entry.get("error")
        if not error:
            return entry
        if not isinstance(error, dict):
            error = {"message": str(error)}
        data = error.get("data") if isinstance(error.get("data"), dict) else {}
        try:
            status = int(data.get("status") or 400)
        except (TypeError, ValueError):
            status = 400
        err = error_from_answer(status, error)
        if entry.get("id"):
            err.details = {**err.details, "id": entry["id"]}
        return err


def _int_header(response: httpx.Response, name: str) -> int | None:
    try:
        return int(response.headers.get(name, ""))
    except ValueError:
        return None


def _safe(url: str) -> str:
    """The URL without its query string (which may hold ``oauth_*`` values) for error messages."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


# --------------------------------------------------------------------------- webhooks


#: What WooCommerce calls a webhook's state (``wc_get_webhook_statuses``, WooCommerce source); it disables one
#: that failed more than 5 deliveries in a row (``WC_Webhook::failed_delivery``).
WEBHOOK_STATUSES = ("active", "paused", "disabled")


class WebhookSubscriptions:
    """The store's webhooks (REST ``/wc/v3/webhooks``; WooCommerce REST API docs), for
    ``stores.webhook_registration``. Each is ``{"id": str, "topic", "address", "status"}``: ``address`` is the
    delivery URL, ``status`` one of ``WEBHOOK_STATUSES``. The secret is write-only: WooCommerce never shows it.
    """

    def list_webhooks(self) -> list[dict]:
        """Every webhook of the site, any status (``GET webhooks?status=all``, every page)."""
        return [_webhook(item) for item in self.client.paginate("webhooks", {"status": "all"})]

    def create_webhook(self, topic: str, address: str, *, secret: str, name: str = "") -> dict:
        """``POST webhooks`` an active webhook of ``topic`` (e.g. ``product.updated``) delivering to ``address``,
        signed with ``secret`` (``X-WC-Webhook-Signature``). WooCommerce pings ``address`` once on creation."""
        return _webhook(self.client.post("webhooks", json={
            "name": name or f"FlashFusion {topic}", "topic": topic, "delivery_url": address, "secret": secret,
            "status": "active"}))

    def update_webhook(self, webhook_id: str, *, secret: str | None = None, address: str | None = None) -> dict:
        """``PUT webhooks/<id>``: active again (which also resets its failure count), with a new ``secret`` and
        ``address`` when given."""
        body: dict[str, str] = {"status": "active"}
        if secret:
            body["secret"] = secret
        if address:
            body["delivery_url"] = address
        return _webhook(self.client.put(f"webhooks/{webhook_id}", json=body))

    def delete_webhook(self, webhook_id: str) -> None:
        """``DELETE webhooks/<id>?force=true`` (webhooks cannot be trashed); one already gone is no error."""
        try:
            self.client.delete(f"webhooks/{webhook_id}", params={"force": "true"})
        except NotFound:
            return


def _webhook(body: Any) -> dict:
    if not isinstance(body, dict) or body.get("id") in (None, ""):
        raise Transient("a webhook answer without an id", status=None)
    return {"id": str(body["id"]), "topic": str(body.get("topic") or ""),
            "address": str(body.get("delivery_url") or ""), "status": str(body.get("status") or "")}


# --------------------------------------------------------------------------- plugin

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


def _as_id(value: Any) -> int | None:
    try:
        number = int(str(value))
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


class WooCommercePlugin(WebhookSubscriptions, StorePlugin):
    """The WooCommerce connector (REST API v3).

    Writes are idempotent (DESIGN.md): a product whose SKU the store already
    holds is bound to that product and updated, never created twice. Results
    are one ``ItemResult`` per input, in input order. When a product was
    written but one of its variations failed, the result carries *both* the
    listing (so the binding can be saved) and the error.
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

    def fetch_product(self, external_id: str) -> dict:
        """The store's product ``external_id`` as it is now, texts as stored (``context=edit``).

        ``GET /products/<id>?context=edit`` (the view context runs
        ``wpautop`` on descriptions, so only ``edit`` compares with what we
        wrote; WooCommerce source). A variable product also gets its
        variations, every page, under ``"variations_detail"`` — the shape of
        ``RemoteListing.snapshot``. Raises ``NotFound`` when the product is
        gone (404) or the id is not a WooCommerce id.
        """
        pid = _as_id(external_id)
        if pid is None:
            raise NotFound(f"not a WooCommerce product id: {external_id!r}", status=None)
        product = self.client.get(f"products/{pid}", {"context": "edit"})
        if not isinstance(product, dict):
            raise Transient(f"GET products/{pid} did not answer an object", status=None)
        if product.get("type") == "variable":
            product["variations_detail"] = list(self.client.paginate(f"products/{pid}/variations",
                                                                     {"context": "edit"}))
        return product

    # ------------------------------------------------------------------ payload

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

    # ------------------------------------------------------------------ capability checks (no store call)

    @classmethod
    def refusals(cls, product: Product) -> list[Refusal]:
        """What WooCommerce cannot take of ``product`` as ``build_payload`` would send it (no store call).

        * ``undeclared_option`` (field ``variants.option_values``): a variation of a variable product with a
          value for an option the product does not declare. WooCommerce drops it without an error: its
          variations controller skips every attribute the parent lacks (``if ( ! isset(
          $parent_attributes[ $attribute_name ] ) … ) continue;`` in
          ``class-wc-rest-product-variations-controller.php``, names compared as ``sanitize_title`` slugs),
          so the store would hold a variation that is not the catalog's.
        * ``grouped_child_is_variant`` (``grouped_skus``): a grouped product naming the SKU of a variation.
          A group holds whole products; this connector looks children up among products only
          (``_ids_by_sku``), so such a child is never found and the write fails on every run.

        Not refused, though they look odd: a grouped product whose children are not in the store yet (they
        are created first in the same run, and a later run finds them); an external product without a URL
        (``WC_Product_External::set_product_url`` takes any string and the shop shows no buy button); a
        variation with no value for an option (WooCommerce's own "any …" value); a product without a SKU
        (variations are matched by SKU, else by position, and nothing else needs one).
        """
        from django.utils.text import slugify

        if product.kind == "variable":
            declared = {slugify(str(o.get("name", ""))) for o in product.options or []
                        if str(o.get("name", "")).strip()}
            undeclared: dict[str, list[str]] = {}
            for v in product.variants.all():
                for name in v.option_values or {}:
                    if slugify(str(name)) not in declared:
                        undeclared.setdefault(str(name), []).append(variant_label(v))
            return [Refusal("undeclared_option", "variants.option_values",
                            f"WooCommerce drops a variation's value for an option its product does not have: "
                            f"{few(labels)} {'has' if len(labels) == 1 else 'have'} a {name} value but the product "
                            f"has no {name} option; add {name} to the product's options, or remove it from "
                            f"{'that variant' if len(labels) == 1 else 'those variants'}.")
                    for name, labels in undeclared.items()]
        if product.kind == "grouped" and product.grouped_skus:
            from products.models import Product as CatalogProduct, Variant as CatalogVariant

            skus = [str(s) for s in product.grouped_skus if s]
            products = set(CatalogProduct.objects.live().filter(organization_id=product.organization_id, sku__in=skus)
                           .values_list("sku", flat=True))
            whole = set(CatalogVariant.objects.filter(
                organization_id=product.organization_id, sku__in=skus, product__deleted_at__isnull=True,
                product__kind__in=("simple", "external")).values_list("sku", flat=True))
            variations = CatalogVariant.objects.filter(
                organization_id=product.organization_id, sku__in=set(skus) - products - whole,
                product__deleted_at__isnull=True).values_list("sku", "product__sku", "product__title")
            return [Refusal("grouped_child_is_variant", "grouped_skus",
                            f"A WooCommerce group holds whole products, and {sku} is a variant of “{title}”: name "
                            f"{f'its product {parent}' if parent else 'its product'} in “Grouped products” "
                            "instead, or remove it.")
                    for sku, parent, title in sorted(variations)]
        return []

    # ------------------------------------------------------------------ create

    def create_listings(self, items: list[tuple[Product, dict]]) -> list[ItemResult]:
        """Create products (≤100 per batch call), binding on duplicate SKU; one result per item, in order.

        1. Batch-create the parents (all but grouped). An item refused with
           ``product_invalid_sku`` + ``data.resource_id`` (seen on 7.9.0: the
           SKU is taken, e.g. by an attempt that crashed before its listing was
           saved) is bound to that product — after checking it is a product,
           not a variation — and updated instead.
        2. Variable products: their variations through
           ``/products/{id}/variations/batch``; a bound product's existing
           variations are matched by SKU (or position) and updated, and a
           duplicate-SKU variation of the same parent is bound the same way.
        3. Grouped products last (so children created in step 1 are found):
           ``_grouped_skus`` → ids with ``GET /products?sku=a,b,…``; a child
           missing from the store makes the item ``Rejected``
           (``grouped_child_missing``) and nothing is written for it.

        ``RemoteListing.snapshot`` is the store's product JSON, with the
        variations' JSON under ``"variations_detail"`` for variable products;
        ``variant_ids`` maps ``variant_key(sku, position)`` to the variation id
        (variable) or the product id (simple, external: its one variant).
        """
        return self._create(list(items))

    def _create(self, items: list[tuple[Product, dict]]) -> list[ItemResult]:
        results: list[ItemResult | None] = [None] * len(items)
        plain = {i: _public(payload) for i, (_p, payload) in enumerate(items) if payload.get("type") != "grouped"}
        written, errors, bound = self._create_parents(plain)
        for i, err in errors.items():
            results[i] = ItemResult(items[i][0].pk, error=err)
        self._finish(items, written, results, known={}, fresh={i for i in written if i not in bound})

        grouped = [i for i, (_p, payload) in enumerate(items) if payload.get("type") == "grouped"]
        if grouped:
            bodies, missing = self._grouped_bodies({i: items[i][1] for i in grouped})
            for i, err in missing.items():
                results[i] = ItemResult(items[i][0].pk, error=err)
            written, errors, _bound = self._create_parents(bodies)
            for i, err in errors.items():
                results[i] = ItemResult(items[i][0].pk, error=err)
            self._finish(items, written, results, known={}, fresh=set())
        return [r if r is not None else ItemResult(items[i][0].pk, error=Transient(
            "no result for this item", status=None)) for i, r in enumerate(results)]

    def _create_parents(self, bodies: dict[int, dict]) -> tuple[dict[int, dict], dict[int, StoreError], set[int]]:
        """Batch-create ``bodies``; bind duplicate SKUs.

        Returns (product JSON by index, errors by index, indexes that were bound).
        """
        if not bodies:
            return {}, {}, set()
        order = list(bodies)
        answer = self.client.batch("products/batch", create=[bodies[i] for i in order], partial=True)["create"]
        written: dict[int, dict] = {}
        errors: dict[int, StoreError] = {}
        to_bind: dict[int, int] = {}
        for i, entry in zip(order, answer):
            if isinstance(entry, StoreError):
                owner = _duplicate_sku_owner(entry)
                if owner is None:
                    errors[i] = entry
                else:
                    to_bind[i] = owner
            else:
                written[i] = entry
        if to_bind:
            updates: dict[int, dict] = {}
            for i, owner in to_bind.items():
                try:
                    existing = self.client.get(f"products/{owner}")
                except StoreError as err:
                    errors[i] = err
                    continue
                if existing.get("type") == "variation" or existing.get("parent_id"):
                    errors[i] = Rejected(
                        f"product_invalid_sku: SKU {bodies[i].get('sku')!r} belongs to variation "
                                  f"{owner} of product {existing.get('parent_id')}",
                        status=400, code="product_invalid_sku", details={"resource_id": owner})
                    continue
                log.info("WooCommerce: SKU %r already on product %s; binding instead of creating",
                         bodies[i].get("sku"), owner)
                updates[i] = {**bodies[i], "id": owner}
            updated, update_errors = self._update_parents(updates)
            written.update(updated)
            errors.update(update_errors)
        return written, errors, set(to_bind)

    def _update_parents(self, bodies: dict[int, dict]) -> tuple[dict[int, dict], dict[int, StoreError]]:
        """Batch-update ``bodies`` (each with its ``id``). Returns (product JSON by index, errors by index)."""
        if not bodies:
            return {}, {}
        order = list(bodies)
        answer = self.client.batch("products/batch", update=[bodies[i] for i in order], partial=True)["update"]
        written, errors = {}, {}
        for i, entry in zip(order, answer):
            if isinstance(entry, StoreError):
                errors[i] = entry
            else:
                written[i] = entry
        return written, errors

    def _grouped_bodies(self, payloads: dict[int, dict]) -> tuple[dict[int, dict], dict[int, StoreError]]:
        """Bodies for grouped products with ``grouped_products`` ids resolved from ``_grouped_skus``."""
        wanted = sorted({sku for p in payloads.values() for sku in p.get("_grouped_skus", []) if sku})
        try:
            ids = self._ids_by_sku(wanted)
        except StoreError as err:
            return {}, {i: err for i in payloads}
        bodies, errors = {}, {}
        for i, payload in payloads.items():
            skus = [s for s in payload.get("_grouped_skus", []) if s]
            missing = [s for s in skus if s not in ids]
            if missing:
                errors[i] = Rejected(f"grouped_child_missing: children not in the store: {', '.join(missing)}",
                                   status=None, code="grouped_child_missing", field="grouped_products")
                continue
            bodies[i] = {**_public(payload), "grouped_products": [ids[s] for s in skus]}
        return bodies, errors

    def _ids_by_sku(self, skus: list[str]) -> dict[str, int]:
        """Store product ids (not variations) for ``skus``.

        ``GET /products?sku=a,b`` (the SKU filter takes a comma list and also
        matches variations: WooCommerce source), 50 SKUs per lookup.
        """
        found: dict[str, int] = {}
        for start in range(0, len(skus), SKU_LOOKUP_CHUNK):
            chunk = skus[start:start + SKU_LOOKUP_CHUNK]
            for item in self.client.paginate("products", {"sku": ",".join(chunk)}):
                if item.get("type") == "variation" or item.get("parent_id"):
                    continue
                sku = item.get("sku")
                if sku in chunk and sku not in found:
                    found[sku] = int(item["id"])
        return found

    # ------------------------------------------------------------------ variations + results

    def _finish(self, items, written: dict[int, dict], results: list, *, known: dict[int, dict],
                fresh: set[int]) -> None:
        """Write variations of the variable products in ``written`` and fill ``results``."""
        variable = [i for i in written if items[i][1].get("type") == "variable"]
        variations: dict[int, list[tuple[str, dict]]] = {}
        var_errors: dict[int, StoreError] = {}
        for i in variable:
            pid = int(written[i]["id"])
            bodies = items[i][1].get("_variations", [])
            try:
                jsons, err = self._sync_variations(pid, bodies, known=known.get(i, {}), fresh=i in fresh)
            except StoreError as exc:
                jsons, err = [], exc
            variations[i] = jsons
            if err is not None:
                var_errors[i] = err
        if variable:
            try:
                refreshed = self._fetch_products([int(written[i]["id"]) for i in variable])
            except StoreError:
                refreshed = {}
            for i in variable:
                written[i] = refreshed.get(int(written[i]["id"]), written[i])

        for i, product_json in written.items():
            product = items[i][0]
            pid = str(product_json["id"])
            snapshot = dict(product_json)
            if i in variations:
                snapshot["variations_detail"] = [v for _key, v in variations[i]]
                variant_ids = {key: str(v["id"]) for key, v in variations[i] if v.get("id")}
            else:
                variant_ids = self._single_variant_ids(product, pid) if items[i][1].get("type") != "grouped" else {}
            listing = RemoteListing(external_id=pid, variant_ids=variant_ids, snapshot=snapshot)
            results[i] = ItemResult(product.pk, listing=listing, error=var_errors.get(i))

    @staticmethod
    def _single_variant_ids(product: Product, pid: str) -> dict[str, str]:
        first = next(iter(product.variants.all()), None)
        if first is None:
            return {}
        return {variant_key(first.sku, first.position): pid}

    def _sync_variations(self, pid: int, bodies: list[dict], *, known: dict[str, str],
                         fresh: bool) -> tuple[list[tuple[str, dict]], StoreError | None]:
        """Make product ``pid``'s variations match ``bodies``.

        Returns ``[(variant key, variation JSON)]`` for the bodies written, in
        body order, and the first error (None when all went through).

        Matching: the id recorded in ``known`` (``listing.variant_ids``) when
        that variation still exists, else an existing variation with the same
        key (SKU, or ``#position`` = ``menu_order`` when the SKU is blank).
        Unmatched bodies are created; variations recorded in ``known`` that no
        body matches any more are deleted. Variations we never recorded are
        left alone. A created variation refused for a duplicate SKU held by
        another variation of this same product is bound and updated.
        """
        known = {str(k): str(v) for k, v in (known or {}).items()}
        existing = [] if fresh else list(self.client.paginate(f"products/{pid}/variations"))
        by_id = {str(v["id"]): v for v in existing}
        by_key: dict[str, dict] = {}
        for v in existing:
            by_key.setdefault(_variation_key(v), v)
        matched: set[str] = set()
        creates: list[tuple[int, dict]] = []
        updates: list[tuple[int, dict]] = []
        for index, body in enumerate(bodies):
            key = _variation_key(body)
            vid = known.get(key)
            if vid not in by_id or vid in matched:
                candidate = by_key.get(key)
                vid = str(candidate["id"]) if candidate and str(candidate["id"]) not in matched else None
            if vid:
                matched.add(vid)
                updates.append((index, {**body, "id": int(vid)}))
            else:
                creates.append((index, body))
        deletes = sorted({int(v) for v in known.values() if v in by_id and v not in matched})

        path = f"products/{pid}/variations/batch"
        answer = self.client.batch(path, create=[b for _i, b in creates], update=[b for _i, b in updates],
                                   delete=deletes, partial=True)
        out: dict[int, dict] = {}
        first_error: StoreError | None = None
        rebind: list[tuple[int, dict, int]] = []
        for (index, body), entry in zip(creates, answer["create"]):
            if isinstance(entry, StoreError):
                owner = _duplicate_sku_owner(entry)
                if owner is not None:
                    rebind.append((index, body, owner))
                else:
                    first_error = first_error or _variation_error(entry, body)
            else:
                out[index] = entry
        for (index, body), entry in zip(updates, answer["update"]):
            if isinstance(entry, StoreError):
                first_error = first_error or _variation_error(entry, body)
            else:
                out[index] = entry
        for entry in answer["delete"]:
            if isinstance(entry, StoreError) and not _is_gone(entry):
                first_error = first_error or entry

        if rebind:
            siblings = {str(v["id"]) for v in self.client.paginate(f"products/{pid}/variations")}
            again = []
            for index, body, owner in rebind:
                if str(owner) in siblings and str(owner) not in matched:
                    matched.add(str(owner))
                    again.append((index, {**body, "id": owner}))
                else:
                    first_error = first_error or Rejected(
                        f"product_invalid_sku: variation SKU {body.get('sku')!r} is used by "
                                  f"another product ({owner})", status=400, code="product_invalid_sku",
                        details={"resource_id": owner}, field="sku")
            if again:
                redo = self.client.batch(path, update=[b for _i, b in again], partial=True)["update"]
                for (index, body), entry in zip(again, redo):
                    if isinstance(entry, StoreError):
                        first_error = first_error or _variation_error(entry, body)
                    else:
                        out[index] = entry
        return [(_variation_key(bodies[i]), out[i]) for i in sorted(out)], first_error

    def _fetch_products(self, ids: list[int]) -> dict[int, dict]:
        """Current product JSON for ``ids`` (``GET /products?include=…``, 100 per page)."""
        found: dict[int, dict] = {}
        unique = sorted(set(ids))
        for start in range(0, len(unique), MAX_PER_PAGE):
            chunk = unique[start:start + MAX_PER_PAGE]
            for item in self.client.paginate("products", {"include": chunk}):
                found[int(item["id"])] = item
        return found

    # ------------------------------------------------------------------ update

    def update_listings(self, items: list[tuple[Listing, Product, dict]]) -> list[ItemResult]:
        """Write new content to existing listings (batch update by ``listing.external_id``).

        Variable products: variations recorded in ``listing.variant_ids`` are
        updated, new ones created, recorded ones no longer in the catalog
        deleted (see ``_sync_variations``). A product that stopped being
        variable has its recorded variations deleted. A product gone from the
        store (404, or ``woocommerce_rest_product_invalid_id`` inside a batch —
        WooCommerce source) or a listing without an external id is re-created
        through the create path, so duplicate-SKU binding still applies.
        """
        items = list(items)
        results: list[ItemResult | None] = [None] * len(items)
        pairs = [(product, payload) for _listing, product, payload in items]
        gone: list[int] = []

        def run(indexes: list[int], bodies: dict[int, dict]) -> None:
            updates = {}
            for i in indexes:
                if i not in bodies:
                    continue
                pid = _as_id(items[i][0].external_id)
                if pid is None:
                    gone.append(i)
                else:
                    updates[i] = {**bodies[i], "id": pid}
            written, errors = self._update_parents(updates)
            for i, err in errors.items():
                if _is_gone(err):
                    gone.append(i)
                else:
                    results[i] = ItemResult(items[i][1].pk, error=err)
            known = {i: dict(items[i][0].variant_ids or {}) for i in written}
            self._finish(pairs, written, results, known=known, fresh=set())
            for i in written:
                if pairs[i][1].get("type") != "variable":
                    self._drop_stale_variations(items[i][0], written[i])

        plain = [i for i, (_p, payload) in enumerate(pairs) if payload.get("type") != "grouped"]
        run(plain, {i: _public(pairs[i][1]) for i in plain})
        recreate_plain = [i for i in gone if i in set(plain)]
        self._recreate(pairs, recreate_plain, results)

        grouped = [i for i, (_p, payload) in enumerate(pairs) if payload.get("type") == "grouped"]
        if grouped:
            gone.clear()
            bodies, missing = self._grouped_bodies({i: pairs[i][1] for i in grouped})
            for i, err in missing.items():
                results[i] = ItemResult(pairs[i][0].pk, error=err)
            run(grouped, bodies)
            self._recreate(pairs, list(gone), results)
        return [r if r is not None else ItemResult(pairs[i][0].pk, error=Transient(
            "no result for this item", status=None)) for i, r in enumerate(results)]

    def _recreate(self, pairs, indexes: list[int], results: list) -> None:
        if not indexes:
            return
        log.info("WooCommerce: %d listing(s) gone from the store; re-creating", len(indexes))
        for i, result in zip(indexes, self._create([pairs[i] for i in indexes])):
            results[i] = result

    def _drop_stale_variations(self, listing: Listing, product_json: dict) -> None:
        """Delete the variations recorded for a product that is no longer variable.

        Best effort: WooCommerce ignores the children of a non-variable product
        (they are not shown or sold), so a failure here is logged, not reported
        as the item's error.
        """
        pid = str(product_json["id"])
        stale = sorted({int(v) for v in (listing.variant_ids or {}).values() if _as_id(v) and str(v) != pid})
        if not stale:
            return
        try:
            answer = self.client.batch(f"products/{pid}/variations/batch", delete=stale, partial=True)["delete"]
        except StoreError as err:
            answer = [err]
        for entry in answer:
            if isinstance(entry, StoreError) and not _is_gone(entry):
                log.warning("WooCommerce: could not delete old variations of product %s: %s", pid, entry)
                break

    # ------------------------------------------------------------------ prices and stock alone

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

    # ------------------------------------------------------------------ delete

    def delete_listings(self, listings: list[Listing]) -> list[ItemResult]:
        """Delete products permanently (batch ``delete`` forces, WooCommerce source); one already gone is a success.

        A listing without an external id (its create crashed before the
        binding was saved) is looked up by the product's SKU; when the store
        has no such product there is nothing to delete and the item succeeds.
        Deleting a variable product deletes its variations (WooCommerce).
        """
        listings = list(listings)
        results: list[ItemResult | None] = [None] * len(listings)
        targets: dict[int, int] = {}
        by_sku: dict[int, str] = {}
        for i, listing in enumerate(listings):
            pid = _as_id(listing.external_id)
            if pid is not None:
                targets[i] = pid
            else:
                sku = listing.product.sku if listing.product_id else ""
                if sku:
                    by_sku[i] = sku
                else:
                    results[i] = ItemResult(listing.product_id)
        if by_sku:
            try:
                ids = self._ids_by_sku(sorted(set(by_sku.values())))
            except StoreError as err:
                ids = None
                for i in by_sku:
                    results[i] = ItemResult(listings[i].product_id, error=err)
            if ids is not None:
                for i, sku in by_sku.items():
                    if sku in ids:
                        targets[i] = ids[sku]
                    else:
                        results[i] = ItemResult(listings[i].product_id)

        unique = sorted(set(targets.values()))
        outcome: dict[int, StoreError | None] = {}
        if unique:
            answer = self.client.batch("products/batch", delete=unique, partial=True)["delete"]
            for pid, entry in zip(unique, answer):
                outcome[pid] = entry if isinstance(entry, StoreError) and not _is_gone(entry) else None
        for i, pid in targets.items():
            results[i] = ItemResult(listings[i].product_id, error=outcome.get(pid))
        return [r if r is not None else ItemResult(listings[i].product_id) for i, r in enumerate(results)]


def _variation_error(err: StoreError, body: dict) -> StoreError:
    """The variation's error, its message naming the variation's SKU."""
    label = body.get("sku") or f"#{body.get('menu_order')}"
    # The same type with every attribute (a CircuitOpen's retry_after and until, a RateLimited's
    # retry_after), without calling a constructor: errors with their own signature refuse the common one.
    message = f"variation {label}: {err.message}"
    new = type(err).__new__(type(err), message)
    new.__dict__.update(err.__dict__)
    new.message = message
    return new
