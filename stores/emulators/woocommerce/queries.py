"""Collection queries: which posts a ``GET /products`` (or ``…/variations``) matches, in which order."""

from __future__ import annotations

import math
import re

from .constants import PRODUCT, VARIATION
from .php import _num, _parse_date, _parse_iso, _php_truthy, _wp_parse_id_list


class CatalogQueries:
    """The query half of ``_Shop`` (callers hold ``state.lock``)."""

    # ------------------------------------------------------------------ queries

    def query(self, params: dict, *, parent_id: int | None) -> tuple[list[dict], int]:
        """Posts matching the collection ``params`` and the total before paging (``prepare_objects_query``)."""
        sku_filter = _php_truthy(params.get("sku"))
        if parent_id is not None:
            posts = [v for v in self.state.posts(VARIATION) if v["parent_id"] == parent_id]
        else:
            # a SKU filter searches variations too (post_type product + product_variation; source)
            posts = self.state.posts(PRODUCT, VARIATION) if sku_filter else self.state.posts(PRODUCT)
        status = params.get("status") or "any"
        if status == "any":
            posts = [p for p in posts if p["status"] not in ("trash", "auto-draft")]
        else:
            posts = [p for p in posts if p["status"] == status]
        include = _wp_parse_id_list(params.get("include") or [])
        if include:
            posts = [p for p in posts if p["id"] in include]
        exclude = _wp_parse_id_list(params.get("exclude") or [])
        if exclude:
            posts = [p for p in posts if p["id"] not in exclude]
        parents = _wp_parse_id_list(params.get("parent") or [])
        if parents:
            posts = [p for p in posts if p["parent_id"] in parents]
        parent_exclude = _wp_parse_id_list(params.get("parent_exclude") or [])
        if parent_exclude:
            posts = [p for p in posts if p["parent_id"] not in parent_exclude]
        if _php_truthy(params.get("slug")):
            posts = [p for p in posts if p.get("slug") == params["slug"]]
        if _php_truthy(params.get("search")):
            posts = [p for p in posts if self._matches_search(p, params["search"])]
        if _php_truthy(params.get("type")):
            posts = [p for p in posts if p.get("type") == params["type"]]
        if sku_filter:
            skus = params["sku"].split(",")
            if len(skus) > 1:
                skus.append(params["sku"])  # "Include the current string as a SKU too" (source)
            wanted = {s.lower() for s in skus}
            posts = [p for p in posts if p["sku"] and p["sku"].lower() in wanted]
        if isinstance(params.get("featured"), bool):
            posts = [p for p in posts if p.get("featured", False) == params["featured"]]
        if isinstance(params.get("on_sale"), bool):
            posts = [p for p in posts if self._price_info(p)[1] == params["on_sale"]]
        if _php_truthy(params.get("stock_status")):
            posts = [p for p in posts if self._stock(p)[2] == params["stock_status"]]
        for taxonomy, key in (("category_ids", "category"), ("tag_ids", "tag")):
            ids = _wp_parse_id_list(params.get(key) or [])
            if ids:
                posts = [p for p in posts if set(ids) & set(p.get(taxonomy, []))]
        if _php_truthy(params.get("min_price")) or _php_truthy(params.get("max_price")):
            low = _num(params.get("min_price") or "0")
            high = _num(params["max_price"]) if _php_truthy(params.get("max_price")) else math.inf
            posts = [p for p in posts if self._price_info(p)[0] != "" and low <= _num(self._price_info(p)[0]) <= high]
        for key, column, keep in (("after", "date_created", lambda d, b: d > b),
                                  ("before", "date_created", lambda d, b: d < b),
                                  ("modified_after", "date_modified", lambda d, b: d > b),
                                  ("modified_before", "date_modified", lambda d, b: d < b)):
            bound = _parse_date(params.get(key), strict=False)
            if bound is not None:
                posts = [p for p in posts if keep(_parse_iso(p[column]), bound)]
        posts = self._sort(posts, params, include)
        return posts, len(posts)

    @staticmethod
    def _matches_search(post: dict, search: str) -> bool:
        """WordPress search: every term in the title, excerpt or content; '-term' excludes (``parse_search``)."""
        haystack = " ".join(str(post.get(k, "")) for k in ("name", "short_description", "description")).lower()
        for term in re.split(r"[\s,+]+", search.lower()):
            if not term:
                continue
            if term.startswith("-") and len(term) > 1:
                if term[1:] in haystack:
                    return False
            elif term not in haystack:
                return False
        return True

    def _sort(self, posts: list[dict], params: dict, include: list[int]) -> list[dict]:
        orderby, descending = params.get("orderby") or "date", (params.get("order") or "desc") == "desc"
        if orderby == "include" and include:
            return sorted(posts, key=lambda p: include.index(p["id"]))
        if orderby == "price":
            return sorted(posts, key=lambda p: (_num(self._price_info(p)[0]), p["id"]), reverse=descending)
        if orderby in ("popularity", "rating"):
            return sorted(posts, key=lambda p: (p["total_sales"] if orderby == "popularity" else 0, p["id"]),
                          reverse=True)
        keys = {
            "id": lambda p: p["id"],
            "title": lambda p: (p.get("name") or self._variation_title(p)).lower(),
            "slug": lambda p: p.get("slug", ""),
            "modified": lambda p: (p["date_modified"], p["id"]),
            "menu_order": lambda p: (p["menu_order"], (p.get("name") or "").lower()),
        }
        key = keys.get(orderby, lambda p: (p["date_created"], p["id"]))
        return sorted(posts, key=key, reverse=descending)
