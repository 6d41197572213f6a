"""Bad input to `framestate import-legacy`: what stops it (exit status 2, one line naming what is
wrong, nothing written anywhere, also with `--apply`), and the projects it reports as problems and
never imports (exit status 1, the rest imported)."""

from collections.abc import Callable
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient

from service.http.app import create_app
from service.settings import Settings
from tests.legacy.run import import_legacy
from tests.legacy.run_checks import framestate_tables
from tests.legacy.scenes import CROP, cut_over_app
from tests.legacy_db import Legacy, execute, sqlite_legacy

Breakage = Callable[[Path, str], tuple[str, list[str]]]
"""Breaks the legacy database or writes a bad file in a directory; the source URL and the extra arguments."""


def _source(directory: Path, *statements: str) -> str:
    source = sqlite_legacy(directory, cut_over_app())
    execute(source, *statements)
    return source


def _file(directory: Path, name: str, content: str, option: str) -> tuple[str, list[str]]:
    (directory / name).write_text(content)
    return _source(directory), [option, str(directory / name)]


CANNOT_RUN: dict[str, tuple[Breakage, str]] = {
    "missing table": (
        lambda d, _: (_source(d, "DROP TABLE working_videos"), []),
        "the source has no table 'working_videos': the working_videos table (--mapping names another)",
    ),
    "missing column": (
        lambda d, _: (_source(d, "ALTER TABLE clips DROP COLUMN crop_data"), []),
        "table 'clips' has no column 'crop_data' (clips.crop_data)",
    ),
    "missing optional column the mapping names": (
        lambda d, _: _file(d, "m.toml", '[projects]\nname = "title"\n', "--mapping"),
        "table 'projects' has no column 'title' (projects.name)",
    ),
    "no SQLite file": (
        lambda d, _: (f"sqlite:///{d / 'nowhere.db'}", []),
        f"the source does not answer: there is no SQLite file {{dir}}{'/nowhere.db'}",
    ),
    "PostgreSQL source not answering": (
        lambda d, _: ("postgresql://postgres@127.0.0.1:1/legacy", []),
        "the source does not answer: connection failed",
    ),
    "MySQL source not answering": (
        lambda d, _: ("mysql+pymysql://root@127.0.0.1:1/legacy", []),
        "the source does not answer: (2003",
    ),
    "not a database URL": (lambda d, _: ("legacy.db", []), "SOURCE_URL 'legacy.db' is not a database URL"),
    "an engine it does not read": (
        lambda d, _: ("oracle://x@host/db", []),
        "SOURCE_URL: oracle databases are not read (SQLite, PostgreSQL, MySQL and MariaDB are)",
    ),
    "a driver that is not installed": (
        lambda d, _: ("postgresql+pg8000://x@127.0.0.1/db", []),
        "no driver for postgresql+pg8000:// sources is installed",
    ),
    "mapping not TOML": (
        lambda d, _: _file(d, "m.toml", "[projects\n", "--mapping"),
        "--mapping {dir}/m.toml: not a TOML file (",
    ),
    "mapping names an unknown table section": (
        lambda d, _: _file(d, "m.toml", '[project]\ntable = "p"\n', "--mapping"),
        "--mapping {dir}/m.toml: unknown section [project] (the sections: projects, clips, "
        "working_videos, export_jobs)",
    ),
    "mapping names an unknown column key": (
        lambda d, _: _file(d, "m.toml", '[clips]\ncrop = "x"\n', "--mapping"),
        "--mapping {dir}/m.toml: [clips] has no key 'crop' "
        "(its keys: table, id, project_id, crop_data, created_at)",
    ),
    "mapping gives a number for a name": (
        lambda d, _: _file(d, "m.toml", "[clips]\ntable = 3\n", "--mapping"),
        "--mapping {dir}/m.toml: [clips] table must be a name (non-empty text), not 3",
    ),
    "mapping's active is not a list": (
        lambda d, _: _file(d, "m.toml", '[export_jobs]\nactive = "rendering"\n', "--mapping"),
        "--mapping {dir}/m.toml: [export_jobs] active must be a list of job statuses (text)",
    ),
    "missing mapping file": (
        lambda d, _: (_source(d), ["--mapping", str(d / "none.toml")]),
        "--mapping {dir}/none.toml: cannot be read (No such file or directory)",
    ),
    "status map not TOML": (
        lambda d, _: _file(d, "s.toml", "done = \n", "--status-map"),
        "--status-map {dir}/s.toml: not a TOML file (",
    ),
    "status map names no framestate status": (
        lambda d, _: _file(d, "s.toml", 'done = "finished"\n', "--status-map"),
        "--status-map {dir}/s.toml: 'done' must name a framestate status (not_started, in_progress, "
        "framed, exporting_framing, exporting_overlay, complete), not 'finished'",
    ),
    "status map with a section": (
        lambda d, _: _file(d, "s.toml", '[statuses]\ndone = "complete"\n', "--status-map"),
        "--status-map {dir}/s.toml: 'statuses' must name a framestate status",
    ),
    "batch size zero": (lambda d, _: (_source(d), ["--batch-size", "0"]), "--batch-size must be at least 1"),
    "report that cannot be written": (
        lambda d, _: (_source(d), ["--report", str(d / "no" / "such" / "dir.jsonl")]),
        "--report {dir}/no/such/dir.jsonl: cannot be written (No such file or directory)",
    ),
}


@pytest.mark.parametrize("case", list(CANNOT_RUN))
def test_what_stops_the_import_is_one_line_and_exit_2_and_nothing_is_written(
    case: str, fresh_url: str, tmp_path: Path
) -> None:
    """With `--apply`: not even framestate's database is migrated."""
    breakage, message = CANNOT_RUN[case]
    source, args = breakage(tmp_path, fresh_url)
    run = import_legacy(source, *args, "--apply", database_url=fresh_url, report=tmp_path / "r.jsonl")
    assert run.code == 2, run.stderr
    assert run.stderr.startswith("framestate import-legacy: " + message.format(dir=tmp_path)), run.stderr
    assert run.stderr.count("\n") == 1
    assert "Traceback" not in run.stderr
    assert run.stdout == ""
    assert framestate_tables(fresh_url) == set()


def _with_problems() -> Legacy:
    legacy = Legacy()
    legacy.project(1, "framed", working=10)
    legacy.video(10, 1, 1)
    legacy.clip(100, 1, CROP)
    legacy.project(20, "framed", working=999)
    legacy.project(21, "complete", working=11, final=10)
    legacy.video(11, 21, 1)
    legacy.project(22, "framed", working=12)
    legacy.video(12, 22, None)
    legacy.project(23, "in progress")
    legacy.clip(101, 23, "{not json")
    legacy.clip(102, 23, "[1, 2]")
    legacy.project(24, "new")
    legacy.job(600, 24, "thumbnail", "running")
    legacy.project(25, "in progress")
    legacy.clip(103, 25, CROP)
    legacy.job(601, 25, "framing", "running", created_at="2024-03-03 11:00:00")
    legacy.job(602, 25, "framing", "queued", created_at="2024-03-04 11:00:00")
    legacy.project(26, "new", name="x" * 201)
    legacy.clip(104, 99, CROP)
    legacy.clip(105, 99, None)
    legacy.job(603, 98, "framing", "running")
    return legacy


PROBLEMS = {
    "20": ("framed", "not_started", False, ["working_video_id 999 names no video"]),
    "21": ("complete", "framed", False, ["final_video_id 10 names a video of project 1"]),
    "22": ("framed", "framed", True, ["video 12 has no version"]),
    "23": (
        "in progress",
        "not_started",
        False,
        ["clip 101: crop_data is not JSON", "clip 102: crop_data is JSON but not an object"],
    ),
    "24": ("new", "not_started", True, ["job 600: type 'thumbnail' is neither framing nor overlay"]),
    "25": (
        "in progress",
        "exporting_framing",
        False,
        ["more than one active framing job: 602 (the newest) and 601"],
    ),
    "26": ("new", "not_started", True, ["name is longer than 200 characters"]),
}


@pytest.mark.anyio
async def test_projects_with_problems_are_reported_and_never_imported_and_the_rest_is(
    fresh_url: str, tmp_path: Path
) -> None:
    source = sqlite_legacy(tmp_path, _with_problems())
    run = import_legacy(source, "--apply", database_url=fresh_url, report=tmp_path / "r.jsonl")
    assert run.code == 1, run.stderr
    assert "Traceback" not in run.stderr
    assert run.line("1") == {
        "id": "1",
        "legacy_status": "framed",
        "status": "framed",
        "agrees": True,
        "outcome": "imported",
        "problems": [],
    }
    for project_id, (legacy, status, agrees, problems) in PROBLEMS.items():
        assert run.line(project_id) == {
            "id": project_id,
            "legacy_status": legacy,
            "status": status,
            "agrees": agrees,
            "outcome": "problem",
            "problems": problems,
        }
    missing = {"legacy_status": None, "status": None, "agrees": False, "outcome": "problem"}
    assert run.line("98") == {"id": "98", **missing, "problems": ["1 job of a project that does not exist"]}
    assert run.line("99") == {"id": "99", **missing, "problems": ["2 clips of a project that does not exist"]}
    assert len(run.report) == 10
    assert "projects named by clips or jobs but missing: 2" in run.stdout
    assert run.stdout.splitlines()[-1] == (
        "outcomes: imported 1, synced 0, unchanged 0, diverged 0, conflict 0, problem 9"
    )
    async with AsyncTestClient(app=create_app(Settings(database_url=fresh_url))) as client:
        assert (await client.get("/v1/projects/1")).json()["status"] == "framed"
        for project_id in [*PROBLEMS, "98", "99"]:
            assert (await client.get(f"/v1/projects/{project_id}")).status_code == 404
        listed = (await client.get("/v1/projects")).json()["items"]
        assert [card["id"] for card in listed] == ["1"]


@pytest.mark.anyio
async def test_a_legacy_id_that_framestate_made_itself_is_a_conflict_left_alone(
    fresh_url: str, tmp_path: Path
) -> None:
    settings = Settings(database_url=fresh_url)
    source = sqlite_legacy(tmp_path, cut_over_app())
    assert import_legacy(source, "--apply", database_url=fresh_url, report=tmp_path / "r.jsonl").code == 0
    async with AsyncTestClient(app=create_app(settings)) as client:
        made = (await client.post("/v1/projects", json={"name": "Made here"})).json()
    source = sqlite_legacy(tmp_path, Legacy(), name="text-ids.db")
    execute(
        source,
        "CREATE TABLE text_projects (id TEXT PRIMARY KEY, name TEXT, status TEXT, working_video_id INTEGER,"
        " final_video_id INTEGER)",
        f"INSERT INTO text_projects VALUES ('{made['id']}', 'Same id', 'complete', NULL, NULL)",
        "INSERT INTO text_projects VALUES ('a-new-one', 'Fresh', 'new', NULL, NULL)",
    )
    (tmp_path / "m.toml").write_text('[projects]\ntable = "text_projects"\n')
    run = import_legacy(
        source,
        "--apply",
        "--mapping",
        str(tmp_path / "m.toml"),
        database_url=fresh_url,
        report=tmp_path / "r.jsonl",
    )
    assert run.code == 0, run.stderr
    assert run.outcomes() == {made["id"]: "conflict", "a-new-one": "imported"}
    async with AsyncTestClient(app=create_app(settings)) as client:
        kept = (await client.get(f"/v1/projects/{made['id']}")).json()
        assert (kept["name"], kept["version"], kept["status"]) == ("Made here", 1, "not_started")
        assert (await client.get("/v1/projects/a-new-one")).json()["name"] == "Fresh"


@pytest.mark.anyio
async def test_kept_ids_reach_the_api_and_junk_ids_are_still_unknown(fresh_url: str, tmp_path: Path) -> None:
    source = sqlite_legacy(tmp_path, cut_over_app())
    assert import_legacy(source, "--apply", database_url=fresh_url, report=tmp_path / "r.jsonl").code == 0
    async with AsyncTestClient(app=create_app(Settings(database_url=fresh_url))) as client:
        assert (await client.get("/v1/projects/1")).status_code == 200
        assert (await client.get("/v1/exports/500")).json()["project_id"] == "1"
        assert (await client.get("/v1/projects/1/clips")).json()[0]["id"] == "100"
        page = (await client.get("/v1/projects", params={"limit": 2})).json()
        second = await client.get("/v1/projects", params={"limit": 2, "cursor": page["next_cursor"]})
        assert second.status_code == 200
        for junk in ("%00", "1%20", "a" * 33, "..", "1.5", "%C3%A9"):
            response = await client.get(f"/v1/projects/{junk}")
            assert response.status_code == 404, junk
            assert response.json()["code"] == "not_found"


@pytest.mark.parametrize("apply", [False, True], ids=["dry run", "apply"])
def test_a_framestate_database_that_does_not_answer_stops_it_with_exit_2(apply: bool, tmp_path: Path) -> None:
    source = sqlite_legacy(tmp_path, cut_over_app())
    nowhere = "postgresql+asyncpg://postgres@127.0.0.1:1/framestate"
    run = import_legacy(
        source, *(["--apply"] if apply else []), database_url=nowhere, report=tmp_path / "r.jsonl"
    )
    assert run.code == 2, run.stderr
    assert run.stderr.startswith("framestate import-legacy: framestate's database does not answer: ")
    assert "Traceback" not in run.stderr
