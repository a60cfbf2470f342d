"""Variations: WooCommerce's rules for saving and rendering a product variation."""

from __future__ import annotations

import copy
from typing import Any

from .constants import ATTACHMENT, REGISTERED_STATUSES, STOCK_STATUSES, TAX_CLASSES, TAX_STATUSES, VARIATION
from .errors import RestError
from .php import (
    _absint,
    _intval,
    _kses_entities,
    _iso,
    _isset,
    _now,
    _php_str,
    _php_truthy,
    _sanitize_text_field,
    _sanitize_title,
    _wc_string_to_bool,
    _wpautop,
)
from .wire import _Context


class VariationRules:
    """The variation half of ``_Shop`` (callers hold ``state.lock``)."""

    # ------------------------------------------------------------------ variations

    @staticmethod
    def _new_variation() -> dict:
        return {
            "post_type": VARIATION, "parent_id": 0, "status": "publish", "description": "", "sku": "", "price": "",
            "regular_price": "", "sale_price": "", "date_on_sale_from": None, "date_on_sale_to": None,
            "total_sales": 0, "virtual": False, "downloadable": False, "downloads": [], "download_limit": -1,
            "download_expiry": -1, "tax_status": "taxable", "tax_class": "parent", "manage_stock": False,
            "stock_quantity": None, "stock_status": "instock", "backorders": "no", "low_stock_amount": None,
            "weight": "", "length": "", "width": "", "height": "", "shipping_class": "", "image_id": 0,
            "attributes": {}, "menu_order": 0, "meta_data": [], "date_created": None, "date_modified": None,
        }

    def save_variation(self, params: dict, existing: dict | None) -> dict:
        """Create or update a variation; ``params["product_id"]`` is its parent (v3 controller; source).

        The parent must be a product (this emulator never stores orphans).
        Attributes are matched by name to the parent's attributes marked
        ``variation``; others are dropped silently, as WooCommerce does.
        """
        post = copy.deepcopy(existing) if existing is not None else self._new_variation()
        parent = self.product(_absint(params.get("product_id")))
        if parent is None:
            raise RestError("woocommerce_rest_product_variation_invalid_parent",
                            "Cannot set attributes due to invalid parent product.", 404)
        post["parent_id"] = parent["id"]
        if _isset(params, "status"):
            post["status"] = params["status"] if params["status"] in REGISTERED_STATUSES else "draft"
        if _isset(params, "sku"):
            self._set_sku(post, params["sku"])
        if _isset(params, "image"):
            image = params["image"]
            if isinstance(image, dict) and (image.get("id") or _isset(image, "src")):
                post["image_id"] = self._image_id(image, post.get("id") or 0, "variation")
            else:
                post["image_id"] = 0
        for name in ("virtual", "downloadable"):
            if _isset(params, name):
                post[name] = _wc_string_to_bool(params[name])
        self._set_downloads(post, params)
        self._set_shipping(post, params)
        if _isset(params, "manage_stock"):
            post["manage_stock"] = _wc_string_to_bool(params["manage_stock"])  # "parent" reads as false
        if _isset(params, "stock_status"):
            post["stock_status"] = params["stock_status"] if params["stock_status"] in STOCK_STATUSES else "instock"
        if _isset(params, "backorders"):
            post["backorders"] = _php_str(params["backorders"])
        if post["manage_stock"]:
            if _isset(params, "stock_quantity"):
                post["stock_quantity"] = _intval(params["stock_quantity"])
            elif _isset(params, "inventory_delta"):
                post["stock_quantity"] = _intval(post["stock_quantity"]) + _intval(params["inventory_delta"])
            if "low_stock_amount" in params:
                value = params["low_stock_amount"]
                post["low_stock_amount"] = None if value is None or value == "" else _intval(value)
        self._set_prices(post, params)
        if _isset(params, "tax_class"):
            tax_class = _sanitize_title(params["tax_class"])
            post["tax_class"] = tax_class if tax_class in (*TAX_CLASSES, "parent") else ""
        if _isset(params, "tax_status") and params["tax_status"] in TAX_STATUSES:
            post["tax_status"] = params["tax_status"]
        if _isset(params, "description"):
            post["description"] = _kses_entities(_php_str(params["description"]))  # as the shop (seen)
        if _isset(params, "attributes"):
            post["attributes"] = self._variation_attributes(parent, params["attributes"])
        if _php_truthy(params.get("menu_order")):
            post["menu_order"] = _intval(params["menu_order"])
        self._set_meta(post, params)
        now = _iso(_now())
        self._validate_stock(post)
        self._set_price(post)
        if existing is None:
            post["id"] = self.state.new_id()
            post["date_created"] = now
        post["date_modified"] = now
        if post["image_id"]:
            attachment = self.state.get(post["image_id"], ATTACHMENT)
            if attachment is not None and not attachment["parent_id"]:
                attachment["parent_id"] = post["id"]
        self.state.put(post)
        self._touch_parent(parent["id"], now)
        return post

    @staticmethod
    def _variation_attributes(parent: dict, raw: Any) -> dict:
        keyed = {_sanitize_title(a["name"]): a for a in parent["attributes"]}
        chosen: dict[str, str] = {}
        for item in raw if isinstance(raw, list) else []:
            if not isinstance(item, dict) or _php_truthy(item.get("id")) or not _php_truthy(item.get("name")):
                continue
            key = _sanitize_title(item["name"])
            if key not in keyed or not keyed[key]["variation"]:
                continue
            chosen[key] = _sanitize_text_field(item.get("option")) if _isset(item, "option") else ""
        return chosen

    def _variation_view(self, variation: dict) -> list[tuple[dict, str]]:
        """``(parent attribute, option)`` pairs with a value, in the parent's order (``read_attributes``)."""
        parent = self.product(variation["parent_id"])
        if parent is None:
            return []
        pairs = []
        for attribute in parent["attributes"]:
            key = _sanitize_title(attribute["name"])
            value = variation["attributes"].get(key, "")
            if attribute["variation"] and value != "":
                pairs.append((attribute, value))
        return pairs

    def _variation_title(self, variation: dict) -> str:
        """``generate_product_title``: parent name, then the options when there are fewer than three (source)."""
        parent = self.product(variation["parent_id"])
        base = parent["name"] if parent else ""
        pairs = self._variation_view(variation)
        include = len(variation["attributes"]) < 3
        if include and len(variation["attributes"]) > 1 and any("-" in k for k in variation["attributes"]):
            include = False
        suffix = ", ".join(value for _attr, value in pairs) if include else ""
        return f"{base} - {suffix}" if suffix else base

    def render_variation(self, post: dict, ctx: _Context) -> dict:
        """The variation shape of the v3 variations controller, keys in the order seen on WooCommerce 7.9.0."""
        price, on_sale, _html = self._price_info(post)
        manage_stock, stock_quantity, stock_status = self._stock(post)
        route_id = ctx.route_product_id or post["parent_id"]
        return {
            "id": post["id"],
            "date_created": post["date_created"],
            "date_created_gmt": post["date_created"],
            "date_modified": post["date_modified"],
            "date_modified_gmt": post["date_modified"],
            "description": _wpautop(post["description"]),
            "permalink": self._permalink(post),
            "sku": post["sku"],
            "price": price,
            "regular_price": post["regular_price"],
            "sale_price": post["sale_price"],
            "date_on_sale_from": post["date_on_sale_from"],
            "date_on_sale_from_gmt": post["date_on_sale_from"],
            "date_on_sale_to": post["date_on_sale_to"],
            "date_on_sale_to_gmt": post["date_on_sale_to"],
            "on_sale": on_sale,
            "status": post["status"],
            "purchasable": self._purchasable(post, price),
            "virtual": post["virtual"],
            "downloadable": post["downloadable"],
            "downloads": [dict(d) for d in post["downloads"]] if post["downloadable"] else [],
            "download_limit": post["download_limit"],
            "download_expiry": post["download_expiry"],
            "tax_status": post["tax_status"],
            "tax_class": self._inherited(post, "tax_class"),
            "manage_stock": manage_stock,
            "stock_quantity": stock_quantity,
            "stock_status": stock_status,
            "backorders": post["backorders"],
            "backorders_allowed": post["backorders"] in ("yes", "notify"),
            "backordered": stock_status == "onbackorder",
            "low_stock_amount": post["low_stock_amount"],
            "weight": self._inherited(post, "weight"),
            "dimensions": {n: self._inherited(post, n) for n in ("length", "width", "height")},
            "shipping_class": "",
            "shipping_class_id": 0,
            "image": self._image(post["image_id"]),
            "attributes": [{"id": 0, "name": a["name"], "option": v} for a, v in self._variation_view(post)],
            "menu_order": post["menu_order"],
            "meta_data": [dict(m) for m in post["meta_data"]],
            "_links": self._links(f"products/{route_id}/variations/{post['id']}",
                                  f"products/{route_id}/variations", route_id),
        }
