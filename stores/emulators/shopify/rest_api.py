"""The (legacy) REST Admin API under ``/admin/api/<version>/``, in the shapes of ``shared/data/shopify/rest_fixtures``.

Routes::

    GET|POST         products.json                 list (cursor pages) / create
    GET              products/count.json
    GET|PUT|DELETE   products/<id>.json
    GET              locations.json, locations/<id>.json
    GET              inventory_levels.json         inventory_item_ids= and/or location_ids=
    POST             inventory_levels/set.json     {"inventory_item_id", "location_id", "available"}
    GET|POST         webhooks.json                 list / subscribe {"webhook": {"topic", "address", "format"}}
    GET              webhooks/count.json
    GET|DELETE       webhooks/<id>.json
    GET              shop.json

Errors are ``{"errors": ...}``: ``"Not Found"`` (404), ``{"product":
"Required parameter missing or invalid"}`` (400), ``{"title": ["can't be
blank"]}`` (422), as Shopify answers.

Lists (shopify.dev "Make paginated requests to the REST Admin API"): order
by id; ``limit`` 1-250 (default 50; larger values are cut to 250);
``page_info`` cursors in the ``Link`` header (``<url>; rel="previous",
<url>; rel="next"``), each URL carrying ``limit`` (and ``fields`` when
given) and a ``page_info`` that holds the filters of the first request. A
request with ``page_info`` may carry only ``limit`` and ``fields``; anything
else is 400 ``{"errors": {"<name>": "<name> cannot be passed when page_info
is present. See https://shopify.dev/api/usage/pagination-rest for more
information."}}`` (Shopify's wording, seen in client bug reports).
Product filters: ``ids``, ``since_id``, ``title``, ``vendor``, ``handle``
(comma list), ``product_type``, ``status`` (comma list), ``created_at_min``
/ ``_max``, ``updated_at_min`` / ``_max``.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from .shop import RestError, Shop, parse_time

MAX_LIMIT = 250
DEFAULT_LIMIT = 50
PAGE_INFO_ALLOWED = ("limit", "fields", "page_info")
PRODUCT_FILTERS = ("ids", "since_id", "title", "vendor", "handle", "product_type", "status", "created_at_min",
                   "created_at_max", "updated_at_min", "updated_at_max", "published_status", "collection_id",
                   "presentment_currencies")


@dataclass
class RestResponse:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class RestRequest:
    method: str
    resource: str  # path under /admin/api/<version>/, without ".json"
    query: list[tuple[str, str]]  # in the order sent
    body: Any  # parsed JSON, or None
    api_version: str
    base_url: str  # http://host:port, standing for https://<shop>.myshopify.com

    def param(self, name: str) -> str | None:
        for key, value in self.query:
            if key == name:
                return value
        return None


_ROUTES: tuple[tuple[re.Pattern, str], ...] = (
    (re.compile(r"^products$"), "products"),
    (re.compile(r"^products/count$"), "products_count"),
    (re.compile(r"^products/(?P<id>\d+)$"), "product"),
    (re.compile(r"^locations$"), "locations"),
    (re.compile(r"^locations/(?P<id>\d+)$"), "location"),
    (re.compile(r"^inventory_levels$"), "levels"),
    (re.compile(r"^inventory_levels/set$"), "levels_set"),
    (re.compile(r"^webhooks$"), "webhooks"),
    (re.compile(r"^webhooks/count$"), "webhooks_count"),
    (re.compile(r"^webhooks/(?P<id>\d+)$"), "webhook"),
    (re.compile(r"^shop$"), "shop"),
)

WRITES = {"POST", "PUT", "DELETE"}


def not_found() -> RestResponse:
    return RestResponse(404, {"errors": "Not Found"})


class RestApi:
    def __init__(self, shop: Shop):
        self.shop = shop

    def respond(self, request: RestRequest) -> tuple[RestResponse, bool]:
        """The answer, and whether the shop changed (the caller saves the state and may fire webhooks)."""
        for pattern, name in _ROUTES:
            match = pattern.match(request.resource)
            if match:
                handler = getattr(self, f"_{name}_{request.method.lower()}", None)
                if handler is None:
                    return RestResponse(406, {"errors": "Not Acceptable"}), False
                with self.shop.lock:
                    try:
                        response = handler(request, **match.groupdict())
                    except RestError as exc:
                        return RestResponse(exc.status, {"errors": exc.errors}), False
                    changed = request.method in WRITES and response.status < 300
                    if changed:
                        self.shop.save()
                    return response, changed
        return not_found(), False

    # ------------------------------------------------------------------ products

    def _products_get(self, request: RestRequest) -> RestResponse:
        limit = _limit(request.param("limit"))
        page_info = request.param("page_info")
        if page_info is not None:
            for key, _value in request.query:
                if key not in PAGE_INFO_ALLOWED:
                    raise RestError(400, {key: f"{key} cannot be passed when page_info is present. See "
                                               "https://shopify.dev/api/usage/pagination-rest for more information."})
            cursor = _decode_page_info(page_info)
            filters, direction, mark = cursor["filters"], cursor["direction"], cursor["last_id"]
        else:
            filters = {key: value for key, value in request.query if key in PRODUCT_FILTERS}
            direction, mark = "next", None
        items = [p for p in self.shop.products() if _product_passes(p, filters)]
        if mark is None:
            page = items[:limit]
        elif direction == "next":
            after = [p for p in items if p["id"] > mark]
            page = after[:limit]
        else:
            before = [p for p in items if p["id"] < mark]
            page = before[-limit:]
        fields = request.param("fields")
        body = {"products": [_only(self.shop.rest_product(p), fields) for p in page]}
        links = []
        if page and items and page[0]["id"] > items[0]["id"]:
            links.append((self._page_url(request, limit, fields, filters, "prev", page[0]["id"]), "previous"))
        if page and items and page[-1]["id"] < items[-1]["id"]:
            links.append((self._page_url(request, limit, fields, filters, "next", page[-1]["id"]), "next"))
        headers = {"Link": ", ".join(f'<{url}>; rel="{rel}"' for url, rel in links)} if links else {}
        return RestResponse(200, body, headers)

    @staticmethod
    def _page_url(request: RestRequest, limit: int, fields: str | None, filters: dict, direction: str,
                  mark: int) -> str:
        params = {"limit": str(limit)}
        if fields:
            params["fields"] = fields
        params["page_info"] = _encode_page_info({"filters": filters, "direction": direction, "last_id": mark})
        return f"{request.base_url}/admin/api/{request.api_version}/products.json?{urlencode(params)}"

    def _products_post(self, request: RestRequest) -> RestResponse:
        product = self.shop.rest_create_product(request.body)
        return RestResponse(201, {"product": self.shop.rest_product(product)})

    def _products_count_get(self, request: RestRequest) -> RestResponse:
        filters = {key: value for key, value in request.query if key in PRODUCT_FILTERS}
        return RestResponse(200, {"count": sum(1 for p in self.shop.products() if _product_passes(p, filters))})

    def _product_get(self, request: RestRequest, id: str) -> RestResponse:  # noqa: A002 - the route's name
        product = self.shop.product(int(id))
        if product is None:
            return not_found()
        return RestResponse(200, {"product": _only(self.shop.rest_product(product), request.param("fields"))})

    def _product_put(self, request: RestRequest, id: str) -> RestResponse:  # noqa: A002
        product = self.shop.product(int(id))
        if product is None:
            return not_found()
        product = self.shop.rest_update_product(product, request.body)
        return RestResponse(200, {"product": self.shop.rest_product(product)})

    def _product_delete(self, request: RestRequest, id: str) -> RestResponse:  # noqa: A002
        product = self.shop.product(int(id))
        if product is None:
            return not_found()
        self.shop.delete_product(product)
        return RestResponse(200, {})

    # ------------------------------------------------------------------ locations and inventory

    def _locations_get(self, request: RestRequest) -> RestResponse:
        return RestResponse(200, {"locations": [self.shop.rest_location(loc) for loc in self.shop.locations()]})

    def _location_get(self, request: RestRequest, id: str) -> RestResponse:  # noqa: A002
        location = self.shop.location(int(id))
        return RestResponse(200, {"location": self.shop.rest_location(location)}) if location else not_found()

    def _levels_get(self, request: RestRequest) -> RestResponse:
        items = _id_list(request.param("inventory_item_ids"))
        locations = _id_list(request.param("location_ids"))
        if items is None and locations is None:
            raise RestError(422, "Must specify at least one of inventory_item_ids or location_ids")
        levels = [lv for lv in self.shop.data["levels"].values()
                  if (items is None or lv["inventory_item_id"] in items)
                  and (locations is None or lv["location_id"] in locations)]
        levels.sort(key=lambda lv: (lv["inventory_item_id"], lv["location_id"]))
        limit = _limit(request.param("limit"))
        return RestResponse(200, {"inventory_levels": [self.shop.rest_level(lv) for lv in levels[:limit]]})

    def _levels_set_post(self, request: RestRequest) -> RestResponse:
        level = self.shop.rest_set_level(request.body)
        return RestResponse(200, {"inventory_level": self.shop.rest_level(level)})

    # ------------------------------------------------------------------ webhooks and shop

    def _webhooks_get(self, request: RestRequest) -> RestResponse:
        hooks = sorted(self.shop.data["webhooks"].values(), key=lambda w: w["id"])
        for key in ("topic", "address"):
            wanted = request.param(key)
            if wanted:
                hooks = [w for w in hooks if w[key] == wanted]
        return RestResponse(200, {"webhooks": [self.shop.rest_webhook(w) for w in hooks]})

    def _webhooks_post(self, request: RestRequest) -> RestResponse:
        webhook = self.shop.rest_create_webhook(request.body, request.api_version)
        return RestResponse(201, {"webhook": self.shop.rest_webhook(webhook)})

    def _webhooks_count_get(self, request: RestRequest) -> RestResponse:
        return RestResponse(200, {"count": len(self.shop.data["webhooks"])})

    def _webhook_get(self, request: RestRequest, id: str) -> RestResponse:  # noqa: A002
        webhook = self.shop.data["webhooks"].get(id)
        return RestResponse(200, {"webhook": self.shop.rest_webhook(webhook)}) if webhook else not_found()

    def _webhook_delete(self, request: RestRequest, id: str) -> RestResponse:  # noqa: A002
        if self.shop.data["webhooks"].pop(id, None) is None:
            return not_found()
        return RestResponse(200, {})

    def _shop_get(self, request: RestRequest) -> RestResponse:
        return RestResponse(200, {"shop": self.shop.rest_shop()})


# --------------------------------------------------------------------------- helpers


def _limit(raw: str | None) -> int:
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    try:
        value = int(raw)
    except ValueError:
        raise RestError(400, {"limit": "Invalid value."}) from None
    return max(1, min(MAX_LIMIT, value))


def _id_list(raw: str | None) -> set[int] | None:
    if raw is None:
        return None
    return {int(part) for part in raw.split(",") if part.strip().isdigit()}


def _encode_page_info(data: dict) -> str:
    raw = json.dumps(data, separators=(",", ":"), sort_keys=True).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _decode_page_info(token: str) -> dict:
    try:
        data = json.loads(base64.urlsafe_b64decode((token + "=" * (-len(token) % 4)).encode("ascii")))
        if not isinstance(data, dict) or data.get("direction") not in ("next", "prev") \
                or not isinstance(data.get("last_id"), int) or not isinstance(data.get("filters"), dict):
            raise ValueError
        return data
    except (ValueError, binascii.Error, UnicodeError):
        raise RestError(400, {"page_info": "Invalid value."}) from None


def _product_passes(product: dict, filters: dict) -> bool:
    for key, value in filters.items():
        if key == "ids":
            if product["id"] not in (_id_list(value) or set()):
                return False
        elif key == "since_id":
            if not value.isdigit() or product["id"] <= int(value):
                return False
        elif key in ("title", "vendor", "product_type"):
            if product[key] != value:
                return False
        elif key == "handle":
            if product["handle"] not in [h.strip() for h in value.split(",")]:
                return False
        elif key == "status":
            if product["status"] not in [s.strip() for s in value.split(",")]:
                return False
        elif key in ("created_at_min", "updated_at_min", "created_at_max", "updated_at_max"):
            moment, bound = parse_time(product[key[:10]]), parse_time(value)
            if bound is None:
                continue
            if (key.endswith("_min") and moment < bound) or (key.endswith("_max") and moment > bound):
                return False
        elif key == "published_status":
            if value == "published" and product["published_at"] is None:
                return False
            if value == "unpublished" and product["published_at"] is not None:
                return False
    return True


def _only(item: dict, fields: str | None) -> dict:
    if not fields:
        return item
    wanted = [f.strip() for f in fields.split(",") if f.strip()]
    return {key: item[key] for key in wanted if key in item}
