"""`framestate watch-webhooks`: watch webhooks arrive on this machine, without a public URL.

It listens on a loopback port, registers a webhook for that address with the running service (as
the client whose projects it then hears of), and prints a line for each delivery, with whether its
Standard Webhooks signature checks out against the secret the registration answered. Ctrl-C
deletes the webhook. The service sends to loopback addresses only when told it may:
`FRAMESTATE_WEBHOOK_ALLOW_NETWORKS=127.0.0.0/8,::1/128` (or `FRAMESTATE_WEBHOOK_ALLOW_PRIVATE=true`).
"""

import asyncio
import hmac
import json
import sys
from datetime import datetime
from typing import Any, TextIO

import httpx

from service.commands.outcomes import CannotRun, Exit
from service.commands.service_access import Ask, detail_of, not_answering, reach
from service.webhooks.schemas import EventType
from service.webhooks.signing import signature

PATH = "/framestate-webhook"
ALLOW = "FRAMESTATE_WEBHOOK_ALLOW_NETWORKS=127.0.0.0/8,::1/128"
ANSWER = b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


async def watch_webhooks(
    base_url: str,
    *,
    port: int,
    token: str | None,
    ask: Ask | None,
    progress: bool = False,
    out: TextIO = sys.stdout,
) -> int:
    """Receive and print deliveries until cancelled (Ctrl-C), then delete the webhook."""
    access = await reach(base_url, client_token=token, worker_token=None, roles=("client",), ask=ask)
    headers = {"Authorization": f"Bearer {access.client_token}"} if access.client_token else {}
    secret: list[str] = []
    webhook_id: str | None = None
    try:
        server = await asyncio.start_server(lambda r, w: _receive(r, w, secret, out), "127.0.0.1", port)
    except OSError as exc:
        raise CannotRun(f"cannot listen on 127.0.0.1:{port} ({exc.strerror}): pick another --port") from None
    listening = server.sockets[0].getsockname()[1]
    events = [t.value for t in EventType if progress or t is not EventType.EXPORT_PROGRESS]
    async with server, httpx.AsyncClient(base_url=base_url, headers=headers, timeout=10.0) as http:
        try:
            webhook = await _register(http, f"http://127.0.0.1:{listening}{PATH}", events)
            secret.append(webhook["secret"])
            webhook_id = str(webhook["id"])
            print(f"watching: webhook {webhook_id} sends to http://127.0.0.1:{listening}{PATH}", file=out)
            print(
                "Change something (the board, framestate demo); Ctrl-C deletes the webhook.",
                file=out,
                flush=True,
            )
            await server.serve_forever()
        except httpx.TransportError as exc:
            raise not_answering(base_url, exc) from None
        except asyncio.CancelledError:
            if webhook_id is not None:
                await _unregister(http, webhook_id, out)
    return Exit.DONE


async def _register(http: httpx.AsyncClient, url: str, events: list[str]) -> dict[str, Any]:
    answer = await http.post("/v1/webhooks", json={"url": url, "events": events})
    if answer.status_code == 201:
        created: dict[str, Any] = answer.json()
        return created
    if answer.status_code == 400:
        why = detail_of(answer).rstrip(".")
        raise CannotRun(f"the service refused a webhook to this machine ({why}): serve it with {ALLOW}")
    raise CannotRun(
        f"the service refused the webhook ({answer.status_code}: {detail_of(answer)})", Exit.REFUSED
    )


async def _unregister(http: httpx.AsyncClient, webhook_id: str, out: TextIO) -> None:
    try:
        answer = await http.delete(f"/v1/webhooks/{webhook_id}")
    except httpx.TransportError:
        print(f"the service went away: webhook {webhook_id} stays registered", file=out)
        return
    gone = answer.status_code in (204, 404)
    print(f"webhook {webhook_id} {'deleted' if gone else 'could not be deleted'}", file=out, flush=True)


async def _receive(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, secret: list[str], out: TextIO
) -> None:
    try:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        fields = dict(line.split(":", 1) for line in head[1:] if ":" in line)
        headers = {name.strip().lower(): value.strip() for name, value in fields.items()}
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        writer.write(ANSWER)
        await writer.drain()
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError, ConnectionError):
        return
    finally:
        writer.close()
    print(_line(headers, body, secret[0] if secret else None), file=out, flush=True)


def _line(headers: dict[str, str], body: bytes, secret: str | None) -> str:
    """One delivery, in a line: when, the event type, the project and its status, the job."""
    try:
        event = json.loads(body)
        data = event.get("data") or {}
    except (ValueError, AttributeError):
        return f"{_now()}  a request that is not an event ({len(body)} bytes)"
    project = data.get("project") or {}
    job = data.get("job") or {}
    what = f"{project.get('name', project.get('id', ''))}"
    if project.get("status_label"):
        what += f": {project['status_label']}"
    if job:
        what += f" ({job.get('type')} export {job.get('status')}, {job.get('progress', 0):g}%)"
    return f"{_now()}  {event.get('type', '?'):<24} {what}  [{_checked(headers, body, secret)}]"


def _checked(headers: dict[str, str], body: bytes, secret: str | None) -> str:
    if secret is None:
        return "signature not checked"
    try:
        timestamp = int(headers.get("webhook-timestamp", ""))
        expected = signature(secret, headers.get("webhook-id", ""), timestamp, body.decode())
    except (ValueError, UnicodeDecodeError):
        return "SIGNATURE DOES NOT MATCH"
    sent = headers.get("webhook-signature", "").split()
    return (
        "signature ok" if any(hmac.compare_digest(s, expected) for s in sent) else "SIGNATURE DOES NOT MATCH"
    )


def _now() -> str:
    return datetime.now().strftime("%H:%M:%S")
