"""The state machine alone: one decision timed in process, against the plain status function."""

import timeit
from dataclasses import dataclass

from fsm.facts import Action, Facts, JobType, Move, facts_after, status_from_facts
from fsm.machine import decide
from fsm.status import Status


@dataclass
class Decisions:
    per_case_us: dict[str, float]
    plain_us: float

    @property
    def mean_us(self) -> float:
        return sum(self.per_case_us.values()) / len(self.per_case_us)

    @property
    def worst_us(self) -> float:
        return max(self.per_case_us.values())


def time_decisions() -> Decisions:
    """µs per `fsm.machine.decide`, the best of 7 rounds, for moves that cover the table's shapes;
    and, for scale, the plain function of the facts that cross-checks it."""
    s, f = Status, JobType.FRAMING
    cases = {
        "start framing (in_progress)": (
            s.IN_PROGRESS,
            Facts(framed_clip=True),
            Move(Action.START_FRAMING_EXPORT, f),
        ),
        "re-frame (complete)": (
            s.COMPLETE,
            Facts(final_video=True, working_video=True, framed_clip=True),
            Move(Action.START_FRAMING_EXPORT, f),
        ),
        "framing succeeds": (
            s.EXPORTING_FRAMING,
            Facts(active_framing=True, working_video=True, framed_clip=True),
            Move(Action.JOB_SUCCEEDED, f),
        ),
        "overlay fails (5th row of its source)": (
            s.EXPORTING_OVERLAY,
            Facts(active_overlay=True, working_video=True, framed_clip=True),
            Move(Action.JOB_FAILED, JobType.OVERLAY),
        ),
        "refused (guard fails)": (s.NOT_STARTED, Facts(), Move(Action.START_OVERLAY_EXPORT, JobType.OVERLAY)),
    }
    number = 20_000
    per_case = {}
    for name, (source, facts, move) in cases.items():
        best = min(timeit.repeat(lambda: decide(source, facts, move), number=number, repeat=7))  # noqa: B023
        per_case[name] = best / number * 1e6
    plain = []
    for _source, facts, move in cases.values():
        best = min(
            timeit.repeat(lambda: status_from_facts(facts_after(facts, move)), number=number, repeat=7)  # noqa: B023
        )
        plain.append(best / number * 1e6)
    return Decisions(per_case, sum(plain) / len(plain))
