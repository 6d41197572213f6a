"""How many event streams one caller may hold at once (`FRAMESTATE_MAX_STREAMS`), and one process
(`FRAMESTATE_MAX_STREAMS_TOTAL`).

A caller is a token's `sub` with auth on, else the client's address. A slot is taken before a
stream subscribes and given back when the stream ends, however it ends: the stream's own cleanup
gives it back, and so does the stream being dropped unread (a client gone before the first byte),
so no slot outlives its stream. The count is per process.
"""

from collections.abc import Callable

from service.errors import DomainError
from service.settings import DEFAULT_MAX_STREAMS_TOTAL


class TooManyStreams(DomainError):
    status, code, title = 429, "too_many_streams", "Too many event streams"


class StreamSlots:
    def __init__(self, limit: int, total: int = DEFAULT_MAX_STREAMS_TOTAL) -> None:
        self.limit = limit
        self.total = total
        self._held: dict[str, int] = {}
        self._held_in_all = 0

    def held(self, caller: str) -> int:
        return self._held.get(caller, 0)

    def take(self, caller: str) -> Callable[[], None]:
        """Take a slot for `caller` (429 when it holds them all); call the answer to give it back."""
        held = self.held(caller)
        if held >= self.limit:
            raise TooManyStreams(
                f"This caller already holds {held} event streams, the most allowed at once "
                "(FRAMESTATE_MAX_STREAMS); close one first.",
                limit=self.limit,
            )
        if self._held_in_all >= self.total:
            raise TooManyStreams(
                f"This process already holds {self._held_in_all} event streams, the most it serves at once "
                "(FRAMESTATE_MAX_STREAMS_TOTAL); try again shortly, or another process.",
                limit=self.total,
            )
        self._held[caller] = held + 1
        self._held_in_all += 1
        given_back = False

        def give_back() -> None:
            nonlocal given_back
            if given_back:
                return
            given_back = True
            self._held_in_all -= 1
            left = self._held[caller] - 1
            if left:
                self._held[caller] = left
            else:
                del self._held[caller]

        return give_back
