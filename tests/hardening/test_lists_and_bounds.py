"""What one caller can make the service hold: a project's lists come in pages with `Link`, every
cursor is the service's own or refused, and clips, webhooks and streams are bounded (409
`limit_reached`, 429 `too_many_streams`)."""

import asyncio
import base64
import re
from collections.abc import Iterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import text

from service.settings import Settings
from service.store.db import create_engine
from tests.api import CROP, JSON, Api, assert_problem
from tests.auth import SECRET, bearer
from tests.servers import running_server
from tests.sse import events
from tests.world import make_world, refused

pytestmark = pytest.mark.anyio
NEXT = re.compile(r'<([^>]+)>; rel="next"')


async def _pages(api: Api, path: str) -> list[list[JSON]]:
    """Every page of a list, following `Link: <...>; rel="next"` from `path` on."""
    pages: list[list[JSON]] = []
    url: str | None = path
    while url is not None:
        response = await api.call("GET", url, 200)
        pages.append(response.json())
        link = NEXT.fullmatch(response.headers.get("link", ""))
        url = link.group(1) if link else None
        assert len(pages) < 50, "the pages never end"
    return pages


async def _history_of_length(api: Api, rows: int) -> str:
    """A project whose history has `rows` rows: a framed clip added and removed, again and again."""
    project = await api.create_project()
    pid: str = project["id"]
    while len(await api.history(pid)) < rows:
        clip = await api.add_clip(pid, CROP)
        if len(await api.history(pid)) < rows:
            await api.call("DELETE", f"/v1/projects/{pid}/clips/{clip['id']}", 204)
    return pid


async def test_history_comes_in_pages_that_add_up_to_the_whole(api: Api) -> None:
    pid = await _history_of_length(api, 7)
    whole = await api.history(pid)
    assert len(whole) == 7
    assert "link" not in (await api.call("GET", f"/v1/projects/{pid}/history", 200)).headers
    pages = await _pages(api, f"/v1/projects/{pid}/history?limit=3")
    assert [len(page) for page in pages] == [3, 3, 1]
    assert [row for page in pages for row in page] == whole


async def test_clips_come_in_pages_oldest_first(api: Api) -> None:
    project = await api.create_project()
    pid = project["id"]
    added = [(await api.add_clip(pid, {"n": n}))["id"] for n in range(5)]
    pages = await _pages(api, f"/v1/projects/{pid}/clips?limit=2")
    assert [len(page) for page in pages] == [2, 2, 1]
    assert [clip["id"] for page in pages for clip in page] == added


async def test_exports_come_in_pages_newest_first_and_the_link_keeps_the_filter(api: Api) -> None:
    project = await api.framed_project()
    pid = project["id"]
    started = []
    for _ in range(3):
        job = await api.start(pid, "framing")
        started.append(job["id"])
        await api.cancel(job["id"])
    running = await api.start(pid, "framing")
    pages = await _pages(api, f"/v1/projects/{pid}/exports?limit=3")
    assert [job["id"] for page in pages for job in page] == [running["id"], *reversed(started)]
    assert [len(page) for page in pages] == [3, 1]
    first = await api.call("GET", f"/v1/projects/{pid}/exports?active=true&limit=1", 200)
    assert [job["id"] for job in first.json()] == [running["id"]]
    assert "link" not in first.headers
    second = await api.call("GET", f"/v1/projects/{pid}/exports?active=false&limit=1", 200)
    assert "active=false" in NEXT.fullmatch(second.headers["link"]).group(1)  # type: ignore[union-attr]


@pytest.mark.parametrize("kind", ["history", "clips", "exports"])
@pytest.mark.parametrize("query", ["limit=0", "limit=1001", "limit=x", "limit=", "cursor="])
async def test_a_bad_page_query_is_refused(api: Api, kind: str, query: str) -> None:
    world = await make_world(api)
    await refused(api, 400, "validation_error", "GET", world.fill(f"/v1/projects/{{project}}/{kind}?{query}"))


async def test_a_page_holds_up_to_1000_items_by_default(api: Api) -> None:
    world = await make_world(api)
    path = world.fill("/v1/projects/{project}/history")
    assert len((await api.call("GET", path + "?limit=1000", 200)).json()) == len(
        await api.history(world.project["id"])
    )


def _tampered(cursor: str) -> list[str]:
    """Cursors that are not the one given: each part altered, cut, swapped, forged with numbers of
    every size, and made of other lists."""
    payload, _, signature = cursor.partition(".")
    flipped = ("A" if payload[0] != "A" else "B") + payload[1:]
    huge = base64.urlsafe_b64encode(b'["history","x",' + b"9" * 400 + b"]").decode().rstrip("=")
    deep = base64.urlsafe_b64encode(b"[" * 300 + b"]" * 300).decode().rstrip("=")
    return [
        f"{flipped}.{signature}",
        f"{payload}.{signature[:-2]}",
        f"{payload}.",
        payload,
        f"{signature}.{payload}",
        f"{huge}.{signature}",
        f"{deep}.{signature}",
        base64.urlsafe_b64encode(b"2147483648").decode(),
        "x" * 5000,
        "é",
        "..",
        "%00",
    ]


async def _cursor_of(api: Api, path: str) -> str:
    link = (await api.call("GET", path, 200)).headers["link"]
    match = re.search(r"cursor=([^&>]+)", link)
    assert match, link
    return match.group(1)


async def test_every_cursor_the_service_did_not_make_is_refused(api: Api) -> None:
    project = await api.framed_project()
    pid = project["id"]
    await api.add_clip(pid, None)
    await api.cancel((await api.start(pid, "framing"))["id"])
    await api.start(pid, "framing")
    other = await api.framed_project()
    own = {
        "/v1/projects": (await api.json("GET", "/v1/projects?limit=1", 200))["next_cursor"],
        **{
            f"/v1/projects/{pid}/{kind}": await _cursor_of(api, f"/v1/projects/{pid}/{kind}?limit=1")
            for kind in ("history", "clips", "exports")
        },
    }
    for path, cursor in own.items():
        await api.call("GET", path, 200, params={"cursor": cursor})
        of_other_lists = [other for other_path, other in own.items() if other_path != path]
        for forged in [*_tampered(cursor), *of_other_lists]:
            assert_problem(await api.call("GET", path, params={"cursor": forged}), 400, "validation_error")
    history_cursor = own[f"/v1/projects/{pid}/history"]
    response = await api.call("GET", f"/v1/projects/{other['id']}/history", params={"cursor": history_cursor})
    assert_problem(response, 400, "validation_error")


async def test_a_project_holds_at_most_1000_clips(api: Api, settings: Settings) -> None:
    project = await api.create_project()
    pid = project["id"]
    engine = create_engine(settings)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO clip (id, project_id, crop_data, created_at, updated_at) "
                    "VALUES (:id, :pid, NULL, :at, :at)"
                ),
                [{"id": f"{n:032x}", "pid": pid, "at": datetime(2026, 1, 1, tzinfo=UTC)} for n in range(999)],
            )
            await conn.execute(text("UPDATE project SET clip_count = 999 WHERE id = :pid"), {"pid": pid})
    finally:
        await engine.dispose()
    last = await api.add_clip(pid, CROP)
    problem = await refused(
        api, 409, "limit_reached", "POST", f"/v1/projects/{pid}/clips", json={"crop_data": CROP}
    )
    assert problem["limit"] == 1000
    await api.call("DELETE", f"/v1/projects/{pid}/clips/{last['id']}", 204)
    await api.add_clip(pid, None)
    assert (await api.project(pid))["clip_count"] == 1000


@pytest.fixture
def owners_server(sqlite_url: str) -> Iterator[str]:
    env = {"FRAMESTATE_JWT_SECRET": SECRET, "FRAMESTATE_WEBHOOK_ALLOW_NETWORKS": "127.0.0.0/8,::1/128"}
    with running_server(sqlite_url, extra_env=env) as base_url:
        yield base_url


async def test_an_owner_holds_at_most_100_webhooks(owners_server: str) -> None:
    body = {"url": "http://127.0.0.1:9/hook", "events": ["project.created"]}
    async with httpx.AsyncClient(base_url=owners_server) as client:
        alice, bob = Api(client), bearer("bob")
        made = await asyncio.gather(
            *(alice.call("POST", "/v1/webhooks", json=body, headers=bearer("alice")) for _ in range(104))
        )
        assert sorted(response.status_code for response in made) == [201] * 100 + [409] * 4
        for response in made:
            if response.status_code == 409:
                assert assert_problem(response, 409, "limit_reached")["limit"] == 100
        listed = await alice.call("GET", "/v1/webhooks", 200, headers=bearer("alice"))
        assert len(listed.json()) == 100
        await alice.call("POST", "/v1/webhooks", 201, json=body, headers=bob)  # another owner's own count
        await alice.call("DELETE", f"/v1/webhooks/{listed.json()[0]['id']}", 204, headers=bearer("alice"))
        await alice.call("POST", "/v1/webhooks", 201, json=body, headers=bearer("alice"))


@pytest.fixture
def streams_server(sqlite_url: str) -> Iterator[str]:
    env = {"FRAMESTATE_JWT_SECRET": SECRET, "FRAMESTATE_MAX_STREAMS_TOTAL": "3"}
    with running_server(sqlite_url, extra_env=env) as base_url:
        yield base_url


async def test_a_process_holds_at_most_its_total_of_streams(streams_server: str) -> None:
    async with (
        httpx.AsyncClient(base_url=streams_server, headers=bearer("alice")) as alice,
        httpx.AsyncClient(base_url=streams_server, headers=bearer("bob")) as bob,
        AsyncExitStack() as held,
    ):
        await held.enter_async_context(events(alice, "/v1/events"))
        await held.enter_async_context(events(alice, "/v1/events"))
        last = await held.enter_async_context(events(bob, "/v1/events"))
        for client in (alice, bob):
            async with client.stream("GET", "/v1/events") as response:
                await response.aread()
                problem = assert_problem(response, 429, "too_many_streams")
                assert problem["limit"] == 3
                assert "FRAMESTATE_MAX_STREAMS_TOTAL" in problem["detail"]
        await last.response.aclose()
        async with asyncio.timeout(10):
            while True:
                async with bob.stream("GET", "/v1/events") as response:
                    if response.status_code == 200:
                        break
                    await response.aread()
                await asyncio.sleep(0.05)
