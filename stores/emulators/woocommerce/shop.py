"""The shop: one WooCommerce site's products, variations and media with WooCommerce's rules.

``_Shop`` holds the lookups, the pieces of a write that products and variations share, and the derived
values both render; saving and rendering products (``products``), variations (``variations``) and the
collection queries (``queries``) come from its mixins.
"""

from __future__ import annotations

import os
import re
import uuid
from datetime import datetime
from typing import Any
from urllib.parse import unquote, urlsplit

from .constants import API_ROOT, ATTACHMENT, IMAGE_EXTENSIONS, NAMESPACE, PRODUCT, VARIATION
from .errors import RestError
from .php import (
    _absint,
    _add_query_args,
    _intval,
    _iso,
    _isset,
    _money,
    _now,
    _num,
    _parse_date,
    _parse_iso,
    _php_empty,
    _php_gt,
    _php_str,
    _php_truthy,
    _php_urlencode,
    _range_html,
    _sale_html,
    _sanitize_text_field,
    _sanitize_title,
    _wc_format_decimal,
)
from .products import ProductRules
from .queries import CatalogQueries
from .state import _State
from .variations import VariationRules


class _Shop(ProductRules, VariationRules, CatalogQueries):
    """Products, variations and media of one WooCommerce site, with WooCommerce's rules.

    All public methods expect ``state.lock`` to be held by the caller.
    """

    def __init__(self, state: _State, site_url: str):
        self.state = state
        self.site_url = site_url

    # ------------------------------------------------------------------ lookups

    def product(self, post_id: Any) -> dict | None:
        return self.state.get(post_id, PRODUCT)

    def variation(self, post_id: Any) -> dict | None:
        return self.state.get(post_id, VARIATION)

    def any_product(self, post_id: Any) -> dict | None:
        """``wc_get_product``: a product or a variation."""
        return self.state.get(post_id, (PRODUCT, VARIATION))

    def children(self, parent: dict, statuses: tuple = ("publish", "private")) -> list[dict]:
        """Variations of ``parent`` ordered by menu_order then id (``read_children``; seen)."""
        found = [v for v in self.state.posts(VARIATION) if v["parent_id"] == parent["id"] and v["status"] in statuses]
        return sorted(found, key=lambda v: (v["menu_order"], v["id"]))

    def sku_owner(self, sku: str, exclude_id: int = 0) -> int | None:
        """Id of the product or variation outside the trash holding ``sku``.

        MySQL's default collation makes this case-insensitive (source:
        ``is_existing_sku`` compares in SQL), and products and variations
        share one SKU space.
        """
        wanted = sku.lower()
        owners = [p["id"] for p in self.state.posts(PRODUCT, VARIATION)
                  if p["id"] != exclude_id and p["status"] != "trash" and p["sku"] and p["sku"].lower() == wanted]
        return min(owners) if owners else None

    # ------------------------------------------------------------------ writes: shared pieces

    def _set_sku(self, post: dict, raw: Any) -> None:
        """``set_sku``: a duplicate is 400 ``product_invalid_sku`` with ``resource_id`` and ``unique_sku`` (seen)."""
        sku = _sanitize_text_field(raw)
        if not _php_empty(sku):
            owner = self.sku_owner(sku, post.get("id") or 0)
            if owner is not None:
                raise RestError("product_invalid_sku", "Invalid or duplicated SKU.", 400,
                                resource_id=owner, unique_sku=self._unique_sku(sku, post.get("id") or 0))
        post["sku"] = sku

    def _unique_sku(self, sku: str, exclude_id: int) -> str:
        """``wc_product_generate_unique_sku``: sku-1, sku-2, … (source)."""
        index = 1
        while self.sku_owner(f"{sku}-{index}", exclude_id) is not None:
            index += 1
        return f"{sku}-{index}"

    @staticmethod
    def _set_prices(post: dict, params: dict) -> None:
        if _isset(params, "regular_price"):
            post["regular_price"] = _wc_format_decimal(params["regular_price"])
        if _isset(params, "sale_price"):
            post["sale_price"] = _wc_format_decimal(params["sale_price"])
        for name in ("date_on_sale_from", "date_on_sale_to"):
            if _isset(params, name):
                post[name] = _iso(_parse_date(params[name], strict=False))
            if _isset(params, name + "_gmt"):
                post[name] = _iso(_parse_date(params[name + "_gmt"], strict=False))

    @staticmethod
    def _set_shipping(post: dict, params: dict) -> None:
        """``save_product_shipping_data``: a virtual item loses weight and size; unknown shipping classes drop."""
        if params.get("virtual") is True:
            post.update(weight="", length="", width="", height="")
        else:
            if _isset(params, "weight"):
                post["weight"] = "" if params["weight"] == "" else _wc_format_decimal(params["weight"])
            dims = params.get("dimensions")
            if isinstance(dims, dict):
                for name in ("length", "width", "height"):
                    if _isset(dims, name):
                        post[name] = "" if dims[name] == "" else _wc_format_decimal(dims[name])
        if _isset(params, "shipping_class"):
            post["shipping_class"] = ""  # no shipping classes exist on this site

    @staticmethod
    def _set_downloads(post: dict, params: dict) -> None:
        """``save_downloadable_files`` and the limits; only for a downloadable item (source)."""
        if not post["downloadable"]:
            return
        if isinstance(params.get("downloads"), list):
            files = []
            for item in params["downloads"]:
                if not isinstance(item, dict) or _php_empty(item.get("file")):
                    continue
                file_url = _php_str(item["file"])
                name = _php_str(item.get("name")) or os.path.basename(urlsplit(file_url).path)
                files.append({"id": _php_str(item.get("id")) or str(uuid.uuid4()), "name": name, "file": file_url})
            post["downloads"] = files
        for name in ("download_limit", "download_expiry"):
            if _isset(params, name):
                value = params[name]
                post[name] = -1 if value == "" or _intval(value) == -1 else _absint(value)

    def _set_meta(self, post: dict, params: dict) -> None:
        """``update_meta_data`` per item: by meta id, else the first meta with that key (source)."""
        if not isinstance(params.get("meta_data"), list):
            return
        meta = post["meta_data"]
        for item in params["meta_data"]:
            if not isinstance(item, dict) or item.get("key") is None:
                continue
            key, value = _php_str(item["key"]), item.get("value")
            target = None
            if item.get("id"):
                target = next((m for m in meta if m["id"] == item["id"]), None)
            else:
                matches = [m for m in meta if m["key"] == key]
                for other in matches[1:]:
                    other["value"] = None
                target = matches[0] if matches else None
            if target is not None:
                target["key"], target["value"] = key, value
            else:
                meta.append({"id": self.state.new_meta_id(), "key": key, "value": value})
        post["meta_data"] = [m for m in meta if m["value"] is not None]

    def _image_id(self, image: dict, parent_id: int, error_prefix: str) -> int:
        """The attachment for one ``images[]`` item: an existing id, or a new one "sideloaded" from ``src``."""
        attachment_id = _absint(image.get("id")) if image.get("id") else 0
        if attachment_id == 0 and _isset(image, "src"):
            attachment_id = self._sideload(_php_str(image["src"]), parent_id, error_prefix)
        attachment = self.state.get(attachment_id, ATTACHMENT)
        if attachment is None:
            raise RestError(f"woocommerce_{error_prefix}_invalid_image_id", f"#{attachment_id} is an invalid image ID.",
                            400)
        if _php_truthy(image.get("alt")):
            attachment["alt"] = _sanitize_text_field(image["alt"])
        if _php_truthy(image.get("name")):
            attachment["name"] = _php_str(image["name"])
        return attachment_id

    def _sideload(self, src: str, parent_id: int, error_prefix: str) -> int:
        """Record an uploaded image without fetching it (``wc_rest_upload_image_from_url`` errors otherwise)."""
        parts = urlsplit(src)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise RestError(f"woocommerce_{error_prefix}_image_upload_error",
                            f"Error getting remote image {src}. Error: A valid URL was not provided.", 400)
        filename = os.path.basename(unquote(parts.path))
        stem, dot, extension = filename.rpartition(".")
        if not dot or extension.lower() not in IMAGE_EXTENSIONS:
            raise RestError(f"woocommerce_{error_prefix}_image_upload_error",
                            "Invalid image: Sorry, you are not allowed to upload this file type.", 400)
        now = _now()
        folder = f"{self.site_url}/wp-content/uploads/{now:%Y/%m}/"
        taken = {a["src"] for a in self.state.posts(ATTACHMENT)}
        safe_stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", stem).strip("-") or "image"
        candidate, counter = f"{safe_stem}.{extension}", 1
        while folder + candidate in taken:
            candidate = f"{safe_stem}-{counter}.{extension}"
            counter += 1
        attachment = {"id": self.state.new_id(), "post_type": ATTACHMENT, "status": "inherit", "parent_id": parent_id,
                      "src": folder + candidate, "name": candidate.rpartition(".")[0], "alt": "", "source_url": src,
                      "date_created": _iso(now), "date_modified": _iso(now)}
        self.state.put(attachment)
        return attachment["id"]

    @staticmethod
    def _validate_stock(post: dict) -> None:
        """``validate_props``: stock fields only mean something when managed; the status follows the quantity."""
        if not post["manage_stock"]:
            post.update(stock_quantity=None, backorders="no", low_stock_amount=None)
            return
        if (post["stock_quantity"] or 0) > 0:
            post["stock_status"] = "instock"
        elif post["backorders"] != "no":
            post["stock_status"] = "onbackorder"
        else:
            post["stock_status"] = "outofstock"

    @staticmethod
    def _on_sale(post: dict, now: datetime | None = None) -> bool:
        """``WC_Product::is_on_sale``: a sale price below the regular one, inside the sale dates (source)."""
        sale, regular = post["sale_price"], post["regular_price"]
        if sale == "" or not _php_gt(regular, sale):
            return False
        now = now or _now()
        start, end = _parse_iso(post["date_on_sale_from"]), _parse_iso(post["date_on_sale_to"])
        return not ((start and start > now) or (end and end < now))

    def _set_price(self, post: dict) -> None:
        """The stored active price: the sale price while on sale, else the regular one (data store; seen)."""
        post["price"] = post["sale_price"] if self._on_sale(post) else post["regular_price"]

    def _unique_slug(self, slug: str, post: dict) -> str:
        """``wp_unique_post_slug``: slug, slug-2, slug-3 … among posts of the same type."""
        taken = {p["slug"] for p in self.state.posts(post["post_type"]) if p["id"] != post.get("id")}
        if slug not in taken:
            return slug
        suffix = 2
        while f"{slug}-{suffix}" in taken:
            suffix += 1
        return f"{slug}-{suffix}"

    def _touch_parent(self, parent_id: int, moment: str) -> None:
        """A variation write syncs its parent, which saves it (``WC_Product_Variable::sync``; seen in dates)."""
        parent = self.product(parent_id)
        if parent is not None:
            parent["date_modified"] = moment

    # ------------------------------------------------------------------ derived values

    def _permalink(self, post: dict) -> str:
        if post["post_type"] == VARIATION:
            parent = self.product(post["parent_id"])
            url = self._permalink(parent) if parent else f"{self.site_url}/?post_type=product_variation&p={post['id']}"
            args = {"attribute_" + _sanitize_title(a["name"]): _php_urlencode(v) for a, v in self._variation_view(post)}
            return _add_query_args(url, args) if args else url
        if post["status"] in ("draft", "pending", "auto-draft", "future") or not post["slug"]:
            return f"{self.site_url}/?post_type=product&p={post['id']}"
        return f"{self.site_url}/product/{post['slug']}/"

    def _visible_variations(self, parent: dict) -> list[dict]:
        """Published variations with a price (``get_variation_prices``; source)."""
        return [v for v in self.children(parent, ("publish",)) if v["price"] != ""]

    def _grouped_children(self, post: dict) -> list[dict]:
        return [c for c in (self.any_product(i) for i in post["children"]) if c is not None]

    def _price_info(self, post: dict) -> tuple[str, bool, str]:
        """``(price, on_sale, price_html)`` as the REST answer shows them (source; seen)."""
        if post.get("type") == "variable":
            variations = self._visible_variations(post)
            if not variations:
                return "", False, ""
            prices = sorted(variations, key=lambda v: _num(v["price"]))
            low, high = prices[0]["price"], prices[-1]["price"]
            on_sale = any(v["sale_price"] == v["price"] != v["regular_price"] for v in variations)
            regulars = {_num(v["regular_price"]) for v in variations}
            if _num(low) != _num(high):
                html = _range_html(low, high)
            elif on_sale and len(regulars) == 1:
                html = _sale_html(prices[0]["regular_price"], low)
            else:
                html = _money(low)
            return low, on_sale, html
        if post.get("type") == "grouped":
            # a grouped child that is itself grouped counts as unpriced (no cycles through children lists)
            infos = [(c, self._price_info(c) if c.get("type") != "grouped" else ("", False, ""))
                     for c in self._grouped_children(post)]
            prices = [info[0] for _c, info in infos if _php_truthy(info[0])]
            on_sale = any(info[1] for _c, info in infos)
            visible = [info[0] for c, info in infos if c["status"] == "publish" and info[0] != ""]
            price = min(prices, key=_num) if prices else ""
            if not visible:
                return price, on_sale, ""
            low, high = min(visible, key=_num), max(visible, key=_num)
            html = _range_html(low, high) if _num(low) != _num(high) else _money(low)
            return price, on_sale, html
        price, on_sale = post["price"], self._on_sale(post)
        if price == "":
            return "", on_sale, ""
        html = _sale_html(post["regular_price"], price) if on_sale else _money(price)
        return price, on_sale, html

    def _stock(self, post: dict) -> tuple[Any, Any, str]:
        """``(manage_stock, stock_quantity, stock_status)`` in view context (source)."""
        if post["post_type"] == VARIATION:
            parent = self.product(post["parent_id"])
            if not post["manage_stock"] and parent is not None and parent["manage_stock"]:
                return "parent", parent["stock_quantity"], parent["stock_status"]
            return post["manage_stock"], post["stock_quantity"], post["stock_status"]
        if post["type"] == "variable" and not post["manage_stock"]:
            statuses = {self._stock(v)[2] for v in self.children(post, ("publish",))}
            if statuses:
                status = ("instock" if "instock" in statuses
                          else "onbackorder" if "onbackorder" in statuses else "outofstock")
                return False, None, status
        return post["manage_stock"], post["stock_quantity"], post["stock_status"]

    def _inherited(self, post: dict, name: str) -> str:
        """A variation's empty weight/size/tax class shows its parent's (view context; source)."""
        value = post[name]
        if post["post_type"] == VARIATION and value in ("", "parent"):
            parent = self.product(post["parent_id"])
            value = parent[name] if parent else ""
        return "" if value == "parent" else value

    def _image(self, attachment_id: int) -> dict | None:
        attachment = self.state.get(attachment_id, ATTACHMENT)
        if attachment is None:
            return None
        return {
            "id": attachment["id"], "date_created": attachment["date_created"],
            "date_created_gmt": attachment["date_created"], "date_modified": attachment["date_modified"],
            "date_modified_gmt": attachment["date_modified"], "src": attachment["src"], "name": attachment["name"],
            "alt": attachment["alt"],
        }

    def _terms(self, taxonomy: str, ids: list[int]) -> list[dict]:
        known = self.state.data["terms"][taxonomy]
        terms = [dict(known[str(i)]) for i in ids if str(i) in known]
        return sorted(terms, key=lambda t: t["name"].lower())

    def _related_ids(self, post: dict) -> list[int]:
        """Published, catalog-visible products sharing a category or tag; the first five by id (see module doc)."""
        if post["post_type"] != PRODUCT:
            return []
        cats, tags = set(post["category_ids"]), set(post["tag_ids"])
        if not cats and not tags:
            return []
        found = [p["id"] for p in self.state.posts(PRODUCT)
                 if p["id"] != post["id"] and p["status"] == "publish"
                 and p["catalog_visibility"] not in ("hidden", "search")
                 and (cats & set(p["category_ids"]) or tags & set(p["tag_ids"]))]
        return sorted(found)[:5]

    def _links(self, path: str, collection: str, up: int = 0) -> dict:
        api = f"{self.site_url}{API_ROOT}/{NAMESPACE}"
        links = {"self": [{"href": f"{api}/{path}"}], "collection": [{"href": f"{api}/{collection}"}]}
        if up:
            links["up"] = [{"href": f"{api}/products/{up}"}]
        return links
