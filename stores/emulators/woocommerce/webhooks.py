"""Webhooks: their REST routes, their storage, and the deliveries they send out."""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import logging
import math
import secrets
import threading
import time
from collections import deque
from typing import Any
from urllib.parse import urlsplit

from .constants import API_ROOT, MAX_PER_PAGE, NAMESPACE
from .errors import RestError
from .php import _absint, _intval, _iso, _now, _php_str, _php_truthy, _sanitize_text_field
from .schema import _STRING, CONTEXT_ARGS, DELETE_ARGS, _check_args, _enum
from .shop import _Shop
from .state import _State
from .wire import _Context, _json_bytes, _Request, _Response

log = logging.getLogger("stores.emulators.woocommerce")


WC_VERSION, WP_VERSION = "7.9.0", "6.1"
HOOKSHOT_AGENT = f"WooCommerce/{WC_VERSION} Hookshot (WordPress/{WP_VERSION})"  # WC_Webhook::deliver (source)
WEBHOOK_STATUSES = ("active", "paused", "disabled")  # wc_get_webhook_statuses() (source)
WEBHOOK_RESOURCES = ("coupon", "customer", "order", "product")  # woocommerce_valid_webhook_resources (source)
WEBHOOK_EVENTS = ("created", "updated", "deleted", "restored")  # woocommerce_valid_webhook_events (source)
MAX_DELIVERY_FAILURES = 5  # woocommerce_max_webhook_delivery_failures (source: WC_Webhook::failed_delivery)
WEBHOOK_TIMEOUT = 60.0  # seconds: MINUTE_IN_SECONDS in WC_Webhook::deliver (source)

# WC_Webhook::get_topic_hooks (source); the emulator fires the product ones.
WEBHOOK_HOOKS = {
    "coupon.created": ["woocommerce_process_shop_coupon_meta", "woocommerce_new_coupon"],
    "coupon.updated": ["woocommerce_process_shop_coupon_meta", "woocommerce_update_coupon"],
    "coupon.deleted": ["wp_trash_post"],
    "coupon.restored": ["untrashed_post"],
    "customer.created": ["user_register", "woocommerce_created_customer", "woocommerce_new_customer"],
    "customer.updated": ["profile_update", "woocommerce_update_customer"],
    "customer.deleted": ["delete_user"],
    "order.created": ["woocommerce_new_order"],
    "order.updated": ["woocommerce_update_order", "woocommerce_order_refunded"],
    "order.deleted": ["wp_trash_post"],
    "order.restored": ["untrashed_post"],
    "product.created": ["woocommerce_process_product_meta", "woocommerce_new_product",
                        "woocommerce_new_product_variation"],
    "product.updated": ["woocommerce_process_product_meta", "woocommerce_update_product",
                        "woocommerce_update_product_variation"],
    "product.deleted": ["wp_trash_post"],
    "product.restored": ["untrashed_post"],
}
WEBHOOK_ARGS: tuple[tuple[str, dict], ...] = (
    ("name", _STRING), ("status", _enum(WEBHOOK_STATUSES)), ("topic", _STRING), ("secret", _STRING),
    ("delivery_url", _STRING),
)
WEBHOOK_LIST_ARGS: tuple[tuple[str, dict], ...] = (
    ("context", _enum(("view", "edit"))),
    ("page", {"type": "integer", "minimum": 1}),
    ("per_page", {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE}),
    ("status", _enum(("all", *WEBHOOK_STATUSES))),
)
WEBHOOK_LIST_DEFAULTS = {"context": "view", "page": 1, "per_page": 10, "status": "all"}
_NOT_A_TOPIC = ("action.woocommerce_login_credentials",
                "action.woocommerce_product_csv_importer_check_import_file_path",
                "action.woocommerce_webhook_should_deliver")


def _valid_webhook_topic(topic: str) -> bool:
    """``wc_is_webhook_valid_topic`` (source): ``<resource>.<event>`` from the core lists,
    or ``action.woocommerce_*`` / ``action.wc_*``."""
    if topic in _NOT_A_TOPIC:
        return False
    if topic.startswith(("action.woocommerce_", "action.wc_")):
        return True
    resource, dot, event = topic.partition(".")
    return bool(dot) and resource in WEBHOOK_RESOURCES and event in WEBHOOK_EVENTS


def _valid_delivery_url(url: str) -> bool:
    """``wc_is_valid_url``: starts with http:// or https:// and passes ``FILTER_VALIDATE_URL`` (source)."""
    if not url.startswith(("http://", "https://")):
        return False
    parts = urlsplit(url)
    return bool(parts.hostname) and " " not in url


def _topic_hooks(topic: str) -> list[str]:
    resource, _, event = topic.partition(".")
    return [event] if resource == "action" else list(WEBHOOK_HOOKS.get(topic, []))


def webhook_signature(secret: str, body: bytes) -> str:
    """``X-WC-Webhook-Signature``: base64(HMAC-SHA256(secret, raw body)) (``WC_Webhook::generate_signature``)."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode("ascii")

class _Webhooks:
    """Webhooks out, as ``WC_Webhook`` delivers them (source: ``includes/class-wc-webhook.php``).

    Stored in the state under ``"webhooks"`` (``{"<id>": {...}}``) with ids
    from their own sequence starting at 1 (WooCommerce keeps them in their
    own table, ``wc_webhooks``; the captured delivery has ``X-WC-Webhook-ID: 1``).

    Firing: product and variation saves through the API and shop-side edits
    (``WooCommerceEmulator.edit_product``) fire ``product.created`` /
    ``product.updated`` with the saved post's id (a variation's own id, as
    ``woocommerce_new_product_variation`` / ``woocommerce_update_product_variation``
    pass it); trashing a product fires ``product.deleted`` (``wp_trash_post``).
    A permanent delete fires nothing: no product topic hooks ``delete_post``.

    Delivery is asynchronous, from one background thread, as Action
    Scheduler runs it after the request: the payload is built when it is
    sent (``GET /products/<id>`` in the view context, ``{"id": N}`` for
    ``deleted``), signed, and POSTed with the ``X-WC-Webhook-*`` headers. A
    delivery already waiting for the same webhook and resource is not queued
    twice. ``X-WC-Webhook-Delivery-ID`` is ``wp_hash(webhook id . time())``,
    so two deliveries of one webhook in the same second share it, as on a
    real site. A 2xx/301/302 answer resets the webhook's failure count;
    anything else counts a failure, and a webhook failing more than 5 times
    in a row is disabled. Creating an active webhook first sends the ping
    (form body ``webhook_id=N``, no signature; seen).

    Known differences: ``wp_safe_remote_request``'s URL rules are not
    applied (a real site refuses delivery URLs on private addresses or on
    ports other than 80, 443 and 8080 unless they are on its own host and
    port), and ``action.*`` topics never fire.
    """

    def __init__(self, state: _State, shop: _Shop, site_url: str):
        self.state = state
        self.shop = shop
        self.site_url = site_url
        self.timeout = WEBHOOK_TIMEOUT
        self._queue: deque[tuple] = deque()
        self._cond = threading.Condition()
        self._busy = False
        self._stopped = False
        self._thread: threading.Thread | None = None
        #: One entry per ping or delivery attempted: kind, webhook_id, topic, resource_id,
        #: delivery_id, url, headers, body (text), status (None when unreachable), error.
        self.deliveries: list[dict] = []

    # -- storage (callers hold state.lock)

    def _table(self) -> dict:
        return self.state.data.setdefault("webhooks", {})

    def get(self, webhook_id: Any) -> dict | None:
        return self._table().get(str(_intval(webhook_id)))

    def all(self) -> list[dict]:
        """Every webhook, newest first (the list's default order: date descending; source)."""
        return sorted(self._table().values(), key=lambda h: h["id"], reverse=True)

    def render(self, hook: dict) -> dict:
        """The v3 webhook shape (``prepare_item_for_response``; the secret is never shown; source)."""
        resource, _, event = hook["topic"].partition(".")
        api = f"{self.site_url}{API_ROOT}/{NAMESPACE}"
        return {
            "id": hook["id"], "name": hook["name"], "status": hook["status"], "topic": hook["topic"],
            "resource": resource, "event": event, "hooks": _topic_hooks(hook["topic"]),
            "delivery_url": hook["delivery_url"],
            "date_created": hook["date_created"], "date_created_gmt": hook["date_created"],
            "date_modified": hook["date_modified"], "date_modified_gmt": hook["date_modified"],
            "_links": {"self": [{"href": f"{api}/webhooks/{hook['id']}"}],
                       "collection": [{"href": f"{api}/webhooks"}]},
        }

    def create(self, params: dict) -> dict:
        """``POST /webhooks`` (v3 ``create_item``; source): topic and delivery URL must be valid."""
        if _php_truthy(params.get("id")):
            raise RestError("woocommerce_rest_shop_webhook_exists", "Cannot create existing shop_webhook.", 400)
        topic = _sanitize_text_field(params.get("topic")).lower()
        if not _valid_webhook_topic(topic):
            raise RestError("woocommerce_rest_shop_webhook_invalid_topic",
                            "Webhook topic is required and must be valid.", 400)
        url = _php_str(params.get("delivery_url")).strip()
        if not _valid_delivery_url(url):
            raise RestError("woocommerce_rest_shop_webhook_invalid_delivery_url",
                            "Webhook delivery URL must be a valid URL starting with http:// or https://.", 400)
        now = _now()
        hook_id = self.state.data.get("next_webhook_id", 1)
        self.state.data["next_webhook_id"] = hook_id + 1
        hook = {
            "id": hook_id,
            "name": _php_str(params.get("name")) or f"Webhook created on {now:%b %d, %Y @ %I:%M %p}",
            "status": params.get("status") or "active",
            "topic": topic,
            "delivery_url": url,
            "secret": _php_str(params.get("secret")) or secrets.token_urlsafe(38)[:50],
            "date_created": _iso(now), "date_modified": _iso(now),
            "failure_count": 0, "pending_delivery": True,
        }
        self._table()[str(hook_id)] = hook
        if hook["status"] == "active":
            self._enqueue(("ping", hook_id))
        return self.render(hook)

    def update(self, params: dict) -> dict:
        """``PUT /webhooks/<id>`` (v3 ``update_item``; source): only the fields given and not empty change."""
        hook = self.get(params.get("id"))
        if hook is None:
            raise RestError("woocommerce_rest_shop_webhook_invalid_id", "ID is invalid.", 400)
        if _php_truthy(params.get("topic")):
            topic = _sanitize_text_field(params["topic"]).lower()
            if not _valid_webhook_topic(topic):
                raise RestError("woocommerce_rest_shop_webhook_invalid_topic", "Webhook topic must be valid.", 400)
            hook["topic"] = topic
        if _php_truthy(params.get("delivery_url")):
            url = _php_str(params["delivery_url"]).strip()
            if not _valid_delivery_url(url):
                raise RestError("woocommerce_rest_shop_webhook_invalid_delivery_url",
                                "Webhook delivery URL must be a valid URL starting with http:// or https://.", 400)
            hook["delivery_url"] = url
        for name in ("secret", "status", "name"):
            if _php_truthy(params.get(name)):
                hook[name] = _php_str(params[name])
        if params.get("status") == "active":
            hook["failure_count"] = 0
        hook["date_modified"] = _iso(_now())
        return self.render(hook)

    def delete(self, webhook_id: Any) -> dict:
        """``DELETE /webhooks/<id>?force=true`` (source): answers the webhook as it was."""
        hook = self.get(webhook_id)
        if hook is None:
            raise RestError("woocommerce_rest_shop_webhook_invalid_id", "Invalid ID.", 404)
        body = self.render(hook)
        del self._table()[str(hook["id"])]
        return body

    def resource_changed(self, event: str, post_id: int) -> None:
        """A product or variation was saved (``created``, ``updated``) or trashed (``deleted``): queue deliveries."""
        for hook in self._table().values():
            if hook["status"] == "active" and hook["topic"] == f"product.{event}":
                self._enqueue(("deliver", hook["id"], int(post_id)))

    # -- the delivery thread

    def _enqueue(self, item: tuple) -> None:
        with self._cond:
            if self._stopped or item in self._queue:
                return
            self._queue.append(item)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="woo-emulator-webhooks", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._stopped:
                    self._cond.wait()
                if self._stopped:
                    return
                item = self._queue.popleft()
                self._busy = True
            try:
                if item[0] == "ping":
                    self._ping(item[1])
                else:
                    self._deliver(item[1], item[2])
            except Exception:  # a bug must not kill the thread that serves every later delivery
                log.exception("woocommerce emulator: webhook %s failed", item)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def flush(self, timeout: float) -> bool:
        """Wait until every queued delivery was sent; False when ``timeout`` seconds passed first."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._queue or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._queue.clear()
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=2)

    def _ping(self, hook_id: int) -> None:
        """``WC_Webhook::deliver_ping``: form body ``webhook_id=N``, no signature; a 200 clears ``pending_delivery``."""
        with self.state.lock:
            hook = self.get(hook_id)
            if hook is None:
                return
            url = hook["delivery_url"]
        body = f"webhook_id={hook_id}".encode()
        headers = {"User-Agent": HOOKSHOT_AGENT, "Content-Type": "application/x-www-form-urlencoded"}
        status, error = self._post(url, body, headers)
        if status == 200:
            with self.state.lock:
                hook = self.get(hook_id)
                if hook is not None:
                    hook["pending_delivery"] = False
                    self.state.save()
        self._record("ping", hook_id, "", 0, "", url, headers, body, status, error)

    def _deliver(self, hook_id: int, resource_id: int) -> None:
        """``WC_Webhook::deliver`` + ``log_delivery`` / ``failed_delivery`` (source)."""
        with self.state.lock:
            hook = self.get(hook_id)
            if hook is None or hook["status"] != "active":
                return
            topic = hook["topic"]
            resource, _, event = topic.partition(".")
            if event == "deleted":
                payload: Any = {"id": resource_id}
            else:
                post = self.shop.any_product(resource_id)
                if post is None:
                    log.info("woocommerce emulator: product %s is gone; %s not delivered", resource_id, topic)
                    return
                payload = self.shop.render_product(post, _Context())
            body = _json_bytes(payload).strip()
            salt = self.state.data.setdefault("webhook_salt", secrets.token_hex(32))
            delivery_id = hmac.new(salt.encode(), f"{hook_id}{int(time.time())}".encode(), hashlib.md5).hexdigest()
            url = hook["delivery_url"]
            headers = {
                "Content-Type": "application/json",
                "User-Agent": HOOKSHOT_AGENT,
                "X-WC-Webhook-Source": self.site_url + "/",
                "X-WC-Webhook-Topic": topic,
                "X-WC-Webhook-Resource": resource,
                "X-WC-Webhook-Event": event,
                "X-WC-Webhook-Signature": webhook_signature(hook["secret"], body),
                "X-WC-Webhook-ID": str(hook_id),
                "X-WC-Webhook-Delivery-ID": delivery_id,
            }
        status, error = self._post(url, body, headers)
        with self.state.lock:
            hook = self.get(hook_id)
            if hook is not None:
                if status is not None and 200 <= status < 303:
                    hook["failure_count"] = 0
                elif hook["failure_count"] > MAX_DELIVERY_FAILURES:
                    hook["status"] = "disabled"
                else:
                    hook["failure_count"] += 1
                self.state.save()
        self._record("delivery", hook_id, topic, resource_id, delivery_id, url, headers, body, status, error)

    def _post(self, url: str, body: bytes, headers: dict[str, str]) -> tuple[int | None, str]:
        """POST without following redirects (``redirection => 0``); ``(status, "")`` or ``(None, error)``."""
        parts = urlsplit(url)
        connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        connection = connection_class(parts.hostname, parts.port, timeout=self.timeout)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            connection.request("POST", target, body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            return response.status, ""
        except (OSError, http.client.HTTPException) as exc:
            return None, f"{type(exc).__name__}: {exc}"
        finally:
            connection.close()

    def _record(self, kind, hook_id, topic, resource_id, delivery_id, url, headers, body, status, error) -> None:
        with self._cond:
            self.deliveries.append({
                "kind": kind, "webhook_id": hook_id, "topic": topic, "resource_id": resource_id,
                "delivery_id": delivery_id, "url": url, "headers": dict(headers),
                "body": body.decode("utf-8"), "status": status, "error": error,
            })
        log.info("webhook %s %s -> %s", kind, url, status if status is not None else error)

class WebhookRoutes:
    """The ``/webhooks`` routes of ``_Api`` (needs ``state``, ``site_url``, ``webhooks``)."""

    def _webhooks_get(self, request: _Request, url_params: dict) -> _Response:
        params = self._params(request, url_params, WEBHOOK_LIST_DEFAULTS)
        _check_args(params, WEBHOOK_LIST_ARGS)
        self._require_user(request, "woocommerce_rest_cannot_view", "Sorry, you cannot list resources.")
        page, per_page = _absint(params["page"]), _absint(params["per_page"])
        with self.state.lock:
            hooks = [h for h in self.webhooks.all() if params["status"] in ("all", h["status"])]
            body = [self.webhooks.render(h) for h in hooks[(page - 1) * per_page:page * per_page]]
        total = len(hooks)
        return _Response(200, body, {"X-WP-Total": str(total), "X-WP-TotalPages": str(math.ceil(total / per_page))})

    def _webhooks_post(self, request: _Request, url_params: dict) -> _Response:
        params = self._params(request, url_params, {})
        missing = [name for name in ("topic", "delivery_url") if params.get(name) is None]
        if missing:  # both are required arguments of the CREATABLE route (source)
            raise RestError("rest_missing_callback_param", f"Missing parameter(s): {', '.join(missing)}", 400,
                            params=missing)
        _check_args(params, WEBHOOK_ARGS)
        self._require_user(request, "woocommerce_rest_cannot_create", "Sorry, you are not allowed to create resources.")
        with self.state.lock:
            body = self.webhooks.create(params)
            self.state.save()
        return _Response(201, body, {"Location": f"{self.site_url}{API_ROOT}/{NAMESPACE}/webhooks/{body['id']}"})

    def _webhook_get(self, request: _Request, url_params: dict) -> _Response:
        params = self._params(request, url_params, {"context": "view"})
        _check_args(params, CONTEXT_ARGS)
        self._require_user(request, "woocommerce_rest_cannot_view", "Sorry, you cannot view this resource.")
        with self.state.lock:
            hook = self.webhooks.get(params.get("id"))
            if hook is None:
                raise RestError("woocommerce_rest_shop_webhook_invalid_id", "Invalid ID.", 404)
            return _Response(200, self.webhooks.render(hook))

    def _webhook_update(self, request: _Request, url_params: dict) -> _Response:
        params = self._params(request, url_params, {})
        _check_args(params, WEBHOOK_ARGS)
        self._require_user(request, "woocommerce_rest_cannot_edit", "Sorry, you are not allowed to edit this resource.")
        with self.state.lock:
            body = self.webhooks.update(params)
            self.state.save()
        return _Response(200, body)

    def _webhook_delete(self, request: _Request, url_params: dict) -> _Response:
        params = self._params(request, url_params, {"force": False})
        _check_args(params, DELETE_ARGS)
        self._require_user(request, "woocommerce_rest_cannot_delete",
                           "Sorry, you are not allowed to delete this resource.")
        if not params["force"]:
            raise RestError("woocommerce_rest_trash_not_supported", "Webhooks do not support trashing.", 501)
        with self.state.lock:
            body = self.webhooks.delete(params.get("id"))
            self.state.save()
        return _Response(200, body)
