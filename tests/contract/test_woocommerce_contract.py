"""Contract tests: the WooCommerce connector against our emulator AND a real WooCommerce 7.9.0 shop (issue 13).

Every test runs twice, ``[emulator]`` and ``[realshop]``, with the same assertions, so a difference between
the emulator and the real shop is a failing test. The real shop is ``../shared/realshop/up.sh`` (WordPress
6.1.9 + WooCommerce 7.9.0 on 127.0.0.1:8081); its keys come from ``WOO_URL`` / ``WOO_CK`` / ``WOO_CS`` or
``/tmp/flashfusion-realshop/woo-keys.env``. ``[realshop]`` is skipped unless ``FLASHFUSION_REALSHOP=1`` or the
keys file exists, and fails instead of skipping under ``FLASHFUSION_REQUIRE_REALSHOP=1`` (CI).

The shop persists between runs and CI's two passes share it: every SKU carries ``CT-<pid>-<random>``.
Reads back go through plain HTTP with OAuth 1.0a (``WooCommerceClient``, as the connector signs) with
``context=edit``, and are compared field by field through ``stores.plugins.woocommerce.normalize``.
"""

from __future__ import annotations

import os
import uuid
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qsl

import httpx
import pytest

from stores.plugins import AuthFailed, FieldUpdate, NotFound
from stores.plugins.woocommerce import WooCommerceClient, WooCommercePlugin
from stores.plugins.woocommerce.normalize import normalize_product, normalize_text
from tests.factories import ProductFactory, VariantFactory

pytestmark = pytest.mark.realshop

KEYS_FILE = Path(os.environ.get("REALSHOP_DIR", "/tmp/flashfusion-realshop")) / "woo-keys.env"
EMU_KEY, EMU_SECRET = "ck_contract", "cs_contract"
COMPARED = ("name", "sku", "type", "status", "regular_price", "sale_price", "stock_quantity", "weight",
            "description", "short_description")


def _realshop_keys() -> dict[str, str] | None:
    keys = {k: os.environ[k] for k in ("WOO_URL", "WOO_CK", "WOO_CS") if os.environ.get(k)}
    if len(keys) < 3 and KEYS_FILE.exists():
        for line in KEYS_FILE.read_text().splitlines():
            name, _, value = line.partition("=")
            if name.strip() in ("WOO_URL", "WOO_CK", "WOO_CS"):
                keys.setdefault(name.strip(), value.strip().strip("'\""))
    return keys if len(keys) == 3 else None


class Backend:
    def __init__(self, name: str, url: str, key: str, secret: str):
        self.name, self.url, self.key, self.secret = name, url, key, secret

    def client(self, key: str | None = None, secret: str | None = None, transport=None) -> WooCommerceClient:
        return WooCommerceClient(self.url, key or self.key, secret or self.secret, timeout=120.0,
                                 transport=transport)


@pytest.fixture(scope="module", params=["emulator", "realshop"])
def backend(request):
    if request.param == "emulator":
        from stores.emulators.woocommerce import start_emulator

        emu = start_emulator(port=0, consumer_key=EMU_KEY, consumer_secret=EMU_SECRET)
        try:
            yield Backend("emulator", emu.base_url, EMU_KEY, EMU_SECRET)
        finally:
            emu.stop()
        return
    required = os.environ.get("FLASHFUSION_REQUIRE_REALSHOP") == "1"
    wanted = required or os.environ.get("FLASHFUSION_REALSHOP") == "1" or KEYS_FILE.exists()
    keys = _realshop_keys() if wanted else None
    if keys is None:
        message = f"no real shop: set FLASHFUSION_REALSHOP=1 after `bash ../shared/realshop/up.sh` ({KEYS_FILE})"
        if required:
            pytest.fail(f"FLASHFUSION_REQUIRE_REALSHOP=1 but {message}")
        pytest.skip(message)
    backend = Backend("realshop", keys["WOO_URL"], keys["WOO_CK"], keys["WOO_CS"])
    try:
        httpx.get(backend.url + "/wp-json/", timeout=30.0)
    except httpx.HTTPError as err:
        (pytest.fail if required else pytest.skip)(f"real shop {backend.url} does not answer: {err}")
    yield backend


@pytest.fixture
def reader(backend):
    c = backend.client()
    yield c
    c.close()


@pytest.fixture
def plugin(backend):
    p = WooCommercePlugin(backend.client())
    yield p
    p.close()


@pytest.fixture
def sku():
    """A prefix unique to this process and run (the shop persists; CI's two passes share it)."""
    return f"CT-{os.getpid()}-{uuid.uuid4().hex[:6]}".upper()


@pytest.fixture
def cleanup(reader):
    ids: list[int] = []
    yield ids
    for pid in ids:
        try:
            reader.delete(f"products/{pid}", params={"force": True})
        except Exception:  # noqa: BLE001 — best effort; already deleted by the test is fine
            pass


def simple_product(org, sku):
    product = ProductFactory(organization=org, sku=sku, handle=sku.lower(), kind="simple",
                             title="Fish & Chips Tee", description="<p>Salt & vinegar &lt;3 \"crisp\"</p>",
                             weight_grams=Decimal("250"), images=[])
    VariantFactory(product=product, sku=sku, price=Decimal("15.00"), compare_at_price=Decimal("20.00"), stock=5)
    return product


def variable_product(org, sku):
    product = ProductFactory(organization=org, sku=sku, handle=sku.lower(), kind="variable", title="Hoodie & Co",
                             description="<p>Warm & soft</p>", options=[{"name": "Color", "values": ["Blue", "Red"]}],
                             weight_grams=Decimal("500"), images=[])
    for position, color in enumerate(("Blue", "Red"), start=1):
        VariantFactory(product=product, sku=f"{sku}-{color.upper()}", position=position, price=Decimal("42.00"),
                       stock=position * 3, option_values={"Color": color})
    return product


def saved_listing(org, product, result):
    from stores.models import Listing, Store

    store, _ = Store.objects.get_or_create(organization=org, name="Contract", defaults={
        "base_url": "http://127.0.0.1", "consumer_key": "ck", "consumer_secret": "cs"})
    return Listing.objects.create(organization=org, store=store, product=product,
                                  external_id=result.listing.external_id, variant_ids=result.listing.variant_ids,
                                  remote_snapshot=result.listing.snapshot)


def assert_same(sent: dict, stored: dict):
    """Every compared field we sent reads back equal after normalization."""
    ours, theirs = normalize_product(sent), normalize_product(stored)
    diffs = {f: (ours[f], theirs.get(f)) for f in COMPARED if f in ours and ours[f] != theirs.get(f)}
    assert not diffs, f"sent vs stored: {diffs}"


def publish(plugin, cleanup, product):
    payload = plugin.build_payload(product)
    [result] = plugin.create_listings([(product, payload)])
    assert result.ok, result.error
    cleanup.append(int(result.listing.external_id))
    return payload, result


# --------------------------------------------------------------------------- connect


def test_check_passes_with_right_keys(plugin):
    plugin.check()


def test_check_refuses_wrong_keys(backend):
    with WooCommercePlugin(backend.client(key="ck_" + "0" * 40, secret="cs_" + "0" * 40)) as wrong:
        with pytest.raises(AuthFailed):
            wrong.check()
    with WooCommercePlugin(backend.client(secret="cs_" + "1" * 40)) as bad_secret:
        with pytest.raises(AuthFailed):
            bad_secret.check()


# --------------------------------------------------------------------------- publish and read back


def test_publish_simple_reads_back_field_by_field(org, plugin, reader, cleanup, sku):
    payload, result = publish(plugin, cleanup, simple_product(org, sku))

    stored = reader.get(f"products/{result.listing.external_id}", {"context": "edit"})

    assert_same(payload, stored)
    assert normalize_product(stored)["regular_price"] == Decimal("20")
    assert normalize_product(stored)["sale_price"] == Decimal("15")
    assert normalize_product(stored)["stock_quantity"] == 5
    assert normalize_product(stored)["weight"] == Decimal("0.25")
    assert (stored["type"], stored["status"], stored["sku"]) == ("simple", "publish", sku)


def test_shop_entity_encodes_texts_and_the_normalizer_decodes_them(org, plugin, reader, cleanup, sku):
    """Issue 13 item 7: a bare ``&`` comes back ``&amp;``; an entity sent stays as sent; quotes untouched."""
    payload, result = publish(plugin, cleanup, simple_product(org, sku))
    stored = reader.get(f"products/{result.listing.external_id}", {"context": "edit"})

    assert stored["name"] == "Fish &amp; Chips Tee"
    assert stored["description"] == "<p>Salt &amp; vinegar &lt;3 \"crisp\"</p>"
    assert stored["name"] != payload["name"]  # compared raw it would look changed
    assert normalize_text(stored["name"]) == normalize_text(payload["name"]) == "Fish & Chips Tee"
    assert result.listing.snapshot["name"] == "Fish &amp; Chips Tee"  # the create answer is encoded too


def test_publish_variable_with_two_variations_reads_back(org, plugin, reader, cleanup, sku):
    payload, result = publish(plugin, cleanup, variable_product(org, sku))
    pid = result.listing.external_id

    stored = reader.get(f"products/{pid}", {"context": "edit"})
    variations = sorted(reader.paginate(f"products/{pid}/variations", {"context": "edit"}), key=lambda v: v["sku"])

    assert_same({k: v for k, v in payload.items() if not k.startswith("_")}, stored)
    assert [a["name"] for a in stored["attributes"]] == ["Color"]
    assert stored["attributes"][0]["options"] == ["Blue", "Red"] and stored["attributes"][0]["variation"] is True
    assert len(variations) == 2
    sent = sorted(payload["_variations"], key=lambda v: v["sku"])
    for ours, theirs in zip(sent, variations):
        assert_same(ours, theirs)
        assert [a["option"] for a in theirs["attributes"]] == [ours["attributes"][0]["option"]]
    assert {v["sku"]: v["stock_quantity"] for v in variations} == {f"{sku}-BLUE": 3, f"{sku}-RED": 6}
    assert set(result.listing.variant_ids) == {f"{sku}-BLUE", f"{sku}-RED"}
    assert {str(v["id"]) for v in variations} == {str(i) for i in result.listing.variant_ids.values()}


# --------------------------------------------------------------------------- field writes, delete


def test_price_and_stock_written_alone_read_back(org, plugin, reader, cleanup, sku):
    product = simple_product(org, sku)
    _payload, result = publish(plugin, cleanup, product)
    listing = saved_listing(org, product, result)
    variant = product.variants.get()
    variant.price, variant.compare_at_price, variant.stock = Decimal("12.50"), None, 9
    variant.save()
    product.refresh_from_db()

    payload = plugin.build_payload(product)
    _content, groups = plugin.split_payload(product, payload)
    [written] = plugin.update_fields([FieldUpdate(listing, product, payload, groups)])

    assert written.ok, written.error
    stored = normalize_product(reader.get(f"products/{listing.external_id}", {"context": "edit"}))
    assert (stored["regular_price"], stored["sale_price"], stored["stock_quantity"]) == (Decimal("12.5"), None, 9)
    assert stored["name"] == "Fish & Chips Tee"  # content untouched


def test_delete_removes_simple_and_variable(org, plugin, reader, cleanup, sku):
    products = [simple_product(org, sku), variable_product(org, sku + "-V")]
    listings = [saved_listing(org, p, publish(plugin, cleanup, p)[1]) for p in products]
    variation_ids = list(listings[1].variant_ids.values())

    results = plugin.delete_listings(listings)

    assert [r.ok for r in results] == [True, True], [r.error for r in results]
    for listing in listings:
        with pytest.raises(NotFound):
            reader.get(f"products/{listing.external_id}")
    assert not [v for v in reader.paginate("products", {"sku": f"{sku}-V-BLUE,{sku}-V-RED"})]
    assert variation_ids
    assert [r.ok for r in plugin.delete_listings(listings)] == [True, True]  # already gone is a success


# --------------------------------------------------------------------------- stable paging (issue 13 item 9)


class Recorder(httpx.BaseTransport):
    def __init__(self):
        self.inner, self.requests = httpx.HTTPTransport(), []

    def handle_request(self, request):
        self.requests.append(request)
        return self.inner.handle_request(request)

    def close(self):
        self.inner.close()


def test_product_list_reads_page_by_id_ascending(backend, reader, cleanup, sku):
    # one batch: the products share their creation second, where date order pages unstably
    created = reader.batch("products/batch", create=[{"name": f"Page {n}", "sku": f"{sku}-P{n}",
                                                      "regular_price": "1"} for n in range(5)])["create"]
    ids = [int(p["id"]) for p in created]
    cleanup.extend(ids)
    recorder = Recorder()
    with WooCommercePlugin(backend.client(transport=recorder)) as plugin:
        by_sku = plugin._ids_by_sku([f"{sku}-P{n}" for n in range(5)])
        fetched = plugin._fetch_products(ids)

    assert by_sku == {f"{sku}-P{n}": pid for n, pid in enumerate(ids)}
    assert sorted(fetched) == sorted(ids)
    lists = [r for r in recorder.requests if r.method == "GET" and r.url.path.endswith("/products")]
    assert len(lists) == 2
    for request in lists:
        query = dict(parse_qsl(request.url.query.decode()))
        assert (query.get("orderby"), query.get("order")) == ("id", "asc"), request.url
    # and the shop honours it: a one-per-page read by id returns each product once, in id order
    paged = [p["id"] for p in reader.paginate("products", {"sku": ",".join(f"{sku}-P{n}" for n in range(5)),
                                                           "orderby": "id", "order": "asc"}, per_page=2)]
    assert paged == sorted(ids)


def test_variation_description_and_purchase_note_are_entity_encoded_too(reader, cleanup, sku):
    """Seen on 7.9.0: kses encodes a bare ``&`` in every stored text, variation descriptions and purchase notes
    included; attribute options are left as sent."""
    parent = reader.post("products", {"name": "V & W", "type": "variable", "sku": sku, "purchase_note": "Note & x",
                                      "attributes": [{"name": "Color", "options": ["A & B"], "variation": True}]})
    cleanup.append(int(parent["id"]))
    variation = reader.post(f"products/{parent['id']}/variations", {
        "description": "<p>Var & desc</p>", "regular_price": "3", "attributes": [{"name": "Color", "option": "A & B"}]})

    stored = reader.get(f"products/{parent['id']}/variations/{variation['id']}", {"context": "edit"})
    stored_parent = reader.get(f"products/{parent['id']}", {"context": "edit"})

    assert normalize_text(stored["description"]) == "<p>Var & desc</p>"
    assert stored["description"].startswith("<p>Var &amp; desc</p>")
    assert stored_parent["purchase_note"] == "Note &amp; x"
    assert stored_parent["attributes"][0]["options"] == ["A & B"]
    assert [a["option"] for a in stored["attributes"]] == ["A & B"]


def test_pull_comparison_sees_no_change_after_publishing_an_ampersand(org, plugin, cleanup, sku):
    """Issue 13 item 7: the compared fields of what we sent and of the shop's product as the pull reads it
    (``fetch_product``, ``agents.fields.woocommerce_fields``) are equal although the shop encoded ``&``."""
    from agents.fields import compare, woocommerce_fields

    for product in (simple_product(org, sku), variable_product(org, sku + "-V")):
        payload, result = publish(plugin, cleanup, product)
        remote = plugin.fetch_product(result.listing.external_id)
        assert "&amp;" in remote["name"]
        assert compare(woocommerce_fields(payload), woocommerce_fields(remote)) == []
        assert compare(woocommerce_fields(payload), woocommerce_fields(result.listing.snapshot)) == []


def test_whole_update_reads_back_field_by_field(org, plugin, reader, cleanup, sku):
    product = simple_product(org, sku)
    _payload, result = publish(plugin, cleanup, product)
    listing = saved_listing(org, product, result)
    product.title, product.description = "Fish & Chips Tee, v2", "<p>Now with <em>more</em> & less</p>"
    product.save()
    variant = product.variants.get()
    variant.price, variant.compare_at_price, variant.stock = Decimal("18.00"), None, 0
    variant.save()

    payload = plugin.build_payload(product)
    [updated] = plugin.update_listings([(listing, product, payload)])

    assert updated.ok, updated.error
    assert updated.listing.external_id == listing.external_id
    stored = reader.get(f"products/{listing.external_id}", {"context": "edit"})
    assert_same(payload, stored)
    assert normalize_product(stored)["stock_quantity"] == 0 and stored["stock_status"] == "outofstock"
