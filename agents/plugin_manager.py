"""Plugin Manager agent: keeps every enabled store's health current.

Every minute (a django-q2 ``Schedule`` created by migration
``agents/0003_plugin_manager_schedule``) ``run_due_health_checks`` queues a
``store.health_check`` job for each enabled store whose last check is older
than its ``health_check_interval`` (seconds, default 300) or that was never
checked. The job (``stores.services.run_health_check``) makes the platform's
cheap authenticated read through the store's rate limiter and breaker, writes
a ``HealthCheck`` row, keeps the store's ``health*`` fields current, and
disables a store whose credentials were refused when it asks for that. A
store that answered also has its webhooks verified
(``stores.webhook_registration.check``): ours must exist in the store, deliver
to us, cover every product topic and be active; one deleted in the store is
re-created, one WooCommerce disabled is re-activated, and the row's ``notes``
and a ``store.webhooks_registered`` event say so.

Like every agent it calls no other agent: it only creates jobs. The
idempotency key ``health:<store id>`` means a store never has more than one
unfinished check, however late the workers run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.utils import timezone

from agents.choices import JobKind, Priority

log = logging.getLogger(__name__)

#: Name of the django-q2 schedule that runs ``run_due_health_checks`` (created by migration 0003).
SCHEDULE_NAME = "plugin-manager: store health checks"
SCHEDULE_FUNC = "agents.plugin_manager.run_due_health_checks"
#: Minutes between two runs of the schedule.
SCHEDULE_MINUTES = 1
#: Seconds between checks of a store that failed its last one: a store that recovered stops showing
#: "Failing" within about a minute (the schedule's own period), not after its full interval.
RECOVERY_INTERVAL = 60


def health_check_key(store_id: int) -> str:
    """Idempotency key of a store's health-check job: one unfinished check per store."""
    return f"health:{store_id}"


@dataclass
class PluginManager:
    """One pass: find the stores due for a health check (``due``) and queue their checks (``run``).

    ``now`` (aware UTC) is fixed for the pass so every store is judged
    against the same moment; ``queued`` holds ``(store id, job id)`` after ``run``.
    """

    now: datetime = field(default_factory=timezone.now)
    queued: list[tuple[int, int]] = field(default_factory=list)

    def due(self) -> list:
        """Enabled stores never checked, or last checked ``health_check_interval`` seconds ago or more — or
        ``RECOVERY_INTERVAL`` seconds for a store whose last check failed, so its recovery shows soon."""
        from stores.choices import Health
        from stores.models import Store

        stores = Store.objects.filter(is_enabled=True).select_related("organization").order_by("pk")
        due = []
        for store in stores:
            last = store.health_checked_at
            interval = store.health_check_interval or 300
            if store.health in (Health.FAILING, Health.AUTH_FAILED):
                interval = min(interval, RECOVERY_INTERVAL)
            if last is None or self.now - last >= timedelta(seconds=interval):
                due.append(store)
        return due

    def run(self) -> list[tuple[int, int]]:
        """Queue one ``store.health_check`` job per due store; returns ``[(store id, job id)]``.

        A store whose previous check is still queued or running gets that job
        back from ``enqueue`` (same idempotency key), not a second one.
        """
        from agents.services import enqueue

        for store in self.due():
            job = enqueue(store.organization, JobKind.STORE_HEALTH, store=store, priority=Priority.NORMAL,
                          idempotency_key=health_check_key(store.pk), max_attempts=1)
            self.queued.append((store.pk, job.pk))
            log.info("plugin manager: store %s last checked %s, interval %s s -> health check job %s",
                     store.pk, store.health_checked_at.isoformat() if store.health_checked_at else "never",
                     store.health_check_interval, job.pk)
        return self.queued


def run_due_health_checks() -> int:
    """Schedule entry point: queue the due health checks; returns how many stores were due."""
    return len(PluginManager().run())
