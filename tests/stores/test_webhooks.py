"""Inbound webhooks: signatures (good, bad, rotated), dedupe, the WooCommerce ping, the real delivery file,
nothing stored on a refusal, and the ledger pages (list, detail, replay) for every role and an outsider."""

import base64
import hashlib
import hmac
import json
import re
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone

from agents.models import Job
from flashfusion.models import Event
from stores.models import Store, WebhookDelivery
from stores.webhooks import ROTATION_GRACE, webhook_token, webhook_url

DELIVERY_FILE = (Path(__file__).resolve().parents[3] / "shared" / "data" / "woocommerce"
                 / "webhook_product_updated_delivery.json")


def _sign(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


@pytest.fixture
def real_delivery():
    """The delivery captured from a real WooCommerce 7.9.0: headers, raw body, secret ``holdout-secret``."""
    return json.loads(DELIVERY_FILE.read_text(encoding="utf-8"))


@pytest.fixture
def woo(org):
    return Store.objects.create(organization=org, name="Woo shop", platform="woocommerce",
                                base_url="http://127.0.0.1:9", consumer_key="ck", consumer_secret="cs",
                                webhook_secret="holdout-secret")


@pytest.fixture
def shopify(org):
    return Store.objects.create(organization=org, name="Shopify shop", platform="shopify",
                                base_url="https://acme.myshopify.com", consumer_key="", consumer_secret="shpat_x",
                                webhook_secret="new-secret")


def _post(client, store, body: bytes, headers: dict):
    return client.post(webhook_url(store), data=body, content_type=headers.pop("Content-Type", "application/json"),
                       headers=headers)


def _woo_headers(body: bytes, *, secret="holdout-secret", delivery="d-1", topic="product.updated") -> dict:
    return {"X-WC-Webhook-Topic": topic, "X-WC-Webhook-Resource": "product", "X-WC-Webhook-Event": "updated",
            "X-WC-Webhook-ID": "1", "X-WC-Webhook-Delivery-ID": delivery,
            "X-WC-Webhook-Source": "http://127.0.0.1:8089/", "X-WC-Webhook-Signature": _sign(secret, body)}


def _shopify_headers(body: bytes, *, secret="new-secret", webhook_id="w-1", topic="products/update") -> dict:
    return {"X-Shopify-Topic": topic, "X-Shopify-Hmac-SHA256": _sign(secret, body),
            "X-Shopify-Shop-Domain": "acme.myshopify.com", "X-Shopify-Webhook-Id": webhook_id,
            "X-Shopify-API-Version": "2024-07"}


# --------------------------------------------------------------------------- receiving


def test_the_real_woocommerce_delivery_is_verified_and_recorded(client, woo, real_delivery):
    body = real_delivery["raw_body"].encode()
    response = _post(client, woo, body, dict(real_delivery["headers"]))
    assert response.status_code == 200
    delivery = WebhookDelivery.objects.get()
    assert delivery.store == woo and delivery.organization == woo.organization
    assert delivery.topic == "product.updated" and delivery.resource_id == "40"
    assert delivery.body == real_delivery["raw_body"]
    assert delivery.delivery_id == "f7d13ff188539e5237505dd1bf006f20:40:" + hashlib.sha256(body).hexdigest()[:12]
    assert delivery.headers["X-WC-Webhook-Delivery-ID"] == "f7d13ff188539e5237505dd1bf006f20"
    assert delivery.headers["X-WC-Webhook-Signature"] == real_delivery["headers"]["X-WC-Webhook-Signature"]
    assert delivery.status == "received"
    job = Job.objects.get(kind="store.pull")
    # no listing for store product 40: its pulls are coalesced by the store's id
    assert job.params == {"delivery_id": delivery.pk, "target": "resource:40"} and job.store == woo
    assert delivery.job == job
    assert Event.objects.filter(topic="webhook.received", organization=woo.organization).count() == 1


def test_it_refuses_the_real_delivery_under_another_secret_and_stores_nothing(client, woo, real_delivery):
    woo.webhook_secret = "not-the-secret"
    woo.save()
    response = _post(client, woo, real_delivery["raw_body"].encode(), dict(real_delivery["headers"]))
    assert response.status_code == 401
    assert not WebhookDelivery.objects.exists() and not Job.objects.exists() and not Event.objects.exists()


def test_it_refuses_a_body_changed_after_signing(client, woo, real_delivery):
    body = real_delivery["raw_body"].replace('"price":"55"', '"price":"5"').encode()
    response = _post(client, woo, body, dict(real_delivery["headers"]))
    assert response.status_code == 401
    assert not WebhookDelivery.objects.exists() and not Event.objects.exists()


def test_it_refuses_a_missing_signature(client, woo):
    body = b'{"id": 40}'
    headers = _woo_headers(body)
    del headers["X-WC-Webhook-Signature"]
    assert _post(client, woo, body, headers).status_code == 401
    assert not WebhookDelivery.objects.exists() and not Event.objects.exists()


def test_a_store_without_a_secret_accepts_nothing(client, woo):
    woo.webhook_secret = ""
    woo.save()
    body = b'{"id": 40}'
    assert _post(client, woo, body, _woo_headers(body, secret="")).status_code == 401
    assert not WebhookDelivery.objects.exists()


def test_the_woocommerce_ping_is_answered_and_not_stored(client, woo):
    response = client.post(webhook_url(woo), data=b"webhook_id=3", content_type="application/x-www-form-urlencoded",
                           headers={"User-Agent": "WooCommerce/7.9.0 Hookshot (WordPress/6.1)"})
    assert response.status_code == 200
    assert not WebhookDelivery.objects.exists() and not Job.objects.exists() and not Event.objects.exists()


def test_a_repeated_delivery_is_answered_but_not_stored_again(client, woo, real_delivery):
    body = real_delivery["raw_body"].encode()
    assert _post(client, woo, body, dict(real_delivery["headers"])).status_code == 200
    assert _post(client, woo, body, dict(real_delivery["headers"])).status_code == 200
    assert WebhookDelivery.objects.count() == 1 and Job.objects.count() == 1


def test_two_products_with_the_same_woocommerce_delivery_id_are_both_kept(client, woo):
    """WooCommerce's delivery id is wp_hash(webhook id . time()): it repeats within one second."""
    for product_id in (40, 41):
        body = json.dumps({"id": product_id, "name": "x"}).encode()
        assert _post(client, woo, body, _woo_headers(body, delivery="same-second")).status_code == 200
    assert sorted(WebhookDelivery.objects.values_list("resource_id", flat=True)) == ["40", "41"]


def test_signed_but_unusable_requests_are_400_and_not_stored(client, woo):
    body = b"[1, 2]"
    assert _post(client, woo, body, _woo_headers(body)).status_code == 400
    body = b'{"id": 1}'
    headers = _woo_headers(body)
    del headers["X-WC-Webhook-Delivery-ID"]
    assert _post(client, woo, body, headers).status_code == 400
    assert not WebhookDelivery.objects.exists()


def test_shopify_signature_with_the_current_secret(client, shopify):
    body = b'{"id": 7001, "title": "Belt"}'
    assert _post(client, shopify, body, _shopify_headers(body)).status_code == 200
    delivery = WebhookDelivery.objects.get()
    assert (delivery.topic, delivery.resource_id, delivery.delivery_id) == ("products/update", "7001", "w-1")
    assert delivery.headers["X-Shopify-Hmac-SHA256"]


def test_shopify_previous_secret_is_accepted_within_an_hour_of_the_rotation(client, shopify):
    shopify.previous_webhook_secret = "old-secret"
    shopify.webhook_secret_rotated_at = timezone.now() - timedelta(seconds=ROTATION_GRACE - 60)
    shopify.save()
    body = b'{"id": 7001}'
    assert _post(client, shopify, body, _shopify_headers(body, secret="old-secret")).status_code == 200
    assert WebhookDelivery.objects.count() == 1


def test_shopify_previous_secret_is_refused_after_an_hour(client, shopify):
    shopify.previous_webhook_secret = "old-secret"
    shopify.webhook_secret_rotated_at = timezone.now() - timedelta(seconds=ROTATION_GRACE + 1)
    shopify.save()
    body = b'{"id": 7001}'
    assert _post(client, shopify, body, _shopify_headers(body, secret="old-secret")).status_code == 401
    assert _post(client, shopify, body, _shopify_headers(body, secret="new-secret")).status_code == 200
    assert WebhookDelivery.objects.count() == 1


def test_shopify_dedupes_on_the_webhook_id(client, shopify):
    body = b'{"id": 7001}'
    for _ in range(3):
        assert _post(client, shopify, body, _shopify_headers(body, webhook_id="same")).status_code == 200
    assert WebhookDelivery.objects.count() == 1 and Job.objects.count() == 1


def test_it_answers_fast_without_calling_the_store(client, woo, real_delivery):
    """The store's URL is a closed port: any call to it would fail or hang; the answer does neither."""
    started = time.monotonic()
    response = _post(client, woo, real_delivery["raw_body"].encode(), dict(real_delivery["headers"]))
    assert response.status_code == 200 and time.monotonic() - started < 2.0


def test_a_disabled_store_records_the_delivery_but_queues_no_job(client, woo, real_delivery):
    woo.is_enabled = False
    woo.save()
    assert _post(client, woo, real_delivery["raw_body"].encode(), dict(real_delivery["headers"])).status_code == 200
    delivery = WebhookDelivery.objects.get()
    assert delivery.job is None and "disabled" in delivery.error and not Job.objects.exists()


def test_the_url_is_a_signed_token_not_a_bare_id(client, woo, shopify, real_delivery):
    token = webhook_token(woo)
    assert webhook_url(woo) == f"/webhooks/in/{token}/"
    pk, _, signature = token.partition(".")
    forged = f"{shopify.pk}.{signature}"
    body = real_delivery["raw_body"].encode()
    response = client.post(f"/webhooks/in/{forged}/", data=body, content_type="application/json",
                           headers=dict(real_delivery["headers"]))
    assert response.status_code == 404
    assert client.post(f"/webhooks/in/{woo.pk}/", data=body, content_type="application/json").status_code == 404
    assert client.get(webhook_url(woo)).status_code == 405
    assert not WebhookDelivery.objects.exists()


def test_the_endpoint_needs_no_login_and_no_csrf_token(woo, real_delivery):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    response = _post(strict, woo, real_delivery["raw_body"].encode(), dict(real_delivery["headers"]))
    assert response.status_code == 200


# --------------------------------------------------------------------------- the ledger


@pytest.fixture
def delivery(client, woo, real_delivery):
    _post(client, woo, real_delivery["raw_body"].encode(), dict(real_delivery["headers"]))
    return WebhookDelivery.objects.get()


def test_ledger_lists_deliveries_for_a_viewer(client, viewer, delivery):
    client.force_login(viewer)
    response = client.get(reverse("webhooks:list"))
    assert response.status_code == 200
    page = response.content.decode()
    assert f'id="webhook-row-{delivery.pk}"' in page and "product.updated" in page


def test_an_echo_is_shown_with_its_note_and_found_by_its_status(client, viewer, delivery):
    from agents.echo import MATCHES_LAST_WRITE, echo_note

    WebhookDelivery.objects.filter(pk=delivery.pk).update(status="echo", note=echo_note(MATCHES_LAST_WRITE), job=None)
    client.force_login(viewer)
    listed = client.get(reverse("webhooks:list"), {"status": "echo"}).content.decode()
    assert f'id="webhook-row-{delivery.pk}"' in listed and "Echo of our write" in listed
    detail = client.get(reverse("webhooks:detail", args=[delivery.pk])).content.decode()
    assert "matches what FlashFusion last wrote to the store" in detail


def test_ledger_filters_by_store_topic_and_status(client, viewer, delivery, shopify):
    client.force_login(viewer)
    row = f'id="webhook-row-{delivery.pk}"'
    assert row in client.get(reverse("webhooks:list"), {"store": delivery.store_id}).content.decode()
    assert row not in client.get(reverse("webhooks:list"), {"store": shopify.pk}).content.decode()
    assert row in client.get(reverse("webhooks:list"), {"topic": "product.updated"}).content.decode()
    assert row not in client.get(reverse("webhooks:list"), {"topic": "products/update"}).content.decode()
    assert row in client.get(reverse("webhooks:list"), {"status": "received"}).content.decode()
    assert row not in client.get(reverse("webhooks:list"), {"status": "failed"}).content.decode()
    assert row in client.get(reverse("webhooks:list"), {"q": "40"}).content.decode()


def test_every_ledger_column_sorts(client, viewer, delivery):
    client.force_login(viewer)
    for column in ("id", "received_at", "store", "topic", "resource_id", "status", "job", "replays", "error"):
        for sort in (column, f"-{column}"):
            assert client.get(reverse("webhooks:list"), {"sort": sort}).status_code == 200, sort


def test_ledger_htmx_request_gets_only_the_table(client, viewer, delivery):
    client.force_login(viewer)
    response = client.get(reverse("webhooks:list"), headers={"HX-Request": "true"})
    assert response.status_code == 200 and "<html" not in response.content.decode()


def test_ledger_query_budget(client, viewer, woo, django_assert_max_num_queries):
    for n in range(30):
        body = json.dumps({"id": n}).encode()
        _post(client, woo, body, _woo_headers(body, delivery=f"d-{n}"))
    client.force_login(viewer)
    with django_assert_max_num_queries(12):
        assert client.get(reverse("webhooks:list")).status_code == 200


def test_admin_sees_the_delivery_url_of_the_filtered_store(client, admin_user, viewer, woo):
    client.force_login(admin_user)
    page = client.get(reverse("webhooks:list"), {"store": woo.pk}).content.decode()
    assert webhook_token(woo) in page
    client.force_login(viewer)
    assert webhook_token(woo) not in client.get(reverse("webhooks:list"), {"store": woo.pk}).content.decode()


def test_detail_shows_headers_pretty_json_and_the_job(client, viewer, delivery):
    client.force_login(viewer)
    page = client.get(reverse("webhooks:detail", args=[delivery.pk])).content.decode()
    assert "X-WC-Webhook-Delivery-ID" in page
    assert '  &quot;id&quot;: 40,' in page  # indented JSON
    assert delivery.job.get_absolute_url() in page
    assert "Replay" not in page  # a viewer may not replay


def test_it_rejects_anonymous_users(client, delivery):
    response = client.get(reverse("webhooks:list"))
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert client.get(reverse("webhooks:detail", args=[delivery.pk])).status_code == 302


def test_it_hides_deliveries_from_outsiders(client, outsider, delivery):
    client.force_login(outsider)
    assert f'webhook-row-{delivery.pk}' not in client.get(reverse("webhooks:list")).content.decode()
    assert client.get(reverse("webhooks:detail", args=[delivery.pk])).status_code == 404
    assert client.post(reverse("webhooks:replay", args=[delivery.pk])).status_code == 404
    delivery.refresh_from_db()
    assert delivery.replays == 0


def test_viewer_cannot_replay(client, viewer, delivery):
    client.force_login(viewer)
    assert client.post(reverse("webhooks:replay", args=[delivery.pk])).status_code == 403
    delivery.refresh_from_db()
    assert delivery.replays == 0


def test_replay_reruns_the_pull_counts_and_is_audited(client, operator, delivery):
    first_job = delivery.job
    Job.objects.filter(pk=first_job.pk).update(status="succeeded")
    client.force_login(operator)
    response = client.post(reverse("webhooks:replay", args=[delivery.pk]))
    assert response.status_code == 302 and response["Location"] == reverse("webhooks:detail", args=[delivery.pk])
    delivery.refresh_from_db()
    assert delivery.replays == 1 and delivery.job != first_job
    assert delivery.job.kind == "store.pull" and delivery.job.params == {"delivery_id": delivery.pk, "replay": True}
    assert delivery.job.created_by == operator
    event = Event.objects.get(topic="webhook.replayed")
    assert event.actor == operator and event.payload["webhook_delivery_id"] == delivery.pk


def test_replay_while_the_pull_is_still_queued_does_not_count(client, operator, delivery):
    client.force_login(operator)
    client.post(reverse("webhooks:replay", args=[delivery.pk]))
    delivery.refresh_from_db()
    assert delivery.replays == 0 and Job.objects.count() == 1
    assert not Event.objects.filter(topic="webhook.replayed").exists()


def test_the_ledger_is_in_the_navigation_and_marked_current_there(client, viewer):
    client.force_login(viewer)
    link = re.compile(r'<a class="nav-link( active)?"\s*(aria-current="page")?\s*href="/webhooks/">Webhooks</a>')
    on_ledger = link.search(client.get(reverse("webhooks:list")).content.decode())
    assert on_ledger and on_ledger.group(1) and on_ledger.group(2)
    elsewhere = link.search(client.get(reverse("stores:list")).content.decode())
    assert elsewhere and not elsewhere.group(1) and not elsewhere.group(2)
