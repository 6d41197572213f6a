"""Checks every request passes before its handler runs, in the contract's order: size, shape, existence.

- Litestar converts a body to its declared type leniently (`{"progress": "50"}` would become 50);
  the contract calls a wrong type a 400, so the body is decoded once more, strictly, against the
  same declared type. The handler's own parse then never sees a value refused here.
- Text fields may not contain the NUL character: PostgreSQL cannot store it in a text column, and
  no name, message, error or URI needs it. The schema says so with a pattern; this check says it
  in words. (`crop_data` is stored as JSON, where NUL is fine on both databases.)
- Every way the bytes can fail to be JSON (malformed, not UTF-8, nested too deep) is a 400
  (service/json_body.py); the strict check converts the value decoded there.
- An id in the path that no row here can have (`service.store.tables.is_id`: the service's own 32
  lower-case hex characters, or an id kept by `import-legacy`, 1 to 32 letters, digits, `-` or
  `_`) is unknown: 404 without a database round trip.
"""

from typing import Any

import msgspec
from litestar import Request
from litestar.exceptions import ValidationException

from service.errors import NotFound
from service.http import body as json_body
from service.store.tables import is_id

PATH_IDS = {
    "project_id": "project",
    "clip_id": "clip",
    "job_id": "export job",
    "webhook_id": "webhook",
    "delivery_id": "delivery",
}


def _body_error(request: Request[Any, Any, Any], key: str, message: str) -> ValidationException:
    return ValidationException(
        f"Validation failed for {request.method} {request.url.path}",
        extra=[{"message": message, "key": key, "source": "body"}],
    )


async def _check_body(request: Request[Any, Any, Any]) -> None:
    field = request.route_handler.parsed_data_field
    if field is None:
        return
    raw = await request.body()
    if not raw:
        if not field.is_optional:
            raise ValidationException("The request body is missing: this endpoint takes a JSON object.")
        return
    try:
        body = json_body.decode(raw)
    except json_body.BodyError as exc:
        raise ValidationException(str(exc)) from None
    if b"\\u0000" in raw:
        _refuse_nul_text(request, body)
    body_type = field.annotation
    if field.is_optional:  # a body that may be left out; sent, it must be the object (not `null`)
        body_type = next(inner.annotation for inner in field.inner_types if not inner.is_none_type)
    try:
        msgspec.convert(body, type=body_type, strict=True)
    except msgspec.ValidationError as exc:
        message, _, at = str(exc).partition(" - at ")
        raise _body_error(request, at.strip("`").removeprefix("$").lstrip(".") or "data", message) from None


def _refuse_nul_text(request: Request[Any, Any, Any], body: Any) -> None:
    for key, value in body.items() if isinstance(body, dict) else ():
        if isinstance(value, str) and "\x00" in value:
            raise _body_error(request, key, "Text may not contain the NUL character (\\u0000)")


def _check_path_ids(request: Request[Any, Any, Any]) -> None:
    for name, kind in PATH_IDS.items():
        value = request.path_params.get(name)
        if value is not None and not is_id(value):
            raise NotFound(f"No {kind} with id {value!r}.")


async def check_request(request: Request[Any, Any, Any]) -> None:
    await _check_body(request)
    _check_path_ids(request)
