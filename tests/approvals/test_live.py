"""Approvals pages live, through the real ASGI app: a new request reaches an open queue as the signal that reloads
its table, and that reload brings the reviewer's "Waiting for me" count."""

import asyncio
import re

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.urls import reverse

from approvals.services import request_delete
from flashfusion.asgi import application
from tests.dashboard.test_live import _headers, _receive_until
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_new_request_updates_the_waiting_for_me_badge_of_an_open_queue(org, operator, manager):
    headers = _headers(manager)
    product = ProductFactory(organization=org, title="Old tent")

    async def scenario():
        communicator = WebsocketCommunicator(application, "/ws/live/?regions=approvals", headers=headers)
        assert (await communicator.connect())[0]
        await asyncio.sleep(0.5)  # the relay (embedded mode) starts from the newest row
        await database_sync_to_async(request_delete)(product, user=operator)
        message = await _receive_until(communicator, 'id="live-signal-approvals-changed"')
        await communicator.disconnect()
        return message

    message = asyncio.run(scenario())
    assert 'data-signal="approvals-changed"' in message and 'hx-swap-oob="true"' in message
    # What the signal makes the page do: reload its table after its own short wait (LIVE_DELAY_MS).
    client = Client()
    client.force_login(manager)
    page = client.get(reverse("approvals:list")).content.decode()
    assert re.search(r'hx-trigger="approvals-changed from:body delay:\d+ms"', page)
    reload = client.get(reverse("approvals:list"), HTTP_HX_REQUEST="true").content.decode()
    badge = reload.split('id="waiting-for-me-count"')[1].split("</span></span>")[0]
    assert 'hx-swap-oob="true"' in badge and ">1<" in badge
