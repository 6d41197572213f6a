"""The `framestate` command, run as a user runs it."""

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from fsm.diagram import mermaid
from service.commands.outcomes import Exit
from tests.servers import ROOT, running_server

CLI = [sys.executable, "-m", "service.commands.cli"]


def _run(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean_env = {k: v for k, v in os.environ.items() if not k.startswith("FRAMESTATE_")}
    return subprocess.run(
        [*CLI, *args], cwd=cwd, env={**clean_env, **(env or {})}, capture_output=True, text=True
    )


def test_diagram_prints_the_machine() -> None:
    result = _run("diagram")
    assert result.returncode == 0
    assert result.stdout == mermaid()


def test_migrate_creates_the_default_sqlite_file_under_var(tmp_path: Path) -> None:
    result = _run("migrate", cwd=tmp_path, env={"PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr
    database = tmp_path / "var" / "framestate.db"
    with sqlite3.connect(database) as conn:
        names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"project", "clip", "video", "export_job", "status_history", "alembic_version"} <= names
    assert _run("migrate", cwd=tmp_path, env={"PYTHONPATH": str(ROOT)}).returncode == 0


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("FRAMESTATE_DATABASE_URL", "mysql://root@localhost/test"),
        ("FRAMESTATE_LOG_LEVEL", "LOUD"),
        ("FRAMESTATE_JOB_TIMEOUT_S", "soon"),
        ("FRAMESTATE_JOB_TIMEOUT_S", "-1"),
    ],
)
def test_bad_settings_stop_the_command_with_one_clear_line(name: str, value: str) -> None:
    result = _run("migrate", env={name: value})
    assert result.returncode == 2
    assert result.stderr.startswith(f"framestate: {name}")
    assert "Traceback" not in result.stderr


def test_serve_migrates_serves_and_a_restarted_server_answers_the_same(fresh_url: str) -> None:
    with running_server(fresh_url) as base_url, httpx.Client(base_url=base_url) as client:
        assert client.get("/health").json() == {"status": "ok"}
        project = client.post("/v1/projects", json={"name": "Restart me"}).json()
        client.post(f"/v1/projects/{project['id']}/clips", json={"crop_data": {"x": 1}})
        job = client.post(f"/v1/projects/{project['id']}/exports", json={"type": "framing"}).json()
        client.post(f"/v1/exports/{job['id']}/progress", json={"progress": 37, "message": "pass 1"})
        before = client.get(f"/v1/projects/{project['id']}").json()
    assert before["status"] == "exporting_framing"
    with running_server(fresh_url) as base_url, httpx.Client(base_url=base_url) as client:
        after = client.get(f"/v1/projects/{project['id']}").json()
        assert after == before
        assert after["active_exports"][0]["progress"] == 37
        client.post(f"/v1/exports/{job['id']}/succeed", json={"output_uri": "file:///out.mp4"})
        assert client.get(f"/v1/projects/{project['id']}").json()["status"] == "framed"
        assert client.get("/schema/openapi.json").json()["info"]["title"] == "framestate"


def test_help_says_the_defaults_a_new_user_gets() -> None:
    serve = _run("serve", "--help")
    assert serve.returncode == 0
    assert "(default 127.0.0.1)" in serve.stdout
    assert "(default 8000)" in serve.stdout
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    targets = subprocess.run(
        ["make", "-s", "help"], cwd=ROOT, env={**os.environ, "PORT": "8123"}, capture_output=True, text=True
    )
    assert "serve the API on 127.0.0.1:8123" in targets.stdout
    assert "$(" not in targets.stdout


def test_the_readme_lists_every_exit_status() -> None:
    readme = (ROOT / "README.md").read_text()
    for status in Exit:
        assert f"\n| {status.value} | " in readme, f"exit status {status.value} ({status.name}) is not listed"
