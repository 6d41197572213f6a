"""Fair sending: one owner's endpoints that hang hold at most the owner's share of a process's
sending slots, so another owner's delivery still goes out within the contract's second."""

import time
from collections.abc import AsyncIterator

import pytest
from litestar.testing import AsyncTestClient

from service.http.app import create_app
from service.settings import Settings
from service.webhooks.claims import OWNER_SHARE
from tests.api import Api
from tests.auth import auth_on, bearer
from tests.receiver import HANG, always, receiving
from tests.servers import LOOPBACK

pytestmark = pytest.mark.anyio
HANGING_ENDPOINTS = 64


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[Api]:
    fair = auth_on(settings, webhook_allow_networks=LOOPBACK, webhook_timeout_s=60.0)
    async with AsyncTestClient(app=create_app(fair)) as client:
        yield Api(client)


async def test_one_owners_hanging_endpoints_do_not_delay_another_owners_delivery(api: Api) -> None:
    mallory, alice = bearer("mallory"), bearer("alice")
    async with receiving(always(HANG)) as hanging, receiving() as healthy:
        hook = {"url": hanging.url, "events": ["project.created"]}
        for _ in range(HANGING_ENDPOINTS):
            await api.call("POST", "/v1/webhooks", 201, json=hook, headers=mallory)
        for name in ("one", "two"):
            await api.call("POST", "/v1/projects", 201, json={"name": name}, headers=mallory)
        await hanging.wait_until(lambda r: len(r.received) == OWNER_SHARE, within_s=10)
        hook = {"url": healthy.url, "events": ["project.created"]}
        await api.call("POST", "/v1/webhooks", 201, json=hook, headers=alice)
        started = time.monotonic()
        await api.call("POST", "/v1/projects", 201, json={"name": "Alice's"}, headers=alice)
        await healthy.wait_until(lambda r: len(r.acknowledged()) == 1, within_s=5)
        assert healthy.received[0].at - started < 1.0
        assert len(hanging.received) == OWNER_SHARE  # the rest of mallory's wait their turn
