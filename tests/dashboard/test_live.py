"""The live websocket through the real ASGI app: auth, org scoping, push from the event table, resume."""

import asyncio
import json

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from agents.services import enqueue
from flashfusion import events
from flashfusion.asgi import application
from flashfusion.models import Event

pytestmark = pytest.mark.django_db(transaction=True)


def _headers(user=None):
    headers = [(b"origin", b"http://localhost"), (b"host", b"localhost")]
    if user is not None:
        client = Client()
        client.force_login(user)
        cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
        headers.append((b"cookie", cookie.encode()))
    return headers


async def _receive_until(communicator, needle: str, timeout: float = 5.0) -> str:
    """Read messages until one contains ``needle``; fail after ``timeout`` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        remaining = deadline - asyncio.get_running_loop().time()
        if remaining <= 0:
            raise AssertionError(f"no message containing {needle!r} within {timeout} s")
        message = await communicator.receive_from(timeout=remaining)
        if needle in message:
            return message


def test_it_refuses_anonymous():
    async def scenario():
        communicator = WebsocketCommunicator(application, "/ws/live/", headers=_headers())
        connected, code = await communicator.connect()
        assert not connected and code == 4401

    asyncio.run(scenario())


def test_event_written_elsewhere_reaches_the_page(org, operator):
    headers = _headers(operator)

    async def scenario():
        communicator = WebsocketCommunicator(application, "/ws/live/?regions=feed,kpis,jobs", headers=headers)
        connected, _ = await communicator.connect()
        assert connected
        await asyncio.sleep(0.5)  # the relay (embedded mode) starts from the newest row
        job = await database_sync_to_async(enqueue)(org, "store.health_check")
        message = await _receive_until(communicator, "job #%d queued" % job.pk)
        assert 'id="live-signal-jobs-changed"' in message
        assert 'id="kpi-cards"' in message and 'hx-swap-oob="true"' in message
        await communicator.disconnect()

    asyncio.run(scenario())


def test_other_organizations_events_do_not_arrive(org, operator, other_org):
    headers = _headers(operator)

    async def scenario():
        communicator = WebsocketCommunicator(application, "/ws/live/?regions=feed,kpis,jobs", headers=headers)
        assert (await communicator.connect())[0]
        await asyncio.sleep(0.5)
        await database_sync_to_async(events.publish)(other_org.pk, "test.secret", "rival secret")
        await database_sync_to_async(events.publish)(org.pk, "test.mine", "my news")
        message = await _receive_until(communicator, "my news")
        assert "rival secret" not in message
        await communicator.disconnect()

    asyncio.run(scenario())


def test_reconnecting_page_resumes_after_its_last_event(org, operator):
    first = events.publish(org.pk, "test.one", "missed one")
    events.publish(org.pk, "test.two", "missed two")

    headers = _headers(operator)

    async def scenario():
        communicator = WebsocketCommunicator(application, "/ws/live/?regions=feed,kpis,jobs", headers=headers)
        assert (await communicator.connect())[0]
        await communicator.send_to(text_data=json.dumps({"resume": first.pk - 1}))
        message = await _receive_until(communicator, "missed two")
        assert "missed one" in message
        last = await database_sync_to_async(lambda: Event.objects.order_by("-pk").first().pk)()
        assert f'data-event-id="{last}"' in message
        await communicator.disconnect()

    asyncio.run(scenario())


def test_a_page_gets_only_the_regions_it_shows(org, operator):
    headers = _headers(operator)

    async def scenario():
        communicator = WebsocketCommunicator(application, "/ws/live/?regions=stores", headers=headers)
        assert (await communicator.connect())[0]
        await asyncio.sleep(0.5)
        await database_sync_to_async(events.publish)(org.pk, "test.news", "feed only news")
        message = await communicator.receive_from(timeout=5)
        assert "feed only news" not in message and "kpi-cards" not in message
        assert 'id="live-cursor"' in message  # the cursor still advances
        await communicator.disconnect()

    asyncio.run(scenario())
