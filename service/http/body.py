"""Reading a JSON request body: whatever the bytes are, the outcome is a value or a 400.

msgspec refuses malformed JSON with `DecodeError`, but bytes that are not UTF-8 inside a string
surface as `UnicodeDecodeError`, and nesting deeper than the interpreter's recursion limit as
`RecursionError`. All three mean the same to a client: the body is not the JSON this API takes.
Nesting is bounded well below the recursion limit: the deepest body the API takes is a clip whose
`crop_data` is 32 levels deep, inside the body's own object.
"""

from typing import Any

import msgspec

from service.limits import MAX_CROP_DATA_DEPTH
from service.limits import MAX_JSON_DEPTH as MAX_DEPTH


class BodyError(ValueError):
    """The body is not JSON of an acceptable shape; the message says why, for the client."""


def decode(raw: bytes) -> Any:
    try:
        value = msgspec.json.decode(raw)
    except RecursionError:
        raise BodyError(_too_deep()) from None
    except msgspec.DecodeError as exc:
        raise BodyError(f"JSON is malformed: {exc}") from None
    except UnicodeDecodeError:
        raise BodyError("JSON is malformed: the body is not valid UTF-8") from None
    if raw.count(b"[") + raw.count(b"{") > MAX_DEPTH and depth(value) > MAX_DEPTH:
        raise BodyError(_too_deep())
    return value


def depth(value: Any) -> int:
    """How many arrays and objects deep `value` is (a scalar is 0), without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            item = item.values()
        elif not isinstance(item, list):
            continue
        level += 1
        deepest = max(deepest, level)
        stack.extend((child, level) for child in item)
    return deepest


def _too_deep() -> str:
    return f"JSON is nested deeper than {MAX_DEPTH} levels (crop_data may be {MAX_CROP_DATA_DEPTH} deep)"
