"""`make bench`: framestate against a bare baseline, on SQLite and on PostgreSQL, over loopback.

For each database: a fresh database migrated by `framestate migrate` (the real schema), seeded
with bulk SQL through the real tables (10,000 projects, 10% of them exporting); then two servers on
free loopback ports, each one uvicorn process: `framestate serve`, and the baseline
(bench/baseline.py: the same SQL by hand, no ORM, no state machine, no history, no events). The
load comes from another process (bench/load.py: wrk, or a bare asyncio client), one server at a
time, after a short warm-up. Then the state machine's decision is timed in this process, the
servers' peak memory is read from /proc, and the scenario furthest from its baseline is run once
more against a `framestate serve` under py-spy (when py-spy is installed) to show where its time
goes. The tables are printed and written into docs/benchmarks.md between its markers; the text
around the markers is left as it is.

    .venv/bin/python -m bench.run [--only sqlite|postgresql] [--duration 6] [--profile auto|none]
        [--scenarios all|service|import]

Then the legacy import rows (bench/legacy_import.py): `framestate import-legacy` of a SQLite file of
100,000 legacy projects into a fresh database of each kind, a dry run and `--apply`.
"""

import argparse
import random
import shutil
import sys
import time
from pathlib import Path

from bench.common import DOC, PG_HOST, PROJECTS, ROOT, VAR, say
from bench.databases import database, pg_version
from bench.decisions import time_decisions
from bench.legacy_import import import_rows, legacy_file
from bench.postgres import postgres_error
from bench.profiling import profile
from bench.report import RATIO_GOALS, live_notes, render, write_doc
from bench.scaling import cluster_rows, many_streams_row, scaling_notes
from bench.scenarios import DbReport, page_paths, run_scenarios, scenarios, webhook_rows, write_lines
from bench.seeding import seed
from bench.servers import Server, baseline_command, framestate_command, free_port, start_server


def bench_database(kind: str, args: argparse.Namespace, *, service: bool, legacy: Path | None) -> DbReport:
    """The service's scenarios (with `service`), then the legacy import rows (with a `legacy` file)."""
    report = DbReport(kind)
    if service:
        bench_service(
            report,
            args.duration,
            args.warm_up,
            args.rounds,
            args.profile == "auto",
            only=args.scenarios if args.scenarios in ("webhooks", "scaling") else None,
        )
    if legacy is not None:
        say(f"{kind}: legacy import")
        report.rows += import_rows(kind, legacy)
    return report


def bench_service(
    report: DbReport,
    duration: float,
    warm_up_s: float,
    rounds: int,
    want_profile: bool,
    *,
    only: str | None,
) -> None:
    kind = report.kind
    with database(kind) as url:
        began = time.perf_counter()
        seeded = seed(url, kind == "postgresql")
        say(f"{kind}: seeded {PROJECTS:,} projects in {time.perf_counter() - began:.1f} s")
        servers: dict[str, Server] = {}
        try:
            for who, command, ready in (
                ("framestate", framestate_command, "/health"),
                ("baseline", baseline_command, "/hello"),
            ):
                port = free_port()
                servers[who] = start_server(
                    f"{who}-{kind}", command(port), f"http://127.0.0.1:{port}", ready, url
                )
            pages = write_lines("pages.txt", page_paths(servers["framestate"].url, 20))
            plan = scenarios(seeded, duration, pages)
            if only:
                plan = [scenario for scenario in plan if scenario.key in ("card", "progress")]
            report.rows = run_scenarios(servers, plan, warm_up_s, rounds)
            jobs = str(VAR / "jobs.txt")
            if only != "scaling":
                report.rows += webhook_rows(servers, report.rows, jobs, duration, warm_up_s, rounds)
            if only != "webhooks":
                scaled = [many_streams_row(servers["framestate"], jobs, duration)]
                if kind == "postgresql":
                    scaled += cluster_rows(
                        servers["framestate"], url, report.rows, jobs, duration, warm_up_s, rounds
                    )
                report.rows += scaled
            report.peak_rss_mib = {who: server.peak_rss_mib() for who, server in servers.items()}
            report.notes = live_notes(report) + scaling_notes(report.rows)
        finally:
            for server in servers.values():
                server.stop()
        if want_profile:
            candidates = [
                row for row in report.rows if row.ratio is not None and row.scenario.key in RATIO_GOALS
            ]
            worst = min(candidates, key=lambda row: row.ratio or 0.0)
            say(f"{kind}: profiling {worst.scenario.title!r} (ratio {worst.ratio:.2f}) under py-spy")
            report.profile = profile(kind, url, worst.scenario, warm_up_s)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="framestate against a bare baseline (see bench/run.py)")
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument("--duration", type=float, default=5.0, help="seconds a scenario (default 5)")
    parser.add_argument("--warm-up", type=float, default=1.0, help="seconds of warm-up (default 1)")
    parser.add_argument(
        "--rounds", type=int, default=2, help="rounds of each scenario, best kept (default 2)"
    )
    parser.add_argument("--profile", choices=["auto", "none"], default="auto")
    parser.add_argument("--no-doc", action="store_true", help="print only; leave docs/benchmarks.md alone")
    parser.add_argument(
        "--scenarios",
        choices=["all", "service", "webhooks", "scaling", "import"],
        default="all",
        help="the service's scenarios, the legacy import rows, or both (default); `webhooks` runs only "
        "the card, the progress report and the webhook rows; `scaling` only the card, the progress "
        "report and the scale-out rows (2,000 streams; on PostgreSQL two workers)",
    )
    args = parser.parse_args(argv)
    service = args.scenarios in ("all", "service", "webhooks", "scaling")
    if service and shutil.which("wrk") is None:
        say("bench: wrk is missing (Debian: apt-get install wrk)")
        return 2
    random.seed(1)
    kinds = [args.only] if args.only else ["sqlite", "postgresql"]
    if "postgresql" in kinds and (error := postgres_error(PG_HOST)) is not None:
        say(f"bench: PostgreSQL at {PG_HOST} does not answer ({error}); SQLite only")
        kinds.remove("postgresql")
    decisions = time_decisions()
    say(f"state machine: {decisions.mean_us:.1f} µs a decision (worst move {decisions.worst_us:.1f} µs)")
    legacy = legacy_file() if args.scenarios in ("all", "import") else None
    reports = [bench_database(kind, args, service=service, legacy=legacy) for kind in kinds]
    block = render(
        reports, decisions, args.duration, args.rounds, pg_version() if "postgresql" in kinds else ""
    )
    say()
    say(block)
    if not args.no_doc:
        write_doc(block)
        say(f"\nwritten to {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
