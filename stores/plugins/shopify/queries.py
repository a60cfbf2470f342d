"""The GraphQL documents the connector sends, Shopify's size limits, and the requested cost (points) of each
document, given to the gate before the call (shopify.dev, GraphQL cost calculation)."""

from __future__ import annotations

import math
import re

#: Cost of a mutation field, before its selection (shopify.dev, GraphQL cost calculation: "mutations: 10").
MUTATION_COST = 10
#: Most nodes one connection page may ask for (shopify.dev pagination: ``first`` ≤ 250).
MAX_PAGE = 250
#: Most objects one GraphQL input array may hold (shopify.dev changelog, "GraphQL input objects limited to 250 items").
MAX_INPUT_ITEMS = 250


def estimate_cost(query: str, variables: dict | None = None) -> float:
    """A rough requested-cost estimate (points) for ``query``, used only to wait for room before sending.

    Mutations cost 10 plus 1; a query costs 1 plus, for each connection asked
    with ``first: N`` (a literal or a variable), 2 + N (shopify.dev cost
    calculation: objects 1, connections 2 + page size). The gate corrects
    itself from ``throttleStatus`` after every answer, so a rough number is
    enough; callers in this module pass exact-enough costs themselves.
    """
    text = query.lstrip()
    base = MUTATION_COST + 1 if text.startswith("mutation") else 1
    total = float(base)
    for match in re.finditer(r"first\s*:\s*(\$?\w+)", query):
        token = match.group(1)
        if token.startswith("$"):
            value = (variables or {}).get(token[1:])
        else:
            value = token
        try:
            total += 2 + min(int(value), MAX_PAGE)
        except (TypeError, ValueError):
            total += 2 + 50
    return total


#: Per variant in ``fetch_product``: the ``available`` quantity at one location (``$stockLocationId``), 2 points
#: (the level object 1, its quantities 1). Never in the read-back of a write: that runs for every publish.
STOCK_LEVEL_SELECTION = 'inventoryLevel(locationId: $stockLocationId) { quantities(names: ["available"]) { name quantity } }'


def _product_selection(*, stock: bool = False) -> str:
    """Fields read back after a write; ``$variantsFirst`` sizes the variants page (cost grows with it).

    ``stock``: each variant's inventory item also carries ``inventoryLevel`` at ``$stockLocationId``
    (``STOCK_LEVEL_SELECTION``), for reads of one product (``get_product(stock_at=…)``).
    """
    item = f"inventoryItem {{ id tracked {STOCK_LEVEL_SELECTION} }}" if stock else "inventoryItem { id tracked }"
    return """
      id
      legacyResourceId
      handle
      title
      status
      vendor
      productType
      tags
      descriptionHtml
      updatedAt
      variants(first: $variantsFirst) {
        nodes {
          id
          sku
          position
          price
          compareAtPrice
          barcode
          inventoryQuantity
          selectedOptions { name value }
          %s
        }
        pageInfo { hasNextPage endCursor }
      }""" % item


PRODUCT_SET = """
mutation FlashFusionProductSet($identifier: ProductSetIdentifiers, $input: ProductSetInput!, $variantsFirst: Int!) {
  productSet(identifier: $identifier, input: $input, synchronous: true) {
    product {%s
    }
    userErrors { field message code }
  }
}""" % _product_selection()

PRODUCT_BY_ID = """
query FlashFusionProduct($id: ID!, $variantsFirst: Int!) {
  product(id: $id) {%s
  }
}""" % _product_selection()

PRODUCT_VARIANTS_PAGE = """
query FlashFusionProductVariants($id: ID!, $after: String) {
  product(id: $id) {
    variants(first: 250, after: $after) {
      nodes {
        id sku position price compareAtPrice barcode inventoryQuantity
        selectedOptions { name value }
        inventoryItem { id tracked }
      }
      pageInfo { hasNextPage endCursor }
    }
  }
}"""

#: Variants per page when each carries its stock level: 1 + 2 + 100 × 5 = 503 points, under the 1000 cap.
STOCK_VARIANTS_PAGE = 100

PRODUCT_WITH_STOCK = """
query FlashFusionProductWithStock($id: ID!, $variantsFirst: Int!, $stockLocationId: ID!) {
  product(id: $id) {%s
  }
}""" % _product_selection(stock=True)

PRODUCT_VARIANTS_WITH_STOCK_PAGE = """
query FlashFusionProductVariantsWithStock($id: ID!, $after: String, $stockLocationId: ID!) {
  product(id: $id) {
    variants(first: %d, after: $after) {
      nodes {
        id sku position price compareAtPrice barcode inventoryQuantity
        selectedOptions { name value }
        inventoryItem { id tracked %s }
      }
      pageInfo { hasNextPage endCursor }
    }
  }
}""" % (STOCK_VARIANTS_PAGE, STOCK_LEVEL_SELECTION)

LOCATIONS_PAGE = """
query FlashFusionLocations($first: Int!, $after: String) {
  location { id }
  locations(first: $first, after: $after, includeInactive: true) {
    nodes { id name isActive }
    pageInfo { hasNextPage endCursor }
  }
}"""

STOCK_BY_LOCATION = """
query FlashFusionStockByLocation($id: ID!, $variantsFirst: Int!, $after: String, $levelsFirst: Int!) {
  product(id: $id) {
    id
    variants(first: $variantsFirst, after: $after) {
      nodes {
        id sku
        inventoryItem {
          id tracked
          inventoryLevels(first: $levelsFirst) {
            nodes { location { id } quantities(names: ["available"]) { name quantity updatedAt } }
          }
        }
      }
      pageInfo { hasNextPage endCursor }
    }
  }
}"""

INVENTORY_ACTIVATE = """
mutation FlashFusionInventoryActivate($inventoryItemId: ID!, $locationId: ID!, $available: Int) {
  inventoryActivate(inventoryItemId: $inventoryItemId, locationId: $locationId, available: $available) {
    inventoryLevel { id }
    userErrors { field message }
  }
}"""

PRODUCTS_PAGE = """
query FlashFusionProducts($first: Int!, $after: String, $query: String, $variantsFirst: Int!) {
  products(first: $first, after: $after, query: $query) {
    nodes {%s
    }
    pageInfo { hasNextPage endCursor }
  }
}""" % _product_selection()

PRODUCT_DELETE = """
mutation FlashFusionProductDelete($input: ProductDeleteInput!) {
  productDelete(input: $input) {
    deletedProductId
    userErrors { field message }
  }
}"""

VARIANTS_BULK_UPDATE = """
mutation FlashFusionVariantsBulkUpdate($productId: ID!, $variants: [ProductVariantsBulkInput!]!) {
  productVariantsBulkUpdate(productId: $productId, variants: $variants) {
    productVariants { id sku price compareAtPrice }
    userErrors { field message code }
  }
}"""

INVENTORY_SET = """
mutation FlashFusionInventorySet($input: InventorySetQuantitiesInput!) {
  inventorySetQuantities(input: $input) {
    inventoryAdjustmentGroup { reason changes { name delta } }
    userErrors { field message code }
  }
}"""

BULK_RUN = """
mutation FlashFusionBulkExport($query: String!) {
  bulkOperationRunQuery(query: $query) {
    bulkOperation { id status }
    userErrors { field message code }
  }
}"""

BULK_STATUS = """
query FlashFusionBulkStatus($id: ID!) {
  node(id: $id) {
    ... on BulkOperation { id status errorCode objectCount url partialDataUrl }
  }
}"""

#: The catalog export a bulk operation runs (one JSONL line per product, then one per variant with ``__parentId``).
BULK_PRODUCTS_QUERY = """
{
  products {
    edges {
      node {
        id handle title status vendor productType tags updatedAt
        variants {
          edges { node { id sku price compareAtPrice inventoryQuantity selectedOptions { name value } } }
        }
      }
    }
  }
}"""


def _product_cost(variants: int, *, mutation: bool, stock: bool = False) -> float:
    """Requested cost of reading one product with ``_product_selection``: the product 1 (free inside a mutation
    payload) + the variants connection, 2 + n × 3 (node 1, ``selectedOptions`` 1, ``inventoryItem`` 1), + 2 per
    variant with ``stock`` (the level at one location and its quantities)."""
    return float((0 if mutation else 1) + 2 + max(1, variants) * (5 if stock else 3))


def _stock_by_location_cost(variants: int, levels: int) -> float:
    """Requested cost of ``STOCK_BY_LOCATION``: product 1 + variants 2 + n × (node 1 + ``inventoryItem`` 1 +
    levels connection 2 + m × (node 1 + ``location`` 1 + ``quantities`` 1))."""
    return float(3 + max(1, variants) * (4 + 3 * max(1, levels)))


def _product_set_cost(body: dict, variants_first: int, api_version: str) -> float:
    """Requested cost of ``PRODUCT_SET``: the mutation's own cost plus the product read back.

    ``productSet`` costs a fixed 50 points up to API version 2025-07; from
    2025-10 it is 10 + 0.2 × variants + 0.6 × variant files + 1.9 × product
    files (shopify.dev changelog "Dynamic complexity cost for productSet
    mutation", October 2025).
    """
    if api_version != "unstable" and api_version < "2025-10":
        base = 50.0
    else:
        variants = body.get("variants") or []
        base = float(math.ceil(10 + 0.2 * len(variants) + 0.6 * sum(1 for v in variants if v.get("file"))
                               + 1.9 * len(body.get("files") or [])))
    return base + _product_cost(variants_first, mutation=True)


#: Most points one GraphQL query may request (shopify.dev: "MAX_COST_EXCEEDED" above 1000).
MAX_QUERY_COST = 1000
