import logging
import threading

from django.apps import AppConfig

log = logging.getLogger(__name__)


class AgentsConfig(AppConfig):
    name = "agents"

    def ready(self):
        from django_q.signals import post_spawn

        post_spawn.connect(start_keeper, dispatch_uid="agents-keeper")


def start_keeper(sender=None, proc_name: str = "", **kwargs) -> threading.Thread:
    """In each django-q2 worker process: a daemon thread that runs ``agents.runner.sweep`` every few seconds.

    django-q2's own scheduler looks at schedules only every 30 s, too coarse
    for a 5 s backoff or for taking back a job whose worker died; this thread
    takes back expired leases and wakes a worker when a backoff has passed.
    Interval: a third of the lease, at most 2 s (one cheap indexed query).
    """
    from django.conf import settings
    from django.db import connections

    from agents.runner import sweep

    interval = min(2.0, max(0.5, settings.JOB_LEASE_SECONDS / 3))
    stop = threading.Event()

    def loop():
        while not stop.wait(interval):
            try:
                sweep()
            except Exception:  # never let the keeper die: log and try again next round
                log.exception("job keeper: sweep failed")
                connections.close_all()

    thread = threading.Thread(target=loop, name=f"job-keeper-{proc_name}", daemon=True)
    thread.stop = stop
    thread.start()
    return thread
