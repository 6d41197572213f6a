"""The transition table: the one place the workflow's rules are written.

The machine, `allowed_actions`, the diagram, the docs and `GET /v1/state-machine` all read it.
Rows with the same action and source are tried in order and the first whose guards all pass
wins, so the order below carries the contract's precedence (framing before overlay before final
video before working video before framed clip).
"""

from dataclasses import dataclass

from fsm import guards as g
from fsm.facts import CLIP_ACTIONS, JOB_STOPPED_ACTIONS, Action
from fsm.guards import Guard
from fsm.status import Status

S = Status


@dataclass(frozen=True, slots=True)
class Transition:
    action: Action
    source: Status
    dest: Status
    guards: tuple[Guard, ...] = ()

    @property
    def guard_sentence(self) -> str | None:
        return " and ".join(guard.sentence for guard in self.guards) or None


def _job_stopped(source: Status, dest: Status, *guards: Guard) -> list[Transition]:
    return [Transition(action, source, dest, guards) for action in JOB_STOPPED_ACTIONS]


def _clip(source: Status, dest: Status, *guards: Guard) -> list[Transition]:
    return [Transition(action, source, dest, guards) for action in CLIP_ACTIONS]


TRANSITIONS: tuple[Transition, ...] = (
    # Starting an export; export_already_active is the source state itself.
    Transition(Action.START_FRAMING_EXPORT, S.IN_PROGRESS, S.EXPORTING_FRAMING, (g.FRAMED_CLIP,)),
    Transition(Action.START_FRAMING_EXPORT, S.FRAMED, S.EXPORTING_FRAMING, (g.FRAMED_CLIP,)),
    Transition(Action.START_FRAMING_EXPORT, S.COMPLETE, S.EXPORTING_FRAMING, (g.FRAMED_CLIP,)),
    Transition(Action.START_FRAMING_EXPORT, S.EXPORTING_OVERLAY, S.EXPORTING_FRAMING, (g.FRAMED_CLIP,)),
    Transition(Action.START_OVERLAY_EXPORT, S.FRAMED, S.EXPORTING_OVERLAY, (g.WORKING_VIDEO,)),
    Transition(Action.START_OVERLAY_EXPORT, S.COMPLETE, S.EXPORTING_OVERLAY, (g.WORKING_VIDEO,)),
    Transition(
        Action.START_OVERLAY_EXPORT,
        S.EXPORTING_FRAMING,
        S.EXPORTING_FRAMING,
        (g.WORKING_VIDEO, g.NO_ACTIVE_OVERLAY),
    ),
    # A job succeeds.
    Transition(Action.JOB_SUCCEEDED, S.EXPORTING_FRAMING, S.FRAMED, (g.FRAMING_JOB,)),
    Transition(Action.JOB_SUCCEEDED, S.EXPORTING_FRAMING, S.EXPORTING_FRAMING, (g.OVERLAY_JOB,)),
    Transition(Action.JOB_SUCCEEDED, S.EXPORTING_OVERLAY, S.COMPLETE, (g.OVERLAY_JOB,)),
    # A job fails, is cancelled or times out: the status falls back to what the other facts say.
    *_job_stopped(S.EXPORTING_FRAMING, S.EXPORTING_OVERLAY, g.FRAMING_JOB, g.OVERLAY_ACTIVE),
    *_job_stopped(S.EXPORTING_FRAMING, S.COMPLETE, g.FRAMING_JOB, g.FINAL_VIDEO),
    *_job_stopped(S.EXPORTING_FRAMING, S.FRAMED, g.FRAMING_JOB, g.WORKING_VIDEO),
    *_job_stopped(S.EXPORTING_FRAMING, S.IN_PROGRESS, g.FRAMING_JOB, g.FRAMED_CLIP),
    *_job_stopped(S.EXPORTING_FRAMING, S.NOT_STARTED, g.FRAMING_JOB),
    *_job_stopped(S.EXPORTING_FRAMING, S.EXPORTING_FRAMING, g.OVERLAY_JOB),
    *_job_stopped(S.EXPORTING_OVERLAY, S.COMPLETE, g.OVERLAY_JOB, g.FINAL_VIDEO),
    *_job_stopped(S.EXPORTING_OVERLAY, S.FRAMED, g.OVERLAY_JOB, g.WORKING_VIDEO),
    *_job_stopped(S.EXPORTING_OVERLAY, S.IN_PROGRESS, g.OVERLAY_JOB, g.FRAMED_CLIP),
    *_job_stopped(S.EXPORTING_OVERLAY, S.NOT_STARTED, g.OVERLAY_JOB),
    # Clip edits move a project only while it has no video and no export.
    *_clip(S.NOT_STARTED, S.IN_PROGRESS, g.FRAMED_CLIP_AFTER),
    *_clip(S.NOT_STARTED, S.NOT_STARTED),
    *_clip(S.IN_PROGRESS, S.IN_PROGRESS, g.FRAMED_CLIP_AFTER),
    *_clip(S.IN_PROGRESS, S.NOT_STARTED),
    *_clip(S.FRAMED, S.FRAMED),
    *_clip(S.COMPLETE, S.COMPLETE),
    *_clip(S.EXPORTING_FRAMING, S.EXPORTING_FRAMING),
    *_clip(S.EXPORTING_OVERLAY, S.EXPORTING_OVERLAY),
)

INITIAL = Status.NOT_STARTED
"""A new project's status (history action `project_created`)."""
