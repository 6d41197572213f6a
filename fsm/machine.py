"""The `transitions` machine, built once at import from the transition table, and the decisions asked of it.

The machine is flat: six states named as the contract names them. `exporting` is a composite
of its two children in the contract, the docs and the diagram (`fsm.status.EXPORTING_CHILDREN`),
but not inside `transitions`: its HierarchicalMachine makes a decision several times as costly
(docs/benchmarks.md has the figures), and no rule of the table is written on the parent state.

The machine is bound to one plain decider object, never to an ORM row. A decision sets the
decider's state, fires the trigger with the facts and the move as arguments (the guards read
them), and reads the state back; a lock keeps decisions from several threads apart.
"""

import threading
from functools import cache

from transitions import Machine

from fsm.facts import START_ACTIONS, Action, Facts, Move
from fsm.status import Status
from fsm.table import INITIAL, TRANSITIONS


class _Decider:
    state: str


def _transitions_config() -> list[dict[str, object]]:
    return [
        {
            "trigger": t.action.value,
            "source": t.source.value,
            # A row that keeps the status is an internal transition: no exit and no entry.
            "dest": None if t.dest is t.source else t.dest.value,
            "conditions": list(t.guards),
        }
        for t in TRANSITIONS
    ]


_DECIDER = _Decider()
_LOCK = threading.Lock()
MACHINE = Machine(
    model=_DECIDER,
    states=[status.value for status in Status],
    transitions=_transitions_config(),
    initial=INITIAL.value,
    auto_transitions=False,
    ignore_invalid_triggers=True,
)


_TRIGGERS_BY_SOURCE = {(t.action, t.source) for t in TRANSITIONS}


def decide(source: Status, facts: Facts, move: Move) -> Status | None:
    """The status `move` leads to from `source` with these facts, or None where the machine refuses it."""
    if (move.action, source) not in _TRIGGERS_BY_SOURCE:
        return None  # no row at all: the machine would only log that it cannot trigger
    with _LOCK:
        MACHINE.set_state(source.value, _DECIDER)
        if not _DECIDER.trigger(move.action.value, facts, move):  # type: ignore[attr-defined]
            return None
        return Status(_DECIDER.state)


@cache
def _allowed(source: Status, facts: Facts) -> tuple[Action, ...]:
    return tuple(action for action in START_ACTIONS if decide(source, facts, Move(action)) is not None)


def allowed_actions(source: Status, facts: Facts) -> list[Action]:
    """The export starts whose guards pass now, in the contract's order. The machine is asked once
    for each of the (at most 6 × 32) status and facts pairs: a page of cards asks for it 50 times."""
    return list(_allowed(source, facts))
