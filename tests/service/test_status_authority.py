"""The machine decides; `status_from_facts` cross-checks every decision before it is written.

Should the two disagree (a transition table out of step with what an action does to the facts),
the write is refused and nothing is stored: an internal error answer, a log line and
`framestate_status_disagreements_total`. The disagreement is injected here by replacing the
machine's answer with a wrong one, on a real database.
"""

import logging

import pytest

from fsm import machine
from fsm.status import Status
from tests.api import Api
from tests.metrics import parse, value

pytestmark = pytest.mark.anyio
DISAGREEMENTS = "framestate_status_disagreements_total"


async def disagreements(api: Api) -> float:
    return value(parse((await api.call("GET", "/metrics", 200)).text), DISAGREEMENTS)


async def test_a_decision_the_facts_contradict_is_refused_and_counted(
    api: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    project = await api.create_project()
    before = await disagreements(api)
    monkeypatch.setattr(machine, "decide", lambda *_args: Status.COMPLETE)

    with caplog.at_level(logging.ERROR, logger="framestate"):
        answer = await api.call("POST", f"/v1/projects/{project['id']}/clips", 500, json={"crop_data": None})

    assert answer.json()["code"] == "internal_error"
    assert "the machine says complete, the facts after it say not_started" in caplog.text
    assert await disagreements(api) == before + 1
    card = await api.project(project["id"])
    assert (card["version"], card["status"], card["clip_count"]) == (project["version"], "not_started", 0)
    assert [row["action"] for row in await api.history(project["id"])] == ["project_created"]


async def test_decisions_that_agree_move_no_counter(api: Api) -> None:
    before = await disagreements(api)
    await api.complete_project()
    assert await disagreements(api) == before
