"""What starts a sync: a store's schedule, an operator's "sync now", and catalog changes (debounced).

Every trigger ends in one ``store.publish`` job whose ``params`` carry
``strategy`` (full / incremental / selective) and ``trigger`` (manual /
schedule / catalog / bulk / conflict); the Sync agent (``agents.sync``) does
the rest.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from agents.choices import JobKind, JobStatus, Priority
from agents.models import Job
from agents.services import enqueue
from stores.choices import SyncStrategy

log = logging.getLogger(__name__)

#: The django-q2 schedule that calls ``run_due_syncs`` every minute (migration agents 0005).
SCHEDULE_NAME = "sync: stores whose automatic sync is due"
SCHEDULE_FUNC = "agents.triggers.run_due_syncs"


def request_sync(
    store,
    *,
    trigger: str,
    strategy: str | None = None,
    product_ids: list[int] | None = None,
    fields: list[str] | None = None,
    debounce: float = 0.0,
    priority: int = Priority.NORMAL,
    actor=None,
) -> Job | None:
    """Queue a sync of ``store``; ``None`` when the store is disabled.

    ``strategy`` defaults to the store's; with ``product_ids`` it is
    selective; ``fields`` (e.g. ``["price", "stock"]``) writes only those
    fields of listed products (``agents.sync.SyncAgent``). With
    ``debounce`` (seconds) the job waits that long, and a
    later request with the same trigger while it still waits pushes it back
    (at most ``settings.SYNC_DEBOUNCE_MAX_SECONDS`` after the first request)
    instead of queuing a second job — a burst of 200 edits costs one sync.
    A waiting job keeps the highest priority asked for.
    """
    if not store.is_enabled:
        return None
    params: dict = {"strategy": strategy or store.sync_strategy, "trigger": trigger}
    if product_ids:
        params.update(strategy=SyncStrategy.SELECTIVE, product_ids=sorted(set(product_ids)))
    if fields:
        params["fields"] = sorted(set(fields))
    if not debounce:
        scope = f":{','.join(params['fields'])}" if fields else ""
        key = f"sync:{store.pk}:{params['strategy']}{scope}:{trigger}" if not product_ids else ""
        return enqueue(store.organization, JobKind.STORE_PUBLISH, store=store, params=params, priority=priority,
                       created_by=actor, idempotency_key=key)
    now = timezone.now()
    with transaction.atomic():
        waiting = (
            Job.objects.select_for_update()
            .filter(store=store, kind=JobKind.STORE_PUBLISH, status=JobStatus.QUEUED, run_after__gt=now,
                    params__trigger=trigger, params__strategy=params["strategy"])
            .order_by("id")
            .first()
        )
        if waiting is not None and not product_ids:
            latest = waiting.created_at + timedelta(seconds=settings.SYNC_DEBOUNCE_MAX_SECONDS)
            Job.objects.filter(pk=waiting.pk).update(
                run_after=min(now + timedelta(seconds=debounce), latest), priority=max(waiting.priority, priority),
                updated_at=now,
            )
            waiting.refresh_from_db()
            return waiting
    return enqueue(store.organization, JobKind.STORE_PUBLISH, store=store, params=params, priority=priority,
                   created_by=actor, run_after=now + timedelta(seconds=debounce))


def sync_listing_stores(product, *, actor=None, stock_only: bool = False) -> list[Job]:
    """A catalog change of ``product``: a debounced incremental sync of each enabled store that lists it.

    Stock-only changes go first: high priority and a shorter wait
    (``SYNC_STOCK_DEBOUNCE_SECONDS``), so an item sold out in one store stops
    selling in the others within seconds.
    """
    from stores.models import Store

    stores = Store.objects.filter(is_enabled=True, listings__product=product).distinct()
    debounce = settings.SYNC_STOCK_DEBOUNCE_SECONDS if stock_only else settings.SYNC_DEBOUNCE_SECONDS
    priority = Priority.HIGH if stock_only else Priority.NORMAL
    jobs = []
    for store in stores:
        job = request_sync(store, trigger="catalog", strategy=SyncStrategy.INCREMENTAL, debounce=debounce,
                           priority=priority, actor=actor)
        if job is not None:
            jobs.append(job)
    return jobs


def due_stores(now=None):
    """Enabled stores with automatic sync on whose interval has passed since their last sync (or never synced)."""
    from stores.models import Store

    now = now or timezone.now()
    due = []
    for store in Store.objects.filter(is_enabled=True, auto_sync=True):
        if store.last_synced_at is None or store.last_synced_at + timedelta(seconds=store.sync_interval) <= now:
            due.append(store)
    return due


def run_due_syncs() -> int:
    """Schedule entry point: queue the sync of every store that is due; returns how many were queued.

    Idempotent per store: a scheduled sync still queued or running is not queued twice.
    """
    queued = 0
    for store in due_stores():
        if request_sync(store, trigger="schedule") is not None:
            queued += 1
    return queued
