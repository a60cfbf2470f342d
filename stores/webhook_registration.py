"""Registering a store's product webhooks with the store: on connect, on "Repair webhooks", and in the health check
(``unregister`` removes them when the store is disconnected).

What is registered, per platform (``TOPICS``):

* WooCommerce: ``product.created``, ``product.updated``, ``product.deleted``
  and ``product.restored`` (``POST /wc/v3/webhooks``, WooCommerce REST API
  docs), each delivering to our ``/webhooks/in/<token>/`` URL and signed
  with the store's webhook secret, which is generated when the store has
  none (WooCommerce takes any secret; ``secrets.token_urlsafe(32)``).
* Shopify: ``products/create``, ``products/update`` and ``products/delete``
  (GraphQL ``webhookSubscriptionCreate``, shopify.dev). Shopify signs every
  delivery with the app's client secret and a subscription takes none, so
  the store's webhook secret must be that client secret: without one nothing
  is registered (the deliveries could not be verified) and the outcome says
  how to set it.

Ours are found by their delivery URL (``address``): registering again finds
them and creates only the missing topics, never a second webhook of a topic;
extra copies of ours are deleted, and webhooks we registered at another
address of ours (the public URL changed) are moved or replaced. A WooCommerce
webhook that is paused, or that WooCommerce disabled after failed deliveries,
is switched back to active. ``repair`` also re-sends the WooCommerce secret
(WooCommerce never shows it, so a rotation cannot be checked by reading).

The delivery URL must be one the store can reach: ``settings.PUBLIC_BASE_URL``
when set, else the host of the request that connects the store or presses
"Repair webhooks"; the health check (no request) uses the address it
registered last time. A real WooCommerce refuses to deliver to private
addresses and to ports other than 80, 443 and 8080 unless they are its own
host and port (``wp_safe_remote_request``, WordPress source); Shopify delivers
only to HTTPS. The emulators deliver anywhere on loopback.

Nothing here logs or stores a secret: secrets go to the store in the POST
body only; the event and the outcome name topics and the URL (whose token is
a signed store id, not a secret).
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from flashfusion import events
from stores.choices import Platform
from stores.plugins import Capability, StoreError

log = logging.getLogger(__name__)

#: The product topics we register, in each platform's spelling (the ones the pull agent acts on).
TOPICS: dict[str, tuple[str, ...]] = {
    Platform.WOOCOMMERCE: ("product.created", "product.updated", "product.deleted", "product.restored"),
    Platform.SHOPIFY: ("products/create", "products/update", "products/delete"),
}
#: Platforms whose subscriptions carry our secret (WooCommerce); Shopify signs with the app's client secret.
SECRET_PER_WEBHOOK = frozenset({Platform.WOOCOMMERCE})
#: Platforms whose webhooks have a status we can switch back to active.
REACTIVATES = frozenset({Platform.WOOCOMMERCE})


class NotRegistered(Exception):
    """Registration could not start (no reachable URL, no secret Shopify can sign with): the message says what
    to do. The store's webhooks were not changed."""


@dataclass
class Registration:
    """What one registration or check did, by topic. ``address``: the delivery URL used."""

    address: str = ""
    created: list[str] = field(default_factory=list)
    reactivated: list[str] = field(default_factory=list)
    moved: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error and not self.failed

    @property
    def changed(self) -> bool:
        return bool(self.created or self.reactivated or self.moved or self.removed)

    def summary(self) -> str:
        """"created product.updated; kept product.created, …" — what happened, in words."""
        if self.error:
            return self.error
        parts = []
        for label, topics in (("created", self.created), ("re-activated", self.reactivated),
                              ("moved to this address", self.moved), ("kept", self.kept),
                              ("removed duplicates of", self.removed)):
            if topics:
                parts.append(f"{label} {', '.join(topics)}")
        parts += [f"{topic} failed: {reason}" for topic, reason in self.failed.items()]
        return "; ".join(parts) or "nothing to do"


def supports_webhooks(store) -> bool:
    """True when the store's plugin declares webhooks and can manage its subscriptions."""
    from stores.plugins import plugin_class

    try:
        cls = plugin_class(store.platform)
    except StoreError:
        return False
    return Capability.WEBHOOKS in cls.capabilities and hasattr(cls, "list_webhooks") and store.platform in TOPICS


def delivery_address(store, request=None) -> str | None:
    """Our delivery URL for ``store`` (absolute), or None when no reachable base is known: the public URL
    setting, else ``request``'s host (``stores.webhooks.webhook_url``)."""
    from stores.webhooks import webhook_url

    url = webhook_url(store, request)
    return url if url.startswith(("http://", "https://")) else None


def register(store, *, request=None, address: str | None = None, repair: bool = False) -> Registration:
    """Make the store's webhooks of ``TOPICS[store.platform]`` deliver to us (module docstring).

    ``address`` overrides the URL (e.g. the health check's last one). ``repair`` re-sends the WooCommerce secret
    to the webhooks it keeps. Records the subscriptions, ``store.webhooks_checked_at`` / ``webhooks_error`` and a
    ``store.webhooks_registered`` event when anything changed or failed. Raises ``NotRegistered`` before any call
    when it cannot start; a store error on one topic is kept in ``failed`` and the others go on; a failure to
    list the webhooks (store unreachable, key without webhook permission) is the outcome's ``error``.
    """
    if not supports_webhooks(store):
        raise NotRegistered(f"{store.get_platform_display()} stores cannot register webhooks from FlashFusion.")
    address = address or delivery_address(store, request)
    if not address:
        _refuse(store, "FlashFusion does not know an address the store can reach: set PUBLIC_BASE_URL (e.g. "
                       "https://flashfusion.example.com), or use “Repair webhooks” on the store page.")
    if not store.webhook_secret:
        if store.platform not in SECRET_PER_WEBHOOK:
            _refuse(store, "Shopify signs webhooks with your app's client secret, which FlashFusion does not have "
                           "yet: enter it as the webhook secret in the store's settings, then use “Repair webhooks” "
                           "on the store page.")
        store.webhook_secret = secrets.token_urlsafe(32)
        store.save(update_fields=["webhook_secret"])
    outcome = Registration(address=address)
    plugin = store.plugin()
    try:
        _reconcile(store, plugin, outcome, repair=repair)
    except StoreError as exc:
        outcome.error = f"the store's webhooks could not be read: {type(exc).__name__}: {exc}"
    finally:
        plugin.close()
    _record(store, outcome)
    return outcome


def _refuse(store, message: str) -> None:
    """Keep why nothing could be registered (the store page shows it), then raise ``NotRegistered``."""
    store.webhooks_checked_at = timezone.now()
    store.webhooks_error = message
    store.save(update_fields=["webhooks_checked_at", "webhooks_error"])
    raise NotRegistered(message)


def _reconcile(store, plugin, outcome: Registration, *, repair: bool) -> None:
    from stores.models import WebhookSubscription

    address = outcome.address
    wanted = TOPICS[store.platform]
    existing = plugin.list_webhooks()
    known_ids = set(WebhookSubscription.objects.filter(store=store).values_list("external_id", flat=True))
    ours = [w for w in existing if w["address"] == address and w["topic"] in wanted]
    # registered by us at another address of ours (the public URL changed): move it, or replace it
    elsewhere = [w for w in existing if w["id"] in known_ids and w["address"] != address and w["topic"] in wanted]
    secret = store.webhook_secret if store.platform in SECRET_PER_WEBHOOK else ""
    for topic in wanted:
        mine = [w for w in ours if w["topic"] == topic]
        try:
            if mine:
                keep, extras = mine[0], mine[1:]
                for extra in extras:
                    plugin.delete_webhook(extra["id"])
                    outcome.removed.append(topic)
                if store.platform in REACTIVATES and (keep["status"] != "active" or repair):
                    keep = plugin.update_webhook(keep["id"], secret=secret)
                    if mine[0]["status"] != "active":
                        outcome.reactivated.append(topic)
                    else:
                        outcome.kept.append(topic)
                else:
                    outcome.kept.append(topic)
                _save(store, keep, address)
                for stale in [w for w in elsewhere if w["topic"] == topic]:
                    plugin.delete_webhook(stale["id"])
                continue
            stale = next((w for w in elsewhere if w["topic"] == topic), None)
            if stale is not None and store.platform in REACTIVATES:
                made = plugin.update_webhook(stale["id"], secret=secret, address=address)
                outcome.moved.append(topic)
            else:
                if stale is not None:
                    plugin.delete_webhook(stale["id"])
                made = plugin.create_webhook(topic, address, secret=secret)
                outcome.created.append(topic)
            _save(store, made, address)
        except StoreError as exc:
            outcome.failed[topic] = f"{type(exc).__name__}: {exc}"
            if not mine:  # nothing of ours for this topic in the store: forget the old record
                WebhookSubscription.objects.filter(store=store, topic=topic).delete()
    WebhookSubscription.objects.filter(store=store).exclude(topic__in=list(wanted)).delete()


def _save(store, hook: dict, address: str) -> None:
    from stores.models import WebhookSubscription

    WebhookSubscription.objects.update_or_create(
        store=store, topic=hook["topic"] or "",
        defaults={"external_id": hook["id"], "address": hook["address"] or address,
                  "status": hook.get("status") or "active", "verified_at": timezone.now()})


def _record(store, outcome: Registration) -> None:
    store.webhooks_checked_at = timezone.now()
    store.webhooks_error = "" if outcome.ok else outcome.summary()[:2000]
    with transaction.atomic():
        store.save(update_fields=["webhooks_checked_at", "webhooks_error"])
        if outcome.changed or not outcome.ok:
            events.publish(
                store.organization_id, "store.webhooks_registered",
                f"{store}: webhooks {outcome.summary()}",
                {"store_id": store.pk, "created": outcome.created, "reactivated": outcome.reactivated,
                 "moved": outcome.moved, "kept": outcome.kept, "removed": outcome.removed,
                 "failed": sorted(outcome.failed)},
            )
    if outcome.changed or not outcome.ok:
        log.info("store %s webhooks at %s: %s", store.pk, outcome.address, outcome.summary())


def check(store) -> str:
    """The health check's part (``stores.services.record_health``): register what is missing at the address
    registered last time (or ``PUBLIC_BASE_URL``); returns a note for the ``HealthCheck`` row ("" when all
    was in place, or when the store has no webhooks to check). Never raises."""
    from stores.models import WebhookSubscription

    if not supports_webhooks(store):
        return ""
    last = WebhookSubscription.objects.filter(store=store).values_list("address", flat=True).first()
    address = delivery_address(store) or last
    if not address:
        return ""
    try:
        outcome = register(store, address=address)
    except NotRegistered as exc:
        return f"webhooks not registered: {exc}"
    if not outcome.ok:
        return f"webhooks: {outcome.summary()}"
    if outcome.changed:
        done = [f"re-created {', '.join(outcome.created)} (missing in the store)" if outcome.created else "",
                f"re-activated {', '.join(outcome.reactivated)}" if outcome.reactivated else "",
                f"moved {', '.join(outcome.moved)} to {address}" if outcome.moved else "",
                f"removed duplicate {', '.join(outcome.removed)}" if outcome.removed else ""]
        return "webhooks: " + "; ".join(part for part in done if part)
    return ""


def unregister(store, subscriptions: list[tuple[str, str]]) -> tuple[list[str], str]:
    """Delete our ``subscriptions`` (``[(topic, store id)]``, read before the store was disconnected) from the
    store, with the credentials of ``store`` (which may already be deleted here); returns ``(topics removed,
    error)``, the error ``""`` when every one went. One already gone counts as removed."""
    if not subscriptions or not supports_webhooks(store):
        return [], ""
    removed = []
    plugin = store.plugin()
    try:
        for topic, external_id in subscriptions:
            plugin.delete_webhook(external_id)
            removed.append(topic)
    except StoreError as exc:
        return removed, f"{type(exc).__name__}: {exc}"
    finally:
        plugin.close()
    return removed, ""
