"""Outgoing webhooks: signed POSTs to every subscription of a topic, from one background thread.

A delivery is ``POST <address>`` with the JSON body Shopify sends (the
product in its REST shape for ``products/update``, ``{"id": ...}`` for
``products/delete``) and these headers (shopify.dev "Webhooks: HTTPS
delivery" and "Verify webhook deliveries")::

    Content-Type: application/json
    X-Shopify-Topic: products/update
    X-Shopify-Hmac-Sha256: base64(HMAC-SHA256(webhook_secret, raw body))
    X-Shopify-Shop-Domain: <shop>.myshopify.com
    X-Shopify-Webhook-Id: <uuid4>          (one per delivery: receivers dedupe on it)
    X-Shopify-Event-Id: <uuid4>            (one per event, shared by its deliveries)
    X-Shopify-Triggered-At: <ISO time>
    X-Shopify-API-Version: <the subscription's version>

Deliveries go out in order from one daemon thread, each with a 5 s timeout
(Shopify's limit for a receiver's answer). Every attempt is recorded as a
``WebhookAttempt``. Shopify retries a failed delivery 8 times over 4 hours;
the emulator makes one attempt (a retry schedule that long has no place in a
demo or a test).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import logging
import queue
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

DELIVERY_TIMEOUT = 5.0


def sign(secret: str, body: bytes) -> str:
    """``X-Shopify-Hmac-Sha256``: base64 of HMAC-SHA256 over the raw body, keyed with the app's secret."""
    return base64.b64encode(hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()).decode("ascii")


@dataclass(frozen=True)
class WebhookAttempt:
    """One delivery attempt: ``status`` is the receiver's HTTP status, ``None`` when none came (see ``error``)."""

    webhook_id: str
    event_id: str
    topic: str
    address: str
    subscription_id: int
    headers: dict[str, str]
    body: bytes
    status: int | None
    error: str | None
    seconds: float
    at: float = field(default_factory=time.time)

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class WebhookSender:
    """The delivery queue and its thread; ``log`` holds every ``WebhookAttempt`` in order."""

    def __init__(self, *, secret: str, shop_domain: str):
        self.secret = secret
        self.shop_domain = shop_domain
        self.log: list[WebhookAttempt] = []
        self._log_lock = threading.Lock()
        self._queue: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="shopify-emulator-webhooks", daemon=True)
        self._thread.start()

    def send(self, topic: str, payload: dict, subscriptions: list[dict]) -> str:
        """Queue one event for every subscription (``{"id", "address", "api_version"}``); returns the event id."""
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        event_id = str(uuid.uuid4())
        triggered = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        for subscription in subscriptions:
            headers = {
                "Content-Type": "application/json",
                "User-Agent": "Shopify-Captain-Hook",
                "X-Shopify-Topic": topic,
                "X-Shopify-Hmac-Sha256": sign(self.secret, body),
                "X-Shopify-Shop-Domain": self.shop_domain,
                "X-Shopify-Webhook-Id": str(uuid.uuid4()),
                "X-Shopify-Event-Id": event_id,
                "X-Shopify-Triggered-At": triggered,
                "X-Shopify-API-Version": subscription["api_version"],
            }
            self._queue.put((topic, subscription, headers, body, event_id))
        return event_id

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued delivery has been attempted; ``False`` if ``timeout`` passed first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._queue.unfinished_tasks == 0:
                return True
            time.sleep(0.01)
        return self._queue.unfinished_tasks == 0

    def stop(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=DELIVERY_TIMEOUT + 1)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                self._deliver(*item)
            except Exception:  # a broken delivery must not end the thread
                log.exception("shopify emulator: webhook delivery failed")
            finally:
                self._queue.task_done()

    def _deliver(self, topic: str, subscription: dict, headers: dict[str, str], body: bytes, event_id: str) -> None:
        started = time.monotonic()
        status, error = None, None
        target = urlsplit(subscription["address"])
        connection_class = http.client.HTTPSConnection if target.scheme == "https" else http.client.HTTPConnection
        connection = connection_class(target.hostname, target.port, timeout=DELIVERY_TIMEOUT)
        try:
            path = (target.path or "/") + (f"?{target.query}" if target.query else "")
            connection.request("POST", path, body=body, headers=headers)  # header names as Shopify writes them
            answer = connection.getresponse()
            answer.read()
            status = answer.status
        except (OSError, http.client.HTTPException) as exc:
            error = str(exc) or type(exc).__name__
        finally:
            connection.close()
        attempt = WebhookAttempt(webhook_id=headers["X-Shopify-Webhook-Id"], event_id=event_id, topic=topic,
                                 address=subscription["address"], subscription_id=subscription["id"],
                                 headers=headers, body=body, status=status, error=error,
                                 seconds=time.monotonic() - started)
        with self._log_lock:
            self.log.append(attempt)
        log.info("webhook %s -> %s: %s", topic, subscription["address"], status or error)
