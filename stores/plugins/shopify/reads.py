"""Reads of the shop's products (``ProductReads``, a part of ``ShopifyPlugin``): one by handle or GID, with
its stock at a location or at every location, pages of the catalog, and the bulk export."""

from __future__ import annotations

import json as jsonlib
import time
from collections.abc import Iterator

import httpx

from stores.plugins import NotFound, Transient

from .client import http_error
from .ids import PRODUCT_GID, numeric_id, product_gid
from .queries import (
    BULK_PRODUCTS_QUERY,
    BULK_RUN,
    BULK_STATUS,
    MAX_PAGE,
    MAX_QUERY_COST,
    MUTATION_COST,
    PRODUCT_BY_ID,
    PRODUCT_VARIANTS_PAGE,
    PRODUCT_VARIANTS_WITH_STOCK_PAGE,
    PRODUCT_WITH_STOCK,
    PRODUCTS_PAGE,
    STOCK_BY_LOCATION,
    STOCK_VARIANTS_PAGE,
    _product_cost,
    _stock_by_location_cost,
)


class ProductReads:
    """What the shop holds now, read through the plugin's ``client``."""

    def find_product(self, handle: str) -> dict | None:
        """The store's product with ``handle`` (``products(first: 1, query: "handle:'…'")``), or None."""
        escaped = handle.replace("\\", "\\\\").replace("'", "\\'")
        for node in self.iter_products(query=f"handle:'{escaped}'", page_size=1, variants_per_product=MAX_PAGE,
                                       limit=1):
            if node.get("handle") == handle:
                return node
        return None

    def fetch_product(self, external_id: str) -> dict:
        """The store's product ``external_id`` (a product GID or its number) as it is now, for the pull agent.

        ``get_product``'s answer: the GraphQL shape of ``RemoteListing.snapshot``
        (``title``, ``status``, ``descriptionHtml``, every variant under
        ``variants.nodes`` with ``sku``, ``position``, ``price``,
        ``compareAtPrice``, ``inventoryQuantity`` — the total over every
        location — and ``inventoryItem.tracked``), with the stock at the
        store's stock location (``stock_location_id``): per variant
        ``inventoryItem.inventoryLevel.quantities[{name: "available",
        quantity}]`` (``inventoryLevel`` null where the item is not stocked)
        and ``_stockLocation`` = that location's GID. So a merchant's stock
        at another location is not mistaken for an edit of ours. Raises
        ``NotFound`` when the shop has no such product (``product: null``) or
        the id is not a Shopify product id.
        """
        gid = product_gid(external_id)
        if not gid.startswith(PRODUCT_GID) or numeric_id(gid) is None:
            raise NotFound(f"not a Shopify product id: {external_id!r}", status=None)
        product = self.get_product(gid, stock_at=self.stock_location_id())
        if product is None:
            raise NotFound(f"the shop has no product {gid}", status=200, code="NOT_FOUND")
        return product

    def get_product(self, gid: str, *, stock_at: str | None = None) -> dict | None:
        """One product by GID with all its variants, or None when the store has none.

        ``stock_at`` (a Location GID): each variant also carries its stock level there
        (``inventoryItem.inventoryLevel``, 2 points a variant, variants in pages of
        ``STOCK_VARIANTS_PAGE``) and the product ``_stockLocation`` = ``stock_at``.
        """
        if stock_at:
            data = self.client.graphql(
                PRODUCT_WITH_STOCK,
                {"id": product_gid(gid), "variantsFirst": STOCK_VARIANTS_PAGE, "stockLocationId": stock_at},
                cost=_product_cost(STOCK_VARIANTS_PAGE, mutation=False, stock=True))
        else:
            data = self.client.graphql(PRODUCT_BY_ID, {"id": product_gid(gid), "variantsFirst": MAX_PAGE},
                                       cost=_product_cost(MAX_PAGE, mutation=False))
        product = data.get("product")
        if not isinstance(product, dict):
            return None
        self._complete_variants(product, stock_at=stock_at)
        if stock_at:
            product["_stockLocation"] = stock_at
        return product

    def inventory_levels(self, product_id: str, *, levels_first: int = 10) -> list[dict]:
        """Stock by location of every variant of one product (each variant's ``inventoryItem.inventoryLevels``
        with ``quantities(names: ["available"])``, shopify.dev ``InventoryItem`` / ``InventoryLevel``)::

            [{"variant_id": variant GID, "sku": str, "inventory_item_id": GID, "tracked": bool,
              "levels": [{"location_id": Location GID, "available": int (units),
                          "updated_at": ISO-8601 time or None}]}]

        in variant order. ``levels_first`` (1–250) is the size of each variant's levels page: pass at least
        the shop's number of locations (levels past it are not read). The variants page shrinks so one
        request stays under the 1000-point cap: 3 + n × (4 + 3 × ``levels_first``) ≤ 1000. Raises
        ``NotFound`` when the shop has no such product.
        """
        if not 1 <= levels_first <= MAX_PAGE:
            raise ValueError(f"levels_first must be between 1 and {MAX_PAGE}, got {levels_first}")
        gid = product_gid(product_id)
        per_page = max(1, min(MAX_PAGE, int((MAX_QUERY_COST - 3) // (4 + 3 * levels_first))))
        out: list[dict] = []
        after = None
        while True:
            data = self.client.graphql(STOCK_BY_LOCATION, {"id": gid, "variantsFirst": per_page, "after": after,
                                                           "levelsFirst": levels_first},
                                       cost=_stock_by_location_cost(per_page, levels_first))
            product = data.get("product")
            if not isinstance(product, dict):
                raise NotFound(f"the shop has no product {gid}", status=200, code="NOT_FOUND")
            connection = product.get("variants") or {}
            for node in connection.get("nodes") or []:
                item = node.get("inventoryItem") or {}
                levels = []
                for level in (item.get("inventoryLevels") or {}).get("nodes") or []:
                    location = (level.get("location") or {}).get("id")
                    available = next((q for q in level.get("quantities") or [] if q.get("name") == "available"),
                                     None)
                    if not location or available is None or not isinstance(available.get("quantity"), int):
                        raise Transient(f"unreadable inventory level of {node.get('id')}: {str(level)[:120]}",
                                        status=200, code="bad_shape")
                    levels.append({"location_id": str(location), "available": available["quantity"],
                                   "updated_at": available.get("updatedAt")})
                out.append({"variant_id": str(node.get("id")), "sku": node.get("sku") or "",
                            "inventory_item_id": str(item.get("id") or ""), "tracked": item.get("tracked") is True,
                            "levels": levels})
            page = connection.get("pageInfo") or {}
            if not page.get("hasNextPage") or not page.get("endCursor"):
                return out
            after = page["endCursor"]

    def iter_products(self, *, query: str | None = None, page_size: int = 50, variants_per_product: int = 20,
                      limit: int | None = None) -> Iterator[dict]:
        """Yield the store's products (``products`` connection, cursor pages of at most ``page_size``).

        ``query`` is Shopify's search syntax (``"handle:'tee'"``,
        ``"updated_at:>2025-01-01"``); each product carries its first
        ``variants_per_product`` (1–250) variants (all of them via
        ``get_product``). The page shrinks so one request stays under the
        1000-point single-query limit: 2 + page × (3 + 3 × variants) ≤ 1000.
        ``limit`` stops after that many products. For a whole large catalog,
        ``bulk_export`` is cheaper.
        """
        if not 1 <= page_size <= MAX_PAGE:
            raise ValueError(f"page_size must be between 1 and {MAX_PAGE}, got {page_size}")
        if not 1 <= variants_per_product <= MAX_PAGE:
            raise ValueError(f"variants_per_product must be between 1 and {MAX_PAGE}, got {variants_per_product}")
        per_product = _product_cost(variants_per_product, mutation=False)
        page_size = max(1, min(page_size, int((MAX_QUERY_COST - 2) // per_product)))
        after = None
        given = 0
        while True:
            variables = {"first": page_size, "after": after, "query": query, "variantsFirst": variants_per_product}
            data = self.client.graphql(PRODUCTS_PAGE, variables, cost=2 + page_size * per_product)
            connection = data.get("products") or {}
            for node in connection.get("nodes") or []:
                yield node
                given += 1
                if limit is not None and given >= limit:
                    return
            page = connection.get("pageInfo") or {}
            if not page.get("hasNextPage") or not page.get("endCursor"):
                return
            after = page["endCursor"]

    def _complete_variants(self, product: dict, *, stock_at: str | None = None) -> None:
        """Fetch the rest of ``product.variants`` when Shopify paged them (more than 250 variants; more than
        ``STOCK_VARIANTS_PAGE`` with the stock level at ``stock_at``)."""
        connection = product.get("variants") or {}
        nodes = list(connection.get("nodes") or [])
        page = connection.get("pageInfo") or {}
        while page.get("hasNextPage") and page.get("endCursor"):
            if stock_at:
                data = self.client.graphql(PRODUCT_VARIANTS_WITH_STOCK_PAGE,
                                           {"id": product["id"], "after": page["endCursor"],
                                            "stockLocationId": stock_at},
                                           cost=_product_cost(STOCK_VARIANTS_PAGE, mutation=False, stock=True))
            else:
                data = self.client.graphql(PRODUCT_VARIANTS_PAGE, {"id": product["id"], "after": page["endCursor"]},
                                           cost=_product_cost(MAX_PAGE, mutation=False))
            more = ((data.get("product") or {}).get("variants") or {})
            nodes.extend(more.get("nodes") or [])
            page = more.get("pageInfo") or {}
        product["variants"] = {"nodes": nodes, "pageInfo": {"hasNextPage": False, "endCursor": None}}

    # ------------------------------------------------------------------ bulk export

    def start_bulk_export(self, query: str = BULK_PRODUCTS_QUERY) -> str:
        """Start ``bulkOperationRunQuery`` (one at a time per shop — shopify.dev); returns the operation GID."""
        data = self.client.graphql(BULK_RUN, {"query": query}, cost=MUTATION_COST + 1)
        operation = (data.get("bulkOperationRunQuery") or {}).get("bulkOperation") or {}
        if not operation.get("id"):
            raise Transient("bulkOperationRunQuery answered without an operation", status=200,
                         code="no_operation")
        return str(operation["id"])

    def bulk_export_status(self, operation_id: str) -> dict:
        """``{id, status: CREATED|RUNNING|COMPLETED|FAILED|CANCELED|…, errorCode, objectCount, url, partialDataUrl}``."""
        data = self.client.graphql(BULK_STATUS, {"id": operation_id}, cost=1)
        node = data.get("node")
        if not isinstance(node, dict):
            raise NotFound(f"bulk operation {operation_id} not found", status=200, code="not_found")
        return node

    def bulk_export(self, query: str = BULK_PRODUCTS_QUERY, *, poll_every: float = 2.0,
                    timeout: float = 3600.0) -> Iterator[dict]:
        """Run a bulk export and yield its JSONL lines as dicts (children carry ``__parentId``).

        Polls every ``poll_every`` seconds for up to ``timeout`` seconds. The
        result URL is a signed download on Shopify's storage host: it is
        fetched *without* the access token. ``FAILED``/``CANCELED``/``EXPIRED``
        → ``Transient`` naming the ``errorCode``; a timeout → ``Transient``.
        """
        operation_id = self.start_bulk_export(query)
        deadline = time.monotonic() + timeout
        while True:
            status = self.bulk_export_status(operation_id)
            state = str(status.get("status") or "")
            if state == "COMPLETED":
                break
            if state in ("FAILED", "CANCELED", "CANCELING", "EXPIRED"):
                raise Transient(f"bulk export {operation_id} {state.lower()}: {status.get('errorCode') or ''}",
                             status=200, code=str(status.get("errorCode") or state))
            if time.monotonic() >= deadline:
                raise Transient(f"bulk export {operation_id} still {state.lower()} after {timeout:g}s",
                             status=None, code="timeout")
            time.sleep(poll_every)
        url = status.get("url")
        if not url:  # COMPLETED with no objects: Shopify gives no file
            return
        try:
            with httpx.Client(timeout=httpx.Timeout(self.client.timeout), follow_redirects=True) as download:
                with download.stream("GET", url) as response:
                    if response.status_code >= 300:
                        raise http_error(response.status_code, None, fallback=f"bulk export download: HTTP "
                                                                              f"{response.status_code}")
                    for line in response.iter_lines():
                        if line.strip():
                            try:
                                yield jsonlib.loads(line)
                            except ValueError as exc:
                                raise Transient(f"bulk export line is not JSON: {line[:120]!r}",
                                             status=response.status_code, code="bad_json") from exc
        except httpx.TimeoutException as exc:
            raise Transient(f"bulk export download timed out: {exc}", status=None, code="timeout") from exc
        except httpx.RequestError as exc:
            raise Transient(f"bulk export download failed: {exc}", status=None, code="network") from exc
