"""Approval rules: the defaults, what matches, the strictest wins, and the admins' rules page."""

import importlib
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.urls import reverse

from approvals.models import ApprovalRequest, ApprovalRule, AuditEntry
from approvals.rules import ProposedChange, evaluate
from approvals.services import decide, request_delete
from flashfusion.choices import Role
from stores.models import Listing, Store
from tests.approvals.conftest import delete_rule, edit_prices, member, set_rule
from tests.factories import MembershipFactory, OrganizationFactory


def _rules(org):
    return sorted(
        (r.resource_type, r.action, r.price_drop_over_percent, r.approver_role, r.min_approvals, r.expiry_minutes)
        for r in ApprovalRule.objects.filter(organization=org)
    )


def test_a_new_organization_gets_the_two_default_rules(db):
    org = OrganizationFactory(price_drop_approval_percent=Decimal("30"))
    assert _rules(org) == [
        ("product", "delete", None, "manager", 1, 1440),
        ("product", "price_change", Decimal("30.00"), "manager", 1, 1440),
    ]


def test_the_data_migration_seeds_existing_organizations_once(db):
    migration = importlib.import_module("approvals.migrations.0004_seed_default_rules")
    org = OrganizationFactory(price_drop_approval_percent=Decimal("15"))
    ApprovalRule.objects.filter(organization=org).delete()
    editor = SimpleNamespace(connection=SimpleNamespace(alias="default"))
    migration.seed(apps, editor)
    migration.seed(apps, editor)
    assert _rules(org) == [
        ("product", "delete", None, "manager", 1, 1440),
        ("product", "price_change", Decimal("15.00"), "manager", 1, 1440),
    ]


def test_the_strictest_matching_rule_governs(org):
    ApprovalRule.objects.create(organization=org, resource_type="product", action="delete", approver_role="admin", min_approvals=2)
    policy = evaluate(org, ProposedChange("product", ("delete",)))
    assert (policy.approver_role, policy.min_approvals) == ("admin", 2)


def test_disabled_rules_and_other_resources_do_not_match(org):
    set_rule(delete_rule(org), is_enabled=False)
    ApprovalRule.objects.create(organization=org, resource_type="store", action="delete")
    assert evaluate(org, ProposedChange("product", ("delete",))) is None


def test_listings_condition(org, jacket, operator):
    ApprovalRule.objects.create(organization=org, resource_type="product", action="update", listings_touched_over=1)
    stores = [
        Store.objects.create(organization=org, name=f"S{n}", base_url=f"http://127.0.0.1:{9000 + n}", consumer_key="k", consumer_secret="s")
        for n in range(2)
    ]
    Listing.objects.create(organization=org, store=stores[0], product=jacket)
    assert edit_prices(jacket, operator, "100.00", title="In one store") is None
    Listing.objects.create(organization=org, store=stores[1], product=jacket)
    approval = edit_prices(jacket, operator, "100.00", title="In two stores")
    assert "touches 2 store listings (more than 1 need review)" in approval.reason


def test_small_edit_applies_at_once_without_a_matching_rule(org, jacket, operator):
    assert edit_prices(jacket, operator, "95.00", title="Summit Jacket Pro") is None
    jacket.refresh_from_db()
    assert jacket.title == "Summit Jacket Pro"


def test_an_update_rule_without_condition_holds_every_edit(org, jacket, operator):
    ApprovalRule.objects.create(organization=org, resource_type="product", action="update", approver_role="admin")
    approval = edit_prices(jacket, operator, "100.00", title="Renamed")
    assert (approval.action, approval.required_role) == ("update", "admin")
    jacket.refresh_from_db()
    assert jacket.title == "Summit Jacket"


def test_a_variant_rule_holds_a_stock_change(org, jacket, operator):
    ApprovalRule.objects.create(organization=org, resource_type="variant", action="update")
    variants = {v.pk: {"price": v.price, "compare_at_price": None, "stock": 99} for v in jacket.variants.all()}
    from products.services import edit_product

    approval = edit_product(jacket, {"title": jacket.title, "status": jacket.status, "description": jacket.description}, variants, operator)
    assert approval is not None and approval.action == "update"


def test_price_rule_uses_its_own_threshold(org, jacket, operator):
    set_rule(org.approval_rules.get(action="price_change"), price_drop_over_percent=Decimal("50"))
    assert edit_prices(jacket, operator, "60.00") is None
    approval = edit_prices(jacket, operator, "20.00")
    assert "drops 66.7% (more than the 50% allowed without review)" in approval.reason


def test_delete_waits_even_without_any_rule(org, jacket, operator):
    ApprovalRule.objects.filter(organization=org).delete()
    approval = request_delete(jacket, user=operator)
    assert approval.status == "pending" and approval.rule is None and approval.required_role == "manager"


# --- the rules page ---------------------------------------------------------


def _rule_post(**overrides):
    data = {
        "resource_type": "product", "action": "delete", "price_drop_over_percent": "", "listings_touched_over": "",
        "approver_role": "manager", "min_approvals": "1", "expiry_minutes": "1440",
        "notify_on_request": "on", "notify_on_decision": "on", "is_enabled": "on",
        "tiers-TOTAL_FORMS": "2", "tiers-INITIAL_FORMS": "0", "tiers-MIN_NUM_FORMS": "0", "tiers-MAX_NUM_FORMS": "3",
        "tiers-0-after_hours": "", "tiers-0-role": "", "tiers-1-after_hours": "", "tiers-1-role": "",
    }
    data.update(overrides)
    return data


def test_admin_creates_a_rule_with_escalation(client, org, admin_user):
    client.force_login(admin_user)
    response = client.post(
        reverse("approvals:rule_create"),
        _rule_post(action="publish", resource_type="store", listings_touched_over="50", min_approvals="2",
                   approver_role="operator", **{"tiers-0-after_hours": "4", "tiers-0-role": "manager",
                                                "tiers-1-after_hours": "8", "tiers-1-role": "admin"}),
    )
    assert response.status_code == 302
    rule = ApprovalRule.objects.get(organization=org, action="publish")
    assert rule.escalation_plan() == [{"after_hours": 4, "role": "manager"}, {"after_hours": 8, "role": "admin"}]
    entry = AuditEntry.objects.get(organization=org, action="rule_created")
    assert entry.actor_name == admin_user.username and entry.ip_address == "127.0.0.1"


def test_rule_page_shows_errors_next_to_fields(client, org, admin_user):
    client.force_login(admin_user)
    response = client.post(
        reverse("approvals:rule_create"),
        _rule_post(price_drop_over_percent="20", expiry_minutes="120",
                   **{"tiers-0-after_hours": "1", "tiers-0-role": "manager", "tiers-1-after_hours": "3", "tiers-1-role": "admin"}),
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="id_price_drop_over_percent_error"' in html  # a price condition on a delete
    assert not ApprovalRule.objects.filter(organization=org, expiry_minutes=120).exists()

    response = client.post(
        reverse("approvals:rule_create"),
        _rule_post(expiry_minutes="120",
                   **{"tiers-0-after_hours": "1", "tiers-0-role": "manager", "tiers-1-after_hours": "3", "tiers-1-role": "admin"}),
    )
    html = response.content.decode()
    assert 'id="id_tiers-0-role_error"' in html  # managers already decide: a tier must ask a higher role
    assert 'id="id_tiers-1-after_hours_error"' in html  # after the request expired
    assert "aria-invalid" in html


def test_rule_page_refuses_bad_numbers(client, org, admin_user):
    client.force_login(admin_user)
    html = client.post(reverse("approvals:rule_create"), _rule_post(min_approvals="0", expiry_minutes="1")).content.decode()
    assert 'id="id_min_approvals_error"' in html and 'id="id_expiry_minutes_error"' in html


def test_rule_change_held_by_a_rule_about_rules(client, org, admin_user):
    other_admin = MembershipFactory(organization=org, role=Role.ADMIN, user__username="admin2-acme").user
    ApprovalRule.objects.create(organization=org, resource_type="rule", action="update", approver_role="admin")
    rule = delete_rule(org)
    client.force_login(admin_user)
    response = client.post(reverse("approvals:rule_edit", args=[rule.pk]), _rule_post(min_approvals="3"))
    approval = ApprovalRequest.objects.get(resource_type="rule")
    assert response["Location"] == approval.get_absolute_url()
    rule.refresh_from_db()
    assert rule.min_approvals == 1
    html = client.get(approval.get_absolute_url()).content.decode()
    assert "Approvals needed" in html

    decide(approval, membership=member(other_admin), verdict="approve")
    rule.refresh_from_db()
    assert rule.min_approvals == 3
    assert AuditEntry.objects.filter(request=approval, action="rule_updated").exists()


def test_admin_deletes_a_rule(client, org, admin_user):
    rule = delete_rule(org)
    client.force_login(admin_user)
    assert client.post(reverse("approvals:rule_delete", args=[rule.pk])).status_code == 302
    assert not ApprovalRule.objects.filter(pk=rule.pk).exists()
    assert AuditEntry.objects.filter(action="rule_deleted", details__rule_id=rule.pk).exists()


def test_managers_read_rules_but_only_admins_edit(client, org, manager):
    client.force_login(manager)
    html = client.get(reverse("approvals:rules")).content.decode()
    assert "a price drops by more than 20%" in html and "Add a rule" not in html
    assert client.get(reverse("approvals:rule_create")).status_code == 403
    assert client.get(reverse("approvals:rule_edit", args=[delete_rule(org).pk])).status_code == 403


@pytest.mark.parametrize("name", ["approvals:rules", "approvals:audit"])
def test_rule_and_audit_lists_sort_by_every_column(client, org, admin_user, jacket, operator, name):
    request_delete(jacket, user=operator)
    client.force_login(admin_user)
    table = client.get(reverse(name)).context["table"]
    for column in table.columns:
        if column.orderable:
            for prefix in ("", "-"):
                assert client.get(reverse(name), {"sort": prefix + column.name}).status_code == 200, column.name


def test_rule_page_refuses_an_action_the_resource_does_not_have(client, org, admin_user):
    client.force_login(admin_user)
    html = client.post(reverse("approvals:rule_create"), _rule_post(resource_type="rule", action="price_change")).content.decode()
    assert 'id="id_action_error"' in html and "Rules about approval rules can name only: create, update, delete." in html
    assert not ApprovalRule.objects.filter(organization=org, resource_type="rule").exists()


# --- what the rules pages say is checked ------------------------------------


def test_the_rule_pages_say_bulk_changes_are_held_while_one_waits(client, org, operator, admin_user, jacket):
    """A bulk price change held by a product "bulk" rule: the rule's page and the list count it and name the
    process, and nothing says bulk changes are not held (they are, by products.bulk.policy_for)."""
    from products.bulk import Kind, Operation
    from products.bulk import apply as bulk_apply
    from products.models import Product

    rule = ApprovalRule.objects.create(organization=org, resource_type="product", action="bulk",
                                       approver_role="manager", min_approvals=1)
    held = bulk_apply(org, Product.objects.filter(pk=jacket.pk),
                      Operation(kind=Kind.PRICE, direction="up", value=Decimal("2")), operator)
    assert isinstance(held, ApprovalRequest) and held.status == "pending" and held.rule_id == rule.pk
    store_rule = ApprovalRule.objects.create(organization=org, resource_type="store", action="publish",
                                             approver_role="manager", min_approvals=1)

    client.force_login(admin_user)
    page = client.get(reverse("approvals:rule_edit", args=[rule.pk])).content.decode()
    assert "not held by any process" not in page
    assert "1 request waits under this rule now." in page
    coverage = page.split('id="rule-coverage"')[1].split("</div>")[0]
    assert "bulk change (by bulk changes)" in coverage
    assert "price change (by product edits" in coverage
    unchecked = coverage.split('id="rule-coverage-unchecked"')[1]
    assert "store create, update, delete, publish, unpublish, bulk change" in unchecked
    assert "bulk" not in unchecked.split("store")[0]  # product bulk changes are checked
    assert 'id="rule-unchecked"' not in page

    store_page = client.get(reverse("approvals:rule_edit", args=[store_rule.pk])).content.decode()
    assert 'id="rule-unchecked"' in store_page and "No request waits under this rule now." in store_page

    rows = client.get(reverse("approvals:rules")).content.decode()
    bulk_row = rows.split(f'href="{reverse("approvals:rule_edit", args=[rule.pk])}"')[1].split("</tr>")[0]
    assert "bulk changes" in bulk_row and ">1<" in bulk_row
    store_row = rows.split(f'href="{reverse("approvals:rule_edit", args=[store_rule.pk])}"')[1].split("</tr>")[0]
    assert "No process asks this yet" in store_row and ">0<" in store_row
