"""The public API: a running emulator (``WooCommerceEmulator``) and ``start_emulator``."""

from __future__ import annotations

import copy
import json
import os
import threading
from typing import Any

from stores.emulators.faults import FaultPlan, FaultState

from .api import _Api
from .constants import API_ROOT, CONTROL_PREFIX, NAMESPACE, PRODUCT, VARIATION
from .errors import RestError
from .schema import PRODUCT_ARGS, VARIATION_ARGS, _check_args
from .server import _Handler, _Server
from .state import _State
from .wire import _Context, _json_bytes, _json_params, _Request


class WooCommerceEmulator:
    """A running emulator: the HTTP server thread, the shop's state and a request log.

    ``base_url`` is the site root (``http://127.0.0.1:<port>``); the API is at
    ``base_url + "/wp-json/wc/v3/"``. ``request_log`` holds ``(method, path)``
    for every request under ``/wp-json`` (method as sent, path decoded and
    without the query string), e.g. ``("POST", "/wp-json/wc/v3/products/batch")``.
    Usable as a context manager; ``stop()`` shuts the server down.
    """

    def __init__(self, *, host: str, port: int, consumer_key: str, consumer_secret: str,
                 state_path: str | os.PathLike | None, faults: FaultPlan | dict | None = None):
        self.consumer_key = consumer_key
        self.consumer_secret = consumer_secret
        self._stopping = threading.Event()
        self._faults = FaultState()
        self.set_faults(faults)
        self._state = _State(state_path)
        self._server = _Server((host, port), _Handler)
        self._server.emulator = self  # type: ignore[attr-defined]
        bound_port = self._server.server_address[1]
        shown_host = "127.0.0.1" if host in ("", "0.0.0.0") else host  # noqa: S104 - a display name only
        self.base_url = f"http://{shown_host}:{bound_port}"
        self._api = _Api(self._state, self.base_url, consumer_key, consumer_secret)
        self._log_lock = threading.Lock()
        self.request_log: list[tuple[str, str]] = []
        # a short poll interval makes stop() quick (shutdown() waits for the next poll)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"woo-emulator:{bound_port}", daemon=True)
        self._thread.start()

    @property
    def api_url(self) -> str:
        """``base_url + "/wp-json/wc/v3/"``."""
        return f"{self.base_url}{API_ROOT}/{NAMESPACE}/"

    def _record(self, method: str, path: str) -> None:
        with self._log_lock:
            self.request_log.append((method, path))

    def reset_log(self) -> None:
        """Forget the requests recorded so far."""
        with self._log_lock:
            self.request_log.clear()

    def products(self) -> list[dict]:
        """Every stored product (trashed ones too), by id, as ``GET /products/<id>`` shows it.

        Each dict also has ``variation_details``: its variations (any
        status) as ``GET /products/<id>/variations`` shows them, by menu
        order then id. Variations are not listed on their own.
        """
        with self._state.lock:
            shop = self._api.shop
            out = []
            for post in sorted(self._state.posts(PRODUCT), key=lambda p: p["id"]):
                item = shop.render_product(post, _Context())
                variations = [v for v in self._state.posts(VARIATION) if v["parent_id"] == post["id"]]
                item["variation_details"] = [shop.render_variation(v, _Context("view", post["id"]))
                                             for v in sorted(variations, key=lambda v: (v["menu_order"], v["id"]))]
                out.append(item)
            return out

    # -- shop-side edits and webhooks out

    def edit_product(self, product_id: int, **changes: Any) -> dict:
        """A shop-side edit, as when the shop owner saves a product (or a variation) in wp-admin.

        ``changes`` are fields of the v3 product (or variation) schema, e.g.
        ``regular_price="18.00"``, ``name="…"``, ``stock_quantity=3``,
        validated as the REST API validates them. The product is saved with
        WooCommerce's rules, then every active ``product.updated`` webhook
        gets a delivery from the background thread (see ``_Webhooks``).
        Returns the saved product as ``GET /products/<id>?context=edit``
        answers. Raises ``RestError`` (404 unknown id, 400 invalid value);
        nothing is changed then.
        """
        params = dict(changes)
        shop = self._api.shop
        with self._state.lock:
            post = shop.any_product(product_id)
            if post is None:
                raise RestError("woocommerce_rest_product_invalid_id", "Invalid ID.", 404)
            if post["post_type"] == VARIATION:
                _check_args(params, VARIATION_ARGS)
                params["product_id"] = post["parent_id"]
                saved = shop.save_variation(params, post)
                body = shop.render_variation(saved, _Context("edit", saved["parent_id"]))
            else:
                _check_args(params, PRODUCT_ARGS)
                saved = shop.save_product(params, post)
                body = shop.render_product(saved, _Context("edit"))
            self._state.save()
            self._api.webhooks.resource_changed("updated", saved["id"])
        return body

    def webhooks(self) -> list[dict]:
        """Every stored webhook as kept (secret, failure count and pending ping included), by id."""
        with self._state.lock:
            return [copy.deepcopy(h) for h in sorted(self._api.webhooks.all(), key=lambda h: h["id"])]

    @property
    def webhook_deliveries(self) -> list[dict]:
        """Pings and deliveries sent so far, oldest first (see ``_Webhooks.deliveries``)."""
        with self._api.webhooks._cond:
            return list(self._api.webhooks.deliveries)

    def flush_webhooks(self, timeout: float = 10.0) -> bool:
        """Wait until every queued ping and delivery was sent; False when ``timeout`` seconds passed first."""
        return self._api.webhooks.flush(timeout)

    # -- fault injection

    def set_faults(self, faults: FaultPlan | dict | None) -> None:
        """Misbehave from now on as ``faults`` says (a ``FaultPlan`` or its dict); None behaves again.

        The outage window and the first 429 burst count from this call.
        Faults apply to the REST API (``/wp-json/…``) only, never to the
        ``/__emulator__/`` control routes. A 5xx of 500 is WordPress's JSON
        "critical error" answer; 429, 502, 503 and 504 are a proxy's HTML
        page; a malformed answer is a PHP warning before a cut-off body.
        """
        if isinstance(faults, dict):
            faults = FaultPlan.from_dict(faults)
        self._faults.set(faults if faults is not None and faults.active else None)

    @property
    def fault_counts(self) -> dict[str, int]:
        """Faults injected since the emulator started, by kind (see ``FaultState.counts``)."""
        return self._faults.counts()

    def _control(self, request: _Request) -> tuple[int, bytes]:
        """The emulator's own routes (no authentication, never faulted)::

            POST /__emulator__/products/<id>   JSON changes → edit_product → the product
            GET  /__emulator__/faults          → {"plan": …|null, "counts": {…}}
            POST /__emulator__/faults          JSON FaultPlan fields ({} or null: no faults)
            GET  /__emulator__/webhooks        → webhook deliveries sent so far
        """
        parts = [p for p in request.path[len(CONTROL_PREFIX):].split("/") if p]
        method = request.http_method
        try:
            if len(parts) == 2 and parts[0] == "products" and parts[1].isdigit() and method == "POST":
                return 200, _json_bytes(self.edit_product(int(parts[1]), **_json_params(request.body)))
            if parts == ["faults"] and method in ("GET", "POST"):
                if method == "POST":
                    data = json.loads(request.body.decode("utf-8") or "null")
                    self.set_faults(data or None)
                plan = self._faults.plan
                return 200, _json_bytes({"plan": plan.to_dict() if plan else None, "counts": self.fault_counts})
            if parts == ["webhooks"] and method == "GET":
                return 200, _json_bytes(self.webhook_deliveries)
        except RestError as error:
            return error.status, _json_bytes(error.body())
        except (ValueError, TypeError) as error:
            return 400, _json_bytes({"code": "emulator_invalid_request", "message": str(error),
                                     "data": {"status": 400}})
        return 404, _json_bytes({"code": "emulator_no_route", "message": "No emulator route matches.",
                                 "data": {"status": 404}})

    def stop(self) -> None:
        """Stop serving and release the port; the state file (if any) already holds every change."""
        self._stopping.set()
        self._api.webhooks.stop()
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> WooCommerceEmulator:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def start_emulator(*, host: str = "127.0.0.1", port: int = 0, consumer_key: str = "ck_demo",
                   consumer_secret: str = "cs_demo",
                   state_path: str | os.PathLike | None = None,
                   faults: FaultPlan | dict | None = None) -> WooCommerceEmulator:
    """Start a WooCommerce REST API v3 emulator in a daemon thread and return it.

    ``port=0`` picks a free port (read it from ``.base_url``). With
    ``state_path`` the shop is loaded from that JSON file when it exists and
    written back atomically after every change, so it survives restarts;
    without it the shop lives in memory only. The one API key has read/write
    permission. ``faults`` (a ``stores.emulators.faults.FaultPlan`` or its
    dict) makes it misbehave from the start; change it later with
    ``set_faults``.
    """
    return WooCommerceEmulator(host=host, port=port, consumer_key=consumer_key, consumer_secret=consumer_secret,
                               state_path=state_path, faults=faults)
