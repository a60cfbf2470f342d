"""The one way to record that something happened.

``publish`` writes an ``Event`` row in the caller's transaction. Fan-out to
websockets happens after commit: with Redis the writing process sends it
itself; without Redis the web process's relay reads new rows from the table
(``flashfusion.live``), because the in-memory layer cannot cross processes.
"""

from django.conf import settings
from django.db import transaction

from flashfusion.models import Event


def publish(organization_id: int, topic: str, message: str, payload: dict | None = None, *, actor=None) -> Event:
    """Record an event; it reaches open pages after the surrounding transaction commits.

    ``topic`` is dotted (``job.changed``); ``message`` is one human line for
    the activity feed (cut to 300 characters); ``payload`` is JSON-safe.
    """
    event = Event.objects.create(
        organization_id=organization_id,
        topic=topic,
        message=message[:300],
        payload=payload or {},
        actor=actor if actor is not None and actor.is_authenticated else None,
    )
    if settings.REDIS_URL:
        from flashfusion import live

        transaction.on_commit(lambda: live.broadcast(event.pk), robust=True)
    return event
