"""Notifications: in-app over the websocket, email through Django's backend, a webhook signed with HMAC-SHA256."""

import asyncio
import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings as django_settings
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from approvals.models import AuditEntry, NotificationSettings, WebhookDelivery
from approvals.notifications import deliver_webhook, retry_due_webhooks, verify
from approvals.services import decide, request_delete
from flashfusion.asgi import application
from flashfusion.live import render_event
from flashfusion.models import Event
from tests.approvals.conftest import delete_rule, member, set_rule
from tests.factories import ProductFactory

SECRET = "s3cret-that-is-long-enough"


class FailingBackend(BaseEmailBackend):
    """An email backend whose server is down."""

    def send_messages(self, email_messages):
        raise ConnectionRefusedError("SMTP server refused the connection")


class Receiver:
    """A webhook receiver on loopback HTTP that records requests and answers ``status``."""

    def __init__(self):
        self.requests: list[dict] = []
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append({"headers": dict(self.headers), "body": body})
                self.send_response(receiver.status)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/approvals"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def emails(operator, manager, admin_user):
    for user, address in [(operator, "olga@example.com"), (manager, "max@example.com"), (admin_user, "ada@example.com")]:
        user.email = address
        user.save()


def test_reviewers_get_an_email_when_a_request_waits(jacket, operator, emails, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        approval = request_delete(jacket, user=operator)
    assert sorted(m.to[0] for m in mail.outbox) == ["ada@example.com", "max@example.com"]
    message = mail.outbox[0]
    assert message.subject == f"[FlashFusion] Review needed: Delete product “Summit Jacket” (#{approval.pk})"
    assert approval.get_absolute_url() in message.body and "1 approval from a manager or higher" in message.body


def test_the_requester_hears_the_outcome(jacket, operator, manager, emails, django_capture_on_commit_callbacks):
    approval = request_delete(jacket, user=operator)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        decide(approval, membership=member(manager), verdict="reject", comment="Bestseller")
    (message,) = mail.outbox
    assert message.to == ["olga@example.com"] and "Rejected" in message.subject and "Comment: Bestseller" in message.body


def test_rule_flags_and_settings_turn_email_off(org, jacket, operator, manager, emails, django_capture_on_commit_callbacks):
    set_rule(delete_rule(org), notify_on_request=False, notify_on_decision=False)
    with django_capture_on_commit_callbacks(execute=True):
        approval = request_delete(jacket, user=operator)
        decide(approval, membership=member(manager), verdict="approve")
    assert mail.outbox == []
    set_rule(delete_rule(org), notify_on_request=True)
    NotificationSettings.objects.create(organization=org, email_enabled=False)
    with django_capture_on_commit_callbacks(execute=True):
        request_delete(ProductFactory(organization=org), user=operator)
    assert mail.outbox == []


def test_a_failing_mail_server_is_recorded_and_the_request_still_stands(jacket, operator, emails, settings, django_capture_on_commit_callbacks):
    settings.EMAIL_BACKEND = "tests.approvals.test_notifications.FailingBackend"
    with django_capture_on_commit_callbacks(execute=True):
        approval = request_delete(jacket, user=operator)
    approval.refresh_from_db()
    assert approval.status == "pending"
    entry = AuditEntry.objects.get(request=approval, action="notification_failed")
    assert "refused the connection" in entry.message


def test_webhook_is_signed_with_hmac_sha256(org, jacket, operator, manager, receiver, django_capture_on_commit_callbacks):
    NotificationSettings.objects.create(organization=org, webhook_url=receiver.url, webhook_secret=SECRET)
    with django_capture_on_commit_callbacks(execute=True):
        approval = request_delete(jacket, user=operator)
    delivery = WebhookDelivery.objects.get(request=approval)
    assert delivery.event == "approval.requested" and delivery.status == "pending"

    assert deliver_webhook(delivery.pk) == "delivered"
    assert deliver_webhook(delivery.pk) == "skipped"  # delivered once, never again
    (sent,) = receiver.requests
    headers = {k.lower(): v for k, v in sent["headers"].items()}
    assert headers["x-flashfusion-event"] == "approval.requested"
    assert headers["x-flashfusion-delivery"] == str(delivery.pk)
    assert verify(SECRET, headers["x-flashfusion-timestamp"], sent["body"], headers["x-flashfusion-signature"])
    assert not verify("another secret", headers["x-flashfusion-timestamp"], sent["body"], headers["x-flashfusion-signature"])
    payload = json.loads(sent["body"])
    assert payload["event"] == "approval.requested" and payload["request"]["id"] == approval.pk
    assert payload["request"]["required_role"] == "manager" and payload["actor"] == "operator-acme"
    # The secret is encrypted at rest.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT webhook_secret FROM approvals_notificationsettings")
        assert SECRET not in cursor.fetchone()[0]


def test_webhook_failures_are_recorded_and_retried(org, jacket, operator, receiver):
    NotificationSettings.objects.create(organization=org, webhook_url=receiver.url, webhook_secret=SECRET)
    approval = request_delete(jacket, user=operator)
    delivery = WebhookDelivery.objects.get(request=approval)
    receiver.status = 500
    now = timezone.now()
    assert deliver_webhook(delivery.pk, now=now) == "failed"
    delivery.refresh_from_db()
    assert (delivery.attempts, delivery.response_status) == (1, 500)
    assert "HTTP 500" in delivery.error and delivery.next_attempt_at == now + timedelta(minutes=1)
    assert retry_due_webhooks(now + timedelta(seconds=30)) == 0  # not due yet
    receiver.status = 204
    assert retry_due_webhooks(now + timedelta(minutes=2)) == 1
    delivery.refresh_from_db()
    assert delivery.status == "delivered" and delivery.attempts == 2


def test_an_unreachable_webhook_gives_up_after_five_attempts(org, jacket, operator):
    NotificationSettings.objects.create(organization=org, webhook_url="http://127.0.0.1:9/nothing", webhook_secret=SECRET)
    approval = request_delete(jacket, user=operator)
    delivery = WebhookDelivery.objects.get(request=approval)
    now = timezone.now()
    for _ in range(WebhookDelivery.MAX_ATTEMPTS):
        deliver_webhook(delivery.pk, now=now)
        now += timedelta(hours=2)
    delivery.refresh_from_db()
    assert delivery.status == "gave_up" and delivery.attempts == 5 and "ConnectError" in delivery.error


def test_settings_page_keeps_the_secret_and_sends_a_test(client, org, admin_user, receiver):
    client.force_login(admin_user)
    html = client.post(reverse("approvals:settings"), {"email_enabled": "on", "webhook_url": receiver.url}).content.decode()
    assert 'id="id_webhook_secret_error"' in html
    client.post(reverse("approvals:settings"), {"email_enabled": "on", "webhook_url": receiver.url, "webhook_secret": SECRET})
    client.post(reverse("approvals:settings"), {"webhook_url": receiver.url, "webhook_secret": ""})
    saved = NotificationSettings.objects.get(organization=org)
    assert (saved.email_enabled, saved.webhook_secret) == (False, SECRET)
    response = client.post(reverse("approvals:settings"), {"test": "1"}, follow=True)
    assert "Test delivery answered HTTP 200" in response.content.decode()
    assert receiver.requests[-1]["headers"]["X-FlashFusion-Event"] == "approval.ping"
    entries = AuditEntry.objects.filter(organization=org, action="settings_changed")
    assert entries.count() == 2 and SECRET not in str(list(entries.values_list("details", flat=True)))


def test_approval_events_carry_the_approvals_regions(org, jacket, operator):
    approval = request_delete(jacket, user=operator)
    event = Event.objects.get(topic="approval.requested")
    parts = dict(render_event(event))
    assert 'id="live-signal-approvals-changed"' in parts["approvals"]
    assert f'id="approval-status-{approval.pk}"' in parts[f"approval:{approval.pk}"]
    assert 'hx-swap-oob="true"' in parts[f"approval:{approval.pk}"]


@pytest.mark.django_db(transaction=True)
def test_a_decision_reaches_open_approval_pages_over_the_websocket(org, operator, manager):
    product = ProductFactory(organization=org, title="Live Tent")
    approval = request_delete(product, user=operator)
    client = Client()
    client.force_login(operator)
    cookie = f"{django_settings.SESSION_COOKIE_NAME}={client.cookies[django_settings.SESSION_COOKIE_NAME].value}"
    headers = [(b"origin", b"http://localhost"), (b"host", b"localhost"), (b"cookie", cookie.encode())]

    async def scenario():
        communicator = WebsocketCommunicator(application, f"/ws/live/?regions=approvals,approval:{approval.pk}", headers=headers)
        assert (await communicator.connect())[0]
        await asyncio.sleep(0.5)  # the relay (embedded mode) starts from the newest row
        await database_sync_to_async(decide)(approval, membership=await database_sync_to_async(member)(manager),
                                             verdict="reject", comment="Keep selling it")
        deadline = asyncio.get_running_loop().time() + 5
        while True:
            message = await communicator.receive_from(timeout=max(0.1, deadline - asyncio.get_running_loop().time()))
            # Earlier events (the request itself) may still arrive first: wait for the decision's.
            if f'id="approval-status-{approval.pk}"' in message and "Rejected" in message:
                break
        assert "Rejected" in message and 'id="live-signal-approvals-changed"' in message
        await communicator.disconnect()

    asyncio.run(scenario())
