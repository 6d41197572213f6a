"""A property test of `import-legacy`: hypothesis makes legacy databases (statuses the map knows and
does not, in any case; clips framed, unframed and broken; video pointers good, dangling, foreign
and without a version; jobs of every type and status, several active ones of a type included;
clips and jobs of projects that do not exist), imports each with `--apply`, and checks that

- every project's report line has the status the contract's status function gives for its facts,
  agrees as the contract's status map says, and is a problem exactly when the contract names one;
- what framestate then serves for it (`GET /v1/projects/{id}`) is what the report says: the status,
  its clips, its current videos with their legacy versions, and its active jobs; a problem is 404.

The expectations are written from the contract here, not taken from the importer's code; only the
status function is the contract's own (`fsm.facts.status_from_facts`, the oracle every test may use).
"""

import asyncio
import itertools
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import HealthCheck, given
from hypothesis import settings as run_settings
from hypothesis import strategies as st
from litestar.testing import TestClient

from fsm.facts import Facts, status_from_facts
from fsm.status import Status
from service.http.app import create_app
from service.legacy.command import Options, import_legacy
from service.settings import Settings
from tests.conftest import empty_tables
from tests.legacy_db import Legacy, sqlite_legacy

LEGACY_STATUSES: dict[str | None, Status | None] = {
    "complete": Status.COMPLETE,
    "Completed": Status.COMPLETE,
    "in-progress": Status.IN_PROGRESS,
    "DRAFT": Status.NOT_STARTED,
    "framing complete": Status.FRAMED,
    "Exporting_Overlay": Status.EXPORTING_OVERLAY,
    "in framing": Status.EXPORTING_FRAMING,
    "archived": None,
    None: None,
}
"""Legacy values and the status the contract's default map reads them as (None: agrees with none)."""
CROPS = {
    "object": ('{"keyframes": [1]}', True, False),
    "null": (None, False, False),
    "empty": ("", False, False),
    "json null": ("null", False, False),
    "not json": ("{keyframes", False, True),
    "array": ("[1, 2]", False, True),
}
"""crop_data: (its text, framed, a problem)."""
POINTERS = ("none", "ok", "dangling", "foreign", "no version")
ACTIVE = {"pending", "queued", "running", "processing", "started"}
JOB_TYPES = ("framing", "overlay", "Overlay", "thumbnail")
JOB_STATUSES = ("Running", "queued", "pending", "PROCESSING", "started", "done", "failed", "cancelled")
QUEUED = {"pending", "queued"}

PROPERTY_SETTINGS = run_settings(
    max_examples=int(os.environ.get("FRAMESTATE_PROPERTY_EXAMPLES", "25")),
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=False,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@dataclass
class Job:
    type: str
    status: str
    day: int
    progress: float | None

    @property
    def active(self) -> bool:
        return self.status.lower() in ACTIVE

    @property
    def known(self) -> bool:
        return self.type.lower() in ("framing", "overlay")


@dataclass
class Project:
    status: str | None
    crops: list[str]
    working: str
    final: str
    versions: tuple[int, int]
    jobs: list[Job] = field(default_factory=list)


jobs = st.builds(
    Job,
    type=st.sampled_from(JOB_TYPES),
    status=st.sampled_from(JOB_STATUSES),
    day=st.integers(1, 28),
    progress=st.one_of(st.none(), st.floats(0, 100, allow_nan=False)),
)
projects = st.builds(
    Project,
    status=st.sampled_from(list(LEGACY_STATUSES)),
    crops=st.lists(st.sampled_from(list(CROPS)), max_size=3),
    working=st.sampled_from(POINTERS),
    final=st.sampled_from(POINTERS),
    versions=st.tuples(st.integers(1, 9), st.integers(1, 9)),
    jobs=st.lists(jobs, max_size=3),
)


@dataclass
class Expected:
    status: Status
    agrees: bool
    problem: bool
    framed: int
    working: int | None
    final: int | None
    active: dict[str, tuple[str, str]]
    """Type -> (job id, framestate job status) of the newest active job of each type."""


def _build(examples: list[Project], orphans: bool) -> tuple[Legacy, dict[str, Expected]]:
    legacy = Legacy()
    ids = itertools.count(1000)
    expected: dict[str, Expected] = {}
    for number, project in enumerate(examples, start=1):
        pointers: list[int | None] = []
        present = []
        for kind, version in zip((project.working, project.final), project.versions, strict=True):
            video_id = next(ids)
            present.append(kind in ("ok", "no version"))
            if kind == "none":
                pointers.append(None)
                continue
            if kind != "dangling":
                legacy.video(
                    video_id, 999 if kind == "foreign" else number, None if kind == "no version" else version
                )
            pointers.append(video_id)
        legacy.project(number, project.status, working=pointers[0], final=pointers[1])
        for crop in project.crops:
            legacy.clip(next(ids), number, CROPS[crop][0])
        newest: dict[str, tuple[int, int, str]] = {}
        counts: dict[str, int] = {}
        for job in project.jobs:
            job_id = next(ids)
            legacy.job(
                job_id,
                number,
                job.type,
                job.status,
                progress=job.progress,
                created_at=f"2024-03-{job.day:02d} 10:00:00",
            )
            if job.known and job.active:
                kind = job.type.lower()
                counts[kind] = counts.get(kind, 0) + 1
                status = "queued" if job.status.lower() in QUEUED else "running"
                newest[kind] = max(newest.get(kind, (0, 0, "")), (job.day, job_id, status))
        status = status_from_facts(
            Facts(
                active_framing="framing" in newest,
                active_overlay="overlay" in newest,
                final_video=present[1],
                working_video=present[0],
                framed_clip=any(CROPS[crop][1] for crop in project.crops),
            )
        )
        problem = (
            any(CROPS[crop][2] for crop in project.crops)
            or any(kind in ("dangling", "foreign", "no version") for kind in (project.working, project.final))
            or any(not job.known for job in project.jobs)
            or any(count > 1 for count in counts.values())
        )
        expected[str(number)] = Expected(
            status=status,
            agrees=LEGACY_STATUSES[project.status] is status,
            problem=problem,
            framed=sum(CROPS[crop][1] for crop in project.crops),
            working=project.versions[0] if project.working == "ok" else None,
            final=project.versions[1] if project.final == "ok" else None,
            active={kind: (str(job_id), status) for kind, (_, job_id, status) in newest.items()},
        )
    if orphans:
        legacy.clip(next(ids), 777, None)
        legacy.job(next(ids), 778, "framing", "running")
    return legacy, expected


@PROPERTY_SETTINGS
@given(examples=st.lists(projects, min_size=1, max_size=6), orphans=st.booleans())
def test_the_report_says_what_the_contract_says_and_framestate_serves_what_the_report_says(
    migrated_settings: Settings, examples: list[Project], orphans: bool
) -> None:
    asyncio.run(empty_tables(migrated_settings))
    legacy, expected = _build(examples, orphans)
    with tempfile.TemporaryDirectory() as directory:
        source = sqlite_legacy(Path(directory), legacy)
        report = Path(directory) / "report.jsonl"
        status = import_legacy(Options(source=source, apply=True, report=report), migrated_settings)
        lines = {line["id"]: line for line in map(json.loads, report.read_text().splitlines())}
    problems = any(want.problem for want in expected.values()) or orphans
    assert status == (1 if problems else 0)
    assert set(lines) == set(expected) | ({"777", "778"} if orphans else set())
    with TestClient(app=create_app(migrated_settings)) as client:
        for project_id, want in expected.items():
            line = lines[project_id]
            assert (line["status"], line["agrees"]) == (want.status.value, want.agrees), line
            assert line["outcome"] == ("problem" if want.problem else "imported"), line
            assert bool(line["problems"]) == want.problem, line
            answer = client.get(f"/v1/projects/{project_id}")
            if want.problem:
                assert answer.status_code == 404
                continue
            card = answer.json()
            assert card["status"] == line["status"]
            assert card["framed_clip_count"] == want.framed
            assert (card["working_video"] or {}).get("version") == want.working
            assert (card["final_video"] or {}).get("version") == want.final
            served = {job["type"]: (job["id"], job["status"]) for job in card["active_exports"]}
            assert served == want.active
