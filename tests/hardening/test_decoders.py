"""The three decoders that once ended in a 500: bytes that are not UTF-8 inside a JSON string,
nesting far past the limit, and a NUL in a board file's path. Each is a 4xx problem JSON now, and
a refused request changes nothing."""

import pytest

from service.http.body import depth
from tests.api import Api, assert_problem
from tests.world import make_world, snapshot

pytestmark = pytest.mark.anyio

BODY_PATHS = [
    ("POST", "/v1/projects", b'{"name": "%s"}'),
    ("POST", "/v1/projects/{project}/clips", b'{"crop_data": {"k": "%s"}}'),
    ("PATCH", "/v1/projects/{project}/clips/{clip}", b'{"crop_data": {"%s": 1}}'),
    ("POST", "/v1/projects/{other}/exports", b'{"type": "%s"}'),
    ("POST", "/v1/exports/{job}/progress", b'{"progress": 20, "message": "%s"}'),
    ("POST", "/v1/exports/{job}/succeed", b'{"output_uri": "%s"}'),
    ("POST", "/v1/exports/{job}/fail", b'{"error": "%s"}'),
]
JSON_HEADERS = {"Content-Type": "application/json"}


@pytest.mark.parametrize(("method", "path", "template"), BODY_PATHS, ids=[p for _, p, _ in BODY_PATHS])
@pytest.mark.parametrize("bad", [b"\xff\xfe", b"\xed\xa0\x80"], ids=str)
async def test_bytes_that_are_not_utf8_in_a_string_are_400(
    api: Api, method: str, path: str, template: bytes, bad: bytes
) -> None:
    world = await make_world(api)
    before = await snapshot(api)
    response = await api.call(method, world.fill(path), content=template % bad, headers=JSON_HEADERS)
    assert_problem(response, 400, "validation_error")
    assert await snapshot(api) == before


@pytest.mark.parametrize(("method", "path", "_"), BODY_PATHS, ids=[p for _, p, _ in BODY_PATHS])
@pytest.mark.parametrize("levels", [34, 170_000])
@pytest.mark.parametrize("where", ["top", "field", "unknown-field"])
async def test_nesting_past_the_limit_at_any_depth_is_400(
    api: Api, method: str, path: str, _: bytes, levels: int, where: str
) -> None:
    world = await make_world(api)
    before = await snapshot(api)
    deep = b"[" * levels + b"]" * levels
    body = {
        "top": deep,
        "field": b'{"crop_data": {"k": %s}, "name": %s, "progress": %s}' % (deep, deep, deep),
        "unknown-field": b'{"name": "n", "type": "framing", "progress": 1, "error": "e", "x": %s}' % deep,
    }[where]
    response = await api.call(method, world.fill(path), content=body, headers=JSON_HEADERS)
    assert_problem(response, 400, "validation_error")
    assert await snapshot(api) == before


async def test_a_body_33_levels_deep_is_taken(api: Api) -> None:
    """The limit is not lower than the contract's: crop_data 32 deep sits in a body 33 deep."""
    world = await make_world(api)
    crop = '{"k": ' + "[" * 30 + "{}" + "]" * 30 + "}"
    path = world.fill("/v1/projects/{project}/clips")
    response = await api.call("POST", path, 201, content=f'{{"crop_data": {crop}}}', headers=JSON_HEADERS)
    assert depth(response.json()["crop_data"]) == 32


@pytest.mark.parametrize(
    "path",
    [
        "/board/board.css%00",
        "/board/%00",
        "/board/a%00b",
        "/board/..%2F..%2Fservice%2Fapp.py",
        "/board/" + "a" * 5000,
        "/board/%ff%fe",
        "/board/index.html",
        "/board/",
    ],
)
async def test_odd_board_paths_are_404(api: Api, path: str) -> None:
    assert_problem(await api.call("GET", path), 404, "not_found")


async def test_the_board_files_are_served_with_their_types(api: Api) -> None:
    css = await api.call("GET", "/board/board.css", 200)
    assert css.headers["content-type"].startswith("text/css")
    js = await api.call("GET", "/board/board.js", 200)
    assert js.headers["content-type"].startswith("text/javascript")
