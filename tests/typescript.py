"""What the tests of the TypeScript client (`clients/typescript`) share: Node and the client's
packages (missing, the tests are skipped with a message, except in CI, where they fail), a
framestate with auth on and a token per client of the tests, and running the client's tools."""

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from service.http.auth import Role
from tests.auth import ENV, token
from tests.servers import ROOT, running_server

CLIENT = ROOT / "clients" / "typescript"
TOOLS = CLIENT / "node_modules" / ".bin"
OWNERS = ("workflow", "follow", "board", "react", "limits", "browser")
"""One client per test file, so that one file's board never sees another's projects."""
MAX_STREAMS = "20"
"""The streams one client may hold; a test goes past it."""


def node_or_skip() -> str:
    """The path of `node`, once the client's packages are installed (`make test` runs `npm ci`)."""
    node = shutil.which("node")
    if node is None:
        message = "Node is not installed: the TypeScript client's tests (clients/typescript) are skipped"
    elif not (CLIENT / "node_modules" / ".package-lock.json").exists():
        message = "clients/typescript has no node_modules: `make test` installs them (npm ci)"
    else:
        return node
    if os.environ.get("CI") == "true":
        pytest.fail(message + "; in CI they must run.")
    pytest.skip(message)


@dataclass(frozen=True)
class Service:
    url: str
    tokens: dict[str, str]

    def env(self) -> dict[str, str]:
        """What the TypeScript tests read to reach this service."""
        return {
            "FRAMESTATE_URL": self.url,
            "FRAMESTATE_TEST_TOKENS": json.dumps(self.tokens),
            "FRAMESTATE_MAX_STREAMS": MAX_STREAMS,
        }


@contextmanager
def secured_service(database_url: str) -> Iterator[Service]:
    """framestate with auth on, and a client token per owner of `OWNERS` and a worker's."""
    tokens = {owner: token(owner) for owner in OWNERS}
    tokens["worker"] = token("renderer", Role.WORKER)
    env = {**ENV, "FRAMESTATE_MAX_STREAMS": MAX_STREAMS}
    with running_server(database_url, extra_env=env) as url:
        yield Service(url, tokens)


def run(*command: str | Path, env: dict[str, str] | None = None) -> str:
    """Runs a command in clients/typescript; its output, or a failure that shows it."""
    result = subprocess.run(
        [str(part) for part in command],
        cwd=CLIENT,
        env={**os.environ, "NO_COLOR": "1", **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{' '.join(map(str, command))} failed:\n{output}"
    return output
