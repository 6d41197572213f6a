"""The OpenAPI document, and only the document: `/schema/openapi.json` (and `/schema`).

Litestar's viewer pages (Swagger UI, ReDoc, Elements, RapiDoc, Scalar) load their scripts from
public CDNs without integrity hashes, so none is served; the document works in any viewer run
elsewhere. Litestar answers other paths under `/schema` with an HTML 404 page of its own: here they
are problem JSON like every other unknown path.
"""

from typing import Any

from litestar import Litestar, Response, Router
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.status_codes import HTTP_404_NOT_FOUND

from service.errors import PROBLEM_JSON
from service.http.openapi import TAGS
from service.http.openapi_webhooks import BODIES, WEBHOOKS
from service.http.problems import problem

PATH = "/schema"


def _problem_for_unknown(response: Response[Any]) -> Response[Any]:
    if response.status_code == HTTP_404_NOT_FOUND and response.media_type != PROBLEM_JSON:
        return problem(
            404,
            "not_found",
            "Not found",
            "No such path under /schema: the document is at /schema/openapi.json.",
        )
    return response


def add_webhook_bodies(app: Litestar) -> None:
    """The schemas of the `webhooks` section's bodies, beside those Litestar made of the handlers'
    types (it builds `components` from its own registry, so they are added to the built document)."""
    components = app.openapi_schema.components
    components.schemas = {**(components.schemas or {}), **BODIES}


def openapi_config() -> OpenAPIConfig:
    router = Router(PATH, route_handlers=[], include_in_schema=False, after_request=_problem_for_unknown)
    return OpenAPIConfig(
        title="framestate",
        version="1.0.0",
        tags=TAGS,
        openapi_router=router,
        render_plugins=[JsonRenderPlugin()],
        webhooks=WEBHOOKS,
    )
