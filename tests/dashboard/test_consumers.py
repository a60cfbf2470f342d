"""The live consumer when a page is left mid-push, through the real ASGI app.

daphne delivers ``websocket.disconnect`` only once the TCP connection is gone;
from the page's close handshake until then, a send is refused with autobahn's
``Disconnected`` ("Attempt to send on a closed protocol"). A consumer that let
it escape ended with an exception, which daphne logs as an error with a
traceback. The server side is the one part replaced here: ``leaving_page``
refuses sends as daphne does once the page started closing.
"""

import asyncio
import logging

import pytest
from autobahn.exception import Disconnected
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from flashfusion import events
from flashfusion.asgi import application
from tests.dashboard.test_live import _headers, _receive_until

pytestmark = pytest.mark.django_db(transaction=True)


class LeavingPage:
    """The real ASGI app behind a server that refuses sends once ``closing`` is set (as daphne does)."""

    def __init__(self, app):
        self.app = app
        self.closing = False
        self.refused = 0

    async def __call__(self, scope, receive, send):
        async def server_send(message):
            if self.closing and message["type"] == "websocket.send":
                self.refused += 1
                raise Disconnected("Attempt to send on a closed protocol")
            await send(message)

        return await self.app(scope, receive, server_send)


def test_leaving_a_page_mid_push_logs_nothing_at_error_level(org, operator, caplog):
    headers = _headers(operator)
    server = LeavingPage(application)

    async def scenario():
        communicator = WebsocketCommunicator(server, "/ws/live/?regions=feed,kpis", headers=headers)
        assert (await communicator.connect())[0]
        await asyncio.sleep(0.5)  # the relay (embedded mode) starts from the newest row
        await database_sync_to_async(events.publish)(org.pk, "test.first", "first news")
        await _receive_until(communicator, "first news")
        server.closing = True  # the page is leaving: its close handshake started
        for n in range(5):
            await database_sync_to_async(events.publish)(org.pk, "test.burst", f"burst {n}")
        for _ in range(50):
            if server.refused:
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.8)  # more relay polls: nothing more is sent to the closed socket
        assert server.refused == 1
        assert not communicator.future.done(), "the consumer crashed on the refused send"
        await communicator.disconnect()  # the TCP connection is gone: daphne says so now
        return communicator.future

    with caplog.at_level(logging.DEBUG):
        future = asyncio.run(scenario())
    assert future.done() and not future.cancelled() and future.exception() is None
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
