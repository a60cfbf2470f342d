"""Error pages in the product's layout, and expected refusals logged as one line (flashfusion.errors)."""

import logging

import pytest
from django.test import Client
from django.urls import path, reverse
from django.views.defaults import server_error

from flashfusion import urls as site_urls
from stores.models import Store


def boom(request):
    raise ZeroDivisionError("a bug in a view")


# The site's own URLs plus one that fails, for the tests marked ``urls``.
urlpatterns = [*site_urls.urlpatterns, path("boom/", boom)]
handler403 = site_urls.handler403
handler404 = site_urls.handler404


@pytest.fixture
def store(org):
    return Store.objects.create(organization=org, name="Northwind", base_url="http://127.0.0.1:9",
                                consumer_key="ck", consumer_secret="cs")


def test_a_403_page_has_the_layout_the_reason_and_a_way_back(client, store, viewer):
    client.force_login(viewer)
    came_from = "http://testserver" + reverse("stores:detail", args=[store.pk])
    response = client.post(reverse("stores:publish", args=[store.pk]), HTTP_REFERER=came_from)
    assert response.status_code == 403
    html = response.content.decode()
    assert 'aria-label="Main navigation"' in html and "bootstrap.min.css" in html
    assert "This needs the operator role or higher." in html.split('id="error-reason"')[1].split("</p>")[0]
    assert f'href="{came_from}"' in html and "Back to the previous page" in html
    assert f'href="{reverse("dashboard:index")}"' in html
    assert "viewer of Acme Outfitters" in html


def test_a_403_page_does_not_link_back_to_another_site(client, store, viewer):
    client.force_login(viewer)
    response = client.post(reverse("stores:publish", args=[store.pk]), HTTP_REFERER="https://evil.example/x")
    assert response.status_code == 403
    html = response.content.decode()
    assert "evil.example" not in html and "Back to the previous page" not in html


def test_a_404_page_has_the_layout_and_a_way_back(client, org, viewer):
    client.force_login(viewer)
    response = client.get(reverse("stores:detail", args=[999999]))
    assert response.status_code == 404
    html = response.content.decode()
    assert 'aria-label="Main navigation"' in html and "Nothing here" in html
    assert "/stores/999999/" in html and "Go to the dashboard" in html


def test_the_500_page_needs_no_request_context_and_no_database(rf):
    """Django's ``server_error`` renders ``500.html`` with an empty context; this test has no database access."""
    response = server_error(rf.get("/products/"))
    assert response.status_code == 500
    html = response.content.decode()
    assert "Something went wrong on our side" in html and "bootstrap.min.css" in html
    assert 'aria-label="Main navigation"' not in html


# --- logging -----------------------------------------------------------------


def _request_records(caplog):
    return [r for r in caplog.records if r.name == "django.request"]


def test_an_expected_refusal_logs_one_line_without_a_traceback(client, store, viewer, caplog):
    client.force_login(viewer)
    with caplog.at_level(logging.INFO):
        assert client.post(reverse("stores:publish", args=[store.pk])).status_code == 403
    (record,) = _request_records(caplog)
    assert record.levelno == logging.WARNING and record.exc_info is None
    line = record.getMessage()
    assert f"/stores/{store.pk}/publish/" in line and viewer.username in line
    assert "This needs the operator role or higher." in line
    assert "Traceback" not in caplog.text


@pytest.mark.urls(__name__)
def test_a_real_error_still_logs_its_traceback(org, viewer, caplog):
    client = Client(raise_request_exception=False)
    client.force_login(viewer)
    with caplog.at_level(logging.INFO):
        response = client.get("/boom/")
    assert response.status_code == 500
    assert "Something went wrong on our side" in response.content.decode()
    (record,) = _request_records(caplog)
    assert record.levelno == logging.ERROR and record.exc_info and record.exc_info[0] is ZeroDivisionError
    assert "Traceback" in caplog.text and "a bug in a view" in caplog.text
