from fsm.diagram import describe, mermaid
from fsm.status import Status
from fsm.table import TRANSITIONS


def test_description_lists_every_state_and_transition() -> None:
    description = describe()
    assert description["states"] == [s.value for s in Status]
    assert description["composite"] == {"exporting": ["exporting_framing", "exporting_overlay"]}
    assert len(description["transitions"]) == len(TRANSITIONS)
    for row in description["transitions"]:
        assert row["source"] in description["states"]
        assert row["dest"] in description["states"]


def test_mermaid_draws_exporting_as_a_composite_and_every_edge() -> None:
    diagram = mermaid()
    assert diagram.startswith("stateDiagram-v2\n")
    assert "state exporting {" in diagram
    for t in TRANSITIONS:
        edge = f"{t.source.value} --> {t.dest.value} : "
        matching = [line for line in diagram.splitlines() if edge in line and t.action.value in line]
        assert matching, f"no edge for {t}"
