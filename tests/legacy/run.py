"""`framestate import-legacy` run as a user runs it: a subprocess, its exit status, its two streams
and the report it wrote."""

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.servers import ROOT

JSON = dict[str, Any]
CLI = [sys.executable, "-m", "service.commands.cli", "import-legacy"]


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str
    report: list[JSON]

    def line(self, project_id: str | None) -> JSON:
        return next(line for line in self.report if line["id"] == project_id)

    def outcomes(self) -> dict[str | None, str]:
        return {line["id"]: line["outcome"] for line in self.report}


def command_env(database_url: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FRAMESTATE_")}
    return {**clean, "FRAMESTATE_DATABASE_URL": database_url, **(extra or {})}


def import_legacy(
    source: str, *args: str, database_url: str, report: Path, env: dict[str, str] | None = None
) -> Run:
    report.unlink(missing_ok=True)
    done = subprocess.run(
        [*CLI, source, "--report", str(report), *args],
        cwd=ROOT,
        env=command_env(database_url, env),
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = [json.loads(line) for line in report.read_text().splitlines()] if report.exists() else []
    return Run(done.returncode, done.stdout, done.stderr, lines)
