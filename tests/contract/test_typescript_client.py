"""The TypeScript client (`clients/typescript`, `@framestate/client`) against a real server: its type
checks (the example card and the bodies that must not compile included), its build as consumers
import it, and its vitest suite (the schema file against the served document, the seed walk, live
follows across a cut connection, the board after 200 concurrent changes, the React hooks in a DOM)
run with the URL and tokens of a framestate started here (auth on, SQLite: what the client does
does not depend on the database, and the service's tests cover both).

`make test` installs the Node packages from the lockfile first. Without Node, or without them, the
test is skipped and says so; in CI (`CI=true`) that is a failure."""

import json
import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from service.auth import Role, mint_token
from tests.servers import ROOT, running_server

pytestmark = pytest.mark.slow
CLIENT = ROOT / "clients" / "typescript"
OWNERS = ("workflow", "follow", "board", "react", "limits")
"""One client per test file of the suite, so that one file's board never sees another's projects."""
MAX_STREAMS = "20"
"""The streams one client may hold; a test goes past it."""
IMPORT_THE_PACKAGE = """
const client = await import("@framestate/client");
const react = await import("@framestate/client/react");
console.log(JSON.stringify([Object.keys(client).sort(), Object.keys(react).sort()]));
"""


def _node_or_skip() -> str:
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


@pytest.fixture
def service(sqlite_url: str) -> Iterator[Service]:
    secret = secrets.token_urlsafe(48)
    tokens = {owner: mint_token(secret, owner, Role.CLIENT) for owner in OWNERS}
    tokens["worker"] = mint_token(secret, "renderer", Role.WORKER)
    env = {"FRAMESTATE_JWT_SECRET": secret, "FRAMESTATE_MAX_STREAMS": MAX_STREAMS}
    with running_server(sqlite_url, extra_env=env) as url:
        yield Service(url, tokens)


def _run(*command: str, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        command,
        cwd=CLIENT,
        env={**os.environ, "NO_COLOR": "1", **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{output}"
    return output


def test_the_typescript_client(service: Service) -> None:
    node = _node_or_skip()
    bin_dir = CLIENT / "node_modules" / ".bin"
    _run(str(bin_dir / "tsc"), "-p", "tsconfig.json")
    _run(str(bin_dir / "tsc"), "-p", "tsconfig.build.json")
    exported = json.loads(_run(node, "--input-type=module", "-e", IMPORT_THE_PACKAGE))
    assert {"createFramestate", "followProject", "followBoard"} <= set(exported[0])
    assert {"useLiveProject", "useLiveBoard"} <= set(exported[1])
    output = _run(str(bin_dir / "vitest"), "run", env=service.env())
    assert " failed" not in output, output
