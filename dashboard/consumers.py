"""The websocket every page opens: authorize, join the organization's group, forward."""

import json
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from flashfusion import live
from flashfusion.models import current_membership


class LiveConsumer(AsyncWebsocketConsumer):
    """Pushes server-rendered htmx fragments to one signed-in user's page.

    The page names the regions it shows in the query string
    (``/ws/live/?regions=feed,kpis,jobs``; see ``live.render_event``) and
    receives only those fragments, plus its event cursor. Anonymous users
    and users without an organization are refused (close codes 4401/4403).
    A client message ``{"resume": <event id>}`` replays what it missed while
    disconnected.
    """

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
        html = "".join(fragment for region, fragment in parts if region in self.regions)
        await self.send(text_data=html + live.cursor_html(event_id))

    @database_sync_to_async
    def _organization_id(self, user):
        session = self.scope.get("session") or {}
        membership = current_membership(user, session.get("organization_id"))
        return membership.organization_id if membership else None
