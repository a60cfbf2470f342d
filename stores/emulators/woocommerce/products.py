"""Products: WooCommerce's rules for saving, trashing, deleting and rendering a product."""

from __future__ import annotations

import copy
from typing import Any
from urllib.parse import unquote

from .constants import (
    ATTACHMENT,
    CATALOG_VISIBILITY,
    PRODUCT,
    PRODUCT_TYPES,
    REGISTERED_STATUSES,
    STOCK_STATUSES,
    TAX_CLASSES,
    TAX_STATUSES,
    UNCATEGORIZED,
    VARIATION,
)
from .errors import RestError
from .php import (
    _absint,
    _intval,
    _kses_entities,
    _iso,
    _isset,
    _now,
    _parse_date,
    _php_str,
    _php_truthy,
    _sanitize_text_field,
    _sanitize_title,
    _wc_string_to_bool,
    _wp_parse_id_list,
    _wpautop,
)
from .wire import _Context


class ProductRules:
    """The product half of ``_Shop`` (callers hold ``state.lock``)."""

    # ------------------------------------------------------------------ products

    @staticmethod
    def _new_product() -> dict:
        return {
            "post_type": PRODUCT, "type": "simple", "name": "", "slug": "", "status": "publish", "featured": False,
            "catalog_visibility": "visible", "description": "", "short_description": "", "sku": "", "price": "",
            "regular_price": "", "sale_price": "", "date_on_sale_from": None, "date_on_sale_to": None,
            "total_sales": 0, "virtual": False, "downloadable": False, "downloads": [], "download_limit": -1,
            "download_expiry": -1, "external_url": "", "button_text": "", "tax_status": "taxable", "tax_class": "",
            "manage_stock": False, "stock_quantity": None, "stock_status": "instock", "backorders": "no",
            "low_stock_amount": None, "sold_individually": False, "weight": "", "length": "", "width": "",
            "height": "", "shipping_class": "", "reviews_allowed": True, "upsell_ids": [], "cross_sell_ids": [],
            "parent_id": 0, "purchase_note": "", "category_ids": [], "tag_ids": [], "image_id": 0,
            "gallery_image_ids": [], "attributes": [], "default_attributes": {}, "children": [], "menu_order": 0,
            "meta_data": [], "date_created": None, "date_modified": None,
        }

    def save_product(self, params: dict, existing: dict | None) -> dict:
        """Create (``existing`` None) or update a product from request ``params``.

        Follows ``prepare_object_for_database`` of the v3 products controller
        field by field, then the data store's save (source). Raises
        ``RestError``; nothing is stored when it does.
        """
        if existing is not None and existing["post_type"] == VARIATION:
            raise RestError("woocommerce_rest_invalid_product_id", "To manipulate product variations you should use "
                            "the /products/&lt;product_id&gt;/variations/&lt;id&gt; endpoint.", 404)
        post = copy.deepcopy(existing) if existing is not None else self._new_product()
        if _isset(params, "type"):
            post["type"] = params["type"] if params["type"] in PRODUCT_TYPES else "simple"
        for name in ("name", "description", "short_description", "purchase_note"):
            if _isset(params, name):
                post[name] = _kses_entities(_php_str(params[name]))  # a bare & stored as &amp; (seen)
        if _isset(params, "status"):
            post["status"] = params["status"] if params["status"] in REGISTERED_STATUSES else "draft"
        if _isset(params, "slug"):
            post["slug"] = _sanitize_title(params["slug"])
        if _isset(params, "menu_order"):
            post["menu_order"] = _intval(params["menu_order"])
        for name in ("reviews_allowed", "virtual", "featured", "sold_individually"):
            if _isset(params, name):
                post[name] = _wc_string_to_bool(params[name])
        if _isset(params, "tax_status"):
            if params["tax_status"] not in TAX_STATUSES:
                raise RestError("product_invalid_tax_status", "Invalid product tax status.", 400)
            post["tax_status"] = params["tax_status"]
        if _isset(params, "tax_class"):
            tax_class = _sanitize_title(params["tax_class"])
            post["tax_class"] = tax_class if tax_class in TAX_CLASSES else ""
        if _isset(params, "catalog_visibility"):
            if params["catalog_visibility"] not in CATALOG_VISIBILITY:
                raise RestError("product_invalid_catalog_visibility", "Invalid catalog visibility option.", 400)
            post["catalog_visibility"] = params["catalog_visibility"]
        self._set_shipping(post, params)
        if _isset(params, "sku"):
            self._set_sku(post, params["sku"])
        if _isset(params, "attributes"):
            post["attributes"] = self._product_attributes(params["attributes"])
        if post["type"] in ("variable", "grouped"):
            post.update(regular_price="", sale_price="", date_on_sale_from=None, date_on_sale_to=None, price="")
        else:
            self._set_prices(post, params)
        if _isset(params, "parent_id"):
            post["parent_id"] = _absint(params["parent_id"])
        self._set_product_stock(post, params)
        for name in ("upsell_ids", "cross_sell_ids"):
            if _isset(params, name):
                post[name] = [_intval(i) for i in (params[name] if isinstance(params[name], list) else [])
                              if _intval(i) > 0]
        if isinstance(params.get("categories"), list):
            post["category_ids"] = self._category_ids(params["categories"])
        if isinstance(params.get("tags"), list):
            post["tag_ids"] = self._tag_ids(params["tags"])
        if _isset(params, "downloadable"):
            post["downloadable"] = _wc_string_to_bool(params["downloadable"])
        self._set_downloads(post, params)
        if post["type"] == "external":
            if _isset(params, "external_url"):
                post["external_url"] = _php_str(params["external_url"])
            if _isset(params, "button_text"):
                post["button_text"] = _sanitize_text_field(params["button_text"])
        if post["type"] == "variable" and isinstance(params.get("default_attributes"), list):
            post["default_attributes"] = self._default_attributes(post, params["default_attributes"])
        if post["type"] == "grouped" and _isset(params, "grouped_products"):
            post["children"] = [i for i in _wp_parse_id_list(params["grouped_products"]) if i]
        if _isset(params, "images"):
            self._set_product_images(post, params["images"])
        self._set_meta(post, params)
        for name in ("date_created", "date_created_gmt"):  # the site's zone is UTC: both mean the same
            if _php_truthy(params.get(name)):
                moment = _parse_date(params[name], strict=True)
                if moment:
                    post["date_created"] = _iso(moment)
        return self._store_product(post, creating=existing is None)

    def _product_attributes(self, raw: Any) -> list[dict]:
        """Custom attributes by name; options joined by ' | ' as WooCommerce stores them (source)."""
        attributes: dict[str, dict] = {}
        for item in raw if isinstance(raw, list) else []:
            if not isinstance(item, dict):
                continue
            if _php_truthy(item.get("id")):
                continue  # a global (pa_*) attribute: none exist on this site
            name = _sanitize_text_field(item.get("name")) if _php_truthy(item.get("name")) else ""
            if not name or not _isset(item, "options"):
                continue
            options = item["options"]
            values = [_php_str(o) for o in options] if isinstance(options, list) else _php_str(options).split("|")
            attributes[_sanitize_title(name)] = {
                "name": name,
                "value": " | ".join(values),
                "position": _absint(item.get("position")) if _isset(item, "position") else 0,
                "visible": _php_truthy(item.get("visible")),
                "variation": _php_truthy(item.get("variation")),
            }
        return list(attributes.values())

    @staticmethod
    def _attribute_options(attribute: dict) -> list[str]:
        """``get_attribute_options``: the stored value split on '|' and trimmed (source)."""
        return [part.strip() for part in attribute["value"].split("|")]

    @staticmethod
    def _default_attributes(post: dict, raw: list) -> dict:
        keyed = {_sanitize_title(a["name"]): a for a in post["attributes"]}
        defaults = {}
        for item in raw:
            if not isinstance(item, dict) or _php_truthy(item.get("id")) or not _php_truthy(item.get("name")):
                continue
            key = _sanitize_title(item["name"])
            if key in keyed and keyed[key]["variation"]:
                value = _sanitize_text_field(unquote(_php_str(item.get("option"))))
                if value:
                    defaults[key] = value
        return defaults

    def _set_product_stock(self, post: dict, params: dict) -> None:
        """Stock handling of ``prepare_object_for_database`` with ``woocommerce_manage_stock`` on (source)."""
        stock_status = params["stock_status"] if _isset(params, "stock_status") else post["stock_status"]
        if stock_status not in STOCK_STATUSES:
            stock_status = "instock"
        if _isset(params, "manage_stock"):
            post["manage_stock"] = _wc_string_to_bool(params["manage_stock"])
        if _isset(params, "backorders"):
            post["backorders"] = _php_str(params["backorders"])
        if post["type"] == "grouped":
            post.update(manage_stock=False, backorders="no", stock_quantity=None, stock_status=stock_status)
        elif post["type"] == "external":
            post.update(manage_stock=False, backorders="no", stock_quantity=None, stock_status="instock")
        elif post["manage_stock"]:
            if post["type"] != "variable":
                post["stock_status"] = stock_status
            if _isset(params, "stock_quantity"):
                post["stock_quantity"] = _intval(params["stock_quantity"])
            elif _isset(params, "inventory_delta"):
                post["stock_quantity"] = _intval(post["stock_quantity"]) + _intval(params["inventory_delta"])
            if "low_stock_amount" in params:
                value = params["low_stock_amount"]
                post["low_stock_amount"] = None if value is None or value == "" else _intval(value)
        else:
            post.update(manage_stock=False, stock_quantity=None, stock_status=stock_status, low_stock_amount=None)

    def _category_ids(self, raw: list) -> list[int]:
        """Existing category ids only; an unknown id is dropped silently (``wp_set_object_terms``)."""
        known = self.state.data["terms"]["product_cat"]
        ids = [_intval(item["id"]) for item in raw if isinstance(item, dict) and item.get("id") is not None]
        return [i for i in dict.fromkeys(ids) if str(i) in known]

    def _tag_ids(self, raw: list) -> list[int]:
        """Tags by id, or by name, creating the tag when the name is new (v3 controller; source)."""
        terms = self.state.data["terms"]["product_tag"]
        ids = []
        for item in raw:
            if not isinstance(item, dict):
                continue
            if item.get("name") is None:
                if item.get("id") is not None:
                    ids.append(_intval(item["id"]))
                continue
            name = _sanitize_text_field(item["name"])
            found = next((t for t in terms.values() if t["name"].lower() == name.lower()), None)
            if found is None and name:
                term_id = self.state.data["next_term_id"]
                self.state.data["next_term_id"] = term_id + 1
                found = {"id": term_id, "name": name, "slug": _sanitize_title(name)}
                terms[str(term_id)] = found
            if found is not None:
                ids.append(found["id"])
        return [i for i in dict.fromkeys(ids) if str(i) in terms]

    def _set_product_images(self, post: dict, raw: Any) -> None:
        """``set_product_images`` (v3): the first image is the featured one, the rest the gallery (source)."""
        images = [i for i in raw if _php_truthy(i)] if isinstance(raw, list) else []
        ids = [self._image_id(image if isinstance(image, dict) else {}, post.get("id") or 0, "product")
               for image in images]
        post["image_id"] = ids[0] if ids else 0
        post["gallery_image_ids"] = ids[1:]

    def _store_product(self, post: dict, *, creating: bool) -> dict:
        now = _iso(_now())
        self._validate_stock(post)
        if post["type"] not in ("variable", "grouped"):
            self._set_price(post)
        if not post["name"]:
            post["name"] = "Product"  # the data store's default post title (source)
        if not post["slug"] and post["status"] not in ("draft", "pending", "auto-draft"):
            post["slug"] = _sanitize_title(post["name"])  # WordPress names a post when it is published
        if post["slug"]:
            post["slug"] = self._unique_slug(post["slug"], post)
        if not post["category_ids"]:
            post["category_ids"] = [UNCATEGORIZED["id"]]  # default_product_cat (data store; source)
        if creating:
            post["id"] = self.state.new_id()
            post["date_created"] = post["date_created"] or now
        post["date_modified"] = now
        for attachment_id in [post["image_id"], *post["gallery_image_ids"]]:
            attachment = self.state.get(attachment_id, ATTACHMENT)
            if attachment is not None and not attachment["parent_id"]:
                attachment["parent_id"] = post["id"]
        self.state.put(post)
        return post

    def trash(self, post: dict) -> None:
        """``wp_trash_post``: status trash, slug gets ``__trashed``; a product's variations go too (source)."""
        post["status"] = "trash"
        if post.get("slug") and not post["slug"].endswith("__trashed"):
            post["slug"] += "__trashed"
        post["date_modified"] = _iso(_now())
        if post["post_type"] == PRODUCT:
            for child in self.state.posts(VARIATION):
                if child["parent_id"] == post["id"] and child["status"] != "trash":
                    child["status"] = "trash"

    def delete(self, post: dict) -> None:
        """Delete for good; a variable product takes its variations with it (v2 ``delete_item``; source)."""
        if post["post_type"] == PRODUCT:
            for child in self.state.posts(VARIATION):
                if child["parent_id"] == post["id"]:
                    if post["type"] == "variable":
                        self.state.remove(child["id"])
                    else:
                        child["parent_id"] = 0
        else:
            self._touch_parent(post["parent_id"], _iso(_now()))
        self.state.remove(post["id"])

    # ------------------------------------------------------------------ answers

    def render_product(self, post: dict, ctx: _Context) -> dict:
        """The product shape of the v3 products controller, keys in the order seen on WooCommerce 7.9.0.

        A variation rendered here (``GET /products/<variation id>`` or a SKU
        search) has ``type`` "variation" and ``parent_id`` set, as on a real site.
        """
        is_variation = post["post_type"] == VARIATION
        price, on_sale, price_html = self._price_info(post)
        manage_stock, stock_quantity, stock_status = self._stock(post)
        virtual = post["virtual"]
        tax_status = post["tax_status"]
        if is_variation:
            images = [self._image(post["image_id"])] if self._image(post["image_id"]) else []
            attributes = [{"id": 0, "name": a["name"], "option": v} for a, v in self._variation_view(post)]
            name = self._variation_title(post)
            slug = _sanitize_title(name)
        else:
            images = [i for i in (self._image(x) for x in [post["image_id"], *post["gallery_image_ids"]]) if i]
            attributes = [{"id": 0, "name": a["name"], "position": a["position"], "visible": a["visible"],
                           "variation": a["variation"], "options": self._attribute_options(a)}
                          for a in post["attributes"]]
            name, slug = post["name"], post["slug"]
        edit = ctx.context == "edit"
        description = post["description"] if edit else _wpautop(post["description"])
        short = post.get("short_description", "")
        ptype = "variation" if is_variation else post["type"]
        purchasable = self._purchasable(post, price)
        data = {
            "id": post["id"],
            "name": name,
            "slug": slug,
            "permalink": self._permalink(post),
            "date_created": post["date_created"],
            "date_created_gmt": post["date_created"],
            "date_modified": post["date_modified"],
            "date_modified_gmt": post["date_modified"],
            "type": ptype,
            "status": post["status"],
            "featured": post.get("featured", False),
            "catalog_visibility": post.get("catalog_visibility", "visible"),
            "description": description,
            "short_description": short if edit else _wpautop(short),
            "sku": post["sku"],
            "price": price,
            "regular_price": post["regular_price"],
            "sale_price": post["sale_price"],
            "date_on_sale_from": post["date_on_sale_from"],
            "date_on_sale_from_gmt": post["date_on_sale_from"],
            "date_on_sale_to": post["date_on_sale_to"],
            "date_on_sale_to_gmt": post["date_on_sale_to"],
            "on_sale": on_sale,
            "purchasable": purchasable,
            "total_sales": post["total_sales"],
            "virtual": virtual,
            "downloadable": post["downloadable"],
            "downloads": [dict(d) for d in post["downloads"]] if post["downloadable"] else [],
            "download_limit": post["download_limit"],
            "download_expiry": post["download_expiry"],
            "external_url": post.get("external_url", "") if ptype == "external" else "",
            "button_text": post.get("button_text", "") if ptype == "external" else "",
            "tax_status": tax_status,
            "tax_class": self._inherited(post, "tax_class"),
            "manage_stock": manage_stock,
            "stock_quantity": stock_quantity,
            "backorders": post["backorders"],
            "backorders_allowed": post["backorders"] in ("yes", "notify"),
            "backordered": stock_status == "onbackorder" or (
                manage_stock is True and post["backorders"] != "no" and (stock_quantity or 0) < 0),
            "low_stock_amount": post["low_stock_amount"],
            "sold_individually": post.get("sold_individually", False),
            "weight": self._inherited(post, "weight"),
            "dimensions": {n: self._inherited(post, n) for n in ("length", "width", "height")},
            "shipping_required": not virtual,
            "shipping_taxable": not virtual and tax_status in ("taxable", "shipping"),
            "shipping_class": "",
            "shipping_class_id": 0,
            "reviews_allowed": post.get("reviews_allowed", False),
            "average_rating": "0.00",
            "rating_count": 0,
            "upsell_ids": list(post.get("upsell_ids", [])),
            "cross_sell_ids": list(post.get("cross_sell_ids", [])),
            "parent_id": post["parent_id"],
            "purchase_note": post.get("purchase_note", ""),
            "categories": [] if is_variation else self._terms("product_cat", post["category_ids"]),
            "tags": [] if is_variation else self._terms("product_tag", post["tag_ids"]),
            "images": images,
            "attributes": attributes,
            "default_attributes": self._render_default_attributes(post),
            "variations": [v["id"] for v in self.children(post)] if ptype == "variable" else [],
            "grouped_products": list(post["children"]) if ptype == "grouped" else [],
            "menu_order": post["menu_order"],
            "price_html": price_html,
            "related_ids": self._related_ids(post),
            "meta_data": [dict(m) for m in post["meta_data"]],
            "stock_status": stock_status,
            "has_options": ptype == "variable",
            "_links": self._links(f"products/{post['id']}", "products", post["parent_id"]),
        }
        return data

    @staticmethod
    def _render_default_attributes(post: dict) -> list[dict]:
        if post.get("type") != "variable":
            return []
        names = {_sanitize_title(a["name"]): a["name"] for a in post["attributes"]}
        return [{"id": 0, "name": names.get(k, k), "option": v} for k, v in post["default_attributes"].items() if v]

    def _purchasable(self, post: dict, price: str) -> bool:
        """``is_purchasable`` for a user who can edit products (the API key's owner; source)."""
        if post["post_type"] == VARIATION:
            return post["status"] == "publish" and price != "" and self.product(post["parent_id"]) is not None
        if post["type"] in ("grouped", "external"):
            return False
        return price != ""
