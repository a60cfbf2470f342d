"""The Shopify Admin API emulator, over real HTTP on loopback (no database).

GraphQL: productSet (create, update, replaced variants, upsert by handle),
userErrors, cursor pagination, search, cost extensions, THROTTLED and its
recovery. REST: shapes against Shopify's own fixtures
(``shared/data/shopify/rest_fixtures``), the leaky bucket, ``Link``
pagination. Webhooks: signed deliveries to a receiver in the test. Faults:
each kind, and repeatable draws.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from stores.emulators.shopify import FaultPlan, sign, start_emulator

TOKEN = "shpat_test"
SECRET = "whsec_test"
FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "data" / "shopify" / "rest_fixtures"

PRODUCT_SET = """
mutation Set($input: ProductSetInput!, $identifier: ProductSetIdentifiers) {
  productSet(input: $input, identifier: $identifier) {
    product {
      id handle title status tags vendor
      options { name values }
      variants(first: 20) {
        nodes { id title sku price compareAtPrice inventoryQuantity
                selectedOptions { name value } inventoryItem { id tracked } }
      }
    }
    userErrors { field message code }
  }
}
"""


class Shop:
    """A small client: GraphQL and REST with the access token."""

    def __init__(self, emulator, token: str = TOKEN):
        self.emulator = emulator
        self.headers = {"X-Shopify-Access-Token": token}
        self.http = httpx.Client(timeout=10.0)

    def gql(self, query: str, variables: dict | None = None, **kwargs) -> httpx.Response:
        return self.http.post(self.emulator.graphql_url, headers=self.headers,
                              json={"query": query, "variables": variables or {}}, **kwargs)

    def data(self, query: str, variables: dict | None = None) -> dict:
        answer = self.gql(query, variables)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert "errors" not in body, body
        return body["data"]

    def rest(self, method: str, path: str, **kwargs) -> httpx.Response:
        url = path if path.startswith("http") else f"{self.emulator.api_url}/{path}"
        return self.http.request(method, url, headers=self.headers, **kwargs)

    def product_set(self, product_input: dict, identifier: dict | None = None) -> dict:
        variables = {"input": product_input}
        if identifier is not None:
            variables["identifier"] = identifier
        return self.data(PRODUCT_SET, variables)["productSet"]

    def locations(self) -> list[str]:
        return [n["id"] for n in self.data("{ locations(first: 5) { nodes { id } } }")["locations"]["nodes"]]


@pytest.fixture
def emulator():
    emu = start_emulator(port=0, access_token=TOKEN, webhook_secret=SECRET)
    try:
        yield emu
    finally:
        emu.stop()


@pytest.fixture
def shop(emulator):
    client = Shop(emulator)
    yield client
    client.http.close()


def sizes(*names: str, prices: tuple = (), skus: tuple = ()) -> dict:
    """productOptions + variants for one "Size" option."""
    return {
        "productOptions": [{"name": "Size", "values": [{"name": n} for n in names]}],
        "variants": [{"optionValues": [{"optionName": "Size", "name": n}],
                      "price": prices[i] if i < len(prices) else "10.00",
                      "sku": skus[i] if i < len(skus) else f"SKU-{n}"} for i, n in enumerate(names)],
    }


def simple_product(title: str, sku: str, price: str = "10.00", **extra) -> dict:
    return {"title": title, **extra, "productOptions": [{"name": "Title", "values": [{"name": "Default Title"}]}],
            "variants": [{"optionValues": [{"optionName": "Title", "name": "Default Title"}], "price": price,
                          "sku": sku}]}


# --------------------------------------------------------------------------- auth


def test_missing_or_wrong_token_is_401_on_graphql_and_rest(emulator):
    expected = {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}
    for client in (httpx.Client(), httpx.Client(headers={"X-Shopify-Access-Token": "shpat_wrong"})):
        with client:
            graphql = client.post(emulator.graphql_url, json={"query": "{ shop { name } }"})
            rest = client.get(f"{emulator.api_url}/products.json")
            assert (graphql.status_code, graphql.json()) == (401, expected)
            assert (rest.status_code, rest.json()) == (401, expected)


def test_unknown_routes_are_404_and_versions_fall_back(shop):
    assert shop.rest("GET", "orders.json").status_code == 404
    answer = shop.http.get(shop.emulator.base_url + "/admin/api/2019-04/shop.json", headers=shop.headers)
    assert answer.status_code == 200
    assert answer.headers["X-Shopify-API-Version"] == "2025-07"
    assert answer.json()["shop"]["myshopify_domain"] == "flashfusion-demo.myshopify.com"


# --------------------------------------------------------------------------- productSet


def test_product_set_creates_a_product_with_options_variants_and_stock(shop):
    warehouse = shop.locations()[1]
    product_input = {"title": "Cotton Tee", "vendor": "Acme", "tags": ["summer", "cotton"], "status": "DRAFT",
                     **sizes("S", "M", prices=("19.50", 21), skus=("TEE-S", "TEE-M"))}
    product_input["variants"][0]["inventoryQuantities"] = [{"locationId": warehouse, "name": "available",
                                                            "quantity": 7}]
    result = shop.product_set(product_input)
    assert result["userErrors"] == []
    product = result["product"]
    assert product["id"].startswith("gid://shopify/Product/")
    assert int(product["id"].rsplit("/", 1)[1]) > 2**31  # real ids do not fit 32 bits either
    assert (product["handle"], product["status"], product["tags"]) == ("cotton-tee", "DRAFT", ["summer", "cotton"])
    assert product["options"] == [{"name": "Size", "values": ["S", "M"]}]
    small, medium = product["variants"]["nodes"]
    assert (small["title"], small["sku"], small["price"], small["inventoryQuantity"]) == ("S", "TEE-S", "19.50", 7)
    assert medium["price"] == "21.00" and medium["inventoryQuantity"] == 0
    assert small["inventoryItem"]["tracked"] is True  # quantities given: tracked
    assert small["selectedOptions"] == [{"name": "Size", "value": "S"}]

    [stored] = shop.emulator.products()
    assert stored["title"] == "Cotton Tee" and stored["tags"] == "summer, cotton" and stored["status"] == "draft"
    assert [v["sku"] for v in stored["variants"]] == ["TEE-S", "TEE-M"]
    levels = {lv["location_id"]: lv["available"] for lv in stored["variants"][0]["inventory_levels"]}
    assert levels[int(warehouse.rsplit("/", 1)[1])] == 7


def test_product_set_without_variants_gets_the_default_variant(shop):
    product = shop.product_set({"title": "Gift Card"})["product"]
    assert product["options"] == [{"name": "Title", "values": ["Default Title"]}]
    [variant] = product["variants"]["nodes"]
    assert (variant["title"], variant["price"]) == ("Default Title", "0.00")


def test_weights_go_in_through_the_inventory_item_and_show_in_rest(shop):
    product_input = {"title": "Kettlebell", **sizes("8kg")}
    product_input["variants"][0]["inventoryItem"] = {"measurement": {"weight": {"unit": "KILOGRAMS", "value": 8}},
                                                     "requiresShipping": True}
    created = shop.product_set(product_input)["product"]
    item = created["variants"]["nodes"][0]["inventoryItem"]["id"]
    weight = shop.data("query($id: ID!) { inventoryItem(id: $id) { measurement { weight { unit value } } } }",
                       {"id": item})["inventoryItem"]["measurement"]["weight"]
    assert weight == {"unit": "KILOGRAMS", "value": 8.0}
    [variant] = shop.emulator.products()[0]["variants"]
    assert (variant["weight"], variant["weight_unit"], variant["grams"]) == (8.0, "kg", 8000)
    rest = shop.rest("POST", "products.json", json={"product": {"title": "Feather", "variants": [{"grams": 5}]}})
    assert rest.json()["product"]["variants"][0]["weight_unit"] == "g"
    assert rest.json()["product"]["variants"][0]["grams"] == 5


def test_product_set_update_replaces_the_variant_list(shop):
    created = shop.product_set({"title": "Hoodie", **sizes("S", "M", "L")})["product"]
    small, medium, large = created["variants"]["nodes"]
    update = {"id": created["id"], **sizes("S", "L", "XL", prices=("30.00", "32.00", "34.00"))}
    update["variants"][0]["id"] = small["id"]  # by id; "L" has no id but matches the stored L by option value
    result = shop.product_set(update)
    assert result["userErrors"] == []
    product = result["product"]
    variants = {v["title"]: v for v in product["variants"]["nodes"]}
    assert list(variants) == ["S", "L", "XL"]  # M was omitted, so it is deleted
    assert variants["S"]["id"] == small["id"] and variants["L"]["id"] == large["id"]
    assert variants["XL"]["id"] not in {small["id"], medium["id"], large["id"]}
    assert variants["L"]["price"] == "32.00"
    assert product["title"] == "Hoodie"  # not given: unchanged
    assert shop.data("query($id: ID!) { productVariant(id: $id) { id } }", {"id": medium["id"]}) == \
        {"productVariant": None}
    stored_items = {v["inventory_item_id"] for v in shop.emulator.products()[0]["variants"]}
    assert int(medium["inventoryItem"]["id"].rsplit("/", 1)[1]) not in stored_items


def test_product_set_changes_only_the_fields_it_is_given(shop):
    created = shop.product_set({"title": "Mug", "vendor": "Potter", "tags": ["kitchen"]})["product"]
    updated = shop.product_set({"id": created["id"], "title": "Big Mug"})["product"]
    assert (updated["title"], updated["vendor"], updated["tags"]) == ("Big Mug", "Potter", ["kitchen"])
    assert updated["handle"] == "mug"  # a handle is not regenerated when the title changes
    assert updated["variants"]["nodes"][0]["id"] == created["variants"]["nodes"][0]["id"]


def test_product_set_upserts_by_handle_identifier(shop):
    first = shop.product_set(simple_product("Cap", "CAP-1"), identifier={"handle": "wool-cap"})
    assert first["userErrors"] == [] and first["product"]["handle"] == "wool-cap"
    second = shop.product_set(simple_product("Wool Cap", "CAP-1", price="12.00"), identifier={"handle": "wool-cap"})
    assert second["product"]["id"] == first["product"]["id"]
    assert second["product"]["title"] == "Wool Cap"
    assert len(shop.emulator.products()) == 1

    by_id = shop.product_set({"title": "Wool Cap v2"}, identifier={"id": first["product"]["id"]})
    assert by_id["product"]["title"] == "Wool Cap v2"
    clash = shop.product_set({"id": first["product"]["id"], "title": "x"}, identifier={"handle": "wool-cap"})
    assert clash["userErrors"] == [{"field": ["input", "id"], "code": "ID_NOT_ALLOWED",
                                    "message": "The id field is not allowed if identifier is provided."}]


@pytest.mark.parametrize(("product_input", "field", "code"), [
    ({"title": "Neg", **sizes("S", prices=("-1.00",))}, ["input", "variants", "0", "price"], "INVALID_VARIANT"),
    ({"title": "   "}, ["input", "title"], "INVALID_PRODUCT"),
    ({"vendor": "No title"}, ["input", "title"], "INVALID_PRODUCT"),
    ({"title": "Dup", "handle": "taken"}, ["input", "handle"], "HANDLE_NOT_UNIQUE"),
    ({"id": "gid://shopify/Product/1", "title": "Ghost"}, ["input", "id"], "PRODUCT_DOES_NOT_EXIST"),
    ({"title": "Half", "variants": sizes("S")["variants"]}, ["input", "productOptions"],
     "PRODUCT_OPTIONS_INPUT_MISSING"),
    ({"title": "Half", "productOptions": sizes("S")["productOptions"]}, ["input", "variants"],
     "VARIANTS_INPUT_MISSING"),
    ({"title": "Twice", **{**sizes("S"), "variants": sizes("S")["variants"] * 2}}, ["input", "variants", "1"],
     "INVALID_VARIANT"),
    ({"title": "Color?", "productOptions": sizes("S")["productOptions"],
      "variants": [{"optionValues": [{"optionName": "Color", "name": "Red"}], "price": "1"}]},
     ["input", "variants", "0", "optionValues", "0", "optionName"], "OPTION_DOES_NOT_EXIST"),
])
def test_product_set_user_errors_write_nothing(shop, product_input, field, code):
    shop.product_set({"title": "Holder", "handle": "taken"})
    before = shop.emulator.products()
    result = shop.product_set(product_input)
    assert result["product"] is None
    assert [(e["field"], e["code"]) for e in result["userErrors"]] == [(field, code)], result["userErrors"]
    assert all(e["message"] for e in result["userErrors"])
    assert shop.emulator.products() == before


def test_money_that_is_not_a_number_is_a_graphql_error(shop):
    answer = shop.gql(PRODUCT_SET, {"input": {"title": "Bad", **sizes("S", prices=("ten",))}}).json()
    assert "data" not in answer and "ten" in answer["errors"][0]["message"]
    assert answer["extensions"]["cost"]["requestedQueryCost"] == 0
    assert shop.emulator.products() == []


def test_invalid_documents_answer_errors_with_cost(shop):
    answer = shop.gql("{ products(first: 1) { nodes { price } } }")
    assert answer.status_code == 200
    body = answer.json()
    assert "data" not in body and "price" in body["errors"][0]["message"]
    assert body["extensions"]["cost"]["throttleStatus"]["maximumAvailable"] == 2000.0
    syntax = shop.gql("{ products(first: 1) { nodes { id }").json()
    assert syntax["errors"][0]["message"].startswith("Syntax Error")
    assert shop.gql("{ product(id: \"123\") { id } }").json()["errors"][0]["message"] == "Invalid global id '123'"


# --------------------------------------------------------------------------- other mutations


def test_variants_bulk_update_changes_only_the_given_variants(shop):
    product = shop.product_set({"title": "Socks", **sizes("S", "M", prices=("5.00", "6.00"))})["product"]
    small, medium = product["variants"]["nodes"]
    mutation = """mutation($productId: ID!, $variants: [ProductVariantsBulkInput!]!) {
      productVariantsBulkUpdate(productId: $productId, variants: $variants) {
        productVariants { id price compareAtPrice sku }
        userErrors { field message code }
      }
    }"""
    result = shop.data(mutation, {"productId": product["id"], "variants": [
        {"id": medium["id"], "price": "7.25", "compareAtPrice": "9.00", "inventoryItem": {"sku": "SOCK-M"}}]})
    payload = result["productVariantsBulkUpdate"]
    assert payload["userErrors"] == []
    assert payload["productVariants"] == [{"id": medium["id"], "price": "7.25", "compareAtPrice": "9.00",
                                           "sku": "SOCK-M"}]
    stored = shop.emulator.products()[0]["variants"]
    assert [(v["price"], v["sku"]) for v in stored] == [("5.00", "SKU-S"), ("7.25", "SOCK-M")]

    failed = shop.data(mutation, {"productId": product["id"], "variants": [
        {"id": small["id"], "price": "-3"}, {"id": "gid://shopify/ProductVariant/1", "price": "1"}]})
    codes = [(e["field"], e["code"]) for e in failed["productVariantsBulkUpdate"]["userErrors"]]
    assert codes == [(["variants", "0", "price"], "NEGATIVE_PRICE_VALUE"),
                     (["variants", "1", "id"], "PRODUCT_VARIANT_DOES_NOT_EXIST")]
    assert shop.emulator.products()[0]["variants"][0]["price"] == "5.00"  # all or nothing
    missing = shop.data(mutation, {"productId": "gid://shopify/Product/1", "variants": []})
    assert missing["productVariantsBulkUpdate"]["userErrors"][0]["code"] == "PRODUCT_DOES_NOT_EXIST"


def test_product_delete(shop):
    product = shop.product_set({"title": "Temporary"})["product"]
    mutation = ("mutation($id: ID!) { productDelete(input: {id: $id}) "
                "{ deletedProductId userErrors { field message } } }")
    assert shop.data(mutation, {"id": product["id"]})["productDelete"] == {"deletedProductId": product["id"],
                                                                           "userErrors": []}
    assert shop.emulator.products() == []
    again = shop.data(mutation, {"id": product["id"]})["productDelete"]
    assert again == {"deletedProductId": None, "userErrors": [{"field": ["id"], "message": "Product does not exist"}]}


def test_inventory_set_quantities_compares_and_sets(shop):
    shop_location, warehouse = shop.locations()
    product = shop.product_set({"title": "Lamp"})["product"]
    item = product["variants"]["nodes"][0]["inventoryItem"]["id"]
    mutation = """mutation($input: InventorySetQuantitiesInput!) {
      inventorySetQuantities(input: $input) {
        inventoryAdjustmentGroup { reason changes { name delta quantityAfterChange location { id } } }
        userErrors { field message code }
      }
    }"""

    def run(quantities, **extra):
        return shop.data(mutation, {"input": {"name": "available", "reason": "correction",
                                              "quantities": quantities, **extra}})["inventorySetQuantities"]

    missing = run([{"inventoryItemId": item, "locationId": shop_location, "quantity": 4}])
    assert missing["userErrors"][0]["code"] == "COMPARE_QUANTITY_REQUIRED"
    done = run([{"inventoryItemId": item, "locationId": shop_location, "quantity": 4, "compareQuantity": 0}])
    assert done["userErrors"] == []
    assert {(c["name"], c["delta"], c["quantityAfterChange"]) for c in done["inventoryAdjustmentGroup"]["changes"]} \
        == {("available", 4, 4), ("on_hand", 4, 4)}
    stale = run([{"inventoryItemId": item, "locationId": shop_location, "quantity": 9, "compareQuantity": 0}])
    assert stale["userErrors"][0]["code"] == "COMPARE_QUANTITY_STALE"
    unstocked = run([{"inventoryItemId": item, "locationId": warehouse, "quantity": 1}], ignoreCompareQuantity=True)
    assert unstocked["userErrors"][0]["code"] == "ITEM_NOT_STOCKED_AT_LOCATION"
    bad_reason = shop.data(mutation, {"input": {"name": "available", "reason": "because", "quantities": [
        {"inventoryItemId": item, "locationId": shop_location, "quantity": 1, "compareQuantity": 4}]}})
    assert bad_reason["inventorySetQuantities"]["userErrors"][0]["code"] == "INVALID_REASON"
    assert shop.emulator.products()[0]["variants"][0]["inventory_quantity"] == 4


def test_async_product_set_completes_as_an_operation(shop):
    mutation = """mutation($input: ProductSetInput!) {
      productSet(input: $input, synchronous: false) { productSetOperation { id status } userErrors { code } }
    }"""
    operation = shop.data(mutation, {"input": {"title": "Later"}})["productSet"]["productSetOperation"]
    assert operation["status"] == "CREATED"
    polled = shop.data("query($id: ID!) { productOperation(id: $id) { status product { title } } }",
                       {"id": operation["id"]})["productOperation"]
    assert polled == {"status": "COMPLETE", "product": {"title": "Later"}}


# --------------------------------------------------------------------------- reading and pagination


def test_products_connection_pages_with_cursors_both_ways(shop):
    ids = [shop.product_set(simple_product(f"Item {i}", f"IT-{i}"))["product"]["id"] for i in range(7)]
    query = """query($first: Int, $after: String, $last: Int, $before: String) {
      products(first: $first, after: $after, last: $last, before: $before) {
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
        edges { cursor node { id } }
      }
    }"""
    seen, after, pages = [], None, []
    while True:
        page = shop.data(query, {"first": 3, "after": after})["products"]
        pages.append(page["pageInfo"])
        seen += [edge["node"]["id"] for edge in page["edges"]]
        assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == ids
    assert [(p["hasNextPage"], p["hasPreviousPage"]) for p in pages] == [(True, False), (True, True), (False, True)]
    back = shop.data(query, {"last": 2, "before": pages[1]["startCursor"]})["products"]
    assert [e["node"]["id"] for e in back["edges"]] == ids[1:3]
    assert back["pageInfo"]["hasPreviousPage"] is True and back["pageInfo"]["hasNextPage"] is True
    # a cursor stays valid when its product is deleted
    shop.emulator.delete_product(ids[2])
    rest = shop.data(query, {"first": 10, "after": pages[0]["endCursor"]})["products"]
    assert [e["node"]["id"] for e in rest["edges"]] == ids[3:]


def test_products_search_query_and_nodes(shop):
    shop.product_set(simple_product("Red Shirt", "SH-RED", vendor="Acme", tags=["sale"]))
    shop.product_set(simple_product("Blue Shirt", "SH-BLUE", vendor="Other", status="DRAFT"))
    shop.product_set(simple_product("Green Hat", "HAT-1", vendor="Acme"))

    def titles(search: str) -> list[str]:
        query = "query($q: String) { products(first: 10, query: $q) { nodes { title } } }"
        return [n["title"] for n in shop.data(query, {"q": search})["products"]["nodes"]]

    assert titles("sku:SH-BLUE") == ["Blue Shirt"]
    assert titles("title:Shi*") == ["Red Shirt", "Blue Shirt"]
    assert titles("status:draft") == ["Blue Shirt"]
    assert titles("vendor:Acme AND tag:sale") == ["Red Shirt"]
    assert titles("vendor:Other OR sku:HAT-1") == ["Blue Shirt", "Green Hat"]
    assert titles("-vendor:Acme") == ["Blue Shirt"]
    assert titles("hat") == ["Green Hat"]
    assert titles("updated_at:>'2000-01-01T00:00:00Z'") == ["Red Shirt", "Blue Shirt", "Green Hat"]
    count = shop.data('{ productsCount(query: "vendor:Acme") { count precision } }')
    assert count == {"productsCount": {"count": 2, "precision": "EXACT"}}
    variants = shop.data('{ productVariants(first: 5, query: "sku:HAT-1") { nodes { sku product { title } } } }')
    assert variants["productVariants"]["nodes"] == [{"sku": "HAT-1", "product": {"title": "Green Hat"}}]


def test_locations_and_shop(shop):
    data = shop.data("{ shop { myshopifyDomain plan { displayName shopifyPlus } } "
                     "locations(first: 5) { nodes { name isActive address { countryCode } } } }")
    assert data["shop"] == {"myshopifyDomain": "flashfusion-demo.myshopify.com",
                            "plan": {"displayName": "Basic", "shopifyPlus": False}}
    assert [(n["name"], n["address"]["countryCode"]) for n in data["locations"]["nodes"]] == \
        [("Shop location", "CA"), ("Warehouse", "DE")]


# --------------------------------------------------------------------------- GraphQL cost


def test_cost_extensions_follow_shopifys_rules(shop):
    shop.product_set(simple_product("One", "C-1"))
    shop.product_set(simple_product("Two", "C-2"))
    query = "{ products(first: 10) { edges { node { id variants(first: 5) { nodes { id } } } } } }"
    body = shop.gql(query).json()
    cost = body["extensions"]["cost"]
    # connection: 2 + first x (1 + node's selections); the inner one 2 + 5 x 1
    assert cost["requestedQueryCost"] == 2 + 10 * (1 + 2 + 5)
    # actual: 2 products, 1 variant each
    assert cost["actualQueryCost"] == 2 + 2 * (1 + 2 + 1)
    status = cost["throttleStatus"]
    assert (status["maximumAvailable"], status["restoreRate"]) == (2000.0, 100.0)
    assert isinstance(status["currentlyAvailable"], int) and status["currentlyAvailable"] <= 2000

    mutation_cost = shop.gql(PRODUCT_SET, {"input": {"title": "Three"}}).json()["extensions"]["cost"]
    # productSet costs 50 up to 2025-07; the payload's plain objects are free, its connection is not
    assert mutation_cost["requestedQueryCost"] == 50 + 2 + 20 * (1 + 1 + 1)
    assert mutation_cost["actualQueryCost"] == 50 + 2 + 1 * (1 + 1 + 1)


def test_product_set_cost_is_dynamic_from_2025_10():
    with start_emulator(port=0, access_token=TOKEN, api_version="2025-10", plan="plus") as emulator:
        client = Shop(emulator)
        cost = client.gql("mutation($i: ProductSetInput!) { productSet(input: $i) { userErrors { code } } }",
                          {"i": {"title": "Many", **sizes("S", "M", "L", "XL", "XXL", "3XL")}}).json()
        assert cost["extensions"]["cost"]["requestedQueryCost"] == 10 + 2  # 10 + 0.2 x 6 variants, rounded up
        assert cost["extensions"]["cost"]["throttleStatus"]["maximumAvailable"] == 20000.0
        assert cost["extensions"]["cost"]["throttleStatus"]["restoreRate"] == 1000.0


def test_queries_above_1000_or_without_first_are_refused(shop):
    big = shop.gql("{ products(first: 250) { nodes { variants(first: 250) { nodes { id } } } } }").json()
    assert big["errors"][0]["extensions"]["code"] == "MAX_COST_EXCEEDED"
    assert big["errors"][0]["message"] == ("Query cost is 63252, which exceeds the single query max cost limit "
                                           "(1000).")
    unbounded = shop.gql("{ products { nodes { id } } }").json()
    assert unbounded["errors"][0]["message"] == "you must provide one of first or last"
    assert unbounded["errors"][0]["path"] == ["products"]


def test_throttled_when_the_budget_is_spent_then_restored_after_waiting(shop):
    mutation = "mutation($i: ProductSetInput!) { productSet(input: $i) { product { id } } }"
    throttled = None
    for number in range(100):
        body = shop.gql(mutation, {"i": {"title": f"Spend {number}"}}).json()
        if "errors" in body:
            throttled = body
            break
    assert throttled is not None, "the 2000-point bucket never ran dry"
    assert throttled["errors"] == [{"message": "Throttled", "extensions": {
        "code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"}}]
    assert "data" not in throttled
    cost = throttled["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 50 + 0 and cost["actualQueryCost"] is None
    assert cost["throttleStatus"]["currentlyAvailable"] < 50
    titles = {p["title"] for p in shop.emulator.products()}
    assert f"Spend {number}" not in titles and len(titles) == number  # the throttled write did not happen
    assert shop.emulator.throttle_log[-1].kind == "graphql_throttled"

    time.sleep((50 - cost["throttleStatus"]["currentlyAvailable"]) / 100.0 + 0.2)
    again = shop.gql(mutation, {"i": {"title": f"Spend {number}"}}).json()
    assert "errors" not in again and again["data"]["productSet"]["product"]["id"]


# --------------------------------------------------------------------------- REST


def test_rest_shapes_match_shopifys_fixtures(shop):
    fixture_product = json.loads((FIXTURES / "product.json").read_text())["product"]
    fixture_variant = json.loads((FIXTURES / "variant.json").read_text())["variant"]
    fixture_location = json.loads((FIXTURES / "locations.json").read_text())["locations"][0]
    fixture_level = json.loads((FIXTURES / "inventory_level.json").read_text())["inventory_level"]

    created = shop.rest("POST", "products.json", json={"product": {
        "title": "IPod Nano - 8GB", "body_html": "<p>small</p>", "vendor": "Apple", "product_type": "Cult Products",
        "tags": "Emotive, Flash Memory", "options": [{"name": "Color"}],
        "variants": [{"option1": "Pink", "price": "199.00", "sku": "IPOD2008PINK", "inventory_management": "shopify",
                      "inventory_policy": "continue", "inventory_quantity": 10},
                     {"option1": "Red", "price": "199.00", "sku": "IPOD2008RED"}]}})
    assert created.status_code == 201, created.text
    product = created.json()["product"]
    assert set(fixture_product) - {"images"} <= set(product)
    assert set(fixture_variant) <= set(product["variants"][0])
    assert product["handle"] == "ipod-nano-8gb" and product["tags"] == "Emotive, Flash Memory"
    assert product["options"][0]["values"] == ["Pink", "Red"]
    pink = product["variants"][0]
    assert (pink["inventory_quantity"], pink["inventory_management"], pink["option1"]) == (10, "shopify", "Pink")
    assert product["created_at"].endswith("+00:00")

    locations = shop.rest("GET", "locations.json").json()["locations"]
    assert set(fixture_location) <= set(locations[0])
    level = shop.rest("POST", "inventory_levels/set.json", json={
        "inventory_item_id": pink["inventory_item_id"], "location_id": locations[0]["id"], "available": 6})
    assert level.status_code == 200, level.text
    assert set(fixture_level) <= set(level.json()["inventory_level"])
    assert level.json()["inventory_level"]["available"] == 6
    untracked = shop.rest("POST", "inventory_levels/set.json", json={
        "inventory_item_id": product["variants"][1]["inventory_item_id"], "location_id": locations[0]["id"],
        "available": 1})
    assert (untracked.status_code, untracked.json()) == (
        422, {"errors": ["Inventory item does not have inventory tracking enabled"]})
    listed = shop.rest("GET", f"inventory_levels.json?inventory_item_ids={pink['inventory_item_id']}").json()
    assert [lv["available"] for lv in listed["inventory_levels"]] == [6]


def test_rest_product_crud_and_errors(shop):
    assert shop.rest("POST", "products.json", json={"title": "no wrapper"}).json() == \
        {"errors": {"product": "Required parameter missing or invalid"}}
    blank = shop.rest("POST", "products.json", json={"product": {"title": ""}})
    assert (blank.status_code, blank.json()) == (422, {"errors": {"title": ["can't be blank"]}})
    product = shop.rest("POST", "products.json", json={"product": {"title": "Plain"}}).json()["product"]
    assert [v["title"] for v in product["variants"]] == ["Default Title"]

    sizes_body = {"product": {"options": [{"name": "Size"}], "variants": [
        {"option1": "S", "price": "5"}, {"option1": "M", "price": "6"}]}}
    updated = shop.rest("PUT", f"products/{product['id']}.json", json=sizes_body).json()["product"]
    assert [(v["option1"], v["price"]) for v in updated["variants"]] == [("S", "5.00"), ("M", "6.00")]
    small = updated["variants"][0]
    # a variant given by id keeps its option values; M is left out, so it goes
    kept = shop.rest("PUT", f"products/{product['id']}.json",
                     json={"product": {"variants": [{"id": small["id"], "price": "5.50"}]}}).json()["product"]
    assert [(v["id"], v["option1"], v["price"]) for v in kept["variants"]] == [(small["id"], "S", "5.50")]
    negative = shop.rest("PUT", f"products/{product['id']}.json",
                         json={"product": {"variants": [{"id": small["id"], "price": "-1"}]}})
    assert negative.status_code == 422
    assert negative.json() == {"errors": {"price": ["must be greater than or equal to 0"]}}

    assert shop.rest("GET", f"products/{product['id']}.json?fields=id,title").json() == \
        {"product": {"id": product["id"], "title": "Plain"}}
    assert shop.rest("DELETE", f"products/{product['id']}.json").json() == {}
    gone = shop.rest("GET", f"products/{product['id']}.json")
    assert (gone.status_code, gone.json()) == (404, {"errors": "Not Found"})
    assert shop.rest("GET", "products/count.json").json() == {"count": 0}


def test_rest_link_pagination_with_page_info(shop):
    for i in range(7):
        status = "draft" if i % 2 else "active"
        shop.rest("POST", "products.json", json={"product": {"title": f"P{i}", "status": status}})
    first = shop.rest("GET", "products.json?limit=3")
    assert [p["title"] for p in first.json()["products"]] == ["P0", "P1", "P2"]
    assert set(first.links) == {"next"}
    next_url = first.links["next"]["url"]
    assert next_url.startswith(shop.emulator.api_url + "/products.json?")
    assert set(dict(parse_qsl(urlsplit(next_url).query))) == {"limit", "page_info"}
    second = shop.rest("GET", next_url)
    assert [p["title"] for p in second.json()["products"]] == ["P3", "P4", "P5"]
    assert set(second.links) == {"next", "previous"}
    third = shop.rest("GET", second.links["next"]["url"])
    assert [p["title"] for p in third.json()["products"]] == ["P6"] and set(third.links) == {"previous"}
    back = shop.rest("GET", second.links["previous"]["url"])
    assert [p["title"] for p in back.json()["products"]] == ["P0", "P1", "P2"]

    # filters of the first request live in page_info; passing them again is refused
    drafts = shop.rest("GET", "products.json?status=draft&limit=2&fields=id,title")
    assert [p["title"] for p in drafts.json()["products"]] == ["P1", "P3"]
    assert dict(parse_qsl(urlsplit(drafts.links["next"]["url"]).query))["fields"] == "id,title"
    rest_of_drafts = shop.rest("GET", drafts.links["next"]["url"]).json()["products"]
    assert rest_of_drafts == [{"id": rest_of_drafts[0]["id"], "title": "P5"}]
    mixed = shop.rest("GET", drafts.links["next"]["url"] + "&status=draft")
    assert mixed.status_code == 400
    assert mixed.json() == {"errors": {"status": "status cannot be passed when page_info is present. See "
                                                 "https://shopify.dev/api/usage/pagination-rest for more information."}}
    assert shop.rest("GET", "products.json?page_info=garbage").status_code == 400


def test_rest_leaky_bucket_header_and_429(shop):
    first = shop.rest("GET", "shop.json")
    assert first.headers["X-Shopify-Shop-Api-Call-Limit"] == "1/40"
    answers = [shop.rest("GET", "shop.json") for _ in range(45)]
    limited = [a for a in answers if a.status_code == 429]
    assert limited, "45 quick calls should overflow a 40-call bucket leaking 2/s"
    assert limited[0].headers["Retry-After"] == "2.0"
    assert limited[0].headers["X-Shopify-Shop-Api-Call-Limit"] == "40/40"
    assert limited[0].json() == {"errors": "Exceeded 2 calls per second for api client. "
                                           "Reduce request rates to resume uninterrupted service."}
    used = [int(a.headers["X-Shopify-Shop-Api-Call-Limit"].split("/")[0]) for a in answers if a.status_code == 200]
    assert used == sorted(used) and used[-1] >= 38
    assert {t.kind for t in shop.emulator.throttle_log} == {"rest_429"}
    time.sleep(1.1)  # two calls leak out
    assert shop.rest("GET", "shop.json").status_code == 200
    # GraphQL has its own bucket
    assert shop.gql("{ shop { name } }").json()["data"]["shop"]["name"] == "flashfusion-demo"


def test_request_log_names_graphql_operations(shop):
    shop.emulator.reset_log()
    shop.gql("query Named { shop { name } }")
    shop.gql("{ shop { name } locations(first: 1) { nodes { id } } }")
    shop.rest("GET", "products.json")
    assert shop.emulator.request_log == [
        ("POST", "/admin/api/2025-07/graphql.json", "Named"),
        ("POST", "/admin/api/2025-07/graphql.json", "shop,locations"),
        ("GET", "/admin/api/2025-07/products.json", None),
    ]


# --------------------------------------------------------------------------- webhooks


class Receiver:
    """A webhook endpoint: records each POST (headers, raw body) and answers ``status``."""

    def __init__(self, status: int = 200):
        self.status = status
        self.hits: list[tuple[dict, bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.hits.append((dict(self.headers.items()), body))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhooks/shopify"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    endpoint = Receiver()
    yield endpoint
    endpoint.close()


def subscribe(shop: Shop, address: str, topic: str = "products/update") -> dict:
    answer = shop.rest("POST", "webhooks.json", json={"webhook": {"topic": topic, "address": address,
                                                                  "format": "json"}})
    assert answer.status_code == 201, answer.text
    return answer.json()["webhook"]


def test_owner_edit_sends_a_signed_products_update_webhook(shop, receiver):
    webhook = subscribe(shop, receiver.url)
    assert webhook["topic"] == "products/update" and webhook["api_version"] == "2025-07"
    duplicate = shop.rest("POST", "webhooks.json", json={"webhook": {"topic": "products/update",
                                                                     "address": receiver.url}})
    assert (duplicate.status_code, duplicate.json()) == (422, {"errors": {"address": [
        "for this topic has already been taken"]}})
    assert [w["id"] for w in shop.rest("GET", "webhooks.json").json()["webhooks"]] == [webhook["id"]]

    product = shop.product_set(simple_product("Desk", "DESK-1", price="100.00"))["product"]
    variant_id = int(product["variants"]["nodes"][0]["id"].rsplit("/", 1)[1])
    edited = shop.emulator.edit_product(product["id"], title="Standing Desk",
                                        variants=[{"id": variant_id, "price": "120.00"}])
    assert edited["title"] == "Standing Desk"
    assert shop.emulator.flush_webhooks(10)
    [(headers, body)] = receiver.hits
    assert headers["X-Shopify-Topic"] == "products/update"
    assert headers["X-Shopify-Shop-Domain"] == "flashfusion-demo.myshopify.com"
    assert headers["X-Shopify-API-Version"] == "2025-07"
    expected = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
    assert headers["X-Shopify-Hmac-Sha256"] == expected == sign(SECRET, body)
    payload = json.loads(body)
    assert payload["title"] == "Standing Desk" and payload["variants"][0]["price"] == "120.00"
    assert payload["admin_graphql_api_id"] == product["id"]
    [attempt] = shop.emulator.webhook_log
    assert attempt.ok and attempt.status == 200 and attempt.webhook_id == headers["X-Shopify-Webhook-Id"]
    # the API sees the edit too
    assert shop.emulator.products()[0]["variants"][0]["price"] == "120.00"


def test_control_endpoint_edits_and_deletes_like_the_admin(shop, receiver):
    subscribe(shop, receiver.url)
    subscribe(shop, receiver.url, topic="products/delete")
    product = shop.product_set({"title": "Chair"})["product"]
    number = int(product["id"].rsplit("/", 1)[1])
    control = f"{shop.emulator.base_url}/__emulator__/products/{number}"
    answer = httpx.post(control, json={"tags": "office, seating", "status": "archived"})
    assert answer.status_code == 200 and answer.json()["product"]["tags"] == "office, seating"
    assert httpx.post(control, json={"colour": "red"}).status_code == 422
    assert httpx.post(f"{shop.emulator.base_url}/__emulator__/products/1", json={}).status_code == 404
    assert httpx.delete(control).status_code == 200
    assert shop.emulator.flush_webhooks(10)
    topics = [(h["X-Shopify-Topic"], json.loads(b)) for h, b in receiver.hits]
    assert topics[0][0] == "products/update" and topics[0][1]["status"] == "archived"
    assert topics[1] == ("products/delete", {"id": number})
    assert len({h["X-Shopify-Webhook-Id"] for h, _ in receiver.hits}) == 2
    log = httpx.get(f"{shop.emulator.base_url}/__emulator__/webhooks").json()["attempts"]
    assert [a["status"] for a in log] == [200, 200]


def test_failed_deliveries_are_recorded(shop):
    failing = Receiver(status=500)
    try:
        subscribe(shop, failing.url)
        subscribe(shop, "http://127.0.0.1:9/unreachable")
        product = shop.product_set({"title": "Shelf"})["product"]
        shop.emulator.edit_product(product["id"], vendor="Carpenter")
        assert shop.emulator.flush_webhooks(15)
        by_address = {a.address: a for a in shop.emulator.webhook_log}
        assert by_address[failing.url].status == 500 and not by_address[failing.url].ok
        unreachable = by_address["http://127.0.0.1:9/unreachable"]
        assert unreachable.status is None and unreachable.error
    finally:
        failing.close()


# --------------------------------------------------------------------------- faults


def faulty(**plan) -> Shop:
    return Shop(start_emulator(port=0, access_token=TOKEN, faults=FaultPlan(**plan)))


@pytest.fixture
def make_faulty():
    made: list[Shop] = []

    def make(**plan) -> Shop:
        client = faulty(**plan)
        made.append(client)
        return client

    yield make
    for client in made:
        client.http.close()
        client.emulator.stop()


def test_fault_5xx_has_an_html_body_and_no_side_effect(make_faulty):
    shop = make_faulty(error_rate=1.0)
    answer = shop.gql(PRODUCT_SET, {"input": {"title": "Lost"}})
    assert answer.status_code in (502, 503)
    assert answer.headers["Content-Type"] == "text/html" and answer.text.startswith("<html>")
    assert shop.rest("GET", "products.json").status_code in (502, 503)
    assert shop.emulator.products() == []
    assert [kind for _m, _p, kind in shop.emulator.faults_injected] == ["error", "error"]


def test_fault_latency_delays_every_answer(make_faulty):
    shop = make_faulty(latency=0.3)
    started = time.monotonic()
    assert shop.rest("GET", "shop.json").status_code == 200
    assert time.monotonic() - started >= 0.3


def test_fault_429_burst_then_normal(make_faulty):
    shop = make_faulty(burst_429=2)
    first, second = shop.rest("GET", "shop.json"), shop.gql("{ shop { name } }")
    assert (first.status_code, second.status_code) == (429, 429)
    assert first.headers["Retry-After"] == second.headers["Retry-After"] == "2.0"
    assert second.json()["errors"][0]["extensions"]["code"] == "THROTTLED"
    assert shop.rest("GET", "shop.json").status_code == 200
    assert [t.kind for t in shop.emulator.throttle_log] == ["fault_429", "fault_429"]


def test_fault_timeout_holds_the_connection_and_writes_nothing(make_faulty):
    shop = make_faulty(timeout_rate=1.0, hang_seconds=2.0)
    with pytest.raises(httpx.ReadTimeout):
        shop.gql(PRODUCT_SET, {"input": {"title": "Slow"}}, timeout=0.5)
    assert shop.emulator.products() == []
    shop.emulator.set_faults(None)
    assert shop.product_set({"title": "Fast"})["product"]["title"] == "Fast"


def test_fault_malformed_json_is_cut_short_and_rolled_back(make_faulty):
    shop = make_faulty(malformed_rate=1.0)
    answer = shop.gql(PRODUCT_SET, {"input": {"title": "Cut"}})
    assert answer.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(answer.text)
    listed = shop.rest("GET", "products.json")
    with pytest.raises(json.JSONDecodeError):
        listed.json()
    assert shop.emulator.products() == []


def test_fault_outage_window_answers_503_until_it_ends(make_faulty):
    shop = make_faulty(outage_start=0.0, outage_end=0.6)
    answer = shop.rest("GET", "shop.json")
    assert answer.status_code == 503 and "503" in answer.text
    time.sleep(0.7)
    assert shop.rest("GET", "shop.json").status_code == 200


def test_fault_lost_answer_applies_the_write(make_faulty):
    shop = make_faulty(lost_answer_rate=1.0)
    answer = shop.gql(PRODUCT_SET, {"input": simple_product("Lamp", "LAMP-1"), "identifier": {"handle": "lamp"}})
    assert answer.status_code == 502
    assert [p["handle"] for p in shop.emulator.products()] == ["lamp"]  # it happened anyway
    assert shop.rest("GET", "shop.json").status_code == 200  # reads are never "lost"
    # a retry keyed on the handle finds the product instead of creating a second one
    shop.emulator.set_faults(None)
    retried = shop.product_set(simple_product("Lamp", "LAMP-1"), identifier={"handle": "lamp"})
    assert retried["userErrors"] == [] and len(shop.emulator.products()) == 1


def test_fault_draws_repeat_with_the_same_seed(make_faulty):
    runs = []
    for _ in range(2):
        shop = make_faulty(error_rate=0.5, seed=7)
        runs.append([shop.rest("GET", "shop.json").status_code for _ in range(20)])
    assert runs[0] == runs[1]
    assert {200, 502, 503} & set(runs[0]) - {200} and 200 in runs[0]


def test_fault_plan_validates_its_numbers():
    with pytest.raises(ValueError):
        FaultPlan(error_rate=1.5)
    with pytest.raises(ValueError):
        FaultPlan(outage_start=5.0)


# --------------------------------------------------------------------------- state and command


def test_state_file_survives_a_restart(tmp_path):
    state = tmp_path / "shopify.json"
    with start_emulator(port=0, access_token=TOKEN, state_path=state) as emulator:
        client = Shop(emulator)
        created = client.product_set(simple_product("Kept", "KEEP-1"))["product"]
        subscribe(client, "http://127.0.0.1:9/hook")
    with start_emulator(port=0, access_token=TOKEN, state_path=state) as emulator:
        client = Shop(emulator)
        assert client.data("query($id: ID!) { product(id: $id) { title } }", {"id": created["id"]}) == \
            {"product": {"title": "Kept"}}
        assert len(client.rest("GET", "webhooks.json").json()["webhooks"]) == 1
        assert len(emulator.locations()) == 2


def test_management_command_serves_until_sigterm(tmp_path):
    project = Path(__file__).resolve().parents[2]
    state = tmp_path / "shopify.json"
    command = [sys.executable, "manage.py", "shopify_emulator", "--port", "0", "--access-token", TOKEN,
               "--plan", "advanced", "--state", str(state), "--latency", "0.01"]
    process = subprocess.Popen(command, cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        banner = process.stdout.readline()
        assert banner.startswith("Shopify emulator at http://127.0.0.1:"), banner + process.stderr.read()
        base_url = banner.split()[3]
        answer = httpx.post(f"{base_url}/admin/api/2025-07/graphql.json", headers={"X-Shopify-Access-Token": TOKEN},
                            json={"query": "mutation { productSet(input: {title: \"CLI\"}) { product { id } } }"})
        assert answer.json()["extensions"]["cost"]["throttleStatus"]["restoreRate"] == 200.0
        rest = httpx.get(f"{base_url}/admin/api/2025-07/shop.json", headers={"X-Shopify-Access-Token": TOKEN})
        assert rest.headers["X-Shopify-Shop-Api-Call-Limit"] == "1/80"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        assert "stopped" in process.stdout.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    saved = json.loads(state.read_text())
    assert [p["title"] for p in saved["products"].values()] == ["CLI"]


# --------------------------------------------------------------------------- stock by location


ACTIVATE = """mutation($item: ID!, $location: ID!, $available: Int) {
  inventoryActivate(inventoryItemId: $item, locationId: $location, available: $available) {
    inventoryLevel { location { id } quantities(names: ["available"]) { name quantity } }
    userErrors { field message }
  }
}"""


def test_product_set_sets_an_existing_variants_stock_only_where_it_is_stocked(shop):
    """shopify.dev ProductVariantSetInput.inventoryQuantities: "If you're updating an existing variant, then you
    can only update the quantities at locations where the variant is already stocked"; inventoryActivate first."""
    shop_location, warehouse = shop.locations()
    created = shop.product_set(simple_product("Lamp", "L-1"))["product"]
    variant = created["variants"]["nodes"][0]
    update = simple_product("Lamp", "L-1")
    update["variants"][0].update(id=variant["id"], inventoryQuantities=[
        {"locationId": warehouse, "name": "available", "quantity": 6}])
    refused = shop.product_set(update, {"id": created["id"]})
    assert refused["product"] is None
    [error] = refused["userErrors"]
    assert error["field"] == ["input", "variants", "0", "inventoryQuantities", "0", "locationId"]
    assert "not stocked" in error["message"] and error["code"] == "INVALID_INPUT"

    item = variant["inventoryItem"]["id"]
    activated = shop.data(ACTIVATE, {"item": item, "location": warehouse, "available": 2})["inventoryActivate"]
    assert activated["userErrors"] == []
    assert activated["inventoryLevel"]["quantities"] == [{"name": "available", "quantity": 2}]
    again = shop.data(ACTIVATE, {"item": item, "location": warehouse, "available": 50})["inventoryActivate"]
    assert again["inventoryLevel"]["quantities"][0]["quantity"] == 2  # initial quantities only
    assert shop.product_set(update, {"id": created["id"]})["userErrors"] == []
    levels = {lv["location_id"]: lv["available"] for lv in shop.emulator.products()[0]["variants"][0]["inventory_levels"]}
    assert levels == {int(shop_location.rsplit("/", 1)[1]): 0, int(warehouse.rsplit("/", 1)[1]): 6}


def test_inventory_activate_refuses_unknown_ids_and_inactive_locations(shop):
    _, warehouse = shop.locations()
    item = shop.product_set(simple_product("Mug", "M-1"))["product"]["variants"]["nodes"][0]["inventoryItem"]["id"]
    unknown = shop.data(ACTIVATE, {"item": "gid://shopify/InventoryItem/1", "location": warehouse})
    assert unknown["inventoryActivate"]["userErrors"][0]["field"] == ["inventoryItemId"]
    shop.emulator.edit_location(warehouse, active=False)
    inactive = shop.data(ACTIVATE, {"item": item, "location": warehouse})["inventoryActivate"]
    assert inactive["inventoryLevel"] is None and "not active" in inactive["userErrors"][0]["message"]


def test_owner_location_changes_show_in_the_locations_query(shop):
    shop_location, warehouse = shop.locations()
    query = "{ locations(first: 10, includeInactive: true) { nodes { id name isActive } } }"
    popup = shop.emulator.add_location("Pop-up")
    shop.emulator.edit_location(warehouse, name="Central")
    with pytest.raises(ValueError):
        shop.emulator.edit_location(shop_location, active=False)  # the primary location stays active
    with pytest.raises(ValueError):
        shop.emulator.delete_location(popup["id"])  # only a deactivated location can be deleted
    shop.emulator.edit_location(popup["id"], active=False)
    nodes = {n["name"]: n["isActive"] for n in shop.data(query)["locations"]["nodes"]}
    assert nodes == {"Central": True, "Pop-up": False, "Shop location": True}
    assert [n["name"] for n in shop.data("{ locations(first: 10) { nodes { name } } }")["locations"]["nodes"]] == [
        "Central", "Shop location"]
    shop.emulator.delete_location(popup["id"])
    assert "Pop-up" not in {n["name"] for n in shop.data(query)["locations"]["nodes"]}


def test_owner_stock_edit_at_a_second_location_and_levels_by_item(shop):
    shop_location, warehouse = shop.locations()
    product = shop.product_set(simple_product("Cap", "C-1"))["product"]
    variant_id = int(product["variants"]["nodes"][0]["id"].rsplit("/", 1)[1])
    shop.emulator.edit_product(product["id"], variants=[{"id": variant_id, "inventory_quantity": 4,
                                                         "location_id": warehouse}])
    data = shop.data("""query($id: ID!) { product(id: $id) { variants(first: 5) { nodes { inventoryQuantity
        inventoryItem { inventoryLevels(first: 5) { nodes { location { id } quantities(names: ["available"]) {
        quantity } } } } } } } }""", {"id": product["id"]})
    [node] = data["product"]["variants"]["nodes"]
    assert node["inventoryQuantity"] == 4
    assert [(lv["location"]["id"], lv["quantities"][0]["quantity"])
            for lv in node["inventoryItem"]["inventoryLevels"]["nodes"]] == [(shop_location, 0), (warehouse, 4)]
    with pytest.raises(ValueError):
        shop.emulator.edit_product(product["id"], variants=[{"id": variant_id, "inventory_quantity": 1,
                                                             "location_id": "gid://shopify/Location/1"}])
