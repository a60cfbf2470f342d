"""Telling people about approvals: email (Django's email backend) and a signed outgoing webhook.

In-app notification is the event itself (``flashfusion.events.publish`` in
``approvals.services``): it reaches the activity feed and, through the
"approvals" live region, every open approvals page.

``notify(approval, kind)`` is called inside the transaction that changed the
request. It renders the emails at once and sends them after commit, and it
writes a ``WebhookDelivery`` row that a django-q2 task sends after commit
(the approvals schedule retries failures with backoff). Kinds:

============  ===================================================  =========================
kind          who gets an email                                    webhook event
============  ===================================================  =========================
requested     members who may decide (role ≥ required), not the    approval.requested
              requester
escalated     members of the newly asked role or higher            approval.escalated
applied       the requester                                        approval.applied
rejected      the requester                                        approval.rejected
expired       the requester                                        approval.expired
stale         the requester                                        approval.stale
============  ===================================================  =========================

Webhook requests are ``POST`` with a JSON body (``webhook_payload``) and the
headers ``X-FlashFusion-Event``, ``X-FlashFusion-Delivery`` (the delivery id),
``X-FlashFusion-Timestamp`` (Unix seconds) and ``X-FlashFusion-Signature:
sha256=<hex>``, the HMAC-SHA256 of ``"<timestamp>.<body>"`` keyed with the
organization's webhook secret. A receiver recomputes it and rejects old
timestamps to stop replays.
"""

import hashlib
import hmac
import json
import logging
from datetime import timedelta

import httpx
from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.utils import timezone

from approvals.choices import ApproverRole, AuditAction, DeliveryStatus, Verdict
from approvals.models import AuditEntry, Decision, NotificationSettings, WebhookDelivery
from flashfusion.choices import Role
from flashfusion.models import Membership

log = logging.getLogger(__name__)

KINDS = ("requested", "escalated", "applied", "rejected", "expired", "stale")
#: Seconds a webhook receiver has to answer (connect, read and write each).
WEBHOOK_TIMEOUT = 3.0
#: Seconds the mail server has per network step when settings.EMAIL_TIMEOUT is unset (emails go after
#: commit, in the process that made the change: a hung server must not hold a reviewer's page).
EMAIL_TIMEOUT_DEFAULT = 5
#: A delivery still "pending" this long after it was written is sent by the schedule.
PICKUP_AFTER = timedelta(seconds=30)
#: A delivery "sending" this long was lost with its worker and is tried again.
SENDING_LEASE = timedelta(minutes=5)


def settings_for(organization_id: int) -> NotificationSettings | None:
    return NotificationSettings.objects.filter(organization_id=organization_id).first()


def notify(approval, kind: str, *, actor=None) -> None:
    """Queue the emails and the webhook delivery for ``kind`` (see the table above); sent after commit."""
    if kind not in KINDS:
        raise ValueError(f"Unknown notification kind {kind!r}; one of {', '.join(KINDS)}.")
    settings_row = settings_for(approval.organization_id)
    if settings_row is None or settings_row.email_enabled:
        messages = _emails(approval, kind, actor)
        if messages:
            org_id, approval_id = approval.organization_id, approval.pk
            transaction.on_commit(lambda: send_emails(org_id, approval_id, kind, messages), robust=True)
    if settings_row is not None and settings_row.webhook_url:
        delivery = WebhookDelivery.objects.create(
            organization_id=approval.organization_id,
            request=approval,
            event=f"approval.{kind}",
            url=settings_row.webhook_url,
            payload=webhook_payload(approval, kind, actor),
        )
        transaction.on_commit(lambda: queue_delivery(delivery.pk), robust=True)


# --- email ---------------------------------------------------------------


def recipients(approval, kind: str) -> list[str]:
    """Email addresses for ``kind``: reviewers who may decide for "requested"/"escalated", else the requester."""
    if kind in ("requested", "escalated"):
        roles = [r for r in ApproverRole.values if Role.rank(r) >= Role.rank(approval.required_role)]
        members = Membership.objects.filter(organization_id=approval.organization_id, role__in=roles)
        if approval.requested_by_id:
            members = members.exclude(user_id=approval.requested_by_id)
        addresses = members.exclude(user__email="").values_list("user__email", flat=True)
        return sorted(set(addresses))
    requester = approval.requested_by
    return [requester.email] if requester is not None and requester.email else []


def _emails(approval, kind: str, actor) -> list[EmailMessage]:
    addresses = recipients(approval, kind)
    if not addresses:
        return []
    last_comment = ""
    if kind == "rejected":
        last = Decision.objects.filter(request=approval, verdict=Verdict.REJECT).order_by("-id").first()
        last_comment = last.comment if last else ""
    context = {
        "approval": approval,
        "kind": kind,
        "actor": actor.get_username() if actor is not None and actor.is_authenticated else "",
        "path": approval.get_absolute_url(),
        "role_label": Role(approval.required_role).label.lower(),
        "comment": last_comment,
    }
    subject = " ".join(render_to_string("approvals/email/subject.txt", context).split())
    body = render_to_string("approvals/email/body.txt", context)
    return [EmailMessage(subject=subject, body=body, to=[address]) for address in addresses]


def send_emails(organization_id: int, approval_id: int, kind: str, messages: list[EmailMessage]) -> int:
    """Send prepared messages on one connection (at most ``EMAIL_TIMEOUT`` seconds, else
    ``EMAIL_TIMEOUT_DEFAULT``, per network step); a failure is logged and audited, never raised."""
    timeout = getattr(settings, "EMAIL_TIMEOUT", None) or EMAIL_TIMEOUT_DEFAULT
    try:
        with get_connection(timeout=timeout) as connection:
            return connection.send_messages(messages) or 0
    except Exception as exc:  # SMTP down, refused, misconfigured: the decision already stands
        log.warning("approval email (%s, request %s) failed: %s", kind, approval_id, exc)
        AuditEntry.objects.create(
            organization_id=organization_id,
            request_id=approval_id,
            action=AuditAction.NOTIFICATION_FAILED,
            actor_name="system",
            message=f"Email about “{kind}” to {len(messages)} recipient(s) failed: {exc}"[:300],
            details={"channel": "email", "kind": kind, "error": str(exc)[:500]},
        )
        return 0


# --- webhook -------------------------------------------------------------


def webhook_payload(approval, kind: str, actor=None) -> dict:
    """The JSON body of a webhook delivery.

    ``{"event": "approval.applied", "occurred_at": ISO-8601 UTC, "organization": slug,
    "actor": username or null, "request": {"id", "path", "resource_type", "action",
    "subject", "status", "reason", "required_role", "approvals", "min_approvals",
    "expires_at", "requested_by"}}``
    """
    approvals = Decision.objects.filter(request=approval, verdict=Verdict.APPROVE, dismissed_at__isnull=True).count()
    return {
        "event": f"approval.{kind}",
        "occurred_at": timezone.now().isoformat(),
        "organization": approval.organization.slug,
        "actor": actor.get_username() if actor is not None and actor.is_authenticated else None,
        "request": {
            "id": approval.pk,
            "path": approval.get_absolute_url(),
            "resource_type": approval.resource_type,
            "action": approval.action,
            "subject": approval.product_title,
            "status": approval.status,
            "reason": approval.reason,
            "required_role": approval.required_role,
            "approvals": approvals,
            "min_approvals": approval.min_approvals,
            "expires_at": approval.expires_at.isoformat() if approval.expires_at else None,
            "requested_by": approval.requested_by.get_username() if approval.requested_by else None,
        },
    }


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """Hex HMAC-SHA256 of ``"<timestamp>.<body>"`` keyed with ``secret``."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def verify(secret: str, timestamp: str, body: bytes, signature_header: str) -> bool:
    """What a receiver does: compare ``sha256=<hex>`` with our own signature in constant time."""
    expected = "sha256=" + sign(secret, timestamp, body)
    return hmac.compare_digest(expected, signature_header or "")


def queue_delivery(delivery_id: int) -> None:
    """Hand a delivery to the django-q2 workers (after commit); the schedule picks it up if this fails."""
    from django_q.tasks import async_task

    async_task(
        "approvals.notifications.deliver_webhook",
        delivery_id,
        task_name=f"approval-webhook-{delivery_id}",
        group="flashfusion-approvals",
    )


def deliver_webhook(delivery_id: int, *, now=None) -> str:
    """Send one delivery if it is due and this caller wins the claim; returns its new status
    (or "skipped" when another worker has it or it is not due).

    The claim is a conditional UPDATE (pending/failed and due → sending,
    attempts + 1). 2xx is delivered; anything else (status, timeout,
    refused connection) is recorded in ``response_status`` / ``error`` and
    retried after ``WebhookDelivery.retry_delay`` until ``MAX_ATTEMPTS``.
    """
    now = now or timezone.now()
    due = Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    claimed = (
        WebhookDelivery.objects.filter(due, pk=delivery_id, status__in=[DeliveryStatus.PENDING, DeliveryStatus.FAILED])
        .update(status=DeliveryStatus.SENDING, claimed_at=now, attempts=F("attempts") + 1)
    )
    if not claimed:
        return "skipped"
    delivery = WebhookDelivery.objects.get(pk=delivery_id)
    settings_row = settings_for(delivery.organization_id)
    secret = settings_row.webhook_secret if settings_row else ""
    status_code, error = None, ""
    if not secret:
        error = "No webhook secret is set, so the delivery cannot be signed."
    else:
        body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()
        timestamp = str(int(now.timestamp()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "FlashFusion-Webhooks/1",
            "X-FlashFusion-Event": delivery.event,
            "X-FlashFusion-Delivery": str(delivery.pk),
            "X-FlashFusion-Timestamp": timestamp,
            "X-FlashFusion-Signature": "sha256=" + sign(secret, timestamp, body),
        }
        try:
            response = httpx.post(delivery.url, content=body, headers=headers, timeout=WEBHOOK_TIMEOUT, follow_redirects=False)
            status_code = response.status_code
            if not 200 <= status_code < 300:
                error = f"The receiver answered HTTP {status_code}: {response.text[:200]}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
    if not error:
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            status=DeliveryStatus.DELIVERED, response_status=status_code, error="", delivered_at=timezone.now()
        )
        return DeliveryStatus.DELIVERED
    final = delivery.attempts >= WebhookDelivery.MAX_ATTEMPTS or not secret
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=DeliveryStatus.GAVE_UP if final else DeliveryStatus.FAILED,
        response_status=status_code,
        error=error[:500],
        next_attempt_at=None if final else now + delivery.retry_delay(),
    )
    log.warning("approval webhook %s attempt %s failed: %s", delivery.pk, delivery.attempts, error)
    return DeliveryStatus.GAVE_UP if final else DeliveryStatus.FAILED


def retry_due_webhooks(now=None, *, limit: int = 50) -> int:
    """Send deliveries that are due: failed ones whose wait is over, pending ones no worker took, and
    ones whose worker died while sending. Returns how many were delivered."""
    now = now or timezone.now()
    WebhookDelivery.objects.filter(status=DeliveryStatus.SENDING, claimed_at__lt=now - SENDING_LEASE).update(
        status=DeliveryStatus.FAILED, error="The worker stopped while sending; trying again.", next_attempt_at=now
    )
    due = WebhookDelivery.objects.filter(
        Q(status=DeliveryStatus.FAILED, next_attempt_at__lte=now)
        | Q(status=DeliveryStatus.PENDING, created_at__lte=now - PICKUP_AFTER)
    ).order_by("id").values_list("pk", flat=True)[:limit]
    return sum(deliver_webhook(pk, now=now) == DeliveryStatus.DELIVERED for pk in list(due))


def send_test_delivery(organization) -> WebhookDelivery:
    """A "ping" delivery to the configured webhook, sent now; returns it with its outcome."""
    settings_row = settings_for(organization.pk)
    delivery = WebhookDelivery.objects.create(
        organization=organization,
        event="approval.ping",
        url=settings_row.webhook_url,
        payload={"event": "approval.ping", "occurred_at": timezone.now().isoformat(), "organization": organization.slug},
    )
    deliver_webhook(delivery.pk)
    delivery.refresh_from_db()
    return delivery

