"""The machine described as data and as a Mermaid state diagram, both read from the transition table."""

from typing import TypedDict

from fsm.facts import Action
from fsm.status import EXPORTING, EXPORTING_CHILDREN, Status
from fsm.table import INITIAL, TRANSITIONS


class TransitionRow(TypedDict):
    action: str
    source: str
    dest: str
    guard: str | None


class MachineDescription(TypedDict):
    states: list[str]
    composite: dict[str, list[str]]
    transitions: list[TransitionRow]
    mermaid: str


def transition_rows() -> list[TransitionRow]:
    return [
        {"action": t.action.value, "source": t.source.value, "dest": t.dest.value, "guard": t.guard_sentence}
        for t in TRANSITIONS
    ]


def mermaid() -> str:
    """A `stateDiagram-v2` with `exporting` drawn as a composite; edges that share source, destination
    and guard are drawn once, labelled with all their actions."""
    edges: dict[tuple[Status, Status, str | None], list[str]] = {}
    for t in TRANSITIONS:
        edges.setdefault((t.source, t.dest, t.guard_sentence), []).append(t.action.value)
    lines = [
        "stateDiagram-v2",
        f"    [*] --> {INITIAL.value} : {Action.PROJECT_CREATED.value}",
        f"    state {EXPORTING} {{",
        *(f"        {child.value}" for child in EXPORTING_CHILDREN),
        "    }",
    ]
    for (source, dest, guard), actions in edges.items():
        label = " / ".join(actions) + (f" [{guard}]" if guard else "")
        lines.append(f"    {source.value} --> {dest.value} : {label}")
    return "\n".join(lines) + "\n"


def describe() -> MachineDescription:
    return {
        "states": [status.value for status in Status],
        "composite": {EXPORTING: [child.value for child in EXPORTING_CHILDREN]},
        "transitions": transition_rows(),
        "mermaid": mermaid(),
    }
