"""The WooCommerce connector against the WooCommerce emulator over real HTTP.

``httpx.MockTransport`` is used only where a network fault or an exact header
must be forced (timeouts, 5xx, 429 + Retry-After, malformed JSON, Basic auth
over https).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from decimal import Decimal
from urllib.parse import parse_qsl

import httpx
import pytest
from oauthlib.oauth1.rfc5849 import signature as oauth_signature

from stores.plugins import AuthFailed, NotFound, RateLimited, Rejected, StoreError, Transient, variant_key
from stores.plugins.woocommerce import WooCommerceClient, WooCommercePlugin
from tests.factories import ProductFactory, VariantFactory

KEY, SECRET = "ck_demo", "cs_demo"


# --------------------------------------------------------------------------- fixtures


class RecordingTransport(httpx.BaseTransport):
    """Real HTTP, with every request and response kept for assertions."""

    def __init__(self):
        self.inner = httpx.HTTPTransport()
        self.requests: list[httpx.Request] = []
        self.responses: list[httpx.Response] = []

    def handle_request(self, request):
        self.requests.append(request)
        response = self.inner.handle_request(request)
        self.responses.append(response)
        return response

    def close(self):
        self.inner.close()


class TlsTerminatingProxy(RecordingTransport):
    """Stands in for a TLS-terminating proxy: the client speaks https, the emulator gets http + X-Forwarded-Proto."""

    def handle_request(self, request):
        self.requests.append(request)
        forwarded = httpx.Request(request.method, request.url.copy_with(scheme="http"),
                                  headers=[*request.headers.raw, (b"X-Forwarded-Proto", b"https")],
                                  content=request.content)
        response = self.inner.handle_request(forwarded)
        self.responses.append(response)
        return response


@pytest.fixture
def emulator():
    from stores.emulators.woocommerce import start_emulator

    emu = start_emulator(port=0, consumer_key=KEY, consumer_secret=SECRET)
    try:
        yield emu
    finally:
        emu.stop()


@pytest.fixture
def recorder():
    return RecordingTransport()


@pytest.fixture
def client(emulator, recorder):
    c = WooCommerceClient(emulator.base_url, KEY, SECRET, timeout=10.0, transport=recorder)
    yield c
    c.close()


@pytest.fixture
def plugin(client):
    return WooCommercePlugin(client)


def simple_product(org, sku="TEE-1", price="20.00", compare_at=None, stock=5, **kwargs):
    product = ProductFactory(organization=org, sku=sku, handle=sku.lower(), kind="simple", **kwargs)
    VariantFactory(product=product, sku=sku, price=Decimal(price),
                   compare_at_price=Decimal(compare_at) if compare_at else None, stock=stock)
    return product


def variable_product(org, sku="HOODIE", colors=("Blue", "Red")):
    product = ProductFactory(
        organization=org, sku=sku, handle=sku.lower(), kind="variable", title="Hoodie",
        options=[{"name": "Color", "values": list(colors)}], weight_grams=Decimal("500"),
    )
    for position, color in enumerate(colors, start=1):
        VariantFactory(product=product, sku=f"{sku}-{color.upper()}", position=position, price=Decimal("42.00"),
                       stock=position * 3, option_values={"Color": color})
    return product


def store_products_by_sku(emulator) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for p in emulator.products():
        out.setdefault(p.get("sku"), []).append(p)
    return out


def oauth_params(request: httpx.Request) -> list[tuple[str, str]]:
    return [(k, v) for k, v in parse_qsl(request.url.query.decode(), keep_blank_values=True) if k.startswith("oauth_")]


# --------------------------------------------------------------------------- build_payload


def test_build_payload_simple_maps_prices_status_stock_weight_downloads(org):
    product = simple_product(org, price="15.00", compare_at="20.00", stock=None, status="archived",
                             weight_grams=Decimal("250"), images=["https://img.example/a.jpg"],
                             downloads=[{"name": "Manual", "url": "https://files.example/m.pdf"}])
    payload = WooCommercePlugin(None).build_payload(product)

    assert payload["type"] == "simple"
    assert payload["status"] == "private"
    assert payload["regular_price"] == "20.00" and payload["sale_price"] == "15.00"
    assert payload["manage_stock"] is False and "stock_quantity" not in payload
    assert payload["weight"] == "0.25"
    assert payload["images"] == [{"src": "https://img.example/a.jpg"}]
    assert payload["downloadable"] is True
    assert payload["downloads"] == [{"name": "Manual", "file": "https://files.example/m.pdf"}]
    assert "categories" not in payload and "tags" not in payload
    # deterministic: same product, same body
    assert WooCommercePlugin(None).build_payload(product) == payload


def test_build_payload_price_without_higher_compare_at_is_regular(org):
    product = simple_product(org, price="20.00", compare_at="18.00", stock=7, status="draft")
    payload = WooCommercePlugin(None).build_payload(product)
    assert payload["regular_price"] == "20.00" and payload["sale_price"] == ""
    assert payload["manage_stock"] is True and payload["stock_quantity"] == 7
    assert payload["status"] == "draft"


def test_build_payload_variable_external_grouped(org):
    plugin = WooCommercePlugin(None)
    variable = plugin.build_payload(variable_product(org))
    assert variable["type"] == "variable" and variable["status"] == "publish"
    assert variable["attributes"] == [{"name": "Color", "options": ["Blue", "Red"], "visible": True,
                                       "variation": True}]
    assert "regular_price" not in variable
    assert variable["weight"] == "0.5"
    assert [v["sku"] for v in variable["_variations"]] == ["HOODIE-BLUE", "HOODIE-RED"]
    first = variable["_variations"][0]
    assert first["attributes"] == [{"name": "Color", "option": "Blue"}]
    assert first["regular_price"] == "42.00" and first["stock_quantity"] == 3 and first["menu_order"] == 1

    external = ProductFactory(organization=org, sku="PENNANT", kind="external",
                              external_url="https://swag.example/p", button_text="Buy")
    VariantFactory(product=external, price=Decimal("11.05"), stock=3)
    ext = plugin.build_payload(external)
    assert ext["external_url"] == "https://swag.example/p" and ext["button_text"] == "Buy"
    assert ext["regular_price"] == "11.05" and ext["manage_stock"] is False and "downloadable" not in ext

    grouped = ProductFactory(organization=org, sku="SET", kind="grouped", grouped_skus=["A", "B"])
    grp = plugin.build_payload(grouped)
    assert grp["_grouped_skus"] == ["A", "B"] and "regular_price" not in grp


# --------------------------------------------------------------------------- create / read back


def test_create_simple_variable_grouped_external_and_read_back(org, plugin, client, emulator):
    tee = simple_product(org, sku="TEE-1", price="15.00", compare_at="20.00")
    cap = simple_product(org, sku="CAP-1", price="9.50")
    hoodie = variable_product(org)
    pennant = ProductFactory(organization=org, sku="PENNANT", handle="pennant", kind="external",
                             external_url="https://swag.example/pennant", button_text="Buy it there")
    VariantFactory(product=pennant, price=Decimal("11.05"), stock=None)
    bundle = ProductFactory(organization=org, sku="BUNDLE", handle="bundle", kind="grouped",
                            grouped_skus=["TEE-1", "CAP-1"])
    products = [bundle, tee, hoodie, pennant, cap]  # the grouped one first: its children come in the same call

    results = plugin.create_listings([(p, plugin.build_payload(p)) for p in products])

    assert [r.product_id for r in results] == [p.pk for p in products]
    assert all(r.ok for r in results), [r.error for r in results]
    by_product = {r.product_id: r.listing for r in results}

    tee_remote = client.get(f"products/{by_product[tee.pk].external_id}")
    assert tee_remote["type"] == "simple" and tee_remote["sku"] == "TEE-1"
    assert tee_remote["regular_price"] == "20.00" and tee_remote["sale_price"] == "15.00"
    assert by_product[tee.pk].variant_ids == {"TEE-1": by_product[tee.pk].external_id}
    assert by_product[tee.pk].snapshot["id"] == int(by_product[tee.pk].external_id)

    hoodie_listing = by_product[hoodie.pk]
    remote_variations = list(client.paginate(f"products/{hoodie_listing.external_id}/variations"))
    assert sorted(v["sku"] for v in remote_variations) == ["HOODIE-BLUE", "HOODIE-RED"]
    assert hoodie_listing.variant_ids == {v["sku"]: str(v["id"]) for v in remote_variations}
    assert [v["sku"] for v in hoodie_listing.snapshot["variations_detail"]] == ["HOODIE-BLUE", "HOODIE-RED"]
    hoodie_remote = client.get(f"products/{hoodie_listing.external_id}")
    assert hoodie_remote["type"] == "variable"
    assert sorted(hoodie_remote["variations"]) == sorted(v["id"] for v in remote_variations)

    pennant_remote = client.get(f"products/{by_product[pennant.pk].external_id}")
    assert pennant_remote["type"] == "external"
    assert pennant_remote["external_url"] == "https://swag.example/pennant"
    assert pennant_remote["button_text"] == "Buy it there"

    bundle_remote = client.get(f"products/{by_product[bundle.pk].external_id}")
    assert bundle_remote["type"] == "grouped"
    assert bundle_remote["grouped_products"] == [int(by_product[tee.pk].external_id),
                                                 int(by_product[cap.pk].external_id)]
    assert by_product[bundle.pk].variant_ids == {}

    skus = store_products_by_sku(emulator)
    for sku in ("TEE-1", "CAP-1", "HOODIE", "PENNANT", "BUNDLE"):
        assert len(skus[sku]) == 1


def test_grouped_with_child_missing_from_store_is_rejected_and_not_written(org, plugin, emulator):
    bundle = ProductFactory(organization=org, sku="BUNDLE", kind="grouped", grouped_skus=["NOPE-1"])
    [result] = plugin.create_listings([(bundle, plugin.build_payload(bundle))])
    assert isinstance(result.error, Rejected) and result.error.code == "grouped_child_missing"
    assert "NOPE-1" in result.error.message
    assert "BUNDLE" not in store_products_by_sku(emulator)


def test_second_create_after_crash_binds_by_duplicate_sku(org, plugin, client, emulator):
    tee = simple_product(org, sku="TEE-1", price="20.00")
    hoodie = variable_product(org)
    items = [(p, plugin.build_payload(p)) for p in (tee, hoodie)]
    first = plugin.create_listings(items)
    assert all(r.ok for r in first)
    # "crash": the listings were never saved; the catalog changed meanwhile
    tee.variants.update(price=Decimal("25.00"))
    items = [(p, plugin.build_payload(p)) for p in (tee, hoodie)]

    second = plugin.create_listings(items)

    assert all(r.ok for r in second), [r.error for r in second]
    assert [r.listing.external_id for r in second] == [r.listing.external_id for r in first]
    assert second[1].listing.variant_ids == first[1].listing.variant_ids
    skus = store_products_by_sku(emulator)
    assert len(skus["TEE-1"]) == 1 and len(skus["HOODIE"]) == 1
    assert client.get(f"products/{second[0].listing.external_id}")["regular_price"] == "25.00"
    variations = list(client.paginate(f"products/{second[1].listing.external_id}/variations"))
    assert sorted(v["sku"] for v in variations) == ["HOODIE-BLUE", "HOODIE-RED"]


# --------------------------------------------------------------------------- update / delete


def _saved_listing(store_org, product, result):
    from stores.models import Listing, Store

    store, _ = Store.objects.get_or_create(organization=store_org, name="Woo", defaults={
        "base_url": "http://127.0.0.1", "consumer_key": KEY, "consumer_secret": SECRET})
    return Listing.objects.create(organization=store_org, store=store, product=product,
                                  external_id=result.listing.external_id, variant_ids=result.listing.variant_ids,
                                  remote_snapshot=result.listing.snapshot)


def test_update_changes_price_adds_and_removes_a_variation(org, plugin, client):
    tee = simple_product(org, sku="TEE-1", price="20.00")
    hoodie = variable_product(org, colors=("Blue", "Red"))
    created = plugin.create_listings([(p, plugin.build_payload(p)) for p in (tee, hoodie)])
    tee_listing, hoodie_listing = (_saved_listing(org, p, r) for p, r in zip((tee, hoodie), created))
    red_id = hoodie_listing.variant_ids["HOODIE-RED"]
    blue_id = hoodie_listing.variant_ids["HOODIE-BLUE"]

    tee.variants.update(price=Decimal("17.00"), compare_at_price=Decimal("20.00"))
    hoodie.variants.filter(sku="HOODIE-RED").delete()
    hoodie.variants.filter(sku="HOODIE-BLUE").update(price=Decimal("39.00"))
    VariantFactory(product=hoodie, sku="HOODIE-GREEN", position=3, price=Decimal("44.00"),
                   option_values={"Color": "Green"})
    hoodie.options = [{"name": "Color", "values": ["Blue", "Green"]}]
    hoodie.save()

    results = plugin.update_listings([(tee_listing, tee, plugin.build_payload(tee)),
                                      (hoodie_listing, hoodie, plugin.build_payload(hoodie))])

    assert all(r.ok for r in results), [r.error for r in results]
    assert results[0].listing.external_id == tee_listing.external_id
    tee_remote = client.get(f"products/{tee_listing.external_id}")
    assert (tee_remote["regular_price"], tee_remote["sale_price"]) == ("20.00", "17.00")

    variations = {v["sku"]: v for v in client.paginate(f"products/{hoodie_listing.external_id}/variations")}
    assert set(variations) == {"HOODIE-BLUE", "HOODIE-GREEN"}
    assert str(variations["HOODIE-BLUE"]["id"]) == blue_id  # updated in place, not re-created
    assert variations["HOODIE-BLUE"]["regular_price"] == "39.00"
    assert results[1].listing.variant_ids == {"HOODIE-BLUE": blue_id,
                                              "HOODIE-GREEN": str(variations["HOODIE-GREEN"]["id"])}
    with pytest.raises(NotFound):
        client.get(f"products/{hoodie_listing.external_id}/variations/{red_id}")


def test_update_recreates_a_product_gone_from_the_store(org, plugin, client, emulator):
    tee = simple_product(org, sku="TEE-1")
    [created] = plugin.create_listings([(tee, plugin.build_payload(tee))])
    listing = _saved_listing(org, tee, created)
    client.delete(f"products/{listing.external_id}", params={"force": True})

    [result] = plugin.update_listings([(listing, tee, plugin.build_payload(tee))])

    assert result.ok, result.error
    assert result.listing.external_id != listing.external_id
    assert client.get(f"products/{result.listing.external_id}")["sku"] == "TEE-1"
    assert len(store_products_by_sku(emulator)["TEE-1"]) == 1


def test_delete_listings_and_already_gone_counts_as_deleted(org, plugin, client, emulator):
    tee = simple_product(org, sku="TEE-1")
    hoodie = variable_product(org)
    created = plugin.create_listings([(p, plugin.build_payload(p)) for p in (tee, hoodie)])
    listings = [_saved_listing(org, p, r) for p, r in zip((tee, hoodie), created)]

    results = plugin.delete_listings(listings)
    assert [r.ok for r in results] == [True, True]
    assert store_products_by_sku(emulator).keys().isdisjoint({"TEE-1", "HOODIE"})
    with pytest.raises(NotFound):
        client.get(f"products/{listings[0].external_id}")

    again = plugin.delete_listings(listings)
    assert [r.ok for r in again] == [True, True]


# --------------------------------------------------------------------------- client: pagination, batch, auth


def test_paginate_more_than_100_products_over_oauth_resigns_the_next_link(client, recorder, emulator):
    assert client.uses_oauth  # the emulator is plain http
    created = client.batch("products/batch", create=[
        {"name": f"P{i}", "type": "simple", "sku": f"P-{i:03}", "regular_price": "1.00"} for i in range(150)])
    assert len(created["create"]) == 150 and not any(isinstance(x, StoreError) for x in created["create"])
    posts = [r for r in recorder.requests if r.method == "POST"]
    assert len(posts) == 2 and all(len(json.loads(r.content)["create"]) <= 100 for r in posts)

    recorder.requests.clear()
    recorder.responses.clear()
    items = list(client.paginate("products", per_page=100))

    # the quirk is really exercised: the emulator's next link carries the first request's oauth_* values
    assert "oauth_signature=" in recorder.responses[0].headers["Link"]

    assert sorted(p["sku"] for p in items) == [f"P-{i:03}" for i in range(150)]
    gets = [r for r in recorder.requests if r.method == "GET"]
    assert len(gets) == 2
    nonces = []
    for request in gets:
        params = oauth_params(request)
        names = [k for k, _ in params]
        assert sorted(names) == sorted(set(names)), "stale oauth_* parameters were carried over"
        assert {"oauth_consumer_key", "oauth_signature", "oauth_nonce", "oauth_timestamp"} <= set(names)
        assert "Authorization" not in request.headers
        nonces.append(dict(params)["oauth_nonce"])
    assert nonces[0] != nonces[1]
    assert dict(parse_qsl(gets[1].url.query.decode()))["page"] == "2"


def test_batch_splits_101_items_and_turns_item_errors_into_typed_errors(client, recorder):
    body = [{"name": f"P{i}", "type": "simple", "sku": f"B-{i:03}", "regular_price": "2.00"} for i in range(101)]
    first = client.batch("products/batch", create=body)
    assert len([r for r in recorder.requests if r.method == "POST"]) == 2

    again = client.batch("products/batch", create=body[:2],
                         delete=[first["create"][100]["id"]])
    errors = again["create"]
    assert all(isinstance(e, Rejected) for e in errors)
    assert errors[0].code == "product_invalid_sku"
    assert errors[0].details["resource_id"] == first["create"][0]["id"]
    assert again["delete"][0]["id"] == first["create"][100]["id"]


def test_emulator_errors_are_typed(emulator, client):
    with pytest.raises(NotFound):
        client.get("products/987654")
    with pytest.raises(Rejected) as rejected:
        client.get("products", {"per_page": 101})
    assert rejected.value.code == "rest_invalid_param" and rejected.value.field == "per_page"
    with pytest.raises(ValueError):
        list(client.paginate("products", per_page=101))

    wrong = WooCommercePlugin(WooCommerceClient(emulator.base_url, KEY, "cs_wrong"))
    with pytest.raises(AuthFailed):
        wrong.check()
    WooCommercePlugin(client).check()


def test_for_store_uses_store_fields(org, emulator):
    from stores.models import Store

    store = Store.objects.create(organization=org, name="Emu", base_url=emulator.base_url,
                                 consumer_key=KEY, consumer_secret=SECRET, timeout=4.5)
    store.refresh_from_db()
    plugin = WooCommercePlugin.for_store(store)
    try:
        assert plugin.client.timeout == 4.5 and plugin.client.uses_oauth
        plugin.check()
    finally:
        plugin.close()


def test_basic_auth_over_https_end_to_end(org, emulator):
    proxy = TlsTerminatingProxy()
    https_url = emulator.base_url.replace("http://", "https://")
    with WooCommercePlugin(WooCommerceClient(https_url, KEY, SECRET, transport=proxy)) as plugin:
        assert not plugin.client.uses_oauth
        tee = simple_product(org, sku="TEE-TLS")
        [result] = plugin.create_listings([(tee, plugin.build_payload(tee))])
        assert result.ok, result.error
        assert plugin.client.get(f"products/{result.listing.external_id}")["sku"] == "TEE-TLS"
    expected = "Basic " + base64.b64encode(f"{KEY}:{SECRET}".encode()).decode()
    assert proxy.requests and all(r.headers["Authorization"] == expected for r in proxy.requests)
    assert not any(oauth_params(r) for r in proxy.requests)

    wrong = WooCommerceClient(https_url, KEY, "cs_wrong", transport=TlsTerminatingProxy())
    with pytest.raises(AuthFailed):
        wrong.get("products")


def test_sku_held_by_a_variation_is_rejected_not_bound(org, plugin, client, emulator):
    holder = client.post("products", json={"name": "Other", "type": "variable", "sku": "OTHER",
                                           "attributes": [{"name": "Size", "options": ["S"], "variation": True}]})
    client.post(f"products/{holder['id']}/variations",
                json={"sku": "TEE-1", "regular_price": "5.00", "attributes": [{"name": "Size", "option": "S"}]})
    tee = simple_product(org, sku="TEE-1")

    [result] = plugin.create_listings([(tee, plugin.build_payload(tee))])

    assert isinstance(result.error, Rejected) and result.error.code == "product_invalid_sku"
    assert result.listing is None
    assert [p["sku"] for p in emulator.products()] == ["OTHER"]


def test_variation_sku_taken_elsewhere_reports_error_but_keeps_the_listing(org, plugin, client, emulator):
    client.post("products", json={"name": "Squatter", "type": "simple", "sku": "HOODIE-RED", "regular_price": "1"})
    hoodie = variable_product(org)

    [result] = plugin.create_listings([(hoodie, plugin.build_payload(hoodie))])

    assert isinstance(result.error, Rejected) and result.error.code == "product_invalid_sku"
    assert "HOODIE-RED" in result.error.message
    assert result.listing is not None  # the parent exists: the binding can be kept
    assert list(result.listing.variant_ids) == ["HOODIE-BLUE"]
    [stored] = [p for p in emulator.products() if p["sku"] == "HOODIE"]
    assert [v["sku"] for v in stored["variation_details"]] == ["HOODIE-BLUE"]


# --------------------------------------------------------------------------- forced faults (MockTransport)


def mock_client(handler, base_url="https://shop.example.com", timeout=3.0) -> WooCommerceClient:
    return WooCommerceClient(base_url, KEY, SECRET, timeout=timeout, transport=httpx.MockTransport(handler))


def test_https_uses_basic_auth_header():
    seen = []

    def handler(request):
        seen.append(request)
        return httpx.Response(200, json=[])

    mock_client(handler).get("products", {"per_page": 1})
    expected = "Basic " + base64.b64encode(f"{KEY}:{SECRET}".encode()).decode()
    assert seen[0].headers["Authorization"] == expected
    assert not oauth_params(seen[0])
    assert str(seen[0].url) == "https://shop.example.com/wp-json/wc/v3/products?per_page=1"


def test_http_signs_with_oauth_in_the_query_string_and_the_signature_verifies():
    seen = []

    def handler(request):
        seen.append(request)
        return httpx.Response(201, json={"id": 1})

    client = mock_client(handler, base_url="http://shop.example.com/")
    client.post("products", json={"name": "X", "regular_price": "1.00"}, params={"sku": "a,b"})
    request = seen[0]
    assert "Authorization" not in request.headers
    params = parse_qsl(request.url.query.decode(), keep_blank_values=True)
    given = dict(params)
    assert given["oauth_signature_method"] == "HMAC-SHA1" and given["oauth_consumer_key"] == KEY
    unsigned = [(k, v) for k, v in params if k != "oauth_signature"]
    base = oauth_signature.signature_base_string(
        "POST", oauth_signature.base_string_uri(str(request.url)),
        oauth_signature.normalize_parameters(unsigned))
    # HMAC-SHA1 keyed with "secret&" (no token secret), as WooCommerce's check_oauth_signature does
    digest = hmac.new(f"{SECRET}&".encode(), base.encode(), hashlib.sha1).digest()
    assert base64.b64encode(digest).decode() == given["oauth_signature"]


def test_next_link_with_stale_oauth_is_stripped_and_resigned():
    seen = []

    def handler(request):
        seen.append(request)
        page = dict(parse_qsl(request.url.query.decode())).get("page", "1")
        if page == "1":
            stale = "oauth_consumer_key=ck_demo&oauth_nonce=OLD&oauth_signature=OLDSIG&oauth_timestamp=1"
            link = f'<http://shop.example.com/wp-json/wc/v3/products?{stale}&page=2&per_page=2>; rel="next"'
            return httpx.Response(200, json=[{"id": 1}, {"id": 2}], headers={"Link": link, "X-WP-TotalPages": "2"})
        return httpx.Response(200, json=[{"id": 3}], headers={"X-WP-TotalPages": "2"})

    client = mock_client(handler, base_url="http://shop.example.com")
    assert [p["id"] for p in client.paginate("products", per_page=2)] == [1, 2, 3]
    second = dict(oauth_params(seen[1]))
    assert len(oauth_params(seen[1])) == len(second)
    assert second["oauth_nonce"] != "OLD" and second["oauth_signature"] != "OLDSIG"


def test_timeout_and_connect_error_are_transient():
    def slow(request):
        raise httpx.ReadTimeout("read timed out", request=request)

    def refused(request):
        raise httpx.ConnectError("connection refused", request=request)

    client = mock_client(slow, timeout=2.5)
    assert client._http.timeout.read == 2.5 and client._http.timeout.connect == 2.5
    with pytest.raises(Transient) as exc:
        client.get("products")
    assert exc.value.retryable and "2.5s" in exc.value.message
    with pytest.raises(Transient):
        mock_client(refused).get("products")

    def corrupt(request):
        return httpx.Response(200, content=b"not gzip at all", headers={"Content-Encoding": "gzip"})

    with pytest.raises(Transient):
        mock_client(corrupt).get("products")


@pytest.mark.parametrize(
    ("status", "headers", "body", "expected", "attrs"),
    [
        (503, {}, b"<html>down</html>", Transient, {"status": 503}),
        (500, {}, json.dumps({"code": "internal_server_error", "message": "boom", "data": {"status": 500}}).encode(),
         Transient, {"code": "internal_server_error"}),
        (429, {"Retry-After": "7"}, b"", RateLimited, {"retry_after": 7.0}),
        (429, {}, b"{}", RateLimited, {"retry_after": None}),
        (401, {}, json.dumps({"code": "woocommerce_rest_cannot_view", "message": "no", "data": {"status": 401}})
         .encode(), AuthFailed, {"code": "woocommerce_rest_cannot_view"}),
        (403, {}, b"{}", AuthFailed, {"status": 403}),
        (404, {}, json.dumps({"code": "woocommerce_rest_product_invalid_id", "message": "Invalid ID.",
                              "data": {"status": 404}}).encode(),
         NotFound, {"code": "woocommerce_rest_product_invalid_id"}),
        (400, {}, json.dumps({"code": "rest_invalid_param", "message": "Invalid parameter(s): regular_price",
                              "data": {"status": 400,
                                       "params": {"regular_price": "regular_price is not of type string."}}})
         .encode(), Rejected, {"code": "rest_invalid_param", "field": "regular_price"}),
        (413, {}, json.dumps({"code": "woocommerce_rest_request_entity_too_large", "message": "too many",
                              "data": {"status": 413}}).encode(), Rejected,
         {"code": "woocommerce_rest_request_entity_too_large"}),
    ],
)
def test_http_errors_map_to_typed_errors(status, headers, body, expected, attrs):
    client = mock_client(lambda request: httpx.Response(status, headers=headers, content=body))
    with pytest.raises(expected) as exc:
        client.get("products")
    for name, value in attrs.items():
        assert getattr(exc.value, name) == value
    assert type(exc.value).retryable == (expected in (Transient, RateLimited))


def test_malformed_json_is_transient():
    client = mock_client(lambda request: httpx.Response(200, content=b'{"id": 1, "name": "cut off',
                                                        headers={"Content-Type": "application/json"}))
    with pytest.raises(Transient):
        client.get("products/1")


def test_batch_item_errors_typed_and_whole_call_errors_partial():
    calls = []

    def handler(request):
        calls.append(json.loads(request.content))
        if len(calls) == 1:
            return httpx.Response(200, json={"create": [
                {"id": 10, "name": "ok"},
                {"id": 0, "error": {"code": "product_invalid_sku", "message": "dup",
                                    "data": {"status": 400, "resource_id": 7}}},
            ] + [{"id": 11 + i} for i in range(97)], "update": [
                {"id": 5, "error": {"code": "woocommerce_rest_product_invalid_id", "message": "Invalid ID.",
                                    "data": {"status": 400}}},
            ]})
        return httpx.Response(503, content=b"busy")

    client = mock_client(handler)
    creates = [{"sku": f"S{i}"} for i in range(99)]  # + 1 update = the first call; the deletes go in a second
    result = client.batch("products/batch", create=creates, update=[{"id": 5}], delete=[8, 9], partial=True)
    assert len(calls) == 2 and sum(len(v) for v in calls[0].values()) == 100
    assert result["create"][0]["id"] == 10
    assert isinstance(result["create"][1], Rejected) and result["create"][1].details["resource_id"] == 7
    assert isinstance(result["update"][0], Rejected) and result["update"][0].code.endswith("_invalid_id")
    assert all(isinstance(e, Transient) for e in result["delete"])

    with pytest.raises(Transient):
        client.batch("products/batch", delete=[1])


def test_plugin_capabilities():
    assert WooCommercePlugin.platform == "woocommerce"
    assert WooCommercePlugin.max_batch == 100
    assert WooCommercePlugin.capabilities == {"read_products", "write_products", "batch_writes", "variants", "delete", "webhooks",
                                              "field_updates"}
    assert WooCommercePlugin.rate_limits().capacity == 10
    assert variant_key("", 2) == "#2"
