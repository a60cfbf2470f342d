"""The websocket every page opens: authorize, join the organization's group, forward."""

import json
import logging
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from flashfusion import live
from flashfusion.models import current_membership

log = logging.getLogger(__name__)

try:  # daphne's websockets are autobahn's
    from autobahn.exception import Disconnected as _AutobahnDisconnected
except ImportError:  # pragma: no cover - daphne (and so autobahn) is in requirements.lock
    _AutobahnDisconnected = OSError

#: What the server raises when we send on a socket the page already closed. The ASGI spec asks for an
#: ``OSError`` subclass (uvicorn's ``ClientDisconnected``); daphne raises autobahn's ``Disconnected`` from the
#: page's close handshake until the TCP connection is gone, and only then delivers ``websocket.disconnect``.
CLOSED_SOCKET_ERRORS = (OSError, _AutobahnDisconnected)


class LiveConsumer(AsyncWebsocketConsumer):
    """Pushes server-rendered htmx fragments to one signed-in user's page.

    The page names the regions it shows in the query string
    (``/ws/live/?regions=feed,kpis,jobs``; see ``live.render_event``) and
    receives only those fragments, plus its event cursor. Anonymous users
    and users without an organization are refused (close codes 4401/4403).
    A client message ``{"resume": <event id>}`` replays what it missed while
    disconnected.

    A page left mid-push closes its socket while messages are still queued
    for it: the first send the server refuses ends the forwarding quietly
    (``CLOSED_SOCKET_ERRORS``) instead of crashing the consumer, which daphne
    would log as an error with a traceback.
    """

    closed = False

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        self.organization_id = await self._organization_id(user)
        if self.organization_id is None:
            await self.close(code=4403)
            return
        query = parse_qs(self.scope.get("query_string", b"").decode())
        self.regions = {r for value in query.get("regions", []) for r in value.split(",") if r}
        self.group = live.group_name(self.organization_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        live.EventRelay.ensure_running()
        await self.accept()

    async def disconnect(self, code):
        if getattr(self, "group", None):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        try:
            after = int(json.loads(text_data or "{}").get("resume"))
        except (TypeError, ValueError, AttributeError):
            return
        parts, last_id = await database_sync_to_async(live.render_since)(self.organization_id, after)
        if parts:
            await self._send_parts(parts, last_id)

    async def live_html(self, message):
        await self._send_parts(message["parts"], message["event_id"])

    async def _send_parts(self, parts, event_id: int):
        if self.closed:
            return
        html = "".join(fragment for region, fragment in parts if region in self.regions)
        try:
            await self.send(text_data=html + live.cursor_html(event_id))
        except CLOSED_SOCKET_ERRORS as exc:
            # The page went away; it resumes from its cursor if it comes back. Stop taking group messages now:
            # the server says "disconnect" only once the TCP connection is gone.
            self.closed = True
            log.debug("live socket closed by the page before event %s reached it: %s", event_id, exc)
            await self.channel_layer.group_discard(self.group, self.channel_name)

    @database_sync_to_async
    def _organization_id(self, user):
        session = self.scope.get("session") or {}
        membership = current_membership(user, session.get("organization_id"))
        return membership.organization_id if membership else None
