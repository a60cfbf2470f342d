"""The HTTP side of the Shopify emulator: routing, authentication, rate limits, faults, the control routes."""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, unquote, urlsplit

from stores.emulators.faults import FaultPlan, FaultState, html_error, truncate
from .graphql_api import GraphQLApi, read_request
from .limits import CallBucket, CostBucket, plan_for
from .rest_api import WRITES, RestApi, RestRequest
from .shop import Shop, State, parse_gid
from .webhooks import WebhookAttempt, WebhookSender

log = logging.getLogger("stores.emulators.shopify")

SUPPORTED_VERSIONS = ("2024-10", "2025-01", "2025-04", "2025-07", "2025-10", "2026-01", "unstable")
AUTH_ERROR = "[API] Invalid API key or access token (unrecognized login or wrong password)"
_API_PATH = re.compile(r"^/admin/api/(?P<version>[^/]+)/(?P<resource>.+)\.json$")
_CONTROL_PRODUCT = re.compile(r"^/__emulator__/products/(?P<id>\d+)/?$")


class ThrottleEvent(NamedTuple):
    """One throttled answer: ``kind`` is ``"rest_429"`` (bucket full), ``"graphql_throttled"`` (cost bucket
    short) or ``"fault_429"`` (a 429 burst from the fault plan)."""

    at: float
    method: str
    path: str
    kind: str


@dataclass
class _Answer:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False  # close the connection without answering


def _json(body: Any) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "cloudflare"
    sys_version = ""
    disable_nagle_algorithm = True

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._serve()

    def do_POST(self) -> None:  # noqa: N802
        self._serve()

    def do_PUT(self) -> None:  # noqa: N802
        self._serve()

    def do_DELETE(self) -> None:  # noqa: N802
        self._serve()

    def _read_body(self) -> bytes:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        return self.rfile.read(length) if length > 0 else b""

    def _serve(self) -> None:
        emulator: ShopifyEmulator = self.server.emulator  # type: ignore[attr-defined]
        body = self._read_body()
        target = urlsplit(self.path)
        path = unquote(target.path)
        if path.startswith("/__emulator__/"):
            answer = emulator._control(self.command, path, body)
        else:
            answer = emulator._api_call(self.command, path, target.query, self.headers, body)
        if answer.drop:
            self.close_connection = True
            return
        self.send_response(answer.status)
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        self.wfile.write(answer.body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        log.debug("%s " + format, self.address_string(), *args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


class ShopifyEmulator:
    """A running Shopify Admin API emulator (see the package docstring for the whole contract)."""

    def __init__(self, *, host: str, port: int, access_token: str, plan: str, api_version: str,
                 state_path, faults: FaultPlan | None, webhook_secret: str, shop: str):
        if api_version not in SUPPORTED_VERSIONS:
            raise ValueError(f"unsupported API version {api_version!r}; choose one of {', '.join(SUPPORTED_VERSIONS)}")
        self.plan = plan_for(plan)
        self.access_token = access_token
        self.api_version = api_version
        self.webhook_secret = webhook_secret
        self.shop_domain = f"{shop}.myshopify.com"
        self._shop = Shop(State(state_path), domain=self.shop_domain, name=shop,
                          plan_name=self.plan.plan_name, plan_display_name=self.plan.display_name)
        self._rest_bucket = CallBucket(self.plan.rest_bucket, self.plan.rest_leak)
        self._cost_bucket = CostBucket(self.plan.graphql_maximum, self.plan.graphql_restore)
        self._graphql = GraphQLApi(self._shop, self._cost_bucket)
        self._rest = RestApi(self._shop)
        self._webhooks = WebhookSender(secret=webhook_secret, shop_domain=self.shop_domain)
        self._faults = FaultState()
        self._faults.set(faults)
        self._stopping = threading.Event()
        self._log_lock = threading.Lock()
        self.request_log: list[tuple[str, str, str | None]] = []
        self.throttle_log: list[ThrottleEvent] = []
        self._server = _Server((host, port), _Handler)
        self._server.emulator = self  # type: ignore[attr-defined]
        bound_port = self._server.server_address[1]
        shown_host = "127.0.0.1" if host in ("", "0.0.0.0") else host  # noqa: S104 - a display name only
        self.base_url = f"http://{shown_host}:{bound_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"shopify-emulator:{bound_port}", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ public API

    @property
    def api_url(self) -> str:
        """``<base_url>/admin/api/<version>``: REST resources hang below it, GraphQL is ``/graphql.json``."""
        return f"{self.base_url}/admin/api/{self.api_version}"

    @property
    def graphql_url(self) -> str:
        return f"{self.api_url}/graphql.json"

    @property
    def webhook_log(self) -> list[WebhookAttempt]:
        """Every webhook delivery attempt so far, oldest first."""
        return list(self._webhooks.log)

    @property
    def faults_injected(self) -> list[tuple[str, str, str]]:
        """``(method, path, kind)`` of every call a fault answered (``outage``, ``burst_429``, ``error``,
        ``timeout``, ``lost_answer``, ``malformed``)."""
        with self._faults.lock:
            return list(self._faults.injected)

    def set_faults(self, plan: FaultPlan | None) -> None:
        """Put ``plan`` in force from now on (``None``: no faults); its RNG and outage clock restart."""
        self._faults.set(plan)

    def products(self) -> list[dict]:
        """Every stored product by id, in the REST shape; each variant also has ``inventory_levels``
        (``[{"location_id", "available"}]``)."""
        with self._shop.lock:
            out = []
            for product in self._shop.products():
                item = self._shop.rest_product(product)
                for variant in item["variants"]:
                    variant["inventory_levels"] = [
                        {"location_id": lv["location_id"], "available": lv["available"]}
                        for lv in self._shop.levels_of_item(variant["inventory_item_id"])]
                out.append(item)
            return out

    def locations(self) -> list[dict]:
        """The shop's locations in the REST shape; the first is the primary one."""
        with self._shop.lock:
            return [self._shop.rest_location(loc) for loc in self._shop.locations()]

    def add_location(self, name: str, **address: Any) -> dict:
        """A shop owner adds a location (Settings → Locations); sends ``locations/create``. Returns it in the
        REST shape. ``address`` keys: ``address1``, ``city``, ``zip``, ``province``, ``country_code``…"""
        with self._shop.lock:
            location = self._shop.add_location(name, **address)
            self._shop.save()
            payload = self._shop.rest_location(location)
            self._notify("locations/create", payload)
        return payload

    def edit_location(self, location_id: int | str, *, name: str | None = None, active: bool | None = None) -> dict:
        """A shop owner renames and/or deactivates (``active=False``) or reactivates a location; sends
        ``locations/update``. Deactivating drops the stock held there; the primary location cannot be
        deactivated (``ValueError``). ``location_id``: a number or a Location GID."""
        with self._shop.lock:
            location = self._shop.edit_location(self._location_number(location_id), name=name, active=active)
            self._shop.save()
            payload = self._shop.rest_location(location)
            self._notify("locations/update", payload)
        return payload

    def delete_location(self, location_id: int | str) -> None:
        """A shop owner deletes a deactivated location; sends ``locations/delete`` (body ``{"id": n}``)."""
        number = self._location_number(location_id)
        with self._shop.lock:
            self._shop.delete_location(number)
            self._shop.save()
            self._notify("locations/delete", {"id": number})

    def edit_product(self, product_id: int | str, **changes: Any) -> dict:
        """A shop owner's edit in the Shopify admin; sends ``products/update`` to every subscription.

        ``product_id`` is a number or a ``gid://shopify/Product/<n>``;
        ``changes`` as ``Shop.owner_edit`` documents them (``title``,
        ``vendor``, ``tags``, ``status``, ``variants=[{"id", "price", ...}]``
        ...). Returns the product in the REST shape (the webhook's body).
        Raises ``KeyError`` for an unknown product, ``ValueError`` for a bad change.
        """
        number = self._product_number(product_id)
        with self._shop.lock:
            product = self._shop.product(number)
            if product is None:
                raise KeyError(f"no product {product_id}")
            self._shop.owner_edit(product, changes)
            self._shop.save()
            payload = self._shop.rest_product(product)
            self._notify("products/update", payload)
        return payload

    def delete_product(self, product_id: int | str) -> None:
        """A shop owner deletes a product in the admin; sends ``products/delete`` (body ``{"id": n}``)."""
        number = self._product_number(product_id)
        with self._shop.lock:
            product = self._shop.product(number)
            if product is None:
                raise KeyError(f"no product {product_id}")
            self._shop.delete_product(product)
            self._shop.save()
            self._notify("products/delete", {"id": number})

    def flush_webhooks(self, timeout: float = 10.0) -> bool:
        """Wait until every queued webhook has been attempted; ``False`` when ``timeout`` ran out first."""
        return self._webhooks.flush(timeout)

    def reset_log(self) -> None:
        """Forget the requests and throttled answers recorded so far."""
        with self._log_lock:
            self.request_log.clear()
            self.throttle_log.clear()

    def stop(self) -> None:
        """Stop serving, release held connections and the port, end the webhook thread."""
        self._stopping.set()
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        self._webhooks.stop()

    def __enter__(self) -> ShopifyEmulator:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # ------------------------------------------------------------------ internals

    @staticmethod
    def _product_number(product_id: int | str) -> int | None:
        if isinstance(product_id, int):
            return product_id
        if isinstance(product_id, str) and product_id.isdigit():
            return int(product_id)
        return parse_gid(product_id, "Product")

    @staticmethod
    def _location_number(location_id: int | str) -> int | None:
        if isinstance(location_id, int):
            return location_id
        if isinstance(location_id, str) and location_id.isdigit():
            return int(location_id)
        return parse_gid(location_id, "Location")

    def _notify(self, topic: str, payload: dict) -> None:
        subscriptions = [w for w in self._shop.data["webhooks"].values() if w["topic"] == topic]
        if subscriptions:
            self._webhooks.send(topic, payload, sorted(subscriptions, key=lambda w: w["id"]))

    def _record(self, method: str, path: str, operation: str | None) -> None:
        with self._log_lock:
            self.request_log.append((method, path, operation))

    def _throttled(self, method: str, path: str, kind: str) -> None:
        with self._log_lock:
            self.throttle_log.append(ThrottleEvent(time.time(), method, path, kind))

    def _base_headers(self, version: str) -> dict[str, str]:
        return {"Content-Type": "application/json; charset=utf-8", "X-Shopify-API-Version": version,
                "X-Request-Id": str(uuid.uuid4())}

    def _api_call(self, method: str, path: str, query: str, headers, body: bytes) -> _Answer:
        match = _API_PATH.match(path)
        if not match or not re.match(r"^(\d{4}-\d{2}|unstable)$", match.group("version")):
            return _Answer(404, _json({"errors": "Not Found"}), {"Content-Type": "application/json; charset=utf-8"})
        # an unknown or retired version is served by the emulator's own (Shopify falls back to a supported one
        # and says which in X-Shopify-API-Version)
        version = match.group("version") if match.group("version") in SUPPORTED_VERSIONS else self.api_version
        resource = match.group("resource")
        is_graphql = resource == "graphql"
        parsed = None
        if is_graphql and method == "POST":
            content_type = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
            parsed = read_request(body, content_type)
        is_write = parsed.is_write if parsed is not None else (method in WRITES and not is_graphql)
        self._record(method, path, parsed.log_name if parsed is not None else None)

        decision = self._faults.decide(is_write=is_write)
        if decision.latency:
            self._stopping.wait(decision.latency)
        if decision.kind is not None:
            self._faults.record(method, path, decision.kind)
            return self._fault_answer(decision, method, path, version, is_graphql)

        if headers.get("X-Shopify-Access-Token") != self.access_token:
            return _Answer(401, _json({"errors": AUTH_ERROR}), self._base_headers(version))

        if is_graphql:
            answer = self._graphql_call(method, path, parsed, version, dry_run=decision.malform and is_write)
        else:
            answer = self._rest_call(method, path, resource, query, body, version,
                                     dry_run=decision.malform and is_write)
        if decision.lose_answer:
            self._faults.record(method, path, "lost_answer")
            return _Answer(502, html_error(502), {"Content-Type": "text/html"})
        if decision.malform:
            self._faults.record(method, path, "malformed")
            answer.body = truncate(answer.body)
        return answer

    def _fault_answer(self, decision, method: str, path: str, version: str, is_graphql: bool) -> _Answer:
        if decision.kind == "outage":
            return _Answer(503, html_error(503), {"Content-Type": "text/html"})
        if decision.kind == "error":
            return _Answer(decision.status, html_error(decision.status), {"Content-Type": "text/html"})
        if decision.kind == "timeout":
            self._stopping.wait(decision.hang_seconds)
            return _Answer(0, b"", drop=True)
        # a 429 burst
        self._throttled(method, path, "fault_429")
        headers = self._base_headers(version) | {"Retry-After": "2.0"}
        if is_graphql:
            body = {"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}]}
        else:
            body = {"errors": self._rest_limit_message()}
            headers["X-Shopify-Shop-Api-Call-Limit"] = f"{self._rest_bucket.size}/{self._rest_bucket.size}"
        return _Answer(429, _json(body), headers)

    def _rest_limit_message(self) -> str:
        return (f"Exceeded {self.plan.rest_leak:g} calls per second for api client. "
                "Reduce request rates to resume uninterrupted service.")

    def _graphql_call(self, method: str, path: str, parsed, version: str, *, dry_run: bool) -> _Answer:
        headers = self._base_headers(version)
        if method != "POST":
            return _Answer(406, _json({"errors": "Not Acceptable"}), headers)
        with self._shop.lock:
            snapshot = self._shop.snapshot() if dry_run else None
            body, throttled = self._graphql.respond(parsed, version)
            if snapshot is not None:
                self._shop.restore(snapshot)
        if throttled:
            self._throttled(method, path, "graphql_throttled")
        return _Answer(200, _json(body), headers)

    def _rest_call(self, method: str, path: str, resource: str, query: str, body: bytes, version: str,
                   *, dry_run: bool) -> _Answer:
        headers = self._base_headers(version)
        accepted, used = self._rest_bucket.add()
        headers["X-Shopify-Shop-Api-Call-Limit"] = f"{used}/{self._rest_bucket.size}"
        if not accepted:
            self._throttled(method, path, "rest_429")
            headers["Retry-After"] = "2.0"
            return _Answer(429, _json({"errors": self._rest_limit_message()}), headers)
        payload = None
        if body.strip():
            try:
                payload = json.loads(body.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                return _Answer(400, _json({"errors": {"base": ["invalid JSON in request body"]}}), headers)
        request = RestRequest(method=method, resource=resource, query=parse_qsl(query, keep_blank_values=True),
                              body=payload, api_version=version, base_url=self.base_url)
        with self._shop.lock:
            snapshot = self._shop.snapshot() if dry_run else None
            response, _changed = self._rest.respond(request)
            if snapshot is not None:
                self._shop.restore(snapshot)
        headers.update(response.headers)
        return _Answer(response.status, _json(response.body), headers)

    def _control(self, method: str, path: str, body: bytes) -> _Answer:
        """``POST /__emulator__/products/<id>`` (JSON changes: an owner's edit), ``DELETE`` the same path
        (an owner's delete), ``GET /__emulator__/webhooks`` (the delivery log)."""
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if path.rstrip("/") == "/__emulator__/webhooks" and method == "GET":
            attempts = [{"webhook_id": a.webhook_id, "topic": a.topic, "address": a.address, "status": a.status,
                         "error": a.error, "seconds": round(a.seconds, 3)} for a in self.webhook_log]
            return _Answer(200, _json({"attempts": attempts}), headers)
        match = _CONTROL_PRODUCT.match(path)
        if not match or method not in ("POST", "DELETE"):
            return _Answer(404, _json({"errors": "Not Found"}), headers)
        number = int(match.group("id"))
        try:
            if method == "DELETE":
                self.delete_product(number)
                return _Answer(200, _json({}), headers)
            changes = json.loads(body.decode("utf-8") or "{}")
            if not isinstance(changes, dict):
                raise ValueError("the body must be a JSON object of changes")
            product = self.edit_product(number, **changes)
        except KeyError:
            return _Answer(404, _json({"errors": "Not Found"}), headers)
        except (ValueError, UnicodeDecodeError) as exc:
            return _Answer(422, _json({"errors": str(exc)}), headers)
        return _Answer(200, _json({"product": product}), headers)
