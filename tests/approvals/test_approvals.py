"""Approvals, first version: deletes and large price cuts wait for a manager."""

import threading
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.urls import reverse

from approvals.models import ApprovalRequest, Decision
from approvals.services import decide, request_delete
from products.models import Product
from products.services import edit_product
from tests.pages import product_edit_data
from tests.factories import ProductFactory, VariantFactory


@pytest.fixture
def product(org):
    product = ProductFactory(organization=org, title="Summit Jacket", sku="JKT")
    VariantFactory(product=product, sku="JKT-M", price=Decimal("100.00"), position=1)
    VariantFactory(product=product, sku="JKT-L", price=Decimal("100.00"), position=2)
    return product


def _edit_prices(product, user, price):
    variants = {v.pk: {"price": Decimal(price), "compare_at_price": None, "stock": v.stock} for v in product.variants.all()}
    return edit_product(product, {"title": product.title, "status": product.status, "description": ""}, variants, user)


def test_small_price_cut_applies_at_once(product, operator):
    assert _edit_prices(product, operator, "85.00") is None
    assert {v.price for v in product.variants.all()} == {Decimal("85.00")}
    assert not ApprovalRequest.objects.exists()


def test_price_cut_over_the_limit_waits_and_changes_nothing(product, operator):
    approval = _edit_prices(product, operator, "60.00")
    assert approval.action == "price_change"
    assert "40.0%" in approval.reason
    assert {v.price for v in product.variants.all()} == {Decimal("100.00")}


def test_delete_waits_for_review(product, operator):
    approval = request_delete(product, user=operator)
    assert approval.status == "pending"
    assert Product.objects.live().filter(pk=product.pk).exists()


def test_requester_cannot_approve_own_request(product, manager):
    approval = request_delete(product, user=manager)
    with pytest.raises(PermissionDenied):
        decide(approval, membership=manager.memberships.get(), verdict="approve")
    approval.refresh_from_db()
    assert approval.status == "pending"


def test_operator_cannot_decide(product, operator):
    approval = request_delete(product, user=operator)
    with pytest.raises(PermissionDenied):
        decide(approval, membership=operator.memberships.get(), verdict="approve")


def test_approval_applies_the_price_change(product, operator, manager):
    approval = _edit_prices(product, operator, "60.00")
    decide(approval, membership=manager.memberships.get(), verdict="approve", comment="clearance")
    assert {v.price for v in product.variants.all()} == {Decimal("60.00")}
    assert approval.status == "applied"


def test_rejection_needs_a_comment_and_changes_nothing(product, operator, manager):
    approval = request_delete(product, user=operator)
    with pytest.raises(ValidationError):
        decide(approval, membership=manager.memberships.get(), verdict="reject", comment="")
    decide(approval, membership=manager.memberships.get(), verdict="reject", comment="still selling")
    assert Product.objects.live().filter(pk=product.pk).exists()


def test_second_decision_is_refused(product, operator, manager, admin_user):
    approval = request_delete(product, user=operator)
    decide(approval, membership=manager.memberships.get(), verdict="approve")
    with pytest.raises(ValidationError):
        decide(approval, membership=admin_user.memberships.get(), verdict="approve")
    assert Decision.objects.filter(request=approval).count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_approvals_apply_once(org, operator, manager, admin_user):
    product = ProductFactory(organization=org)
    VariantFactory(product=product)
    approval = request_delete(product, user=operator)
    outcomes = []

    def approve(user):
        try:
            decide(ApprovalRequest.objects.get(pk=approval.pk), membership=user.memberships.get(), verdict="approve")
            outcomes.append("applied")
        except ValidationError:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=approve, args=(u,)) for u in (manager, admin_user)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["applied", "refused"]
    assert Decision.objects.filter(request=approval).count() == 1


def test_diff_view_shows_variant_prices(client, product, operator, manager):
    approval = _edit_prices(product, operator, "60.00")
    client.force_login(manager)
    html = client.get(reverse("approvals:detail", args=[approval.pk])).content.decode()
    assert "JKT-M" in html and "100.00" in html and "60.00" in html and "−40.0%" in html


def test_edit_form_creates_request_through_the_page(client, product, operator):
    client.force_login(operator)
    prices = {v.pk: {"price": "10.00", "compare_at_price": "", "stock": "3"} for v in product.variants.all()}
    data = product_edit_data(client, product, variants=prices)
    response = client.post(reverse("products:detail", args=[product.pk]), data)
    approval = ApprovalRequest.objects.get()
    assert response["Location"] == approval.get_absolute_url()


def test_edit_form_shows_error_next_to_field(client, product, operator):
    client.force_login(operator)
    v = product.variants.first()
    data = product_edit_data(client, product, title="", variants={v.pk: {"price": "abc"}})
    html = client.post(reverse("products:detail", args=[product.pk]), data).content.decode()
    assert 'id="id_product-title_error"' in html
    assert 'id="id_variants-0-price_error"' in html
    assert Product.objects.get(pk=product.pk).title == "Summit Jacket"


def test_clearing_a_price_waits_for_review(product, operator):
    from products.services import price_drop_percent

    assert price_drop_percent(Decimal("100"), None) == 100
    assert price_drop_percent(Decimal("100"), Decimal("0")) == 100


def test_request_on_a_product_that_changed_is_marked_stale_not_applied(product, operator, manager, admin_user):
    approval = _edit_prices(product, operator, "60.00")
    _edit_prices(product, admin_user, "95.00")  # a small edit lands meanwhile
    with pytest.raises(ValidationError):
        decide(approval, membership=manager.memberships.get(), verdict="approve")
    approval.refresh_from_db()
    assert approval.status == "stale"
    assert {v.price for v in product.variants.all()} == {Decimal("95.00")}
