"""Frames of a stream of every project written at once by the fan-out (`Subscriber.write_now`):
in order with those its task sends, never past a socket that is full, and on a real server a
client that stops reading is cut off alone while another stream follows every change in order."""

import asyncio
import json
import socket

import httpx
import pytest

from service.live.hub import Frame, Subscriber
from tests.api import CROP, Api
from tests.metrics import parse, value
from tests.polling import poll
from tests.servers import ServerProcess, server_process
from tests.sse import events

pytestmark = pytest.mark.anyio
MESSAGE = "m" * 1900
"""A report's message near its bound: each card is about 3 KB, so a socket fills in few changes."""
MAX_REPORTS = 6000


def _frame(version: int) -> Frame:
    return Frame("p" * 32, version, None, f"{version}".encode())


class Socket:
    """A stand-in for the server's writer: takes what it is given while it is open."""

    def __init__(self) -> None:
        self.open = True
        self.written: list[bytes] = []

    def __call__(self, data: bytes) -> bool:
        if self.open:
            self.written.append(data)
        return self.open


def _versions(frames: list[Frame]) -> list[int | None]:
    return [frame.version for frame in frames]


async def test_an_idle_stream_s_frames_are_written_at_once_and_its_task_is_not_woken() -> None:
    subscriber, writer = Subscriber(None), Socket()
    subscriber.write_now = writer
    taking = asyncio.create_task(subscriber.take())
    await asyncio.sleep(0)  # the task waits for frames
    for version in (2, 3):
        subscriber.offer(_frame(version))
    assert writer.written == [b"2", b"3"]
    await asyncio.sleep(0)
    assert not taking.done()
    subscriber.close()
    assert await taking == []


async def test_a_frame_waits_behind_those_taken_and_behind_a_full_socket() -> None:
    subscriber, writer = Subscriber(None), Socket()
    subscriber.write_now = writer
    writer.open = False
    subscriber.offer(_frame(2))
    writer.open = True
    subscriber.offer(_frame(3))  # frame 2 waits for the task: 3 goes behind it
    assert writer.written == []
    assert _versions(await subscriber.take()) == [2, 3]
    subscriber.offer(_frame(4))  # the task is sending 2 and 3: 4 waits too
    assert writer.written == []
    assert _versions(await subscriber.take()) == [4]
    taking = asyncio.create_task(subscriber.take())  # sent: the task asks for more
    await asyncio.sleep(0)
    subscriber.offer(_frame(5))
    assert writer.written == [b"5"]
    subscriber.close()
    assert await taking == []


async def test_a_full_socket_still_counts_against_the_stream_s_buffer() -> None:
    subscriber, writer = Subscriber(None, limit=2), Socket()
    subscriber.write_now = writer
    writer.open = False
    for version in (2, 3, 4):
        subscriber.offer(_frame(version))
    assert subscriber.closed
    assert _versions(await subscriber.take()) == [2, 3]


def _stalled_stream(port: int) -> tuple[socket.socket, bytes]:
    """`GET /v1/events` on a socket with a small receive buffer, read up to its opening comment and
    then never again."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(10)
    sock.connect(("127.0.0.1", port))
    sock.sendall(b"GET /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    seen = b""
    while b": framestate events" not in seen:
        seen += sock.recv(4096)
    return sock, seen


def _read_to_the_end(sock: socket.socket, got: bytearray) -> bytes:
    """Everything the server sends until the answer's last chunk (or the connection's end)."""
    while not got.endswith(b"0\r\n\r\n"):
        chunk = sock.recv(65536)
        if not chunk:
            break
        got += chunk
    return bytes(got)


async def _open_streams(client: httpx.AsyncClient) -> float:
    samples = parse((await client.get("/metrics")).text)
    return value(samples, "framestate_event_subscribers", stream="all")


async def test_a_client_that_stops_reading_is_cut_off_alone_and_the_others_see_every_change(
    sqlite_url: str,
) -> None:
    with server_process(sqlite_url) as server:
        port = int(server.url.rsplit(":", 1)[1])
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            api = Api(client)
            project = await api.create_project()
            await api.add_clip(project["id"], CROP)
            job = await api.start(project["id"], "framing")
            first = (await api.project(project["id"]))["version"]
            stalled, opening = await asyncio.to_thread(_stalled_stream, port)
            seen: list[int] = []
            try:
                async with events(client, "/v1/events") as reader:

                    async def read() -> None:
                        while True:
                            name, card = await reader.next()
                            if name == "project":
                                seen.append(card["version"])

                    reading = asyncio.create_task(read())
                    assert await _open_streams(client) == 2
                    reports = 0
                    while not _cut_off(server):
                        assert reports < MAX_REPORTS, "a stream that is not read was never cut off"
                        for _ in range(100):
                            reports += 1
                            await api.progress(job["id"], reports % 100, f"{reports} {MESSAGE}")
                    last = first + reports
                    await poll(lambda: _last(seen), lambda version: version == last, timeout_s=30)
                    reading.cancel()
                got = await asyncio.to_thread(_read_to_the_end, stalled, bytearray(opening))
            finally:
                stalled.close()
        assert seen == sorted(set(seen)), "in order (changes made while a card loads may share one)"
        assert len(seen) > reports * 0.9
        cut = _card_versions(got)
        assert cut == sorted(set(cut))
        assert cut[0] > first
        assert cut[-1] < last, "cut off before the last change"


def _cut_off(server: ServerProcess) -> bool:
    return any("closed an event stream" in line for line in list(server.log))


async def _last(seen: list[int]) -> int:
    return seen[-1] if seen else 0


def _card_versions(raw: bytes) -> list[int]:
    """The versions of the cards in a chunked event stream, as a client would have read them."""
    body, rest = bytearray(), raw.split(b"\r\n\r\n", 1)[1]
    while rest:
        size_line, rest = rest.split(b"\r\n", 1)
        size = int(size_line, 16)
        if size == 0:
            break
        body += rest[:size]
        rest = rest[size + 2 :]
    versions = []
    for event in body.decode().split("\n\n"):
        if event.startswith("event: project\n"):
            versions.append(json.loads(event.split("data: ", 1)[1])["version"])
    return versions
