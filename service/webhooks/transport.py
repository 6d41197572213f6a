"""How an attempt reaches its receiver: a connection to the address that was checked, never to a
second resolution of the name.

The request goes to the checked address itself, with the URL's host in `Host` and, over https,
as the TLS server name (SNI), against which the receiver's certificate is verified as usual. A
connection pool keyed by address alone could hand one host's TLS connection to another host on the
same address, so https targets get a client of their own per host name; plain http targets share
one client (a connection to an address serves any `Host`).
"""

from collections import OrderedDict

import httpx

from service.webhooks.urls import Target

MAX_TLS_CLIENTS = 256
"""https hosts whose connections are kept alive at once; the least recently used is closed."""


def host_header(target: Target) -> str:
    host = f"[{target.host}]" if ":" in target.host else target.host
    default = 443 if target.scheme == "https" else 80
    return host if target.port == default else f"{host}:{target.port}"


class Transport:
    def __init__(self, timeout_s: float) -> None:
        self._timeout = httpx.Timeout(timeout_s)
        self._plain = self._client()
        self._tls: OrderedDict[str, httpx.AsyncClient] = OrderedDict()

    def _client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=self._timeout, follow_redirects=False)

    async def _client_for(self, target: Target) -> httpx.AsyncClient:
        if target.scheme != "https":
            return self._plain
        client = self._tls.pop(target.host, None) or self._client()
        self._tls[target.host] = client
        while len(self._tls) > MAX_TLS_CLIENTS:
            _, oldest = self._tls.popitem(last=False)
            await oldest.aclose()
        return client

    async def post(self, target: Target, body: bytes, headers: dict[str, str]) -> int:
        """POST `body` to the target; the receiver's status code (its answer's body is not read)."""
        url = httpx.URL(target.url).copy_with(host=str(target.address))
        extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
        client = await self._client_for(target)
        request = client.build_request(
            "POST", url, content=body, headers={**headers, "Host": host_header(target)}, extensions=extensions
        )
        answer = await client.send(request, stream=True)
        await answer.aclose()
        return answer.status_code

    async def close(self) -> None:
        for client in (self._plain, *self._tls.values()):
            await client.aclose()
        self._tls.clear()
