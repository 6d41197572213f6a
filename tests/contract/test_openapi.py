"""Every path, method, status and body of the contract appears in the served OpenAPI document, with
its error answers declared as problem JSON."""

from typing import Any

import pytest

from tests.api import Api

pytestmark = pytest.mark.anyio

P, C, J = "/v1/projects/{project_id}", "/v1/projects/{project_id}/clips/{clip_id}", "/v1/exports/{job_id}"
# (method, path, success status, success body schema or None for no body, error statuses)
CONTRACT: list[tuple[str, str, str, str | None, tuple[str, ...]]] = [
    ("post", "/v1/projects", "201", "ProjectOut", ("400",)),
    ("get", "/v1/projects", "200", "ProjectPage", ("400",)),
    ("get", P, "200", "ProjectOut", ("404",)),
    ("delete", P, "204", None, ("404", "409")),
    ("post", f"{P}/clips", "201", "ClipOut", ("400", "404")),
    ("patch", C, "200", "ClipOut", ("400", "404")),
    ("delete", C, "204", None, ("404",)),
    ("get", f"{P}/clips", "200", "array", ("404",)),
    ("post", f"{P}/exports", "202", "ExportJobOut", ("400", "404", "409")),
    ("get", f"{P}/exports", "200", "array", ("400", "404")),
    ("get", J, "200", "ExportJobOut", ("404",)),
    ("post", f"{J}/progress", "200", "ExportJobOut", ("400", "404", "409")),
    ("post", f"{J}/succeed", "200", "ExportJobOut", ("400", "404", "409")),
    ("post", f"{J}/fail", "200", "ExportJobOut", ("400", "404", "409")),
    ("post", f"{J}/cancel", "200", "ExportJobOut", ("404", "409")),
    ("get", f"{P}/history", "200", "array", ("404",)),
    ("get", f"{P}/events", "200", None, ("404",)),
    ("get", "/v1/events", "200", None, ()),
    ("get", "/v1/state-machine", "200", "StateMachineOut", ()),
    ("get", "/health", "200", "Health", ("503",)),
]


@pytest.fixture
async def openapi(api: Api) -> dict[str, Any]:
    document: dict[str, Any] = (await api.call("GET", "/schema/openapi.json", 200)).json()
    return document


def _schema_name(content: dict[str, Any]) -> str:
    schema = next(iter(content.values()))["schema"]
    return str(schema.get("$ref", schema.get("type", ""))).rsplit("/", 1)[-1]


@pytest.mark.parametrize(
    ("method", "path", "status", "body", "errors"), CONTRACT, ids=[f"{m} {p}" for m, p, *_ in CONTRACT]
)
async def test_the_contract_is_in_the_openapi_document(
    openapi: dict[str, Any], method: str, path: str, status: str, body: str | None, errors: tuple[str, ...]
) -> None:
    operation = openapi["paths"][path][method]
    responses = operation["responses"]
    assert status in responses
    if body is not None:
        assert _schema_name(responses[status]["content"]) == body
    for error in errors:
        assert "application/problem+json" in responses[error]["content"], f"{method} {path} {error}"
        problem = openapi["components"]["schemas"]["Problem"]
        assert set(problem["required"]) >= {"type", "status", "title", "detail", "code"}


async def test_the_document_has_no_operation_outside_the_contract(openapi: dict[str, Any]) -> None:
    served = {(method, path) for path, item in openapi["paths"].items() for method in item}
    assert served == {(method, path) for method, path, *_ in CONTRACT}


async def test_the_project_schema_has_every_field_of_the_contract(openapi: dict[str, Any]) -> None:
    schemas = openapi["components"]["schemas"]
    assert set(schemas["ProjectOut"]["properties"]) == {
        "id", "name", "status", "status_label", "is_exporting", "active_exports", "allowed_actions",
        "working_video", "final_video", "clip_count", "framed_clip_count", "version",
        "created_at", "updated_at",
    }  # fmt: skip
    assert set(schemas["ExportJobOut"]["properties"]) == {
        "id", "project_id", "type", "status", "progress", "message", "error", "input_video_id",
        "output_video_id", "created_at", "updated_at", "finished_at",
    }  # fmt: skip
    assert set(schemas["VideoOut"]["properties"]) == {"id", "kind", "version", "uri", "job_id", "created_at"}
    assert set(schemas["ClipOut"]["properties"]) == {
        "id",
        "project_id",
        "crop_data",
        "created_at",
        "updated_at",
    }
    assert set(schemas["HistoryEntry"]["properties"]) == {
        "at",
        "action",
        "from_status",
        "to_status",
        "job_id",
    }
