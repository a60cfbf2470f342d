"""``WooCommerceClient``: the REST API v3 over httpx (HTTP Basic over HTTPS, OAuth 1.0a over HTTP, every
request through the store's ``CallGate``), with paging and batches; and the typed ``StoreError`` each error
answer becomes (see the package docstring for the facts and their sources)."""

from __future__ import annotations

import json as jsonlib
from collections.abc import Iterable, Iterator, Sequence
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import httpx
from oauthlib.oauth1 import SIGNATURE_HMAC_SHA1, SIGNATURE_TYPE_QUERY
from oauthlib.oauth1 import Client as OAuth1Client

from stores.plugins import (
    AuthFailed,
    CallGate,
    NotFound,
    OpenGate,
    RateLimited,
    Rejected,
    StoreError,
    Transient,
    parse_retry_after,
)

API_PREFIX = "/wp-json/wc/v3/"
MAX_BATCH_ITEMS = 100  # per WooCommerce REST docs; 101 answers 413 (seen on 7.9.0)
MAX_PER_PAGE = 100  # per WordPress REST handbook; 101 answers 400 rest_invalid_param (seen)

USER_AGENT = "FlashFusion-WooCommerce/1.0 (+httpx)"


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


def _as_id(value: Any) -> int | None:
    try:
        number = int(str(value))
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None
