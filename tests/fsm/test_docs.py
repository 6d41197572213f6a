from pathlib import Path

from fsm.diagram import markdown, mermaid

DOC = Path(__file__).resolve().parents[2] / "docs" / "state-machine.md"


def test_the_committed_state_machine_page_is_what_the_code_generates() -> None:
    assert DOC.read_text(encoding="utf-8") == markdown(), (
        "docs/state-machine.md differs from the transition table: regenerate it with `make docs`"
    )


def test_the_page_has_a_row_for_every_transition_and_rule() -> None:
    page = markdown()
    assert "state exporting {" in page
    assert page.count("\n| `") >= 50
    assert "1. An active framing job exists → `exporting_framing`" in page
    assert "6. Otherwise → `not_started`" in page


def test_the_readme_shows_the_diagram_the_code_generates() -> None:
    readme = (DOC.parents[1] / "README.md").read_text(encoding="utf-8")
    assert f"```mermaid\n{mermaid()}```" in readme, "README.md's diagram is stale: paste `framestate diagram`"
