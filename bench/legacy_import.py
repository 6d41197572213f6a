"""The import rows of `make bench`: `framestate import-legacy` from the legacy SQLite file
(bench/legacy_source.py) into a fresh framestate database, a dry run then `--apply`, each as the
process a user runs. A row's rate is projects a second over the whole run (from start-up to the
summary), and the importer's peak memory is its own (VmHWM)."""

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from bench.common import ROOT, VAR, say
from bench.databases import database
from bench.legacy_source import LEGACY_PROJECTS, make_legacy_file
from bench.scenarios import Row, Scenario, machine_busy_seconds, postgres_seconds

DRY_RUN_GOAL = 10_000.0
APPLY_GOAL = 2_000.0
PEAK_MIB_GOAL = 200.0
IMPORT_GOALS = {"import-dry-run": DRY_RUN_GOAL, "import-apply": APPLY_GOAL}
TITLE = f"legacy import, {{}} ({LEGACY_PROJECTS:,} projects)"


def legacy_file() -> Path:
    VAR.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    path = make_legacy_file(VAR / "legacy.db")
    say(f"legacy source: {LEGACY_PROJECTS:,} projects written in {time.perf_counter() - began:.1f} s")
    return path


class _PeakWatch(threading.Thread):
    """The process's peak memory (VmHWM), read until it ends. Its `ru_maxrss` would not do: that
    counts the copy of this process it was forked from, before it ran the importer."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.status = Path(f"/proc/{pid}/status")
        self.mib = 0.0

    def run(self) -> None:
        while True:
            try:
                text = self.status.read_text()
            except OSError:
                return
            for line in text.splitlines():
                if line.startswith("VmHWM:"):
                    self.mib = max(self.mib, int(line.split()[1]) / 1024)
            if "State:\tZ" in text:
                return
            time.sleep(0.05)


def _run(args: list[str], database_url: str) -> dict[str, Any]:
    """One run of the command: its rate, peak memory and the cores it, the database and the rest
    of the machine kept busy."""
    env = {**os.environ, "FRAMESTATE_DATABASE_URL": database_url, "FRAMESTATE_LOG_LEVEL": "WARNING"}
    busy, pg, began = machine_busy_seconds(), postgres_seconds(), time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "service.commands.cli", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    peak = _PeakWatch(process.pid)
    peak.start()
    summary = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - began
    peak.join()
    if process.returncode != 0:
        raise RuntimeError(f"framestate {' '.join(args)} exited {process.returncode}:\n{summary}")
    importer = (usage.ru_utime + usage.ru_stime) / wall
    db = max(0.0, postgres_seconds() - pg) / wall
    return {
        "rate": LEGACY_PROJECTS / wall,
        "seconds": wall,
        "peak_mib": peak.mib,
        "server_cpu": importer,
        "load_cpu": 0.0,
        "db_cpu": db,
        "other_cpu": max(0.0, (machine_busy_seconds() - busy) / wall - importer - db),
        "summary": summary,
    }


def import_rows(kind: str, source: Path) -> list[Row]:
    """The dry run, then `--apply`, into a fresh database of `kind`."""
    rows = []
    with database(kind) as url:
        subprocess.run(
            [sys.executable, "-m", "service.commands.cli", "migrate"],
            cwd=ROOT,
            env={**os.environ, "FRAMESTATE_DATABASE_URL": url},
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for key, words, extra, outcome in (
            ("import-dry-run", "dry run", [], f"would_import {LEGACY_PROJECTS:,}"),
            ("import-apply", "apply", ["--apply"], f"imported {LEGACY_PROJECTS:,}"),
        ):
            scenario = Scenario(key, TITLE.format(words), "projects/s", {}, warm_up=False)
            result = _run(["import-legacy", f"sqlite:///{source}", *extra], url)
            if outcome not in result["summary"]:
                raise RuntimeError(
                    f"{scenario.title}: the summary does not say {outcome!r}:\n{result['summary']}"
                )
            say(
                f"  {scenario.title}: {result['rate']:,.0f} projects/s ({result['seconds']:.1f} s), "
                f"peak {result['peak_mib']:.0f} MiB"
            )
            rows.append(Row(scenario, result, None))
    return rows


def import_goal(row: Row) -> str:
    result = row.framestate
    if result is None or row.scenario.key not in IMPORT_GOALS:
        return ""
    need = IMPORT_GOALS[row.scenario.key]
    rate_met = "met" if result["rate"] >= need else "**missed**"
    peak_met = "met" if result["peak_mib"] < PEAK_MIB_GOAL else "**missed**"
    return (
        f"≥ {need:,.0f}/s {rate_met}; importer peak {result['peak_mib']:.0f} MiB "
        f"< {PEAK_MIB_GOAL:.0f} {peak_met}"
    )
