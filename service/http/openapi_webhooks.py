"""The OpenAPI document's `webhooks` section (OpenAPI 3.1): what framestate POSTs to a receiver.

One entry per event type, named by the type, whose `post` has the event's body as its request body
(a schema of its own per type, `type` fixed to it) and the three Standard Webhooks headers as
parameters, so that a generator can type a receiver. The bodies reuse the API's own Project and
ExportJob schemas: a delivery carries the card as the change left it.
"""

from litestar.openapi.spec import (
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Parameter,
    PathItem,
    Reference,
    RequestBody,
    Schema,
)

from service.webhooks.schemas import TEST_EVENT, EventType

TAG = "webhooks"
PROJECT = Reference("#/components/schemas/ProjectOut")
JOB = Reference("#/components/schemas/ExportJobOut")
STRING = Schema(type=OpenAPIType.STRING)
HEADERS = {
    "webhook-id": "The event's id: the same on every attempt, so a receiver drops duplicates by it.",
    "webhook-timestamp": "This attempt's time, in seconds since 1970 (signed with the body).",
    "webhook-signature": "`v1,` + base64 HMAC-SHA256 of `id.timestamp.body` with the endpoint's secret; "
    "two of them, separated by a space, for a while after a rotation (the new secret's first).",
}


def _schema_name(event_type: str) -> str:
    """`export.succeeded` → `ExportSucceededEvent`."""
    return "".join(part.capitalize() for part in event_type.replace("_", ".").split(".")) + "Event"


def _data(event_type: str) -> Schema:
    if event_type == EventType.PROJECT_DELETED:
        deleted = Schema(type=OpenAPIType.OBJECT, properties={"id": STRING}, required=["id"])
        return Schema(type=OpenAPIType.OBJECT, properties={"project": deleted}, required=["project"])
    if event_type == TEST_EVENT:
        return Schema(type=OpenAPIType.OBJECT, properties={}, description="Empty: a test carries nothing.")
    job = Schema(one_of=[JOB, Schema(type=OpenAPIType.NULL)])
    return Schema(
        type=OpenAPIType.OBJECT,
        properties={"project": PROJECT, "job": job},
        required=["project", "job"],
    )


def _body(event_type: str) -> Schema:
    return Schema(
        type=OpenAPIType.OBJECT,
        title=_schema_name(event_type),
        description=f"The body of a `{event_type}` delivery.",
        properties={
            "id": Schema(type=OpenAPIType.STRING, description="The event's id (as in `webhook-id`)"),
            "type": Schema(type=OpenAPIType.STRING, enum=[event_type]),
            "timestamp": Schema(type=OpenAPIType.STRING, format="date-time"),  # type: ignore[arg-type]
            "data": _data(event_type),
        },
        required=["id", "type", "timestamp", "data"],
    )


def _operation(event_type: str) -> PathItem:
    name = _schema_name(event_type)
    return PathItem(
        post=Operation(
            operation_id="on" + name,
            tags=[TAG],
            summary=f"framestate sends `{event_type}`",
            parameters=[
                Parameter(name=header, param_in="header", required=True, schema=STRING, description=text)
                for header, text in HEADERS.items()
            ],
            request_body=RequestBody(
                required=True,
                content={
                    "application/json": OpenAPIMediaType(schema=Reference(f"#/components/schemas/{name}"))
                },
            ),
            responses={
                "200": OpenAPIResponse(description="Any 2xx delivers; anything else is retried."),
                "410": OpenAPIResponse(description="Gone: disables the endpoint at once."),
                "429": OpenAPIResponse(description="Retried no earlier than its Retry-After (at most 1 h)."),
            },
        )
    )


EVENT_TYPES = [*(t.value for t in EventType), TEST_EVENT]
BODIES: dict[str, Schema] = {_schema_name(t): _body(t) for t in EVENT_TYPES}
WEBHOOKS: dict[str, PathItem | Reference] = {t: _operation(t) for t in EVENT_TYPES}
