"""Page cursors: opaque to the client, signed by the service, bound to the list they page.

A cursor is the position after the last item of a page (a time and an id, or a sequence number),
written as JSON with the name of its list and the list's scope (the project or webhook it pages),
then signed with HMAC-SHA256. A cursor the service did not make, one altered by a single bit, or
one made for another list is refused as a whole (400 `validation_error`) before anything of it is
read, so no forged value ever reaches a query: no huge integer, no deep JSON, no odd time.

The key is derived from `FRAMESTATE_JWT_SECRET` when auth is on, else from the database URL, so
every process serving one database accepts the cursors of the others, and a restart keeps them.
"""

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, Generic, TypeVar

from service.errors import ValidationFailed
from service.schemas import as_utc
from service.settings import Settings

SIGNATURE_BYTES = 16
CURSOR_MAX = 1000
"""No cursor the service makes is longer; a longer one is refused before it is decoded."""
Position = tuple[datetime, str] | int
T = TypeVar("T")


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Cursors:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def _sign(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()[:SIGNATURE_BYTES]

    def encode(self, list_name: str, scope: str, position: Position) -> str:
        value = [position] if isinstance(position, int) else [position[0].isoformat(), position[1]]
        payload = json.dumps([list_name, scope, *value], separators=(",", ":")).encode()
        return f"{_b64(payload)}.{_b64(self._sign(payload))}"

    def _payload(self, list_name: str, scope: str, cursor: str) -> list[Any]:
        refused = ValidationFailed("cursor is not one this service gave out for this list.")
        if len(cursor) > CURSOR_MAX or not cursor.isascii():
            raise refused
        encoded, _, signature = cursor.partition(".")
        try:
            payload, signed = _unb64(encoded), _unb64(signature)
        except (binascii.Error, ValueError):
            raise refused from None
        if not hmac.compare_digest(signed, self._sign(payload)):
            raise refused
        value = json.loads(payload)
        if value[:2] != [list_name, scope]:
            raise refused
        return list(value[2:])

    def after_moment(self, list_name: str, scope: str, cursor: str) -> tuple[datetime, str]:
        """The (time, id) position of a list ordered by time then id."""
        moment, item_id = self._payload(list_name, scope, cursor)
        return as_utc(datetime.fromisoformat(moment)), str(item_id)

    def after_number(self, list_name: str, scope: str, cursor: str) -> int:
        """The sequence number of a list ordered by one."""
        (number,) = self._payload(list_name, scope, cursor)
        return int(number)


@lru_cache(maxsize=8)
def cursors_for(settings: Settings) -> Cursors:
    secret = settings.jwt_secret or f"database:{settings.database_url}"
    return Cursors(hashlib.sha256(b"framestate page cursors\x00" + secret.encode()).digest())


@dataclass(frozen=True, slots=True)
class Listed(Generic[T]):
    """A page of a list whose answer is a plain array: the next page's cursor travels in `Link`."""

    items: list[T]
    next_cursor: str | None
