"""The only module that talks to Channels: renders events as htmx fragments and sends them.

Every websocket message is a run of out-of-band fragments (``hx-swap-oob``)
that htmx swaps into whatever page is open: the activity feed, the KPI cards,
a job's row or summary, a store's row. Targets a page lacks are ignored.

Delivery: with Redis (``REDIS_URL``) the process that wrote the event sends
it after commit (``broadcast``). Without Redis, each web process runs one
``EventRelay`` that reads new rows from the event table and sends them,
because the in-memory channel layer cannot cross processes. Channels
delivers at most once, so a page that reconnects asks to resume after the
last event id it saw (``render_since``).
"""

import asyncio
import logging

from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.template.loader import render_to_string

from flashfusion.models import Event

log = logging.getLogger(__name__)

#: Most events replayed to a page that reconnects; older gaps reload the feed.
MAX_REPLAY = 200


def group_name(organization_id: int) -> str:
    """Channels group of one organization's open pages."""
    return f"org-{organization_id}"


def render_event(event: Event, *, with_kpis: bool = True) -> list[tuple[str, str]]:
    """Out-of-band fragments that bring a page up to date with ``event``, as ``[(region, html)]``.

    Regions: "feed" (activity feed), "kpis" (KPI cards), "jobs" (a signal that
    reloads job tables), "job:<id>" (one job's summary), "stores" (a signal
    that reloads store tables), "approvals" (a signal that reloads approval
    tables), "approval:<id>" (one request's status card). A page subscribes
    to the regions it shows, so it never receives fragments without a target.
    """
    from agents.live import render_job_fragments
    from approvals.live import render_approval_fragments
    from dashboard.services import render_kpis
    from stores.live import render_store_fragments

    payload = event.payload or {}
    parts = []
    if not payload.get("quiet"):
        parts.append(("feed", render_to_string("dashboard/partials/event_oob.html", {"event": event})))
        if with_kpis:
            parts.append(("kpis", render_kpis(event.organization_id, oob=True)))
    if "job_id" in payload:
        parts += render_job_fragments(payload["job_id"])
    if "store_id" in payload:
        parts += render_store_fragments(payload["store_id"])
    if "approval_id" in payload:
        parts += render_approval_fragments(payload["approval_id"])
    return parts


def cursor_html(event_id: int) -> str:
    """The page's record of the last event it received (sent with every message)."""
    return render_to_string("partials/live_cursor.html", {"event_id": event_id})


def render_since(organization_id: int, after_id: int) -> tuple[list[tuple[str, str]], int]:
    """Fragments for every event after ``after_id`` (at most ``MAX_REPLAY``) plus fresh KPIs,
    and the id of the last event included (``after_id`` when none)."""
    from dashboard.services import render_kpis

    events = list(
        Event.objects.filter(organization_id=organization_id, pk__gt=after_id).order_by("pk")[:MAX_REPLAY]
    )
    if not events:
        return [], after_id
    parts = [part for e in events for part in render_event(e, with_kpis=False)]
    parts.append(("kpis", render_kpis(organization_id, oob=True)))
    return parts, events[-1].pk


def _message(event: Event, *, with_kpis: bool = True) -> dict:
    return {"type": "live.html", "parts": render_event(event, with_kpis=with_kpis), "event_id": event.pk}


def broadcast(event_id: int) -> None:
    """Send one event to its organization's group (called after commit, Redis mode)."""
    event = Event.objects.filter(pk=event_id).first()
    if event is None:
        return
    try:
        async_to_sync(get_channel_layer().group_send)(group_name(event.organization_id), _message(event))
    except Exception:  # a page can catch up from the table; never fail the writer
        log.exception("could not broadcast event %s", event_id)


class EventRelay:
    """Relays rows of the event table to the channel layer, once per web process (no Redis).

    Polls every ``settings.EVENT_RELAY_INTERVAL`` seconds for ids above the
    last one sent; started by the first websocket that connects.
    """

    _task: asyncio.Task | None = None

    @classmethod
    def ensure_running(cls) -> None:
        if settings.REDIS_URL:
            return
        loop = asyncio.get_running_loop()
        if cls._task is None or cls._task.done() or cls._task.get_loop() is not loop:
            cls._task = loop.create_task(cls._run())

    @classmethod
    async def _run(cls) -> None:
        layer = get_channel_layer()
        last_id = await sync_to_async(_max_event_id)()
        while True:
            await asyncio.sleep(settings.EVENT_RELAY_INTERVAL)
            try:
                batch = await sync_to_async(_events_after)(last_id)
                for event_id, organization_id, message in batch:
                    await layer.group_send(group_name(organization_id), message)
                    last_id = event_id
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("event relay failed; retrying")


def _max_event_id() -> int:
    last = Event.objects.order_by("-pk").values_list("pk", flat=True).first()
    return last or 0


def _events_after(last_id: int) -> list[tuple[int, int, dict]]:
    events = list(Event.objects.filter(pk__gt=last_id).order_by("pk")[:MAX_REPLAY])
    # KPI cards are state, not deltas: render them once per organization per poll.
    last_of_org = {e.organization_id: e.pk for e in events}
    return [(e.pk, e.organization_id, _message(e, with_kpis=last_of_org[e.organization_id] == e.pk)) for e in events]
