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
    (``AuthFailed`` for refused keys, ``Transient`` when unreachable,
    ``CircuitOpen`` while the store's breaker is open). A saved store's call
    goes through its rate limiter and breaker (``stores.limits.gate_for``);
    an unsaved one (the connect form's candidate) through an ``OpenGate``,
    since it has no bucket or breaker row yet.
    """
    plugin = store.plugin()
    started = time.monotonic()
    try:
        plugin.check()
    finally:
        plugin.close()
    return time.monotonic() - started


def record_health(store):
    """Run ``test_connection`` and keep the outcome; returns the new ``HealthCheck`` row.

    A store that answered also has its webhooks verified
    (``stores.webhook_registration.check``: ours exist, point at us, are
    active; missing ones are re-created), what that did noted on the row.
    In one transaction: a ``HealthCheck`` row (``ok``, ``health``,
    ``latency`` in seconds for an answered check, ``error``, ``notes``), the store's
    ``health*`` fields, and a ``store.health`` event. When the store refused
    the credentials (``AuthFailed``) and ``disable_on_auth_failure`` is set,
    the store is disabled (``is_enabled = False``: no new publish jobs, no
    scheduled checks) and a ``store.disabled`` event says why.
    """
    from stores.models import HealthCheck

    disable = False
    try:
        store.health_latency = test_connection(store)
        store.health, store.health_error = Health.HEALTHY, ""
    except AuthFailed as exc:
        store.health, store.health_error, store.health_latency = Health.AUTH_FAILED, str(exc), None
        disable = store.disable_on_auth_failure and store.is_enabled
    except StoreError as exc:
        store.health, store.health_error, store.health_latency = Health.FAILING, str(exc), None
    notes = ""
    if store.health == Health.HEALTHY and store.pk:
        from stores.webhook_registration import check as check_webhooks

        notes = check_webhooks(store)
    store.health_checked_at = timezone.now()
    fields = ["health", "health_error", "health_latency", "health_checked_at"]
    with transaction.atomic():
        check = HealthCheck.objects.create(store=store, ok=store.health == Health.HEALTHY, health=store.health,
                                           latency=store.health_latency, error=store.health_error, notes=notes)
        store.health_checked_at = check.checked_at
        if disable:
            store.is_enabled = False
            fields.append("is_enabled")
        store.save(update_fields=fields)
        events.publish(
            store.organization_id,
            "store.health",
            f"{store}: {store.get_health_display().lower()}",
            {"store_id": store.pk, "quiet": store.health == Health.HEALTHY, "latency": store.health_latency},
        )
        if disable:
            events.publish(
                store.organization_id,
                "store.disabled",
                f"{store}: store disabled: credentials refused",
                {"store_id": store.pk, "error": store.health_error[:200]},
            )
    return check


def record_connect_check(store, latency: float):
    """Keep the test call a connect or a credentials change made (``latency`` seconds) as the store's health
    check: a ``HealthCheck`` row and the store's ``health*`` fields, in the caller's transaction. Returns the row.

    So the store page's history starts with the call that proved the credentials, instead of saying "no
    health checks recorded yet" beside a latency.
    """
    from stores.models import HealthCheck

    check = HealthCheck.objects.create(store=store, ok=True, health=Health.HEALTHY, latency=latency, error="")
    store.health, store.health_error, store.health_latency = Health.HEALTHY, "", latency
    store.health_checked_at = check.checked_at
    store.save(update_fields=["health", "health_error", "health_latency", "health_checked_at"])
    return check


def run_health_check(job) -> dict:
    """Job handler for ``store.health_check``: ``{"health", "latency" (seconds or None), "enabled"}``."""
    record_health(job.store)
    return {"health": job.store.health, "latency": job.store.health_latency, "enabled": job.store.is_enabled}
