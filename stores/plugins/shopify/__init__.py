"""Shopify Admin API connector: a typed client on httpx (GraphQL first, REST where cheap) and the store plugin.

Facts this module relies on, with their source (see /work/shared/PLATFORMS.md):

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

import base64
import copy
import hashlib
import hmac
import json as jsonlib
import logging
import math
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from importlib import import_module
from importlib.util import find_spec
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from stores.plugins import (
    AuthFailed,
    CallGate,
    Capability,
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

API_VERSION = "2025-07"
USER_AGENT = "FlashFusion-Shopify/1.0 (+httpx)"

PRODUCT_GID = "gid://shopify/Product/"
VARIANT_GID = "gid://shopify/ProductVariant/"
LOCATION_GID = "gid://shopify/Location/"

#: Cost of a mutation field, before its selection (shopify.dev, GraphQL cost calculation: "mutations: 10").
MUTATION_COST = 10
#: Most nodes one connection page may ask for (shopify.dev pagination: ``first`` ≤ 250).
MAX_PAGE = 250
#: Most objects one GraphQL input array may hold (shopify.dev changelog, "GraphQL input objects limited to 250 items").
MAX_INPUT_ITEMS = 250
#: Variant fields a price or stock update writes alone (``ShopifyPlugin.split_payload``).
VARIANT_OFFER_FIELDS = ("price", "compareAtPrice", "inventoryQuantities")
#: Shopify's "no options" marker: one option "Title" whose one value is "Default Title" (Shopify product CSV docs).
DEFAULT_OPTION = ("Title", "Default Title")

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

STATUS_MAP = {"active": "ACTIVE", "draft": "DRAFT", "archived": "ARCHIVED"}

#: Codes/messages that say the product (or variant) is not in the store.
GONE_CODES = {"PRODUCT_DOES_NOT_EXIST", "NOT_FOUND"}
_GONE_MESSAGE = re.compile(r"does not exist|doesn't exist|not found|could not be found|couldn't find", re.I)


# --------------------------------------------------------------------------- ids


def product_gid(value: Any) -> str:
    """``gid://shopify/Product/<n>`` for a GID or a numeric REST id; ``""`` for blank."""
    text = str(value or "").strip()
    if not text:
        return ""
    return text if text.startswith("gid://") else f"{PRODUCT_GID}{text}"


def numeric_id(gid: Any) -> int | None:
    """The REST id inside a GID (``gid://shopify/Product/123`` → 123), or the number itself; None when absent."""
    text = str(gid or "").strip().split("?", 1)[0]
    tail = text.rsplit("/", 1)[-1]
    try:
        number = int(tail)
    except ValueError:
        return None
    return number if number > 0 else None


# --------------------------------------------------------------------------- errors






def parse_call_limit(value: str | None) -> tuple[float, float] | None:
    """``X-Shopify-Shop-Api-Call-Limit: 32/40`` → ``(32.0, 40.0)`` (calls used, bucket size); None when absent."""
    if not value or "/" not in value:
        return None
    used, _, size = value.partition("/")
    try:
        return float(used), float(size)
    except ValueError:
        return None


def throttle_wait(cost: dict | None, needed: float | None = None) -> float | None:
    """Seconds until the GraphQL bucket holds ``needed`` points, from ``extensions.cost``.

    ``(needed − currentlyAvailable) / restoreRate``, where ``needed`` is
    ``requestedQueryCost`` (else the caller's estimate). At least 0.1 s, so a
    retry never races the refill; None when the answer had no throttle status.
    """
    if not isinstance(cost, dict):
        return None
    status = cost.get("throttleStatus") if isinstance(cost.get("throttleStatus"), dict) else {}
    try:
        available = float(status["currentlyAvailable"])
        restore = float(status["restoreRate"])
    except (KeyError, TypeError, ValueError):
        return None
    requested = cost.get("requestedQueryCost")
    try:
        want = float(requested) if requested is not None else float(needed if needed is not None else 1.0)
    except (TypeError, ValueError):
        want = float(needed or 1.0)
    if restore <= 0:
        return None
    return max(0.1, round((want - available) / restore, 2))


def _available(cost: dict | None) -> float | None:
    try:
        return float(cost["throttleStatus"]["currentlyAvailable"])  # type: ignore[index]
    except (KeyError, TypeError, ValueError):
        return None


def _field_path(path: Any) -> str | None:
    """``["variants", "0", "price"]`` → ``"variants.0.price"``; the ``input.`` prefix Shopify sometimes adds is kept."""
    if isinstance(path, (list, tuple)) and path:
        return ".".join(str(p) for p in path)
    if isinstance(path, str) and path:
        return path
    return None


def user_errors_error(operation: str, errors: list[dict]) -> Rejected:
    """``Rejected`` for a mutation's ``userErrors`` (first error names the field and code; all kept in ``details``)."""
    first = errors[0] if isinstance(errors[0], dict) else {"message": str(errors[0])}
    field = _field_path(first.get("field"))
    code = str(first.get("code") or "")
    parts = []
    for e in errors:
        if not isinstance(e, dict):
            parts.append(str(e))
            continue
        where = _field_path(e.get("field"))
        parts.append(f"{e.get('message') or 'invalid'}" + (f" [{where}]" if where else ""))
    text = f"{operation}: " + "; ".join(parts)
    if code:
        text = f"{code}: {text}"
    return Rejected(text, status=200, code=code, details={"userErrors": errors}, field=field)


_AT_PATH = re.compile(r"\bat '([\w.\[\]]+)'")


def graphql_errors_error(errors: list, cost: dict | None, estimated: float, status: int = 200) -> StoreError:
    """The typed error for top-level GraphQL ``errors``.

    ``THROTTLED`` (or the bare message "Throttled" of older answers) →
    ``RateLimited`` with ``retry_after`` from ``throttle_wait``;
    ``ACCESS_DENIED`` (a missing access scope: an admin must fix the app) →
    ``AuthFailed``; ``INTERNAL_SERVER_ERROR`` → ``Transient``; anything else
    (syntax, unknown field, bad variable, ``MAX_COST_EXCEEDED``) → ``Rejected``
    naming the variable path when Shopify gave one.
    """
    items = [e if isinstance(e, dict) else {"message": str(e)} for e in errors] or [{"message": "unknown error"}]
    codes = [str((e.get("extensions") or {}).get("code") or "") for e in items]
    messages = [str(e.get("message") or "") for e in items]
    text = "; ".join(m for m in messages if m) or "GraphQL error"
    if "THROTTLED" in codes or any(m.strip().lower() == "throttled" for m in messages):
        wait = throttle_wait(cost, estimated)
        return RateLimited(f"THROTTLED: {text}" + (f" (retry in {wait:g}s)" if wait is not None else ""),
                      status=status, code="THROTTLED", details={"errors": items, "cost": cost}, retry_after=wait)
    code = next((c for c in codes if c), "")
    if code == "ACCESS_DENIED":
        return AuthFailed(f"ACCESS_DENIED: {text}", status=status, code=code, details={"errors": items})
    if code in ("INTERNAL_SERVER_ERROR", "SERVICE_UNAVAILABLE"):
        return Transient(f"{code}: {text}", status=status, code=code, details={"errors": items})
    field = None
    for e in items:
        problems = (e.get("extensions") or {}).get("problems")
        if isinstance(problems, list) and problems and isinstance(problems[0], dict):
            field = _field_path(problems[0].get("path"))
        if not field:  # graphql-core style: "Variable '$input' got invalid value … at 'input.variants[0].price'"
            where = _AT_PATH.search(str(e.get("message") or ""))
            field = re.sub(r"\[(\d+)\]", r".\1", where.group(1)) if where else None
        if field:
            break
    return Rejected(f"{code}: {text}" if code else text, status=status, code=code or "graphql_error",
                  details={"errors": items}, field=field)


def http_error(status: int, body: Any, *, retry_after: float | None = None, fallback: str = "") -> StoreError:
    """The typed error for an HTTP error answer (GraphQL or REST endpoint).

    401/403 → ``AuthFailed``; 404 → ``NotFound``; 429 → ``RateLimited``;
    408 and 5xx → ``Transient``; any other 4xx → ``Rejected`` (402 Payment
    Required = frozen shop, 423 Locked = locked shop included). Shopify's REST
    bodies are ``{"errors": "text"}`` or ``{"errors": {"field": ["msg"]}}``;
    the first field named becomes ``field``.
    """
    field = None
    message = ""
    code = ""
    details: Any = {}
    if isinstance(body, dict):
        details = body
        errs = body.get("errors", body.get("error"))
        if isinstance(errs, str):
            message = errs
        elif isinstance(errs, dict) and errs:
            field = str(next(iter(errs)))
            parts = []
            for name, value in errs.items():
                values = value if isinstance(value, list) else [value]
                parts.append(f"{name} {', '.join(str(v) for v in values)}")
            message = "; ".join(parts)
        elif isinstance(errs, list) and errs:
            message = "; ".join(str(e.get("message") if isinstance(e, dict) else e) for e in errs)
    message = message or fallback or f"HTTP {status}"
    if status == 429:
        return RateLimited(message, status=status, code="429", details=details, field=field,
                      retry_after=retry_after)
    if status in (401, 403):
        return AuthFailed(message, status=status, code=str(status), details=details, field=field)
    if status == 404:
        return NotFound(message, status=status, code="404", details=details, field=field)
    if status == 408 or status >= 500:
        return Transient(message, status=status, code=str(status), details=details, field=field)
    if 300 <= status < 400:
        code = "redirect"
    return Rejected(message, status=status, code=code or str(status), details=details, field=field)


def _is_gone(err: StoreError) -> bool:
    """True when the error says the product is not in the store.

    404; a ``productSet`` userError coded ``PRODUCT_DOES_NOT_EXIST`` /
    ``NOT_FOUND``; or, for ``productDelete`` whose ``UserError`` has no code,
    userErrors whose every message says so ("Product does not exist").
    """
    if isinstance(err, NotFound):
        return True
    if not isinstance(err, Rejected):
        return False
    if err.code in GONE_CODES:
        return True
    details = getattr(err, "details", None)
    errors = details.get("userErrors") if isinstance(details, dict) else None
    if err.code or not errors:
        return False
    return all(isinstance(e, dict) and _GONE_MESSAGE.search(str(e.get("message") or "")) for e in errors)


def _not_stocked(err: StoreError) -> bool:
    """True when a write was refused because an item is not stocked at the location it named
    (``inventorySetQuantities``: ``ITEM_NOT_STOCKED_AT_LOCATION``; ``productSet`` on an existing variant: a
    userError saying so — the docs give no code, so the message decides)."""
    return isinstance(err, Rejected) and (err.code == "ITEM_NOT_STOCKED_AT_LOCATION"
                                          or re.search(r"not stocked", str(err), re.I) is not None)


def note_stock(snapshot: dict, location_id: str, quantities: dict[str, int]) -> None:
    """Record in a listing snapshot the ``available`` units a write just set at ``location_id``.

    ``quantities``: variant GID → units. Each such variant node gets ``inventoryItem.inventoryLevel =
    {"quantities": [{"name": "available", "quantity": n}]}`` and the snapshot ``_stockLocation =
    location_id`` — the shape ``fetch_product`` answers — so the Pull agent compares the stock at our
    location with the stock at our location (``inventoryQuantity`` is the total over every location, and
    asking for the level in every write's read-back would cost 2 points a variant on every publish). Call
    it after any write that sets stock (``productSet``, ``inventorySetQuantities``).
    """
    if not quantities:
        return
    for node in (snapshot.get("variants") or {}).get("nodes") or []:
        quantity = quantities.get(str(node.get("id")))
        if quantity is None:
            continue
        item = node.get("inventoryItem")
        if not isinstance(item, dict):
            item = node["inventoryItem"] = {}
        item["inventoryLevel"] = {"quantities": [{"name": "available", "quantity": int(quantity)}]}
    snapshot["_stockLocation"] = location_id


# --------------------------------------------------------------------------- client


def estimate_cost(query: str, variables: dict | None = None) -> float:
    """A rough requested-cost estimate (points) for ``query``, used only to wait for room before sending.

    Mutations cost 10 plus 1; a query costs 1 plus, for each connection asked
    with ``first: N`` (a literal or a variable), 2 + N (shopify.dev cost
    calculation: objects 1, connections 2 + page size). The gate corrects
    itself from ``throttleStatus`` after every answer, so a rough number is
    enough; callers in this module pass exact-enough costs themselves.
    """
    text = query.lstrip()
    base = MUTATION_COST + 1 if text.startswith("mutation") else 1
    total = float(base)
    for match in re.finditer(r"first\s*:\s*(\$?\w+)", query):
        token = match.group(1)
        if token.startswith("$"):
            value = (variables or {}).get(token[1:])
        else:
            value = token
        try:
            total += 2 + min(int(value), MAX_PAGE)
        except (TypeError, ValueError):
            total += 2 + 50
    return total


@dataclass
class RestAnswer:
    """One REST answer: parsed JSON ``data``; ``next_url``/``previous_url`` from ``Link`` (as given);
    ``call_limit`` = (used, size) from ``X-Shopify-Shop-Api-Call-Limit``; ``status`` the HTTP status."""

    data: Any
    status: int
    next_url: str | None = None
    previous_url: str | None = None
    call_limit: tuple[float, float] | None = None
    headers: dict = field(default_factory=dict)


class ShopifyClient:
    """A small typed layer over ``httpx.Client`` for one shop's Admin API.

    ``base_url`` is the shop's address (``https://acme.myshopify.com``, or an
    emulator's ``http://127.0.0.1:PORT``); ``access_token`` the Admin API
    access token (``shpat_…``); ``api_version`` the ``YYYY-MM`` in every URL;
    ``timeout`` seconds for connect, read, write and pool; ``gate`` the
    store's ``CallGate`` (rate limiter + circuit breaker), ``OpenGate`` when
    None; ``transport`` replaces the network (tests).

    Every request goes through ``gate.before_call(cost)`` and exactly one
    ``gate.after_call(...)``: GraphQL reports ``available`` =
    ``throttleStatus.currentlyAvailable`` (and ``retry_after`` when
    throttled); REST reports ``used``/``size`` from
    ``X-Shopify-Shop-Api-Call-Limit`` (and ``retry_after`` from a 429).
    Methods raise only ``StoreError`` subclasses. Redirects are not followed
    (the token must not travel to another host): a 3xx is ``Rejected`` with
    code ``redirect``.
    """

    def __init__(self, base_url: str, access_token: str, *, api_version: str = API_VERSION, timeout: float = 20.0,
                 gate: CallGate | None = None, transport: httpx.BaseTransport | None = None):
        parts = urlsplit((base_url or "").strip())
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"Shopify base_url must be an http(s) shop address, got {base_url!r}")
        if not re.fullmatch(r"\d{4}-\d{2}|unstable", api_version):
            raise ValueError(f"Shopify api_version must look like 2025-07, got {api_version!r}")
        self.base_url = urlunsplit((scheme, parts.netloc, parts.path.rstrip("/"), "", ""))
        self._origin = (scheme, parts.netloc.lower())
        self.api_version = api_version
        self.api_root = f"{self.base_url}/admin/api/{api_version}/"
        self.graphql_url = self.api_root + "graphql.json"
        self.timeout = float(timeout)
        self.gate: CallGate = gate if gate is not None else OpenGate()
        #: ``extensions.cost`` of the last GraphQL answer (None before the first).
        self.last_cost: dict | None = None
        #: ``(used, size)`` of the last REST answer's call-limit header.
        self.last_call_limit: tuple[float, float] | None = None
        self._http = httpx.Client(
            timeout=httpx.Timeout(self.timeout),
            transport=transport,
            follow_redirects=False,
            headers={
                "X-Shopify-Access-Token": access_token,
                "Accept": "application/json",
                "User-Agent": USER_AGENT,
            },
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ShopifyClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- plumbing

    def _send(self, method: str, url: str, *, json: Any = None, params: dict | None = None) -> httpx.Response:
        kwargs: dict[str, Any] = {}
        if json is not None:
            kwargs["content"] = jsonlib.dumps(json, separators=(",", ":"), default=str).encode()
            kwargs["headers"] = {"Content-Type": "application/json"}
        if params:
            kwargs["params"] = {k: v for k, v in params.items() if v is not None}
        try:
            return self._http.request(method, url, **kwargs)
        except httpx.TimeoutException as exc:
            raise Transient(f"timed out after {self.timeout:g}s: {method} {_safe(url)} ({type(exc).__name__})",
                         status=None, code="timeout") from exc
        except httpx.RequestError as exc:
            raise Transient(f"network error: {method} {_safe(url)}: {type(exc).__name__}: {exc}",
                         status=None, code="network") from exc

    @staticmethod
    def _json(response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError as exc:
            snippet = response.text[:200].strip()
            raise Transient(f"unreadable answer (not JSON) from {response.request.method} "
                                    f"{_safe(str(response.request.url))}: {snippet!r}",
                         status=response.status_code, code="bad_json") from exc

    @staticmethod
    def _body_or_none(response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            return None

    def _fallback(self, response: httpx.Response) -> str:
        text = f"HTTP {response.status_code} {response.reason_phrase}".strip()
        if 300 <= response.status_code < 400:
            location = response.headers.get("Location", "")
            return f"{text}: the shop redirects to {location or 'elsewhere'}; set the store URL to the shop's " \
                   "myshopify.com address"
        snippet = response.text[:200].strip()
        return f"{text}: {snippet}" if snippet and not snippet.startswith("{") else text

    # -- GraphQL

    def graphql(self, query: str, variables: dict | None = None, *, cost: float | None = None) -> dict:
        """Run one GraphQL document; returns its ``data`` object.

        ``cost`` is the estimated requested cost in points, passed to
        ``gate.before_call`` (``estimate_cost`` when None). Raises
        ``RateLimited`` for HTTP 429 or ``THROTTLED`` (``retry_after`` =
        (needed − currentlyAvailable) / restoreRate seconds), ``AuthFailed``
        for 401/403 or ``ACCESS_DENIED``, ``NotFound`` for 404, ``Transient``
        for 5xx, timeouts, network errors and unreadable bodies, ``Rejected``
        for other GraphQL errors and for a mutation whose payload has
        non-empty ``userErrors`` (``field`` = the dotted input path, ``code``
        = Shopify's error code when the type has one).
        """
        estimated = float(cost) if cost is not None else estimate_cost(query, variables)
        self.gate.before_call(estimated)
        body_cost: dict | None = None
        retry_after: float | None = None
        try:
            response = self._send("POST", self.graphql_url, json={"query": query, "variables": variables or {}})
            if response.status_code >= 300:
                body = self._body_or_none(response)
                body_cost = _cost_of(body)
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                if response.status_code == 429 and retry_after is None:
                    retry_after = throttle_wait(body_cost, estimated)
                raise http_error(response.status_code, body, retry_after=retry_after,
                                 fallback=self._fallback(response))
            body = self._json(response)
            if not isinstance(body, dict):
                raise Transient(f"GraphQL answer is not an object: {type(body).__name__}",
                             status=response.status_code, code="bad_json")
            body_cost = _cost_of(body)
            self.last_cost = body_cost
            if body.get("errors"):
                errors = body["errors"] if isinstance(body["errors"], list) else [body["errors"]]
                raise graphql_errors_error(errors, body_cost, estimated, status=response.status_code)
            data = body.get("data")
            if not isinstance(data, dict):
                raise Transient("GraphQL answer has no data", status=response.status_code, code="no_data")
        except StoreError as err:
            # a Retry-After on any error answer (a 503 too) holds the store's calls back, not only a 429's
            self.gate.after_call(error=err, available=_available(body_cost),
                                 retry_after=getattr(err, "retry_after", None) or retry_after)
            raise
        # The call itself went through: the gate hears success even when the mutation reports userErrors.
        self.gate.after_call(available=_available(body_cost))
        for name, payload in data.items():
            if isinstance(payload, dict) and payload.get("userErrors"):
                raise user_errors_error(name, payload["userErrors"])
        return data

    # -- REST

    def rest_url(self, path: str) -> str:
        """Absolute REST URL: ``"products"`` or ``"products/1.json"`` → ``{api_root}products.json`` / ``…/1.json``."""
        path = path.lstrip("/")
        if not path.endswith(".json"):
            path += ".json"
        return self.api_root + path

    def rest(self, method: str, path: str, *, params: dict | None = None, json: Any = None) -> RestAnswer:
        """One REST call. ``path`` is relative to the API root (``"products"``,
        ``"inventory_levels/set"``) or an absolute URL of this shop (a ``Link``
        URL, used exactly as given). Costs 1 call in the gate; reports
        ``used``/``size`` from ``X-Shopify-Shop-Api-Call-Limit``.

        A ``Link`` URL on another host is refused (``Rejected``, code
        ``foreign_link``) so the access token never leaves the shop.
        """
        method = method.upper()
        if path.startswith(("http://", "https://")):
            parts = urlsplit(path)
            if (parts.scheme.lower(), parts.netloc.lower()) != self._origin:
                raise Rejected(f"refusing to send the access token to {parts.netloc}", status=None,
                             code="foreign_link")
            url = path
        else:
            url = self.rest_url(path)
        self.gate.before_call(1.0)
        limit = None
        retry_after: float | None = None
        try:
            response = self._send(method, url, json=json, params=params)
            limit = parse_call_limit(response.headers.get("X-Shopify-Shop-Api-Call-Limit"))
            if limit is not None:
                self.last_call_limit = limit
            if response.status_code >= 300:
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                raise http_error(response.status_code, self._body_or_none(response), retry_after=retry_after,
                                 fallback=self._fallback(response))
            data = self._json(response) if response.content.strip() else {}
        except StoreError as err:
            self.gate.after_call(error=err, used=limit[0] if limit else None, size=limit[1] if limit else None,
                                 retry_after=getattr(err, "retry_after", None) or retry_after)
            raise
        self.gate.after_call(used=limit[0] if limit else None, size=limit[1] if limit else None)
        links = response.links
        return RestAnswer(
            data=data,
            status=response.status_code,
            next_url=(links.get("next") or {}).get("url"),
            previous_url=(links.get("previous") or {}).get("url"),
            call_limit=limit,
            headers=dict(response.headers),
        )

    def rest_pages(self, path: str, key: str, params: dict | None = None, *, limit: int = 250) -> Iterator[dict]:
        """Yield every item of a REST collection (``key`` = ``"products"``), following ``rel="next"`` exactly as given.

        ``limit`` is 1–250 (shopify.dev REST pagination). The first request
        carries ``params`` + ``limit``; later ones are the ``Link`` URLs
        unchanged (``page_info`` cursors refuse other parameters).
        """
        if not 1 <= limit <= MAX_PAGE:
            raise ValueError(f"limit must be between 1 and {MAX_PAGE}, got {limit}")
        answer = self.rest("GET", path, params={**(params or {}), "limit": limit})
        seen: set[str] = set()
        while True:
            items = answer.data.get(key) if isinstance(answer.data, dict) else None
            if not isinstance(items, list):
                raise Transient(f"expected a list under {key!r} from GET {path}", status=answer.status,
                             code="bad_shape")
            yield from items
            if not answer.next_url or answer.next_url in seen:
                return
            seen.add(answer.next_url)
            answer = self.rest("GET", answer.next_url)


def _cost_of(body: Any) -> dict | None:
    if isinstance(body, dict) and isinstance(body.get("extensions"), dict):
        cost = body["extensions"].get("cost")
        return cost if isinstance(cost, dict) else None
    return None


def _safe(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


# --------------------------------------------------------------------------- webhooks


def verify_webhook(body: bytes, hmac_header: str, secrets: Iterable[str]) -> bool:
    """True when ``X-Shopify-Hmac-SHA256`` (base64 HMAC-SHA256 of the raw body) matches one of ``secrets``.

    Pass the current and, within an hour of a rotation, the previous secret
    (shopify.dev webhook verification). Constant-time comparison.
    """
    given = (hmac_header or "").strip().encode()
    if not given:
        return False
    for secret in secrets:
        if not secret:
            continue
        digest = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest())
        if hmac.compare_digest(digest, given):
            return True
    return False


#: ``webhookSubscriptions`` of the topics we register, 25 a page: ``WebhookSubscriptionConnection`` per
#: shopify.dev (``nodes { id topic uri }``; ``uri`` is the unified endpoint field that replaced ``callbackUrl``,
#: shopify.dev changelog "webhookSubscriptionCreate and webhookSubscriptionUpdate support all URI types").
WEBHOOKS_QUERY = """
query FlashFusionWebhooks($topics: [WebhookSubscriptionTopic!], $after: String) {
  webhookSubscriptions(first: 25, after: $after, topics: $topics) {
    nodes { id topic uri }
    pageInfo { hasNextPage endCursor }
  }
}
"""
WEBHOOK_CREATE = """
mutation FlashFusionWebhookCreate($topic: WebhookSubscriptionTopic!, $subscription: WebhookSubscriptionInput!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $subscription) {
    webhookSubscription { id topic uri }
    userErrors { field message }
  }
}
"""
WEBHOOK_DELETE = """
mutation FlashFusionWebhookDelete($id: ID!) {
  webhookSubscriptionDelete(id: $id) { deletedWebhookSubscriptionId userErrors { field message } }
}
"""


def graphql_topic(topic: str) -> str:
    """``products/update`` (the REST and webhook-header spelling) → ``PRODUCTS_UPDATE`` (GraphQL's
    ``WebhookSubscriptionTopic``), and back with ``rest_topic``."""
    return topic.replace("/", "_").upper()


def rest_topic(topic: str) -> str:
    """``PRODUCTS_UPDATE`` → ``products/update`` (the resource is everything before the last ``_``)."""
    resource, _, action = topic.lower().rpartition("_")
    return f"{resource}/{action}"


class WebhookSubscriptions:
    """The app's webhook subscriptions in the shop (GraphQL ``webhookSubscriptions``,
    ``webhookSubscriptionCreate``, ``webhookSubscriptionDelete``; shopify.dev), for
    ``stores.webhook_registration``. Each is ``{"id": GID, "topic": "products/update", "address", "status"}``;
    Shopify subscriptions have no paused state, so ``status`` is always ``"active"``. Shopify signs every
    delivery with the app's client secret: a subscription takes no secret of its own.
    """

    def list_webhooks(self, topics: Iterable[str] = ()) -> list[dict]:
        """The subscriptions of ``topics`` (``products/update`` spelling; all when empty), every page."""
        variables: dict[str, Any] = {"topics": [graphql_topic(t) for t in topics] or None, "after": None}
        found = []
        while True:
            data = self.client.graphql(WEBHOOKS_QUERY, variables, cost=3)
            page = data.get("webhookSubscriptions") or {}
            found += [_subscription(node) for node in page.get("nodes") or []]
            info = page.get("pageInfo") or {}
            if not info.get("hasNextPage") or not info.get("endCursor"):
                return found
            variables["after"] = info["endCursor"]

    def create_webhook(self, topic: str, address: str, *, secret: str = "", name: str = "") -> dict:
        """``webhookSubscriptionCreate`` of ``topic`` (``products/update``) to ``address``, JSON format.
        ``secret`` and ``name`` are not Shopify's to take (the app's client secret signs)."""
        data = self.client.graphql(WEBHOOK_CREATE, {"topic": graphql_topic(topic),
                                                    "subscription": {"uri": address, "format": "JSON"}}, cost=10)
        return _subscription((data.get("webhookSubscriptionCreate") or {}).get("webhookSubscription"))

    def update_webhook(self, webhook_id: str, *, secret: str | None = None, address: str | None = None) -> dict:
        """Shopify subscriptions need no re-activation and take no secret: nothing to send."""
        raise NotImplementedError("Shopify webhook subscriptions are re-created, not updated")

    def delete_webhook(self, webhook_id: str) -> None:
        """``webhookSubscriptionDelete``; one already gone is no error."""
        try:
            self.client.graphql(WEBHOOK_DELETE, {"id": webhook_id}, cost=10)
        except (NotFound, Rejected) as exc:
            if isinstance(exc, Rejected) and "not exist" not in str(exc).lower():
                raise


def _subscription(node: Any) -> dict:
    if not isinstance(node, dict) or not node.get("id"):
        raise Transient("a webhook subscription answer without an id", status=200, code="bad_shape")
    return {"id": str(node["id"]), "topic": rest_topic(str(node.get("topic") or "")),
            "address": str(node.get("uri") or ""), "status": "active"}


# --------------------------------------------------------------------------- GraphQL documents


#: Per variant in ``fetch_product``: the ``available`` quantity at one location (``$stockLocationId``), 2 points
#: (the level object 1, its quantities 1). Never in the read-back of a write: that runs for every publish.
STOCK_LEVEL_SELECTION = 'inventoryLevel(locationId: $stockLocationId) { quantities(names: ["available"]) { name quantity } }'


def _product_selection(*, stock: bool = False) -> str:
    """Fields read back after a write; ``$variantsFirst`` sizes the variants page (cost grows with it).

    ``stock``: each variant's inventory item also carries ``inventoryLevel`` at ``$stockLocationId``
    (``STOCK_LEVEL_SELECTION``), for reads of one product (``get_product(stock_at=…)``).
    """
    item = f"inventoryItem {{ id tracked {STOCK_LEVEL_SELECTION} }}" if stock else "inventoryItem { id tracked }"
    return """
      id
      legacyResourceId
      handle
      title
      status
      vendor
      productType
      tags
      descriptionHtml
      updatedAt
      variants(first: $variantsFirst) {
        nodes {
          id
          sku
          position
          price
          compareAtPrice
          barcode
          inventoryQuantity
          selectedOptions { name value }
          %s
        }
        pageInfo { hasNextPage endCursor }
      }""" % item


PRODUCT_SET = """
mutation FlashFusionProductSet($identifier: ProductSetIdentifiers, $input: ProductSetInput!, $variantsFirst: Int!) {
  productSet(identifier: $identifier, input: $input, synchronous: true) {
    product {%s
    }
    userErrors { field message code }
  }
}""" % _product_selection()

PRODUCT_BY_ID = """
query FlashFusionProduct($id: ID!, $variantsFirst: Int!) {
  product(id: $id) {%s
  }
}""" % _product_selection()

PRODUCT_VARIANTS_PAGE = """
query FlashFusionProductVariants($id: ID!, $after: String) {
  product(id: $id) {
    variants(first: 250, after: $after) {
      nodes {
        id sku position price compareAtPrice barcode inventoryQuantity
        selectedOptions { name value }
        inventoryItem { id tracked }
      }
      pageInfo { hasNextPage endCursor }
    }
  }
}"""

#: Variants per page when each carries its stock level: 1 + 2 + 100 × 5 = 503 points, under the 1000 cap.
STOCK_VARIANTS_PAGE = 100

PRODUCT_WITH_STOCK = """
query FlashFusionProductWithStock($id: ID!, $variantsFirst: Int!, $stockLocationId: ID!) {
  product(id: $id) {%s
  }
}""" % _product_selection(stock=True)

PRODUCT_VARIANTS_WITH_STOCK_PAGE = """
query FlashFusionProductVariantsWithStock($id: ID!, $after: String, $stockLocationId: ID!) {
  product(id: $id) {
    variants(first: %d, after: $after) {
      nodes {
        id sku position price compareAtPrice barcode inventoryQuantity
        selectedOptions { name value }
        inventoryItem { id tracked %s }
      }
      pageInfo { hasNextPage endCursor }
    }
  }
}""" % (STOCK_VARIANTS_PAGE, STOCK_LEVEL_SELECTION)

LOCATIONS_PAGE = """
query FlashFusionLocations($first: Int!, $after: String) {
  location { id }
  locations(first: $first, after: $after, includeInactive: true) {
    nodes { id name isActive }
    pageInfo { hasNextPage endCursor }
  }
}"""

STOCK_BY_LOCATION = """
query FlashFusionStockByLocation($id: ID!, $variantsFirst: Int!, $after: String, $levelsFirst: Int!) {
  product(id: $id) {
    id
    variants(first: $variantsFirst, after: $after) {
      nodes {
        id sku
        inventoryItem {
          id tracked
          inventoryLevels(first: $levelsFirst) {
            nodes { location { id } quantities(names: ["available"]) { name quantity updatedAt } }
          }
        }
      }
      pageInfo { hasNextPage endCursor }
    }
  }
}"""

INVENTORY_ACTIVATE = """
mutation FlashFusionInventoryActivate($inventoryItemId: ID!, $locationId: ID!, $available: Int) {
  inventoryActivate(inventoryItemId: $inventoryItemId, locationId: $locationId, available: $available) {
    inventoryLevel { id }
    userErrors { field message }
  }
}"""

PRODUCTS_PAGE = """
query FlashFusionProducts($first: Int!, $after: String, $query: String, $variantsFirst: Int!) {
  products(first: $first, after: $after, query: $query) {
    nodes {%s
    }
    pageInfo { hasNextPage endCursor }
  }
}""" % _product_selection()

PRODUCT_DELETE = """
mutation FlashFusionProductDelete($input: ProductDeleteInput!) {
  productDelete(input: $input) {
    deletedProductId
    userErrors { field message }
  }
}"""

VARIANTS_BULK_UPDATE = """
mutation FlashFusionVariantsBulkUpdate($productId: ID!, $variants: [ProductVariantsBulkInput!]!) {
  productVariantsBulkUpdate(productId: $productId, variants: $variants) {
    productVariants { id sku price compareAtPrice }
    userErrors { field message code }
  }
}"""

INVENTORY_SET = """
mutation FlashFusionInventorySet($input: InventorySetQuantitiesInput!) {
  inventorySetQuantities(input: $input) {
    inventoryAdjustmentGroup { reason changes { name delta } }
    userErrors { field message code }
  }
}"""

BULK_RUN = """
mutation FlashFusionBulkExport($query: String!) {
  bulkOperationRunQuery(query: $query) {
    bulkOperation { id status }
    userErrors { field message code }
  }
}"""

BULK_STATUS = """
query FlashFusionBulkStatus($id: ID!) {
  node(id: $id) {
    ... on BulkOperation { id status errorCode objectCount url partialDataUrl }
  }
}"""

#: The catalog export a bulk operation runs (one JSONL line per product, then one per variant with ``__parentId``).
BULK_PRODUCTS_QUERY = """
{
  products {
    edges {
      node {
        id handle title status vendor productType tags updatedAt
        variants {
          edges { node { id sku price compareAtPrice inventoryQuantity selectedOptions { name value } } }
        }
      }
    }
  }
}"""


def _product_cost(variants: int, *, mutation: bool, stock: bool = False) -> float:
    """Requested cost of reading one product with ``_product_selection``: the product 1 (free inside a mutation
    payload) + the variants connection, 2 + n × 3 (node 1, ``selectedOptions`` 1, ``inventoryItem`` 1), + 2 per
    variant with ``stock`` (the level at one location and its quantities)."""
    return float((0 if mutation else 1) + 2 + max(1, variants) * (5 if stock else 3))


def _stock_by_location_cost(variants: int, levels: int) -> float:
    """Requested cost of ``STOCK_BY_LOCATION``: product 1 + variants 2 + n × (node 1 + ``inventoryItem`` 1 +
    levels connection 2 + m × (node 1 + ``location`` 1 + ``quantities`` 1))."""
    return float(3 + max(1, variants) * (4 + 3 * max(1, levels)))


def _product_set_cost(body: dict, variants_first: int, api_version: str) -> float:
    """Requested cost of ``PRODUCT_SET``: the mutation's own cost plus the product read back.

    ``productSet`` costs a fixed 50 points up to API version 2025-07; from
    2025-10 it is 10 + 0.2 × variants + 0.6 × variant files + 1.9 × product
    files (shopify.dev changelog "Dynamic complexity cost for productSet
    mutation", October 2025).
    """
    if api_version != "unstable" and api_version < "2025-10":
        base = 50.0
    else:
        variants = body.get("variants") or []
        base = float(math.ceil(10 + 0.2 * len(variants) + 0.6 * sum(1 for v in variants if v.get("file"))
                               + 1.9 * len(body.get("files") or [])))
    return base + _product_cost(variants_first, mutation=True)


#: Most points one GraphQL query may request (shopify.dev: "MAX_COST_EXCEEDED" above 1000).
MAX_QUERY_COST = 1000


# --------------------------------------------------------------------------- payload helpers


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


# --------------------------------------------------------------------------- plugin


class ShopifyPlugin(WebhookSubscriptions, StorePlugin):
    """The Shopify connector (GraphQL Admin API ``2025-07``).

    One product per ``productSet`` mutation, so ``max_batch`` is 1 and the
    Sync agent makes one call per product. Results are one ``ItemResult``
    per input, in input order; whole-call failures become the item's error,
    so one bad product never stops the others. Writes are idempotent: create
    upserts by handle (``identifier: {handle}``), update targets the
    listing's product GID, and a product gone from the store is re-created by
    handle.
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

    # ------------------------------------------------------------------ locations

    def primary_location_id(self) -> str:
        """GID of the shop's primary location (``query { location { id } }``, 1 point), cached per connector."""
        if self._location_id is None:
            data = self.client.graphql("query FlashFusionPrimaryLocation { location { id } }", cost=1)
            location = data.get("location")
            if not isinstance(location, dict) or not location.get("id"):
                raise Rejected("the shop has no primary location to stock inventory at", status=200,
                             code="no_location", field="locationId")
            self._location_id = str(location["id"])
        return self._location_id

    def stock_location_id(self) -> str:
        """GID of the location this store's stock is set at: the store's chosen ``stock_location`` while it is
        active, else the shop's primary location (``primary_location_id``)."""
        chosen = getattr(self.store, "stock_location", None) if self.store is not None else None
        if chosen is not None and chosen.is_active and chosen.external_id:
            return chosen.external_id
        return self.primary_location_id()

    def list_locations(self) -> list[dict]:
        """Every location of the shop, deactivated ones included, in Shopify's order (by name)::

            [{"external_id": "gid://shopify/Location/1", "name": "Warehouse", "is_active": bool,
              "is_primary": bool}]

        ``locations(first: 250, includeInactive: true)`` paged by cursor (shopify.dev
        ``QueryRoot.locations``: inactive locations are left out unless asked for), with
        ``location { id }`` in the same request: without an id it is the shop's primary location
        (shopify.dev ``QueryRoot.location``), which is also cached for ``primary_location_id``. Declared
        cost 1 + 2 + 250 points a page; Shopify charges the locations returned. A node without a Location
        GID, a name or a boolean ``isActive`` is ``Transient`` (``bad_shape``): nothing is half-read.
        """
        found: dict[str, dict] = {}
        primary = None
        after = None
        while True:
            data = self.client.graphql(LOCATIONS_PAGE, {"first": MAX_PAGE, "after": after}, cost=3 + MAX_PAGE)
            if primary is None and isinstance(data.get("location"), dict):
                primary = str(data["location"].get("id") or "") or None
            connection = data.get("locations")
            if not isinstance(connection, dict):
                raise Transient("the locations query answered without locations", status=200, code="bad_shape")
            for node in connection.get("nodes") or []:
                gid = node.get("id") if isinstance(node, dict) else None
                name = node.get("name") if isinstance(node, dict) else None
                active = node.get("isActive") if isinstance(node, dict) else None
                if not (isinstance(gid, str) and gid.startswith(LOCATION_GID) and isinstance(name, str)
                        and isinstance(active, bool)):
                    raise Transient(f"unreadable location in the answer: {str(node)[:120]}", status=200,
                                    code="bad_shape")
                found[gid] = {"external_id": gid, "name": name.strip()[:255] or gid, "is_active": active,
                              "is_primary": False}
            page = connection.get("pageInfo") or {}
            if not page.get("hasNextPage") or not page.get("endCursor"):
                break
            after = page["endCursor"]
        if primary in found:
            found[primary]["is_primary"] = True
            self._location_id = primary
        return list(found.values())

    def activate_inventory(self, inventory_item_id: str, location_id: str, *, available: int | None = None) -> None:
        """``inventoryActivate``: stock an inventory item (GID) at a location (GID), starting at ``available``
        units (shopify.dev: the quantities are *initial* ones; an item already stocked there keeps its level).

        Needed before an existing variant's stock can be set where it is not stocked yet: "if you're updating
        an existing variant, then you can only update the quantities at locations where the variant is already
        stocked" (shopify.dev ``ProductVariantSetInput.inventoryQuantities``); ``inventorySetQuantities``
        answers ``ITEM_NOT_STOCKED_AT_LOCATION``. Cost 10 + 1 points. A refusal (an inactive location, an
        unknown item) is ``Rejected`` with the userErrors.
        """
        variables = {"inventoryItemId": inventory_item_id, "locationId": location_id, "available": available}
        self.client.graphql(INVENTORY_ACTIVATE, variables, cost=MUTATION_COST + 1)

    # ------------------------------------------------------------------ payload

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

    # ------------------------------------------------------------------ capability checks (no store call)

    #: Most options one product may have: "List of custom product options and option values (maximum of 3 per
    #: product)" (shopify.dev ``ProductSetInput.productOptions`` / ``OptionSetInput``; the emulator answers
    #: ``OPTIONS_OVER_LIMIT``).
    MAX_OPTIONS = 3
    #: Most variants ``productSet`` writes to one product: 2,048 for every shop since 2025-10-15 (shopify.dev
    #: changelog "The product variant limit is now 2048 for all merchants"; the ``productSet`` reference says
    #: "By default, stores have a limit of 2048 product variants for each product"). Before that the default
    #: was 100, 2,048 only with the Extended Variants preview. The REST product endpoints still stop at 100
    #: (shopify.dev "Using the latest GraphQL product APIs"), but this connector writes through GraphQL
    #: ``productSet`` at ``API_VERSION`` (2025-07, past the 2024-04 product model that lifted the old limit).
    MAX_VARIANTS = 2048

    @classmethod
    def refusals(cls, product: Product) -> list[Refusal]:
        """What Shopify cannot take of ``product`` as ``build_payload`` would send it (no store call).

        * ``grouped_product`` (field ``kind``): Shopify has no grouped products (its product model has
          simple products with variants only; shopify.dev "Shopify's product model").
        * ``too_many_options`` (``options``): more than ``MAX_OPTIONS`` options.
        * ``too_many_variants`` (``variants``): more than ``MAX_VARIANTS`` variants.
        * ``option_value_missing`` (``variants.option_values``): a variant without a value (or with a blank
          one) for one of the product's options — WooCommerce's "any Size" variation. Every Shopify variant
          has one value of every option (``ProductVariantSetInput.optionValues`` is required; ``productSet``
          answers ``OPTION_VALUES_MISSING``). Options come from ``_options``, as in the payload.
        * ``duplicate_variant`` (``variants.option_values``): two variants with the same values of every
          option; Shopify keeps one variant per combination ("The variant … already exists").

        SKUs are not required: the product is found by handle and variants are bound by SKU, else by option
        values, else by position (``_remote_listing``).
        """
        if product.kind == "grouped":
            return [Refusal("grouped_product", "kind",
                            "Shopify has no grouped products (Type “Grouped”): publish each product of the group on "
                            "its own, or build the bundle in Shopify.")]
        variants = list(product.variants.all())
        options = _options(product, variants)
        names = [name for name, _values in options]
        out = []
        if len(names) > cls.MAX_OPTIONS:
            out.append(Refusal("too_many_options", "options",
                               f"Shopify takes at most {cls.MAX_OPTIONS} options per product and this one has "
                               f"{len(names)} ({', '.join(names)}): merge or remove options until "
                               f"{cls.MAX_OPTIONS} are left."))
        if len(variants) > cls.MAX_VARIANTS:
            out.append(Refusal("too_many_variants", "variants",
                               f"Shopify takes at most {cls.MAX_VARIANTS:,} variants per product and this one has "
                               f"{len(variants):,}: split it into several products."))
        declared = any(str(o.get("name", "")).strip() for o in product.options or [])
        if not declared and not any(v.option_values for v in variants):
            return out  # no options: Shopify's "Title" option, told apart by SKU or position (``_options``)
        missing: dict[str, list[str]] = {}
        for v in variants:
            values = v.option_values or {}
            for name in names:
                if not str(values.get(name) if values.get(name) is not None else "").strip():
                    missing.setdefault(name, []).append(variant_label(v))
        for name, labels in missing.items():
            out.append(Refusal("option_value_missing", "variants.option_values",
                               f"Shopify needs a value of every option on every variant (OPTION_VALUES_MISSING): "
                               f"{few(labels)} {'has' if len(labels) == 1 else 'have'} no {name} (WooCommerce's "
                               f"“any {name}”); give each variant its own {name}, one variant per {name}, or remove "
                               f"{name} from the product's options."))
        if missing:
            return out
        seen: dict[tuple[str, ...], Variant] = {}
        for v in variants:
            combo = tuple(str(v.option_values[name]) for name in names)
            if combo in seen:
                out.append(Refusal("duplicate_variant", "variants.option_values",
                                   f"Shopify takes each combination of option values once, and "
                                   f"{variant_label(seen[combo])} and {variant_label(v)} are both "
                                   f"{' / '.join(combo)}: change the option values of one of them, or remove it."))
                break
            seen[combo] = v
        return out

    # ------------------------------------------------------------------ writes

    def create_listings(self, items: list[tuple[Product, dict]]) -> list[ItemResult]:
        """Create products with ``productSet(identifier: {handle})``, one mutation each.

        The handle identifies the product: when the store already has it (a
        crashed attempt, or a product made by hand with our handle) it is
        updated in place — bound — never created twice. ``RemoteListing``:
        ``external_id`` = product GID; ``variant_ids`` =
        ``variant_key(sku, position)`` → variant GID; ``snapshot`` = the
        product as Shopify answered (variants under ``variants.nodes``).
        """
        results = []
        for product, payload in items:
            results.append(self._write(product, payload, identifier={"handle": payload.get("handle") or
                                                                     shopify_handle(product.handle)}, known={}))
        return results

    def update_listings(self, items: list[tuple[Listing, Product, dict]]) -> list[ItemResult]:
        """Write the whole payload to each listing's product (``productSet(identifier: {id})``).

        ``productSet`` replaces the variant list, so the full list is always
        sent; variants recorded in ``listing.variant_ids`` carry their GID so
        Shopify updates them in place (same variant and inventory item ids)
        instead of replacing them. A recorded variant that no longer exists
        (``PRODUCT_VARIANT_DOES_NOT_EXIST``) → the write is repeated without
        variant ids. A product gone from the store (``PRODUCT_DOES_NOT_EXIST``
        / ``NOT_FOUND``) or a listing without an external id → re-created by
        handle through the create path.
        """
        results = []
        for listing, product, payload in items:
            gid = product_gid(listing.external_id)
            if not gid:
                results.append(self._write(product, payload, identifier={"handle": payload.get("handle") or
                                                                         shopify_handle(product.handle)}, known={}))
                continue
            try:
                self._stock_at_chosen_location(listing, product, payload)
            except StoreError as err:
                results.append(ItemResult(product.pk, error=err))
                continue
            result = self._write(product, payload, identifier={"id": gid}, known=dict(listing.variant_ids or {}))
            if result.error is not None and _not_stocked(result.error):
                try:
                    again = self._activate_where_sent(listing, product, payload)
                except StoreError as err:
                    again, result = 0, ItemResult(product.pk, error=err)
                if again:
                    log.info("Shopify: stocked %d variant(s) of %s at the stock location; writing again", again,
                             product.handle)
                    result = self._write(product, payload, identifier={"id": gid},
                                         known=dict(listing.variant_ids or {}))
            if result.error is not None and _is_gone(result.error):
                log.info("Shopify: product %s is gone from the store; re-creating %s by handle", gid, product.handle)
                result = self._write(product, payload, identifier={"handle": payload.get("handle") or
                                                                   shopify_handle(product.handle)}, known={})
            results.append(result)
        return results

    def _write(self, product: Product, payload: dict, *, identifier: dict, known: dict[str, str]) -> ItemResult:
        if payload.get("_unsupported"):
            return ItemResult(product.pk, error=Rejected(f"unsupported_kind: {payload['_unsupported']}",
                                                       status=None, code="unsupported_kind", field="kind"))
        variants = list(product.variants.all())
        body = _public(payload)
        keys = [variant_key(v.sku, v.position) for v in variants]
        with_ids = False
        if known and len(keys) == len(body.get("variants", [])):
            sent = []
            for key, variant_body in zip(keys, body["variants"]):
                vid = known.get(key)
                if vid and str(vid).startswith(VARIANT_GID):
                    variant_body = {"id": str(vid), **variant_body}
                    with_ids = True
                sent.append(variant_body)
            body = {**body, "variants": sent}
        try:
            answer = self._product_set(identifier, body)
        except StoreError as err:
            if with_ids and isinstance(err, Rejected) and err.code == "PRODUCT_VARIANT_DOES_NOT_EXIST":
                log.info("Shopify: a recorded variant of %s is gone; writing the variants afresh", product.handle)
                try:
                    answer = self._product_set(identifier, _public(payload))
                except StoreError as again:
                    return ItemResult(product.pk, error=again)
            else:
                return ItemResult(product.pk, error=err)
        remote = self._remote_listing(product, variants, payload, answer)
        location, quantities = None, {}
        for v, variant_body in zip(variants, payload.get("variants") or []):
            levels = variant_body.get("inventoryQuantities") or []
            vid = remote.variant_ids.get(variant_key(v.sku, v.position))
            if levels and vid:
                location = levels[0]["locationId"]
                quantities[str(vid)] = int(levels[0]["quantity"])
        if location:
            note_stock(remote.snapshot, location, quantities)
        return ItemResult(product.pk, listing=remote)

    # ------------------------------------------------------------------ stocking at the chosen location

    def _stock_at_chosen_location(self, listing: Listing, product: Product, payload: dict) -> int:
        """Before rewriting ``listing``: stock its known variants at the store's chosen ``stock_location``
        (``activate_inventory``) unless FlashFusion holds an ``InventoryLevel`` for them there (a level we
        wrote or read proves the item is stocked). Nothing to do for the primary location (Shopify stocks
        every new variant there) or a store without a chosen location. Returns the number activated."""
        chosen = getattr(self.store, "stock_location", None) if self.store is not None else None
        if chosen is None or not chosen.is_active or chosen.is_primary or not chosen.external_id:
            return 0
        from stores.models import InventoryLevel

        stocked = set(InventoryLevel.objects.filter(location=chosen, variant__product_id=product.pk)
                      .values_list("variant_id", flat=True))
        return self._activate_where_sent(listing, product, payload, only=chosen.external_id, skip=stocked)

    def _activate_where_sent(self, listing: Listing, product: Product, payload: dict, *, only: str | None = None,
                             skip: set[int] = frozenset()) -> int:
        """``activate_inventory`` for each variant of ``listing`` whose payload sets a quantity (at ``only``
        when given), starting at that quantity; variants in ``skip`` (our variant ids) or whose inventory item
        the listing's snapshot lacks are left alone. Returns the number activated."""
        known = listing.variant_ids or {}
        items = {str(n.get("id")): ((n.get("inventoryItem") or {}).get("id"))
                 for n in ((listing.remote_snapshot or {}).get("variants") or {}).get("nodes") or []}
        count = 0
        for v, variant_body in zip(product.variants.all(), payload.get("variants") or []):
            levels = variant_body.get("inventoryQuantities") or []
            if not levels or v.pk in skip or (only is not None and levels[0].get("locationId") != only):
                continue
            item = items.get(str(known.get(variant_key(v.sku, v.position)) or ""))
            if item:
                self.activate_inventory(str(item), levels[0]["locationId"], available=int(levels[0]["quantity"]))
                count += 1
        return count

    def _product_set(self, identifier: dict, body: dict) -> dict:
        count = len(body.get("variants") or [])
        first = max(1, min(MAX_PAGE, count))
        data = self.client.graphql(PRODUCT_SET, {"identifier": identifier, "input": body, "variantsFirst": first},
                                   cost=_product_set_cost(body, first, self.client.api_version))
        product = (data.get("productSet") or {}).get("product")
        if not isinstance(product, dict) or not product.get("id"):
            raise Transient("productSet answered without a product", status=200, code="no_product")
        self._complete_variants(product)
        return product

    def _complete_variants(self, product: dict, *, stock_at: str | None = None) -> None:
        """Fetch the rest of ``product.variants`` when Shopify paged them (more than 250 variants; more than
        ``STOCK_VARIANTS_PAGE`` with the stock level at ``stock_at``)."""
        connection = product.get("variants") or {}
        nodes = list(connection.get("nodes") or [])
        page = connection.get("pageInfo") or {}
        while page.get("hasNextPage") and page.get("endCursor"):
            if stock_at:
                data = self.client.graphql(PRODUCT_VARIANTS_WITH_STOCK_PAGE,
                                           {"id": product["id"], "after": page["endCursor"],
                                            "stockLocationId": stock_at},
                                           cost=_product_cost(STOCK_VARIANTS_PAGE, mutation=False, stock=True))
            else:
                data = self.client.graphql(PRODUCT_VARIANTS_PAGE, {"id": product["id"], "after": page["endCursor"]},
                                           cost=_product_cost(MAX_PAGE, mutation=False))
            more = ((data.get("product") or {}).get("variants") or {})
            nodes.extend(more.get("nodes") or [])
            page = more.get("pageInfo") or {}
        product["variants"] = {"nodes": nodes, "pageInfo": {"hasNextPage": False, "endCursor": None}}

    @staticmethod
    def _remote_listing(product: Product, variants: list[Variant], payload: dict, answer: dict) -> RemoteListing:
        """Bind our variants to Shopify's: by SKU, else by option values, else by order."""
        remote = list((answer.get("variants") or {}).get("nodes") or [])
        free = list(remote)
        by_sku: dict[str, dict] = {}
        for node in remote:
            if node.get("sku"):
                by_sku.setdefault(str(node["sku"]), node)
        sent = payload.get("variants") or []
        ids: dict[str, str] = {}
        pending: list[tuple[int, Variant]] = []
        for index, v in enumerate(variants):
            node = by_sku.get(v.sku) if v.sku else None
            if node is not None and node in free:
                free.remove(node)
                ids[variant_key(v.sku, v.position)] = str(node["id"])
            else:
                pending.append((index, v))
        unresolved = []
        for index, v in pending:
            wanted = {(o["optionName"], o["name"]) for o in (sent[index]["optionValues"] if index < len(sent) else [])}
            node = next((n for n in free if {(o.get("name"), o.get("value"))
                                              for o in n.get("selectedOptions") or []} == wanted), None)
            if node is not None:
                free.remove(node)
                ids[variant_key(v.sku, v.position)] = str(node["id"])
            else:
                unresolved.append(v)
        for v, node in zip(unresolved, sorted(free, key=lambda n: n.get("position") or 0)):
            ids[variant_key(v.sku, v.position)] = str(node["id"])
        return RemoteListing(external_id=str(answer["id"]), variant_ids=ids, snapshot=answer)

    # ------------------------------------------------------------------ delete

    def delete_listings(self, listings: list[Listing]) -> list[ItemResult]:
        """``productDelete`` each listing's product (permanent, with its variants and media — shopify.dev).

        Already gone (404 or a userError like "Product does not exist") is a
        success. A listing without an external id (its create crashed before
        the binding was saved) is looked up by the product's handle; when the
        store has no such product there is nothing to delete.
        """
        results = []
        for listing in listings:
            try:
                gid = product_gid(listing.external_id)
                if not gid:
                    found = self.find_product(shopify_handle(listing.product.handle)) if listing.product_id else None
                    gid = str(found["id"]) if found else ""
                if gid:
                    self.client.graphql(PRODUCT_DELETE, {"input": {"id": gid}}, cost=MUTATION_COST + 1)
            except StoreError as err:
                results.append(ItemResult(listing.product_id, error=None if _is_gone(err) else err))
                continue
            results.append(ItemResult(listing.product_id))
        return results

    # ------------------------------------------------------------------ reads

    def find_product(self, handle: str) -> dict | None:
        """The store's product with ``handle`` (``products(first: 1, query: "handle:'…'")``), or None."""
        escaped = handle.replace("\\", "\\\\").replace("'", "\\'")
        for node in self.iter_products(query=f"handle:'{escaped}'", page_size=1, variants_per_product=MAX_PAGE,
                                       limit=1):
            if node.get("handle") == handle:
                return node
        return None

    def fetch_product(self, external_id: str) -> dict:
        """The store's product ``external_id`` (a product GID or its number) as it is now, for the pull agent.

        ``get_product``'s answer: the GraphQL shape of ``RemoteListing.snapshot``
        (``title``, ``status``, ``descriptionHtml``, every variant under
        ``variants.nodes`` with ``sku``, ``position``, ``price``,
        ``compareAtPrice``, ``inventoryQuantity`` — the total over every
        location — and ``inventoryItem.tracked``), with the stock at the
        store's stock location (``stock_location_id``): per variant
        ``inventoryItem.inventoryLevel.quantities[{name: "available",
        quantity}]`` (``inventoryLevel`` null where the item is not stocked)
        and ``_stockLocation`` = that location's GID. So a merchant's stock
        at another location is not mistaken for an edit of ours. Raises
        ``NotFound`` when the shop has no such product (``product: null``) or
        the id is not a Shopify product id.
        """
        gid = product_gid(external_id)
        if not gid.startswith(PRODUCT_GID) or numeric_id(gid) is None:
            raise NotFound(f"not a Shopify product id: {external_id!r}", status=None)
        product = self.get_product(gid, stock_at=self.stock_location_id())
        if product is None:
            raise NotFound(f"the shop has no product {gid}", status=200, code="NOT_FOUND")
        return product

    def get_product(self, gid: str, *, stock_at: str | None = None) -> dict | None:
        """One product by GID with all its variants, or None when the store has none.

        ``stock_at`` (a Location GID): each variant also carries its stock level there
        (``inventoryItem.inventoryLevel``, 2 points a variant, variants in pages of
        ``STOCK_VARIANTS_PAGE``) and the product ``_stockLocation`` = ``stock_at``.
        """
        if stock_at:
            data = self.client.graphql(
                PRODUCT_WITH_STOCK,
                {"id": product_gid(gid), "variantsFirst": STOCK_VARIANTS_PAGE, "stockLocationId": stock_at},
                cost=_product_cost(STOCK_VARIANTS_PAGE, mutation=False, stock=True))
        else:
            data = self.client.graphql(PRODUCT_BY_ID, {"id": product_gid(gid), "variantsFirst": MAX_PAGE},
                                       cost=_product_cost(MAX_PAGE, mutation=False))
        product = data.get("product")
        if not isinstance(product, dict):
            return None
        self._complete_variants(product, stock_at=stock_at)
        if stock_at:
            product["_stockLocation"] = stock_at
        return product

    def inventory_levels(self, product_id: str, *, levels_first: int = 10) -> list[dict]:
        """Stock by location of every variant of one product (each variant's ``inventoryItem.inventoryLevels``
        with ``quantities(names: ["available"])``, shopify.dev ``InventoryItem`` / ``InventoryLevel``)::

            [{"variant_id": variant GID, "sku": str, "inventory_item_id": GID, "tracked": bool,
              "levels": [{"location_id": Location GID, "available": int (units),
                          "updated_at": ISO-8601 time or None}]}]

        in variant order. ``levels_first`` (1–250) is the size of each variant's levels page: pass at least
        the shop's number of locations (levels past it are not read). The variants page shrinks so one
        request stays under the 1000-point cap: 3 + n × (4 + 3 × ``levels_first``) ≤ 1000. Raises
        ``NotFound`` when the shop has no such product.
        """
        if not 1 <= levels_first <= MAX_PAGE:
            raise ValueError(f"levels_first must be between 1 and {MAX_PAGE}, got {levels_first}")
        gid = product_gid(product_id)
        per_page = max(1, min(MAX_PAGE, int((MAX_QUERY_COST - 3) // (4 + 3 * levels_first))))
        out: list[dict] = []
        after = None
        while True:
            data = self.client.graphql(STOCK_BY_LOCATION, {"id": gid, "variantsFirst": per_page, "after": after,
                                                           "levelsFirst": levels_first},
                                       cost=_stock_by_location_cost(per_page, levels_first))
            product = data.get("product")
            if not isinstance(product, dict):
                raise NotFound(f"the shop has no product {gid}", status=200, code="NOT_FOUND")
            connection = product.get("variants") or {}
            for node in connection.get("nodes") or []:
                item = node.get("inventoryItem") or {}
                levels = []
                for level in (item.get("inventoryLevels") or {}).get("nodes") or []:
                    location = (level.get("location") or {}).get("id")
                    available = next((q for q in level.get("quantities") or [] if q.get("name") == "available"),
                                     None)
                    if not location or available is None or not isinstance(available.get("quantity"), int):
                        raise Transient(f"unreadable inventory level of {node.get('id')}: {str(level)[:120]}",
                                        status=200, code="bad_shape")
                    levels.append({"location_id": str(location), "available": available["quantity"],
                                   "updated_at": available.get("updatedAt")})
                out.append({"variant_id": str(node.get("id")), "sku": node.get("sku") or "",
                            "inventory_item_id": str(item.get("id") or ""), "tracked": item.get("tracked") is True,
                            "levels": levels})
            page = connection.get("pageInfo") or {}
            if not page.get("hasNextPage") or not page.get("endCursor"):
                return out
            after = page["endCursor"]

    def iter_products(self, *, query: str | None = None, page_size: int = 50, variants_per_product: int = 20,
                      limit: int | None = None) -> Iterator[dict]:
        """Yield the store's products (``products`` connection, cursor pages of at most ``page_size``).

        ``query`` is Shopify's search syntax (``"handle:'tee'"``,
        ``"updated_at:>2025-01-01"``); each product carries its first
        ``variants_per_product`` (1–250) variants (all of them via
        ``get_product``). The page shrinks so one request stays under the
        1000-point single-query limit: 2 + page × (3 + 3 × variants) ≤ 1000.
        ``limit`` stops after that many products. For a whole large catalog,
        ``bulk_export`` is cheaper.
        """
        if not 1 <= page_size <= MAX_PAGE:
            raise ValueError(f"page_size must be between 1 and {MAX_PAGE}, got {page_size}")
        if not 1 <= variants_per_product <= MAX_PAGE:
            raise ValueError(f"variants_per_product must be between 1 and {MAX_PAGE}, got {variants_per_product}")
        per_product = _product_cost(variants_per_product, mutation=False)
        page_size = max(1, min(page_size, int((MAX_QUERY_COST - 2) // per_product)))
        after = None
        given = 0
        while True:
            variables = {"first": page_size, "after": after, "query": query, "variantsFirst": variants_per_product}
            data = self.client.graphql(PRODUCTS_PAGE, variables, cost=2 + page_size * per_product)
            connection = data.get("products") or {}
            for node in connection.get("nodes") or []:
                yield node
                given += 1
                if limit is not None and given >= limit:
                    return
            page = connection.get("pageInfo") or {}
            if not page.get("hasNextPage") or not page.get("endCursor"):
                return
            after = page["endCursor"]

    # ------------------------------------------------------------------ partial writes

    def update_variants(self, product_id: str, variants: list[dict]) -> list[dict]:
        """``productVariantsBulkUpdate``: change some variants of one product (e.g. prices) without a full write.

        ``variants`` are ``ProductVariantsBulkInput`` dicts, each with its
        ``id`` (variant GID) and the fields to change (``price``,
        ``compareAtPrice`` as Money strings…). Returns the updated variants
        ``[{id, sku, price, compareAtPrice}]``. More than 250 variants go in
        several calls (the input-array limit).
        """
        updated: list[dict] = []
        for start in range(0, len(variants), MAX_INPUT_ITEMS):
            chunk = variants[start:start + MAX_INPUT_ITEMS]
            data = self.client.graphql(VARIANTS_BULK_UPDATE, {"productId": product_gid(product_id), "variants": chunk},
                                       cost=MUTATION_COST + 2 + len(chunk))
            updated.extend((data.get("productVariantsBulkUpdate") or {}).get("productVariants") or [])
        return updated

    def set_inventory(self, quantities: list[tuple[str, str, int]], *, reason: str = "correction") -> None:
        """``inventorySetQuantities``: set ``available`` for (inventory item GID, location GID, quantity) triples.

        Our catalog is the truth, so the compare-and-set check is skipped
        (``ignoreCompareQuantity: true``); ``reason`` is one of Shopify's
        inventory reasons (``correction``, ``cycle_count_available``…). More
        than 250 triples go in several calls (the input-array limit).
        """
        quantities = list(quantities)
        for start in range(0, len(quantities), MAX_INPUT_ITEMS):
            payload = {
                "name": "available",
                "reason": reason,
                "ignoreCompareQuantity": True,
                "quantities": [{"inventoryItemId": item, "locationId": location, "quantity": int(qty)}
                               for item, location, qty in quantities[start:start + MAX_INPUT_ITEMS]],
            }
            self.client.graphql(INVENTORY_SET, {"input": payload}, cost=MUTATION_COST + 3)

    # ------------------------------------------------------------------ prices and stock alone

    def split_payload(self, product: Product, payload: dict) -> tuple[dict, dict[str, dict]]:
        """(content, {"price": {key: {"price", "compareAtPrice"}}, "stock": {key: [location GID, quantity] or None}}).

        Keys are ``variant_key(sku, position)`` of the product's variants, in
        the payload's order. The content keeps everything else, the
        inventory item's ``tracked`` flag included (turning tracking on or
        off rewrites the product). A grouped product (``_unsupported``) has
        no field groups.
        """
        bodies = payload.get("variants") or []
        content = {**payload, "variants": [{k: v for k, v in body.items() if k not in VARIANT_OFFER_FIELDS}
                                           for body in bodies]}
        price: dict[str, dict] = {}
        stock: dict[str, list | None] = {}
        if payload.get("_unsupported"):
            return content, {"price": price, "stock": stock}
        for variant, body in zip(product.variants.all(), bodies):
            key = variant_key(variant.sku, variant.position)
            if "price" in body:
                price[key] = {"price": body["price"], "compareAtPrice": body.get("compareAtPrice")}
            levels = body.get("inventoryQuantities") or []
            stock[key] = [levels[0]["locationId"], int(levels[0]["quantity"])] if levels else None
        return content, {"price": price, "stock": stock}

    def update_fields(self, items: list[FieldUpdate]) -> list[ItemResult]:
        """Write prices and/or stock alone: ``productVariantsBulkUpdate`` per product for prices (about 15
        points against ``productSet``'s 55–90), one ``inventorySetQuantities`` for the stock of every item
        (at most 250 quantities a call: Shopify's input-array limit, shopify.dev changelog 2019-12).

        ``inventorySetQuantities`` is all or nothing, so when a shared call is refused each product's
        quantities are sent again on their own and only the refused product fails. A listing without a
        product GID, a variant not bound in ``listing.variant_ids``, a variant whose inventory item the
        snapshot lacks, or a product or variant gone from the shop goes to ``write_whole`` (written whole,
        or refused where the store takes only these fields). An item not stocked at the location
        (``ITEM_NOT_STOCKED_AT_LOCATION``) is stocked there (``inventoryActivate``) and set again. A variant
        whose tracking differs from the catalog's (stock given to an untracked item, or taken away) is
        switched in the same ``productVariantsBulkUpdate``. The returned snapshot is the listing's with the
        new prices, tracking and the levels set at our location (``note_stock``) put in.
        """
        results: list[ItemResult | None] = [None] * len(items)
        snapshots = [copy.deepcopy(item.listing.remote_snapshot or {}) for item in items]
        whole: set[int] = set()
        quantities: dict[int, list[tuple[str, str, int]]] = {}
        for i, item in enumerate(items):
            gid = product_gid(item.listing.external_id)
            known = item.bound
            nodes = {str(n.get("id")): n for n in (snapshots[i].get("variants") or {}).get("nodes") or []}
            prices = item.groups.get("price") or {}
            untracked = [k for k, v in (item.groups.get("stock") or {}).items() if v is None]
            stock = {k: v for k, v in (item.groups.get("stock") or {}).items() if v is not None}
            if not gid or any(not known.get(k, "").startswith(VARIANT_GID) for k in [*prices, *stock, *untracked]):
                whole.add(i)
                continue
            items_by_key = {k: ((nodes.get(known[k]) or {}).get("inventoryItem") or {}).get("id") for k in stock}
            if any(not item_gid for item_gid in items_by_key.values()):
                whole.add(i)
                continue
            inputs = {k: {"id": known[k], **values} for k, values in prices.items()}
            for key, tracked in [*((k, True) for k in stock), *((k, False) for k in untracked)]:
                node = nodes.get(known[key]) or {}
                if ((node.get("inventoryItem") or {}).get("tracked") is True) != tracked:
                    # a store that takes stock alone starts or stops tracking when the catalog does
                    inputs.setdefault(key, {"id": known[key]})["inventoryItem"] = {"tracked": tracked}
            if inputs:
                sent = list(inputs.values())
                try:
                    answer = self.update_variants(gid, sent)
                except StoreError as err:
                    if _is_gone(err) or err.code == "PRODUCT_VARIANT_DOES_NOT_EXIST":
                        whole.add(i)
                    else:
                        results[i] = ItemResult(item.product.pk, error=err)
                    continue
                for variant in answer:
                    node = nodes.get(str(variant.get("id")))
                    if node is not None:
                        node.update(price=variant.get("price"), compareAtPrice=variant.get("compareAtPrice"))
                for key, values in inputs.items():
                    node = nodes.get(known[key])
                    if node is not None and "inventoryItem" in values:
                        node["inventoryItem"] = {**(node.get("inventoryItem") or {}), **values["inventoryItem"]}
            if stock:
                quantities[i] = [(items_by_key[k], location, quantity) for k, (location, quantity) in stock.items()]
        self._set_quantities(items, quantities, results, whole)
        for i, item in enumerate(items):
            if results[i] is not None or i in whole:
                continue
            known = item.bound
            by_location: dict[str, dict[str, int]] = {}
            for key, value in (item.groups.get("stock") or {}).items():
                if value is not None and known.get(key):
                    by_location.setdefault(value[0], {})[known[key]] = int(value[1])
            for location, quantities in by_location.items():
                # the level at our location, as a whole write notes it (inventoryQuantity is every location's total)
                note_stock(snapshots[i], location, quantities)
            results[i] = item.written(snapshots[i])
        self.write_whole(items, whole, results)
        return results

    def _set_quantities(self, items: list[FieldUpdate], quantities: dict[int, list], results: list,
                        whole: set[int]) -> None:
        """Send ``quantities`` (item index → triples) in shared calls; isolate a refused call per product."""
        pending = [i for i in quantities if results[i] is None and i not in whole]
        calls: list[list[int]] = []
        for i in pending:
            if calls and sum(len(quantities[j]) for j in calls[-1]) + len(quantities[i]) <= MAX_INPUT_ITEMS:
                calls[-1].append(i)
            else:
                calls.append([i])
        for group in calls:
            try:
                self.set_inventory([q for i in group for q in quantities[i]])
                continue
            except Rejected:
                pass  # all or nothing: send each product alone to find the refused one
            except StoreError as err:
                for i in group:
                    results[i] = ItemResult(items[i].product.pk, error=err)
                continue
            for i in group:
                try:
                    self.set_inventory(quantities[i])
                except StoreError as err:
                    if err.code != "ITEM_NOT_STOCKED_AT_LOCATION":
                        results[i] = ItemResult(items[i].product.pk, error=err)
                        continue
                    try:  # stock the items there first (shopify.dev inventoryActivate), then set again
                        for item_gid, location, quantity in quantities[i]:
                            self.activate_inventory(item_gid, location, available=quantity)
                        self.set_inventory(quantities[i])
                    except StoreError as again:
                        if items[i].allow_whole:
                            whole.add(i)
                        else:
                            results[i] = ItemResult(items[i].product.pk, error=again)  # the store's own reason

    # ------------------------------------------------------------------ bulk export

    def start_bulk_export(self, query: str = BULK_PRODUCTS_QUERY) -> str:
        """Start ``bulkOperationRunQuery`` (one at a time per shop — shopify.dev); returns the operation GID."""
        data = self.client.graphql(BULK_RUN, {"query": query}, cost=MUTATION_COST + 1)
        operation = (data.get("bulkOperationRunQuery") or {}).get("bulkOperation") or {}
        if not operation.get("id"):
            raise Transient("bulkOperationRunQuery answered without an operation", status=200,
                         code="no_operation")
        return str(operation["id"])

    def bulk_export_status(self, operation_id: str) -> dict:
        """``{id, status: CREATED|RUNNING|COMPLETED|FAILED|CANCELED|…, errorCode, objectCount, url, partialDataUrl}``."""
        data = self.client.graphql(BULK_STATUS, {"id": operation_id}, cost=1)
        node = data.get("node")
        if not isinstance(node, dict):
            raise NotFound(f"bulk operation {operation_id} not found", status=200, code="not_found")
        return node

    def bulk_export(self, query: str = BULK_PRODUCTS_QUERY, *, poll_every: float = 2.0,
                    timeout: float = 3600.0) -> Iterator[dict]:
        """Run a bulk export and yield its JSONL lines as dicts (children carry ``__parentId``).

        Polls every ``poll_every`` seconds for up to ``timeout`` seconds. The
        result URL is a signed download on Shopify's storage host: it is
        fetched *without* the access token. ``FAILED``/``CANCELED``/``EXPIRED``
        → ``Transient`` naming the ``errorCode``; a timeout → ``Transient``.
        """
        operation_id = self.start_bulk_export(query)
        deadline = time.monotonic() + timeout
        while True:
            status = self.bulk_export_status(operation_id)
            state = str(status.get("status") or "")
            if state == "COMPLETED":
                break
            if state in ("FAILED", "CANCELED", "CANCELING", "EXPIRED"):
                raise Transient(f"bulk export {operation_id} {state.lower()}: {status.get('errorCode') or ''}",
                             status=200, code=str(status.get("errorCode") or state))
            if time.monotonic() >= deadline:
                raise Transient(f"bulk export {operation_id} still {state.lower()} after {timeout:g}s",
                             status=None, code="timeout")
            time.sleep(poll_every)
        url = status.get("url")
        if not url:  # COMPLETED with no objects: Shopify gives no file
            return
        try:
            with httpx.Client(timeout=httpx.Timeout(self.client.timeout), follow_redirects=True) as download:
                with download.stream("GET", url) as response:
                    if response.status_code >= 300:
                        raise http_error(response.status_code, None, fallback=f"bulk export download: HTTP "
                                                                              f"{response.status_code}")
                    for line in response.iter_lines():
                        if line.strip():
                            try:
                                yield jsonlib.loads(line)
                            except ValueError as exc:
                                raise Transient(f"bulk export line is not JSON: {line[:120]!r}",
                                             status=response.status_code, code="bad_json") from exc
        except httpx.TimeoutException as exc:
            raise Transient(f"bulk export download timed out: {exc}", status=None, code="timeout") from exc
        except httpx.RequestError as exc:
            raise Transient(f"bulk export download failed: {exc}", status=None, code="network") from exc


__all__ = [
    "API_VERSION", "GRAPHQL_LIMITS", "RestAnswer", "ShopifyClient", "ShopifyPlugin", "estimate_cost",
    "note_stock", "numeric_id", "parse_call_limit", "product_gid", "throttle_wait", "verify_webhook",
]
