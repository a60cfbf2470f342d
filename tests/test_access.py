"""Every page needs login, shows only the user's organization, and checks the role."""

from decimal import Decimal

import pytest
from django.urls import reverse

from agents.models import Job
from approvals.services import request_delete
from stores.models import Store
from tests.factories import ProductFactory, VariantFactory


@pytest.fixture
def objects(org, operator):
    product = ProductFactory(organization=org, title="Trail Tee")
    VariantFactory(product=product, price=Decimal("30.00"))
    store = Store.objects.create(organization=org, name="Northwind Outlet", base_url="http://127.0.0.1:9", consumer_key="ck", consumer_secret="cs")
    job = Job.objects.create(organization=org, kind="store.publish", store=store)
    approval = request_delete(product, user=operator)
    return {"product": product, "store": store, "job": job, "approval": approval}


def _detail_urls(objects):
    return [
        reverse("products:detail", args=[objects["product"].pk]),
        reverse("stores:detail", args=[objects["store"].pk]),
        reverse("agents:job_detail", args=[objects["job"].pk]),
        reverse("approvals:detail", args=[objects["approval"].pk]),
    ]


LIST_URLS = ["dashboard:index", "products:list", "stores:list", "agents:job_list", "approvals:list"]


@pytest.mark.parametrize("name", LIST_URLS + ["products:import", "stores:connect"])
def test_it_redirects_anonymous_to_login(client, db, name):
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_it_shows_every_page_to_a_member(client, objects, admin_user):
    client.force_login(admin_user)
    for url in [reverse(n) for n in LIST_URLS] + _detail_urls(objects):
        assert client.get(url).status_code == 200, url


def test_it_rejects_outsider_with_404(client, objects, outsider):
    client.force_login(outsider)
    for url in _detail_urls(objects):
        assert client.get(url).status_code == 404, url
    assert client.post(reverse("stores:publish", args=[objects["store"].pk])).status_code == 404
    assert client.post(reverse("products:delete", args=[objects["product"].pk])).status_code == 404


def test_it_hides_other_organizations_rows_in_lists(client, objects, outsider):
    client.force_login(outsider)
    assert "Trail Tee" not in client.get(reverse("products:list")).content.decode()
    assert "Northwind Outlet" not in client.get(reverse("stores:list")).content.decode()


def test_it_refuses_viewer_writes(client, objects, viewer):
    client.force_login(viewer)
    assert client.post(reverse("stores:publish", args=[objects["store"].pk])).status_code == 403
    assert client.post(reverse("products:delete", args=[objects["product"].pk])).status_code == 403
    assert client.get(reverse("products:import")).status_code == 403
    assert client.get(reverse("stores:connect")).status_code == 403


def test_it_refuses_operator_decisions(client, objects, operator):
    client.force_login(operator)
    url = reverse("approvals:detail", args=[objects["approval"].pk])
    assert client.post(url, {"verdict": "approve"}).status_code == 403
    objects["approval"].refresh_from_db()
    assert objects["approval"].status == "pending"


def test_user_without_organization_gets_403(client, db, django_user_model):
    user = django_user_model.objects.create_user("loner", password="x")
    client.force_login(user)
    assert client.get(reverse("dashboard:index")).status_code == 403


@pytest.mark.parametrize("name", LIST_URLS[1:])
def test_every_column_sorts(client, objects, admin_user, name):
    client.force_login(admin_user)
    table = client.get(reverse(name)).context["table"]
    for column in table.columns:
        if column.orderable:
            for prefix in ("", "-"):
                response = client.get(reverse(name), {"sort": prefix + column.name})
                assert response.status_code == 200, (name, column.name)


@pytest.mark.parametrize("name", LIST_URLS[1:])
def test_list_query_budget(client, objects, admin_user, django_assert_max_num_queries, name):
    client.force_login(admin_user)
    for i in range(15):
        product = ProductFactory(organization=objects["product"].organization)
        VariantFactory(product=product)
    with django_assert_max_num_queries(14):
        client.get(reverse(name))
