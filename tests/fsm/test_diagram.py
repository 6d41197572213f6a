"""The diagram and the description of the machine say what the contract says, written out here by
hand (not read from the transition table the diagram is drawn from)."""

from fsm.diagram import describe, mermaid

STATES = ["not_started", "in_progress", "framed", "exporting_framing", "exporting_overlay", "complete"]
BACKWARD_EDGES = {
    ("complete", "exporting_framing", "start_framing_export"),  # re-frame a complete project
    ("complete", "exporting_overlay", "start_overlay_export"),  # re-run the overlay export
    ("framed", "exporting_framing", "start_framing_export"),
}
FORWARD_EDGES = {
    ("not_started", "in_progress", "clip_added"),
    ("in_progress", "not_started", "clip_removed"),
    ("in_progress", "exporting_framing", "start_framing_export"),
    ("exporting_framing", "framed", "job_succeeded"),
    ("exporting_framing", "in_progress", "job_failed"),
    ("framed", "exporting_overlay", "start_overlay_export"),
    ("exporting_overlay", "complete", "job_succeeded"),
    ("exporting_overlay", "framed", "job_cancelled"),
    ("exporting_overlay", "exporting_framing", "start_framing_export"),
    ("exporting_framing", "complete", "job_timed_out"),  # a failed re-frame of a complete project
}


def _edges() -> set[tuple[str, str, str]]:
    return {(row["source"], row["dest"], row["action"]) for row in describe()["transitions"]}


def test_the_description_has_the_six_states_and_exporting_as_their_composite() -> None:
    description = describe()
    assert description["states"] == STATES
    assert description["composite"] == {"exporting": ["exporting_framing", "exporting_overlay"]}


def test_the_description_has_the_backward_edges_and_the_workflow() -> None:
    edges = _edges()
    assert edges >= BACKWARD_EDGES
    assert edges >= FORWARD_EDGES
    assert ("complete", "not_started", "clip_removed") not in edges  # clip edits never clear videos


def test_mermaid_draws_exporting_as_a_box_and_the_backward_edges() -> None:
    diagram = mermaid()
    assert diagram.startswith("stateDiagram-v2\n")
    assert "state exporting {" in diagram
    lines = diagram.splitlines()
    for source, dest, action in BACKWARD_EDGES | FORWARD_EDGES:
        assert any(f"{source} --> {dest} : " in line and action in line for line in lines), (source, dest)
