"""Project cards: the Project object of the API, built for one project or a page at a constant
number of statements (projects, their active jobs, their current videos)."""

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from fsm.machine import allowed_actions
from fsm.status import EXPORTING_CHILDREN, LABELS, Status
from service.schemas import ExportJobOut, ProjectOut, VideoOut, as_utc
from service.tables import ExportJob, Project, Video
from service.unit_of_work import facts_of, load_active_jobs


def card(project: Project, active_jobs: list[ExportJob], videos: dict[str, Video]) -> ProjectOut:
    """`active_jobs` are this project's, in card order; `videos` holds at least its current ones."""
    status = Status(project.status)
    working = videos.get(project.working_video_id) if project.working_video_id else None
    final = videos.get(project.final_video_id) if project.final_video_id else None
    return ProjectOut(
        id=project.id,
        name=project.name,
        status=status.value,
        status_label=LABELS[status],
        is_exporting=status in EXPORTING_CHILDREN,
        active_exports=[ExportJobOut.of(job) for job in active_jobs],
        allowed_actions=[a.value for a in allowed_actions(status, facts_of(project, active_jobs))],
        working_video=VideoOut.of(working) if working else None,
        final_video=VideoOut.of(final) if final else None,
        clip_count=project.clip_count,
        framed_clip_count=project.framed_clip_count,
        version=project.version,
        created_at=as_utc(project.created_at),
        updated_at=as_utc(project.updated_at),
    )


async def cards(session: AsyncSession, projects: list[Project]) -> list[ProjectOut]:
    jobs_by_project: dict[str, list[ExportJob]] = {p.id: [] for p in projects}
    for job in await load_active_jobs(session, list(jobs_by_project)):
        jobs_by_project[job.project_id].append(job)
    video_ids = [vid for p in projects for vid in (p.working_video_id, p.final_video_id) if vid]
    videos: dict[str, Video] = {}
    if video_ids:
        result = await session.exec(select(Video).where(col(Video.id).in_(video_ids)))
        videos = {video.id: video for video in result.all()}
    return [card(p, jobs_by_project[p.id], videos) for p in projects]
