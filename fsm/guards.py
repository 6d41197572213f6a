"""The guards the transition table names: each a predicate over the facts before a move, and a sentence."""

from collections.abc import Callable
from dataclasses import dataclass

from fsm.facts import Facts, JobType, Move


@dataclass(frozen=True, slots=True)
class Guard:
    sentence: str
    test: Callable[[Facts, Move], bool]

    def __call__(self, facts: Facts, move: Move) -> bool:
        return self.test(facts, move)


FRAMED_CLIP = Guard("at least one clip is framed", lambda f, m: f.framed_clip)
WORKING_VIDEO = Guard("a working video exists", lambda f, m: f.working_video)
NO_ACTIVE_OVERLAY = Guard("no overlay export is active", lambda f, m: not f.active_overlay)
FRAMING_JOB = Guard(
    "the job is the active framing export",
    lambda f, m: m.job_type is JobType.FRAMING and f.active_framing,
)
OVERLAY_JOB = Guard(
    "the job is the active overlay export",
    lambda f, m: m.job_type is JobType.OVERLAY and f.active_overlay,
)
OVERLAY_ACTIVE = Guard("an overlay export is active", lambda f, m: f.active_overlay)
FINAL_VIDEO = Guard("a final video exists", lambda f, m: f.final_video)
FRAMED_CLIP_AFTER = Guard("a framed clip remains after the change", lambda f, m: m.framed_clip_after)
