"""How an attempt reaches its receiver: a connection to the address that was checked, never to a
second resolution of the name, kept alive for the next attempt.

The request goes to the checked address itself, with the URL's host in `Host` and, over https,
as the TLS server name (SNI), against which the receiver's certificate is verified as usual. A
connection pool keyed by address alone could hand one host's TLS connection to another host on the
same address, so https targets get a session of their own per host name; plain http targets share
one (a connection to an address serves any `Host`).

The client is aiohttp's: a POST costs it a small fraction of what it costs httpx (measured with a
loopback receiver, see docs/benchmarks.md), and at a thousand deliveries a second that is most of
a core. A receiver's answer is read only when it is short, to keep its connection alive; a long
one closes the connection rather than be read.
"""

from collections import OrderedDict
from dataclasses import dataclass

import aiohttp
from yarl import URL

from service.webhooks.urls import Target

MAX_TLS_SESSIONS = 256
"""https hosts whose connections are kept alive at once; the least recently used is closed."""
SHORT_ANSWER_BYTES = 64 * 1024
ERRORS = (aiohttp.ClientError, OSError)
"""What a failed attempt raises: refused, reset, closed mid-answer, a malformed answer, TLS."""


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    retry_after: str | None


def failure(exc: BaseException) -> str:
    """What went wrong with an attempt, in words a receiver's owner reads in the delivery log."""
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"could not connect ({exc.os_error.strerror or type(exc.os_error).__name__})"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "the receiver closed the connection without answering"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def host_header(target: Target) -> str:
    host = f"[{target.host}]" if ":" in target.host else target.host
    default = 443 if target.scheme == "https" else 80
    return host if target.port == default else f"{host}:{target.port}"


class Transport:
    def __init__(self, timeout_s: float, slots: int) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._slots = slots
        self._plain: aiohttp.ClientSession | None = None
        self._tls: OrderedDict[str, aiohttp.ClientSession] = OrderedDict()

    def _session(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(
            timeout=self._timeout,
            connector=aiohttp.TCPConnector(limit=self._slots, use_dns_cache=False),
            auto_decompress=False,
            trust_env=False,
        )

    async def _session_for(self, target: Target) -> aiohttp.ClientSession:
        if target.scheme != "https":
            if self._plain is None:
                self._plain = self._session()
            return self._plain
        session = self._tls.pop(target.host, None) or self._session()
        self._tls[target.host] = session
        while len(self._tls) > MAX_TLS_SESSIONS:
            _, oldest = self._tls.popitem(last=False)
            await oldest.close()
        return session

    async def post(self, target: Target, body: bytes, headers: dict[str, str]) -> Answer:
        """POST `body` to the target; the receiver's status code and `Retry-After`."""
        url = URL(target.url, encoded=False).with_host(str(target.address))
        session = await self._session_for(target)
        async with session.post(
            url,
            data=body,
            headers={**headers, "Host": host_header(target)},
            allow_redirects=False,
            server_hostname=target.host if target.scheme == "https" else None,
        ) as answer:
            if answer.content_length is not None and answer.content_length <= SHORT_ANSWER_BYTES:
                await answer.read()
            return Answer(answer.status, answer.headers.get("Retry-After"))

    async def close(self) -> None:
        for session in (self._plain, *self._tls.values()):
            if session is not None:
                await session.close()
        self._tls.clear()
