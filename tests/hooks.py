"""Webhooks in the tests: settings that let them call loopback receivers only, quickly, and the
calls that subscribe and read a webhook's delivery log."""

import asyncio
from dataclasses import replace
from typing import Any

from service.settings import Settings
from tests.api import JSON, Api
from tests.servers import LOOPBACK


def webhook_settings(settings: Settings, **changes: Any) -> Settings:
    defaults: dict[str, Any] = {
        "webhook_allow_networks": LOOPBACK,
        "webhook_retry_base_s": 0.05,
        "webhook_timeout_s": 5.0,
    }
    return replace(settings, **{**defaults, **changes})


async def subscribe(api: Api, url: str, events: list[str], **kwargs: Any) -> JSON:
    return await api.json("POST", "/v1/webhooks", 201, json={"url": url, "events": events}, **kwargs)


async def list_webhooks(api: Api, **kwargs: Any) -> list[JSON]:
    webhooks: list[JSON] = (await api.call("GET", "/v1/webhooks", 200, **kwargs)).json()
    return webhooks


async def deliveries(api: Api, webhook_id: str, **kwargs: Any) -> list[JSON]:
    page = await api.json("GET", f"/v1/webhooks/{webhook_id}/deliveries", 200, **kwargs)
    items: list[JSON] = page["items"]
    return items


async def log_until(api: Api, webhook_id: str, done: Any, within_s: float = 20.0) -> list[JSON]:
    """Poll a webhook's whole delivery log until `done` holds for it (the dispatcher records an
    attempt just after the receiver answered)."""
    async with asyncio.timeout(within_s):
        while True:
            log = await deliveries(api, webhook_id, params={"limit": 200})
            if done(log):
                return log
            await asyncio.sleep(0.05)
