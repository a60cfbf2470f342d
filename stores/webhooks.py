"""Inbound store webhooks: the URL a store posts to, the signature check, the ledger, replays.

Facts relied on (see /work/shared/PLATFORMS.md):

* Shopify signs with ``X-Shopify-Hmac-SHA256`` = base64(HMAC-SHA256(secret,
  raw body)) and names the delivery with ``X-Shopify-Webhook-Id`` (dedupe on
  it); after a secret rotation the old secret may still sign for up to an
  hour, so both are accepted (shopify.dev, webhook delivery and verification).
  A receiver must answer within 5 s, and Shopify retries a failed delivery
  8 times over 4 hours (Shopify docs).
* WooCommerce signs with ``X-WC-Webhook-Signature`` = base64(HMAC-SHA256(secret,
  raw body)) and sends ``X-WC-Webhook-Topic`` / ``-Resource`` / ``-Event`` /
  ``-ID`` / ``-Delivery-ID`` / ``-Source`` (docs ``_webhooks.md``; seen in
  ``data/woocommerce/webhook_product_updated_delivery.json``). A new
  webhook first sends a ping: form body ``webhook_id=N``, no signature
  (seen): answered 200, nothing stored.
* WooCommerce's delivery id is ``wp_hash(webhook id . time())``
  (``WC_Webhook::get_new_delivery_id``, woocommerce source), so two
  deliveries of one webhook within the same second carry the *same* id. The
  ledger's key for a WooCommerce delivery is therefore ``<delivery id>:<resource
  id>:<first 12 hex digits of the body's SHA-256>``: a repeat of one delivery
  (same body) is still caught, while two products, or two saves of one product,
  in the same second are not mistaken for one (the second save's edit would
  be lost if its pull had already fetched).

The request path does no store API call: verify, write the ledger row and
an event, then either recognise the delivery as our own write coming back
(``agents.echo.judge``: its compared fields equal what we last wrote, or the
catalog being written; status "Echo of our write", no job) or hand it to a
``store.pull`` job (``agents.pull``), which fetches the product and compares.

One pull per product, however many deliveries: a delivery joins the pull
already waiting for the same listing (``target`` in the job's params) and
pushes it back by ``settings.PULL_DEBOUNCE_SECONDS`` (at most
``PULL_DEBOUNCE_MAX_SECONDS`` after it was queued), so a burst of edits in
the store costs one fetch. It joins only a job that has not started: a pull
that is running may have fetched the product before this edit, so the
delivery gets a new job, and no store edit is lost. The listing row is
locked while deciding, so two deliveries for one product never both queue a
job (on SQLite every write transaction is serialized anyway), and a worker
claiming the waiting job either sees the delivery attached or claims first,
in which case the delivery finds the job running and queues its own.

The URL holds no guessable id: ``/webhooks/in/<token>/`` where the token is
the store's pk signed with ``django.core.signing`` (salted for this use), so
it stays valid as long as ``SECRET_KEY`` (or one of ``SECRET_KEY_FALLBACKS``)
is the one that signed it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from agents.choices import RUNNABLE, UNFINISHED, JobKind, Priority
from agents.echo import echo_note, judge
from agents.models import Job
from agents.services import enqueue
from flashfusion import events
from stores.choices import WEBHOOK_DELETE_TOPICS, WEBHOOK_UPDATE_TOPICS, DeliveryStatus, Platform
from stores.models import Listing, Store, WebhookDelivery

#: Salt of the URL token (``django.core.signing``): a token made for another purpose never opens this URL.
TOKEN_SALT = "stores.webhooks.inbound-url"
#: Seconds the previous secret still signs after a rotation (Shopify docs; PLATFORMS.md).
ROTATION_GRACE = 3600

#: Product topics the pull job acts on, in each platform's spelling (``stores.choices``).
UPDATE_TOPICS = WEBHOOK_UPDATE_TOPICS
DELETE_TOPICS = WEBHOOK_DELETE_TOPICS
TOPIC_CHOICES = [(t, t) for t in sorted(UPDATE_TOPICS | DELETE_TOPICS)]

DELIVERY_BADGES = {
    DeliveryStatus.RECEIVED: "secondary",
    DeliveryStatus.PROCESSED: "success",
    DeliveryStatus.FAILED: "danger",
    DeliveryStatus.ECHO: "light",
}

_PING = re.compile(rb"webhook_id=\d+")
_MAX_ID = 100  # characters of a platform delivery id we keep (the column holds 128 with the resource id)


@dataclass(frozen=True)
class PlatformHeaders:
    """Where one platform puts the signature, the delivery id and the topic (header names)."""

    signature: str
    delivery_id: str
    topic: str
    prefix: str  # every header starting with this is kept in the ledger
    names: tuple[str, ...]  # canonical spelling of the headers the platform documents


HEADERS = {
    Platform.SHOPIFY: PlatformHeaders(
        signature="X-Shopify-Hmac-SHA256", delivery_id="X-Shopify-Webhook-Id", topic="X-Shopify-Topic",
        prefix="x-shopify-",
        names=("X-Shopify-Topic", "X-Shopify-Hmac-SHA256", "X-Shopify-Shop-Domain", "X-Shopify-Webhook-Id",
               "X-Shopify-API-Version", "X-Shopify-Triggered-At", "X-Shopify-Event-Id"),
    ),
    Platform.WOOCOMMERCE: PlatformHeaders(
        signature="X-WC-Webhook-Signature", delivery_id="X-WC-Webhook-Delivery-ID", topic="X-WC-Webhook-Topic",
        prefix="x-wc-webhook-",
        names=("X-WC-Webhook-Source", "X-WC-Webhook-Topic", "X-WC-Webhook-Resource", "X-WC-Webhook-Event",
               "X-WC-Webhook-Signature", "X-WC-Webhook-ID", "X-WC-Webhook-Delivery-ID"),
    ),
}


@dataclass(frozen=True)
class Outcome:
    """The answer to one inbound request: HTTP ``status``, a short text, and the ledger row when one was written."""

    status: int
    message: str
    delivery: WebhookDelivery | None = None


# --------------------------------------------------------------------------- URL


def _signer() -> signing.Signer:
    return signing.Signer(salt=TOKEN_SALT, sep=".")


def webhook_token(store: Store) -> str:
    """The store's URL token: its pk and a signature (e.g. ``"12.Xq3…"``); nobody can make one for another pk."""
    return _signer().sign(str(store.pk))


def store_for_token(token: str) -> Store | None:
    """The store a token was made for, or None for a forged, stale or unknown token."""
    try:
        pk = int(_signer().unsign(token))
    except (signing.BadSignature, ValueError):
        return None
    return Store.objects.select_related("organization").filter(pk=pk).first()


def webhook_url(store: Store, request=None) -> str:
    """Where the store must send its webhooks: ``/webhooks/in/<token>/``, absolute on
    ``settings.PUBLIC_BASE_URL`` when it is set, else on ``request``'s host when one is given, else the path.

    Connecting a store registers it there (``stores.webhook_registration``).
    """
    path = reverse("webhooks:receive", args=[webhook_token(store)])
    if settings.PUBLIC_BASE_URL:
        return settings.PUBLIC_BASE_URL + path
    return request.build_absolute_uri(path) if request is not None else path


# --------------------------------------------------------------------------- signatures


def sign(secret: str, body: bytes) -> str:
    """base64(HMAC-SHA256(secret, body)): what Shopify and WooCommerce both send."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode("ascii")


def accepted_secrets(store: Store, now: datetime | None = None) -> list[str]:
    """The secrets that may sign now: the current one, and the previous one until rotation + 1 hour."""
    now = now or timezone.now()
    found = [store.webhook_secret] if store.webhook_secret else []
    rotated = store.webhook_secret_rotated_at
    if store.previous_webhook_secret and rotated and now < rotated + timedelta(seconds=ROTATION_GRACE):
        found.append(store.previous_webhook_secret)
    return found


def signature_ok(store: Store, body: bytes, signature: str, now: datetime | None = None) -> bool:
    """True when ``signature`` is the HMAC of ``body`` under an accepted secret (constant-time compare)."""
    if not signature:
        return False
    given = signature.strip().encode("ascii", "replace")
    matches = [hmac.compare_digest(sign(secret, body).encode("ascii"), given)
               for secret in accepted_secrets(store, now)]
    return any(matches)


# --------------------------------------------------------------------------- receiving


def ledger_headers(platform: str, headers: Mapping[str, str]) -> dict[str, str]:
    """The headers worth keeping: the platform's own (canonical spelling), Content-Type and User-Agent."""
    spec = HEADERS[platform]
    canonical = {name.lower(): name for name in (*spec.names, "Content-Type", "User-Agent")}
    kept = {}
    for name, value in headers.items():
        lowered = name.lower()
        if lowered in canonical or lowered.startswith(spec.prefix):
            kept[canonical.get(lowered, name)] = value
    return kept


def _resource_id(data: dict) -> str:
    value = data.get("id")
    if isinstance(value, bool) or value is None:
        return ""
    return str(value)[:64]


def receive(store: Store, body: bytes, headers: Mapping[str, str], *, now: datetime | None = None) -> Outcome:
    """Verify and record one inbound request for ``store``; never calls the store.

    * WooCommerce ping (no signature, body ``webhook_id=N``) → 200, nothing stored.
    * Missing or wrong signature → 401, nothing stored, no event.
    * Signed but unusable (no topic or delivery id, body not a JSON object) → 400, nothing stored.
    * A delivery already in the ledger → 200, not stored again.
    * Otherwise → 200 with a new ``WebhookDelivery`` and a ``webhook.received``
      event; then: our own write coming back (``agents.echo.judge``) → status
      "Echo of our write" with a note, no job; else a ``store.pull`` job, or
      the waiting one for the same product (module docstring). A disabled
      store gets no job: the row says why; replay it once the store is enabled.

    ``headers`` is case-insensitive (``request.headers``).
    """
    spec = HEADERS.get(store.platform)
    if spec is None:
        return Outcome(404, f"webhooks are not supported for the platform {store.platform!r}")
    signature = headers.get(spec.signature, "")
    if store.platform == Platform.WOOCOMMERCE and not signature and _PING.fullmatch(body.strip()):
        return Outcome(200, "ping received")
    if not signature_ok(store, body, signature, now):
        return Outcome(401, "invalid or missing signature")

    topic = headers.get(spec.topic, "").strip()
    platform_id = headers.get(spec.delivery_id, "").strip()
    if not topic or len(topic) > 64:
        return Outcome(400, f"{spec.topic} is missing or too long")
    if not platform_id or len(platform_id) > _MAX_ID:
        return Outcome(400, f"{spec.delivery_id} is missing or too long")
    try:
        data = json.loads(body)
        text = body.decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return Outcome(400, "the body is not JSON")
    if not isinstance(data, dict):
        return Outcome(400, "the body is not a JSON object")
    resource_id = _resource_id(data)
    key = platform_id
    if store.platform == Platform.WOOCOMMERCE:
        # the platform id repeats within one second (module docstring)
        key = f"{platform_id}:{resource_id}:{hashlib.sha256(body).hexdigest()[:12]}"

    verdict = judge(store, topic, resource_id, data) if store.is_enabled else None
    with transaction.atomic():
        if WebhookDelivery.objects.filter(store=store, delivery_id=key).exists():
            return Outcome(200, "duplicate delivery: already received")
        try:
            with transaction.atomic():
                delivery = WebhookDelivery.objects.create(
                    organization_id=store.organization_id, store=store, delivery_id=key, topic=topic,
                    resource_id=resource_id, headers=ledger_headers(store.platform, headers), body=text,
                )
        except IntegrityError:  # the same delivery, received twice at the same moment
            return Outcome(200, "duplicate delivery: already received")
        echo = bool(verdict and verdict.echo)
        events.publish(
            store.organization_id, "webhook.received",
            f"{store.name}: {topic} for store product {resource_id or '?'} received"
            + (": an echo of our write, not pulled" if echo else ""),
            {"store_id": store.pk, "webhook_delivery_id": delivery.pk, "topic": topic, "quiet": True, "echo": echo},
        )
        if verdict is None:
            delivery.error = "The store is disabled: not pulled. Replay this delivery once the store is enabled."
            delivery.save(update_fields=["error"])
        elif echo:
            delivery.status = DeliveryStatus.ECHO
            delivery.note = echo_note(verdict.echo)
            delivery.save(update_fields=["status", "note"])
            return Outcome(200, "received: an echo of our own write, not pulled", delivery)
        else:
            delivery.job = queue_pull(delivery, target=verdict.target)
            delivery.save(update_fields=["job"])
    return Outcome(200, "received", delivery)


def queue_pull(delivery: WebhookDelivery, *, target: str):
    """The ``store.pull`` job for ``delivery``: the one waiting for ``target`` (``"listing:<pk>"``,
    ``"product:<pk>"``, ``"resource:<store id>"``), pushed back by ``PULL_DEBOUNCE_SECONDS``, else a new one
    that waits that long. Call it in the transaction that writes the delivery (module docstring)."""
    store = delivery.store
    now = timezone.now()
    debounce = timedelta(seconds=settings.PULL_DEBOUNCE_SECONDS)
    if target.startswith("listing:"):
        list(Listing.objects.select_for_update().filter(pk=int(target.partition(":")[2])).values_list("pk"))
    waiting = (Job.objects.select_for_update()
               .filter(organization_id=store.organization_id, store=store, kind=JobKind.STORE_PULL,
                       status__in=RUNNABLE, params__target=target)
               .order_by("id").first())
    if waiting is not None:
        latest = waiting.created_at + timedelta(seconds=settings.PULL_DEBOUNCE_MAX_SECONDS)
        run_after = max(waiting.run_after, min(now + debounce, latest))
        if run_after != waiting.run_after:
            Job.objects.filter(pk=waiting.pk).update(run_after=run_after, updated_at=now)
        return waiting
    return enqueue(store.organization, JobKind.STORE_PULL, store=store,
                   params={"delivery_id": delivery.pk, "target": target}, priority=Priority.NORMAL,
                   run_after=now + debounce if debounce else None)


def _queue_replay(delivery: WebhookDelivery, user):
    return enqueue(
        delivery.store.organization,
        JobKind.STORE_PULL,
        store=delivery.store,
        params={"delivery_id": delivery.pk, "replay": True},
        priority=Priority.NORMAL,
        idempotency_key=f"webhook:{delivery.pk}",
        created_by=user,
    )


def replay(delivery: WebhookDelivery, *, user) -> tuple[object, bool]:
    """Run the pull job for ``delivery`` again; returns ``(job, replayed)``.

    ``replayed`` is False when a pull of this delivery (its own, or the one
    it joined) is still queued or running: that job is returned and nothing
    is counted. Otherwise a new ``store.pull`` job is queued (at once, of its
    own, and it always fetches: a replay is asked to see the store now, even
    for an echo), ``replays`` grows by one, the row goes back to "received",
    and a ``webhook.replayed`` event names who asked.
    """
    with transaction.atomic():
        locked = (WebhookDelivery.objects.select_for_update(of=("self",)).select_related("store__organization", "job")
                  .get(pk=delivery.pk))
        if locked.job is not None and locked.job.status in UNFINISHED:
            return locked.job, False
        job = _queue_replay(locked, user)
        if job.pk == locked.job_id:
            return job, False
        locked.job = job
        locked.replays += 1
        locked.status = DeliveryStatus.RECEIVED
        locked.error = locked.note = ""
        locked.save(update_fields=["job", "replays", "status", "error", "note"])
        events.publish(
            locked.organization_id, "webhook.replayed",
            f"{user} replayed {locked.topic} delivery #{locked.pk} from {locked.store.name} (replay {locked.replays})",
            {"store_id": locked.store_id, "webhook_delivery_id": locked.pk, "job_id": job.pk},
            actor=user,
        )
    delivery.refresh_from_db()
    return job, True
