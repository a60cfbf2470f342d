"""``ShopifyClient``: the Admin API over httpx (GraphQL first, REST where cheap), every call through the
store's ``CallGate``; the rate-limit answers it reads (``X-Shopify-Shop-Api-Call-Limit``,
``extensions.cost.throttleStatus``) and the typed ``StoreError`` each error answer becomes (see the package
docstring for the facts and their sources)."""

from __future__ import annotations

import json as jsonlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

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

from .queries import MAX_PAGE, estimate_cost

API_VERSION = "2025-07"
USER_AGENT = "FlashFusion-Shopify/1.0 (+httpx)"


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
