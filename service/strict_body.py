"""Strict typing of JSON request bodies.

Litestar converts a request body to its declared type leniently: `{"progress": "50"}` would become
50. The contract calls a wrong type a 400, so before a handler with a body runs, its body is
decoded once more, strictly, against the same declared type; the handler's own parse then never
sees a value this one refused.
"""

from typing import Any

import msgspec
from litestar import Request
from litestar.exceptions import ValidationException


async def check_body_types(request: Request[Any, Any, Any]) -> None:
    field = request.route_handler.parsed_data_field
    if field is None:
        return
    raw = await request.body()
    if not raw:
        if not field.is_optional:
            raise ValidationException("The request body is missing: this endpoint takes a JSON object.")
        return
    try:
        msgspec.json.decode(raw, type=field.annotation, strict=True)
    except msgspec.ValidationError as exc:
        message, _, where = str(exc).partition(" - at ")
        key = where.strip("`").removeprefix("$").lstrip(".") or "data"
        raise ValidationException(
            f"Validation failed for {request.method} {request.url.path}",
            extra=[{"message": message, "key": key, "source": "body"}],
        ) from None
    except msgspec.DecodeError as exc:
        raise ValidationException(f"JSON is malformed: {exc}") from None
