"""The machine against the contract's oracle, over every combination of facts and every move."""

import itertools
import subprocess
import sys
from typing import Any

import pytest
import transitions

from fsm.facts import (
    CLIP_ACTIONS,
    JOB_ENDED_ACTIONS,
    START_ACTION_OF,
    Action,
    Facts,
    JobType,
    Move,
    facts_after,
    status_from_facts,
)
from fsm.machine import MACHINE, allowed_actions, decide
from fsm.status import Status
from fsm.table import TRANSITIONS

ALL_FACTS = [Facts(*combo) for combo in itertools.product((False, True), repeat=5)]
ALL_MOVES = [
    *(Move(START_ACTION_OF[job]) for job in JobType),
    *(Move(action, job) for action in JOB_ENDED_ACTIONS for job in JobType),
    *(Move(action, framed_clip_after=after) for action in CLIP_ACTIONS for after in (False, True)),
]


def contract_guard(facts: Facts, move: Move) -> bool:
    """The contract's "allowed when" column, written independently of the table."""
    if move.action is Action.START_FRAMING_EXPORT:
        return facts.framed_clip and not facts.active_framing
    if move.action is Action.START_OVERLAY_EXPORT:
        return facts.working_video and not facts.active_overlay
    if move.action in JOB_ENDED_ACTIONS:
        return facts.active_framing if move.job_type is JobType.FRAMING else facts.active_overlay
    return move.action in CLIP_ACTIONS


def test_every_combination_of_facts_and_moves_is_walked() -> None:
    assert len(ALL_FACTS) == 32
    assert len(ALL_MOVES) == 2 + 8 + 6


@pytest.mark.parametrize("move", ALL_MOVES, ids=lambda m: f"{m.action}-{m.job_type}-{m.framed_clip_after}")
def test_machine_accepts_exactly_what_the_guards_allow_and_lands_on_the_oracle(move: Move) -> None:
    for facts in ALL_FACTS:
        source = status_from_facts(facts)
        dest = decide(source, facts, move)
        if contract_guard(facts, move):
            assert dest is not None, f"refused {move} from {source} with {facts}"
            assert dest == status_from_facts(facts_after(facts, move)), f"{move} from {facts}"
        else:
            assert dest is None, f"accepted {move} from {source} with {facts}"


def test_allowed_actions_are_the_starts_whose_guards_pass() -> None:
    for facts in ALL_FACTS:
        expected = [
            a
            for a in (Action.START_FRAMING_EXPORT, Action.START_OVERLAY_EXPORT)
            if contract_guard(facts, Move(a))
        ]
        assert allowed_actions(status_from_facts(facts), facts) == expected


@pytest.mark.parametrize(
    ("facts", "status"),
    [
        (Facts(active_framing=True, active_overlay=True, final_video=True), Status.EXPORTING_FRAMING),
        (Facts(active_overlay=True, final_video=True, working_video=True), Status.EXPORTING_OVERLAY),
        (Facts(final_video=True, working_video=True, framed_clip=True), Status.COMPLETE),
        (Facts(working_video=True, framed_clip=True), Status.FRAMED),
        (Facts(framed_clip=True), Status.IN_PROGRESS),
        (Facts(), Status.NOT_STARTED),
    ],
)
def test_status_from_facts_follows_the_contract_precedence(facts: Facts, status: Status) -> None:
    assert status_from_facts(facts) is status


def test_backward_edges_exist() -> None:
    edges = {(t.action, t.source, t.dest) for t in TRANSITIONS}
    assert (Action.START_FRAMING_EXPORT, Status.COMPLETE, Status.EXPORTING_FRAMING) in edges
    assert (Action.START_OVERLAY_EXPORT, Status.COMPLETE, Status.EXPORTING_OVERLAY) in edges
    assert (Action.START_FRAMING_EXPORT, Status.FRAMED, Status.EXPORTING_FRAMING) in edges


def test_the_machine_has_one_event_per_action_and_no_auto_transitions() -> None:
    assert not any(name.startswith("to_") for name in MACHINE.events)
    assert set(MACHINE.events) == {t.action.value for t in TRANSITIONS}


def test_deciding_builds_no_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """The machine is built once, at import: every decision and every list of allowed actions
    reuses it."""
    built: list[transitions.Machine] = []
    real_init = transitions.Machine.__init__

    def counted(self: transitions.Machine, *args: Any, **kwargs: Any) -> None:
        built.append(self)
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(transitions.Machine, "__init__", counted)
    for facts in ALL_FACTS:
        source = status_from_facts(facts)
        allowed_actions(source, facts)
        for move in ALL_MOVES:
            decide(source, facts, move)
    assert built == []
    transitions.Machine(states=["only"], initial="only")
    assert len(built) == 1, "the count sees a machine being built"


def test_fsm_imports_no_framework_or_database() -> None:
    code = (
        "import sys, fsm.machine, fsm.diagram, fsm.table, fsm.facts;"
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('litestar', 'sqlalchemy', 'sqlmodel', 'service', 'alembic', 'uvicorn', 'asyncpg', 'aiosqlite')];"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
