"""What several routes share: the If-Match and Idempotency-Key headers, a list's `limit` and
`cursor`, the paged answer with its `Link`, and a card with its ETag."""

from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode

from litestar import Request, Response
from litestar.params import HeaderParameter, QueryParameter
from litestar.status_codes import HTTP_200_OK

from service.cursors import Listed
from service.limits import LIST_PAGE_MAX
from service.schemas import ProjectOut
from service.store.tables import IDEMPOTENCY_KEY_MAX
from service.writes.preconditions import etag

T = TypeVar("T")
IfMatch = Annotated[
    str | None,
    HeaderParameter(name="If-Match", description="Refuse (412) unless the project is at this ETag"),
]
IdempotencyKey = Annotated[
    str | None, HeaderParameter(name="Idempotency-Key", min_length=1, max_length=IDEMPOTENCY_KEY_MAX)
]


ListLimit = Annotated[int, QueryParameter(ge=1, le=LIST_PAGE_MAX, description="Items a page holds at most")]
Cursor = Annotated[
    str | None,
    QueryParameter(min_length=1, description="The next page: from the `Link` header (rel=next) of the last"),
]


def paged(listed: Listed[T], request: Request[Any, Any, Any]) -> Response[list[T]]:
    """The page as a plain array; when more remain, `Link: <next page's URL>; rel="next"` (RFC 8288)."""
    if listed.next_cursor is None:
        return Response(listed.items)
    query = [(key, value) for key, value in request.query_params.multi_items() if key != "cursor"]
    next_url = request.url.with_replacements(query=urlencode([*query, ("cursor", listed.next_cursor)]))
    return Response(listed.items, headers={"Link": f'<{next_url}>; rel="next"'})


def with_etag(card: ProjectOut, status_code: int = HTTP_200_OK) -> Response[ProjectOut]:
    return Response(card, status_code=status_code, headers={"ETag": etag(card.version)})
