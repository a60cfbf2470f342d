"""The product starts and a person can log in: live daphne + workers, real chromium."""

import pytest
from playwright.sync_api import expect

from flashfusion.choices import Role
from tests.browser.conftest import login
from tests.conftest import PASSWORD
from tests.factories import MembershipFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_login_page_renders(live_stack, page):
    page.goto(f"{live_stack.url}/login/")

    expect(page.get_by_label("Username")).to_be_visible()
    expect(page.get_by_label("Password")).to_be_visible()
    expect(page.get_by_role("button", name="Log in")).to_be_visible()


def test_logging_in_reaches_the_dashboard(live_stack, page):
    user = MembershipFactory(role=Role.OPERATOR, user__username="smoke-operator").user

    login(page, live_stack.url, user.username, PASSWORD)

    expect(page.get_by_role("heading", level=1, name="Dashboard")).to_be_visible()
