"""Store actions: test a connection, record health."""

import time

from django.db import transaction
from django.utils import timezone

from flashfusion import events
from stores.choices import Health
from stores.plugins import AuthFailed, StoreError


def test_connection(store) -> float:
    """Make the platform's cheap authenticated read; returns its latency in seconds.

    Raises the plugin's ``StoreError`` subclass when the store is unusable
    (``AuthFailed`` for refused keys, ``Transient`` when unreachable).
    """
    plugin = store.plugin()
    started = time.monotonic()
    try:
        plugin.check()
    finally:
        plugin.close()
    return time.monotonic() - started


def record_health(store) -> None:
    """Run ``test_connection`` and save the outcome on the store (publishes ``store.health``)."""
    try:
        store.health_latency = test_connection(store)
        store.health, store.health_error = Health.HEALTHY, ""
    except AuthFailed as exc:
        store.health, store.health_error, store.health_latency = Health.AUTH_FAILED, str(exc), None
    except StoreError as exc:
        store.health, store.health_error, store.health_latency = Health.FAILING, str(exc), None
    store.health_checked_at = timezone.now()
    with transaction.atomic():
        store.save(update_fields=["health", "health_error", "health_latency", "health_checked_at"])
        events.publish(
            store.organization_id,
            "store.health",
            f"{store}: {store.get_health_display().lower()}",
            {"store_id": store.pk, "quiet": store.health == Health.HEALTHY},
        )


def run_health_check(job) -> dict:
    """Job handler for ``store.health_check``."""
    record_health(job.store)
    return {"health": job.store.health, "latency": job.store.health_latency}
