"""Decisions under rules: quorum, roles, self-approval, stale dismissal, expiry, escalation, exactly once."""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.utils import timezone

from agents.models import Job
from approvals.models import ApprovalRequest, AuditEntry, Decision
from approvals.services import decide, escalate_due, expire_due, request_delete, run_due, sweep_stale
from flashfusion.models import Event
from products.models import Product
from stores.models import Listing, Store
from tests.approvals.conftest import delete_rule, edit_prices, member, set_rule
from tests.factories import ProductFactory, VariantFactory


def test_quorum_of_two_managers_applies_on_the_second_approval(jacket, operator, manager, manager2):
    set_rule(delete_rule(jacket.organization), min_approvals=2)
    approval = request_delete(jacket, user=operator)
    assert (approval.min_approvals, approval.required_role) == (2, "manager")

    decide(approval, membership=member(manager), verdict="approve", comment="ok by me")
    approval.refresh_from_db()
    assert approval.status == "pending"
    assert approval.approval_count() == 1
    assert Product.objects.live().filter(pk=jacket.pk).exists()

    decide(approval, membership=member(manager2), verdict="approve")
    approval.refresh_from_db()
    assert approval.status == "applied"
    assert not Product.objects.live().filter(pk=jacket.pk).exists()
    assert [d.role for d in approval.decisions.all()] == ["manager", "manager"]


def test_quorum_counts_each_reviewer_once(jacket, operator, manager):
    set_rule(delete_rule(jacket.organization), min_approvals=2)
    approval = request_delete(jacket, user=operator)
    decide(approval, membership=member(manager), verdict="approve")
    with pytest.raises(ValidationError, match="counts once"):
        decide(approval, membership=member(manager), verdict="approve")
    approval.refresh_from_db()
    assert approval.status == "pending"
    assert Decision.objects.filter(request=approval).count() == 1


def test_quorum_needs_the_rules_role(jacket, operator, manager, admin_user):
    """An admin-only rule with a quorum of 2: a manager is refused and does not count."""
    set_rule(delete_rule(jacket.organization), approver_role="admin", min_approvals=2)
    approval = request_delete(jacket, user=operator)
    with pytest.raises(PermissionDenied):
        decide(approval, membership=member(manager), verdict="approve")
    decide(approval, membership=member(admin_user), verdict="approve")
    approval.refresh_from_db()
    assert approval.status == "pending" and approval.approval_count() == 1


def test_operator_may_approve_when_the_rule_allows_operators(jacket, viewer, operator, manager):
    set_rule(delete_rule(jacket.organization), approver_role="operator")
    approval = request_delete(jacket, user=manager)
    with pytest.raises(PermissionDenied):
        decide(approval, membership=member(viewer), verdict="approve")
    decide(approval, membership=member(operator), verdict="approve")
    assert ApprovalRequest.objects.get(pk=approval.pk).status == "applied"


def test_self_approval_is_refused_even_with_the_role(jacket, manager):
    approval = request_delete(jacket, user=manager)
    with pytest.raises(PermissionDenied, match="your own request"):
        decide(approval, membership=member(manager), verdict="approve")
    assert not Decision.objects.filter(request=approval).exists()
    # Withdrawing it by rejecting stays possible.
    decide(approval, membership=member(manager), verdict="reject", comment="changed my mind")
    assert ApprovalRequest.objects.get(pk=approval.pk).status == "rejected"


def test_a_newer_request_for_the_product_makes_the_older_stale_and_dismisses_its_approvals(jacket, org, operator, manager, manager2):
    rule = org.approval_rules.get(action="price_change")
    set_rule(rule, min_approvals=2)
    first = edit_prices(jacket, operator, "60.00")
    decide(first, membership=member(manager), verdict="approve")

    second = edit_prices(jacket, operator, "50.00")  # the change is edited while it waits
    first.refresh_from_db()
    assert first.status == "stale" and "Replaced by request" in first.closed_reason
    assert first.decisions.get().dismissed_at is not None
    assert second.status == "pending" and second.approval_count() == 0
    with pytest.raises(ValidationError):
        decide(first, membership=member(manager2), verdict="approve")
    assert {v.price for v in jacket.variants.all()} == {Decimal("100.00")}
    assert AuditEntry.objects.filter(request=first, action="dismissed").exists()


def test_a_product_change_underneath_dismisses_approvals_and_is_never_applied(jacket, org, operator, manager, manager2, admin_user):
    set_rule(org.approval_rules.get(action="price_change"), min_approvals=2)
    approval = edit_prices(jacket, operator, "60.00")
    decide(approval, membership=member(manager), verdict="approve")
    jacket.variants.filter(sku="JKT-L").update(stock=3)  # e.g. an import moved the product

    with pytest.raises(ValidationError, match="stale"):
        decide(approval, membership=member(manager2), verdict="approve")
    approval.refresh_from_db()
    assert approval.status == "stale"
    assert approval.decisions.get(reviewer=manager).dismissed_at is not None
    assert not approval.decisions.filter(reviewer=manager2).exists()
    assert {v.price for v in jacket.variants.all()} == {Decimal("100.00")}


def test_the_schedule_marks_requests_stale_when_the_product_moved(jacket, operator):
    approval = request_delete(jacket, user=operator)
    Product.objects.filter(pk=jacket.pk).update(title="Summit Jacket 2")
    assert sweep_stale() == 1
    approval.refresh_from_db()
    assert approval.status == "stale"


def test_expired_request_is_never_applied(jacket, operator, manager):
    set_rule(delete_rule(jacket.organization), expiry_minutes=60)
    approval = request_delete(jacket, user=operator)
    assert approval.expires_at == pytest.approx(approval.created_at + timedelta(minutes=60), abs=timedelta(seconds=5))
    later = timezone.now() + timedelta(minutes=61)

    assert expire_due(timezone.now()) == 0
    assert expire_due(later) == 1
    approval.refresh_from_db()
    assert approval.status == "expired"
    with pytest.raises(ValidationError):
        decide(approval, membership=member(manager), verdict="approve")
    assert Product.objects.live().filter(pk=jacket.pk).exists()
    assert AuditEntry.objects.filter(request=approval, action="expired", actor_name="scheduler").exists()


def test_a_decision_after_the_deadline_expires_the_request_instead(jacket, operator, manager):
    approval = request_delete(jacket, user=operator)
    with pytest.raises(ValidationError, match="expired"):
        decide(approval, membership=member(manager), verdict="approve", now=timezone.now() + timedelta(days=2))
    approval.refresh_from_db()
    assert approval.status == "expired"
    assert not approval.decisions.exists()
    assert Product.objects.live().filter(pk=jacket.pk).exists()


def test_escalation_tier_is_reached_and_the_next_role_is_asked_and_notified(
    jacket, org, operator, manager, admin_user, django_capture_on_commit_callbacks
):
    admin_user.email = "ada@example.com"
    admin_user.save()
    manager.email = "max@example.com"
    manager.save()
    set_rule(delete_rule(org), tiers=[(4, "admin")])
    approval = request_delete(jacket, user=operator)
    assert approval.next_escalation_at is not None
    mail.outbox.clear()

    assert escalate_due(timezone.now() + timedelta(hours=3)) == 0
    with django_capture_on_commit_callbacks(execute=True):
        assert escalate_due(timezone.now() + timedelta(hours=4, minutes=1)) == 1
    approval.refresh_from_db()
    assert (approval.required_role, approval.escalation_level, approval.next_escalation_at) == ("admin", 1, None)
    assert approval.initial_role == "manager"
    # The next role is notified: by email and in the activity feed.
    assert [m.to for m in mail.outbox] == [["ada@example.com"]]
    assert "Escalated to admins" in mail.outbox[0].subject
    assert Event.objects.filter(topic="approval.escalated", payload__approval_id=approval.pk).exists()
    assert AuditEntry.objects.filter(request=approval, action="escalated").exists()
    # Now only admins decide; a second pass escalates nothing more.
    with pytest.raises(PermissionDenied):
        decide(approval, membership=member(manager), verdict="approve")
    assert escalate_due(timezone.now() + timedelta(hours=10)) == 0
    decide(approval, membership=member(admin_user), verdict="approve")
    assert ApprovalRequest.objects.get(pk=approval.pk).status == "applied"


def test_escalation_jumps_to_the_last_due_tier(jacket, org, operator):
    set_rule(delete_rule(org), approver_role="operator", tiers=[(1, "manager"), (2, "admin")])
    approval = request_delete(jacket, user=operator)
    assert escalate_due(timezone.now() + timedelta(hours=3)) == 1
    approval.refresh_from_db()
    assert (approval.required_role, approval.escalation_level) == ("admin", 2)


def test_run_due_is_what_the_schedule_calls(jacket, operator):
    from django_q.models import Schedule

    from approvals.services import SCHEDULE_FUNC, SCHEDULE_NAME

    schedule = Schedule.objects.get(name=SCHEDULE_NAME)
    assert (schedule.func, schedule.schedule_type, schedule.minutes, schedule.repeats) == (SCHEDULE_FUNC, "I", 1, -1)
    request_delete(jacket, user=operator)
    counts = run_due(timezone.now() + timedelta(days=2))
    assert counts == {"expired": 1, "escalated": 0, "stale": 0, "webhooks": 0}


def test_rejected_request_is_never_applied(jacket, operator, manager, manager2):
    approval = request_delete(jacket, user=operator)
    decide(approval, membership=member(manager), verdict="reject", comment="still selling")
    with pytest.raises(ValidationError, match="already decided"):
        decide(approval, membership=member(manager2), verdict="approve")
    assert Product.objects.live().filter(pk=jacket.pk).exists()


def test_applied_change_is_exactly_the_approved_one(jacket, operator, manager):
    approval = edit_prices(jacket, operator, "60.00", description="Warm, light and cheap.")
    decide(approval, membership=member(manager), verdict="approve")
    jacket.refresh_from_db()
    assert jacket.snapshot() == approval.after


def _approve_concurrently(approval_pk, users):
    """Each user approves in its own thread (own connection) after a shared barrier; returns outcomes."""
    barrier = threading.Barrier(len(users))
    outcomes = []

    def approve(user):
        try:
            barrier.wait(timeout=10)
            decide(ApprovalRequest.objects.get(pk=approval_pk), membership=user.memberships.get(), verdict="approve")
            outcomes.append("ok")
        except ValidationError:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=approve, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return outcomes


@pytest.mark.django_db(transaction=True)
def test_two_reviewers_approving_at_once_under_a_quorum_of_two_apply_once(org, operator, manager, manager2):
    product = ProductFactory(organization=org)
    VariantFactory(product=product)
    store = Store.objects.create(organization=org, name="Woo", base_url="http://127.0.0.1:9", consumer_key="ck", consumer_secret="cs")
    Listing.objects.create(organization=org, store=store, product=product)
    set_rule(delete_rule(org), min_approvals=2)
    approval = request_delete(product, user=operator)

    outcomes = _approve_concurrently(approval.pk, [manager, manager2])

    assert outcomes == ["ok", "ok"]
    approval.refresh_from_db()
    assert approval.status == "applied"
    assert Decision.objects.filter(request=approval, verdict="approve").count() == 2
    assert Event.objects.filter(topic="product.deleted", payload__product_id=product.pk).count() == 1
    assert Job.objects.filter(store=store, kind="store.publish").count() == 1
    assert AuditEntry.objects.filter(request=approval, action="applied").count() == 1


@pytest.mark.django_db(transaction=True)
def test_double_click_applies_once(org, operator, manager):
    product = ProductFactory(organization=org)
    VariantFactory(product=product)
    approval = request_delete(product, user=operator)

    outcomes = _approve_concurrently(approval.pk, [manager, manager])

    assert sorted(outcomes) == ["ok", "refused"]
    assert Decision.objects.filter(request=approval).count() == 1
    assert Event.objects.filter(topic="product.deleted", payload__product_id=product.pk).count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_requests_for_one_product_approved_at_once_apply_one_and_stale_the_other(org, operator, manager, manager2):
    """Lock order (product, then request) keeps two deciders on one product from deadlocking."""
    product = ProductFactory(organization=org, title="Contested Tent")
    VariantFactory(product=product, price=Decimal("100.00"))
    delete = request_delete(product, user=operator)
    price = edit_prices(product, operator, "10.00")
    barrier = threading.Barrier(2)
    outcomes = {}

    def approve(user, approval):
        try:
            barrier.wait(timeout=10)
            decide(ApprovalRequest.objects.get(pk=approval.pk), membership=user.memberships.get(), verdict="approve")
            outcomes[approval.action] = "ok"
        except ValidationError:
            outcomes[approval.action] = "refused"
        finally:
            connection.close()

    threads = [threading.Thread(target=approve, args=args) for args in ((manager, delete), (manager2, price))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(outcomes.values()) == ["ok", "refused"]
    statuses = sorted(ApprovalRequest.objects.filter(product=product).values_list("status", flat=True))
    assert statuses == ["applied", "stale"]
