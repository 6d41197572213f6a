"""`GET /v1/state-machine` and docs/state-machine.md say the same, both read from the transition table."""

import re
from pathlib import Path

import pytest

from fsm.diagram import describe
from fsm.table import TRANSITIONS
from service.settings import Settings
from tests.api import Api

pytestmark = pytest.mark.anyio
DOC = Path(__file__).resolve().parents[2] / "docs" / "state-machine.md"
ROW = re.compile(r"^\| `(\w+)` \| `(\w+)` \| `(\w+)` \| (.+) \|$")


async def test_the_endpoint_answers_the_machine(api: Api, settings: Settings) -> None:
    served = (await api.call("GET", "/v1/state-machine", 200)).json()
    assert served.pop("job_timeout_s") == settings.job_timeout_s == 600
    assert served == describe()
    assert served["states"] == [
        "not_started", "in_progress", "framed", "exporting_framing", "exporting_overlay", "complete",
    ]  # fmt: skip
    assert served["composite"] == {"exporting": ["exporting_framing", "exporting_overlay"]}
    assert len(served["transitions"]) == len(TRANSITIONS)


async def test_the_endpoint_and_the_docs_agree(api: Api) -> None:
    served = (await api.call("GET", "/v1/state-machine", 200)).json()
    page = DOC.read_text(encoding="utf-8")
    rows = [match.groups() for line in page.splitlines() if (match := ROW.match(line))]
    assert rows == [(t["action"], t["source"], t["dest"], t["guard"] or "—") for t in served["transitions"]]
    assert served["mermaid"].rstrip() in page
