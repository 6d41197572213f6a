"""A bare HTTP/1.1 client on asyncio streams, for the load generator: no HTTP library, since one
spends far more CPU per request than the servers it measures can afford to share."""

import asyncio
import contextlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

WRK_DIR = Path(__file__).resolve().parent / "wrk"


class HttpError(Exception):
    pass


@dataclass
class Http:
    """One keep-alive connection; requests on it go one at a time."""

    host: str
    port: int
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        if self.writer is None or self.reader is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\n"
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        elif method != "GET":
            head += "Content-Length: 0\r\n"
        self.writer.write(head.encode() + b"\r\n" + (body or b""))
        headers = (await self.reader.readuntil(b"\r\n\r\n")).lower()
        status = int(headers[9:12])
        length = re.search(rb"\r\ncontent-length: *(\d+)", headers)
        if status in (204, 304):
            content = b""
        elif length is not None:
            content = await self.reader.readexactly(int(length.group(1)))
        elif b"transfer-encoding: chunked" in headers:
            content = await self._chunked()
        else:
            raise HttpError(f"{method} {path}: an answer without a length")
        if b"\r\nconnection: close" in headers:
            await self.close()
        return status, content

    async def _chunked(self) -> bytes:
        assert self.reader is not None
        parts = []
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).strip(), 16)
            parts.append(await self.reader.readexactly(size + 2))
            if size == 0:
                return b"".join(parts)

    async def json(self, method: str, path: str, expect: int, body: Any = None) -> Any:
        status, content = await self.request(
            method, path, None if body is None else json.dumps(body).encode()
        )
        if status != expect:
            raise HttpError(f"{method} {path}: {status} {content[:300]!r}")
        return json.loads(content)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
        self.reader = self.writer = None


def address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if parts.hostname is None or parts.port is None:
        raise ValueError(f"not a URL with a host and a port: {url}")
    return parts.hostname, parts.port
