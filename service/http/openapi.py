"""What the OpenAPI document says beyond the handlers' signatures: operation ids, tags, summaries,
every error an operation can answer (as problem JSON, never the framework's default shape) and an
example for every request body. Client generators read this document, so it must be exact."""

from dataclasses import dataclass
from typing import Any

from litestar.datastructures import ResponseHeader
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import (
    Example,
    OpenAPIMediaType,
    OpenAPIType,
    Operation,
    Reference,
    RequestBody,
    Schema,
    Tag,
)

from service.errors import PROBLEM_JSON, Problem, TooContended, problem_codes
from service.http.cookie_guard import CrossSiteRequest, UnsupportedMediaType
from service.live.slots import TooManyStreams

TAGS = [
    Tag(name="projects", description="Projects, their status and its history"),
    Tag(name="clips", description="The clips of a project; each edit moves the status through the machine"),
    Tag(name="exports", description="Starting export jobs, and what workers report on them"),
    Tag(name="events", description="Server-Sent Events: live project cards"),
    Tag(name="webhooks", description="Outbound notifications of changes"),
    Tag(name="meta", description="The state machine itself, and the service's health"),
]


ADDED_FIELDS: dict[str, tuple[str, ...]] = {
    "validation_error": ("errors",),
    "transition_not_allowed": ("project_status", "allowed_actions"),
    "export_already_active": ("job_id",),
    "idempotency_key_reused": ("job_id",),
    "project_busy": ("job_id",),
    "job_not_active": ("job_status",),
    "precondition_failed": ("current_version",),
    "limit_reached": ("limit",),
    "too_many_streams": ("limit",),
}
"""The fields of `Problem` each code adds; a test checks this against the answers themselves."""

EVENT_STREAM = "text/event-stream"
EVENT_STREAM_FORMAT = (
    'Server-Sent Events: `event: project` with a Project as `data`, `event: deleted` with `{"id"}`.'
)
BODY = ("validation_error", "payload_too_large")
WRITE = (TooContended.code, UnsupportedMediaType.code, CrossSiteRequest.code)
"""What any write can answer: a race lost every time, and a cookie-authenticated write refused."""
STREAMS = (TooManyStreams.code,)
AUTH = ("unauthorized", "forbidden")
PAGED = [
    ResponseHeader(
        name="Link",
        documentation_only=True,
        required=False,
        description='`<URL of the next page>; rel="next"` (RFC 8288) while more items remain.',
    )
]
"""The answer header of a list whose body is a plain array."""

REQUEST_EXAMPLES: dict[str, dict[str, Any]] = {
    "ProjectCreate": {"name": "Surf trip"},
    "ClipWrite": {"crop_data": {"keyframes": [{"t": 0, "x": 0.4, "y": 0.5, "zoom": 1.2}]}},
    "ExportStart": {"type": "framing"},
    "ProgressReport": {"progress": 40, "message": "encoding"},
    "SucceedReport": {"output_uri": "s3://renders/surf-v1.mp4"},
    "FailReport": {"error": "ffmpeg exited with status 1"},
    "CancelRequest": {"reason": "Wrong clips selected"},
    "WebhookPatch": {"enabled": True},
    "RecoverRequest": {"since": "2026-12-01T09:00:00Z"},
    "WebhookCreate": {
        "url": "https://example.com/framestate-hook",
        "events": ["project.status_changed", "export.succeeded", "export.failed"],
    },
}
"""An example of every request body, by schema name (checked by a test: no body without one)."""


def _problem_responses(codes: tuple[str, ...]) -> dict[int, ResponseSpec]:
    statuses = problem_codes()
    by_status: dict[int, list[str]] = {}
    for code in dict.fromkeys(codes):
        by_status.setdefault(statuses[code], []).append(code)
    return {
        status: ResponseSpec(
            data_container=Problem,
            media_type=PROBLEM_JSON,
            generate_examples=False,
            description="Problem JSON: "
            + "; ".join(
                f"`{code}`" + (f" (adds {', '.join(ADDED_FIELDS[code])})" if code in ADDED_FIELDS else "")
                for code in codes_of_status
            ),
        )
        for status, codes_of_status in sorted(by_status.items())
    }


def documented(
    operation_id: str,
    tag: str,
    summary: str,
    *,
    errors: tuple[str, ...] = (),
    guarded: bool = True,
    answered: ResponseSpec | None = None,
) -> dict[str, Any]:
    """The decorator arguments that document one operation. `errors` are the problem codes it can
    answer; a guarded operation can also answer 401 and 403 when auth is on. `answered` describes
    a 204 answer where the handler's return type cannot say it has no body."""
    responses = _problem_responses((*errors, *AUTH) if guarded else errors)
    if answered is not None:
        responses[204] = answered
    return {
        "operation_id": operation_id,
        "tags": [tag],
        "summary": summary,
        "responses": responses,
        "operation_class": DocumentedOperation,
    }


@dataclass
class DocumentedOperation(Operation):
    """Finishes what Litestar generates for an operation: the framework's default 400 (its own
    error shape, added to every operation with parameters) is dropped, since every error this
    service answers is declared as problem JSON; an optional body (a schema that admits null) is
    a body that may be left out; every request body carries its example; an event stream is text.
    Response headers are listed by name: Litestar gathers them in a set, and a document whose
    order changes with each process's hash seed would make every generated client differ."""

    def __post_init__(self) -> None:
        for status, response in list((self.responses or {}).items()):
            content = getattr(response, "content", None) or {}
            if int(status) >= 400 and PROBLEM_JSON not in content:
                del self.responses[status]  # type: ignore[union-attr]
        for response in (self.responses or {}).values():
            if headers := getattr(response, "headers", None):
                response.headers = dict(sorted(headers.items()))  # type: ignore[union-attr]
            stream = (getattr(response, "content", None) or {}).get(EVENT_STREAM)
            if stream is not None:
                stream.schema = Schema(type=OpenAPIType.STRING, description=EVENT_STREAM_FORMAT)
        body = self.request_body
        if not isinstance(body, RequestBody):
            return
        for media in body.content.values():
            _finish_body(body, media)


def _finish_body(body: RequestBody, media: OpenAPIMediaType) -> None:
    schema = media.schema
    if isinstance(schema, Schema) and schema.one_of:
        refs = [s for s in schema.one_of if isinstance(s, Reference)]
        if len(refs) == 1 and len(schema.one_of) == 2:
            media.schema, body.required = refs[0], False
            schema = refs[0]
    if isinstance(schema, Reference):
        # At this point the reference names the schema by its module path too (`service_schemas_X`).
        name = schema.ref.rsplit("_", 1)[-1].rsplit("/", 1)[-1]
        media.examples = {"example": Example(summary=f"A {name}", value=REQUEST_EXAMPLES[name])}
