"""What every part of the benchmark shares: its paths and markers, the databases it uses, the
run's sizes and the servers' environment, and how it speaks."""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var" / "bench"
DOC = ROOT / "docs" / "benchmarks.md"
BEGIN_MARK = "<!-- bench:begin (written by `make bench`; edit outside the markers) -->"
END_MARK = "<!-- bench:end -->"
PG_HOST = os.environ.get("FRAMESTATE_BENCH_PG", "postgres@127.0.0.1:5432")
PG_DATABASE = "framestate_bench"
PROJECTS = 10_000
EXPORT_WORKERS = 4
LIVE_SUBSCRIBERS = 500
LIVE_RATE = 200.0
LIVE_SLOW_RATE = 20.0
SERVER_ENV = {
    "FRAMESTATE_LOG_LEVEL": "WARNING",
    "FRAMESTATE_JOB_TIMEOUT_S": "86400",
    "FRAMESTATE_MAX_STREAMS": "2500",  # the live scenarios hold up to 2,000 streams from one address
    "FRAMESTATE_WEBHOOK_ALLOW_NETWORKS": "127.0.0.0/8,::1/128",  # its receivers are on loopback; nothing else
}


def say(line: str = "") -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()
