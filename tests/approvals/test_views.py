"""Approvals pages: who may do what, the queue, the diff renderers, bulk decisions, audit, figures."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from approvals.models import ApprovalRequest, AuditEntry, Decision
from approvals.services import decide, decision_times, request_delete
from products.models import Product
from tests.approvals.conftest import delete_rule, edit_prices, member, set_rule
from tests.factories import ProductFactory, VariantFactory


@pytest.fixture
def waiting(jacket, operator):
    """A delete of the jacket, requested by the operator, waiting for a manager."""
    return request_delete(jacket, user=operator)


def _writes(approval):
    """Every approvals endpoint that changes something or is reserved to managers/admins: (method, url, data)."""
    rule = delete_rule(approval.organization)
    return [
        ("post", reverse("approvals:detail", args=[approval.pk]), {"verdict": "approve"}),
        ("post", reverse("approvals:bulk"), {"verdict": "approve", "select": [approval.pk]}),
        ("get", reverse("approvals:audit"), {}),
        ("get", reverse("approvals:rules"), {}),
        ("get", reverse("approvals:rule_create"), {}),
        ("get", reverse("approvals:rule_edit", args=[rule.pk]), {}),
        ("post", reverse("approvals:rule_delete", args=[rule.pk]), {}),
        ("get", reverse("approvals:settings"), {}),
        ("post", reverse("approvals:settings"), {"email_enabled": "on"}),
    ]


def test_every_approval_view_refuses_a_viewer(client, waiting, viewer):
    client.force_login(viewer)
    for method, url, data in _writes(waiting):
        assert getattr(client, method)(url, data).status_code == 403, url
    waiting.refresh_from_db()
    assert waiting.status == "pending" and not waiting.decisions.exists()
    assert delete_rule(waiting.organization)
    # Viewers read: the queue and the request, without any way to decide.
    assert client.get(reverse("approvals:list")).status_code == 200
    html = client.get(waiting.get_absolute_url()).content.decode()
    assert "Your decision" not in html and 'name="select"' not in client.get(reverse("approvals:list")).content.decode()


def test_it_refuses_an_operator_where_the_rule_needs_a_manager(client, waiting, operator, org):
    other = request_delete(ProductFactory(organization=org), user=ApprovalRequest.objects.get(pk=waiting.pk).requested_by)
    client.force_login(operator)
    assert client.post(waiting.get_absolute_url(), {"verdict": "approve"}).status_code == 403
    assert client.post(waiting.get_absolute_url(), {"verdict": "reject", "comment": "no"}).status_code == 403
    html = client.post(reverse("approvals:bulk"), {"verdict": "approve", "select": [other.pk]}).content.decode()
    assert "needs the manager role or higher" in html
    for name in ("approvals:audit", "approvals:rules", "approvals:settings", "approvals:rule_create"):
        assert client.get(reverse(name)).status_code == 403, name
    assert ApprovalRequest.objects.filter(status="pending").count() == 2
    assert not Decision.objects.exists()
    assert "Your decision" not in client.get(waiting.get_absolute_url()).content.decode()


def test_it_rejects_a_user_of_another_organization_with_404(client, waiting, outsider):
    client.force_login(outsider)
    rule = delete_rule(waiting.organization)
    assert client.get(waiting.get_absolute_url()).status_code == 404
    assert client.post(waiting.get_absolute_url(), {"verdict": "approve"}).status_code == 404
    assert client.post(reverse("approvals:bulk"), {"verdict": "approve", "select": [waiting.pk]}).status_code == 404
    assert client.get(reverse("approvals:rule_edit", args=[rule.pk])).status_code == 404
    assert client.post(reverse("approvals:rule_delete", args=[rule.pk])).status_code == 404
    assert "Summit Jacket" not in client.get(reverse("approvals:list")).content.decode()
    assert "Summit Jacket" not in client.get(reverse("approvals:audit")).content.decode()
    waiting.refresh_from_db()
    assert waiting.status == "pending"


def test_each_reviewers_queue_shows_what_they_may_decide(client, org, operator, manager, admin_user):
    mine = request_delete(ProductFactory(organization=org, title="Operator's delete"), user=operator)
    own = request_delete(ProductFactory(organization=org, title="Manager's own delete"), user=manager)
    set_rule(delete_rule(org), approver_role="admin")
    admins_only = request_delete(ProductFactory(organization=org, title="Admins only"), user=operator)

    client.force_login(manager)
    rows = {r.pk for r in client.get(reverse("approvals:list"), {"queue": "mine"}).context["table"].data}
    assert rows == {mine.pk}
    client.force_login(admin_user)
    rows = {r.pk for r in client.get(reverse("approvals:list"), {"queue": "mine"}).context["table"].data}
    assert rows == {mine.pk, own.pk, admins_only.pk}
    decide(mine, membership=member(admin_user), verdict="reject", comment="no")
    rows = {r.pk for r in client.get(reverse("approvals:list"), {"queue": "mine"}).context["table"].data}
    assert rows == {own.pk, admins_only.pk}
    client.force_login(operator)
    rows = {r.pk for r in client.get(reverse("approvals:list"), {"queue": "requested"}).context["table"].data}
    assert rows == {mine.pk, admins_only.pk}


def test_decision_through_the_page_records_the_address(client, waiting, manager):
    client.force_login(manager)
    response = client.post(waiting.get_absolute_url(), {"verdict": "approve", "comment": "Discontinued"}, REMOTE_ADDR="10.1.2.3")
    assert response.status_code == 302
    waiting.refresh_from_db()
    assert waiting.status == "applied"
    assert waiting.decisions.get().ip_address == "10.1.2.3"
    entries = list(AuditEntry.objects.filter(request=waiting).values_list("action", "actor_name", "ip_address"))
    assert entries == [
        ("applied", "manager-acme", "10.1.2.3"),
        ("approved", "manager-acme", "10.1.2.3"),
        ("requested", "operator-acme", None),
    ]
    html = client.get(waiting.get_absolute_url()).content.decode()
    assert "10.1.2.3" in html and "Audit trail" in html
    assert html.count("Approved and applied") == 1


def test_rejection_without_comment_shows_the_error_next_to_the_field(client, waiting, manager):
    client.force_login(manager)
    html = client.post(waiting.get_absolute_url(), {"verdict": "reject", "comment": ""}).content.decode()
    assert 'id="id_comment_error"' in html
    waiting.refresh_from_db()
    assert waiting.status == "pending"


def test_self_approval_through_the_page_is_refused(client, jacket, manager):
    approval = request_delete(jacket, user=manager)
    client.force_login(manager)
    html = client.get(approval.get_absolute_url()).content.decode()
    assert 'value="approve" class="btn btn-success" disabled' in html
    response = client.post(approval.get_absolute_url(), {"verdict": "approve"}, follow=True)
    assert "cannot approve your own request" in response.content.decode()
    approval.refresh_from_db()
    assert approval.status == "pending"


# --- diffs -------------------------------------------------------------------


def test_description_changes_are_highlighted_word_by_word_and_escaped(client, jacket, operator, manager):
    set_rule(jacket.organization.approval_rules.get(action="price_change"), price_drop_over_percent=Decimal("10"))
    approval = edit_prices(jacket, operator, "60.00", description="Warm and <b>cheap</b> shell.")
    client.force_login(manager)
    html = client.get(approval.get_absolute_url()).content.decode()
    assert '<del class="diff-del">light</del>' in html
    assert '<ins class="diff-ins">&lt;b&gt;cheap&lt;/b&gt;</ins>' in html
    assert "<b>cheap</b>" not in html
    assert "−40.0%" in html


def _hand_made(org, user, *, before, after, action="update", title="Summit Jacket", product=None):
    return ApprovalRequest.objects.create(
        organization=org, action=action, product=product, product_title=title, before=before, after=after,
        reason="Made by hand for the test", requested_by=user,
    )


def test_variants_added_removed_changed_and_images(client, org, jacket, operator, manager):
    before = jacket.snapshot()
    after = jacket.snapshot()
    after["variants"][0]["price"] = "80.00"
    removed = after["variants"].pop(1)
    after["variants"].append({**removed, "sku": "JKT-XL", "price": "120.00"})
    before["images"] = ["https://img.example/a.jpg", "https://img.example/b.jpg"]
    after["images"] = ["https://img.example/b.jpg", "https://img.example/c.jpg", "javascript:alert(1)"]
    approval = _hand_made(org, operator, before=before, after=after, product=jacket)
    client.force_login(manager)
    response = client.get(approval.get_absolute_url())
    html = response.content.decode()
    assert response.context["review"]["variants"] == {"added": ["JKT-XL"], "removed": ["JKT-L"], "changed": ["JKT-M"], "unchanged": 0}
    assert "1 added" in html and "1 removed" in html and "1 changed" in html
    assert "−20.0%" in html
    states = {(i.url, i.state) for i in response.context["review"]["images"]}
    assert states == {
        ("https://img.example/b.jpg", "moved"),
        ("https://img.example/c.jpg", "added"),
        ("https://img.example/a.jpg", "removed"),
        ("javascript:alert(1)", "added"),
    }
    assert 'src="https://img.example/c.jpg"' in html and 'src="javascript:' not in html


def test_three_way_diff_for_a_sync_conflict(client, org, jacket, operator, manager):
    synced = jacket.snapshot()
    catalog = jacket.snapshot()
    catalog["title"] = "Summit Jacket (catalog)"
    catalog["variants"][0]["price"] = "90.00"
    store = jacket.snapshot()
    store["title"] = "Summit Jacket (store)"
    store["variants"][1]["stock"] = 2
    approval = _hand_made(
        org, operator, before={**catalog, "store_snapshot": store, "synced_snapshot": synced}, after=catalog, product=jacket
    )
    client.force_login(manager)
    response = client.get(approval.get_absolute_url())
    html = response.content.decode()
    assert 'aria-label="Three-way diff: last synced, catalog, store"' in html
    states = {(r.scope, r.field): r.state for r in response.context["review"]["rows"]}
    assert states[("Product", "Title")] == "conflict"
    assert states[("JKT-M", "Price")] == "catalog"
    assert states[("JKT-L", "Stock")] == "store"
    assert states[("Product", "Status")] == "same"
    assert "Last synced" in html and "Changed in store" in html and "Changed in catalog" in html


def test_three_way_diff_without_the_last_synced_version(client, org, jacket, operator, manager):
    store = jacket.snapshot()
    store["title"] = "Changed in the shop"
    approval = _hand_made(org, operator, before={**jacket.snapshot(), "store_snapshot": store}, after=jacket.snapshot(), product=jacket)
    client.force_login(manager)
    response = client.get(approval.get_absolute_url())
    assert response.context["review"]["has_base"] is False
    assert "The last synced version is unknown" in response.content.decode()


def test_bulk_summary_counts_per_store_and_pages_sample_diffs(client, org, operator, manager):
    items = []
    for n in range(12):
        before = {"title": f"Tent {n}", "variants": [{"sku": f"T{n}", "position": 1, "price": "100.00"}]}
        after = {"title": f"Tent {n}", "variants": [{"sku": f"T{n}", "position": 1, "price": "80.00"}]}
        items.append({"store": "Woo" if n < 8 else "Shopify", "action": "update" if n % 4 else "delete",
                      "title": f"Tent {n}", "before": before, "after": after})
    approval = _hand_made(org, operator, before={}, after={"bulk": {"items": items}}, action="bulk", title="Spring sale")
    # A store bulk push: nothing executes those yet (product bulk changes run through products.bulk).
    ApprovalRequest.objects.filter(pk=approval.pk).update(resource_type="store")
    approval.refresh_from_db()
    client.force_login(manager)
    response = client.get(approval.get_absolute_url())
    bulk = response.context["review"]["bulk"]
    assert bulk.total == 12
    assert [(s["store"], s["counts"]) for s in bulk.stores] == [
        ("Woo", {"delete": 2, "update": 6}),
        ("Shopify", {"delete": 1, "update": 3}),
    ]
    html = response.content.decode()
    assert "Sample diffs, 1–5 of 12" in html and "−20.0%" in html
    html = client.get(approval.get_absolute_url(), {"page": 3}).content.decode()
    assert "Sample diffs, 11–12 of 12" in html and "Tent 11" in html
    # Nothing runs store bulk pushes yet: they can be read and rejected, never approved blindly.
    assert "can only be rejected" in html and 'value="approve" class="btn btn-success" disabled' in html
    with pytest.raises(ValidationError, match="can only be rejected"):
        decide(approval, membership=member(manager), verdict="approve")
    decide(approval, membership=member(manager), verdict="reject", comment="Too broad")
    assert ApprovalRequest.objects.get(pk=approval.pk).status == "rejected"


# --- bulk decisions ----------------------------------------------------------------


def test_bulk_approve_reports_a_result_per_item(client, org, operator, manager):
    first = request_delete(ProductFactory(organization=org, title="Old tent"), user=operator)
    own = request_delete(ProductFactory(organization=org, title="Manager's own"), user=manager)
    set_rule(delete_rule(org), min_approvals=2)
    quorum = request_delete(ProductFactory(organization=org, title="Needs two"), user=operator)
    client.force_login(manager)
    response = client.post(reverse("approvals:bulk"), {"verdict": "approve", "select": [first.pk, own.pk, quorum.pk]})
    html = response.content.decode()
    results = {r.approval.pk: (r.ok, r.message) for r in response.context["results"]}
    assert results[first.pk] == (True, "Approved and applied")
    assert results[own.pk][0] is False and "own request" in results[own.pk][1]
    assert results[quorum.pk] == (True, "Approval recorded: 1 of 2")
    assert "2 done, 1 refused" in html
    assert not Product.objects.live().filter(title="Old tent").exists()
    assert Product.objects.live().filter(title="Manager's own").exists()


def test_bulk_reject_needs_a_comment(client, waiting, manager):
    client.force_login(manager)
    response = client.post(reverse("approvals:bulk"), {"verdict": "reject", "select": [waiting.pk]}, follow=True)
    assert "Say why you reject them" in response.content.decode()
    waiting.refresh_from_db()
    assert waiting.status == "pending"
    client.post(reverse("approvals:bulk"), {"verdict": "reject", "select": [waiting.pk], "comment": "Keep it"})
    waiting.refresh_from_db()
    assert waiting.status == "rejected"


def test_a_bulk_reject_without_comment_keeps_ticks_and_filter_and_puts_the_error_by_the_comment(
        client, org, operator, manager):
    tent = request_delete(ProductFactory(organization=org, title="Old tent"), user=operator)
    lamp = request_delete(ProductFactory(organization=org, title="Old lamp"), user=operator)
    mug = request_delete(ProductFactory(organization=org, title="Old mug"), user=operator)
    client.force_login(manager)
    listing = client.get(reverse("approvals:list"), {"q": "old", "sort": "id"}).content.decode()
    form_tag = listing.split('id="bulk-form"')[0].rsplit("<form", 1)[1]
    action = form_tag.split('action="')[1].split('"')[0].replace("&amp;", "&")
    assert action == reverse("approvals:bulk") + "?q=old&sort=id"

    response = client.post(action, {"verdict": "reject", "select": [tent.pk, mug.pk], "comment": "  "})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'class="alert' not in html.split('id="bulk-form"')[0].split("<main")[1]  # no banner above the page
    comment = html.split('name="comment"')[1].split("</textarea>")[0]
    assert 'aria-invalid="true"' in comment and 'aria-describedby="id_comment_error bulk-help"' in comment
    error = html.split('id="id_comment_error"')[1].split("</div>")[0]
    assert "Say why you reject them" in error
    assert f'value="{tent.pk}" form="bulk-form" checked' in html and f'value="{mug.pk}" form="bulk-form" checked' in html
    assert f'value="{lamp.pk}" form="bulk-form" aria-label' in html  # not ticked
    assert 'value="old"' in html  # the filter form keeps the search
    assert [a.pk for a in response.context["table"].data] == [tent.pk, lamp.pk, mug.pk]
    assert ApprovalRequest.objects.filter(status="pending").count() == 3


def test_a_bulk_decision_without_selection_says_so_in_the_form(client, waiting, manager):
    client.force_login(manager)
    response = client.post(reverse("approvals:bulk") + "?status=pending", {"verdict": "approve"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Select at least one request" in html.split('id="bulk-select-error"')[1].split("</div>")[0]
    assert response.context["filterset"].form.cleaned_data["status"] == "pending"


def test_the_waiting_for_me_count_comes_with_every_live_reload_of_the_table(client, org, operator, manager):
    """The live "approvals-changed" signal makes the table reload itself (htmx GET of the same URL); that
    answer carries the reviewer's own count out of band, so the tab's badge follows."""
    client.force_login(manager)
    page = client.get(reverse("approvals:list")).content.decode()
    assert '<span id="waiting-for-me-count" class="badge text-bg-light border">0<' in page
    request_delete(ProductFactory(organization=org), user=operator)
    request_delete(ProductFactory(organization=org), user=manager)  # the manager's own: not for them to decide
    reload = client.get(reverse("approvals:list"), {"queue": "requested"}, HTTP_HX_REQUEST="true").content.decode()
    badge = reload.split('id="waiting-for-me-count"')[1].split("</span></span>")[0]
    assert 'hx-swap-oob="true"' in badge and ">1<" in badge
    assert 'id="object-table"' in reload
    client.force_login(operator)  # an operator may not decide deletes: nothing waits for them
    reload = client.get(reverse("approvals:list"), HTTP_HX_REQUEST="true").content.decode()
    assert ">0<" in reload.split('id="waiting-for-me-count"')[1].split("</span></span>")[0]


def test_list_shows_checkboxes_only_where_the_reviewer_may_approve(client, org, operator, manager):
    theirs = request_delete(ProductFactory(organization=org), user=operator)
    own = request_delete(ProductFactory(organization=org), user=manager)
    client.force_login(manager)
    html = client.get(reverse("approvals:list")).content.decode()
    assert f'name="select" value="{theirs.pk}"' in html
    assert f'name="select" value="{own.pk}"' not in html
    assert "Waiting for me" in html


# --- audit page and figures ---------------------------------------------------------


def test_audit_page_searches_and_filters(client, org, jacket, operator, manager):
    approval = request_delete(jacket, user=operator)
    decide(approval, membership=member(manager), verdict="reject", comment="Bestseller, keep it", ip_address="192.0.2.7")
    client.force_login(manager)
    table = client.get(reverse("approvals:audit"), {"q": "bestseller"}).context["table"]
    assert [e.action for e in table.data] == ["rejected"]
    table = client.get(reverse("approvals:audit"), {"action": "requested"}).context["table"]
    assert [e.actor_name for e in table.data] == ["operator-acme"]
    table = client.get(reverse("approvals:audit"), {"request": approval.pk, "q": "192.0.2"}).context["table"]
    assert len(table.data) == 1
    html = client.get(reverse("approvals:audit")).content.decode()
    assert "192.0.2.7" in html and f"#{approval.pk}" in html


def test_time_to_decision_per_rule_and_role(client, org, operator, manager, admin_user):
    now = timezone.now()
    for minutes, reviewer in [(10, manager), (30, manager), (50, admin_user), (600, admin_user)]:
        approval = request_delete(ProductFactory(organization=org), user=operator)
        ApprovalRequest.objects.filter(pk=approval.pk).update(created_at=now - timedelta(minutes=minutes))
        approval.refresh_from_db()
        decide(approval, membership=member(reviewer), verdict="approve")
    times = decision_times(org)
    (by_rule,) = times["by_rule"]
    assert (by_rule.label, by_rule.count, by_rule.p50 // 60, by_rule.p95 // 60) == ("Delete of a product", 4, 30, 600)
    by_role = {f.label: (f.count, f.p50 // 60, f.p95 // 60) for f in times["by_role"]}
    assert by_role == {"Manager": (2, 10, 30), "Admin": (2, 50, 600)}
    client.force_login(manager)
    html = client.get(reverse("approvals:list")).content.decode()
    assert "Time to decision" in html and "10 h" in html and "30 min" in html


def test_list_query_budget_with_many_requests(client, org, operator, manager, admin_user, django_assert_max_num_queries):
    for n in range(25):
        product = ProductFactory(organization=org)
        VariantFactory(product=product)
        approval = request_delete(product, user=operator)
        if n % 3 == 0:
            decide(approval, membership=member(manager), verdict="reject", comment="no")
    client.force_login(admin_user)
    with django_assert_max_num_queries(14):
        client.get(reverse("approvals:list"))
    with django_assert_max_num_queries(12):
        client.get(reverse("approvals:audit"))
    with django_assert_max_num_queries(12):
        assert client.get(reverse("approvals:rules")).status_code == 200
    with django_assert_max_num_queries(12):
        assert client.get(reverse("approvals:rule_edit", args=[delete_rule(org).pk])).status_code == 200
