"""flashfusion.views.ObjectListView through the jobs list: its htmx fragments kept while nothing changed."""

import re

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from agents.models import Job
from agents.services import enqueue
from tests.factories import StoreFactory

LIST = reverse("agents:job_list")
HTMX = {"HTTP_HX_REQUEST": "true"}


def rows(response) -> list[str]:
    return re.findall(r'id="job-row-(\d+)"', response.content.decode())


def delay(response) -> int:
    return int(re.search(r'jobs-changed from:body delay:(\d+)ms', response.content.decode()).group(1))


def test_pages_reloading_one_view_share_one_render_until_an_event(client, org, viewer, operator):
    store = StoreFactory(organization=org)
    first_job = enqueue(org, "store.health_check", store=store)
    client.force_login(viewer)
    fresh = client.get(LIST, {"status": "queued"}, **HTMX)
    with CaptureQueriesContext(connection) as queries:
        again = client.get(LIST, {"status": "queued"}, **HTMX)
    assert rows(again) == rows(fresh) == [str(first_job.pk)]
    assert not [q for q in queries.captured_queries if 'FROM "agents_job"' in q["sql"]]  # not rendered again
    assert 250 <= delay(again) <= 1250 and "8642097531" not in again.content.decode()

    # A change writes an event: the next reload renders again and shows it.
    second_job = enqueue(org, "store.pull", store=store)
    assert rows(client.get(LIST, {"status": "queued"}, **HTMX)) == [str(second_job.pk), str(first_job.pk)]

    # Another role gets its own render (an operator sees "Retry all that match"), the full page is never kept.
    client.force_login(operator)
    assert "Retry all that match" in client.get(LIST, {"status": "queued"}, **HTMX).content.decode()
    Job.objects.filter(pk=second_job.pk).update(priority=30)  # changed without an event
    assert '<span class="badge text-bg-danger">Critical</span>' in client.get(LIST, {"status": "queued"}).content.decode()


def test_each_page_waits_its_own_time_before_reloading(client, org, viewer):
    client.force_login(viewer)
    delays = {delay(client.get(LIST, **HTMX)) for _ in range(12)}
    assert len(delays) > 1 and all(250 <= value <= 1250 for value in delays)
