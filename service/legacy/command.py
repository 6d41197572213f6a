"""`framestate import-legacy SOURCE_URL`: read an existing app's database batch by batch, say what
becomes of each project, and with `--apply` write it into framestate.

The legacy database is read in a thread of its own, one batch ahead of the writes, so reading the
next batch overlaps with writing this one. Exit status: 0 when it ran, 1 when some projects had
problems (the rest went in), 2 when it could not run (the message names why).
"""

import asyncio
import gc
import logging
import sys
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.exc import DBAPIError

from service.legacy.apply import Work, Writer, Written
from service.legacy.errors import CannotRun
from service.legacy.mapping import load_mapping
from service.legacy.outcomes import Outcome, decide
from service.legacy.plan import Planned, Planner
from service.legacy.report import Progress, Report
from service.legacy.source import Source, first_line
from service.legacy.status_map import load_status_map
from service.legacy.target import Framestate, open_for_writes, open_read_only
from service.settings import Settings

DEFAULT_BATCH_SIZE = 500
PROBLEMS = 1
CANNOT_RUN = 2
INTERRUPTED = 130


@dataclass(frozen=True, slots=True)
class Options:
    source: str
    apply: bool = False
    report: Path | None = None
    mapping: Path | None = None
    status_map: Path | None = None
    owner: str | None = None
    """The owner (a client token's `sub`) of the projects it imports: with auth on, the client that
    sees them."""
    batch_size: int = DEFAULT_BATCH_SIZE


def say(line: str) -> None:
    sys.stderr.write(f"framestate import-legacy: {line}\n")


YOUNG_GENERATION_THRESHOLD = 50_000
"""An import makes millions of short-lived objects (rows, facts, parameters) and few cycles:
collecting the young generation every 700 allocations, Python's default, took a third of its
time."""


def import_legacy(options: Options, settings: Settings) -> int:
    """The command; its exit status."""
    logging.getLogger("alembic").setLevel(logging.WARNING)
    gc.freeze()
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, *gc.get_threshold()[1:])
    if options.batch_size < 1:
        say("--batch-size must be at least 1")
        return CANNOT_RUN
    try:
        mapping = load_mapping(options.mapping)
        planner = Planner(mapping, load_status_map(options.status_map))
        source = Source.open(options.source, mapping)
    except CannotRun as exc:
        say(str(exc))
        return CANNOT_RUN
    try:
        report = Report(options.report, apply=options.apply)
        try:
            if options.apply:
                _migrate(settings)
            return asyncio.run(_run(options, settings, source, planner, report))
        finally:
            report.close()
    except CannotRun as exc:
        say(str(exc))
        return CANNOT_RUN
    except KeyboardInterrupt:
        say("interrupted: the projects written so far are whole; run it again to finish")
        return INTERRUPTED
    finally:
        source.close()


def _migrate(settings: Settings) -> None:
    from service.store.migrations import upgrade

    try:
        upgrade(settings)
    except (DBAPIError, OSError) as exc:
        raise CannotRun(f"framestate's database does not answer: {first_line(exc)}") from None


async def _planned_batches(source: Source, planner: Planner, size: int) -> AsyncIterator[list[Planned]]:
    """The batches, each read and planned in the source's thread while the previous one is written."""
    loop = asyncio.get_running_loop()
    batches = source.batches(size)

    def next_planned() -> list[Planned] | None:
        try:
            raw = next(batches, None)
        except DBAPIError as exc:
            raise CannotRun(
                f"the source stopped answering ({first_line(exc)}); the projects written so far are "
                "whole: run it again to finish"
            ) from None
        return None if raw is None else planner.plan(raw)

    with ThreadPoolExecutor(1, thread_name_prefix="legacy-source") as thread:
        pending = loop.run_in_executor(thread, next_planned)
        while (planned := await pending) is not None:
            pending = loop.run_in_executor(thread, next_planned)
            yield planned


async def _run(options: Options, settings: Settings, source: Source, planner: Planner, report: Report) -> int:
    target = open_for_writes(settings) if options.apply else await open_read_only(settings)
    try:
        progress = Progress(await asyncio.to_thread(source.count))
        writer = (
            None
            if target.db is None
            else Writer(target.db, owner=options.owner, postgres=not settings.is_sqlite)
        )
        async for batch in _planned_batches(source, planner, options.batch_size):
            await _one_batch(batch, target, writer, report)
            progress.advance(sum(planned.exists for planned in batch))
        progress.finish()
    except (DBAPIError, OSError) as exc:
        raise CannotRun(
            f"framestate's database stopped answering ({first_line(exc)}); the projects written so far "
            "are whole: run it again to finish"
        ) from None
    finally:
        await target.close()
    sys.stdout.write(report.summary())
    return PROBLEMS if report.problems else 0


async def _one_batch(batch: list[Planned], target: Framestate, writer: Writer | None, report: Report) -> None:
    held = await target.held([planned.id for planned in batch if planned.importable and planned.id])
    decided = [
        (planned, decide(planned, held.get(str(planned.id)), apply=writer is not None)) for planned in batch
    ]
    written = Written()
    if writer is not None:
        work = [
            Work(planned, held.get(str(planned.id)))
            for planned, outcome in decided
            if outcome in (Outcome.IMPORTED, Outcome.SYNCED)
        ]
        written = await writer.write(work)
    for planned, outcome in decided:
        final = (
            written.outcomes.get(str(planned.id), outcome)
            if outcome in (Outcome.IMPORTED, Outcome.SYNCED)
            else outcome
        )
        report.add(planned, final, written.problems.get(str(planned.id)))
