"""The approvals queue as a reviewer meets it in chromium: the "Waiting for me" badge follows new requests live,
and a bulk reject without a comment keeps the ticks and the search, with the error by the comment field."""

import re

import pytest
from playwright.sync_api import expect

from approvals.services import request_delete
from flashfusion.choices import Role
from tests.browser.conftest import login
from tests.conftest import PASSWORD
from tests.factories import MembershipFactory, ProductFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_badge_updates_live_and_a_bulk_reject_needs_a_comment_by_the_field(live_stack, page):
    manager = MembershipFactory(role=Role.MANAGER, user__username="queue-manager").user
    org = manager.memberships.get().organization
    operator = MembershipFactory(role=Role.OPERATOR, organization=org, user__username="queue-operator").user
    request_delete(ProductFactory(organization=org, title="Old tent"), user=operator)

    login(page, live_stack.url, manager.username, PASSWORD)
    page.goto(f"{live_stack.url}/approvals/?q=old")
    badge = page.locator("#waiting-for-me-count")
    expect(badge).to_have_text(re.compile(r"^1\b"))
    expect(page.locator("body[data-live=connected]")).to_have_count(1)

    # Another user's request is held while the page is open: the badge counts it without a reload.
    request_delete(ProductFactory(organization=org, title="Old lamp"), user=operator)
    expect(badge).to_have_text(re.compile(r"^2\b"), timeout=15_000)

    page.get_by_role("checkbox", name=re.compile("Old tent")).check()
    page.get_by_role("checkbox", name=re.compile("Old lamp")).check()
    page.get_by_role("button", name="Reject selected").click()

    comment = page.get_by_label("Comment for the selected requests")
    expect(comment).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#id_comment_error")).to_have_text(re.compile("Say why you reject them"))
    expect(page.get_by_role("checkbox", name=re.compile("Old tent"))).to_be_checked()
    expect(page.get_by_role("checkbox", name=re.compile("Old lamp"))).to_be_checked()
    expect(page.get_by_label("Search")).to_have_value("old")
    expect(page.locator("main .alert-danger")).to_have_count(0)

    comment.fill("Both still sell")
    page.get_by_role("button", name="Reject selected").click()
    expect(page.get_by_text(re.compile(r"2 done"))).to_be_visible()
    assert set(org.approval_requests.values_list("status", flat=True)) == {"rejected"}
