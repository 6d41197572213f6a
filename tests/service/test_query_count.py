"""A card costs one SQL statement, and so does a page of cards, however many cards it holds.

The statements are counted with a `before_cursor_execute` listener on the app's own engine. The
test client runs the app in another event loop (a portal thread), so the listener is attached
once the client has started, and the statements of the timers (the sweep of silent jobs, the
webhook dispatcher) are left out.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import event
from sqlalchemy.engine import Engine

from tests.api import CROP, JSON, Api

pytestmark = pytest.mark.anyio
PROJECTS = 60
TIMERS = ("reported_at <", "webhook_delivery")
"""What the statements of the app's timers hold: the sweep of silent jobs, the idle webhook
dispatcher's look for due deliveries."""


def _engine(api: Api) -> Engine:
    assert isinstance(api.client, AsyncTestClient), "the api fixture runs the app in a test client"
    engine: Engine = api.client.app.state.ctx.db.engine.sync_engine
    return engine


@contextmanager
def counted(api: Api) -> Iterator[list[str]]:
    """The SQL statements the app sends to its database while the block runs."""
    engine = _engine(api)
    statements: list[str] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not any(timer in statement for timer in TIMERS):
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", before)


async def _seed(api: Api) -> None:
    """Projects of every kind, interleaved so that any five newest ones hold each kind: complete
    (both videos), exporting a framing, exporting an overlay on a working video, a clip without
    crop data, and nothing at all."""
    for index in range(PROJECTS):
        project = await api.create_project(f"Reel {index}")
        kind = index % 5
        if kind == 3:
            await api.add_clip(project["id"], None)
        if kind in (0, 1, 2):
            await api.add_clip(project["id"], CROP)
        if kind in (0, 2):
            await api.run_export(project["id"], "framing")
        if kind == 0:
            await api.run_export(project["id"], "overlay")
        if kind == 1:
            await api.start(project["id"], "framing")
        if kind == 2:
            await api.start(project["id"], "overlay")


async def _page(api: Api, limit: int, cursor: str | None = None) -> tuple[JSON, list[str]]:
    params: dict[str, str | int] = {"limit": limit}
    if cursor is not None:
        params["cursor"] = cursor
    with counted(api) as statements:
        page = await api.json("GET", "/v1/projects", 200, params=params)
    return page, list(statements)


def _shows_every_kind(cards: list[JSON]) -> None:
    """The page exercises every part of a card: active jobs of both types and both videos."""
    assert {job["type"] for card in cards for job in card["active_exports"]} == {"framing", "overlay"}
    assert any(card["working_video"] for card in cards)
    assert any(card["final_video"] for card in cards)


def _selects(statements: list[str]) -> list[str]:
    return [s for s in statements if s.lstrip().upper().startswith("SELECT")]


async def test_a_page_of_cards_costs_the_same_statements_for_5_and_50_cards(api: Api) -> None:
    await _seed(api)
    small, small_statements = await _page(api, 5)
    large, large_statements = await _page(api, 50)
    assert (len(small["items"]), len(large["items"])) == (5, 50)
    _shows_every_kind(small["items"])
    _shows_every_kind(large["items"])

    # The page of projects joined with their current videos and active jobs, in one statement.
    assert len(_selects(large_statements)) == 1, large_statements
    assert len(large_statements) == len(small_statements), (small_statements, large_statements)
    assert len(large_statements) == 1, large_statements

    # The next page (by cursor) costs the same.
    assert large["next_cursor"] is not None
    rest, rest_statements = await _page(api, 50, large["next_cursor"])
    assert len(rest["items"]) == PROJECTS - 50
    assert rest["next_cursor"] is None
    assert len(rest_statements) == len(large_statements), (large_statements, rest_statements)


async def test_a_card_is_one_statement(api: Api) -> None:
    await _seed(api)
    page = await api.json("GET", "/v1/projects", 200, params={"limit": 5})
    for card in page["items"]:
        with counted(api) as statements:
            again = await api.json("GET", f"/v1/projects/{card['id']}", 200)
        assert again == card
        assert len(statements) == 1, statements
