"""Request ids and log lines: every answer carries its request's id, and so does every log line the
request causes, in text or JSON."""

import json
import time
from typing import Any

import httpx
import pytest

from service.settings import Settings, SettingsError
from tests.api import Api
from tests.servers import server_process

pytestmark = pytest.mark.anyio


async def test_a_sane_request_id_is_echoed_in_the_answer_and_the_problem(api: Api) -> None:
    response = await api.call(
        "POST", "/v1/projects", 400, json={"name": ""}, headers={"X-Request-ID": "r-1~x"}
    )
    assert response.headers["x-request-id"] == "r-1~x"
    assert response.json()["request_id"] == "r-1~x"
    ok = await api.call("GET", "/health/live", 200, headers={"X-Request-ID": "a" * 200})
    assert ok.headers["x-request-id"] == "a" * 200


@pytest.mark.parametrize("sent", ["", "a" * 201, "has space", "tab\there", "caf\u00e9"])
async def test_a_missing_or_odd_request_id_is_replaced_by_a_new_one(api: Api, sent: str) -> None:
    headers = {"X-Request-ID": sent.encode()} if sent else {}
    response = await api.call("GET", f"/v1/projects/{'a' * 32}", 404, headers=headers)
    request_id = response.headers["x-request-id"]
    assert request_id != sent
    assert 1 <= len(request_id) <= 200
    assert response.json()["request_id"] == request_id


async def test_every_answer_has_an_id_and_no_two_are_alike(api: Api) -> None:
    ids = {
        (await api.call("GET", path)).headers["x-request-id"] for path in ("/health", "/nowhere", "/health")
    }
    assert len(ids) == 3


def test_an_unknown_log_format_is_refused_at_start_up() -> None:
    with pytest.raises(SettingsError, match="FRAMESTATE_LOG_FORMAT"):
        Settings.from_env({"FRAMESTATE_LOG_FORMAT": "xml"})


def _lines_with(log: list[str], needle: str, timeout_s: float = 10.0) -> list[str]:
    """The log lines containing `needle`, once there is one (the access line follows the answer)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if found := [line for line in list(log) if needle in line]:
            return found
        time.sleep(0.05)
    raise AssertionError(f"no log line with {needle!r} in:\n{''.join(log)}")


def _refuse(url: str, request_id: str) -> dict[str, Any]:
    response = httpx.post(f"{url}/v1/projects", json={"name": 7}, headers={"X-Request-ID": request_id})
    assert response.status_code == 400
    assert response.headers["x-request-id"] == request_id
    body: dict[str, Any] = response.json()
    return body


def test_a_refused_request_is_found_in_the_json_log_of_a_real_server(tmp_path: Any) -> None:
    with server_process(
        f"sqlite+aiosqlite:///{tmp_path}/logs.db", extra_env={"FRAMESTATE_LOG_FORMAT": "json"}
    ) as server:
        problem = _refuse(server.url, "refused-42")
        assert problem["request_id"] == "refused-42"
        httpx.get(f"{server.url}/health")
        (line,) = _lines_with(server.log, '"refused-42"')
    for raw in server.log:
        if raw.startswith("{"):
            json.loads(raw)  # every line of the JSON format is one JSON object
    access = json.loads(line)
    assert access["request_id"] == "refused-42"
    assert access["level"] == "INFO"
    assert access["logger"] == "framestate.access"
    assert (access["method"], access["route"], access["status"]) == ("POST", "/v1/projects", 400)
    assert isinstance(access["duration_ms"], float)
    assert access["time"].endswith("+00:00")
    assert "refused-42" not in "".join(raw for raw in server.log if raw != line)


def test_the_text_log_names_the_request_too(tmp_path: Any) -> None:
    with server_process(f"sqlite+aiosqlite:///{tmp_path}/logs.db") as server:
        _refuse(server.url, "plain-7")
        (line,) = _lines_with(server.log, "plain-7")
    assert line.startswith("INFO framestate.access [plain-7]: POST /v1/projects 400")
