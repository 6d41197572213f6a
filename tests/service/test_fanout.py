"""Fan-out makes an endpoint's deliveries of the events of changes made since the endpoint was
created; an event that only waited for its fan-out when the endpoint was made is not its."""

from datetime import timedelta

import pytest
from sqlalchemy import func, insert, select

from service.settings import Settings
from service.store.db import Database
from service.store.tables import new_id, utcnow
from service.webhooks.fanout import fan_out
from service.webhooks.tables import WebhookDelivery, WebhookEndpoint, WebhookEvent, WebhookSubscription
from tests.api import Api

pytestmark = pytest.mark.anyio
EVENT = WebhookEvent.__table__  # type: ignore[attr-defined]
ENDPOINT = WebhookEndpoint.__table__  # type: ignore[attr-defined]
SUBSCRIPTION = WebhookSubscription.__table__  # type: ignore[attr-defined]
DELIVERY = WebhookDelivery.__table__  # type: ignore[attr-defined]


def _event(at: object, version: int) -> dict[str, object]:
    return {
        "id": new_id(),
        "type": "project.created",
        "project_id": "p" * 32,
        "body": "{}",
        "created_at": at,
        "owner": None,
        "job_id": None,
        "version": version,
        "position": 0,
        "fanned_out": False,
    }


async def test_an_endpoint_gets_the_events_of_changes_made_since_it_was_created(
    api: Api, settings: Settings
) -> None:
    del api  # the database, migrated
    now = utcnow()
    endpoint = new_id()
    before, after = _event(now - timedelta(seconds=1), 1), _event(now + timedelta(seconds=1), 2)
    db = Database.open(settings)
    try:
        async with db.writing() as conn:
            await conn.execute(
                insert(ENDPOINT),
                {
                    "id": endpoint,
                    "owner": None,
                    "url": "http://127.0.0.1:9/hook",
                    "events": ["project.created"],
                    "secret": "whsec_" + "a" * 32,
                    "created_at": now,
                },
            )
            subscription = {"endpoint_id": endpoint, "event_type": "project.created"}
            await conn.execute(insert(SUBSCRIPTION), subscription)
            await conn.execute(insert(EVENT), [before, after])
            made = await fan_out(conn, settings=settings, now=now)
            delivered = (await conn.execute(select(DELIVERY.c.event_id))).scalars().all()
            unfanned = (await conn.execute(select(func.count()).where(~EVENT.c.fanned_out))).scalar_one()
        assert made.made == 1
        assert delivered == [after["id"]]
        assert unfanned == 0, "the older event is done with: it was nobody's"
    finally:
        await db.close()
