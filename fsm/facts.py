"""The facts a project's status is a function of, that function, and what each action does to them."""

from dataclasses import dataclass, replace
from enum import StrEnum

from fsm.status import Status


class JobType(StrEnum):
    FRAMING = "framing"
    OVERLAY = "overlay"


class Action(StrEnum):
    """Every action the history records; the machine's triggers are the same names."""

    PROJECT_CREATED = "project_created"
    START_FRAMING_EXPORT = "start_framing_export"
    START_OVERLAY_EXPORT = "start_overlay_export"
    JOB_SUCCEEDED = "job_succeeded"
    JOB_FAILED = "job_failed"
    JOB_CANCELLED = "job_cancelled"
    JOB_TIMED_OUT = "job_timed_out"
    CLIP_ADDED = "clip_added"
    CLIP_CHANGED = "clip_changed"
    CLIP_REMOVED = "clip_removed"
    PROJECT_IMPORTED = "project_imported"
    PROJECT_SYNCED = "project_synced"
    """A project brought in from an existing app's database, and brought in line with it again
    (`framestate import-legacy`): history rows, not moves of the machine."""


START_ACTIONS: tuple[Action, ...] = (Action.START_FRAMING_EXPORT, Action.START_OVERLAY_EXPORT)
JOB_STOPPED_ACTIONS: tuple[Action, ...] = (Action.JOB_FAILED, Action.JOB_CANCELLED, Action.JOB_TIMED_OUT)
JOB_ENDED_ACTIONS: tuple[Action, ...] = (Action.JOB_SUCCEEDED, *JOB_STOPPED_ACTIONS)
CLIP_ACTIONS: tuple[Action, ...] = (Action.CLIP_ADDED, Action.CLIP_CHANGED, Action.CLIP_REMOVED)
START_ACTION_OF: dict[JobType, Action] = {
    JobType.FRAMING: Action.START_FRAMING_EXPORT,
    JobType.OVERLAY: Action.START_OVERLAY_EXPORT,
}


@dataclass(frozen=True, slots=True)
class Facts:
    active_framing: bool = False
    active_overlay: bool = False
    final_video: bool = False
    working_video: bool = False
    framed_clip: bool = False


@dataclass(frozen=True, slots=True)
class Move:
    """One action as the machine sees it.

    `job_type` names the job an export action or a job's end is about; `framed_clip_after` says,
    for a clip action, whether any framed clip remains once the change is made.
    """

    action: Action
    job_type: JobType | None = None
    framed_clip_after: bool = False


@dataclass(frozen=True, slots=True)
class StatusRule:
    status: Status
    fact: str | None  # the Facts field that must hold; None: always
    sentence: str


STATUS_RULES: tuple[StatusRule, ...] = (
    StatusRule(Status.EXPORTING_FRAMING, "active_framing", "an active framing job exists"),
    StatusRule(Status.EXPORTING_OVERLAY, "active_overlay", "an active overlay job exists"),
    StatusRule(Status.COMPLETE, "final_video", "a final video exists"),
    StatusRule(Status.FRAMED, "working_video", "a working video exists"),
    StatusRule(Status.IN_PROGRESS, "framed_clip", "a framed clip exists"),
    StatusRule(Status.NOT_STARTED, None, "otherwise"),
)
"""The contract's status-from-facts rules, in order: the first that holds gives the status."""


def status_from_facts(facts: Facts) -> Status:
    """The contract's oracle: the status a project with these facts must show."""
    for rule in STATUS_RULES:
        if rule.fact is None or getattr(facts, rule.fact):
            return rule.status
    raise AssertionError("the last rule always holds")


def facts_after(facts: Facts, move: Move) -> Facts:
    """The facts once an accepted move has taken effect, as the contract's "effect" column says.
    The tests check the transition table against it; a write checks the facts it actually leaves,
    read off its own records, not these."""
    action, job = move.action, move.job_type
    if action in CLIP_ACTIONS:
        return replace(facts, framed_clip=move.framed_clip_after)
    if action is Action.START_FRAMING_EXPORT:
        return replace(facts, active_framing=True)
    if action is Action.START_OVERLAY_EXPORT:
        return replace(facts, active_overlay=True)
    if action is Action.JOB_SUCCEEDED and job is JobType.FRAMING:
        return replace(
            facts, active_framing=False, working_video=True, final_video=False, active_overlay=False
        )
    if action is Action.JOB_SUCCEEDED and job is JobType.OVERLAY:
        return replace(facts, active_overlay=False, final_video=True)
    if action in JOB_STOPPED_ACTIONS and job is JobType.FRAMING:
        return replace(facts, active_framing=False)
    if action in JOB_STOPPED_ACTIONS and job is JobType.OVERLAY:
        return replace(facts, active_overlay=False)
    return facts
