"""OPTIONS answers: one per path, made from the routes themselves."""

from litestar import HttpMethod, Response, route
from litestar.handlers import HTTPRouteHandler
from litestar.status_codes import HTTP_204_NO_CONTENT


def options_for(handlers: list[HTTPRouteHandler]) -> list[HTTPRouteHandler]:
    """An OPTIONS answer per path, listing every method of the path in `Allow`. Litestar's own
    lists only the methods of the first handler registered for a path."""
    methods: dict[str, set[str]] = {}
    for handler in handlers:
        for path in handler.paths:
            methods.setdefault(path, {"OPTIONS"}).update(handler.http_methods)

    def answer(path: str, allow: str) -> HTTPRouteHandler:
        def options() -> Response[None]:
            return Response(None, status_code=HTTP_204_NO_CONTENT, headers={"Allow": allow})

        return route(path, http_method=[HttpMethod.OPTIONS], include_in_schema=False, sync_to_thread=False)(
            options
        )

    return [answer(path, ", ".join(sorted(allowed))) for path, allowed in methods.items()]
