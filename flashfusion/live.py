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
import threading
import time

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
    """Queue one committed event for its organization's group (Redis mode); sent within ``BROADCAST_WINDOW``.

    A background thread per process sends what queued up in one message per
    organization, rendering each job, store or request once at its latest
    state and the KPI cards once: a burst of 2,000 job events costs a few
    renders, not 6,000, and the writer (a worker running jobs) never waits
    for rendering.
    """
    _broadcaster.add(event_id)


#: Seconds the broadcaster waits to gather a burst before sending it.
BROADCAST_WINDOW = 0.05


def render_batch(events: list[Event]) -> list[tuple[str, str]]:
    """Fragments for several events of one organization: feed lines in order, each object and the KPIs once."""
    from agents.live import render_job_fragments
    from approvals.live import render_approval_fragments
    from dashboard.services import render_kpis
    from stores.live import render_store_fragments

    parts, jobs, stores, approvals, loud = [], {}, {}, {}, False
    for event in events:
        payload = event.payload or {}
        if not payload.get("quiet"):
            loud = True
            parts.append(("feed", render_to_string("dashboard/partials/event_oob.html", {"event": event})))
        for key, seen in (("job_id", jobs), ("store_id", stores), ("approval_id", approvals)):
            if key in payload:
                seen[payload[key]] = True
    for job_id in jobs:
        parts += render_job_fragments(job_id)
    for store_id in stores:
        parts += render_store_fragments(store_id)
    for approval_id in approvals:
        parts += render_approval_fragments(approval_id)
    if loud:
        parts.append(("kpis", render_kpis(events[-1].organization_id, oob=True)))
    return parts


def send_batch(event_ids: list[int]) -> None:
    """Render and send ``event_ids`` (committed events), one message per organization."""
    by_org: dict[int, list[Event]] = {}
    for event in Event.objects.filter(pk__in=event_ids).order_by("pk"):
        by_org.setdefault(event.organization_id, []).append(event)
    layer = get_channel_layer()
    for organization_id, events in by_org.items():
        message = {"type": "live.html", "parts": render_batch(events), "event_id": events[-1].pk}
        async_to_sync(layer.group_send)(group_name(organization_id), message)


class _Broadcaster:
    def __init__(self):
        self._pending: list[int] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, event_id: int) -> None:
        with self._lock:
            self._pending.append(event_id)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="live-broadcaster", daemon=True)
                self._thread.start()
        self._wake.set()

    def _loop(self) -> None:
        from django.db import connections

        while True:
            self._wake.wait()
            time.sleep(BROADCAST_WINDOW)
            with self._lock:
                batch, self._pending = self._pending, []
                self._wake.clear()
            try:
                send_batch(batch)
            except Exception:  # a page can catch up from the table; never let the thread die
                log.exception("could not broadcast events %s…", batch[:5])
            finally:
                connections.close_all()  # this thread's own connection: hold none while idle

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything queued so far was sent (tests); False after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not self._pending and not self._wake.is_set():
                    return True
            time.sleep(0.01)
        return False


_broadcaster = _Broadcaster()


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
