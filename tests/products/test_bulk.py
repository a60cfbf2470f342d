"""Bulk changes (products.bulk and the /products/bulk/ page): preview, rules, one transaction, one job per store."""

from decimal import Decimal

import pytest
from django.urls import reverse

from agents.choices import JobKind, Priority
from agents.models import Job
from approvals.choices import ChangeAction, RequestStatus
from approvals.models import ApprovalRequest
from approvals.services import decide
from flashfusion.models import Event
from products import bulk
from products.bulk import BulkError, Kind, Operation, Rounding
from products.models import Product, Variant
from stores.models import Listing, RateLimitBucket
from tests.factories import ProductFactory, StoreFactory, VariantFactory


@pytest.fixture(autouse=True)
def email_in_memory(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture
def woo(org):
    return StoreFactory(organization=org, name="Woo", platform="woocommerce")


@pytest.fixture
def shop(org):
    return StoreFactory(organization=org, name="Shop", platform="shopify", rate_plan="standard")


@pytest.fixture
def catalog(org, woo, shop):
    """Tent (variable, 2 variants) and Mug on both stores; Lamp on Woo only; Sock in no store."""
    tent = ProductFactory(organization=org, title="Alpine Tent", sku="TENT", kind="variable")
    VariantFactory(product=tent, sku="TENT-RED", price=Decimal("100.00"), position=1)
    VariantFactory(product=tent, sku="TENT-BLUE", price=Decimal("24.50"), position=2)
    mug = ProductFactory(organization=org, title="Camp Mug", sku="MUG")
    VariantFactory(product=mug, sku="MUG-1", price=Decimal("12.00"))
    lamp = ProductFactory(organization=org, title="Head Lamp", sku="LAMP")
    VariantFactory(product=lamp, sku="LAMP-1", price=Decimal("30.00"))
    sock = ProductFactory(organization=org, title="Wool Sock", sku="SOCK")
    VariantFactory(product=sock, sku="SOCK-1", price=Decimal("9.00"))
    for store, products in ((woo, (tent, mug, lamp)), (shop, (tent, mug))):
        for product in products:
            Listing.objects.create(organization=org, store=store, product=product, external_id=f"{store.pk}-{product.pk}")
    return {"tent": tent, "mug": mug, "lamp": lamp, "sock": sock}


def everything(org):
    return Product.objects.filter(organization=org)


def prices(*skus):
    return [Variant.objects.get(sku=s).price for s in skus]


def price_op(value, direction="down", mode="percent", rounding=Rounding.NONE, compare_at="keep"):
    return Operation(Kind.PRICE, mode=mode, direction=direction, value=Decimal(value), rounding=rounding, compare_at=compare_at)


# ---- prices -------------------------------------------------------------------


def test_round_price_rules_are_exact():
    assert bulk.round_price(Decimal("17.50"), Rounding.NINETY_NINE) == Decimal("17.99")
    assert bulk.round_price(Decimal("18.00"), Rounding.NINETY_NINE) == Decimal("17.99")
    assert bulk.round_price(Decimal("17.43"), Rounding.NINETY_FIVE) == Decimal("16.95")
    assert bulk.round_price(Decimal("17.50"), Rounding.WHOLE) == Decimal("18.00")
    assert bulk.round_price(Decimal("17.52"), Rounding.STEP_05) == Decimal("17.50")
    assert bulk.round_price(Decimal("17.525"), Rounding.STEP_05) == Decimal("17.55")
    assert bulk.round_price(Decimal("10.005"), Rounding.NONE) == Decimal("10.01")


def test_percent_cut_with_99_rounding_is_exact_and_shows_sale(org, operator, catalog):
    tent = Product.objects.filter(pk=catalog["tent"].pk)
    result = bulk.apply(org, tent, price_op("10", rounding=Rounding.NINETY_NINE, compare_at="sale"), operator)
    assert isinstance(result, bulk.BulkResult)
    # 100.00 × 0.9 = 90.00 → 89.99; 24.50 × 0.9 = 22.05 → 21.99 (nearest .99)
    assert prices("TENT-RED", "TENT-BLUE") == [Decimal("89.99"), Decimal("21.99")]
    assert Variant.objects.get(sku="TENT-RED").compare_at_price == Decimal("100.00")
    assert (result.products_changed, result.variants_changed) == (1, 2)
    assert Event.objects.filter(topic="product.bulk_changed").count() == 1


def test_amount_raise(org, operator, catalog):
    result = bulk.apply(org, everything(org), price_op("2.50", direction="up", mode="amount"), operator)
    assert prices("TENT-RED", "TENT-BLUE", "MUG-1", "SOCK-1") == [
        Decimal("102.50"), Decimal("27.00"), Decimal("14.50"), Decimal("11.50")
    ]
    assert result.products_changed == 4
    assert Variant.objects.get(sku="MUG-1").compare_at_price is None


def test_refuses_a_price_at_or_below_zero_naming_the_sku_and_writes_nothing(org, operator, catalog):
    with pytest.raises(BulkError) as exc:
        bulk.apply(org, everything(org), price_op("12", mode="amount"), operator)
    text = " ".join(exc.value.messages)
    assert "MUG-1" in text and "Camp Mug" in text and "SOCK-1" in text
    assert prices("TENT-RED", "MUG-1", "LAMP-1") == [Decimal("100.00"), Decimal("12.00"), Decimal("30.00")]
    assert not Job.objects.exists() and not ApprovalRequest.objects.exists()


# ---- preview -------------------------------------------------------------------


def test_preview_counts_and_call_costs_and_writes_nothing(org, catalog, woo, shop, django_assert_max_num_queries):
    counts = lambda: (Job.objects.count(), Event.objects.count(), RateLimitBucket.objects.count(),  # noqa: E731
                      ApprovalRequest.objects.count(), list(Variant.objects.order_by("pk").values_list("price", flat=True)))
    before = counts()
    with django_assert_max_num_queries(20):
        preview = bulk.preview(org, everything(org), price_op("10"))
    assert counts() == before
    assert (preview.products, preview.products_changed, preview.variants_changed) == (4, 4, 5)
    assert preview.listings_touched == 5
    assert preview.policy is None and preview.errors == []
    by_store = {c.store.name: c for c in preview.stores}
    # Woo, 3 listings in one chunk: 1 products/batch + the tent's variations GET and batch + 1 re-read = 4
    assert (by_store["Woo"].listings, by_store["Woo"].calls) == (3, 4)
    assert "5 calls/s" in by_store["Woo"].limit
    # Shopify: one productSet per product + one location query (stock is tracked)
    assert (by_store["Shop"].listings, by_store["Shop"].calls) == (2, 3)
    # productSet 50 + read back 2 + 3 per variant: tent 58, mug 55, location 1
    assert by_store["Shop"].units == 58 + 55 + 1
    assert "100 cost points/s" in by_store["Shop"].limit
    assert [s.title for s in preview.samples] == ["Alpine Tent", "Camp Mug", "Head Lamp", "Wool Sock"]
    tent_rows = {(r.scope, r.field): (r.before, r.after) for r in preview.samples[0].rows}
    assert tent_rows[("TENT-RED", "Price")] == ("100.00", "90.00")


def test_preview_counts_listings_in_sync_as_price_writes_alone(org, catalog, woo, shop):
    # listings a sync wrote whole (state in sync, field hashes recorded) take prices alone
    Listing.objects.filter(organization=org).update(state="in_sync", field_hashes={"content": "c", "price": "p"})
    preview = bulk.preview(org, everything(org), price_op("10"))
    by_store = {c.store.name: c for c in preview.stores}
    # Woo: the mug and the lamp in one products/batch, the tent's variations in one variations/batch
    assert by_store["Woo"].actions == {bulk.FIELD_WRITE: 3} and by_store["Woo"].calls == 2
    # Shopify: one productVariantsBulkUpdate each, 10 + 2 + one per variant: tent 14, mug 13 (no productSet)
    assert by_store["Shop"].actions == {bulk.FIELD_WRITE: 2}
    assert (by_store["Shop"].calls, by_store["Shop"].units) == (2, 14 + 13)
    assert "get only their prices written" in by_store["Shop"].basis


def test_preview_leaves_out_a_store_whose_scope_has_no_prices(org, catalog, woo, shop):
    type(shop).objects.filter(pk=shop.pk).update(sync_scope="stock")
    preview = bulk.preview(org, everything(org), price_op("10"))
    assert [c.store.name for c in preview.stores] == ["Woo"]


def test_preview_of_a_scoped_store_costs_field_writes_whatever_the_listing_state(org, catalog, woo, shop):
    type(shop).objects.filter(pk=shop.pk).update(sync_scope="price_stock")  # listings pending, no hashes
    preview = bulk.preview(org, everything(org), price_op("10"))
    by_store = {c.store.name: c for c in preview.stores}
    assert by_store["Shop"].actions == {bulk.FIELD_WRITE: 2} and by_store["Shop"].units == 14 + 13
    assert by_store["Woo"].actions == {"update": 3}  # takes everything: pending listings are written whole


def test_preview_of_a_big_cut_says_it_waits(org, catalog):
    preview = bulk.preview(org, everything(org), price_op("50"))
    assert preview.policy is not None
    assert "drops 50.0%" in preview.policy.reason


# ---- approvals -------------------------------------------------------------------


def test_big_cut_waits_for_one_request_then_applies_and_queues_a_job_per_store(org, operator, manager, catalog, woo, shop):
    approval = bulk.apply(org, everything(org), price_op("50"), operator)
    assert isinstance(approval, ApprovalRequest)
    assert approval.action == ChangeAction.BULK and approval.status == RequestStatus.PENDING
    assert ApprovalRequest.objects.count() == 1
    assert sorted(approval.after["product_ids"]) == sorted(p.pk for p in catalog.values())
    assert approval.after["bulk"]["items"]  # the bulk diff renderer's input
    assert prices("TENT-RED", "MUG-1") == [Decimal("100.00"), Decimal("12.00")]
    assert not Job.objects.exists()

    # The lamp is deleted meanwhile: skipped and reported, the rest applies.
    Product.objects.filter(pk=catalog["lamp"].pk).update(deleted_at="2025-01-01T00:00:00Z")
    decided = decide(approval, membership=manager.memberships.get(), verdict="approve")
    assert decided.status == RequestStatus.APPLIED
    assert prices("TENT-RED", "MUG-1", "LAMP-1") == [Decimal("50.00"), Decimal("6.00"), Decimal("30.00")]
    jobs = {j.store.name: j for j in Job.objects.filter(kind=JobKind.STORE_PUBLISH)}
    assert sorted(jobs["Woo"].params["product_ids"]) == sorted([catalog["tent"].pk, catalog["mug"].pk])
    assert sorted(jobs["Shop"].params["product_ids"]) == sorted([catalog["tent"].pk, catalog["mug"].pk])
    assert jobs["Woo"].priority == Priority.NORMAL
    event = Event.objects.get(topic="product.bulk_changed")
    assert event.payload["skipped"] == [catalog["lamp"].pk]


def test_the_approval_page_renders_the_bulk_summary(client, org, operator, manager, catalog):
    approval = bulk.apply(org, everything(org), price_op("50"), operator)
    client.force_login(manager)
    html = client.get(approval.get_absolute_url()).content.decode()
    assert "Woo" in html and "Alpine Tent" in html


# ---- stock, publish, unpublish, delete ----------------------------------------------


def test_set_stock_queues_high_priority_jobs(org, operator, catalog):
    result = bulk.apply(org, everything(org), Operation(Kind.STOCK, stock=0), operator)
    assert isinstance(result, bulk.BulkResult)
    assert set(Variant.objects.values_list("stock", flat=True)) == {0}
    jobs = Job.objects.filter(kind=JobKind.STORE_PUBLISH)
    assert jobs.count() == 2 and {j.priority for j in jobs} == {Priority.HIGH}


def test_publish_and_unpublish_queue_the_right_jobs(org, operator, catalog, woo, shop):
    everything_ = everything(org)
    bulk.apply(org, everything_, Operation(Kind.PUBLISH, store_ids=(shop.pk,)), operator)
    job = Job.objects.get()
    assert job.store == shop and sorted(job.params["product_ids"]) == sorted(p.pk for p in catalog.values())
    assert "unpublish" not in job.params
    Job.objects.all().delete()
    bulk.apply(org, everything_, Operation(Kind.UNPUBLISH, store_ids=(woo.pk,)), operator)
    job = Job.objects.get()
    assert job.store == woo and job.params["unpublish"] is True
    assert sorted(job.params["product_ids"]) == sorted([catalog["tent"].pk, catalog["mug"].pk, catalog["lamp"].pk])


def test_delete_waits_then_soft_deletes(org, operator, manager, catalog):
    chosen = Product.objects.filter(pk__in=[catalog["mug"].pk, catalog["sock"].pk])
    approval = bulk.apply(org, chosen, Operation(Kind.DELETE), operator)
    assert isinstance(approval, ApprovalRequest)
    decide(approval, membership=manager.memberships.get(), verdict="approve")
    deleted = Product.objects.filter(deleted_at__isnull=False)
    assert set(deleted.values_list("pk", flat=True)) == {catalog["mug"].pk, catalog["sock"].pk}
    assert Product.objects.count() == 4  # rows kept until the stores removed their listings
    assert {j.store.name for j in Job.objects.all()} == {"Woo", "Shop"}


# ---- the page ---------------------------------------------------------------------


def form_data(**extra):
    return {"operation": "price", "mode": "percent", "direction": "down", "value": "10", "rounding": "none",
            "compare_at": "keep", "ids": "", "filter": "", **extra}


def test_whole_filter_selection_uses_the_filter(client, org, operator, catalog):
    client.force_login(operator)
    page = client.get(reverse("products:bulk"), {"q": "Tent", "page": "2"})
    assert page.status_code == 200
    assert page.context["form"]["filter"].value() == "q=Tent"
    preview = client.post(reverse("products:bulk"), form_data(filter="q=Tent", action="preview")).context["preview"]
    assert preview.products == 1
    response = client.post(reverse("products:bulk"), form_data(filter="q=Tent", action="apply", fingerprint=preview.fingerprint))
    assert response.status_code == 302 and response.url == reverse("agents:job_list")
    assert prices("TENT-RED", "MUG-1") == [Decimal("90.00"), Decimal("12.00")]


def test_ids_selection_and_a_second_apply_is_refused(client, org, operator, catalog):
    client.force_login(operator)
    data = form_data(ids=f"{catalog['mug'].pk},{catalog['sock'].pk}", operation="stock", stock="3")
    preview = client.post(reverse("products:bulk"), {**data, "action": "preview"}).context["preview"]
    assert preview.products == 2
    apply = {**data, "action": "apply", "fingerprint": preview.fingerprint}
    assert client.post(reverse("products:bulk"), apply).status_code == 302
    again = client.post(reverse("products:bulk"), apply)
    assert again.status_code == 200 and "changed since the preview" in again.content.decode()
    assert Job.objects.count() == 2


def test_errors_show_next_to_the_field(client, org, operator, catalog):
    client.force_login(operator)
    html = client.post(reverse("products:bulk"), form_data(value="", action="preview")).content.decode()
    assert 'id="id_value_error"' in html and 'aria-invalid="true"' in html


def test_viewer_gets_403_on_apply(client, org, viewer, catalog):
    client.force_login(viewer)
    response = client.post(reverse("products:bulk"), form_data(action="apply", ids=str(catalog["mug"].pk)))
    assert response.status_code == 403
    assert prices("MUG-1") == [Decimal("12.00")]


def test_it_rejects_outsider(client, org, outsider, catalog):
    client.force_login(outsider)
    ids = ",".join(str(p.pk) for p in catalog.values())
    response = client.post(reverse("products:bulk"), form_data(action="apply", ids=ids))
    assert response.status_code == 200 and "Nothing to change" in response.content.decode()
    assert prices("TENT-RED", "MUG-1") == [Decimal("100.00"), Decimal("12.00")]
    assert not Job.objects.exists()
    other = outsider.memberships.get().organization
    with pytest.raises(BulkError):
        bulk.apply(other, everything(org), price_op("10"), outsider)


def test_rounding_follows_the_direction_of_the_change():
    up = price_op("2", direction="up", rounding=Rounding.NINETY_NINE)
    assert bulk.new_price(Decimal("15.00"), up) == Decimal("15.99")  # 15.30 → nearest 14.99 would cut it
    assert bulk.rounded_past(Decimal("15.00"), up)
    assert bulk.new_price(Decimal("14.99"), up) == Decimal("15.99")  # 15.29 → 14.99 would keep it
    assert bulk.new_price(Decimal("15.80"), up) == Decimal("15.99") and not bulk.rounded_past(Decimal("15.80"), up)
    down = price_op("2", rounding=Rounding.WHOLE)
    assert bulk.new_price(Decimal("10.00"), down) == Decimal("9.00")  # 9.80 → nearest 10.00 would keep it
    assert bulk.new_price(Decimal("17.52"), price_op("0.1", direction="up", rounding=Rounding.STEP_05)) == Decimal("17.55")


def test_the_preview_warns_when_rounding_went_past_the_nearest_price(org, operator):
    from products.models import Product

    cap = ProductFactory(organization=org, title="Wool Cap", sku="CAP")
    VariantFactory(product=cap, sku="CAP-1", price=Decimal("15.00"))
    preview = bulk.preview(org, Product.objects.filter(pk=cap.pk), price_op("2", direction="up",
                                                                            rounding=Rounding.NINETY_NINE))
    assert preview.notes == ["1 price goes to the next .99 up instead of the nearest, so that rounding does not "
                             "lower or keep a price this change raises: “Wool Cap” (SKU CAP-1): 15.00 → 15.99."]
    bulk.apply(org, Product.objects.filter(pk=cap.pk), price_op("2", direction="up", rounding=Rounding.NINETY_NINE),
               operator)
    assert cap.variants.get().price == Decimal("15.99")
