"""Shopify webhooks: verifying a delivery's signature, and the app's subscriptions in the shop
(``WebhookSubscriptions``, a part of ``ShopifyPlugin``)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable
from typing import Any

from stores.plugins import NotFound, Rejected, Transient


def verify_webhook(body: bytes, hmac_header: str, secrets: Iterable[str]) -> bool:
    """True when ``X-Shopify-Hmac-SHA256`` (base64 HMAC-SHA256 of the raw body) matches one of ``secrets``.

    Pass the current and, within an hour of a rotation, the previous secret
    (shopify.dev webhook verification). Constant-time comparison.
    """
    given = (hmac_header or "").strip().encode()
    if not given:
        return False
    for secret in secrets:
        if not secret:
            continue
        digest = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest())
        if hmac.compare_digest(digest, given):
            return True
    return False


#: ``webhookSubscriptions`` of the topics we register, 25 a page: ``WebhookSubscriptionConnection`` per
#: shopify.dev (``nodes { id topic uri }``; ``uri`` is the unified endpoint field that replaced ``callbackUrl``,
#: shopify.dev changelog "webhookSubscriptionCreate and webhookSubscriptionUpdate support all URI types").
WEBHOOKS_QUERY = """
query FlashFusionWebhooks($topics: [WebhookSubscriptionTopic!], $after: String) {
  webhookSubscriptions(first: 25, after: $after, topics: $topics) {
    nodes { id topic uri }
    pageInfo { hasNextPage endCursor }
  }
}
"""
WEBHOOK_CREATE = """
mutation FlashFusionWebhookCreate($topic: WebhookSubscriptionTopic!, $subscription: WebhookSubscriptionInput!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $subscription) {
    webhookSubscription { id topic uri }
    userErrors { field message }
  }
}
"""
WEBHOOK_DELETE = """
mutation FlashFusionWebhookDelete($id: ID!) {
  webhookSubscriptionDelete(id: $id) { deletedWebhookSubscriptionId userErrors { field message } }
}
"""


def graphql_topic(topic: str) -> str:
    """``products/update`` (the REST and webhook-header spelling) → ``PRODUCTS_UPDATE`` (GraphQL's
    ``WebhookSubscriptionTopic``), and back with ``rest_topic``."""
    return topic.replace("/", "_").upper()


def rest_topic(topic: str) -> str:
    """``PRODUCTS_UPDATE`` → ``products/update`` (the resource is everything before the last ``_``)."""
    resource, _, action = topic.lower().rpartition("_")
    return f"{resource}/{action}"


class WebhookSubscriptions:
    """The app's webhook subscriptions in the shop (GraphQL ``webhookSubscriptions``,
    ``webhookSubscriptionCreate``, ``webhookSubscriptionDelete``; shopify.dev), for
    ``stores.webhook_registration``. Each is ``{"id": GID, "topic": "products/update", "address", "status"}``;
    Shopify subscriptions have no paused state, so ``status`` is always ``"active"``. Shopify signs every
    delivery with the app's client secret: a subscription takes no secret of its own.
    """

    def list_webhooks(self, topics: Iterable[str] = ()) -> list[dict]:
        """The subscriptions of ``topics`` (``products/update`` spelling; all when empty), every page."""
        variables: dict[str, Any] = {"topics": [graphql_topic(t) for t in topics] or None, "after": None}
        found = []
        while True:
            data = self.client.graphql(WEBHOOKS_QUERY, variables, cost=3)
            page = data.get("webhookSubscriptions") or {}
            found += [_subscription(node) for node in page.get("nodes") or []]
            info = page.get("pageInfo") or {}
            if not info.get("hasNextPage") or not info.get("endCursor"):
                return found
            variables["after"] = info["endCursor"]

    def create_webhook(self, topic: str, address: str, *, secret: str = "", name: str = "") -> dict:
        """``webhookSubscriptionCreate`` of ``topic`` (``products/update``) to ``address``, JSON format.
        ``secret`` and ``name`` are not Shopify's to take (the app's client secret signs)."""
        data = self.client.graphql(WEBHOOK_CREATE, {"topic": graphql_topic(topic),
                                                    "subscription": {"uri": address, "format": "JSON"}}, cost=10)
        return _subscription((data.get("webhookSubscriptionCreate") or {}).get("webhookSubscription"))

    def update_webhook(self, webhook_id: str, *, secret: str | None = None, address: str | None = None) -> dict:
        """Shopify subscriptions need no re-activation and take no secret: nothing to send."""
        raise NotImplementedError("Shopify webhook subscriptions are re-created, not updated")

    def delete_webhook(self, webhook_id: str) -> None:
        """``webhookSubscriptionDelete``; one already gone is no error."""
        try:
            self.client.graphql(WEBHOOK_DELETE, {"id": webhook_id}, cost=10)
        except (NotFound, Rejected) as exc:
            if isinstance(exc, Rejected) and "not exist" not in str(exc).lower():
                raise


def _subscription(node: Any) -> dict:
    if not isinstance(node, dict) or not node.get("id"):
        raise Transient("a webhook subscription answer without an id", status=200, code="bad_shape")
    return {"id": str(node["id"]), "topic": rest_topic(str(node.get("topic") or "")),
            "address": str(node.get("uri") or ""), "status": "active"}
