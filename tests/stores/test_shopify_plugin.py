"""The Shopify connector: against the Shopify emulator over real HTTP, and ``httpx.MockTransport`` for exact faults.

MockTransport is used only where an answer must be forced byte for byte
(THROTTLED with given throttle figures, userErrors, 401/404/429/5xx, a
timeout, a body that is not JSON, REST headers, a bulk-export download).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from decimal import Decimal

import httpx
import pytest

from products.models import hash_json
from stores.plugins import (
    AuthFailed,
    Capability,
    NotFound,
    OpenGate,
    RateLimited,
    Rejected,
    Transient,
    plugin_class,
    variant_key,
)
from stores.plugins.shopify import (
    GRAPHQL_LIMITS,
    ShopifyClient,
    ShopifyPlugin,
    estimate_cost,
    numeric_id,
    product_gid,
    shopify_handle,
    throttle_wait,
    verify_webhook,
)
from tests.factories import ProductFactory, VariantFactory

TOKEN = "shpat_demo"
LOCATION = "gid://shopify/Location/1"


# --------------------------------------------------------------------------- helpers


class RecordingGate:
    """A CallGate that records every before/after call."""

    def __init__(self):
        self.calls: list[tuple] = []

    def before_call(self, cost: float = 1.0) -> None:
        self.calls.append(("before", cost))

    def after_call(self, **outcome) -> None:
        self.calls.append(("after", outcome))


def cost_ext(requested=10, actual=10, maximum=2000.0, available=1990.0, restore=100.0) -> dict:
    return {"cost": {"requestedQueryCost": requested, "actualQueryCost": actual,
                     "throttleStatus": {"maximumAvailable": maximum, "currentlyAvailable": available,
                                        "restoreRate": restore}}}


class Script:
    """A MockTransport handler answering from a list of (status, body, headers) or callables; records requests."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if not self.answers:
            raise AssertionError(f"unexpected request {request.method} {request.url}")
        answer = self.answers.pop(0)
        if callable(answer):
            return answer(request)
        status, body, headers = (answer + ({},))[:3] if len(answer) == 2 else answer
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return httpx.Response(status, content=content, headers=headers)

    def bodies(self) -> list[dict]:
        return [json.loads(r.content) for r in self.requests if r.content]


def mock_client(script, *, gate=None, base_url="https://acme.myshopify.com", timeout=3.0) -> ShopifyClient:
    return ShopifyClient(base_url, TOKEN, timeout=timeout, gate=gate, transport=httpx.MockTransport(script))


def no_network(request):  # pragma: no cover - called only when a test is wrong
    raise AssertionError(f"no call expected, got {request.method} {request.url}")


def simple_product(org, sku="TEE-1", price="20.00", compare_at=None, stock=5, **kwargs):
    product = ProductFactory(organization=org, sku=sku, handle=sku.lower(), kind="simple", **kwargs)
    VariantFactory(product=product, sku=sku, price=Decimal(price),
                   compare_at_price=Decimal(compare_at) if compare_at else None, stock=stock)
    return product


def variable_product(org, sku="HOODIE", colors=("Blue", "Red"), sizes=("S", "M")):
    product = ProductFactory(
        organization=org, sku=sku, handle=sku.lower(), kind="variable", title="Hoodie",
        options=[{"name": "Color", "values": list(colors)}, {"name": "Size", "values": list(sizes)}],
        images=["https://cdn.example.com/hoodie.jpg"], weight_grams=Decimal("500"),
    )
    position = 0
    for color in colors:
        for size in sizes:
            position += 1
            VariantFactory(product=product, sku=f"{sku}-{color[:3].upper()}-{size}", position=position,
                           price=Decimal("42.00"), compare_at_price=Decimal("50.00"), stock=position,
                           option_values={"Color": color, "Size": size})
    return product


# --------------------------------------------------------------------------- plugin declaration


def test_registered_with_capabilities_and_one_product_per_call():
    assert plugin_class("shopify") is ShopifyPlugin
    assert ShopifyPlugin.platform == "shopify" and ShopifyPlugin.label == "Shopify"
    assert ShopifyPlugin.capabilities == {
        Capability.READ_PRODUCTS, Capability.WRITE_PRODUCTS, Capability.VARIANTS, Capability.INVENTORY_BY_LOCATION,
        Capability.DELETE, Capability.WEBHOOKS, Capability.BULK_EXPORT, Capability.FIELD_UPDATES}
    assert Capability.BATCH_WRITES not in ShopifyPlugin.capabilities
    assert ShopifyPlugin.max_batch == 1


@pytest.mark.parametrize("plan, capacity, leak", [
    ("", 2000, 100), ("standard", 2000, 100), ("Basic", 2000, 100), ("advanced", 4000, 200),
    ("plus", 20000, 1000), ("enterprise", 40000, 2000),
])
def test_rate_limits_are_graphql_cost_points_by_plan(plan, capacity, leak):
    limit = ShopifyPlugin.rate_limits(plan)
    assert (limit.capacity, limit.leak_rate, limit.unit) == (capacity, leak, "cost point")
    assert "shopify.dev" in limit.source


def test_unknown_plan_gets_the_smallest_limits_and_says_so():
    limit = ShopifyPlugin.rate_limits("platinum")
    assert (limit.capacity, limit.leak_rate) == GRAPHQL_LIMITS["standard"][:2]
    assert "unknown plan 'platinum'" in limit.source


def test_ids_are_gids_and_convert_to_rest_numbers():
    assert product_gid("123") == "gid://shopify/Product/123"
    assert product_gid("gid://shopify/Product/9") == "gid://shopify/Product/9"
    assert product_gid("") == ""
    assert numeric_id("gid://shopify/ProductVariant/456") == 456
    assert numeric_id("") is None


def test_handles_are_sent_in_shopify_form():
    assert shopify_handle("example-shirt") == "example-shirt"
    assert shopify_handle("My_Tee") == "my-tee"
    assert shopify_handle("a__b--c") == "a-b-c"


# --------------------------------------------------------------------------- build_payload


@pytest.fixture
def offline_plugin():
    plugin = ShopifyPlugin(mock_client(no_network), location_id=LOCATION)
    yield plugin
    plugin.close()


def test_build_payload_simple_product_is_one_default_variant(org, offline_plugin):
    product = simple_product(org, price="20.00", compare_at="25.00", stock=7, vendor="Acme", product_type="Shirts",
                             tags=["cotton", "summer"], description="<p>Soft</p>", status="draft",
                             images=["https://cdn.example.com/tee.jpg"], weight_grams=Decimal("145"))
    payload = offline_plugin.build_payload(product)
    assert payload == {
        "title": product.title, "handle": "tee-1", "descriptionHtml": "<p>Soft</p>", "vendor": "Acme",
        "productType": "Shirts", "status": "DRAFT", "tags": ["cotton", "summer"],
        "productOptions": [{"name": "Title", "position": 1, "values": [{"name": "Default Title"}]}],
        "files": [{"originalSource": "https://cdn.example.com/tee.jpg", "contentType": "IMAGE"}],
        "variants": [{
            "optionValues": [{"optionName": "Title", "name": "Default Title"}],
            "sku": "TEE-1", "price": "20.00", "compareAtPrice": "25.00", "inventoryPolicy": "DENY",
            "inventoryItem": {"tracked": True, "measurement": {"weight": {"unit": "GRAMS", "value": 145.0}}},
            "inventoryQuantities": [{"locationId": LOCATION, "name": "available", "quantity": 7}],
        }],
    }
    assert hash_json(payload) == hash_json(offline_plugin.build_payload(product))


def test_build_payload_variable_product_options_values_prices_and_files(org, offline_plugin):
    product = variable_product(org)
    untracked = product.variants.get(sku="HOODIE-RED-M")
    untracked.stock, untracked.compare_at_price, untracked.image_url = None, Decimal("30.00"), \
        "https://cdn.example.com/red.jpg"
    untracked.save()
    payload = offline_plugin.build_payload(product)
    assert payload["status"] == "ACTIVE"
    assert payload["productOptions"] == [
        {"name": "Color", "position": 1, "values": [{"name": "Blue"}, {"name": "Red"}]},
        {"name": "Size", "position": 2, "values": [{"name": "S"}, {"name": "M"}]},
    ]
    assert [f["originalSource"] for f in payload["files"]] == ["https://cdn.example.com/hoodie.jpg",
                                                               "https://cdn.example.com/red.jpg"]
    assert [v["sku"] for v in payload["variants"]] == ["HOODIE-BLU-S", "HOODIE-BLU-M", "HOODIE-RED-S", "HOODIE-RED-M"]
    first, last = payload["variants"][0], payload["variants"][-1]
    assert first["optionValues"] == [{"optionName": "Color", "name": "Blue"}, {"optionName": "Size", "name": "S"}]
    assert (first["price"], first["compareAtPrice"]) == ("42.00", "50.00")
    assert first["inventoryItem"] == {"tracked": True, "measurement": {"weight": {"unit": "GRAMS", "value": 500.0}}}
    assert first["inventoryQuantities"] == [{"locationId": LOCATION, "name": "available", "quantity": 1}]
    # a compare-at price below the price is no "was" price: cleared
    assert (last["price"], last["compareAtPrice"]) == ("42.00", None)
    assert last["inventoryItem"]["tracked"] is False and "inventoryQuantities" not in last
    assert last["file"] == {"originalSource": "https://cdn.example.com/red.jpg", "contentType": "IMAGE"}


def test_build_payload_drops_declared_option_values_no_variant_uses(org, offline_plugin):
    product = variable_product(org, colors=("Blue",), sizes=("S",))
    product.options = [{"name": "Color", "values": ["Green", "Blue"]}, {"name": "Size", "values": ["S", "XL"]}]
    product.save()
    payload = offline_plugin.build_payload(product)
    assert payload["productOptions"][0]["values"] == [{"name": "Blue"}]
    assert payload["productOptions"][1]["values"] == [{"name": "S"}]


def test_build_payload_asks_for_the_primary_location_once(org):
    script = Script((200, {"data": {"location": {"id": "gid://shopify/Location/77"}}, "extensions": cost_ext(1, 1)}))
    plugin = ShopifyPlugin(mock_client(script))
    a, b = simple_product(org, sku="A-1"), simple_product(org, sku="B-1")
    assert plugin.build_payload(a)["variants"][0]["inventoryQuantities"][0]["locationId"] == \
        "gid://shopify/Location/77"
    plugin.build_payload(b)
    assert len(script.requests) == 1 and "location" in script.bodies()[0]["query"]


def test_build_payload_without_tracked_stock_needs_no_location(org):
    plugin = ShopifyPlugin(mock_client(no_network))
    payload = plugin.build_payload(simple_product(org, stock=None))
    assert payload["variants"][0]["inventoryItem"] == {"tracked": False}
    assert "files" not in payload  # no images: the store's media is left alone


def test_grouped_product_is_refused_without_a_call(org, offline_plugin):
    kit = ProductFactory(organization=org, kind="grouped", grouped_skus=["A", "B"])
    payload = offline_plugin.build_payload(kit)
    [result] = offline_plugin.create_listings([(kit, payload)])
    assert isinstance(result.error, Rejected) and result.error.code == "unsupported_kind"
    assert result.error.field == "kind"


# --------------------------------------------------------------------------- GraphQL errors (exact answers)


def test_throttled_is_rate_limited_with_retry_after_from_throttle_status():
    gate = RecordingGate()
    throttled = {"errors": [{"message": "Throttled", "extensions": {
        "code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"}}],
        "extensions": cost_ext(requested=252, actual=None, available=52.0, restore=100.0)}
    client = mock_client(Script((200, throttled)), gate=gate)
    with pytest.raises(RateLimited) as caught:
        client.graphql("query { products(first: 250) { nodes { id } } }", cost=252)
    assert caught.value.retry_after == pytest.approx(2.0)  # (252 − 52) / 100
    assert caught.value.code == "THROTTLED" and caught.value.retryable
    assert gate.calls[0] == ("before", 252)
    assert gate.calls[1][1]["available"] == 52.0 and gate.calls[1][1]["retry_after"] == pytest.approx(2.0)
    assert gate.calls[1][1]["error"] is caught.value


def test_throttled_old_style_message_only_is_rate_limited_too():
    body = {"errors": [{"message": "Throttled"}], "extensions": cost_ext(requested=202, available=118, restore=50)}
    with pytest.raises(RateLimited) as caught:
        mock_client(Script((200, body))).graphql("{ shop { name } }")
    assert caught.value.retry_after == pytest.approx(1.68)


def test_throttle_wait_never_zero_and_none_without_status():
    assert throttle_wait(cost_ext(requested=10, available=500)["cost"]) == 0.1
    assert throttle_wait(None) is None


def test_user_errors_are_rejected_naming_the_field_and_code():
    gate = RecordingGate()
    answer = {"data": {"productSet": {"product": None, "userErrors": [
        {"field": ["input", "variants", "0", "price"], "message": "Price must be greater than or equal to 0",
         "code": "INVALID_VARIANT"}]}}, "extensions": cost_ext(60, 10)}
    client = mock_client(Script((200, answer)), gate=gate)
    with pytest.raises(Rejected) as caught:
        client.graphql("mutation { productSet(input: {}) { userErrors { field message code } } }", cost=60)
    err = caught.value
    assert err.field == "input.variants.0.price" and err.code == "INVALID_VARIANT" and not err.retryable
    assert "Price must be greater than or equal to 0" in str(err)
    assert err.details["userErrors"][0]["code"] == "INVALID_VARIANT"
    # the call itself went through: the gate hears success with the bucket figure
    assert gate.calls[1] == ("after", {"available": 1990.0})


@pytest.mark.parametrize("status, headers, body, expected, attrs", [
    (401, {}, {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"},
     AuthFailed, {"status": 401}),
    (403, {}, {"errors": "[API] This action requires merchant approval for write_products scope."},
     AuthFailed, {"status": 403}),
    (404, {}, {"errors": "Not Found"}, NotFound, {"status": 404}),
    (429, {"Retry-After": "2.0"}, {"errors": "Exceeded 2 calls per second for api client."}, RateLimited,
     {"retry_after": 2.0}),
    (502, {}, b"<html><body>502 Bad Gateway</body></html>", Transient, {"status": 502}),
    (503, {}, b"", Transient, {"status": 503}),
    (402, {}, {"errors": "Unavailable Shop"}, Rejected, {"status": 402}),
    (301, {"Location": "https://acme.myshopify.com/"}, b"", Rejected, {"code": "redirect"}),
])
def test_http_errors_map_to_typed_errors(status, headers, body, expected, attrs):
    gate = RecordingGate()
    client = mock_client(Script((status, body, headers)), gate=gate)
    with pytest.raises(expected) as caught:
        client.graphql("{ shop { name } }")
    for name, value in attrs.items():
        assert getattr(caught.value, name) == value
    assert [c[0] for c in gate.calls] == ["before", "after"] and gate.calls[1][1]["error"] is caught.value


def test_a_503_with_retry_after_holds_the_gate_back_too():
    gate = RecordingGate()
    with pytest.raises(Transient):
        mock_client(Script((503, b"<html>503</html>", {"Retry-After": "30"})), gate=gate).graphql("{ shop { name } }")
    assert gate.calls[1][1]["retry_after"] == 30.0


def test_graphql_429_without_retry_after_uses_the_throttle_status():
    body = {"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
            "extensions": cost_ext(requested=300, available=100, restore=200)}
    with pytest.raises(RateLimited) as caught:
        mock_client(Script((429, body))).graphql("{ shop { name } }", cost=300)
    assert caught.value.retry_after == pytest.approx(1.0)


@pytest.mark.parametrize("errors, expected, code", [
    ([{"message": "Access denied for products field.", "extensions": {"code": "ACCESS_DENIED"}}],
     AuthFailed, "ACCESS_DENIED"),
    ([{"message": "Internal error. Looks like something went wrong on our end.",
       "extensions": {"code": "INTERNAL_SERVER_ERROR"}}], Transient, "INTERNAL_SERVER_ERROR"),
    ([{"message": "Query cost is 1502, which exceeds the single query max cost limit (1000).",
       "extensions": {"code": "MAX_COST_EXCEEDED"}}], Rejected, "MAX_COST_EXCEEDED"),
    ([{"message": "Field 'nope' doesn't exist on type 'Shop'", "extensions": {"code": "undefinedField"}}],
     Rejected, "undefinedField"),
])
def test_top_level_graphql_errors(errors, expected, code):
    with pytest.raises(expected) as caught:
        mock_client(Script((200, {"errors": errors}))).graphql("{ shop { nope } }")
    assert caught.value.code == code


def test_graphql_core_style_variable_error_names_the_input_path():
    errors = [{"message": "Variable '$input' got invalid value -1 at 'input.variants[0].price'; Expected type "
                          "'Money'."}]
    with pytest.raises(Rejected) as caught:
        mock_client(Script((200, {"errors": errors}))).graphql("mutation { x }")
    assert caught.value.field == "input.variants.0.price"


def test_variable_problem_names_the_input_path():
    errors = [{"message": "Variable $input of type ProductSetInput! was provided invalid value for variants.0.price",
               "extensions": {"value": {}, "problems": [{"path": ["variants", 0, "price"],
                                                         "explanation": "Invalid value"}]}}]
    with pytest.raises(Rejected) as caught:
        mock_client(Script((200, {"errors": errors}))).graphql("mutation { x }")
    assert caught.value.field == "variants.0.price"


def test_timeout_network_error_and_bad_json_are_transient():
    def hang(request):
        raise httpx.ReadTimeout("timed out", request=request)

    def refuse(request):
        raise httpx.ConnectError("connection refused", request=request)

    gate = RecordingGate()
    with pytest.raises(Transient, match="timed out"):
        mock_client(Script(hang), gate=gate).graphql("{ shop { name } }")
    assert isinstance(gate.calls[-1][1]["error"], Transient)
    with pytest.raises(Transient, match="network error"):
        mock_client(Script(refuse)).graphql("{ shop { name } }")
    with pytest.raises(Transient, match="not JSON"):
        mock_client(Script((200, b'{"data": {"shop": '))).graphql("{ shop { name } }")


def test_request_carries_token_version_and_json():
    script = Script((200, {"data": {"shop": {"name": "Acme"}}, "extensions": cost_ext(1, 1)}))
    client = mock_client(script, base_url="https://acme.myshopify.com/")
    assert client.graphql("query Q($n: Int!) { shop { name } }", {"n": 1}) == {"shop": {"name": "Acme"}}
    request = script.requests[0]
    assert str(request.url) == "https://acme.myshopify.com/admin/api/2025-07/graphql.json"
    assert request.headers["X-Shopify-Access-Token"] == TOKEN
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.content) == {"query": "query Q($n: Int!) { shop { name } }", "variables": {"n": 1}}
    assert client.last_cost["throttleStatus"]["currentlyAvailable"] == 1990.0


def test_estimate_cost_counts_mutations_and_connections():
    assert estimate_cost("{ shop { name } }") == 1
    assert estimate_cost("mutation { productDelete(input: {id: \"x\"}) { deletedProductId } }") == 11
    assert estimate_cost("query($n: Int!) { products(first: $n) { nodes { id } } }", {"n": 10}) == 13


def test_open_gate_when_none_given():
    assert isinstance(mock_client(no_network).gate, OpenGate)


# --------------------------------------------------------------------------- REST


def test_rest_reads_call_limit_and_follows_link_exactly_as_given():
    gate = RecordingGate()
    next_url = ("https://acme.myshopify.com/admin/api/2025-07/products.json?limit=2"
                "&page_info=eyJsYXN0X2lkIjo0fQ%3D%3D")
    script = Script(
        (200, {"products": [{"id": 1}, {"id": 2}]},
         {"X-Shopify-Shop-Api-Call-Limit": "1/40", "Link": f'<{next_url}>; rel="next"'}),
        (200, {"products": [{"id": 3}]}, {"X-Shopify-Shop-Api-Call-Limit": "2/40"}),
    )
    client = mock_client(script, gate=gate)
    assert [p["id"] for p in client.rest_pages("products", "products", {"status": "active"}, limit=2)] == [1, 2, 3]
    first, second = script.requests
    assert first.url.path == "/admin/api/2025-07/products.json"
    assert dict(first.url.params) == {"status": "active", "limit": "2"}
    assert str(second.url) == next_url
    assert gate.calls == [("before", 1.0), ("after", {"used": 1.0, "size": 40.0}),
                          ("before", 1.0), ("after", {"used": 2.0, "size": 40.0})]
    assert client.last_call_limit == (2.0, 40.0)


def test_rest_429_with_and_without_retry_after():
    gate = RecordingGate()
    client = mock_client(Script(
        (429, {"errors": "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted "
                         "service."}, {"Retry-After": "2.0", "X-Shopify-Shop-Api-Call-Limit": "40/40"}),
        (429, {"errors": "Too many requests"}, {}),
    ), gate=gate)
    with pytest.raises(RateLimited) as caught:
        client.rest("GET", "products")
    assert caught.value.retry_after == 2.0
    assert gate.calls[1][1] | {"error": None} == {"error": None, "used": 40.0, "size": 40.0, "retry_after": 2.0}
    with pytest.raises(RateLimited) as caught:
        client.rest("GET", "products")
    assert caught.value.retry_after is None


def test_rest_422_names_the_field_and_foreign_links_are_refused():
    client = mock_client(Script((422, {"errors": {"title": ["can't be blank"]}})))
    with pytest.raises(Rejected) as caught:
        client.rest("POST", "products", json={"product": {}})
    assert caught.value.field == "title" and "can't be blank" in str(caught.value)
    with pytest.raises(Rejected) as caught:
        client.rest("GET", "https://evil.example.com/admin/api/2025-07/products.json")
    assert caught.value.code == "foreign_link"


# --------------------------------------------------------------------------- gate wiring


def test_for_store_uses_the_store_gate_when_stores_limits_exists(org):
    from stores.limits import StoreGate
    from stores.models import Store

    store = Store.objects.create(organization=org, name="Shop", platform="shopify",
                                 base_url="https://acme.myshopify.com", consumer_secret=TOKEN, timeout=7.5,
                                 rate_plan="plus")
    plugin = ShopifyPlugin.for_store(store)
    try:
        assert isinstance(plugin.client.gate, StoreGate)
        assert plugin.client.gate.limit == ShopifyPlugin.rate_limits("plus")
        assert plugin.client.timeout == 7.5
        assert plugin.client.graphql_url == "https://acme.myshopify.com/admin/api/2025-07/graphql.json"
    finally:
        plugin.close()


def test_for_store_falls_back_to_an_open_gate_without_stores_limits(org, monkeypatch):
    from stores.models import Store
    from stores.plugins import shopify

    monkeypatch.setattr(shopify, "find_spec", lambda name: None)
    store = Store.objects.create(organization=org, name="Shop", platform="shopify",
                                 base_url="https://acme.myshopify.com", consumer_secret=TOKEN)
    plugin = ShopifyPlugin.for_store(store)
    assert isinstance(plugin.client.gate, OpenGate)
    plugin.close()


# --------------------------------------------------------------------------- webhooks and bulk export


def test_verify_webhook_accepts_current_or_previous_secret():
    body = b'{"id":788032119674292922,"title":"Example T-Shirt"}'
    header = base64.b64encode(hmac.new(b"old-secret", body, hashlib.sha256).digest()).decode()
    assert verify_webhook(body, header, ["new-secret", "old-secret"])
    assert not verify_webhook(body, header, ["new-secret"])
    assert not verify_webhook(body + b" ", header, ["old-secret"])
    assert not verify_webhook(body, "", ["old-secret"])


def test_bulk_export_polls_and_downloads_without_the_token():
    lines = [{"id": "gid://shopify/Product/1", "handle": "tee"},
             {"id": "gid://shopify/ProductVariant/11", "__parentId": "gid://shopify/Product/1"}]
    download: list[httpx.Request] = []
    op = "gid://shopify/BulkOperation/5"
    script = Script(
        (200, {"data": {"bulkOperationRunQuery": {"bulkOperation": {"id": op, "status": "CREATED"},
                                                  "userErrors": []}}, "extensions": cost_ext()}),
        (200, {"data": {"node": {"id": op, "status": "RUNNING", "errorCode": None, "objectCount": "1",
                                 "url": None, "partialDataUrl": None}}, "extensions": cost_ext(1, 1)}),
        (200, {"data": {"node": {"id": op, "status": "COMPLETED", "errorCode": None, "objectCount": "2",
                                 "url": "https://storage.example.com/bulk.jsonl?sig=x", "partialDataUrl": None}},
               "extensions": cost_ext(1, 1)}),
    )
    plugin = ShopifyPlugin(mock_client(script))

    def storage(request):
        download.append(request)
        return httpx.Response(200, content=("\n".join(json.dumps(line) for line in lines) + "\n").encode())

    real_client = httpx.Client

    def fake_client(**kwargs):
        return real_client(transport=httpx.MockTransport(storage), **kwargs)

    import stores.plugins.shopify.reads as module  # bulk_export downloads with httpx there

    original = module.httpx.Client
    module.httpx.Client = fake_client
    try:
        assert list(plugin.bulk_export(poll_every=0)) == lines
    finally:
        module.httpx.Client = original
    assert "X-Shopify-Access-Token" not in download[0].headers
    assert "bulkOperationRunQuery" in script.bodies()[0]["query"]


def test_bulk_export_failure_is_transient():
    op = "gid://shopify/BulkOperation/6"
    script = Script(
        (200, {"data": {"bulkOperationRunQuery": {"bulkOperation": {"id": op, "status": "CREATED"},
                                                  "userErrors": []}}}),
        (200, {"data": {"node": {"id": op, "status": "FAILED", "errorCode": "INTERNAL_SERVER_ERROR",
                                 "objectCount": "0", "url": None, "partialDataUrl": None}}}),
    )
    with pytest.raises(Transient, match="failed"):
        list(ShopifyPlugin(mock_client(script)).bulk_export(poll_every=0))


# --------------------------------------------------------------------------- writes with exact answers


def _product_answer(gid, handle, variants):
    return {"id": gid, "legacyResourceId": gid.rsplit("/", 1)[-1], "handle": handle, "title": "T", "status": "ACTIVE",
            "vendor": "", "productType": "", "tags": [], "descriptionHtml": "", "updatedAt": "2025-07-01T00:00:00Z",
            "variants": {"nodes": variants, "pageInfo": {"hasNextPage": False, "endCursor": None}}}


def test_a_vanished_recorded_variant_is_written_afresh(org):
    """``PRODUCT_VARIANT_DOES_NOT_EXIST`` (someone deleted a variant in Shopify admin): the write is repeated
    without variant ids, so the product still gets the catalog's variants."""
    from stores.models import Listing, Store

    product = simple_product(org, sku="CAP-1", stock=None)
    store = Store.objects.create(organization=org, name="S", platform="shopify", base_url="https://a.myshopify.com",
                                 consumer_secret=TOKEN)
    listing = Listing.objects.create(organization=org, store=store, product=product,
                                     external_id="gid://shopify/Product/1",
                                     variant_ids={"CAP-1": "gid://shopify/ProductVariant/99"})
    refused = {"data": {"productSet": {"product": None, "userErrors": [
        {"field": ["input", "variants", "0", "id"], "message": "Product variant does not exist",
         "code": "PRODUCT_VARIANT_DOES_NOT_EXIST"}]}}}
    written = {"data": {"productSet": {"userErrors": [], "product": _product_answer(
        "gid://shopify/Product/1", "cap-1", [{"id": "gid://shopify/ProductVariant/100", "sku": "CAP-1", "position": 1,
                                              "selectedOptions": [{"name": "Title", "value": "Default Title"}]}])}}}
    script = Script((200, refused), (200, written))
    plugin = ShopifyPlugin(mock_client(script))
    payload = plugin.build_payload(product)
    [result] = plugin.update_listings([(listing, product, payload)])
    assert result.ok, result.error
    assert result.listing.variant_ids == {"CAP-1": "gid://shopify/ProductVariant/100"}
    first, second = script.bodies()
    assert first["variables"]["identifier"] == {"id": "gid://shopify/Product/1"}
    assert first["variables"]["input"]["variants"][0]["id"] == "gid://shopify/ProductVariant/99"
    assert "id" not in second["variables"]["input"]["variants"][0]


def test_whole_call_failure_becomes_the_item_error_and_others_go_on(org):
    a, b = simple_product(org, sku="A-1", stock=None), simple_product(org, sku="B-1", stock=None)
    ok = {"data": {"productSet": {"userErrors": [], "product": _product_answer(
        "gid://shopify/Product/2", "b-1", [{"id": "gid://shopify/ProductVariant/20", "sku": "B-1", "position": 1,
                                            "selectedOptions": [{"name": "Title", "value": "Default Title"}]}])}}}
    plugin = ShopifyPlugin(mock_client(Script((503, b"<html>503</html>"), (200, ok))))
    results = plugin.create_listings([(a, plugin.build_payload(a)), (b, plugin.build_payload(b))])
    assert isinstance(results[0].error, Transient) and results[0].product_id == a.pk
    assert results[1].ok and results[1].listing.external_id == "gid://shopify/Product/2"
    assert results[1].listing.variant_ids == {variant_key("B-1", 1): "gid://shopify/ProductVariant/20"}


# --------------------------------------------------------------------------- against the emulator (real HTTP)

#: Our GraphQL operations that change the shop (the emulator's request log names operations).
WRITE_OPERATIONS = {"FlashFusionProductSet", "FlashFusionProductDelete", "FlashFusionVariantsBulkUpdate",
                    "FlashFusionInventorySet", "FlashFusionBulkExport"}


@pytest.fixture
def emulator():
    from stores.emulators.shopify import start_emulator

    with start_emulator(port=0, access_token=TOKEN) as running:
        yield running


@pytest.fixture
def client(emulator):
    c = ShopifyClient(emulator.base_url, TOKEN, timeout=10.0)
    yield c
    c.close()


@pytest.fixture
def plugin(client):
    return ShopifyPlugin(client)


def by_handle(emulator) -> dict[str, dict]:
    products = emulator.products()
    handles = [p["handle"] for p in products]
    assert len(handles) == len(set(handles)), f"duplicate products in the store: {handles}"
    return {p["handle"]: p for p in products}


def writes(emulator) -> list[tuple]:
    return [entry for entry in emulator.request_log if entry[2] in WRITE_OPERATIONS or entry[0] != "POST"]


def listing_for(org, product, result, store=None):
    """A saved listing as the Sync agent would keep it after ``result``."""
    from stores.models import Listing, Store

    store = store or Store.objects.get_or_create(organization=org, name="Emulated Shopify", defaults={
        "platform": "shopify", "base_url": "http://127.0.0.1", "consumer_secret": TOKEN})[0]
    listing, _ = Listing.objects.update_or_create(store=store, product=product, defaults={
        "organization": org, "external_id": result.listing.external_id, "variant_ids": result.listing.variant_ids})
    return listing


def test_check_primary_location_and_wrong_token(emulator, plugin):
    plugin.check()
    primary = emulator.locations()[0]
    assert plugin.primary_location_id() == f"gid://shopify/Location/{primary['id']}"
    with ShopifyClient(emulator.base_url, "shpat_wrong", timeout=5.0) as bad:
        with pytest.raises(AuthFailed) as caught:
            ShopifyPlugin(bad).check()
    assert caught.value.status == 401 and "Invalid API key or access token" in str(caught.value)


def test_create_simple_and_variable_products_and_read_back(org, emulator, plugin):
    tee = simple_product(org, sku="TEE-1", price="20.00", compare_at="25.00", stock=7, vendor="Acme",
                         tags=["cotton"])
    hoodie = variable_product(org)
    hoodie.images = []
    hoodie.weight_grams = None  # the emulator takes neither media nor weights (its schema has no files/measurement)
    hoodie.save()
    results = plugin.create_listings([(tee, plugin.build_payload(tee)), (hoodie, plugin.build_payload(hoodie))])
    assert all(r.ok for r in results), [r.error for r in results]
    stored = by_handle(emulator)
    assert set(stored) == {"tee-1", "hoodie"}
    primary = emulator.locations()[0]["id"]

    t = stored["tee-1"]
    assert results[0].listing.external_id == f"gid://shopify/Product/{t['id']}"
    assert (t["title"], t["vendor"], t["tags"], t["status"]) == (tee.title, "Acme", "cotton", "active")
    [tv] = t["variants"]
    assert (tv["sku"], tv["price"], tv["compare_at_price"], tv["option1"]) == ("TEE-1", "20.00", "25.00",
                                                                                "Default Title")
    assert tv["inventory_management"] == "shopify"
    assert {"location_id": primary, "available": 7} in tv["inventory_levels"]
    assert results[0].listing.variant_ids == {"TEE-1": f"gid://shopify/ProductVariant/{tv['id']}"}

    h = stored["hoodie"]
    assert [o["name"] for o in h["options"]] == ["Color", "Size"]
    assert [(v["sku"], v["option1"], v["option2"]) for v in h["variants"]] == [
        ("HOODIE-BLU-S", "Blue", "S"), ("HOODIE-BLU-M", "Blue", "M"), ("HOODIE-RED-S", "Red", "S"),
        ("HOODIE-RED-M", "Red", "M")]
    assert all(v["price"] == "42.00" and v["compare_at_price"] == "50.00" for v in h["variants"])
    assert [next(lv["available"] for lv in v["inventory_levels"] if lv["location_id"] == primary)
            for v in h["variants"]] == [1, 2, 3, 4]
    assert results[1].listing.variant_ids == {
        v["sku"]: f"gid://shopify/ProductVariant/{v['id']}" for v in h["variants"]}
    assert results[1].listing.snapshot["handle"] == "hoodie"


def test_update_replaces_variants_and_keeps_the_ids_of_kept_ones(org, emulator, plugin):
    hoodie = variable_product(org)
    hoodie.images, hoodie.weight_grams = [], None
    hoodie.save()
    [created] = plugin.create_listings([(hoodie, plugin.build_payload(hoodie))])
    listing = listing_for(org, hoodie, created)
    kept = created.listing.variant_ids["HOODIE-BLU-S"]

    hoodie.variants.filter(sku__startswith="HOODIE-RED").delete()
    blue_s = hoodie.variants.get(sku="HOODIE-BLU-S")
    blue_s.price = Decimal("39.00")
    blue_s.save()
    VariantFactory(product=hoodie, sku="HOODIE-GRN-S", position=9, price=Decimal("44.00"), stock=2,
                   option_values={"Color": "Green", "Size": "S"})
    hoodie.options = [{"name": "Color", "values": ["Blue", "Green"]}, {"name": "Size", "values": ["S", "M"]}]
    hoodie.save()
    hoodie = type(hoodie).objects.prefetch_related("variants").get(pk=hoodie.pk)

    [updated] = plugin.update_listings([(listing, hoodie, plugin.build_payload(hoodie))])
    assert updated.ok, updated.error
    [stored] = emulator.products()
    assert [(v["sku"], v["price"]) for v in stored["variants"]] == [
        ("HOODIE-BLU-S", "39.00"), ("HOODIE-BLU-M", "42.00"), ("HOODIE-GRN-S", "44.00")]
    assert updated.listing.external_id == created.listing.external_id
    assert updated.listing.variant_ids["HOODIE-BLU-S"] == kept
    assert set(updated.listing.variant_ids) == {"HOODIE-BLU-S", "HOODIE-BLU-M", "HOODIE-GRN-S"}
    assert [o["values"] for o in stored["options"]] == [["Blue", "Green"], ["S", "M"]]


def test_update_of_a_product_deleted_in_the_store_recreates_it(org, emulator, plugin):
    tee = simple_product(org, sku="TEE-2", images=[])
    [created] = plugin.create_listings([(tee, plugin.build_payload(tee))])
    listing = listing_for(org, tee, created)
    emulator.delete_product(created.listing.external_id)
    assert emulator.products() == []
    [again] = plugin.update_listings([(listing, tee, plugin.build_payload(tee))])
    assert again.ok, again.error
    assert again.listing.external_id != created.listing.external_id
    assert list(by_handle(emulator)) == ["tee-2"]


def test_delete_and_already_gone_counts_as_deleted(org, emulator, plugin):
    tee, cap = simple_product(org, sku="TEE-3", images=[]), simple_product(org, sku="CAP-3", images=[])
    created = plugin.create_listings([(p, plugin.build_payload(p)) for p in (tee, cap)])
    listings = [listing_for(org, p, r) for p, r in zip((tee, cap), created)]
    results = plugin.delete_listings(listings)
    assert all(r.ok for r in results) and [r.product_id for r in results] == [tee.pk, cap.pk]
    assert emulator.products() == []
    assert all(r.ok for r in plugin.delete_listings(listings))  # already gone


def test_delete_of_a_listing_whose_create_crashed_finds_it_by_handle(org, emulator, plugin):
    from stores.models import Listing, Store

    tee = simple_product(org, sku="TEE-4", images=[])
    plugin.create_listings([(tee, plugin.build_payload(tee))])
    store = Store.objects.create(organization=org, name="S", platform="shopify", base_url=emulator.base_url,
                                 consumer_secret=TOKEN)
    orphan = Listing.objects.create(organization=org, store=store, product=tee, external_id="")
    [result] = plugin.delete_listings([orphan])
    assert result.ok and emulator.products() == []
    [nothing] = plugin.delete_listings([orphan])
    assert nothing.ok


def test_a_crashed_create_retried_binds_without_a_duplicate(org, emulator, plugin):
    """The write lands but its answer is lost (a 502 after the shop applied it); the retry finds the product by
    handle and updates it: one product, same id, same variant ids."""
    from stores.emulators.shopify import FaultPlan

    hoodie = variable_product(org)
    hoodie.images, hoodie.weight_grams = [], None
    hoodie.save()
    payload = plugin.build_payload(hoodie)
    emulator.set_faults(FaultPlan(lost_answer_rate=1.0))
    [lost] = plugin.create_listings([(hoodie, payload)])
    assert isinstance(lost.error, Transient) and lost.error.status == 502
    assert len(emulator.products()) == 1  # the write happened
    emulator.set_faults(None)

    [retried] = plugin.create_listings([(hoodie, payload)])
    assert retried.ok, retried.error
    [stored] = emulator.products()
    assert retried.listing.external_id == f"gid://shopify/Product/{stored['id']}"
    assert sorted(retried.listing.variant_ids.values()) == sorted(
        f"gid://shopify/ProductVariant/{v['id']}" for v in stored["variants"])
    assert len(stored["variants"]) == 4


def test_a_burst_without_a_limiter_is_throttled_with_a_sensible_retry_after(org, emulator, plugin):
    products = [simple_product(org, sku=f"BURST-{n}", images=[], stock=None) for n in range(60)]
    results = plugin.create_listings([(p, plugin.build_payload(p)) for p in products])
    limited = [r.error for r in results if isinstance(r.error, RateLimited)]
    assert limited, "2000 points at 100/s should not take 60 productSets (≥ 55 points each) at once"
    assert all(not r.error or isinstance(r.error, RateLimited) for r in results)
    assert all(e.code == "THROTTLED" and 0 < e.retry_after <= 0.6 for e in limited)  # (55 − available) / 100
    assert any(event.kind == "graphql_throttled" for event in emulator.throttle_log)
    # Waiting what it said (plus a margin for a loaded CI machine, where the
    # burst's last answers can be a few hundred ms old) is enough.
    time_to_wait = max(e.retry_after for e in limited)
    import time

    time.sleep(time_to_wait + 1.0)
    first_refused = next(p for p, r in zip(products, results) if r.error)
    [after_wait] = plugin.create_listings([(first_refused, plugin.build_payload(first_refused))])
    assert after_wait.ok, after_wait.error


def test_the_store_gate_keeps_a_burst_under_the_limit(org, emulator):
    """Through ``for_store`` (the real ``stores.limits`` gate, shaped by ``rate_limits``) a burst bigger than the
    bucket (40 × 55 points > 2000) is never throttled: the gate waits for room instead (about 3 s here)."""
    from stores.models import Store

    store = Store.objects.create(organization=org, name="Gated", platform="shopify", base_url=emulator.base_url,
                                 consumer_secret=TOKEN, rate_plan="standard")
    products = [simple_product(org, sku=f"GATED-{n}", images=[], stock=None) for n in range(40)]
    with ShopifyPlugin.for_store(store) as plugin:
        results = plugin.create_listings([(p, plugin.build_payload(p)) for p in products])
    assert all(r.ok for r in results), next(r.error for r in results if r.error)
    assert not [e for e in emulator.throttle_log if e.kind == "graphql_throttled"]
    assert len(emulator.products()) == 40


def test_user_errors_from_the_shop_are_rejected_with_the_field(org, emulator, plugin):
    tee = simple_product(org, sku="TEE-5", images=[])
    payload = plugin.build_payload(tee)
    payload["variants"][0]["price"] = "-1.00"
    [result] = plugin.create_listings([(tee, payload)])
    assert isinstance(result.error, Rejected)
    assert result.error.field == "input.variants.0.price" and result.error.code == "INVALID_VARIANT"
    assert emulator.products() == []


def test_iter_and_find_products(org, emulator, plugin):
    products = [simple_product(org, sku=f"LIST-{n}", images=[], stock=None) for n in range(5)]
    plugin.create_listings([(p, plugin.build_payload(p)) for p in products])
    assert [p["handle"] for p in plugin.iter_products(page_size=2)] == [f"list-{n}" for n in range(5)]
    found = plugin.find_product("list-3")
    assert found["handle"] == "list-3" and found["variants"]["nodes"][0]["sku"] == "LIST-3"
    assert plugin.find_product("nope") is None
    assert plugin.get_product(found["id"])["id"] == found["id"]


def test_update_variants_and_set_inventory(org, emulator, plugin):
    tee = simple_product(org, sku="TEE-6", images=[], stock=3)
    [created] = plugin.create_listings([(tee, plugin.build_payload(tee))])
    vid = created.listing.variant_ids["TEE-6"]
    [changed] = plugin.update_variants(created.listing.external_id, [{"id": vid, "price": "18.50"}])
    assert changed["price"] == "18.50"
    item = created.listing.snapshot["variants"]["nodes"][0]["inventoryItem"]["id"]
    plugin.set_inventory([(item, plugin.primary_location_id(), 11)])
    [stored] = emulator.products()
    primary = emulator.locations()[0]["id"]
    assert stored["variants"][0]["price"] == "18.50"
    assert {"location_id": primary, "available": 11} in stored["variants"][0]["inventory_levels"]


def test_rest_over_http_reads_the_call_limit_and_pages(org, emulator, client, plugin):
    products = [simple_product(org, sku=f"REST-{n}", images=[], stock=None) for n in range(5)]
    plugin.create_listings([(p, plugin.build_payload(p)) for p in products])
    gate = RecordingGate()
    client.gate = gate
    handles = [p["handle"] for p in client.rest_pages("products", "products", limit=2)]
    assert handles == [f"rest-{n}" for n in range(5)]
    assert client.last_call_limit[1] == 40
    afters = [c[1] for c in gate.calls if c[0] == "after"]
    assert len(afters) == 3 and all(a["size"] == 40.0 and a["used"] >= 1 for a in afters)


# --------------------------------------------------------------------------- through the Sync agent


def test_publish_through_the_sync_agent_then_nothing_to_write(org, emulator):
    """A store.publish job for a Shopify store, run by the job runner: the catalog lands once; a second run
    plans nothing and sends no write."""
    from pathlib import Path

    from agents import runner
    from agents.services import enqueue
    from products.importers import apply_catalog, parse_catalog
    from products.models import Product, Variant
    from stores.models import Listing, Store

    csv = Path(__file__).resolve().parents[3] / "shared" / "data" / "shopify" / "product_template.csv"
    apply_catalog(org, parse_catalog("shopify", csv.read_text(encoding="utf-8-sig")))
    # The emulator takes neither media nor weights (its schema has no files / file / measurement inputs).
    Product.objects.filter(organization=org).update(images=[], weight_grams=None)
    Variant.objects.filter(organization=org).update(image_url="", weight_grams=None)
    catalog = Product.objects.filter(organization=org)
    store = Store.objects.create(organization=org, name="Emulated Shopify", platform="shopify",
                                 base_url=emulator.base_url, consumer_secret=TOKEN)

    def publish():
        job = enqueue(org, "store.publish", store=store, params={"strategy": "full"})
        status = runner.execute(job.pk)
        job.refresh_from_db()
        assert status == "succeeded", (job.error, job.log)
        return job.result

    first = publish()
    assert first["created"] == catalog.count() and first["failed"] == 0
    stored = by_handle(emulator)
    assert set(stored) == set(catalog.values_list("handle", flat=True))
    for product in catalog.prefetch_related("variants"):
        listing = Listing.objects.get(store=store, product=product)
        assert listing.state == "in_sync"
        assert listing.external_id == f"gid://shopify/Product/{stored[product.handle]['id']}"
        assert sorted(v["sku"] for v in stored[product.handle]["variants"]) == sorted(
            v.sku for v in product.variants.all())
        assert len(listing.variant_ids) == product.variants.count()

    emulator.reset_log()
    second = publish()
    assert second == {"created": 0, "updated": 0, "deleted": 0, "unchanged": catalog.count(), "failed": 0,
                      "considered": catalog.count()}
    assert not writes(emulator), writes(emulator)


def test_update_variants_sends_at_most_the_input_limit_per_call(org, emulator, plugin, monkeypatch):
    import stores.plugins.shopify.writes as module  # update_variants reads MAX_INPUT_ITEMS there

    hoodie = variable_product(org)  # 4 variants
    [created] = plugin.create_listings([(hoodie, plugin.build_payload(hoodie))])
    monkeypatch.setattr(module, "MAX_INPUT_ITEMS", 3)  # Shopify's is 250; 3 makes two calls of 4 variants
    emulator.reset_log()
    sent = [{"id": vid, "price": "33.00"} for vid in created.listing.variant_ids.values()]
    changed = plugin.update_variants(created.listing.external_id, sent)
    assert len(changed) == 4 and {v["price"] for v in changed} == {"33.00"}
    assert [op for _m, _p, op in emulator.request_log].count("FlashFusionVariantsBulkUpdate") == 2
