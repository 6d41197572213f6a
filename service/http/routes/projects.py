"""Projects: create, list, read, delete, and the status history."""

from typing import Annotated, Any

from litestar import Request, Response, delete, get, post
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.status_codes import HTTP_201_CREATED

from service.http.auth import CLIENTS
from service.http.dependencies import Ctx
from service.http.openapi import BODY, PAGED, WRITE, documented
from service.http.routes.params import Cursor, IfMatch, ListLimit, paged, with_etag
from service.limits import LIST_PAGE_DEFAULT, PROJECT_PAGE_DEFAULT, PROJECT_PAGE_MAX
from service.operations import projects
from service.schemas import (
    HistoryEntry,
    ProjectCreate,
    ProjectOut,
    ProjectPage,
    StatusFilter,
)


@post(
    "/v1/projects",
    status_code=HTTP_201_CREATED,
    opt=CLIENTS,
    **documented("createProject", "projects", "Create a project", errors=BODY),
)
async def create_project(data: JSONBody[ProjectCreate], ctx: Ctx) -> Response[ProjectOut]:
    return with_etag(await projects.create_project(name=data.name, ctx=ctx), HTTP_201_CREATED)


@get(
    "/v1/projects",
    opt=CLIENTS,
    **documented("listProjects", "projects", "List projects, newest first", errors=("validation_error",)),
)
async def list_projects(
    ctx: Ctx,
    status: Annotated[StatusFilter | None, QueryParameter(name="status")] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=PROJECT_PAGE_MAX)] = PROJECT_PAGE_DEFAULT,
    cursor: Annotated[str | None, QueryParameter(min_length=1)] = None,
) -> ProjectPage:
    return await projects.list_projects(status=status, limit=limit, cursor=cursor, ctx=ctx)


@get(
    "/v1/projects/{project_id:str}",
    opt=CLIENTS,
    **documented("getProject", "projects", "Get a project", errors=("not_found",)),
)
async def get_project(project_id: FromPath[str], ctx: Ctx) -> Response[ProjectOut]:
    return with_etag(await projects.get_project(project_id, db=ctx.db, owner=ctx.owner))


@delete(
    "/v1/projects/{project_id:str}",
    opt=CLIENTS,
    **documented(
        "deleteProject",
        "projects",
        "Delete a project",
        errors=("not_found", "project_busy", "precondition_failed", *WRITE),
    ),
)
async def delete_project(project_id: FromPath[str], ctx: Ctx, if_match: IfMatch = None) -> None:
    await projects.delete_project(project_id, ctx=ctx, if_match=if_match)


@get(
    "/v1/projects/{project_id:str}/history",
    opt=CLIENTS,
    **documented(
        "getProjectHistory",
        "projects",
        "The status history of a project, oldest first",
        errors=("validation_error", "not_found"),
    ),
    response_headers=PAGED,
)
async def project_history(
    project_id: FromPath[str],
    ctx: Ctx,
    request: Request[Any, Any, Any],
    limit: ListLimit = LIST_PAGE_DEFAULT,
    cursor: Cursor = None,
) -> Response[list[HistoryEntry]]:
    return paged(await projects.project_history(project_id, limit=limit, cursor=cursor, ctx=ctx), request)


HANDLERS: list[HTTPRouteHandler] = [
    create_project,
    list_projects,
    get_project,
    delete_project,
    project_history,
]
