"""Reads of the store's products (``ProductReads``, a part of ``WooCommercePlugin``): one as stored, ids by
SKU, and many by id."""

from __future__ import annotations

from stores.plugins import NotFound, Transient

from .client import MAX_PER_PAGE, _as_id

SKU_LOOKUP_CHUNK = 50  # SKUs per ``GET /products?sku=…`` (keeps the URL short)
# Every product list read pages by id: the default (date) order pages unstably when products share a
# timestamp (seen on 7.9.0: a read of 520 missed 8 and returned 8 twice; issue 13 item 9).
STABLE_ORDER = {"orderby": "id", "order": "asc"}


class ProductReads:
    """What the store holds now, read through the plugin's ``client``."""

    def fetch_product(self, external_id: str) -> dict:
        """The store's product ``external_id`` as it is now, texts as stored (``context=edit``).

        ``GET /products/<id>?context=edit`` (the view context runs
        ``wpautop`` on descriptions, so only ``edit`` compares with what we
        wrote; WooCommerce source). A variable product also gets its
        variations, every page, under ``"variations_detail"`` — the shape of
        ``RemoteListing.snapshot``. Raises ``NotFound`` when the product is
        gone (404) or the id is not a WooCommerce id.
        """
        pid = _as_id(external_id)
        if pid is None:
            raise NotFound(f"not a WooCommerce product id: {external_id!r}", status=None)
        product = self.client.get(f"products/{pid}", {"context": "edit"})
        if not isinstance(product, dict):
            raise Transient(f"GET products/{pid} did not answer an object", status=None)
        if product.get("type") == "variable":
            product["variations_detail"] = list(self.client.paginate(f"products/{pid}/variations",
                                                                     {"context": "edit"}))
        return product

    def _ids_by_sku(self, skus: list[str]) -> dict[str, int]:
        """Store product ids (not variations) for ``skus``.

        ``GET /products?sku=a,b`` (the SKU filter takes a comma list and also
        matches variations: WooCommerce source), 50 SKUs per lookup.
        """
        found: dict[str, int] = {}
        for start in range(0, len(skus), SKU_LOOKUP_CHUNK):
            chunk = skus[start:start + SKU_LOOKUP_CHUNK]
            for item in self.client.paginate("products", {"sku": ",".join(chunk), **STABLE_ORDER}):
                if item.get("type") == "variation" or item.get("parent_id"):
                    continue
                sku = item.get("sku")
                if sku in chunk and sku not in found:
                    found[sku] = int(item["id"])
        return found

    def _fetch_products(self, ids: list[int]) -> dict[int, dict]:
        """Current product JSON for ``ids`` (``GET /products?include=…``, 100 per page)."""
        found: dict[int, dict] = {}
        unique = sorted(set(ids))
        for start in range(0, len(unique), MAX_PER_PAGE):
            chunk = unique[start:start + MAX_PER_PAGE]
            for item in self.client.paginate("products", {"include": chunk, **STABLE_ORDER}):
                found[int(item["id"])] = item
        return found
