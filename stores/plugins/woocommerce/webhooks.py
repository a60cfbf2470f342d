"""The store's webhooks, REST ``/wc/v3/webhooks`` (``WebhookSubscriptions``, a part of
``WooCommercePlugin``)."""

from __future__ import annotations

from typing import Any

from stores.plugins import NotFound, Transient

#: What WooCommerce calls a webhook's state (``wc_get_webhook_statuses``, WooCommerce source); it disables one
#: that failed more than 5 deliveries in a row (``WC_Webhook::failed_delivery``).
WEBHOOK_STATUSES = ("active", "paused", "disabled")


class WebhookSubscriptions:
    """The store's webhooks (REST ``/wc/v3/webhooks``; WooCommerce REST API docs), for
    ``stores.webhook_registration``. Each is ``{"id": str, "topic", "address", "status"}``: ``address`` is the
    delivery URL, ``status`` one of ``WEBHOOK_STATUSES``. The secret is write-only: WooCommerce never shows it.
    """

    def list_webhooks(self) -> list[dict]:
        """Every webhook of the site, any status (``GET webhooks?status=all``, every page)."""
        return [_webhook(item) for item in self.client.paginate("webhooks", {"status": "all"})]

    def create_webhook(self, topic: str, address: str, *, secret: str, name: str = "") -> dict:
        """``POST webhooks`` an active webhook of ``topic`` (e.g. ``product.updated``) delivering to ``address``,
        signed with ``secret`` (``X-WC-Webhook-Signature``). WooCommerce pings ``address`` once on creation."""
        return _webhook(self.client.post("webhooks", json={
            "name": name or f"FlashFusion {topic}", "topic": topic, "delivery_url": address, "secret": secret,
            "status": "active"}))

    def update_webhook(self, webhook_id: str, *, secret: str | None = None, address: str | None = None) -> dict:
        """``PUT webhooks/<id>``: active again (which also resets its failure count), with a new ``secret`` and
        ``address`` when given."""
        body: dict[str, str] = {"status": "active"}
        if secret:
            body["secret"] = secret
        if address:
            body["delivery_url"] = address
        return _webhook(self.client.put(f"webhooks/{webhook_id}", json=body))

    def delete_webhook(self, webhook_id: str) -> None:
        """``DELETE webhooks/<id>?force=true`` (webhooks cannot be trashed); one already gone is no error."""
        try:
            self.client.delete(f"webhooks/{webhook_id}", params={"force": "true"})
        except NotFound:
            return


def _webhook(body: Any) -> dict:
    if not isinstance(body, dict) or body.get("id") in (None, ""):
        raise Transient("a webhook answer without an id", status=None)
    return {"id": str(body["id"]), "topic": str(body.get("topic") or ""),
            "address": str(body.get("delivery_url") or ""), "status": str(body.get("status") or "")}
