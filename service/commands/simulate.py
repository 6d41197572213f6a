"""`framestate simulate-export`: a pretend export worker, so anyone can watch a card change.

With auth on it acts with two tokens, as a real app and its workers do: the project owner's client
token starts the export (and cancels it), a worker token reports on it. Both are checked before
anything starts. An export it started never stays behind it queued or running: when the service
refuses a report, or Ctrl-C stops the command, it cancels the export with a reason that says why.
Only a service that went away is left to fail the export for silence.
"""

import asyncio
import sys
from typing import TextIO

import httpx

from fsm.facts import JobType
from service.commands.outcomes import CannotRun, Exit
from service.commands.service_access import Ask, not_answering, reach
from service.commands.worker_client import (
    ExportAlreadyActiveError,
    FramestateError,
    JobNotActiveError,
    WorkerClient,
)
from service.schemas import ExportJobOut

REPORT_EVERY_S = 0.2
INTERRUPTED = "simulate-export was interrupted (Ctrl-C)"


async def simulate_export(
    base_url: str,
    project_id: str,
    job_type: JobType,
    *,
    seconds: float = 5.0,
    fail: bool = False,
    token: str | None = None,
    worker_token: str | None = None,
    ask: Ask | None = None,
    out: TextIO = sys.stdout,
) -> int:
    """Start an export of `job_type` (or adopt the one already running), report progress for about
    `seconds`, then succeed or fail. Returns the exit status; raises `CannotRun` for the rest."""
    access = await reach(
        base_url, client_token=token, worker_token=worker_token, roles=("client", "worker"), ask=ask
    )
    async with (
        WorkerClient(base_url, token=access.client_token) as client,
        WorkerClient(base_url, token=access.worker_token) as worker,
    ):
        starting = asyncio.ensure_future(_start_or_adopt(client, project_id, job_type, out))
        try:
            job, ours = await asyncio.shield(starting)
        except httpx.TransportError as exc:
            raise not_answering(base_url, exc) from None
        except asyncio.CancelledError:  # Ctrl-C while starting: the start is let finish, then undone
            job, ours = await starting
            print(await _end(client, job, ours, reason=INTERRUPTED), file=out)
            raise
        try:
            await _play(worker, job, project_id=project_id, seconds=seconds, fail=fail, out=out)
        except JobNotActiveError as exc:
            print(f"the export ended without this worker ({exc.job_status}); stopping", file=out)
            return Exit.REFUSED
        except FramestateError as exc:
            ended = await _end(client, job, ours, reason=f"simulate-export: a report was refused ({exc})")
            status = Exit.TOKEN if exc.status in (401, 403) else Exit.REFUSED
            refused = f"the service refused a report on export {job.id} ({exc}); {ended}"
            raise CannotRun(refused, status) from None
        except httpx.TransportError as exc:
            left = f"export {job.id} stays active until it is cancelled on the board or fails for silence"
            raise not_answering(base_url, exc, left=left) from None
        except asyncio.CancelledError:  # Ctrl-C: asyncio.run cancels this task, then raises KeyboardInterrupt
            print(await _end(client, job, ours, reason=INTERRUPTED), file=out)
            raise
    return Exit.DONE


async def _start_or_adopt(
    client: WorkerClient, project_id: str, job_type: JobType, out: TextIO
) -> tuple[ExportJobOut, bool]:
    """The export to report on, and whether this command started it."""
    try:
        job = await client.start_export(project_id, job_type)
    except ExportAlreadyActiveError as exc:
        job = await client.job(exc.job_id)
        print(f"reporting on the {job_type.value} export already running: {job.id}", file=out)
        return job, False
    except FramestateError as exc:
        raise CannotRun(f"the service refused the export: {exc}", Exit.REFUSED) from None
    print(f"started {job_type.value} export {job.id}", file=out, flush=True)
    return job, True


async def _play(
    worker: WorkerClient, job: ExportJobOut, *, project_id: str, seconds: float, fail: bool, out: TextIO
) -> None:
    steps = max(1, round(seconds / REPORT_EVERY_S))
    for step in range(1, steps + 1):
        await asyncio.sleep(seconds / steps)
        progress = round(100 * step / (steps + 1), 1)
        await worker.progress(job.id, progress, f"rendering frame {step * 24} of {(steps + 1) * 24}")
        print(f"{progress:5.1f}%", file=out, flush=True)
    if fail:
        await worker.fail(job.id, "simulated failure: the encoder gave up")
        print("failed (as asked)", file=out)
    else:
        done = await worker.succeed(job.id, f"sim://{project_id}/{job.id}.mp4")
        print(f"succeeded: video {done.output_video_id}", file=out)


async def _end(client: WorkerClient, job: ExportJobOut, ours: bool, *, reason: str) -> str:
    """Cancel the export this command started, saying why; what became of it, in words."""
    if not ours:
        return f"export {job.id} was not started here and keeps running"
    try:
        await client.cancel(job.id, reason=reason[:500])
    except (FramestateError, httpx.TransportError) as exc:
        return f"export {job.id} could not be cancelled ({exc or type(exc).__name__}) and stays active"
    return f"export {job.id} cancelled"
