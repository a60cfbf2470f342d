"""Connecting a store: a real test call first, credentials encrypted at rest, health on the list."""

import pytest
from django.db import connection
from django.urls import reverse

from stores.emulators.woocommerce import start_emulator
from stores.models import Store


@pytest.fixture
def emulator():
    with start_emulator() as running:
        yield running


def _form(emulator, **overrides):
    data = {
        "name": "Main shop",
        "platform": "woocommerce",
        "base_url": emulator.base_url,
        "consumer_key": "ck_demo",
        "consumer_secret": "cs_demo",
        "timeout": "10",
    }
    data.update(overrides)
    return data


def test_connect_saves_after_a_successful_test_call(client, admin_user, emulator):
    client.force_login(admin_user)
    response = client.post(reverse("stores:connect"), _form(emulator))
    store = Store.objects.get()
    assert response["Location"] == store.get_absolute_url()
    assert store.health == "healthy" and store.health_latency > 0
    assert ("GET", "/wp-json/wc/v3/products") in emulator.request_log


def test_the_connect_test_call_is_the_first_health_check_on_the_store_page(client, admin_user, emulator):
    client.force_login(admin_user)
    client.post(reverse("stores:connect"), _form(emulator))
    store = Store.objects.get()
    check = store.health_checks.get()
    assert check.ok and check.latency == store.health_latency and check.checked_at == store.health_checked_at
    html = client.get(store.get_absolute_url()).content.decode()
    assert "No health checks recorded yet" not in html


def test_an_edit_without_credentials_keeps_the_saved_key_and_never_draws_it(client, admin_user, emulator):
    client.force_login(admin_user)
    client.post(reverse("stores:connect"), _form(emulator, consumer_key="ck_demo"))
    store = Store.objects.get()
    page = client.get(reverse("stores:edit", args=[store.pk]))
    assert 'value="ck_demo"' not in page.content.decode()
    data = {name: "" if value is None else value for name, value in page.context["form"].initial.items()
            if name in page.context["form"].fields}
    data.update(name="Renamed shop", consumer_key="", consumer_secret="", stock_location="")
    data = {k: v for k, v in data.items() if v is not False}
    response = client.post(reverse("stores:edit", args=[store.pk]), data)
    assert response.status_code == 302, response.context["form"].errors
    store.refresh_from_db()
    assert (store.name, store.consumer_key, store.consumer_secret) == ("Renamed shop", "ck_demo", "cs_demo")


def test_credentials_are_encrypted_at_rest(client, admin_user, emulator):
    client.force_login(admin_user)
    client.post(reverse("stores:connect"), _form(emulator))
    with connection.cursor() as cursor:
        cursor.execute("SELECT consumer_key, consumer_secret FROM stores_store")
        raw_key, raw_secret = cursor.fetchone()
    assert "ck_demo" not in raw_key and "cs_demo" not in raw_secret
    store = Store.objects.get()
    assert (store.consumer_key, store.consumer_secret) == ("ck_demo", "cs_demo")


def test_wrong_secret_is_refused_next_to_the_field_and_nothing_saved(client, admin_user, emulator):
    client.force_login(admin_user)
    response = client.post(reverse("stores:connect"), _form(emulator, consumer_secret="wrong"))
    assert response.status_code == 200
    assert "The store refused these keys" in response.content.decode()
    assert 'id="id_consumer_key_error"' in response.content.decode()
    assert not Store.objects.exists()


def test_unreachable_store_is_refused(client, admin_user, emulator):
    client.force_login(admin_user)
    response = client.post(reverse("stores:connect"), _form(emulator, base_url="http://127.0.0.1:9"))
    assert "Could not reach the store" in response.content.decode()
    assert not Store.objects.exists()


def test_operator_cannot_connect(client, operator, emulator):
    client.force_login(operator)
    assert client.post(reverse("stores:connect"), _form(emulator)).status_code == 403
    assert not Store.objects.exists()


def test_store_list_shows_health(client, admin_user, emulator):
    client.force_login(admin_user)
    client.post(reverse("stores:connect"), _form(emulator))
    html = client.get(reverse("stores:list")).content.decode()
    assert "Main shop" in html and "Healthy" in html


def test_the_same_shop_cannot_be_connected_twice(client, admin_user, emulator):
    client.force_login(admin_user)
    client.post(reverse("stores:connect"), _form(emulator))
    response = client.post(reverse("stores:connect"), _form(emulator, name="Second copy", base_url=emulator.base_url + "/"))
    assert "is already connected to this address" in response.content.decode()
    assert Store.objects.count() == 1


def test_a_web_page_answer_is_not_pasted_into_the_error():
    from stores.forms import _reason
    from stores.plugins import Rejected

    page = Rejected("<!doctype html><html><body><h1>Not Found</h1></body></html>", status=404)
    assert _reason(page) == "the address answered HTTP 404 with a web page, not the platform's API"
    assert _reason(Rejected("Consumer key is invalid.")) == "Consumer key is invalid"
