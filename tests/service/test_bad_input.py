"""Bad input, as the contract's "Errors" section names it: every refusal is problem JSON with the
right status and code, it is checked in the contract's order (size, shape, existence, rules), and a
refused request changes nothing: no project's version moves, no history row, job or clip appears."""

import base64
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from tests.api import CROP, JSON, Api, assert_problem
from tests.world import assert_unchanged, make_world, refused, snapshot

pytestmark = pytest.mark.anyio

MIB = 1024 * 1024


def nested(levels: int) -> JSON:
    """A JSON object `levels` objects deep: nested(1) is {}, nested(2) is {"k": {}}."""
    value: JSON = {}
    for _ in range(levels - 1):
        value = {"k": value}
    return value


def raw(text: str | bytes) -> dict[str, Any]:
    return {"content": text, "headers": {"content-type": "application/json"}}


# ---------------------------------------------------------------------------------------------
# 400 validation_error: malformed JSON, wrong types, values outside their set or range

BODY_ENDPOINTS = [
    ("POST", "/v1/projects"),
    ("POST", "/v1/projects/{project}/clips"),
    ("PATCH", "/v1/projects/{project}/clips/{clip}"),
    ("POST", "/v1/projects/{project}/exports"),
    ("POST", "/v1/exports/{job}/progress"),
    ("POST", "/v1/exports/{job}/succeed"),
    ("POST", "/v1/exports/{job}/fail"),
    ("POST", "/v1/exports/{job}/cancel"),
]
MALFORMED = ['{"name": ', "{'type': 'framing'}", "not json at all", '{"progress": 50,}', "\xff\xfe"]


@pytest.mark.parametrize(("method", "path"), BODY_ENDPOINTS)
@pytest.mark.parametrize(
    "text", MALFORMED, ids=["truncated", "single-quotes", "prose", "trailing-comma", "bytes"]
)
async def test_malformed_json_is_400(api: Api, method: str, path: str, text: str) -> None:
    world = await make_world(api)
    body = text.encode("latin-1") if text == "\xff\xfe" else text
    await refused(api, 400, "validation_error", method, world.fill(path), **raw(body))


WRONG_TYPES = [
    ("name-number", "POST", "/v1/projects", {"name": 42}),
    ("name-null", "POST", "/v1/projects", {"name": None}),
    ("name-missing", "POST", "/v1/projects", {}),
    ("name-list", "POST", "/v1/projects", {"name": ["a"]}),
    ("body-array", "POST", "/v1/projects", ["name"]),
    ("crop-list", "POST", "/v1/projects/{project}/clips", {"crop_data": [1, 2, 3]}),
    ("crop-string", "POST", "/v1/projects/{project}/clips", {"crop_data": "keyframes"}),
    ("crop-number", "POST", "/v1/projects/{project}/clips", {"crop_data": 7}),
    ("crop-bool", "POST", "/v1/projects/{project}/clips", {"crop_data": True}),
    ("patch-crop-list", "PATCH", "/v1/projects/{project}/clips/{clip}", {"crop_data": [{"t": 0}]}),
    ("patch-crop-string", "PATCH", "/v1/projects/{project}/clips/{clip}", {"crop_data": "{}"}),
    ("type-unknown", "POST", "/v1/projects/{project}/exports", {"type": "thumbnail"}),
    ("type-case", "POST", "/v1/projects/{project}/exports", {"type": "FRAMING"}),
    ("type-number", "POST", "/v1/projects/{project}/exports", {"type": 1}),
    ("type-missing", "POST", "/v1/projects/{project}/exports", {}),
    ("progress-true", "POST", "/v1/exports/{job}/progress", {"progress": True}),
    ("progress-false", "POST", "/v1/exports/{job}/progress", {"progress": False}),
    ("progress-string", "POST", "/v1/exports/{job}/progress", {"progress": "50"}),
    ("progress-string-exp", "POST", "/v1/exports/{job}/progress", {"progress": "1e1"}),
    ("progress-null", "POST", "/v1/exports/{job}/progress", {"progress": None}),
    ("progress-missing", "POST", "/v1/exports/{job}/progress", {"message": "half way"}),
    ("progress-below-0", "POST", "/v1/exports/{job}/progress", {"progress": -1}),
    ("progress-just-below-0", "POST", "/v1/exports/{job}/progress", {"progress": -0.001}),
    ("progress-above-100", "POST", "/v1/exports/{job}/progress", {"progress": 101}),
    ("progress-just-above-100", "POST", "/v1/exports/{job}/progress", {"progress": 100.001}),
    ("message-number", "POST", "/v1/exports/{job}/progress", {"progress": 20, "message": 5}),
    ("message-object", "POST", "/v1/exports/{job}/progress", {"progress": 20, "message": {"m": 1}}),
    ("output-uri-number", "POST", "/v1/exports/{job}/succeed", {"output_uri": 5}),
    ("error-number", "POST", "/v1/exports/{job}/fail", {"error": 5}),
    ("error-null", "POST", "/v1/exports/{job}/fail", {"error": None}),
    ("error-missing", "POST", "/v1/exports/{job}/fail", {}),
    ("error-empty", "POST", "/v1/exports/{job}/fail", {"error": ""}),
    ("error-2001", "POST", "/v1/exports/{job}/fail", {"error": "e" * 2001}),
    ("cancel-body-array", "POST", "/v1/exports/{job}/cancel", ["why"]),
    ("cancel-body-string", "POST", "/v1/exports/{job}/cancel", "why"),
    ("reason-number", "POST", "/v1/exports/{job}/cancel", {"reason": 5}),
    ("reason-object", "POST", "/v1/exports/{job}/cancel", {"reason": {"why": "x"}}),
    ("reason-empty", "POST", "/v1/exports/{job}/cancel", {"reason": ""}),
    ("reason-501", "POST", "/v1/exports/{job}/cancel", {"reason": "r" * 501}),
]


@pytest.mark.parametrize(
    ("method", "path", "body"), [c[1:] for c in WRONG_TYPES], ids=[c[0] for c in WRONG_TYPES]
)
async def test_wrong_type_or_value_is_400(api: Api, method: str, path: str, body: Any) -> None:
    world = await make_world(api)
    await refused(api, 400, "validation_error", method, world.fill(path), json=body)


@pytest.mark.parametrize("path", ["/v1/exports/{job}/succeed", "/v1/exports/{job}/cancel"])
async def test_an_optional_body_sent_as_null_is_400(api: Api, path: str) -> None:
    """The body may be left out; sent, it is the object the operation documents."""
    world = await make_world(api)
    await refused(api, 400, "validation_error", "POST", world.fill(path), **raw("null"))


NUL_TEXT = [
    ("name", "POST", "/v1/projects", {"name": "reel\u0000one"}, 201),
    ("message", "POST", "/v1/exports/{job}/progress", {"progress": 20, "message": "frame\u00000"}, 200),
    ("error", "POST", "/v1/exports/{job}/fail", {"error": "bad\u0000byte"}, 200),
    ("output-uri", "POST", "/v1/exports/{job}/succeed", {"output_uri": "s3://a\u0000b.mp4"}, 200),
    ("reason", "POST", "/v1/exports/{job}/cancel", {"reason": "a\u0000b"}, 200),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "success"), [c[1:] for c in NUL_TEXT], ids=[c[0] for c in NUL_TEXT]
)
async def test_text_with_a_nul_character_is_400(
    api: Api, method: str, path: str, body: JSON, success: int
) -> None:
    """Valid JSON strings may hold U+0000, but PostgreSQL cannot store it: it is refused on both
    databases alike, as a validation_error that changes nothing."""
    world = await make_world(api)
    before = await snapshot(api)
    problem = assert_problem(await api.call(method, world.fill(path), json=body), 400, "validation_error")
    assert "NUL" in problem["detail"]
    assert_unchanged(before, await snapshot(api))
    clean = json.loads(json.dumps(body).replace("\\u0000", ""))
    await api.call(method, world.fill(path), success, json=clean)


async def test_crop_data_may_hold_a_nul_character(api: Api) -> None:
    """crop_data is JSON, stored as JSON: NUL is fine there on both databases, and comes back as given."""
    project = await api.create_project()
    crop = {"label": "a\u0000b", "k\u0000": [1, "\u0000"]}
    clip = await api.add_clip(project["id"], crop)
    assert clip["crop_data"] == crop
    listed = (await api.call("GET", f"/v1/projects/{project['id']}/clips", 200)).json()
    assert listed[0]["crop_data"] == crop


@pytest.mark.parametrize(
    "path",
    [
        "/v1/projects/%00",
        "/v1/projects/0123456789ABCDEF0123456789ABCDEF",
        "/v1/projects/" + "a" * 31 + "%00",
        "/v1/exports/%00",
        "/v1/projects/{project}/clips/%00",
        "/v1/projects/%00/history",
        "/v1/projects/%00/events",
    ],
)
async def test_ids_this_service_never_made_are_unknown(api: Api, path: str) -> None:
    world = await make_world(api)
    for method in ("PATCH", "DELETE") if "/clips/" in path else ("GET",):
        response = await api.call(method, world.fill(path), json={"crop_data": None})
        assert_problem(response, 404, "not_found")


async def test_a_cursor_naming_a_strange_id_is_400(api: Api) -> None:
    forged = base64.urlsafe_b64encode(json.dumps(["2026-01-01T00:00:00+00:00", "x\u0000"]).encode()).decode()
    assert_problem(await api.call("GET", "/v1/projects", params={"cursor": forged}), 400, "validation_error")


@pytest.mark.parametrize(
    "name",
    ["", " ", "   \t\n  ", "\u00a0\u2003", "n" * 201],
    ids=["empty", "space", "blanks", "unicode-spaces", "201"],
)
async def test_bad_project_name_is_400(api: Api, name: str) -> None:
    await make_world(api)
    await refused(api, 400, "validation_error", "POST", "/v1/projects", json={"name": name})


@pytest.mark.parametrize(
    "name",
    ["n" * 200, "  spaced out  ", "\tTabbed\n", "é" * 200, "x"],
    ids=["200", "spaces", "tabs", "200-accented", "1"],
)
async def test_good_project_name_is_stored_as_given(api: Api, name: str) -> None:
    created = await api.create_project(name)
    assert created["name"] == name
    assert (await api.project(created["id"]))["name"] == name
    assert [row["action"] for row in await api.history(created["id"])] == ["project_created"]


@pytest.mark.parametrize("method", ["POST", "PATCH"])
async def test_crop_data_deeper_than_32_is_400(api: Api, method: str) -> None:
    world = await make_world(api)
    path = "/v1/projects/{project}/clips" if method == "POST" else "/v1/projects/{project}/clips/{clip}"
    await refused(api, 400, "validation_error", method, world.fill(path), json={"crop_data": nested(33)})
    deep_list: Any = {}
    for _ in range(40):
        deep_list = [deep_list]
    await refused(
        api, 400, "validation_error", method, world.fill(path), json={"crop_data": {"k": deep_list}}
    )


async def test_crop_data_32_deep_is_accepted(api: Api) -> None:
    world = await make_world(api)
    crop = nested(32)
    added = await api.add_clip(world.project["id"], crop)
    assert added["crop_data"] == crop
    changed = await api.change_clip(world.project["id"], world.clip["id"], crop)
    assert changed["crop_data"] == crop
    clips = (await api.call("GET", world.fill("/v1/projects/{project}/clips"), 200)).json()
    assert [c["crop_data"] for c in clips] == [crop, crop]


@pytest.mark.parametrize("key", ["k" * 201, ""], ids=["201", "empty"])
async def test_bad_idempotency_key_is_400(api: Api, key: str) -> None:
    world = await make_world(api)
    path = world.fill("/v1/projects/{other}/exports")
    await api.add_clip(world.other["id"], CROP)  # a start would be allowed
    await refused(
        api, 400, "validation_error", "POST", path, json={"type": "framing"}, headers={"Idempotency-Key": key}
    )


async def test_idempotency_key_of_200_characters_is_accepted(api: Api) -> None:
    project = await api.framed_project()
    job = await api.start(project["id"], "framing", key="k" * 200)
    assert (await api.start(project["id"], "framing", key="k" * 200))["id"] == job["id"]


@pytest.mark.parametrize(
    "params",
    [
        {"status": "bogus"},
        {"status": "Complete"},
        {"status": ""},
        {"limit": 0},
        {"limit": 201},
        {"limit": -1},
        {"limit": "abc"},
        {"limit": "1.5"},
        {"cursor": "garbage"},
        {"cursor": "!!!not-base64!!!"},
        {"cursor": "W10"},  # base64 of "[]"
        {"cursor": "WzEsIDJd"},  # base64 of "[1, 2]"
        {"cursor": "eyJhIjogMX0"},  # base64 of '{"a": 1}'
    ],
    ids=lambda p: "-".join(f"{k}={v}" for k, v in p.items()),
)
async def test_bad_project_list_query_is_400(api: Api, params: dict[str, Any]) -> None:
    await make_world(api)
    await refused(api, 400, "validation_error", "GET", "/v1/projects", params=params)


async def test_bad_active_query_of_exports_is_400(api: Api) -> None:
    world = await make_world(api)
    path = world.fill("/v1/projects/{project}/exports")
    await refused(api, 400, "validation_error", "GET", path, params={"active": "maybe"})


# ---------------------------------------------------------------------------------------------
# 413 payload_too_large


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/v1/projects", {"name": "n" * MIB}),
        ("POST", "/v1/projects/{project}/clips", {"crop_data": {"blob": "x" * MIB}}),
        ("PATCH", "/v1/projects/{project}/clips/{clip}", {"crop_data": {"blob": "x" * MIB}}),
        ("POST", "/v1/exports/{job}/progress", {"progress": 20, "message": "m" * MIB}),
        ("POST", "/v1/exports/{job}/fail", {"error": "e" * MIB}),
    ],
    ids=["project", "clip", "patch", "progress", "fail"],
)
async def test_body_over_1_mib_is_413(api: Api, method: str, path: str, body: JSON) -> None:
    world = await make_world(api)
    content = json.dumps(body).encode()
    assert len(content) > MIB
    await refused(api, 413, "payload_too_large", method, world.fill(path), **raw(content))


async def test_body_of_exactly_1_mib_is_read_and_judged_by_its_content(api: Api) -> None:
    """Not 413: its size is allowed; its crop_data is past 64 KiB, which is a bad value (400)."""
    world = await make_world(api)
    content = json.dumps({"crop_data": {"blob": ""}}).encode()
    content = json.dumps({"crop_data": {"blob": "x" * (MIB - len(content))}}).encode()
    assert len(content) == MIB
    path = world.fill("/v1/projects/{project}/clips")
    await refused(api, 400, "validation_error", "POST", path, **raw(content))


CROP_DATA_MAX = 64 * 1024


@pytest.mark.parametrize("method", ["POST", "PATCH"])
async def test_crop_data_of_64_kib_is_taken_and_one_byte_more_is_refused(api: Api, method: str) -> None:
    world = await make_world(api)
    path = world.fill("/v1/projects/{project}/clips" + ("/{clip}" if method == "PATCH" else ""))
    blob = "x" * (CROP_DATA_MAX - len(b'{"blob":""}'))
    taken = await api.json(method, path, 201 if method == "POST" else 200, json={"crop_data": {"blob": blob}})
    assert taken["crop_data"] == {"blob": blob}
    problem = await refused(
        api, 400, "validation_error", method, path, json={"crop_data": {"blob": blob + "y"}}
    )
    assert "64 KiB" in problem["detail"]


# ---------------------------------------------------------------------------------------------
# 404 not_found, 405 method_not_allowed

UNKNOWN_PROJECT: list[tuple[str, str, JSON | None]] = [
    ("GET", "/v1/projects/{unknown}", None),
    ("DELETE", "/v1/projects/{unknown}", None),
    ("GET", "/v1/projects/{unknown}/history", None),
    ("GET", "/v1/projects/{unknown}/clips", None),
    ("POST", "/v1/projects/{unknown}/clips", {"crop_data": CROP}),
    ("PATCH", "/v1/projects/{unknown}/clips/{clip}", {"crop_data": None}),
    ("DELETE", "/v1/projects/{unknown}/clips/{clip}", None),
    ("POST", "/v1/projects/{unknown}/exports", {"type": "framing"}),
    ("GET", "/v1/projects/{unknown}/exports", None),
    ("GET", "/v1/projects/{unknown}/events", None),
]
UNKNOWN_CLIP: list[tuple[str, str, JSON | None]] = [
    ("PATCH", "/v1/projects/{project}/clips/{unknown}", {"crop_data": None}),
    ("DELETE", "/v1/projects/{project}/clips/{unknown}", None),
    ("PATCH", "/v1/projects/{project}/clips/{other_clip}", {"crop_data": CROP}),
    ("DELETE", "/v1/projects/{project}/clips/{other_clip}", None),
    ("PATCH", "/v1/projects/{other}/clips/{clip}", {"crop_data": None}),
    ("DELETE", "/v1/projects/{other}/clips/{clip}", None),
]
UNKNOWN_JOB: list[tuple[str, str, JSON | None]] = [
    ("GET", "/v1/exports/{unknown}", None),
    ("POST", "/v1/exports/{unknown}/progress", {"progress": 50}),
    ("POST", "/v1/exports/{unknown}/succeed", {"output_uri": "s3://x.mp4"}),
    ("POST", "/v1/exports/{unknown}/fail", {"error": "boom"}),
    ("POST", "/v1/exports/{unknown}/cancel", None),
]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    UNKNOWN_PROJECT + UNKNOWN_CLIP + UNKNOWN_JOB,
    ids=[f"{m} {p}" for m, p, _ in UNKNOWN_PROJECT + UNKNOWN_CLIP + UNKNOWN_JOB],
)
async def test_unknown_id_is_404(api: Api, method: str, path: str, body: JSON | None) -> None:
    world = await make_world(api)
    kwargs = {} if body is None else {"json": body}
    await refused(api, 404, "not_found", method, world.fill(path), **kwargs)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/nothing"),
        ("GET", "/v2/projects"),
        ("GET", "/v1/projects/{project}/nothing"),
        ("POST", "/v1/exports/{job}/explode"),
        ("GET", "/v1/projects/{project}/clips/{clip}/frames"),
    ],
)
async def test_unknown_path_is_404(api: Api, method: str, path: str) -> None:
    world = await make_world(api)
    await refused(api, 404, "not_found", method, world.fill(path), json={"progress": 50})


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", "/v1/projects"),
        ("DELETE", "/v1/projects"),
        ("PATCH", "/v1/projects/{project}"),
        ("PUT", "/v1/projects/{project}/clips/{clip}"),
        ("DELETE", "/v1/projects/{project}/exports"),
        ("DELETE", "/v1/exports/{job}"),
        ("GET", "/v1/exports/{job}/succeed"),
        ("PUT", "/v1/exports/{job}/progress"),
    ],
)
async def test_wrong_method_is_405(api: Api, method: str, path: str) -> None:
    world = await make_world(api)
    await refused(api, 405, "method_not_allowed", method, world.fill(path), json={"name": "x"})


# ---------------------------------------------------------------------------------------------
# 409: the rules


async def _framed(api: Api) -> str:
    return str((await api.framed_project())["id"])


async def _clip_without_crop(api: Api) -> str:
    project = await api.create_project()
    await api.add_clip(project["id"], None)
    return str(project["id"])


async def _exporting_framing(api: Api) -> str:
    return str((await make_world(api)).project["id"])


@pytest.mark.parametrize(
    ("setup", "job_type", "status", "allowed"),
    [
        pytest.param(
            _framed, "overlay", "in_progress", ["start_framing_export"], id="overlay-no-working-video"
        ),
        pytest.param(_clip_without_crop, "framing", "not_started", [], id="framing-no-framed-clip"),
        pytest.param(_exporting_framing, "overlay", "exporting_framing", [], id="overlay-while-framing"),
    ],
)
async def test_a_start_the_machine_refuses_is_transition_not_allowed(
    api: Api, setup: Callable[[Api], Awaitable[str]], job_type: str, status: str, allowed: list[str]
) -> None:
    project_id = await setup(api)
    path = f"/v1/projects/{project_id}/exports"
    body = await refused(api, 409, "transition_not_allowed", "POST", path, json={"type": job_type})
    assert (body["project_status"], body["allowed_actions"]) == (status, allowed)


async def test_export_already_active_names_the_active_job(api: Api) -> None:
    project = await api.complete_project()
    framing = await api.start(project["id"], "framing")
    overlay = await api.start(project["id"], "overlay")
    path = f"/v1/projects/{project['id']}/exports"
    body = await refused(api, 409, "export_already_active", "POST", path, json={"type": "framing"})
    assert body["job_id"] == framing["id"]
    body = await refused(api, 409, "export_already_active", "POST", path, json={"type": "overlay"})
    assert body["job_id"] == overlay["id"]


async def test_export_already_active_wins_over_transition_not_allowed(api: Api) -> None:
    world = await make_world(api)
    # The only framed clip goes: a framing start now fails both guards.
    await api.call("DELETE", world.fill("/v1/projects/{project}/clips/{clip}"), 204)
    project = await api.project(world.project["id"])
    assert project["framed_clip_count"] == 0
    assert project["status"] == "exporting_framing"
    body = await refused(
        api,
        409,
        "export_already_active",
        "POST",
        world.fill("/v1/projects/{project}/exports"),
        json={"type": "framing"},
    )
    assert body["job_id"] == world.job["id"]


@pytest.mark.parametrize("job_type", ["framing", "overlay"])
async def test_deleting_a_project_with_an_active_export_is_project_busy(api: Api, job_type: str) -> None:
    project = await api.complete_project()
    job = await api.start(project["id"], job_type)
    await refused(api, 409, "project_busy", "DELETE", f"/v1/projects/{project['id']}")
    assert (await api.job(job["id"]))["status"] == "queued"
    await api.cancel(job["id"])
    await api.call("DELETE", f"/v1/projects/{project['id']}", 204)
    await api.call("GET", f"/v1/projects/{project['id']}", 404)


async def test_idempotency_key_reused_with_another_type_is_409(api: Api) -> None:
    project = await api.complete_project()
    await api.start(project["id"], "framing", key="render-1")
    path = f"/v1/projects/{project['id']}/exports"
    await refused(
        api,
        409,
        "idempotency_key_reused",
        "POST",
        path,
        json={"type": "overlay"},
        headers={"Idempotency-Key": "render-1"},
    )


# ---------------------------------------------------------------------------------------------
# The order of the checks: size (413), shape (400), existence (404), rules (409)

TOO_LARGE = json.dumps({"crop_data": {"blob": "x" * MIB}})


@pytest.mark.parametrize(
    ("status", "code", "method", "path", "kwargs"),
    [
        # size before shape
        (413, "payload_too_large", "POST", "/v1/projects", raw("{" * (MIB + 1))),
        (413, "payload_too_large", "POST", "/v1/projects", raw(json.dumps({"name": 5, "pad": "x" * MIB}))),
        # size before existence
        (413, "payload_too_large", "POST", "/v1/projects/{unknown}/clips", raw(TOO_LARGE)),
        (413, "payload_too_large", "PATCH", "/v1/projects/{project}/clips/{unknown}", raw(TOO_LARGE)),
        (
            413,
            "payload_too_large",
            "POST",
            "/v1/exports/{unknown}/fail",
            raw(json.dumps({"error": "e" * MIB})),
        ),
        # shape before existence
        (400, "validation_error", "POST", "/v1/projects/{unknown}/clips", raw('{"crop_data": ')),
        (400, "validation_error", "POST", "/v1/projects/{unknown}/clips", {"json": {"crop_data": "x"}}),
        (
            400,
            "validation_error",
            "POST",
            "/v1/projects/{unknown}/clips",
            {"json": {"crop_data": nested(33)}},
        ),
        (
            400,
            "validation_error",
            "PATCH",
            "/v1/projects/{project}/clips/{unknown}",
            {"json": {"crop_data": [1]}},
        ),
        (400, "validation_error", "POST", "/v1/projects/{unknown}/exports", {"json": {"type": "thumbnail"}}),
        (
            400,
            "validation_error",
            "POST",
            "/v1/projects/{unknown}/exports",
            {"json": {"type": "framing"}, "headers": {"Idempotency-Key": "k" * 201}},
        ),
        (400, "validation_error", "POST", "/v1/exports/{unknown}/progress", raw("{")),
        (400, "validation_error", "POST", "/v1/exports/{unknown}/progress", {"json": {"progress": 101}}),
        (400, "validation_error", "POST", "/v1/exports/{unknown}/progress", {"json": {"progress": True}}),
        (400, "validation_error", "POST", "/v1/exports/{unknown}/fail", {"json": {"error": ""}}),
        (400, "validation_error", "POST", "/v1/exports/{unknown}/succeed", {"json": {"output_uri": 1}}),
        # existence before the rules: the project `other` has no framed clip, the unknown one nothing
        (404, "not_found", "POST", "/v1/projects/{unknown}/exports", {"json": {"type": "overlay"}}),
        (404, "not_found", "DELETE", "/v1/projects/{project}/clips/{unknown}", {}),
    ],
)
async def test_checks_run_in_contract_order(
    api: Api, status: int, code: str, method: str, path: str, kwargs: dict[str, Any]
) -> None:
    world = await make_world(api)
    await refused(api, status, code, method, world.fill(path), **kwargs)


async def test_shape_is_checked_before_the_rules_on_a_finished_job(api: Api) -> None:
    world = await make_world(api)
    await api.succeed(world.job["id"], "s3://done.mp4")
    await refused(
        api, 400, "validation_error", "POST", world.fill("/v1/exports/{job}/progress"), json={"progress": 101}
    )
    await refused(
        api, 400, "validation_error", "POST", world.fill("/v1/exports/{job}/fail"), json={"error": ""}
    )
    await refused(
        api, 409, "job_not_active", "POST", world.fill("/v1/exports/{job}/fail"), json={"error": "late"}
    )


async def test_shape_is_checked_before_the_rules_on_a_start(api: Api) -> None:
    project = await api.create_project()  # no framed clip: every start breaks a rule
    path = f"/v1/projects/{project['id']}/exports"
    await refused(api, 400, "validation_error", "POST", path, json={"type": "thumbnail"})
    await refused(
        api,
        400,
        "validation_error",
        "POST",
        path,
        json={"type": "framing"},
        headers={"Idempotency-Key": "k" * 201},
    )
    await refused(api, 409, "transition_not_allowed", "POST", path, json={"type": "framing"})
