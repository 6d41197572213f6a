"""Every imported project passes the same status-from-facts cross-check as every write: a status the
import derived that framestate's rows would contradict (a bug) is refused loudly (a log line and
`framestate_status_disagreements_total`), the project is left out as a problem, and the projects
that shared its transaction go in all the same. The bug is injected by planning a wrong status, on
a real database."""

import logging

import pytest

from fsm.status import Status
from service.legacy.apply import Work, Writer
from service.legacy.outcomes import Outcome
from service.legacy.plan import ClipFact, Planned
from service.settings import Settings
from service.store.db import Database
from tests.api import Api
from tests.metrics import parse, value

pytestmark = pytest.mark.anyio
DISAGREEMENTS = "framestate_status_disagreements_total"


def _planned(project_id: str, status: Status) -> Planned:
    return Planned(
        id=project_id,
        legacy_status="editing",
        status=status,
        agrees=status is Status.IN_PROGRESS,
        problems=[],
        name=f"Project {project_id}",
        clips=[ClipFact(f"{project_id}0", {"x": 1}, None)],
        fingerprint="f" * 32,
    )


async def test_a_status_the_rows_contradict_is_refused_loudly_and_the_others_go_in(
    settings: Settings, api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    before = value(parse((await api.call("GET", "/metrics", 200)).text), DISAGREEMENTS)
    db = Database.open(settings)
    try:
        writer = Writer(db, owner=None, postgres=not settings.is_sqlite)
        work = [Work(_planned("1", Status.IN_PROGRESS), None), Work(_planned("2", Status.COMPLETE), None)]
        with caplog.at_level(logging.ERROR, logger="framestate"):
            written = await writer.write(work)
    finally:
        await db.close()
    assert written.outcomes == {"1": Outcome.IMPORTED, "2": Outcome.PROBLEM}
    assert written.problems["2"] == (
        "framestate's status cross-check failed (a bug): project_imported on project 2: the import says "
        "complete, the facts after it say in_progress"
    )
    assert "status disagreement (a bug" in caplog.text
    assert value(parse((await api.call("GET", "/metrics", 200)).text), DISAGREEMENTS) == before + 1
    assert (await api.project("1"))["status"] == "in_progress"
    await api.call("GET", "/v1/projects/2", 404)
    await api.call("GET", "/v1/projects/2/clips", 404)
