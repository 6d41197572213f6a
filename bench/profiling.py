"""Profile: the scenario furthest from its baseline, once more, under py-spy, summarised by layer."""

import shutil
import sys
from collections import Counter
from pathlib import Path

from bench.common import ROOT, VAR
from bench.scenarios import Scenario, command_args, load
from bench.servers import framestate_command, free_port, start_server

# Each sample of the event loop's thread goes to the first of these that a frame matches, walking
# from the innermost frame outwards (frames of other stdlib modules are passed over).
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("aiosqlite: a call handed to its thread, and the answer back", ("(aiosqlite/core.py",)),
    (
        "socket writes and reads (syscalls)",
        ("_SelectorSocketTransport.write", "sock_recv", "socket.send", "_read_ready"),
    ),
    ("asyncpg: protocol, prepare, bind", ("asyncpg/",)),
    ("greenlet bridge (SQLAlchemy async)", ("sqlalchemy/util/concurrency.py", "greenlet")),
    ("ORM: rows into objects (loading.py)", ("sqlalchemy/orm/loading.py",)),
    ("ORM: session, identity map, attributes, flush", ("sqlalchemy/orm/",)),
    ("SQLModel / pydantic", ("sqlmodel/", "pydantic")),
    ("Core: building, caching, compiling statements", ("sqlalchemy/sql/",)),
    (
        "Core: execution, results, pool, dialect",
        ("sqlalchemy/engine/", "sqlalchemy/pool/", "sqlalchemy/dialects/"),
    ),
    ("state machine (fsm + transitions)", ("transitions/", "fsm/")),
    ("JSON: msgspec encode/decode", ("msgspec", "litestar/serialization/")),
    ("request_checks: the second, strict body decode", ("service/http/request_checks.py",)),
    ("Litestar: kwargs, signature, DI", ("litestar/_kwargs/", "litestar/_signature/", "litestar/di.py")),
    (
        "Litestar: guards",
        ("authorize_connection", "litestar/concurrency.py", "service/http/auth.py"),
    ),
    ("Litestar: routing, middleware, responses", ("litestar/",)),
    ("uvicorn + h11", ("uvicorn/", "h11/")),
    ("service code itself", ("service/",)),
    ("event loop, threads", ("asyncio/", "selectors.py", "concurrent/futures/", "threading.py")),
]
MARKS: list[tuple[str, tuple[str, ...]]] = [
    ("the ORM, anywhere below", ("sqlalchemy/orm/",)),
    ("building cards (service/store/cards.py)", ("service/store/cards.py",)),
    ("the unit of work (service/writes/unit_of_work.py)", ("service/writes/unit_of_work.py",)),
    ("the state machine (fsm/machine.py)", ("fsm/machine.py",)),
    ("request_checks (second body decode)", ("service/http/request_checks.py",)),
    ("Litestar kwargs parsing", ("litestar/_kwargs/",)),
    ("encoding the answer (Litestar + msgspec)", ("litestar/serialization/", "litestar/response/")),
]


STARTUP_FRAMES = ("importlib", "alembic", "migrations.py", "Events.start", "parser (service/commands/cli.py")
# py-spy takes the event loop's thread for running while it waits in epoll, and then shows either
# the `select` frame or, through SQLAlchemy's greenlets, the last `await` on aiosqlite's future:
# both are waiting, not work (the server's CPU time, measured apart, agrees).
WAITING_LEAVES = ("EpollSelector.select (", "Connection._execute (aiosqlite/core.py:158)")


def _waiting(parts: list[str]) -> bool:
    return len(parts) == 1 or parts[-1].startswith(WAITING_LEAVES)


def _stacks(path: Path) -> list[tuple[list[str], int]]:
    stacks = []
    for line in path.read_text().splitlines():
        frames, _, count = line.rpartition(" ")
        if not frames or not count.isdigit():
            continue
        parts = frames.split(";")
        if any(mark in part for part in parts for mark in STARTUP_FRAMES):
            continue  # start-up, not the scenario
        stacks.append((parts, int(count)))
    return stacks


def _layer(parts: list[str]) -> str:
    for frame in reversed(parts[1:]):
        for label, needles in LAYERS:
            if any(needle in frame for needle in needles):
                return label
    return "other"


def summarise_profile(path: Path, title: str) -> str:
    stacks = _stacks(path)
    main_all = [(parts, count) for parts, count in stacks if "MainThread" in parts[0]]
    main = [(parts, count) for parts, count in main_all if not _waiting(parts)]
    waiting = sum(count for _, count in main_all) - sum(count for _, count in main)
    others = sum(count for parts, count in stacks if "MainThread" not in parts[0])
    busy = sum(count for _, count in main)
    if not busy:
        return f"(no samples in {path})"
    layers: Counter[str] = Counter()
    for parts, count in main:
        layers[_layer(parts)] += count
    lines = [
        f"Profile of **{title}** (py-spy at 200 Hz; raw stacks in `{path.relative_to(ROOT)}`). The "
        f"event loop's thread, the one that limits a process, was working in {busy:,} samples and "
        f"waiting in {waiting:,} (epoll, or parked on an aiosqlite future); other threads (aiosqlite's, "
        f"Litestar's pool) ran in {others:,}. Where the working samples go, by the innermost layer:",
        "",
        "| layer | share of work |",
        "|---|---:|",
    ]
    lines += [f"| {label} | {count / busy:.0%} |" for label, count in layers.most_common()]
    lines += ["", "Working samples whose stack passes through:", "", "| | share of work |", "|---|---:|"]
    for label, needles in MARKS:
        hits = sum(count for parts, count in main if any(n in frame for frame in parts for n in needles))
        lines.append(f"| {label} | {hits / busy:.0%} |")
    own: Counter[str] = Counter()
    for parts, count in main:
        own[parts[-1]] += count
    lines += ["", "Innermost frames of the working samples:", "", "| frame | share of work |", "|---|---:|"]
    lines += [f"| `{name}` | {count / busy:.1%} |" for name, count in own.most_common(10)]
    return "\n".join(lines)


def profile(kind: str, database_url: str, scenario: Scenario, warm_up_s: float) -> str:
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        return "(py-spy is not installed: `.venv/bin/pip install py-spy` for a profile)"
    out = VAR / f"profile-{kind}-{scenario.key}.txt"
    port = free_port()
    command = [spy, "record", "--rate", "200", "--threads", "--nonblocking", "--format", "raw"]
    command += ["--output", str(out), "--", *framestate_command(port)]
    server = start_server(
        f"framestate-pyspy-{kind}", command, f"http://127.0.0.1:{port}", "/health", database_url
    )
    try:
        args = scenario.args["framestate"]
        load(*command_args(args, server.url, "pwarm", warm_up_s))
        load(*command_args(args, server.url, "prof"))
    finally:
        server.stop()
    return summarise_profile(out, f"{scenario.title}, framestate on {kind}")
