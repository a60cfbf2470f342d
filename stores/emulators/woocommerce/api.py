"""The REST API: routing, parameters, permissions, and the product and variation routes."""

from __future__ import annotations

import math
import re
from typing import Any

from .auth import Authenticator
from .batch import BatchRoutes
from .constants import API_ROOT, NAMESPACE, VARIATION
from .errors import RestError
from .php import _absint, _add_query_args, _php_parse_query, _php_truthy, _sanitize_text_field, _wc_string_to_bool
from .schema import (
    CONTEXT_ARGS,
    DELETE_ARGS,
    LIST_ARGS,
    LIST_DEFAULTS,
    PRODUCT_ARGS,
    PRODUCT_DEFAULTS,
    VARIATION_ARGS,
    VARIATION_DEFAULTS,
    _check_args,
)
from .shop import _Shop
from .state import _State
from .webhooks import WebhookRoutes, _Webhooks
from .wire import _content_type, _Context, _filter_fields, _json_params, _Request, _Response

_ROUTES: tuple[tuple[re.Pattern, str, tuple[str, ...]], ...] = (
    (re.compile(r"^/wc/v3/products$", re.I), "products", ("GET", "POST")),
    (re.compile(r"^/wc/v3/products/batch$", re.I), "products_batch", ("POST", "PUT", "PATCH")),
    (re.compile(r"^/wc/v3/products/(?P<id>\d+)$", re.I), "product", ("GET", "POST", "PUT", "PATCH", "DELETE")),
    (re.compile(r"^/wc/v3/products/(?P<product_id>\d+)/variations$", re.I), "variations", ("GET", "POST")),
    (re.compile(r"^/wc/v3/products/(?P<product_id>\d+)/variations/batch$", re.I), "variations_batch",
     ("POST", "PUT", "PATCH")),
    (re.compile(r"^/wc/v3/products/(?P<product_id>\d+)/variations/(?P<id>\d+)$", re.I), "variation",
     ("GET", "POST", "PUT", "PATCH", "DELETE")),
    (re.compile(r"^/wc/v3/webhooks$", re.I), "webhooks", ("GET", "POST")),
    (re.compile(r"^/wc/v3/webhooks/(?P<id>\d+)$", re.I), "webhook", ("GET", "POST", "PUT", "PATCH", "DELETE")),
)

class _Api(Authenticator, BatchRoutes, WebhookRoutes):
    """Authentication, routing, parameters and handlers of the emulated REST API."""

    def __init__(self, state: _State, site_url: str, consumer_key: str, consumer_secret: str):
        self.state = state
        self.shop = _Shop(state, site_url)
        self.site_url = site_url
        self.consumer_key = consumer_key
        self.consumer_secret = consumer_secret
        self.webhooks = _Webhooks(state, self.shop, site_url)

    # ------------------------------------------------------------------ entry point

    def respond(self, request: _Request) -> _Response:
        route_path = "/" + request.path[len(API_ROOT):].strip("/")
        try:
            if route_path.lower().startswith("/wc/"):
                self._authenticate(request)  # WooCommerce authenticates only its own namespaces (source)
            if route_path == "/" and request.method in ("GET", "HEAD"):
                return self._index()
            for pattern, name, methods in _ROUTES:
                match = pattern.match(route_path)
                if match:
                    method = "GET" if request.method == "HEAD" else request.method
                    if method not in methods:
                        break
                    response = self._dispatch(name, method, request, match.groupdict())
                    response.headers.setdefault("Allow", ", ".join(methods))
                    if _php_truthy(request.query.get("_fields")):
                        response.body = _filter_fields(response.body, request.query["_fields"])
                    return response
            raise RestError("rest_no_route", "No route was found matching the URL and request method.", 404)
        except RestError as error:
            return _Response(error.status, error.body())

    def _index(self) -> _Response:
        """A reduced ``GET /wp-json/``: enough for a client to see WordPress and the wc/v3 namespace."""
        return _Response(200, {
            "name": "WooCommerce emulator", "description": "", "url": self.site_url, "home": self.site_url,
            "gmt_offset": "0", "timezone_string": "", "namespaces": [NAMESPACE], "authentication": [],
            "routes": {f"/{NAMESPACE}/products": {"namespace": NAMESPACE, "methods": ["GET", "POST"]}},
        })

    # ------------------------------------------------------------------ parameters

    def _params(self, request: _Request, url_params: dict[str, str], defaults: dict) -> dict:
        """``WP_REST_Request::get_param`` precedence: JSON body, form body, query, route, defaults (source)."""
        merged: dict[str, Any] = dict(defaults)
        merged.update(url_params)
        merged.update(request.query)
        ctype = _content_type(request)
        if request.method in ("POST", "PUT", "PATCH", "DELETE") and ctype == "application/x-www-form-urlencoded":
            merged.update(_php_parse_query(request.body.decode("utf-8", "replace")))
        if ctype == "application/json" or ctype.endswith("+json"):
            merged.update(_json_params(request.body))
        return merged

    def _require_user(self, request: _Request, code: str, message: str) -> None:
        """A permission callback: a visitor gets 401 (``rest_authorization_required_code``; source)."""
        if not request.authenticated:
            raise RestError(code, message, 401)

    # ------------------------------------------------------------------ dispatch

    def _dispatch(self, name: str, method: str, request: _Request, url_params: dict) -> _Response:
        handler = getattr(self, f"_{name}_{method.lower()}", None)
        if handler is None:  # POST/PUT/PATCH on an item all update it (WP_REST_Server::EDITABLE)
            handler = getattr(self, f"_{name}_update")
        return handler(request, url_params)

    def _list(self, request: _Request, url_params: dict, *, parent_id: int | None) -> _Response:
        params = self._params(request, url_params, LIST_DEFAULTS)
        _check_args(params, LIST_ARGS)
        self._require_user(request, "woocommerce_rest_cannot_view", "Sorry, you cannot list resources.")
        page, per_page = _absint(params["page"]), _absint(params["per_page"])
        for name in ("sku", "search", "slug"):
            if params.get(name) is not None:
                params[name] = _sanitize_text_field(params[name])
        for name in ("featured", "on_sale"):
            if params.get(name) is not None:
                params[name] = _wc_string_to_bool(params[name])
        with self.state.lock:
            posts, total = self.shop.query(params, parent_id=parent_id)
            start = _absint(params["offset"]) if params.get("offset") is not None else (page - 1) * per_page
            ctx = _Context(params["context"], parent_id or 0)
            if parent_id is None:
                body = [self.shop.render_product(p, ctx) for p in posts[start:start + per_page]]
            else:
                body = [self.shop.render_variation(p, ctx) for p in posts[start:start + per_page]]
        pages = math.ceil(total / per_page)
        headers = {"X-WP-Total": str(total), "X-WP-TotalPages": str(pages)}
        collection = "products" if parent_id is None else f"products/{parent_id}/variations"
        # get_items: add_query_arg( $request->get_query_params(), rest_url(...) ), oauth_* included (seen)
        base = _add_query_args(f"{self.site_url}{API_ROOT}/{NAMESPACE}/{collection}", dict(request.query))
        links = []
        if page > 1:
            links.append(f'<{_add_query_args(base, {"page": str(min(page - 1, pages))})}>; rel="prev"')
        if pages > page:
            links.append(f'<{_add_query_args(base, {"page": str(page + 1)})}>; rel="next"')
        if links:
            headers["Link"] = ", ".join(links)
        return _Response(200, body, headers)

    # products ------------------------------------------------------------

    def _products_get(self, request: _Request, url_params: dict) -> _Response:
        return self._list(request, url_params, parent_id=None)

    def _products_post(self, request: _Request, url_params: dict) -> _Response:
        params = self._params(request, url_params, PRODUCT_DEFAULTS)
        _check_args(params, PRODUCT_ARGS)
        self._require_user(request, "woocommerce_rest_cannot_create", "Sorry, you are not allowed to create resources.")
        with self.state.lock:
            body = self._create_product(params)
            self.state.save()
        return _Response(201, body, {"Location": f"{self.site_url}{API_ROOT}/{NAMESPACE}/products/{body['id']}"})

    def _create_product(self, params: dict) -> dict:
        if _php_truthy(params.get("id")):
            raise RestError("woocommerce_rest_product_exists", "Cannot create existing product.", 400)
        post = self.shop.save_product(params, None)
        self.webhooks.resource_changed("created", post["id"])
        return self.shop.render_product(post, _Context("edit"))

    def _product_get(self, request: _Request, url_params: dict) -> _Response:
        params = self._params(request, url_params, {"context": "view"})
        _check_args(params, CONTEXT_ARGS)
        with self.state.lock:
            post = self.shop.any_product(params.get("id"))
            if post is not None:
                self._require_user(request, "woocommerce_rest_cannot_view", "Sorry, you cannot view this resource.")
            if post is None:
                raise RestError("woocommerce_rest_product_invalid_id", "Invalid ID.", 404)
            return _Response(200, self.shop.render_product(post, _Context(params["context"])))

    def _product_update(self, request: _Request, url_params: dict) -> _Response:
        params = self._params(request, url_params, {})
        _check_args(params, PRODUCT_ARGS)
        with self.state.lock:
            if self.shop.any_product(params.get("id")) is not None:
                self._require_user(request, "woocommerce_rest_cannot_edit",
                                   "Sorry, you are not allowed to edit this resource.")
            body = self._update_product(params)
            self.state.save()
        return _Response(200, body)

    def _update_product(self, params: dict) -> dict:
        existing = self.shop.any_product(params.get("id"))
        if existing is None:
            raise RestError("woocommerce_rest_product_invalid_id", "Invalid ID.", 400)  # 400 on update (source)
        post = self.shop.save_product(params, existing)
        self.webhooks.resource_changed("updated", post["id"])
        return self.shop.render_product(post, _Context("edit"))

    def _product_delete(self, request: _Request, url_params: dict) -> _Response:
        params = self._params(request, url_params, {"force": False})
        _check_args(params, DELETE_ARGS)
        with self.state.lock:
            if self.shop.any_product(params.get("id")) is not None:
                self._require_user(request, "woocommerce_rest_cannot_delete",
                                   "Sorry, you are not allowed to delete this resource.")
            body = self._delete_product(_absint(params.get("id")), bool(params["force"]))
            self.state.save()
        return _Response(200, body)

    def _delete_product(self, post_id: int, force: bool) -> dict:
        """Trash, or delete for good with ``force`` (v2 ``delete_item``; source). Answers the product as it was."""
        post = self.shop.any_product(post_id)
        if post is None:
            raise RestError("woocommerce_rest_product_invalid_id", "Invalid ID.", 404)
        if post["post_type"] == VARIATION:
            raise RestError("woocommerce_rest_invalid_product_id", "To manipulate product variations you should use "
                            "the /products/&lt;product_id&gt;/variations/&lt;id&gt; endpoint.", 404)
        if not force and post["status"] == "trash":
            raise RestError("woocommerce_rest_already_trashed", "The product has already been deleted.", 410)
        body = self.shop.render_product(post, _Context("edit"))
        if force:
            self.shop.delete(post)
        else:
            self.shop.trash(post)
            self.webhooks.resource_changed("deleted", post_id)  # product.deleted hooks wp_trash_post only (source)
        return body

    # variations ------------------------------------------------------------

    def _variations_get(self, request: _Request, url_params: dict) -> _Response:
        return self._list(request, url_params, parent_id=_absint(url_params["product_id"]))

    def _variations_post(self, request: _Request, url_params: dict) -> _Response:
        params = self._params(request, url_params, VARIATION_DEFAULTS)
        _check_args(params, VARIATION_ARGS)
        self._require_user(request, "woocommerce_rest_cannot_create", "Sorry, you are not allowed to create resources.")
        with self.state.lock:
            body = self._create_variation(params)
            self.state.save()
        # CRUD create_item builds Location from the raw rest_base pattern (source)
        location = f"{self.site_url}{API_ROOT}/{NAMESPACE}/products/(?P<product_id>[\\d]+)/variations/{body['id']}"
        return _Response(201, body, {"Location": location})

    def _create_variation(self, params: dict) -> dict:
        if _php_truthy(params.get("id")):
            raise RestError("woocommerce_rest_product_variation_exists", "Cannot create existing product_variation.",
                            400)
        post = self.shop.save_variation(params, None)
        self.webhooks.resource_changed("created", post["id"])  # woocommerce_new_product_variation (source)
        return self.shop.render_variation(post, _Context("edit", _absint(params.get("product_id"))))

    def _variation_get(self, request: _Request, url_params: dict) -> _Response:
        params = self._params(request, url_params, {"context": "view"})
        _check_args(params, CONTEXT_ARGS)
        with self.state.lock:
            post = self.shop.variation(params.get("id"))
            if post is not None:
                self._require_user(request, "woocommerce_rest_cannot_view", "Sorry, you cannot view this resource.")
            if post is None:
                raise RestError("woocommerce_rest_product_variation_invalid_id", "Invalid ID.", 404)
            ctx = _Context(params["context"], _absint(params.get("product_id")))
            return _Response(200, self.shop.render_variation(post, ctx))

    def _variation_update(self, request: _Request, url_params: dict) -> _Response:
        params = self._params(request, url_params, {})
        _check_args(params, VARIATION_ARGS)
        with self.state.lock:
            post = self.shop.variation(params.get("id"))
            if post is not None:
                self._require_user(request, "woocommerce_rest_cannot_edit",
                                   "Sorry, you are not allowed to edit this resource.")
                if post["parent_id"] and post["parent_id"] != _absint(params.get("product_id")):
                    # update_item_permissions_check; 403 because the key's user is logged in (source)
                    raise RestError("woocommerce_rest_cannot_edit", "Parent product does not match current variation.",
                                    403)
            body = self._update_variation(params)
            self.state.save()
        return _Response(200, body)

    def _update_variation(self, params: dict) -> dict:
        existing = self.shop.variation(params.get("id"))
        if existing is None:
            raise RestError("woocommerce_rest_product_variation_invalid_id", "Invalid ID.", 400)
        post = self.shop.save_variation(params, existing)
        self.webhooks.resource_changed("updated", post["id"])  # woocommerce_update_product_variation (source)
        return self.shop.render_variation(post, _Context("edit", _absint(params.get("product_id"))))

    def _variation_delete(self, request: _Request, url_params: dict) -> _Response:
        params = self._params(request, url_params, {"force": False})
        _check_args(params, DELETE_ARGS)
        with self.state.lock:
            if self.shop.variation(params.get("id")) is not None:
                self._require_user(request, "woocommerce_rest_cannot_delete",
                                   "Sorry, you are not allowed to delete this resource.")
            body = self._delete_variation(_absint(params.get("id")), bool(params["force"]),
                                          _absint(params.get("product_id")))
            self.state.save()
        return _Response(200, body)

    def _delete_variation(self, post_id: int, force: bool, route_product_id: int) -> dict:
        post = self.shop.variation(post_id)
        if post is None:
            raise RestError("woocommerce_rest_product_variation_invalid_id", "Invalid ID.", 404)
        if not force and post["status"] == "trash":
            raise RestError("woocommerce_rest_already_trashed", "The product_variation has already been deleted.",
                            410)
        body = self.shop.render_variation(post, _Context("edit", route_product_id))
        if force:
            self.shop.delete(post)
        else:
            self.shop.trash(post)
        return body
