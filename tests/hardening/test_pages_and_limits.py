"""Pages carry security headers and load nothing from elsewhere; worker text is bounded; one caller
holds at most FRAMESTATE_MAX_STREAMS event streams."""

import asyncio
import gc
import re
from collections.abc import Iterator
from contextlib import AsyncExitStack
from pathlib import Path

import httpx
import pytest

from service.live.feed import Feed
from service.live.hub import Events
from service.live.slots import StreamSlots, TooManyStreams
from service.settings import Settings
from tests.api import Api, assert_problem
from tests.auth import ALICE, BOB, SECRET
from tests.servers import running_server
from tests.sse import events
from tests.world import make_world, snapshot

pytestmark = pytest.mark.anyio
BOARD = Path(__file__).resolve().parents[2] / "service" / "http" / "board"


@pytest.mark.parametrize(
    "path", ["/", "/board/board.js", "/board/board.css", "/favicon.ico", "/schema", "/schema/openapi.json"]
)
async def test_pages_send_the_security_headers(api: Api, path: str) -> None:
    response = await api.call("GET", path, 200)
    policy = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy
    assert "script-src 'self'" in policy
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"


@pytest.mark.parametrize(
    "path",
    [
        "/schema/swagger",
        "/schema/redoc",
        "/schema/elements",
        "/schema/rapidoc",
        "/schema/scalar",
        "/schema/x/y",
    ],
)
async def test_no_viewer_page_is_served_and_unknown_schema_paths_are_problem_json(
    api: Api, path: str
) -> None:
    assert_problem(await api.call("GET", path), 404, "not_found")


async def test_the_board_loads_nothing_from_another_origin() -> None:
    for page in BOARD.iterdir():
        if page.suffix not in (".html", ".js", ".css"):
            continue  # the icon
        text = page.read_text()
        assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", text), page.name
        assert not re.search(r"""\b(import|importScripts)\s*\(?\s*["'](https?:)?//""", text), page.name
        assert "<script>" not in text, f"{page.name}: no inline script, so the policy holds"
        assert "style=" not in text, f"{page.name}: no inline style, so the policy holds"


@pytest.mark.parametrize(
    ("callback", "field"), [("progress", "message"), ("succeed", "output_uri")], ids=["message", "output_uri"]
)
async def test_worker_text_is_at_most_2000_characters(api: Api, callback: str, field: str) -> None:
    world = await make_world(api)
    base = {"progress": 50} if callback == "progress" else {}
    before = await snapshot(api)
    response = await api.call(
        "POST", f"/v1/exports/{world.job['id']}/{callback}", json={**base, field: "é" * 2001}
    )
    body = assert_problem(response, 400, "validation_error")
    assert field in body["detail"]
    assert await snapshot(api) == before
    job = await api.json(
        "POST", f"/v1/exports/{world.job['id']}/{callback}", 200, json={**base, field: "é" * 2000}
    )
    if callback == "progress":
        assert job["message"] == "é" * 2000
    else:
        assert (await api.project(world.project["id"]))["working_video"]["uri"] == "é" * 2000


async def test_the_schema_says_so(api: Api) -> None:
    schemas = (await api.json("GET", "/schema/openapi.json", 200))["components"]["schemas"]
    for name, field in (("ProgressReport", "message"), ("SucceedReport", "output_uri")):
        schema = schemas[name]["properties"][field]
        text = next(s for s in schemas[name]["properties"][field]["oneOf"] if s.get("type") == "string")
        assert 2000 in (schema.get("maxLength"), text.get("maxLength"))  # applies to the string branch


def test_stream_slots_count_per_caller_and_come_back_once() -> None:
    slots = StreamSlots(2)
    first, second = slots.take("a"), slots.take("a")
    with pytest.raises(TooManyStreams):
        slots.take("a")
    slots.take("b")
    first()
    first()  # giving back twice gives back once
    assert slots.held("a") == 1
    third = slots.take("a")
    second()
    third()
    assert slots.held("a") == 0


async def no_card(_project_id: str) -> None:
    return None


def test_a_stream_dropped_unread_gives_its_slot_and_its_subscription_back() -> None:
    slots = StreamSlots(1)
    hub = Events(Settings(), no_card)
    unread = Feed(hub, hub.subscribe(None), b"", 0, slots.take("a"))
    assert (slots.held("a"), hub.subscriber_count) == (1, 1)
    del unread
    gc.collect()
    assert (slots.held("a"), hub.subscriber_count) == (0, 0)


CAP = 3


@pytest.fixture
def capped_server(sqlite_url: str) -> Iterator[str]:
    """A real server (streams need one; the cap lives in the process, so SQLite is enough)."""
    env = {"FRAMESTATE_MAX_STREAMS": str(CAP), "FRAMESTATE_JWT_SECRET": SECRET}
    with running_server(sqlite_url, extra_env=env) as base_url:
        yield base_url


async def _opens(client: httpx.AsyncClient, path: str) -> bool:
    async with client.stream("GET", path) as response:
        if response.status_code == 429:
            await response.aread()
            assert_problem(response, 429, "too_many_streams")
            return False
        assert response.status_code == 200
        return True


async def test_one_caller_holds_at_most_the_cap_of_streams(capped_server: str) -> None:
    async with (
        httpx.AsyncClient(base_url=capped_server, headers={"Authorization": f"Bearer {ALICE}"}) as alice,
        httpx.AsyncClient(base_url=capped_server, headers={"Authorization": f"Bearer {BOB}"}) as bob,
        AsyncExitStack() as held,
    ):
        project = (await alice.post("/v1/projects", json={"name": "Alice's"})).json()
        await held.enter_async_context(events(alice, "/v1/events"))
        await held.enter_async_context(events(alice, f"/v1/projects/{project['id']}/events"))
        last = await held.enter_async_context(events(alice, "/v1/events"))
        assert not await _opens(alice, "/v1/events")
        assert not await _opens(alice, f"/v1/projects/{project['id']}/events")
        async with events(bob, "/v1/events"):  # another caller has slots of its own
            pass
        await last.response.aclose()
        async with asyncio.timeout(10):  # the server notices the closed connection and frees the slot
            while not await _opens(alice, "/v1/events"):  # noqa: ASYNC110 (another process, nothing to await)
                await asyncio.sleep(0.05)
