"""A dry run of `framestate import-legacy`: the report of which stored statuses lie today, the summary
a person reads first, the status map and the mapping of other names, and nothing written anywhere."""

from pathlib import Path

from tests.legacy.run import import_legacy
from tests.legacy.run_checks import framestate_tables
from tests.legacy.scenes import EXPECTED, SUMMARY_DISAGREEMENTS, cut_over_app
from tests.legacy_db import Legacy, execute, sqlite_legacy


def _expected_report(outcome: str, **changed: tuple[str | None, str, bool]) -> list[dict[str, object]]:
    expected = {**EXPECTED, **changed}
    return [
        {
            "id": project_id,
            "legacy_status": legacy,
            "status": status,
            "agrees": agrees,
            "outcome": outcome,
            "problems": [],
        }
        for project_id, (legacy, status, agrees) in expected.items()
    ]


def test_a_dry_run_reports_every_project_and_writes_nothing(fresh_url: str, tmp_path: Path) -> None:
    source = sqlite_legacy(tmp_path, cut_over_app())
    before = (tmp_path / "legacy.db").read_bytes()
    run = import_legacy(source, database_url=fresh_url, report=tmp_path / "report.jsonl")
    assert run.code == 0, run.stderr
    assert run.report == _expected_report("would_import")
    assert run.stdout.splitlines() == [
        "framestate import-legacy, dry run: nothing was written (--apply imports)",
        "projects read: 7",
        "status agrees with the facts: 3 (42.9%)",
        "status disagrees with the facts: 4",
        *SUMMARY_DISAGREEMENTS,
        "outcomes: would_import 7, would_sync 0, unchanged 0, diverged 0, conflict 0, problem 0",
    ]
    assert "import-legacy: 7 of 7 projects (100%)" in run.stderr
    assert "projects/s" in run.stderr
    assert (tmp_path / "legacy.db").read_bytes() == before
    assert framestate_tables(fresh_url) == set()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["legacy.db", "report.jsonl"]


def test_a_dry_run_after_an_import_reads_framestate_as_it_is(fresh_url: str, tmp_path: Path) -> None:
    source = sqlite_legacy(tmp_path, cut_over_app())
    report = tmp_path / "report.jsonl"
    assert import_legacy(source, "--apply", database_url=fresh_url, report=report).code == 0
    execute(
        source, "INSERT INTO export_jobs (id, project_id, type, status) VALUES (502, 2, 'framing', 'queued')"
    )
    tables = framestate_tables(fresh_url)
    run = import_legacy(source, database_url=fresh_url, report=report)
    assert run.code == 0, run.stderr
    assert run.outcomes() == {
        "1": "unchanged",
        "2": "would_sync",
        **{str(i): "unchanged" for i in range(3, 8)},
    }
    assert run.line("2")["status"] == "exporting_framing"
    assert framestate_tables(fresh_url) == tables
    assert run.stdout.splitlines()[-1] == (
        "outcomes: would_import 0, would_sync 1, unchanged 6, diverged 0, conflict 0, problem 0"
    )


def test_the_status_map_adds_and_overrides_and_ignores_case_spaces_hyphens_and_underscores(
    sqlite_url: str, tmp_path: Path
) -> None:
    source = sqlite_legacy(tmp_path, cut_over_app())
    status_map = tmp_path / "statuses.toml"
    status_map.write_text('"ARCHIVED" = "in_progress"\n"com-plete" = "exporting_framing"\n')
    run = import_legacy(
        source, "--status-map", str(status_map), database_url=sqlite_url, report=tmp_path / "report.jsonl"
    )
    assert run.code == 0, run.stderr
    assert run.report == _expected_report(
        "would_import",
        **{
            "1": ("complete", "exporting_framing", True),
            "2": ("Complete", "complete", False),
            "6": ("archived", "in_progress", True),
        },
    )


def test_a_mapping_names_other_tables_columns_and_active_job_statuses(
    sqlite_url: str, tmp_path: Path
) -> None:
    legacy = Legacy()
    legacy.project(1, "editing", name="Renamed")
    legacy.clip(10, 1, '{"x": 1}')
    legacy.job(20, 1, "Framing", "Rendering", progress=12.5)
    source = sqlite_legacy(tmp_path, legacy)
    execute(
        source,
        "ALTER TABLE projects RENAME TO project",
        "ALTER TABLE project RENAME COLUMN status TO state",
        "ALTER TABLE project DROP COLUMN name",
        "ALTER TABLE clips RENAME TO shot",
        "ALTER TABLE shot RENAME COLUMN project_id TO project",
        "ALTER TABLE shot RENAME COLUMN crop_data TO keyframes",
        "ALTER TABLE working_videos RENAME TO render",
        "ALTER TABLE export_jobs RENAME TO job",
        "ALTER TABLE job RENAME COLUMN progress TO percent",
    )
    mapping = tmp_path / "mapping.toml"
    mapping.write_text(
        '[projects]\ntable = "project"\nstatus = "state"\n\n'
        '[clips]\ntable = "shot"\nproject_id = "project"\ncrop_data = "keyframes"\n\n'
        '[working_videos]\ntable = "render"\n\n'
        '[export_jobs]\ntable = "job"\nprogress = "percent"\nactive = ["rendering"]\n'
    )
    run = import_legacy(
        source, "--mapping", str(mapping), database_url=sqlite_url, report=tmp_path / "report.jsonl"
    )
    assert run.code == 0, run.stderr
    assert run.report == [
        {
            "id": "1",
            "legacy_status": "editing",
            "status": "exporting_framing",
            "agrees": False,
            "outcome": "would_import",
            "problems": [],
        }
    ]
