"""The GraphQL Admin API at ``POST /admin/api/<version>/graphql.json``, parsed and run with graphql-core.

Queries are parsed, validated and executed by graphql-core against ``SDL``,
a subset of the Admin schema (names, arguments and nullability as in the
shopify.dev 2025-07 reference). Before running, the requested cost is
computed (``limits.QueryCost``) and taken from the app's cost bucket; over
budget the answer is HTTP 200 with ``errors: [{"message": "Throttled",
"extensions": {"code": "THROTTLED"}}]`` and nothing runs. Every answer
carries::

    "extensions": {"cost": {"requestedQueryCost": int, "actualQueryCost": int | null,
                            "throttleStatus": {"maximumAvailable": float,
                                               "currentlyAvailable": int,
                                               "restoreRate": float}}}

Root fields: ``products``, ``product``, ``productByIdentifier``,
``productsCount``, ``productVariants``, ``productVariant``,
``inventoryItem``, ``locations``, ``location``, ``productOperation``,
``shop``, ``webhookSubscriptions``, ``webhookSubscription``; mutations
``productSet``, ``productVariantsBulkUpdate``, ``productDelete``,
``inventorySetQuantities``, ``inventoryActivate``,
``webhookSubscriptionCreate``, ``webhookSubscriptionDelete``
(``graphql_webhooks``).

Connections take ``first``/``after`` or ``last``/``before`` and answer
``edges { cursor node }``, ``nodes`` and ``pageInfo { hasNextPage
hasPreviousPage startCursor endCursor }``. Cursors are opaque (base64 JSON
``{"last_id", "last_value"}`` like Shopify's) and stay valid when the item
they point at is deleted. ``products(query:)`` understands Shopify's search
syntax for ``id``, ``title``, ``handle``, ``sku``, ``status``, ``vendor``,
``product_type``, ``tag``, ``created_at``, ``updated_at`` (``:``, ``:>``,
``:>=``, ``:<``, ``:<=``, a trailing ``*`` for a prefix, ``-`` to negate,
``OR`` between groups, bare words searching the title); other fields are
ignored, as Shopify ignores what it does not know.

Differences on purpose: error messages for invalid documents are
graphql-core's, not graphql-ruby's; ``productSet(synchronous: false)``
finishes at once (the operation answers ``CREATED``, then ``COMPLETE`` when
queried); no media, metafields, collections, publications or bulk operations.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable

from graphql import (
    DocumentNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    build_schema,
    execute,
    parse,
    validate,
)
from graphql.execution.values import get_variable_values
from graphql.language import ast as gql_ast

from . import graphql_webhooks
from .limits import MAX_QUERY_COST, CostBucket, CostError, QueryCost
from .pagination import _page_args, connection, decode_cursor, encode_cursor  # noqa: F401 (re-exported)
from .shop import Shop, gid, now, parse_gid, parse_time, to_decimal

SDL = """
scalar DateTime
scalar Money
scalar Decimal
scalar HTML
scalar URL
scalar UnsignedInt64

enum ProductStatus { ACTIVE ARCHIVED DRAFT }
enum ProductVariantInventoryPolicy { CONTINUE DENY }
enum ProductSortKeys { CREATED_AT ID INVENTORY_TOTAL PRODUCT_TYPE PUBLISHED_AT RELEVANCE TITLE UPDATED_AT VENDOR }
enum ProductVariantSortKeys { ID POSITION SKU TITLE }
enum LocationSortKeys { ID NAME }
enum ProductOperationStatus { ACTIVE COMPLETE CREATED }
enum CountPrecision { AT_LEAST EXACT }
enum CurrencyCode { USD }
enum WeightUnit { GRAMS KILOGRAMS OUNCES POUNDS }
enum ProductSetUserErrorCode {
  CAPABILITY_VIOLATION DUPLICATED_OPTION_NAME DUPLICATED_OPTION_VALUE DUPLICATED_VALUE GENERIC_ERROR
  HANDLE_NOT_UNIQUE ID_NOT_ALLOWED INPUT_MISMATCH INVALID_INPUT INVALID_METAFIELD INVALID_PRODUCT INVALID_VARIANT
  JOB_ERROR MISSING_FIELD_REQUIRED NOT_FOUND OPTION_DOES_NOT_EXIST OPTION_VALUE_DOES_NOT_EXIST
  OPTION_VALUES_MISSING OPTION_VALUES_OVER_LIMIT OPTIONS_OVER_LIMIT PRODUCT_DOES_NOT_EXIST
  PRODUCT_OPTIONS_INPUT_MISSING PRODUCT_VARIANT_DOES_NOT_EXIST VARIANTS_INPUT_MISSING VARIANTS_OVER_LIMIT
}
enum ProductVariantsBulkUpdateUserErrorCode {
  GREATER_THAN_OR_EQUAL_TO INVALID_INPUT MUST_BE_FOR_THIS_PRODUCT NEED_TO_ADD_OPTION_VALUES NEGATIVE_PRICE_VALUE
  PRODUCT_DOES_NOT_EXIST PRODUCT_SUSPENDED PRODUCT_VARIANT_DOES_NOT_EXIST PRODUCT_VARIANT_ID_MISSING
  VARIANT_ALREADY_EXISTS
}
enum InventorySetQuantitiesUserErrorCode {
  COMPARE_QUANTITY_REQUIRED COMPARE_QUANTITY_STALE INVALID_INVENTORY_ITEM INVALID_LOCATION INVALID_NAME
  INVALID_QUANTITY_NEGATIVE INVALID_QUANTITY_TOO_HIGH INVALID_QUANTITY_TOO_LOW INVALID_REASON
  INVALID_REFERENCE_DOCUMENT ITEM_NOT_STOCKED_AT_LOCATION NO_DUPLICATE_INVENTORY_ITEM_ID_GROUP_ID_PAIR
  NON_MUTABLE_INVENTORY_ITEM
}

interface Node { id: ID! }

type PageInfo { hasNextPage: Boolean! hasPreviousPage: Boolean! startCursor: String endCursor: String }
type Count { count: Int! precision: CountPrecision! }
type MoneyV2 { amount: Decimal! currencyCode: CurrencyCode! }
type Weight { unit: WeightUnit! value: Float! }
type InventoryItemMeasurement { id: ID! weight: Weight }

type Product implements Node {
  id: ID!
  legacyResourceId: UnsignedInt64!
  title: String!
  handle: String!
  descriptionHtml: HTML!
  vendor: String!
  productType: String!
  status: ProductStatus!
  tags: [String!]!
  templateSuffix: String
  createdAt: DateTime!
  updatedAt: DateTime!
  publishedAt: DateTime
  totalInventory: Int!
  tracksInventory: Boolean!
  hasOnlyDefaultVariant: Boolean!
  options(first: Int): [ProductOption!]!
  variants(first: Int, after: String, last: Int, before: String, reverse: Boolean = false,
           sortKey: ProductVariantSortKeys = POSITION): ProductVariantConnection!
  variantsCount: Count
}
type ProductOption implements Node {
  id: ID!
  name: String!
  position: Int!
  values: [String!]!
  optionValues: [ProductOptionValue!]!
}
type ProductOptionValue implements Node { id: ID! name: String! hasVariants: Boolean! }
type SelectedOption { name: String! value: String! }
type ProductVariant implements Node {
  id: ID!
  legacyResourceId: UnsignedInt64!
  title: String!
  displayName: String!
  sku: String
  barcode: String
  price: Money!
  compareAtPrice: Money
  position: Int!
  inventoryPolicy: ProductVariantInventoryPolicy!
  inventoryQuantity: Int
  taxable: Boolean!
  selectedOptions: [SelectedOption!]!
  inventoryItem: InventoryItem!
  product: Product!
  createdAt: DateTime!
  updatedAt: DateTime!
}
type InventoryItem implements Node {
  id: ID!
  legacyResourceId: UnsignedInt64!
  sku: String
  tracked: Boolean!
  requiresShipping: Boolean!
  unitCost: MoneyV2
  measurement: InventoryItemMeasurement!
  createdAt: DateTime!
  updatedAt: DateTime!
  variant: ProductVariant!
  inventoryLevel(locationId: ID!): InventoryLevel
  inventoryLevels(first: Int, after: String, last: Int, before: String,
                  reverse: Boolean = false): InventoryLevelConnection!
}
type InventoryQuantity { id: ID! name: String! quantity: Int! updatedAt: DateTime }
type InventoryLevel implements Node {
  id: ID!
  item: InventoryItem!
  location: Location!
  quantities(names: [String!]!): [InventoryQuantity!]!
  createdAt: DateTime!
  updatedAt: DateTime!
}
type LocationAddress {
  address1: String address2: String city: String zip: String province: String provinceCode: String
  country: String countryCode: String formatted: [String!]!
}
type Location implements Node {
  id: ID!
  legacyResourceId: UnsignedInt64!
  name: String!
  isActive: Boolean!
  fulfillsOnlineOrders: Boolean!
  address: LocationAddress!
  createdAt: DateTime!
  updatedAt: DateTime!
  inventoryLevel(inventoryItemId: ID!): InventoryLevel
  inventoryLevels(first: Int, after: String, last: Int, before: String,
                  reverse: Boolean = false): InventoryLevelConnection!
}
type ShopPlan { displayName: String! partnerDevelopment: Boolean! shopifyPlus: Boolean! }
type Shop implements Node {
  id: ID! name: String! email: String! myshopifyDomain: String! currencyCode: CurrencyCode!
  ianaTimezone: String! plan: ShopPlan!
}

type ProductEdge { cursor: String! node: Product! }
type ProductConnection { edges: [ProductEdge!]! nodes: [Product!]! pageInfo: PageInfo! }
type ProductVariantEdge { cursor: String! node: ProductVariant! }
type ProductVariantConnection { edges: [ProductVariantEdge!]! nodes: [ProductVariant!]! pageInfo: PageInfo! }
type LocationEdge { cursor: String! node: Location! }
type LocationConnection { edges: [LocationEdge!]! nodes: [Location!]! pageInfo: PageInfo! }
type InventoryLevelEdge { cursor: String! node: InventoryLevel! }
type InventoryLevelConnection { edges: [InventoryLevelEdge!]! nodes: [InventoryLevel!]! pageInfo: PageInfo! }

interface ProductOperation { product: Product status: ProductOperationStatus! }
type ProductSetOperation implements Node & ProductOperation {
  id: ID! product: Product status: ProductOperationStatus! userErrors: [ProductSetUserError!]!
}

input ProductIdentifierInput { id: ID handle: String }

type Query {
  products(first: Int, after: String, last: Int, before: String, query: String, reverse: Boolean = false,
           sortKey: ProductSortKeys = ID): ProductConnection!
  product(id: ID!): Product
  productByIdentifier(identifier: ProductIdentifierInput!): Product
  productsCount(query: String, limit: Int = 10000): Count
  productVariants(first: Int, after: String, last: Int, before: String, query: String, reverse: Boolean = false,
                  sortKey: ProductVariantSortKeys = ID): ProductVariantConnection!
  productVariant(id: ID!): ProductVariant
  inventoryItem(id: ID!): InventoryItem
  locations(first: Int, after: String, last: Int, before: String, reverse: Boolean = false,
            sortKey: LocationSortKeys = NAME, includeInactive: Boolean = false): LocationConnection!
  location(id: ID): Location
  productOperation(id: ID!): ProductOperation
  shop: Shop!
}

input ProductSetIdentifiers { id: ID handle: String }
input OptionValueSetInput { id: ID name: String }
input OptionSetInput { id: ID name: String position: Int values: [OptionValueSetInput!] }
input VariantOptionValueInput { id: ID name: String optionId: ID optionName: String linkedMetafieldValue: String }
input WeightInput { unit: WeightUnit! value: Float! }
input InventoryItemMeasurementInput { weight: WeightInput }
input InventoryItemInput {
  sku: String tracked: Boolean requiresShipping: Boolean cost: Decimal measurement: InventoryItemMeasurementInput
}
input ProductSetInventoryInput { locationId: ID! name: String! quantity: Int! }
enum FileContentType { FILE IMAGE VIDEO EXTERNAL_VIDEO MODEL_3D }
input FileSetInput { id: ID alt: String contentType: FileContentType duplicateResolutionMode: String filename: String
  originalSource: String }
input ProductVariantSetInput {
  id: ID
  barcode: String
  compareAtPrice: Money
  inventoryItem: InventoryItemInput
  inventoryPolicy: ProductVariantInventoryPolicy
  inventoryQuantities: [ProductSetInventoryInput!]
  optionValues: [VariantOptionValueInput!]!
  position: Int
  file: FileSetInput
  price: Money
  sku: String
  taxable: Boolean
  requiresComponents: Boolean
  taxCode: String
}
input ProductSetInput {
  id: ID
  title: String
  handle: String
  descriptionHtml: String
  vendor: String
  productType: String
  status: ProductStatus
  tags: [String!]
  templateSuffix: String
  giftCard: Boolean
  requiresSellingPlan: Boolean
  redirectNewHandle: Boolean
  productOptions: [OptionSetInput!]
  variants: [ProductVariantSetInput!]
  files: [FileSetInput!]
}
input ProductVariantsBulkInput {
  id: ID
  barcode: String
  compareAtPrice: Money
  inventoryItem: InventoryItemInput
  inventoryPolicy: ProductVariantInventoryPolicy
  optionValues: [VariantOptionValueInput!]
  price: Money
  taxable: Boolean
  requiresComponents: Boolean
  taxCode: String
}
input ProductDeleteInput { id: ID! }
input InventoryQuantityInput { inventoryItemId: ID! locationId: ID! quantity: Int! compareQuantity: Int }
input InventorySetQuantitiesInput {
  name: String!
  reason: String!
  referenceDocumentUri: String
  ignoreCompareQuantity: Boolean = false
  quantities: [InventoryQuantityInput!]!
}

type UserError { field: [String!] message: String! }
type ProductSetUserError { field: [String!] message: String! code: ProductSetUserErrorCode }
type ProductVariantsBulkUpdateUserError {
  field: [String!] message: String! code: ProductVariantsBulkUpdateUserErrorCode
}
type InventorySetQuantitiesUserError { field: [String!] message: String! code: InventorySetQuantitiesUserErrorCode }

type ProductSetPayload {
  product: Product productSetOperation: ProductSetOperation userErrors: [ProductSetUserError!]!
}
type ProductVariantsBulkUpdatePayload {
  product: Product productVariants: [ProductVariant!] userErrors: [ProductVariantsBulkUpdateUserError!]!
}
type ProductDeletePayload { deletedProductId: ID shop: Shop! userErrors: [UserError!]! }
type InventoryChange {
  name: String! delta: Int! quantityAfterChange: Int item: InventoryItem location: Location ledgerDocumentUri: URL
}
type InventoryAdjustmentGroup {
  id: ID!
  createdAt: DateTime!
  reason: String!
  referenceDocumentUri: String
  changes(inventoryItemIds: [ID!], locationIds: [ID!], quantityNames: [String!]): [InventoryChange!]!
}
type InventorySetQuantitiesPayload {
  inventoryAdjustmentGroup: InventoryAdjustmentGroup userErrors: [InventorySetQuantitiesUserError!]!
}
type InventoryActivatePayload { inventoryLevel: InventoryLevel userErrors: [UserError!]! }

type Mutation {
  productSet(identifier: ProductSetIdentifiers, input: ProductSetInput!, synchronous: Boolean = true): ProductSetPayload
  productVariantsBulkUpdate(productId: ID!, variants: [ProductVariantsBulkInput!]!,
                            allowPartialUpdates: Boolean = false): ProductVariantsBulkUpdatePayload
  productDelete(input: ProductDeleteInput!, synchronous: Boolean = true): ProductDeletePayload
  inventorySetQuantities(input: InventorySetQuantitiesInput!): InventorySetQuantitiesPayload
  inventoryActivate(inventoryItemId: ID!, locationId: ID!, available: Int, onHand: Int,
                    stockAtLegacyLocation: Boolean = false): InventoryActivatePayload
}
"""

QUANTITY_NAMES = ("available", "on_hand", "committed", "reserved", "incoming", "damaged", "quality_control",
                  "safety_stock")


# --------------------------------------------------------------------------- schema


def _parse_money(value: Any) -> Decimal:
    amount = to_decimal(value)
    if amount is None:
        raise ValueError(f"invalid money value {value!r}")
    return amount


def _money_literal(node: Any, _variables: Any = None) -> Decimal:
    if isinstance(node, (gql_ast.StringValueNode, gql_ast.IntValueNode, gql_ast.FloatValueNode)):
        return _parse_money(node.value)
    raise ValueError("money must be a string or a number")


def build() -> GraphQLSchema:
    """The schema with Money/Decimal coercion and every resolver attached (webhook subscriptions:
    ``graphql_webhooks``)."""
    schema = build_schema(SDL + graphql_webhooks.SDL)
    for name in ("Money", "Decimal"):
        scalar = schema.type_map[name]
        scalar.parse_value = _parse_money
        scalar.parse_literal = _money_literal
        scalar.serialize = str
    for resolvers in (RESOLVERS, graphql_webhooks.RESOLVERS):
        for type_name, fields in resolvers.items():
            graphql_type = schema.type_map[type_name]
            for field_name, resolver in fields.items():
                graphql_type.fields[field_name].resolve = resolver
    schema.type_map["WebhookSubscriptionEndpoint"].resolve_type = lambda value, info, abstract: value["__typename"]
    schema.type_map["ProductOperation"].resolve_type = lambda value, info, abstract: "ProductSetOperation"
    schema.type_map["Node"].resolve_type = lambda value, info, abstract: None
    return schema


@dataclass
class Context:
    shop: Shop
    api_version: str
    changed: bool = False


# --------------------------------------------------------------------------- search (pages: ``pagination``)


_TERM = re.compile(r"""(?P<neg>-)?(?:(?P<field>[a-z_]+):)?(?P<op>>=|<=|>|<)?(?P<value>"[^"]*"|'[^']*'|\S+)""")


def parse_search(query: str | None) -> list[list[tuple[bool, str | None, str, str]]]:
    """Shopify search syntax as groups (OR between them) of terms ``(negated, field, op, value)`` (AND)."""
    groups: list[list[tuple[bool, str | None, str, str]]] = [[]]
    for match in _TERM.finditer(query or ""):
        value = match.group("value")
        if match.group("field") is None and value in ("AND", "and"):
            continue
        if match.group("field") is None and value == "OR":
            groups.append([])
            continue
        if value[:1] in "\"'" and value[-1:] == value[:1] and len(value) >= 2:
            value = value[1:-1]
        groups[-1].append((bool(match.group("neg")), match.group("field"), match.group("op") or "=", value))
    return [group for group in groups if group] or [[]]


def _compare(actual: Any, op: str, wanted: Any) -> bool:
    if actual is None or wanted is None:
        return False
    return {"=": actual == wanted, ">": actual > wanted, ">=": actual >= wanted,
            "<": actual < wanted, "<=": actual <= wanted}[op]


def _text_match(actual: str | None, wanted: str, *, contains: bool = False) -> bool:
    actual = (actual or "").lower()
    wanted = wanted.lower()
    if wanted.endswith("*"):
        prefix = wanted[:-1]
        return actual.startswith(prefix) or any(word.startswith(prefix) for word in re.split(r"\W+", actual))
    return wanted in actual if contains else actual == wanted


def product_matches(shop: Shop, product: dict, groups: list) -> bool:
    def term_ok(field: str | None, op: str, value: str) -> bool:
        if field is None or field == "title":
            return _text_match(product["title"], value, contains=field is None or not value.endswith("*"))
        if field == "id":
            return value.isdigit() and _compare(product["id"], op, int(value))
        if field == "handle":
            return _text_match(product["handle"], value)
        if field == "sku":
            return any(_text_match(v["sku"], value) for v in product["variants"])
        if field == "barcode":
            return any(_text_match(v["barcode"], value) for v in product["variants"])
        if field == "status":
            return product["status"] in [s.strip().lower() for s in value.split(",")]
        if field == "vendor":
            return _text_match(product["vendor"], value)
        if field == "product_type":
            return _text_match(product["product_type"], value)
        if field == "tag":
            return any(_text_match(tag, value) for tag in product["tags"])
        if field in ("created_at", "updated_at", "published_at"):
            return _compare(parse_time(product[field]), op, parse_time(value))
        return True  # unknown fields are ignored

    return any(all(term_ok(field, op, value) != negated for negated, field, op, value in group) for group in groups)


def variant_matches(product: dict, variant: dict, groups: list) -> bool:
    def term_ok(field: str | None, op: str, value: str) -> bool:
        if field is None or field == "title":
            return _text_match(variant["title"], value, contains=True)
        if field == "sku":
            return _text_match(variant["sku"], value)
        if field == "barcode":
            return _text_match(variant["barcode"], value)
        if field == "product_id":
            return value.isdigit() and product["id"] == int(value)
        if field == "id":
            return value.isdigit() and _compare(variant["id"], op, int(value))
        if field == "updated_at":
            return _compare(parse_time(variant["updated_at"]), op, parse_time(value))
        return True

    return any(all(term_ok(field, op, value) != negated for negated, field, op, value in group) for group in groups)


# --------------------------------------------------------------------------- wrappers and resolvers


@dataclass
class VariantRef:
    product: dict
    variant: dict


@dataclass
class LevelRef:
    level: dict


def _shop(info) -> Shop:
    return info.context.shop


def _need_gid(value: Any, kind: str) -> int:
    number = parse_gid(value, kind)
    if number is None:
        raise GraphQLError(f"Invalid global id '{value}'", extensions={"code": "argumentLiteralsIncompatible"})
    return number


_PRODUCT_SORT = {
    "ID": lambda p: 0, "RELEVANCE": lambda p: 0, "TITLE": lambda p: p["title"].lower(),
    "UPDATED_AT": lambda p: p["updated_at"], "CREATED_AT": lambda p: p["created_at"],
    "VENDOR": lambda p: p["vendor"].lower(), "PRODUCT_TYPE": lambda p: p["product_type"].lower(),
    "PUBLISHED_AT": lambda p: p["published_at"] or "",
}


def resolve_products(_root, info, **args) -> dict:
    shop = _shop(info)
    groups = parse_search(args.get("query"))
    items = [p for p in shop.products() if product_matches(shop, p, groups)]
    sort_key = args.get("sortKey") or "ID"
    if sort_key == "INVENTORY_TOTAL":
        key = lambda p: shop.total_inventory(p)  # noqa: E731 - needs the shop
    else:
        key = _PRODUCT_SORT[sort_key]
    return connection(items, key=key, ident=lambda p: p["id"], wrap=lambda p: p, **_page_args(args))


def resolve_products_count(_root, info, query=None, limit=10000) -> dict:
    shop = _shop(info)
    groups = parse_search(query)
    count = sum(1 for p in shop.products() if product_matches(shop, p, groups))
    if limit is not None and count > limit:
        return {"count": limit, "precision": "AT_LEAST"}
    return {"count": count, "precision": "EXACT"}


def resolve_product(_root, info, id) -> dict | None:  # noqa: A002 - the GraphQL argument's name
    return _shop(info).product(_need_gid(id, "Product"))


def resolve_product_by_identifier(_root, info, identifier) -> dict | None:
    shop = _shop(info)
    if identifier.get("id") is not None:
        return shop.product(_need_gid(identifier["id"], "Product"))
    if identifier.get("handle") is not None:
        return shop.product_by_handle(identifier["handle"])
    raise GraphQLError("An identifier needs one of id or handle.")


def resolve_product_variants(_root, info, **args) -> dict:
    shop = _shop(info)
    groups = parse_search(args.get("query"))
    items = [VariantRef(p, v) for p in shop.products() for v in p["variants"] if variant_matches(p, v, groups)]
    keys = {"ID": lambda r: 0, "POSITION": lambda r: (r.product["id"], r.variant["position"]),
            "SKU": lambda r: r.variant["sku"], "TITLE": lambda r: r.variant["title"]}
    return connection(items, key=keys[args.get("sortKey") or "ID"], ident=lambda r: r.variant["id"],
                      wrap=lambda r: r, **_page_args(args))


def resolve_product_variant(_root, info, id) -> VariantRef | None:  # noqa: A002
    found = _shop(info).variant(_need_gid(id, "ProductVariant"))
    return VariantRef(*found) if found else None


def resolve_inventory_item(_root, info, id) -> VariantRef | None:  # noqa: A002
    found = _shop(info).inventory_item(_need_gid(id, "InventoryItem"))
    return VariantRef(*found) if found else None


def resolve_locations(_root, info, **args) -> dict:
    shop = _shop(info)
    items = [loc for loc in shop.locations() if loc["active"] or args.get("includeInactive")]
    key = (lambda loc: loc["name"].lower()) if (args.get("sortKey") or "NAME") == "NAME" else (lambda loc: 0)
    return connection(items, key=key, ident=lambda loc: loc["id"], wrap=lambda loc: loc, **_page_args(args))


def resolve_location(_root, info, id=None) -> dict | None:  # noqa: A002
    shop = _shop(info)
    return shop.primary_location() if id is None else shop.location(_need_gid(id, "Location"))


def resolve_product_operation(_root, info, id) -> dict | None:  # noqa: A002
    shop = _shop(info)
    operation = shop.data["operations"].get(str(_need_gid(id, "ProductSetOperation")))
    if operation is None:
        return None
    return {"id": gid("ProductSetOperation", operation["id"]), "status": operation["status"],
            "product": shop.product(operation["product_id"]), "userErrors": operation["user_errors"]}


def resolve_shop(_root, info) -> dict:
    shop = _shop(info)
    return {"id": gid("Shop", shop.shop_id), "name": shop.name, "email": f"owner@{shop.domain}",
            "myshopifyDomain": shop.domain, "currencyCode": "USD", "ianaTimezone": "UTC",
            "plan": {"displayName": shop.plan_display_name, "partnerDevelopment": False,
                     "shopifyPlus": shop.plan_name in ("shopify_plus", "enterprise")}}


def _product_variants(product, info, **args) -> dict:
    keys = {"POSITION": lambda r: r.variant["position"], "ID": lambda r: 0, "SKU": lambda r: r.variant["sku"],
            "TITLE": lambda r: r.variant["title"]}
    refs = [VariantRef(product, v) for v in product["variants"]]
    return connection(refs, key=keys[args.get("sortKey") or "POSITION"], ident=lambda r: r.variant["id"],
                      wrap=lambda r: r, **_page_args(args))


def _product_options(product, info, first=None) -> list:
    options = [{"product": product, "option": o} for o in product["options"]]
    return options[:first] if first is not None else options


def _option_values(ref, info) -> list:
    product, option = ref["product"], ref["option"]
    index = option["position"] - 1
    used = {v["option_values"][index] for v in product["variants"] if index < len(v["option_values"])}
    return [{"id": gid("ProductOptionValue", v["id"]), "name": v["name"], "hasVariants": v["name"] in used}
            for v in option["values"]]


def _item_levels(ref: VariantRef, info, **args) -> dict:
    levels = _shop(info).levels_of_item(ref.variant["inventory_item"]["id"])
    return connection(levels, key=lambda lv: 0, ident=lambda lv: lv["location_id"], wrap=LevelRef, **_page_args(args))


def _item_level(ref: VariantRef, info, locationId) -> LevelRef | None:  # noqa: N803 - GraphQL's name
    level = _shop(info).level(ref.variant["inventory_item"]["id"], _need_gid(locationId, "Location"))
    return LevelRef(level) if level else None


def _location_levels(location, info, **args) -> dict:
    levels = _shop(info).levels_at(location["id"])
    return connection(levels, key=lambda lv: 0, ident=lambda lv: lv["inventory_item_id"], wrap=LevelRef,
                      **_page_args(args))


def _location_level(location, info, inventoryItemId) -> LevelRef | None:  # noqa: N803
    level = _shop(info).level(_need_gid(inventoryItemId, "InventoryItem"), location["id"])
    return LevelRef(level) if level else None


def _level_id(ref: LevelRef) -> str:
    return gid("InventoryLevel", ref.level["location_id"]) + f"?inventory_item_id={ref.level['inventory_item_id']}"


def _quantities(ref: LevelRef, info, names) -> list:
    out = []
    for name in names:
        amount = ref.level["available"] if name in ("available", "on_hand") else 0
        out.append({"id": f"gid://shopify/InventoryQuantity/{ref.level['location_id']}"
                          f"?inventory_item_id={ref.level['inventory_item_id']}&name={name}",
                    "name": name, "quantity": amount,
                    "updatedAt": ref.level["updated_at"] if name in ("available", "on_hand") else None})
    return out


def _field(name: str) -> Callable:
    return lambda source, info: source[name]


RESOLVERS: dict[str, dict[str, Callable]] = {
    "Query": {
        "products": resolve_products, "product": resolve_product, "productByIdentifier": resolve_product_by_identifier,
        "productsCount": resolve_products_count, "productVariants": resolve_product_variants,
        "productVariant": resolve_product_variant, "inventoryItem": resolve_inventory_item,
        "locations": resolve_locations, "location": resolve_location,
        "productOperation": resolve_product_operation, "shop": resolve_shop,
    },
    "Product": {
        "id": lambda p, info: gid("Product", p["id"]), "legacyResourceId": lambda p, info: str(p["id"]),
        "title": _field("title"), "handle": _field("handle"), "descriptionHtml": _field("body_html"),
        "vendor": _field("vendor"), "productType": _field("product_type"),
        "status": lambda p, info: p["status"].upper(), "tags": _field("tags"),
        "templateSuffix": _field("template_suffix"), "createdAt": _field("created_at"),
        "updatedAt": _field("updated_at"), "publishedAt": _field("published_at"),
        "totalInventory": lambda p, info: _shop(info).total_inventory(p),
        "tracksInventory": lambda p, info: any(v["inventory_item"]["tracked"] for v in p["variants"]),
        "hasOnlyDefaultVariant": lambda p, info: [o["name"] for o in p["options"]] == ["Title"]
        and len(p["variants"]) == 1 and p["variants"][0]["option_values"] == ["Default Title"],
        "options": _product_options, "variants": _product_variants,
        "variantsCount": lambda p, info: {"count": len(p["variants"]), "precision": "EXACT"},
    },
    "ProductOption": {
        "id": lambda r, info: gid("ProductOption", r["option"]["id"]), "name": lambda r, info: r["option"]["name"],
        "position": lambda r, info: r["option"]["position"],
        "values": lambda r, info: [v["name"] for v in r["option"]["values"]], "optionValues": _option_values,
    },
    "ProductVariant": {
        "id": lambda r, info: gid("ProductVariant", r.variant["id"]),
        "legacyResourceId": lambda r, info: str(r.variant["id"]), "title": lambda r, info: r.variant["title"],
        "displayName": lambda r, info: f"{r.product['title']} - {r.variant['title']}",
        "sku": lambda r, info: r.variant["sku"], "barcode": lambda r, info: r.variant["barcode"],
        "price": lambda r, info: r.variant["price"], "compareAtPrice": lambda r, info: r.variant["compare_at_price"],
        "position": lambda r, info: r.variant["position"],
        "inventoryPolicy": lambda r, info: r.variant["inventory_policy"].upper(),
        "inventoryQuantity": lambda r, info: _shop(info).inventory_quantity(r.variant),
        "taxable": lambda r, info: r.variant["taxable"],
        "selectedOptions": lambda r, info: [{"name": o["name"], "value": value} for o, value
                                            in zip(r.product["options"], r.variant["option_values"])],
        "inventoryItem": lambda r, info: r, "product": lambda r, info: r.product,
        "createdAt": lambda r, info: r.variant["created_at"], "updatedAt": lambda r, info: r.variant["updated_at"],
    },
    "InventoryItem": {
        "id": lambda r, info: gid("InventoryItem", r.variant["inventory_item"]["id"]),
        "legacyResourceId": lambda r, info: str(r.variant["inventory_item"]["id"]),
        "sku": lambda r, info: r.variant["sku"], "tracked": lambda r, info: r.variant["inventory_item"]["tracked"],
        "requiresShipping": lambda r, info: r.variant["inventory_item"]["requires_shipping"],
        "unitCost": lambda r, info: ({"amount": r.variant["inventory_item"]["cost"], "currencyCode": "USD"}
                                     if r.variant["inventory_item"]["cost"] is not None else None),
        "measurement": lambda r, info: {
            "id": gid("InventoryItemMeasurement", r.variant["inventory_item"]["id"]),
            "weight": r.variant["inventory_item"].get("weight") or {"unit": "KILOGRAMS", "value": 0.0}},
        "createdAt": lambda r, info: r.variant["inventory_item"]["created_at"],
        "updatedAt": lambda r, info: r.variant["inventory_item"]["updated_at"],
        "variant": lambda r, info: r, "inventoryLevel": _item_level, "inventoryLevels": _item_levels,
    },
    "InventoryLevel": {
        "id": lambda r, info: _level_id(r),
        "item": lambda r, info: VariantRef(*_shop(info).inventory_item(r.level["inventory_item_id"])),
        "location": lambda r, info: _shop(info).location(r.level["location_id"]),
        "quantities": _quantities, "createdAt": lambda r, info: r.level["updated_at"],
        "updatedAt": lambda r, info: r.level["updated_at"],
    },
    "Location": {
        "id": lambda loc, info: gid("Location", loc["id"]), "legacyResourceId": lambda loc, info: str(loc["id"]),
        "name": _field("name"), "isActive": _field("active"), "fulfillsOnlineOrders": lambda loc, info: True,
        "address": lambda loc, info: {
            "address1": loc["address1"], "address2": loc["address2"], "city": loc["city"], "zip": loc["zip"],
            "province": loc["province"], "provinceCode": loc["province_code"], "country": loc["country_name"],
            "countryCode": loc["country_code"],
            "formatted": [part for part in (loc["address1"], f"{loc['zip']} {loc['city']}", loc["country_name"])
                          if part]},
        "createdAt": _field("created_at"), "updatedAt": _field("updated_at"),
        "inventoryLevel": _location_level, "inventoryLevels": _location_levels,
    },
}


# --------------------------------------------------------------------------- mutations


def _errors(errors: list, *, with_code: bool = True) -> list[dict]:
    return [error.as_dict(with_code=with_code) for error in errors]


def mutate_product_set(_root, info, input, identifier=None, synchronous=True) -> dict:  # noqa: A002
    ctx: Context = info.context
    shop = ctx.shop
    product, errors = shop.product_set(identifier, input)
    if product is not None:
        ctx.changed = True
    if synchronous:
        return {"product": product, "productSetOperation": None, "userErrors": _errors(errors)}
    number = shop.state.new_id()
    shop.data["operations"][str(number)] = {"id": number, "product_id": product["id"] if product else None,
                                            "status": "COMPLETE", "user_errors": _errors(errors)}
    ctx.changed = True
    return {"product": None, "userErrors": [],
            "productSetOperation": {"id": gid("ProductSetOperation", number), "status": "CREATED", "product": None,
                                    "userErrors": []}}


def mutate_variants_bulk_update(_root, info, productId, variants, allowPartialUpdates=False) -> dict:  # noqa: N803
    ctx: Context = info.context
    product, updated, errors = ctx.shop.variants_bulk_update(productId, variants, allowPartialUpdates)
    if updated:
        ctx.changed = True
    return {"product": product if updated is not None else None,
            "productVariants": [VariantRef(product, v) for v in updated] if updated is not None else None,
            "userErrors": _errors(errors)}


def mutate_product_delete(_root, info, input, synchronous=True) -> dict:  # noqa: A002
    ctx: Context = info.context
    product = ctx.shop.product(parse_gid(input["id"], "Product"))
    if product is None:
        return {"deletedProductId": None, "shop": resolve_shop(None, info),
                "userErrors": [{"field": ["id"], "message": "Product does not exist"}]}
    ctx.shop.delete_product(product)
    ctx.changed = True
    return {"deletedProductId": gid("Product", product["id"]), "shop": resolve_shop(None, info), "userErrors": []}


def mutate_inventory_set_quantities(_root, info, input) -> dict:  # noqa: A002
    ctx: Context = info.context
    shop = ctx.shop
    changes, errors = shop.inventory_set_quantities(input)
    if changes is None:
        return {"inventoryAdjustmentGroup": None, "userErrors": _errors(errors)}
    ctx.changed = True
    group = {"id": gid("InventoryAdjustmentGroup", shop.state.new_id()), "createdAt": now(),
             "reason": input["reason"], "referenceDocumentUri": input.get("referenceDocumentUri"),
             "_changes": changes}
    return {"inventoryAdjustmentGroup": group, "userErrors": []}


def _adjustment_changes(group, info, inventoryItemIds=None, locationIds=None, quantityNames=None) -> list:  # noqa: N803
    shop = _shop(info)
    out = []
    for change in group["_changes"]:
        if inventoryItemIds is not None and gid("InventoryItem", change["inventory_item_id"]) not in inventoryItemIds:
            continue
        if locationIds is not None and gid("Location", change["location_id"]) not in locationIds:
            continue
        if quantityNames is not None and change["name"] not in quantityNames:
            continue
        found = shop.inventory_item(change["inventory_item_id"])
        out.append({"name": change["name"], "delta": change["delta"],
                    "quantityAfterChange": change["quantityAfterChange"],
                    "item": VariantRef(*found) if found else None, "location": shop.location(change["location_id"]),
                    "ledgerDocumentUri": None})
    return out


def mutate_inventory_activate(_root, info, inventoryItemId, locationId, available=None, onHand=None,  # noqa: N803
                              stockAtLegacyLocation=False) -> dict:
    ctx: Context = info.context
    before = len(ctx.shop.data["levels"])
    level, errors = ctx.shop.inventory_activate(inventoryItemId, locationId, available, onHand)
    if level is None:
        return {"inventoryLevel": None, "userErrors": _errors(errors, with_code=False)}
    if len(ctx.shop.data["levels"]) != before:
        ctx.changed = True
    return {"inventoryLevel": LevelRef(level), "userErrors": []}


RESOLVERS["Mutation"] = {
    "productSet": mutate_product_set, "productVariantsBulkUpdate": mutate_variants_bulk_update,
    "productDelete": mutate_product_delete, "inventorySetQuantities": mutate_inventory_set_quantities,
    "inventoryActivate": mutate_inventory_activate,
}
RESOLVERS["InventoryAdjustmentGroup"] = {"changes": _adjustment_changes}


# --------------------------------------------------------------------------- the endpoint


@dataclass
class Parsed:
    """A request body read far enough to log it and to know whether it writes."""

    query: str | None
    variables: dict | None
    operation_name: str | None
    document: DocumentNode | None
    operation: OperationDefinitionNode | None
    error: dict | None  # an answer to give at once (bad JSON, syntax error)

    @property
    def is_write(self) -> bool:
        return self.operation is not None and self.operation.operation.value == "mutation"

    @property
    def log_name(self) -> str | None:
        """The operation's name, else its root fields (``"productSet"``), for the request log."""
        if self.operation is None:
            return self.operation_name
        if self.operation.name is not None:
            return self.operation.name.value
        fields = [s.name.value for s in self.operation.selection_set.selections if isinstance(s, gql_ast.FieldNode)]
        return ",".join(fields) or None


def read_request(body: bytes, content_type: str) -> Parsed:
    """Parse the HTTP body: JSON ``{"query", "variables", "operationName"}`` or ``application/graphql``."""
    if content_type == "application/graphql":
        query, variables, operation_name = body.decode("utf-8", "replace"), None, None
    else:
        try:
            payload = json.loads(body.decode("utf-8") or "null")
        except (UnicodeDecodeError, ValueError):
            return Parsed(None, None, None, None, None, {"errors": [{"message": "Invalid JSON in request body"}]})
        if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
            return Parsed(None, None, None, None, None,
                          {"errors": [{"message": "Parameter 'query' is required"}]})
        query = payload["query"]
        variables = payload.get("variables") if isinstance(payload.get("variables"), dict) else None
        operation_name = payload.get("operationName") if isinstance(payload.get("operationName"), str) else None
    try:
        document = parse(query)
    except GraphQLError as exc:
        return Parsed(query, variables, operation_name, None, None, {"errors": [exc.formatted]})
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    operation = None
    if operation_name:
        operation = next((o for o in operations if o.name and o.name.value == operation_name), None)
    elif len(operations) == 1:
        operation = operations[0]
    return Parsed(query, variables, operation_name, document, operation, None)


class GraphQLApi:
    """Runs one GraphQL request: validation, cost, throttle, execution, refund."""

    def __init__(self, shop: Shop, bucket: CostBucket):
        self.shop = shop
        self.bucket = bucket
        self.schema = build()

    def _cost(self, requested: int | None, actual: int | None) -> dict:
        return {"cost": {"requestedQueryCost": requested, "actualQueryCost": actual,
                         "throttleStatus": self.bucket.status()}}

    def respond(self, parsed: Parsed, api_version: str) -> tuple[dict, bool]:
        """The answer body, and whether it was throttled. Every answer is HTTP 200 with ``extensions.cost``."""
        if parsed.error is not None:
            return parsed.error | {"extensions": self._cost(0, 0)}, False
        errors = validate(self.schema, parsed.document)
        if errors:
            return {"errors": [e.formatted for e in errors], "extensions": self._cost(0, 0)}, False
        if parsed.operation is None:
            message = (f"Unknown operation named \"{parsed.operation_name}\"." if parsed.operation_name
                       else "An operation name is required when the document has more than one operation.")
            return {"errors": [{"message": message}], "extensions": self._cost(0, 0)}, False
        coerced = get_variable_values(self.schema, parsed.operation.variable_definitions or [],
                                      parsed.variables or {})
        if isinstance(coerced, list):
            return {"errors": [e.formatted for e in coerced], "extensions": self._cost(0, 0)}, False
        fragments = {d.name.value: d for d in parsed.document.definitions if isinstance(d, FragmentDefinitionNode)}
        cost = QueryCost(self.schema, fragments, parsed.operation, coerced, api_version)
        try:
            requested = cost.requested()
        except CostError as exc:
            return {"errors": [exc.formatted()], "extensions": self._cost(None, None)}, False
        if requested > MAX_QUERY_COST:
            message = f"Query cost is {requested}, which exceeds the single query max cost limit ({MAX_QUERY_COST})."
            return {"errors": [{"message": message, "extensions": {
                "code": "MAX_COST_EXCEEDED", "cost": requested, "maxCost": MAX_QUERY_COST,
                "documentation": "https://shopify.dev/api/usage/rate-limits"}}],
                "extensions": self._cost(requested, None)}, False
        if not self.bucket.take(requested):
            return {"errors": [{"message": "Throttled", "extensions": {
                "code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"}}],
                "extensions": self._cost(requested, None)}, True
        context = Context(self.shop, api_version)
        with self.shop.lock:
            result = execute(self.schema, parsed.document, context_value=context, variable_values=parsed.variables,
                             operation_name=parsed.operation_name)
            if context.changed:
                self.shop.save()
        actual = cost.actual(result.data)
        self.bucket.give_back(requested - actual)
        body: dict[str, Any] = {}
        if result.errors:
            body["errors"] = [e.formatted for e in result.errors]
        body["data"] = result.data
        body["extensions"] = self._cost(requested, actual)
        return body, False
