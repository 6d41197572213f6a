"""The machine described as data and as a Mermaid state diagram, both read from the transition table."""

from typing import TypedDict

from fsm.facts import STATUS_RULES, Action
from fsm.status import EXPORTING, EXPORTING_CHILDREN, LABELS, Status
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


def markdown() -> str:
    """The page `docs/state-machine.md`: the diagram, every transition, and the status rules."""
    rows = "\n".join(
        f"| `{t.action.value}` | `{t.source.value}` | `{t.dest.value}` | {t.guard_sentence or '—'} |"
        for t in TRANSITIONS
    )
    rules = "\n".join(
        f"{n}. {r.sentence.capitalize()} → `{r.status.value}` ({LABELS[r.status]})"
        for n, r in enumerate(STATUS_RULES, start=1)
    )
    return f"""# The state machine

Generated from the transition table in `fsm/table.py` by `make docs` (`framestate diagram --markdown`);
a test fails when this page and the code disagree. Do not edit it by hand.

A new project starts as `{INITIAL.value}` (action `{Action.PROJECT_CREATED.value}`). `{EXPORTING}` is a
composite state: its children are {", ".join(f"`{c.value}`" for c in EXPORTING_CHILDREN)}. Rows with the same
action and source are tried in order; the first whose guard holds is taken. An action with no row
for the project's status, or whose guards all fail, is refused (409 `transition_not_allowed`).

```mermaid
{mermaid().rstrip()}
```

## Transitions

| action | from | to | guard |
|---|---|---|---|
{rows}

## Status from facts

The status is a function of the facts; after every committed change the stored status equals it,
and every decision of the machine is checked against it. The first rule that holds gives the status:

{rules}
"""
