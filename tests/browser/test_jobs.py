"""Dead letters as an operator meets them: the group, "Retry these", the count to confirm, the job running again live."""

import pytest
from playwright.sync_api import expect

from agents.fingerprint import fingerprint
from agents.models import Job
from flashfusion.choices import Role
from stores.models import Store
from tests.browser.conftest import login
from tests.conftest import PASSWORD
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_retry_a_dead_letter_group_and_watch_it_succeed(live_stack, page):
    operator = MembershipFactory(role=Role.OPERATOR, user__username="jobs-operator").user
    org = operator.memberships.get().organization
    store = Store.objects.create(organization=org, name="Emulated Woo", base_url=live_stack.emulator.base_url,
                                 consumer_key="ck_demo", consumer_secret="cs_demo")
    error = "Transient: 503 from the store (attempt 3 of 3)"
    dead = Job.objects.create(
        organization=org, kind="store.health_check", store=store, status="dead", attempts=3, max_attempts=3,
        summary="Health check of Emulated Woo", error=error, error_class="Transient",
        error_fingerprint=fingerprint("store.health_check", "Transient", error),
    )

    login(page, live_stack.url, operator.username, PASSWORD)
    page.goto(f"{live_stack.url}/jobs/dead-letters/")
    expect(page.get_by_text("503 from the store").first).to_be_visible()
    page.get_by_role("link", name="Retry these 1…").click()
    expect(page.get_by_text("1 job will be retried").or_(page.get_by_text("1 jobs will be retried"))).to_be_visible()
    page.get_by_role("button", name="Retry 1 job").click()

    page.goto(f"{live_stack.url}/jobs/{dead.pk}/")
    # The health check runs against the emulator and succeeds; the page updates without a reload.
    expect(page.locator("[id^=job-status-]").get_by_text("Succeeded")).to_be_visible(timeout=30_000)
    # The actions follow the job too: a finished job offers no "Cancel".
    expect(page.get_by_role("button", name="Cancel this job")).to_have_count(0)
    expect(page.get_by_role("button", name="Ask it to stop")).to_have_count(0)
    dead.refresh_from_db()
    assert dead.status == "succeeded" and dead.attempts == 4
    assert org.approval_audit.filter(action="jobs_retried").exists()
