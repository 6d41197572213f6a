"""`framestate demo`: a handful of projects in every status on a running service, with exports
running and progressing, so that the board shows in its first minute what the product does.

It plays both sides, the app (a client: projects, clips, starts) and its export workers, over the
API. It goes on until Ctrl-C: an export that ends lets its project take its next step a little
later (a framed project gets its overlay, a complete one is re-framed: the backward step), and
one pretend worker goes silent midway, so the board marks its export stale and, after
`FRAMESTATE_JOB_TIMEOUT_S`, the service fails it. On Ctrl-C every export it left running is
cancelled with a reason; the projects stay.
"""

import asyncio
import random
import sys
from dataclasses import dataclass, field
from typing import Any, TextIO

import httpx

from service.commands.outcomes import CannotRun, Exit
from service.commands.service_access import Access, Ask, detail_of, not_answering, reach
from service.commands.worker_client import FramestateError

TICK_S = 0.5
NEXT_STEP_AFTER_S = 4.0
STOPPED = "the demo was stopped (Ctrl-C)"
AN_EXPORT = {"framing": "a framing export", "overlay": "an overlay export"}
FRAMED_CLIP = {"keyframes": [{"t": 0.0, "x": 0.42, "y": 0.5, "zoom": 1.2}, {"t": 3.5, "x": 0.55, "y": 0.48}]}


@dataclass
class Running:
    """An export the demo started and reports on."""

    job_id: str
    project: str
    type: str
    progress: float
    per_tick: float
    silent_at: float | None = None


@dataclass
class Demo:
    access: Access
    http: httpx.AsyncClient
    out: TextIO
    names: dict[str, str] = field(default_factory=dict)
    running: dict[str, Running] = field(default_factory=dict)
    due: dict[str, float] = field(default_factory=dict)
    """Projects whose next export starts at that time (the loop's clock)."""

    async def call(self, method: str, path: str, body: Any = None, *, worker: bool = False) -> Any:
        token = self.access.worker_token if worker else self.access.client_token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        answer = await self.http.request(method, path, json=body, headers=headers)
        if not answer.is_success:
            problem = answer.json() if "json" in answer.headers.get("content-type", "") else {}
            raise FramestateError(answer.status_code, problem or {"detail": detail_of(answer)})
        return answer.json() if answer.content else None

    async def project(self, name: str, *, clips: tuple[dict[str, Any] | None, ...] = (FRAMED_CLIP,)) -> str:
        project_id: str = (await self.call("POST", "/v1/projects", {"name": name}))["id"]
        self.names[project_id] = name
        for crop in clips:
            await self.call("POST", f"/v1/projects/{project_id}/clips", {"crop_data": crop})
        return project_id

    async def start(self, project_id: str, job_type: str) -> str:
        job = await self.call("POST", f"/v1/projects/{project_id}/exports", {"type": job_type})
        return str(job["id"])

    async def finish(self, project_id: str, job_type: str, *, error: str | None = None) -> None:
        """Run one export of `job_type` to its end at once (or to a failure with `error`)."""
        job_id = await self.start(project_id, job_type)
        if error is not None:
            await self.call("POST", f"/v1/exports/{job_id}/fail", {"error": error}, worker=True)
            return
        uri = f"s3://renders/{project_id[:8]}/{job_type}-{job_id[:8]}.mp4"
        await self.call("POST", f"/v1/exports/{job_id}/succeed", {"output_uri": uri}, worker=True)

    async def run(
        self, project_id: str, job_type: str, *, at: float, seconds: float, silent_at: float | None = None
    ) -> None:
        """Start an export that the loop moves by `100 / seconds` % a second from `at` %."""
        job_id = await self.start(project_id, job_type)
        per_tick = 100 * TICK_S / seconds
        self.running[job_id] = Running(job_id, project_id, job_type, 0.0, per_tick, silent_at)
        await self.report(self.running[job_id], at)

    async def report(self, job: Running, progress: float) -> None:
        job.progress = min(progress, 99.0)
        frames = 4800 if job.type == "framing" else 3600
        message = f"rendering frame {int(frames * job.progress / 100)} of {frames}"
        await self.call(
            "POST",
            f"/v1/exports/{job.job_id}/progress",
            {"progress": round(job.progress, 1), "message": message},
            worker=True,
        )


async def run_demo(
    base_url: str, *, token: str | None, worker_token: str | None, ask: Ask | None, out: TextIO = sys.stdout
) -> int:
    access = await reach(
        base_url, client_token=token, worker_token=worker_token, roles=("client", "worker"), ask=ask
    )
    async with httpx.AsyncClient(base_url=base_url, timeout=10.0) as http:
        demo = Demo(access, http, out)
        try:
            await _set_up(demo)
            _say_where(demo, base_url)
            await _go_on(demo)
        except httpx.TransportError as exc:
            left = f"{len(demo.running)} of the demo's exports stay active until they fail for silence"
            raise not_answering(base_url, exc, left=left) from None
        except FramestateError as exc:
            ended = await _stop(demo, reason=f"the demo stopped: the service refused it ({exc})")
            raise CannotRun(
                f"the service refused the demo ({exc}); {ended}",
                Exit.TOKEN if exc.status in (401, 403) else Exit.REFUSED,
            ) from None
        except asyncio.CancelledError:  # Ctrl-C: asyncio.run cancels this task
            print(f"framestate demo: stopped; {await _stop(demo, reason=STOPPED)}", file=out, flush=True)
            print("The projects stay: delete them on the board.", file=out, flush=True)
    return Exit.DONE


async def _set_up(demo: Demo) -> None:
    """One project or more in every status, three exports running, one of whose workers goes silent."""
    await demo.project("Conference keynote — Lisbon", clips=(None, None))
    await demo.project("Kitchen remodel timelapse", clips=(FRAMED_CLIP, None))
    marathon = await demo.project("City marathon 2026")
    await demo.finish(marathon, "framing")
    await demo.finish(marathon, "overlay", error="the encoder ran out of disk space")
    teaser = await demo.project("Product launch teaser")
    await demo.finish(teaser, "framing")
    wrong = await demo.start(teaser, "overlay")
    await demo.call("POST", f"/v1/exports/{wrong}/cancel", {"reason": "Wrong music track"})
    await demo.finish(teaser, "overlay")
    surf = await demo.project("Surf trip — Portugal")
    await demo.finish(surf, "framing")
    await demo.finish(surf, "overlay")
    await demo.run(surf, "framing", at=38, seconds=40)
    wedding = await demo.project("Anna & Tom — wedding highlights", clips=(FRAMED_CLIP, FRAMED_CLIP))
    await demo.finish(wedding, "framing")
    await demo.run(wedding, "overlay", at=12, seconds=30)
    cooking = await demo.project("Cooking show — episode 12")
    await demo.run(cooking, "framing", at=22, seconds=60, silent_at=35)


def _say_where(demo: Demo, base_url: str) -> None:
    print(
        f"framestate demo: {len(demo.names)} projects in every status; open the board at {base_url}/",
        file=demo.out,
    )
    if demo.access.auth_on:
        print("  (sign in there with the client token the demo uses)", file=demo.out)
    for job in demo.running.values():
        silent = " (its worker goes silent at 35%)" if job.silent_at is not None else ""
        print(f"  {demo.names[job.project]}: {AN_EXPORT[job.type]} running{silent}", file=demo.out)
    print("Ctrl-C stops the demo and cancels its exports.", file=demo.out, flush=True)


async def _go_on(demo: Demo) -> None:
    clock = 0.0
    while True:
        await asyncio.sleep(TICK_S)
        clock += TICK_S
        for job in list(demo.running.values()):
            await _advance(demo, job, clock)
        for project_id, when in list(demo.due.items()):
            if when <= clock:
                del demo.due[project_id]
                await _next_step(demo, project_id)


async def _advance(demo: Demo, job: Running, clock: float) -> None:
    if job.silent_at is not None and job.progress >= job.silent_at:
        return  # a worker that died: it reports no more
    try:
        if job.progress + job.per_tick < 100:
            await demo.report(job, job.progress + job.per_tick * random.uniform(0.6, 1.4))
            return
        uri = f"s3://renders/{job.project[:8]}/{job.type}-{job.job_id[:8]}.mp4"
        await demo.call("POST", f"/v1/exports/{job.job_id}/succeed", {"output_uri": uri}, worker=True)
        print(f"  {demo.names[job.project]}: {job.type} export succeeded", file=demo.out, flush=True)
    except FramestateError as exc:
        if exc.status not in (404, 409):
            raise
        print(
            f"  {demo.names[job.project]}: its {job.type} export ended on the board; the demo goes on",
            file=demo.out,
            flush=True,
        )
    del demo.running[job.job_id]
    demo.due[job.project] = clock + NEXT_STEP_AFTER_S


async def _next_step(demo: Demo, project_id: str) -> None:
    """A framed project gets its overlay; a complete one is re-framed (the backward step)."""
    try:
        card = await demo.call("GET", f"/v1/projects/{project_id}")
        if card["is_exporting"]:
            return
        job_type = "overlay" if card["status"] == "framed" else "framing"
        if f"start_{job_type}_export" not in card["allowed_actions"]:
            return
        await demo.run(project_id, job_type, at=3, seconds=random.uniform(25, 40))
    except FramestateError as exc:
        if exc.status not in (404, 409):
            raise
        return
    print(f"  {demo.names[project_id]}: {AN_EXPORT[job_type]} started", file=demo.out, flush=True)


async def _stop(demo: Demo, *, reason: str) -> str:
    """Cancel every export the demo left running; how many, in words."""
    cancelled = 0
    for job in list(demo.running.values()):
        try:
            await demo.call("POST", f"/v1/exports/{job.job_id}/cancel", {"reason": reason})
            cancelled += 1
        except (FramestateError, httpx.TransportError):
            continue
    return f"cancelled {cancelled} export{'' if cancelled == 1 else 's'}"
