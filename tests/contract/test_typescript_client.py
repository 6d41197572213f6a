"""The TypeScript client (`clients/typescript`, `@framestate/client`) against a real server: its type
checks (the example card and the bodies that must not compile included), its build as consumers
import it, and its vitest suite (the schema file against the served document, the seed walk, live
follows across a cut connection, the board after 200 concurrent changes, the React hooks in a DOM)
run with the URL and tokens of a framestate started here (auth on, SQLite: what the client does
does not depend on the database, and the service's tests cover both)."""

import json
from collections.abc import Iterator

import pytest

from tests.typescript import TOOLS, Service, node_or_skip, run, secured_service

pytestmark = pytest.mark.slow
IMPORT_THE_PACKAGE = """
const client = await import("@framestate/client");
const react = await import("@framestate/client/react");
console.log(JSON.stringify([Object.keys(client).sort(), Object.keys(react).sort()]));
"""


@pytest.fixture
def service(sqlite_url: str) -> Iterator[Service]:
    with secured_service(sqlite_url) as service:
        yield service


def test_the_typescript_client(service: Service) -> None:
    node = node_or_skip()
    run(TOOLS / "tsc", "-p", "tsconfig.json")
    run(TOOLS / "tsc", "-p", "tsconfig.build.json")
    exported = json.loads(run(node, "--input-type=module", "-e", IMPORT_THE_PACKAGE))
    assert {"createFramestate", "followProject", "followBoard"} <= set(exported[0])
    assert {"useLiveProject", "useLiveBoard"} <= set(exported[1])
    output = run(TOOLS / "vitest", "run", env=service.env())
    assert " failed" not in output, output
