"""`framestate simulate-export`: a pretend export worker, so anyone can watch a card change."""

import asyncio
import sys
from typing import TextIO

from fsm.facts import JobType
from service.commands.worker_client import (
    ExportAlreadyActiveError,
    FramestateError,
    JobNotActiveError,
    WorkerClient,
)

REPORT_EVERY_S = 0.2
AUTH_NEEDED = 3
"""The exit status when the service wants a (better) token: pass --token, or set FRAMESTATE_TOKEN."""


async def simulate_export(
    base_url: str,
    project_id: str,
    job_type: JobType,
    *,
    seconds: float = 5.0,
    fail: bool = False,
    token: str | None = None,
    worker_token: str | None = None,
    out: TextIO = sys.stdout,
) -> int:
    """Start an export of `job_type` (or adopt the one already running), report progress for about
    `seconds`, then succeed or fail. Returns the process exit status.

    With auth on, `token` (a client's, the project's owner) starts the export and `worker_token`
    reports on it; either one serves for both where only one is given."""
    async with (
        WorkerClient(base_url, token=token or worker_token) as client,
        WorkerClient(base_url, token=worker_token or token) as worker,
    ):
        try:
            job = await client.start_export(project_id, job_type)
            print(f"started {job_type.value} export {job.id}", file=out)
        except ExportAlreadyActiveError as exc:
            job = await client.job(exc.job_id)
            print(f"reporting on the {job_type.value} export already running: {job.id}", file=out)
        except FramestateError as exc:
            print(f"framestate refused the export: {exc}", file=out)
            return AUTH_NEEDED if exc.status in (401, 403) else 1
        steps = max(1, round(seconds / REPORT_EVERY_S))
        try:
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
        except JobNotActiveError as exc:
            print(f"the job ended without this worker ({exc.job_status}); stopping", file=out)
            return 1
    return 0
