"""The scale-out rows: many streams on one process, and two worker processes on PostgreSQL.

- `live cards: 2,000 subscribers, 20 reports/s`: the one-process `framestate serve` of the run
  (on SQLite no second process may serve the file); its peak memory (VmHWM) is that of its whole
  run, so a bound on this row's.
- On PostgreSQL, `framestate serve --workers 2` on the same database: the card read and the
  progress report at 16 connections, set against the one-process server at 16 connections in the
  same phase (each side's best round), and 500 streams spread over the two workers by the kernel
  while reports, answered by either worker, arrive at 200 a second: a card then often travels
  from one worker to the other through PostgreSQL's LISTEN/NOTIFY.
"""

from dataclasses import replace
from typing import Any

from bench.common import LIVE_RATE, LIVE_SLOW_RATE, say
from bench.scenarios import Row, Scenario, run_scenarios
from bench.servers import Server, framestate_command, free_port, start_server

MANY_SUBSCRIBERS = 2000
SPREAD_SUBSCRIBERS = 500
CLUSTER_WORKERS = 2
CLUSTER_CONNECTIONS = 16
CLUSTER_GOALS = {"card-2w": 1.5, "progress-2w": 1.3}
MANY_P99_MS = 100.0
MANY_REPORT_SHARE = 0.95
MANY_PEAK_MIB = 250.0
SPREAD_P99_MS = 100.0


def _live(key: str, title: str, jobs: str, subscribers: int, rate: float, duration: float) -> Scenario:
    return Scenario(
        key,
        title,
        "cards/s",
        {
            "framestate": [
                "live",
                "{url}",
                jobs,
                "--subscribers",
                str(subscribers),
                "--rate",
                str(rate),
                "--duration",
                str(max(duration, 8)),
                "--salt",
                key.replace("-", ""),
            ]
        },
        warm_up=False,
    )


def many_streams_row(server: Server, jobs: str, duration: float) -> Row:
    """2,000 streams on the one-process server; its peak memory (VmHWM, the peak of its whole run
    so far, so a bound on this row's) goes into the result."""
    scenario = _live(
        "live-many",
        f"live cards: {MANY_SUBSCRIBERS:,} subscribers, {LIVE_SLOW_RATE:g} reports/s (delay report → card)",
        jobs,
        MANY_SUBSCRIBERS,
        LIVE_SLOW_RATE,
        duration,
    )
    (row,) = run_scenarios({"framestate": server}, [scenario], 0.0, 1)
    assert row.framestate is not None
    row.framestate["peak_mib"] = server.peak_rss_mib()
    row.framestate["asked_rate"] = LIVE_SLOW_RATE
    say(f"    (server peak memory {row.framestate['peak_mib']:.0f} MiB)")
    return row


def cluster_rows(
    one: Server, url: str, rows: list[Row], jobs: str, duration: float, warm_up_s: float, rounds: int
) -> list[Row]:
    """`--workers 2` against the one-process server `one`, on the same PostgreSQL database."""
    port = free_port()
    command = [*framestate_command(port), "--workers", str(CLUSTER_WORKERS)]
    cluster = start_server("framestate-postgresql-2w", command, f"http://127.0.0.1:{port}", "/health", url)
    try:
        cluster.wait_for_workers(CLUSTER_WORKERS)
        out = []
        for row in rows:
            if row.scenario.key not in ("card", "progress"):
                continue
            args = [*row.scenario.args["framestate"], "--connections", str(CLUSTER_CONNECTIONS)]
            one_args = [arg.replace("{round}", "{round}1w") for arg in args]  # new messages: real writes
            args = [arg.replace("{round}", "{round}2w") for arg in args]
            base = replace(row.scenario, key=f"{row.scenario.key}-1w", args={"framestate": one_args}, goal="")
            (single,) = run_scenarios({"framestate": one}, [base], warm_up_s, rounds)
            two = replace(
                row.scenario,
                key=f"{row.scenario.key}-2w",
                title=f"{row.scenario.title}, {CLUSTER_WORKERS} workers",
                args={"framestate": args},
                goal="",
            )
            (measured_row,) = run_scenarios({"framestate": cluster}, [two], warm_up_s, rounds)
            assert measured_row.framestate is not None
            assert single.framestate is not None
            measured_row.framestate["one_worker_rate"] = single.framestate["rate"]
            out.append(measured_row)
        spread = _live(
            "live-2w",
            f"live cards: {SPREAD_SUBSCRIBERS} subscribers across {CLUSTER_WORKERS} workers, "
            f"{LIVE_RATE:g} reports/s (delay report → card)",
            jobs,
            SPREAD_SUBSCRIBERS,
            LIVE_RATE,
            duration,
        )
        out += run_scenarios({"framestate": cluster}, [spread], warm_up_s, 1)
        say(f"    (workers' peak memory {', '.join(f'{m:.0f}' for m in cluster.workers_peak_rss_mib())} MiB)")
        return out
    finally:
        cluster.stop()


def scaling_goal(row: Row) -> str:
    key, fs = row.scenario.key, row.framestate
    if fs is None:
        return ""
    if key in CLUSTER_GOALS:
        need, share = CLUSTER_GOALS[key], fs["rate"] / fs["one_worker_rate"]
        return f"{share:.2f} × one worker's {fs['one_worker_rate']:,.0f}/s ≥ {need} {_met(share >= need)}"
    if key == "live-many":
        share = fs["report_rate"] / fs["asked_rate"]
        return (
            f"every card {_met(fs['delivered'] >= 1.0)}; p99 < {MANY_P99_MS:.0f} ms "
            f"{_met(fs['p99_ms'] < MANY_P99_MS)}; reports {share:.2f} × asked ≥ {MANY_REPORT_SHARE} "
            f"{_met(share >= MANY_REPORT_SHARE)}; peak {fs['peak_mib']:.0f} MiB < {MANY_PEAK_MIB:.0f} "
            f"{_met(fs['peak_mib'] < MANY_PEAK_MIB)}"
        )
    if key == "live-2w":
        return (
            f"every card {_met(fs['delivered'] >= 1.0)}; p99 < {SPREAD_P99_MS:.0f} ms "
            f"{_met(fs['p99_ms'] < SPREAD_P99_MS)}"
        )
    return ""


def _met(ok: bool) -> str:
    return "met" if ok else "**missed**"


def scaling_notes(rows: list[Row]) -> list[str]:
    notes: list[str] = []
    for row in rows:
        r: dict[str, Any] | None = row.framestate
        if r is None or row.scenario.key not in ("live-many", "live-2w"):
            continue
        notes.append(
            f"{row.scenario.title.split(' (')[0]}: {r['reports']} reports sent at {r['report_rate']:.0f}/s "
            f"(answered in p50 {r['report_p50_ms']:.1f} ms, p99 {r['report_p99_ms']:.1f} ms); "
            f"{r['delivered']:.1%} of the expected cards arrived; delay max {r['max_ms']:.0f} ms; "
            f"{r['streams_lost']} streams lost"
            + (f"; server peak memory {r['peak_mib']:.0f} MiB" if "peak_mib" in r else "")
        )
    return notes
