"""A stateful property test of the whole HTTP API against a small reference model of the contract.

Hypothesis drives random sequences of every action the contract names: projects created and
deleted, clips added, re-framed and removed, framing and overlay exports started (with and without
an `Idempotency-Key`, keys reused with the same and with the other type), worker reports (progress
up, down and equal, with and without a message; succeed, fail and cancel on active jobs and,
duplicated or out of order, on finished ones), the sweep of silent jobs, and bad requests of every
kind the "Errors" section lists. The model predicts every answer's status code and problem `code`.
After every step each project's card must show the status `status_from_facts` gives for the
model's facts, the model's active exports and videos, and the model's `version`: +1 for every
committed change, nothing for a refused request, an idempotent repeat or a report that changes
nothing. No answer may be a 500.

Each example starts from an empty database and one to three projects that the API has brought to
chosen stages of the workflow (exports running included), so that backward steps are a step away.
The rules are synchronous, so the application runs behind Litestar's synchronous `TestClient`,
whose blocking portal owns the one event loop the application's `Database` lives on; the sweep runs
through that portal on the application's own context, as the application's background sweeper does.

`make test` runs a bounded number of examples, the same ones on every run (`derandomize`);
`FRAMESTATE_PROPERTY_EXAMPLES` raises the number (`make property-deep`).
"""

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any, ClassVar, TypeVar

import httpx
from hypothesis import settings as run_settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from litestar import Litestar
from litestar.testing import TestClient

from fsm.facts import Facts, status_from_facts
from service.context import Context
from service.http.app import create_app
from service.operations.sweep import sweep_once
from service.settings import Settings
from service.store.tables import utcnow
from tests.conftest import empty_tables

T = TypeVar("T")
JSON = dict[str, Any]

PROPERTY_SETTINGS = run_settings(
    max_examples=int(os.environ.get("FRAMESTATE_PROPERTY_EXAMPLES", "25")),
    stateful_step_count=30,
    deadline=None,  # a step is a few HTTP round trips to a real database
    derandomize=True,  # the same examples on every run, so a failure in CI reproduces
    database=None,  # and no .hypothesis directory is written into the repository
    print_blob=False,
)

ACTIVE = ("queued", "running")
LABELS = {
    "not_started": "Not Started",
    "in_progress": "In Progress",
    "framed": "Framed",
    "exporting_framing": "Framing…",
    "exporting_overlay": "Overlay…",
    "complete": "Complete",
}
KEYFRAMES: JSON = {"keyframes": [{"t": 0, "x": 0.1}, {"t": 2.5, "x": 0.4}]}
CROPS: dict[str, JSON] = {
    "keyframes": {"crop_data": KEYFRAMES},
    "empty object": {"crop_data": {}},  # not null, so a framed clip
    "null": {"crop_data": None},
    "left out": {},  # an optional field left out is null
}
NEVER_MADE = "0123456789abcdef0123456789abcdef"  # the shape of an id, but no row has it
MIB = 1024 * 1024


# ---------------------------------------------------------------------------------------------
# The reference model


@dataclass
class JobModel:
    id: str
    project_id: str
    type: str
    key: str | None
    input_video_id: str | None
    last_report: int  # the place of its last report (its start, or progress) in the order of all reports
    reported: tuple[datetime, datetime]  # when that report was sent, and when it was answered
    status: str = "queued"
    progress: float = 0.0
    message: str | None = None
    error: str | None = None
    timed_out: bool = False

    @property
    def active(self) -> bool:
        return self.status in ACTIVE


@dataclass
class VideoModel:
    id: str
    version: int
    uri: str | None
    job_id: str


@dataclass
class ProjectModel:
    id: str
    version: int = 1
    clips: dict[str, bool] = field(default_factory=dict)  # clip id -> framed
    jobs: dict[str, JobModel] = field(default_factory=dict)  # in the order they were started
    keys: dict[str, str] = field(default_factory=dict)  # Idempotency-Key -> job id
    working: VideoModel | None = None
    final: VideoModel | None = None
    highest: dict[str, int] = field(default_factory=lambda: {"working": 0, "final": 0})

    def active_jobs(self, job_type: str | None = None) -> list[JobModel]:
        """Active jobs in card order: framing first, then oldest first."""
        jobs = [j for j in self.jobs.values() if j.active and job_type in (None, j.type)]
        return sorted(jobs, key=lambda j: j.type != "framing")

    def facts(self) -> Facts:
        return Facts(
            active_framing=bool(self.active_jobs("framing")),
            active_overlay=bool(self.active_jobs("overlay")),
            final_video=self.final is not None,
            working_video=self.working is not None,
            framed_clip=any(self.clips.values()),
        )

    def allowed_actions(self) -> list[str]:
        """The guards of the contract's table of actions."""
        facts = self.facts()
        allowed = []
        if facts.framed_clip and not facts.active_framing:
            allowed.append("start_framing_export")
        if facts.working_video and not facts.active_overlay:
            allowed.append("start_overlay_export")
        return allowed


def pick(items: Sequence[T], index: int) -> T:
    return items[index % len(items)]


# ---------------------------------------------------------------------------------------------
# Bad requests: a method, a path whose {project}, {clip} or {job} is filled in with a live id where
# there is one, what is sent, and the one answer the contract gives. The shape of a request is
# checked before the existence of what it names, so these answer alike on live and unknown ids.


@dataclass(frozen=True)
class Bad:
    name: str
    method: str = field(repr=False)
    path: str = field(repr=False)
    status: int = field(repr=False)
    code: str = field(repr=False)
    body: Any = field(default=None, repr=False)
    raw: bytes | None = field(default=None, repr=False)
    headers: dict[str, str] = field(default_factory=dict, repr=False)


def invalid(name: str, method: str, path: str, body: Any = None, **kwargs: Any) -> Bad:
    return Bad(name, method, path, 400, "validation_error", body, **kwargs)


def malformed(name: str, method: str, path: str, raw: bytes) -> Bad:
    return Bad(name, method, path, 400, "validation_error", raw=raw)


PROJECTS = "/v1/projects"
PROJECT = "/v1/projects/{project}"
CLIPS = "/v1/projects/{project}/clips"
CLIP = "/v1/projects/{project}/clips/{clip}"
EXPORTS = "/v1/projects/{project}/exports"
JOB = "/v1/exports/{job}"

BAD_REQUESTS: tuple[Bad, ...] = (
    malformed("project: malformed JSON", "POST", PROJECTS, b'{"name": '),
    invalid("project: empty name", "POST", PROJECTS, {"name": ""}),
    invalid("project: white-space name", "POST", PROJECTS, {"name": " \t\n "}),
    invalid("project: name too long", "POST", PROJECTS, {"name": "n" * 201}),
    invalid("project: name not text", "POST", PROJECTS, {"name": 7}),
    invalid("project: name missing", "POST", PROJECTS, {}),
    invalid("project: body an array", "POST", PROJECTS, [{"name": "x"}]),
    invalid("project: NUL in name", "POST", PROJECTS, {"name": "a\x00b"}),
    malformed("clip add: malformed JSON", "POST", CLIPS, b'{"crop_data": {'),
    invalid("clip add: crop_data a list", "POST", CLIPS, {"crop_data": [1, 2]}),
    invalid("clip add: crop_data text", "POST", CLIPS, {"crop_data": "framed"}),
    invalid("clip add: crop_data a number", "POST", CLIPS, {"crop_data": 3}),
    invalid("clip change: crop_data a bool", "PATCH", CLIP, {"crop_data": True}),
    malformed("clip change: malformed JSON", "PATCH", CLIP, b"{crop_data: null}"),
    invalid("export: unknown type", "POST", EXPORTS, {"type": "thumbnail"}),
    invalid("export: type in capitals", "POST", EXPORTS, {"type": "FRAMING"}),
    invalid("export: type not text", "POST", EXPORTS, {"type": 1}),
    invalid("export: type missing", "POST", EXPORTS, {}),
    malformed("export: malformed JSON", "POST", EXPORTS, b'{"type": "framing"'),
    invalid(
        "export: key too long", "POST", EXPORTS, {"type": "framing"}, headers={"Idempotency-Key": "k" * 201}
    ),
    invalid("export: key empty", "POST", EXPORTS, {"type": "overlay"}, headers={"Idempotency-Key": ""}),
    invalid("progress: above 100", "POST", f"{JOB}/progress", {"progress": 100.5}),
    invalid("progress: below 0", "POST", f"{JOB}/progress", {"progress": -0.5}),
    invalid("progress: text", "POST", f"{JOB}/progress", {"progress": "50"}),
    invalid("progress: a bool", "POST", f"{JOB}/progress", {"progress": True}),
    invalid("progress: null", "POST", f"{JOB}/progress", {"progress": None}),
    invalid("progress: missing", "POST", f"{JOB}/progress", {"message": "hi"}),
    invalid("progress: message a number", "POST", f"{JOB}/progress", {"progress": 5, "message": 5}),
    malformed("progress: NaN", "POST", f"{JOB}/progress", b'{"progress": NaN}'),
    malformed("progress: overflows to infinity", "POST", f"{JOB}/progress", b'{"progress": 1e400}'),
    malformed("progress: no body", "POST", f"{JOB}/progress", b""),
    invalid("fail: empty error", "POST", f"{JOB}/fail", {"error": ""}),
    invalid("fail: error too long", "POST", f"{JOB}/fail", {"error": "e" * 2001}),
    invalid("fail: error missing", "POST", f"{JOB}/fail", {}),
    malformed("fail: no body", "POST", f"{JOB}/fail", b""),
    invalid("succeed: uri a number", "POST", f"{JOB}/succeed", {"output_uri": 5}),
    malformed("succeed: malformed JSON", "POST", f"{JOB}/succeed", b'{"output_uri": "s3://x'),
    Bad(
        "clip add: body over 1 MiB", "POST", CLIPS, 413, "payload_too_large", {"crop_data": {"k": "x" * MIB}}
    ),
    Bad("project: PUT", "PUT", PROJECT, 405, "method_not_allowed", {"name": "x"}),
    Bad("unknown path", "GET", "/v1/nowhere", 404, "not_found"),
)


# ---------------------------------------------------------------------------------------------
# What the rules draw


PICK = st.integers(min_value=0, max_value=15)  # an index into a list of live rows, modulo its length
NAMES = st.one_of(
    st.text(alphabet="ab é🎬-_.", min_size=1, max_size=20).filter(str.strip),
    st.sampled_from([" padded name ", "n" * 200]),
)
# Where a project starts: the exports run through to success, then the exports left running.
STAGES: dict[str, tuple[list[str], list[str]]] = {
    "not started": ([], []),
    "in progress": ([], []),
    "framed": (["framing"], []),
    "complete": (["framing", "overlay"], []),
    "re-framing": (["framing", "overlay"], ["framing"]),
    "re-overlaying": (["framing", "overlay"], ["overlay"]),
    "re-framing while re-overlaying": (["framing", "overlay"], ["overlay", "framing"]),
}
KEYS = st.sampled_from(["alpha", None, "beta", "k" * 200])  # a small pool, so that keys are reused
DIRECTIONS = st.sampled_from(["up", "down", "equal"])
PROGRESS_STEPS = st.sampled_from([0.5, 10.0, 37.5])
MESSAGES = st.sampled_from(["left out", "null", "same", "encoding", "muxing"])
SUCCEED_BODIES = st.sampled_from(["no body", "empty object", "null uri", "uri"])
ERRORS = st.sampled_from(["encoder crashed", "e" * 2000])
OUTCOMES = st.sampled_from(["succeeded", "succeeded", "failed", "cancelled"])
FINISH_PATHS = {"succeeded": "succeed", "failed": "fail", "cancelled": "cancel"}
SWEEP_MOMENTS = st.sampled_from(
    ["just before a job's last report", "just after a job's last report", "past every deadline"]
)
UNKNOWN_KINDS = st.sampled_from(["never made", "not an id", "in capitals", "gone"])


# ---------------------------------------------------------------------------------------------
# The state machine


class ApiStateMachine(RuleBasedStateMachine):
    client: ClassVar[TestClient[Litestar]]
    """One application for all the examples of a run (building a Litestar app costs as much as an
    example's requests); its database is emptied before each example."""

    def __init__(self) -> None:
        super().__init__()
        ctx: Context = self.client.app.state.ctx
        self.client.blocking_portal.call(empty_tables, ctx.settings)
        self.projects: dict[str, ProjectModel] = {}
        self.gone: dict[str, list[str]] = {"project": [], "clip": [], "job": []}
        self.reports = 0
        self.uris = 0

    # -- talking to the service ---------------------------------------------------------------

    def call(
        self, method: str, path: str, expect: int, code: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        response = self.client.request(method, path, **kwargs)
        where = f"{method} {path}"
        assert response.status_code != 500, f"{where} answered 500: {response.text}"
        assert response.status_code == expect, (
            f"{where}: the model expected {expect} {code or ''}, the service answered "
            f"{response.status_code} {response.text[:500]}"
        )
        if expect >= 400:
            assert response.headers["content-type"].startswith("application/problem+json"), response.headers
            problem = response.json()
            assert (problem["status"], problem["code"]) == (expect, code), f"{where}: {problem}"
            assert isinstance(problem["title"], str), problem
            assert isinstance(problem["detail"], str), problem
        return response

    def json(self, method: str, path: str, expect: int, code: str | None = None, **kwargs: Any) -> JSON:
        body: JSON = self.call(method, path, expect, code, **kwargs).json()
        return body

    def check_job(self, got: JSON, job: JobModel) -> None:
        assert (got["id"], got["project_id"], got["type"]) == (job.id, job.project_id, job.type), got
        assert (got["status"], got["progress"]) == (job.status, job.progress), (got, job)
        assert got["input_video_id"] == job.input_video_id, (got, job)
        if job.status != "superseded":  # the service may explain a supersession in the message
            assert got["message"] == job.message, (got, job)
        if job.timed_out:
            assert got["error"], got
        elif job.status == "failed":
            assert got["error"] == job.error, (got, job)
        assert (got["finished_at"] is None) == job.active, got
        assert (got["output_video_id"] is not None) == (job.status == "succeeded"), got

    # -- choosing what to act on --------------------------------------------------------------

    def has_projects(self) -> bool:
        return bool(self.projects)

    def has_clips(self) -> bool:
        return any(p.clips for p in self.projects.values())

    def has_active_jobs(self) -> bool:
        return bool(self.jobs(active=True))

    def has_finished_jobs(self) -> bool:
        return bool(self.jobs(active=False))

    def project(self, index: int) -> ProjectModel:
        return pick(list(self.projects.values()), index)

    def clip(self, index: int) -> tuple[ProjectModel, str]:
        return pick([(p, clip_id) for p in self.projects.values() for clip_id in p.clips], index)

    def jobs(self, active: bool) -> list[JobModel]:
        """Active jobs in card order (framing first), or finished jobs in the order they started."""
        if active:
            return [job for p in self.projects.values() for job in p.active_jobs()]
        return [job for p in self.projects.values() for job in p.jobs.values() if not job.active]

    def next_report(self) -> int:
        self.reports += 1
        return self.reports

    # -- the world an example starts from -----------------------------------------------------

    @initialize(
        stages=st.lists(
            st.one_of(st.sampled_from(list(STAGES)), st.just("re-framing while re-overlaying")),
            min_size=1,
            max_size=3,
        ),
        names=st.lists(NAMES, min_size=3, max_size=3),
    )
    def set_up_projects(self, stages: list[str], names: list[str]) -> None:
        """One to three projects, each brought through the API to a stage of the workflow; half of
        them with both exports running, so that a framing export can supersede an overlay."""
        for stage, name in zip(stages, names, strict=False):
            project = self.create(name)
            self.add(project, "null")
            if stage != "not started":
                self.add(project, "keyframes")
            succeeding, running = STAGES[stage]
            for job_type in succeeding:
                job = self.start(project, job_type, None)
                assert job is not None
                self.finish(job, "succeeded", "uri")
            for job_type in running:
                assert self.start(project, job_type, None) is not None

    # -- projects -----------------------------------------------------------------------------

    @precondition(lambda self: len(self.projects) < 3)
    @rule(name=NAMES)
    def create_project(self, name: str) -> None:
        self.create(name)

    def create(self, name: str) -> ProjectModel:
        card = self.json("POST", PROJECTS, 201, json={"name": name})
        assert (card["name"], card["status"], card["version"]) == (name, "not_started", 1), card
        project = self.projects[card["id"]] = ProjectModel(card["id"])
        return project

    @precondition(lambda self: len(self.projects) > 1)  # keep a project to work on
    @rule(p=PICK)
    def delete_project(self, p: int) -> None:
        project = self.project(p)
        if project.active_jobs():
            self.call("DELETE", f"/v1/projects/{project.id}", 409, "project_busy")
        else:
            self.call("DELETE", f"/v1/projects/{project.id}", 204)
            del self.projects[project.id]
            self.gone["project"].append(project.id)
            self.gone["clip"].extend(project.clips)
            self.gone["job"].extend(project.jobs)

    # -- clips --------------------------------------------------------------------------------

    @precondition(has_projects)
    @rule(p=PICK, crop=st.sampled_from(list(CROPS)))
    def add_clip(self, p: int, crop: str) -> None:
        self.add(self.project(p), crop)

    def add(self, project: ProjectModel, crop: str) -> None:
        body = CROPS[crop]
        clip = self.json("POST", f"/v1/projects/{project.id}/clips", 201, json=body)
        assert clip["crop_data"] == body.get("crop_data"), clip
        project.clips[clip["id"]] = body.get("crop_data") is not None
        project.version += 1

    @precondition(has_clips)
    @rule(c=PICK, crop=st.sampled_from(list(CROPS)))
    def change_clip(self, c: int, crop: str) -> None:
        project, clip_id = self.clip(c)
        body = CROPS[crop]
        clip = self.json("PATCH", f"/v1/projects/{project.id}/clips/{clip_id}", 200, json=body)
        assert clip["crop_data"] == body.get("crop_data"), clip
        project.clips[clip_id] = body.get("crop_data") is not None
        project.version += 1

    @precondition(has_clips)
    @rule(c=PICK)
    def remove_clip(self, c: int) -> None:
        project, clip_id = self.clip(c)
        self.call("DELETE", f"/v1/projects/{project.id}/clips/{clip_id}", 204)
        del project.clips[clip_id]
        self.gone["clip"].append(clip_id)
        project.version += 1

    # -- starting exports ---------------------------------------------------------------------

    @precondition(has_projects)
    @rule(p=PICK, key=KEYS)
    def start_framing(self, p: int, key: str | None) -> None:
        self.start(self.project(p), "framing", key)

    @precondition(has_projects)
    @rule(p=PICK, key=KEYS)
    def start_overlay(self, p: int, key: str | None) -> None:
        self.start(self.project(p), "overlay", key)

    @precondition(lambda self: any(p.keys for p in self.projects.values()))
    @rule(k=PICK, other_type=st.booleans())
    def start_again_with_a_key(self, k: int, other_type: bool) -> None:
        """A start with a key its project already saw: that key's job again, or, with the other
        type, 409 idempotency_key_reused."""
        project, key = pick([(p, key) for p in self.projects.values() for key in p.keys], k)
        job_type = project.jobs[project.keys[key]].type
        if other_type:
            job_type = "overlay" if job_type == "framing" else "framing"
        self.start(project, job_type, key)

    def start(self, project: ProjectModel, job_type: str, key: str | None) -> JobModel | None:
        """Start an export; the job it answers with, None where it is refused."""
        headers = {} if key is None else {"Idempotency-Key": key}
        send = partial(
            self.json, "POST", f"/v1/projects/{project.id}/exports", json={"type": job_type}, headers=headers
        )
        if key is not None and key in project.keys:  # before any other check
            seen = project.jobs[project.keys[key]]
            if seen.type != job_type:
                send(expect=409, code="idempotency_key_reused")
                return None
            self.check_job(send(expect=202), seen)  # the key's job again, whatever its status now
            return seen
        if active := project.active_jobs(job_type):
            refusal = send(expect=409, code="export_already_active")
            assert refusal["job_id"] == active[0].id, refusal
            return None
        if f"start_{job_type}_export" not in project.allowed_actions():
            refusal = send(expect=409, code="transition_not_allowed")
            assert refusal["project_status"] == status_from_facts(project.facts()).value, refusal
            assert sorted(refusal["allowed_actions"]) == project.allowed_actions(), refusal
            return None
        sent_at = utcnow()
        got = send(expect=202)
        input_video = project.working.id if job_type == "overlay" and project.working else None
        job = JobModel(
            got["id"], project.id, job_type, key, input_video, self.next_report(), (sent_at, utcnow())
        )
        self.check_job(got, job)
        project.jobs[job.id] = job
        if key is not None:
            project.keys[key] = job.id
        project.version += 1
        return job

    # -- worker reports -----------------------------------------------------------------------

    @precondition(has_active_jobs)
    @rule(j=PICK, direction=DIRECTIONS, step=PROGRESS_STEPS, message=MESSAGES)
    def report_progress(self, j: int, direction: str, step: float, message: str) -> None:
        self.progress(pick(self.jobs(active=True), j), direction, step, message)

    @precondition(has_active_jobs)
    @rule(
        j=PICK,
        direction=st.sampled_from(["equal", "down"]),
        message=st.sampled_from(["left out", "null", "same"]),
    )
    def repeat_a_report(self, j: int, direction: str, message: str) -> None:
        """A report with no new progress and no new message: a worker's heartbeat. It changes nothing
        once the job is running."""
        self.progress(pick(self.jobs(active=True), j), direction, 10.0, message)

    @precondition(has_active_jobs)
    @rule(j=PICK, outcome=OUTCOMES, body=SUCCEED_BODIES, error=ERRORS)
    def finish_a_job(self, j: int, outcome: str, body: str, error: str) -> None:
        self.finish(pick(self.jobs(active=True), j), outcome, body if outcome == "succeeded" else error)

    @precondition(has_finished_jobs)
    @rule(
        j=PICK,
        report=st.sampled_from(["progress", "succeeded", "failed", "cancelled"]),
        direction=DIRECTIONS,
        message=MESSAGES,
        body=SUCCEED_BODIES,
        error=ERRORS,
    )
    def report_on_a_finished_job(
        self, j: int, report: str, direction: str, message: str, body: str, error: str
    ) -> None:
        """A duplicate (the same outcome again) is 200 and changes nothing; a report out of order
        (any other) is 409 job_not_active."""
        job = pick(self.jobs(active=False), j)
        if report == "progress":
            self.progress(job, direction, 10.0, message)
        else:
            self.finish(job, report, body if report == "succeeded" else error)

    def progress(self, job: JobModel, direction: str, step: float, message: str) -> None:
        value = {"up": min(100.0, job.progress + step), "down": max(0.0, job.progress - step)}.get(
            direction, job.progress
        )
        body: JSON = {"progress": value}
        sent: str | None = None
        if message != "left out":
            sent = {"null": None, "same": job.message}.get(message, message)
            body["message"] = sent
        path = f"/v1/exports/{job.id}/progress"
        if not job.active:
            refusal = self.json("POST", path, 409, "job_not_active", json=body)
            assert refusal["job_status"] == job.status, refusal
            return
        new_progress = max(job.progress, value)  # progress never goes down
        new_message = job.message if sent is None else sent
        changes = job.status == "queued" or new_progress != job.progress or new_message != job.message
        job.status, job.progress, job.message = "running", new_progress, new_message
        sent_at = utcnow()
        self.check_job(self.json("POST", path, 200, json=body), job)
        job.last_report, job.reported = self.next_report(), (sent_at, utcnow())
        if changes:
            self.projects[job.project_id].version += 1

    def finish(self, job: JobModel, outcome: str, detail: str) -> None:
        """Succeed (`detail` names the body sent), fail (`detail` is the error) or cancel `job`."""
        path = f"/v1/exports/{job.id}/{FINISH_PATHS[outcome]}"
        uri: str | None = None
        kwargs: JSON = {}
        if outcome == "failed":
            kwargs = {"json": {"error": detail}}
        elif outcome == "succeeded" and detail != "no body":
            self.uris += 1
            uri = f"s3://renders/{job.id}-{self.uris}.mp4" if detail == "uri" else None
            kwargs = {"json": {} if detail == "empty object" else {"output_uri": uri}}

        if job.status == outcome:  # a duplicate: the job as it is, whatever the body says
            self.check_job(self.json("POST", path, 200, **kwargs), job)
            return
        if not job.active:
            refusal = self.json("POST", path, 409, "job_not_active", **kwargs)
            assert refusal["job_status"] == job.status, refusal
            return
        got = self.json("POST", path, 200, **kwargs)
        project = self.projects[job.project_id]
        job.status = outcome
        if outcome == "failed":
            job.error = detail
        if outcome == "succeeded":
            job.progress = 100.0
            kind = "working" if job.type == "framing" else "final"
            project.highest[kind] += 1
            video = VideoModel(got["output_video_id"], project.highest[kind], uri, job.id)
            if job.type == "framing":
                project.working, project.final = video, None  # the final video was rendered on the old one
                for overlay in project.active_jobs("overlay"):
                    overlay.status = "superseded"  # its input is no longer the current working video
            else:
                project.final = video
        self.check_job(got, job)
        project.version += 1

    # -- the sweep of silent jobs -------------------------------------------------------------

    @precondition(has_active_jobs)
    @rule(moment=SWEEP_MOMENTS, j=PICK)
    def sweep(self, moment: str, j: int) -> None:
        """Sweep as of `moment`: the timeout after the moment just before, or just after, an active
        job's last report; or far past every timeout.

        A job times out once it has had no report for longer than the timeout, and a report is a
        report whether or not it changes anything (the contract: "A job with no report (start,
        progress) for FRAMESTATE_JOB_TIMEOUT_S seconds ... is failed"). So at the timeout after the
        moment just before a job's last report, the jobs that reported before it are silent, and it
        and those that reported since are not; just after it, it is silent too."""
        ctx: Context = self.client.app.state.ctx
        timeout = timedelta(seconds=ctx.settings.job_timeout_s)
        active = self.jobs(active=True)
        if moment == "past every deadline":
            now, silent = utcnow() + timeout + timedelta(hours=1), active
        else:
            last = pick(active, j)
            sent_at, answered_at = last.reported
            just_after = moment.startswith("just after")
            now = (answered_at if just_after else sent_at) + timeout
            silent = [
                job for job in active if job.last_report < last.last_report or (just_after and job is last)
            ]
        failed = self.client.blocking_portal.call(partial(sweep_once, ctx=ctx, now=now))
        for job in silent:
            job.status, job.timed_out = "failed", True
            self.projects[job.project_id].version += 1
        assert failed == len(silent), f"the sweep failed {failed} jobs, the model expected {len(silent)}"

    # -- bad input ----------------------------------------------------------------------------

    @rule(bad=st.sampled_from(BAD_REQUESTS), n=PICK)
    def bad_request(self, bad: Bad, n: int) -> None:
        projects = list(self.projects.values())
        clips = [(p.id, clip_id) for p in projects for clip_id in p.clips]
        jobs = [job.id for p in projects for job in p.jobs.values()]
        project_id, clip_id = pick(clips, n) if clips else (NEVER_MADE, NEVER_MADE)
        if "{clip}" not in bad.path and projects:
            project_id = pick(projects, n).id
        path = bad.path.format(project=project_id, clip=clip_id, job=pick(jobs, n) if jobs else NEVER_MADE)
        kwargs: JSON = {"headers": dict(bad.headers)}
        if bad.raw is not None:
            kwargs["content"] = bad.raw
            kwargs["headers"]["content-type"] = "application/json"
        elif bad.body is not None:
            kwargs["json"] = bad.body
        self.call(bad.method, path, bad.status, bad.code, **kwargs)

    @rule(
        kind=UNKNOWN_KINDS, what=st.sampled_from(["project", "clip", "job", "another project's clip"]), n=PICK
    )
    def unknown_id(self, kind: str, what: str, n: int) -> None:
        """A request on an id no live row has (never made, or since removed) is 404 not_found; so is a
        clip asked for under another project."""
        live = list(self.projects.values())
        owner = pick(live, n).id
        unknown = {"not an id": "not-an-id", "in capitals": NEVER_MADE.upper()}.get(kind, NEVER_MADE)
        gone = self.gone["clip" if what == "another project's clip" else what]
        if kind == "gone" and gone:
            unknown = pick(gone, n)
        if what == "another project's clip" and (
            others := [(p, c) for p in live for c in p.clips if p.id != owner]
        ):
            unknown = pick(others, n)[1]
        requests: dict[str, list[tuple[str, str, JSON]]] = {
            "project": [
                ("GET", f"/v1/projects/{unknown}", {}),
                ("DELETE", f"/v1/projects/{unknown}", {}),
                ("GET", f"/v1/projects/{unknown}/history", {}),
                ("GET", f"/v1/projects/{unknown}/clips", {}),
                ("GET", f"/v1/projects/{unknown}/exports", {}),
                ("POST", f"/v1/projects/{unknown}/clips", {"json": {"crop_data": KEYFRAMES}}),
                ("POST", f"/v1/projects/{unknown}/exports", {"json": {"type": "framing"}}),
                (
                    "POST",
                    f"/v1/projects/{unknown}/exports",
                    {"json": {"type": "overlay"}, "headers": {"Idempotency-Key": "alpha"}},
                ),
            ],
            "job": [
                ("GET", f"/v1/exports/{unknown}", {}),
                ("POST", f"/v1/exports/{unknown}/progress", {"json": {"progress": 50}}),
                ("POST", f"/v1/exports/{unknown}/succeed", {}),
                ("POST", f"/v1/exports/{unknown}/fail", {"json": {"error": "gone"}}),
                ("POST", f"/v1/exports/{unknown}/cancel", {}),
            ],
            "clip": [
                ("PATCH", f"/v1/projects/{owner}/clips/{unknown}", {"json": {"crop_data": None}}),
                ("DELETE", f"/v1/projects/{owner}/clips/{unknown}", {}),
            ],
        }
        method, path, kwargs = pick(requests.get(what, requests["clip"]), n)
        self.call(method, path, 404, "not_found", **kwargs)

    # -- after every step ---------------------------------------------------------------------

    @invariant()
    def every_card_agrees_with_the_model(self) -> None:
        """Every project's card, read from the project list: the list holds exactly the model's
        projects, and each card shows the model's status, version, active exports and videos. (One
        list request instead of one GET per project halves the run time; a card is the same Project
        object on both routes.)"""
        page = self.json("GET", PROJECTS, 200, params={"limit": 200})
        cards = {card["id"]: card for card in page["items"]}
        assert sorted(cards) == sorted(self.projects), (
            f"the list holds {sorted(cards)}, the model {sorted(self.projects)}"
        )
        for project in self.projects.values():
            card = cards[project.id]
            status = status_from_facts(project.facts()).value
            assert card["status"] == status, f"{project.id} shows {card['status']}, its facts say {status}"
            assert card["version"] == project.version, (
                f"{project.id} is at version {card['version']}, the model at {project.version}"
            )
            assert card["status_label"] == LABELS[status], card
            assert card["is_exporting"] == status.startswith("exporting_"), card
            active = project.active_jobs()
            assert [(j["id"], j["type"]) for j in card["active_exports"]] == [
                (j.id, j.type) for j in active
            ], card
            for shown, job in zip(card["active_exports"], active, strict=True):
                self.check_job(shown, job)
            assert sorted(card["allowed_actions"]) == project.allowed_actions(), card
            assert card["clip_count"] == len(project.clips), card
            assert card["framed_clip_count"] == sum(project.clips.values()), card
            for kind, video in (("working", project.working), ("final", project.final)):
                shown = card[f"{kind}_video"]
                expected = None if video is None else (video.id, kind, video.version, video.uri, video.job_id)
                got = (
                    None
                    if shown is None
                    else (shown["id"], shown["kind"], shown["version"], shown["uri"], shown["job_id"])
                )
                assert got == expected, card


def test_the_api_agrees_with_the_reference_model(migrated_settings: Settings) -> None:
    with TestClient(app=create_app(migrated_settings)) as client:

        class ApiMachine(ApiStateMachine):
            pass

        ApiMachine.client = client
        run_state_machine_as_test(ApiMachine, settings=PROPERTY_SETTINGS)
