"""Every path, method, status and body of the contract appears in the served OpenAPI document, with
its error answers declared as problem JSON."""

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from fsm.facts import START_ACTIONS, Action, JobType
from fsm.jobs import JobStatus
from fsm.status import Status
from service import schemas
from service.http.openapi import ADDED_FIELDS
from service.webhooks import schemas as webhook_schemas
from tests.api import Api

pytestmark = pytest.mark.anyio

P, C, J = "/v1/projects/{project_id}", "/v1/projects/{project_id}/clips/{clip_id}", "/v1/exports/{job_id}"
W = "/v1/webhooks/{webhook_id}"
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
    ("get", f"{P}/events", "200", None, ("404", "429")),
    ("get", "/v1/events", "200", None, ("429",)),
    ("post", "/v1/session", "204", None, ("401", "403")),
    ("delete", "/v1/session", "204", None, ()),
    ("get", "/v1/session", "200", "SessionOut", ("401", "403")),
    ("get", "/v1/state-machine", "200", "StateMachineOut", ()),
    ("get", "/health", "200", "Health", ("503",)),
    ("post", "/v1/webhooks", "201", "WebhookCreated", ("400",)),
    ("get", "/v1/webhooks", "200", "array", ()),
    ("get", W, "200", "WebhookOut", ("404",)),
    ("delete", W, "204", None, ("404",)),
    ("get", f"{W}/deliveries", "200", "DeliveryPage", ("400", "404")),
    ("post", f"{W}/deliveries/{{delivery_id}}/redeliver", "202", "DeliveryOut", ("404",)),
    ("patch", W, "200", "WebhookOut", ("400", "404")),
    ("post", f"{W}/secret", "200", "SecretOut", ("404",)),
    ("post", f"{W}/recover", "202", "Recovered", ("400", "404")),
    ("post", f"{W}/test", "202", "SentTestEvent", ("404",)),
    ("get", "/health/live", "200", "Health", ()),
    ("get", "/health/ready", "200", "Health", ("503",)),
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
        "output_video_id", "created_at", "updated_at", "finished_at", "cancel_reason",
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
        "actor",
        "reason",
    }


OPERATION_IDS = {
    ("post", "/v1/projects"): "createProject",
    ("get", "/v1/projects"): "listProjects",
    ("get", P): "getProject",
    ("delete", P): "deleteProject",
    ("get", f"{P}/history"): "getProjectHistory",
    ("post", f"{P}/clips"): "addClip",
    ("patch", C): "changeClip",
    ("delete", C): "removeClip",
    ("get", f"{P}/clips"): "listClips",
    ("post", f"{P}/exports"): "startExport",
    ("get", f"{P}/exports"): "listExports",
    ("get", J): "getExport",
    ("post", f"{J}/progress"): "reportProgress",
    ("post", f"{J}/succeed"): "succeedExport",
    ("post", f"{J}/fail"): "failExport",
    ("post", f"{J}/cancel"): "cancelExport",
    ("get", f"{P}/events"): "streamProjectEvents",
    ("get", "/v1/events"): "streamAllEvents",
    ("get", "/v1/state-machine"): "getStateMachine",
    ("get", "/health"): "health",
    ("get", "/health/live"): "getLiveness",
    ("get", "/health/ready"): "getReadiness",
    ("post", "/v1/session"): "openSession",
    ("delete", "/v1/session"): "closeSession",
    ("get", "/v1/session"): "getSession",
    ("post", "/v1/webhooks"): "createWebhook",
    ("get", "/v1/webhooks"): "listWebhooks",
    ("get", "/v1/webhooks/{webhook_id}"): "getWebhook",
    ("delete", "/v1/webhooks/{webhook_id}"): "deleteWebhook",
    ("get", "/v1/webhooks/{webhook_id}/deliveries"): "listWebhookDeliveries",
    ("post", "/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver"): "redeliverWebhookDelivery",
    ("patch", "/v1/webhooks/{webhook_id}"): "changeWebhook",
    ("post", "/v1/webhooks/{webhook_id}/secret"): "rotateWebhookSecret",
    ("post", "/v1/webhooks/{webhook_id}/recover"): "recoverWebhookDeliveries",
    ("post", "/v1/webhooks/{webhook_id}/test"): "sendWebhookTest",
}
TAGS = {"projects", "clips", "exports", "events", "webhooks", "meta"}
METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
PROBLEM_FIELDS = {"type", "status", "title", "detail", "code"}


def _operations(openapi: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in openapi["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield method, path, operation


def _resolve(openapi: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = openapi["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


async def test_every_operation_has_an_id_a_tag_and_a_summary(openapi: dict[str, Any]) -> None:
    problems = []
    for method, path, operation in _operations(openapi):
        operation_id = operation.get("operationId", "")
        if not re.fullmatch(r"[a-z][a-zA-Z0-9]*", operation_id):
            problems.append(f"{method} {path}: operationId {operation_id!r} is not camelCase")
        if len(operation.get("tags", [])) != 1 or not set(operation["tags"]) <= TAGS:
            problems.append(f"{method} {path}: tags {operation.get('tags')}")
        if not operation.get("summary", "").strip():
            problems.append(f"{method} {path}: no summary")
    assert problems == []
    served = {(method, path): operation["operationId"] for method, path, operation in _operations(openapi)}
    assert served == OPERATION_IDS
    assert {tag["name"] for tag in openapi["tags"]} == TAGS


async def test_every_error_answer_is_problem_json(openapi: dict[str, Any]) -> None:
    problems = []
    for method, path, operation in _operations(openapi):
        for status, response in operation["responses"].items():
            if not (status.startswith(("4", "5")) or status == "default"):
                continue
            content = response.get("content", {})
            if set(content) != {"application/problem+json"}:
                problems.append(f"{method} {path} {status}: {sorted(content)}")
                continue
            schema = _resolve(openapi, content["application/problem+json"]["schema"])
            if not set(schema.get("required", [])) >= PROBLEM_FIELDS:
                problems.append(f"{method} {path} {status}: not a problem schema")
    assert problems == []


async def test_no_framework_default_error_shape_is_left(openapi: dict[str, Any]) -> None:
    for node in _walk(openapi):
        properties = node.get("properties", {})
        assert not {"status_code", "extra"} <= set(properties), node


async def test_the_problem_schema_has_the_fields_its_codes_add(openapi: dict[str, Any]) -> None:
    problem = openapi["components"]["schemas"]["Problem"]
    for code, fields in ADDED_FIELDS.items():
        assert set(fields) <= set(problem["properties"]), code
    assert set(START_ACTIONS) <= set(
        _resolve(openapi, problem["properties"]["allowed_actions"]["items"])["enum"]
    )
    start = openapi["paths"][f"{P}/exports"]["post"]["responses"]
    assert "transition_not_allowed" in start["409"]["description"]
    assert "allowed_actions" in start["409"]["description"]


def _enum_of(openapi: dict[str, Any], schema_name: str, field: str) -> list[str]:
    schema = openapi["components"]["schemas"][schema_name]["properties"][field]
    options = [schema, *schema.get("oneOf", [])]
    return next(
        _resolve(openapi, option)["enum"] for option in options if "enum" in _resolve(openapi, option)
    )


async def test_statuses_actions_types_and_job_statuses_are_enums(openapi: dict[str, Any]) -> None:
    statuses = sorted(status.value for status in Status)
    assert sorted(_enum_of(openapi, "ProjectOut", "status")) == statuses
    assert sorted(_enum_of(openapi, "HistoryEntry", "to_status")) == statuses
    assert sorted(_enum_of(openapi, "HistoryEntry", "from_status")) == statuses
    assert sorted(_enum_of(openapi, "HistoryEntry", "action")) == sorted(action.value for action in Action)
    assert sorted(_enum_of(openapi, "ExportJobOut", "type")) == sorted(t.value for t in JobType)
    assert sorted(_enum_of(openapi, "ExportJobOut", "status")) == sorted(s.value for s in JobStatus)
    assert sorted(_enum_of(openapi, "ExportStart", "type")) == sorted(t.value for t in JobType)
    project = openapi["components"]["schemas"]["ProjectOut"]["properties"]
    assert "enum" in _resolve(openapi, project["allowed_actions"]["items"])


async def test_every_request_body_has_an_example_the_service_accepts(openapi: dict[str, Any]) -> None:
    bodies = 0
    for method, path, operation in _operations(openapi):
        if "requestBody" not in operation:
            continue
        for media in operation["requestBody"]["content"].values():
            examples = media.get("examples", {})
            assert examples, f"{method} {path}"
            name = media["schema"]["$ref"].rsplit("/", 1)[-1]
            body_type = getattr(schemas, name, None) or getattr(webhook_schemas, name)
            for example in examples.values():
                msgspec.convert(example["value"], body_type, strict=True)
            bodies += 1
    assert bodies == 11


async def test_an_optional_body_is_not_required(openapi: dict[str, Any]) -> None:
    for path in (f"{J}/succeed", f"{J}/cancel"):
        body = openapi["paths"][path]["post"]["requestBody"]
        assert body["required"] is False
        assert "$ref" in body["content"]["application/json"]["schema"]


_PRINT_DOCUMENT = """
import json, sys
from service.http.app import create_app
from service.settings import Settings
print(json.dumps(create_app(Settings(database_url=sys.argv[1])).openapi_schema.to_schema()))
"""


def test_the_document_is_the_same_in_every_process(tmp_path: Path) -> None:
    """Generated clients are committed and checked against the served document, so it must not
    depend on the process serving it (sets iterate in an order set by Python's hash seed)."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}"
    documents = [
        subprocess.run(
            [sys.executable, "-c", _PRINT_DOCUMENT, url],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            check=True,
            timeout=60,
        ).stdout
        for seed in ("1", "2")
    ]
    assert documents[0] == documents[1]
