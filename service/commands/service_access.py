"""How the commands that talk to a running service (`simulate-export`, `demo`, `watch-webhooks`)
reach it: whether anything answers at its URL, whether auth is on, and, when it is, a token of
each role the command needs, checked before the command changes anything.

A client token starts and cancels exports and owns projects and webhooks; a worker token reports on
exports. Each is checked by a request that changes nothing and that the two roles are answered
differently: a page of projects (a client's) and a progress report on a job that does not exist
(404 to a worker, 403 to a client). A missing token is asked for on a terminal, naming its role;
elsewhere the command stops with a line that says which option or variable takes it.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from service.commands.outcomes import CannotRun, Exit

Ask = Callable[[str], str]
"""Asks the person at the terminal for a token, with a prompt that names what it is for."""
NO_JOB = "0" * 32
TIMEOUT_S = 10.0
CLIENT_HINT = "framestate token --sub OWNER --role client"
WORKER_HINT = "framestate token --sub renderer-1 --role worker"


@dataclass(frozen=True, slots=True)
class Access:
    base_url: str
    auth_on: bool
    client_token: str | None
    worker_token: str | None


def not_answering(base_url: str, exc: httpx.TransportError, *, left: str = "") -> CannotRun:
    """The sentence for a service that does not answer or, with `left` (what that leaves behind),
    stopped answering midway."""
    if isinstance(exc, httpx.TimeoutException):
        cause = f"the service at {base_url} did not answer within {TIMEOUT_S:g} s"
    elif left:
        cause = f"the service at {base_url} stopped answering ({type(exc).__name__})"
    else:
        cause = f"nothing answers at {base_url}"
    fix = left or "start it (make run, or framestate serve) or name another with --url"
    return CannotRun(f"{cause}: {fix}", Exit.NO_SERVICE)


async def reach(
    base_url: str,
    *,
    client_token: str | None,
    worker_token: str | None,
    roles: tuple[str, ...],
    ask: Ask | None,
) -> Access:
    """The service at `base_url`, with a checked token of each of `roles` ("client", "worker")
    when auth is on. Raises `CannotRun` naming what is missing or wrong."""
    async with httpx.AsyncClient(base_url=base_url, timeout=TIMEOUT_S) as http:
        try:
            auth_on = await _auth_on(http, base_url)
            if not auth_on:
                return Access(base_url, False, None, None)
            if "client" in roles:
                client_token = client_token or _asked(ask, base_url, "client")
                await _check(http, client_token, "client")
            if "worker" in roles:
                worker_token = worker_token or _asked(ask, base_url, "worker")
                await _check(http, worker_token, "worker")
        except httpx.TransportError as exc:
            raise not_answering(base_url, exc) from None
    return Access(base_url, True, client_token, worker_token)


async def _auth_on(http: httpx.AsyncClient, base_url: str) -> bool:
    answer = await http.get("/v1/state-machine")
    if answer.status_code in (200, 401):
        return answer.status_code == 401
    raise CannotRun(
        f"{base_url} does not answer as framestate does (GET /v1/state-machine: {answer.status_code}): "
        "check --url",
        Exit.NO_SERVICE,
    )


def _asked(ask: Ask | None, base_url: str, role: str) -> str:
    option, variable, hint, purpose = (
        ("--token", "FRAMESTATE_TOKEN", CLIENT_HINT, "the project owner's client token")
        if role == "client"
        else ("--worker-token", "FRAMESTATE_WORKER_TOKEN", WORKER_HINT, "a worker token")
    )
    if ask is not None:
        token = ask(f"{base_url} has auth on. Paste {purpose} ({hint}): ").strip()
        if token:
            return token
    raise CannotRun(
        f"{base_url} has auth on: give {purpose} with {option} (or {variable}); mint one with `{hint}`",
        Exit.TOKEN,
    )


async def _check(http: httpx.AsyncClient, token: str, role: str) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    if role == "client":
        answer = await http.get("/v1/projects", params={"limit": 1}, headers=headers)
        accepted, option = answer.status_code == 200, "--token"
        wrong_role = "it is a worker token; starting and cancelling exports takes the owner's client token"
    else:
        answer = await http.post(f"/v1/exports/{NO_JOB}/progress", json={"progress": 0}, headers=headers)
        accepted, option = answer.status_code == 404, "--worker-token"
        wrong_role = f"it is a client token; reporting on an export takes a worker token (`{WORKER_HINT}`)"
    if accepted:
        return
    if answer.status_code == 403:
        raise CannotRun(f"the service refused {option}: {wrong_role}", Exit.TOKEN)
    raise CannotRun(f"the service refused {option} ({answer.status_code}: {detail_of(answer)})", Exit.TOKEN)


def detail_of(answer: httpx.Response) -> str:
    """A problem answer's `detail`, or the start of whatever else came back."""
    try:
        body: Any = answer.json()
    except ValueError:
        return answer.text[:200]
    return str(body.get("detail", "")) if isinstance(body, dict) else answer.text[:200]
