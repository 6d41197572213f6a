"""Reading project cards: one SQL statement for a card, one for a page of cards.

The statements are SQLAlchemy Core on the SQLModel tables, built once at import; a row goes
straight into the msgspec answer types, with no ORM session, identity map or instrumented objects
in between. A card's statement joins the project with its two current videos and its active jobs
(at most one of each type, so at most two rows a project); a page wraps the page of projects in
a subquery and joins the same way.
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Select, and_, bindparam, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import FromClause

from fsm.facts import Facts, JobType
from fsm.jobs import JobStatus, VideoKind
from fsm.machine import allowed_actions
from fsm.status import EXPORTING, EXPORTING_CHILDREN, LABELS, Status
from service.schemas import ExportJobOut, ProjectOut, VideoOut, as_utc, as_utc_or_none
from service.store.records import ACTIVE_LITERALS, JOB, PROJECT, PROJECT_COLUMNS, VIDEO, ProjectRecord

VIDEO_COLUMNS = ("id", "kind", "version", "uri", "job_id", "created_at")
JOB_ANSWER_COLUMNS = (
    "id",
    "project_id",
    "type",
    "status",
    "progress",
    "message",
    "error",
    "input_video_id",
    "output_video_id",
    "created_at",
    "updated_at",
    "finished_at",
    "cancel_reason",
)
_STATUS: dict[str, Status] = {s.value: s for s in Status}
_JOB_TYPE: dict[str, JobType] = {t.value: t for t in JobType}
_JOB_STATUS: dict[str, JobStatus] = {s.value: s for s in JobStatus}
_VIDEO_KIND: dict[str, VideoKind] = {k.value: k for k in VideoKind}
"""A row's text to its enum member by one dictionary lookup: calling the enum costs ~2 µs, and a
page of cards makes a few hundred of them."""
_W = len(PROJECT_COLUMNS)
_F = _W + len(VIDEO_COLUMNS)
_J = _F + len(VIDEO_COLUMNS)


def visible_to(owner_of_project: str | None, owner: str | None) -> bool:
    """With auth on, a client (`owner`) sees only its own projects; without it (None), all."""
    return owner is None or owner_of_project == owner


def job_out(row: Sequence[Any]) -> ExportJobOut:
    """An ExportJob answer from the `JOB_ANSWER_COLUMNS` of a row, in that order."""
    return ExportJobOut(
        id=row[0],
        project_id=row[1],
        type=_JOB_TYPE[row[2]],
        status=_JOB_STATUS[row[3]],
        progress=row[4],
        message=row[5],
        error=row[6],
        input_video_id=row[7],
        output_video_id=row[8],
        created_at=as_utc(row[9]),
        updated_at=as_utc(row[10]),
        finished_at=as_utc_or_none(row[11]),
        cancel_reason=row[12],
    )


def _video_out(row: Sequence[Any], at: int) -> VideoOut | None:
    if row[at] is None:
        return None
    return VideoOut(
        row[at], _VIDEO_KIND[row[at + 1]], row[at + 2], row[at + 3], row[at + 4], as_utc(row[at + 5])
    )


class _Job(Protocol):
    @property
    def type(self) -> str: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def id(self) -> str: ...


def active_order(job: _Job) -> tuple[bool, datetime, str]:
    """Framing first, then oldest first: the order of a card's `active_exports`, and of a unit of
    work's active jobs."""
    return (job.type != JobType.FRAMING, job.created_at, job.id)


def card_of(rows: Sequence[Sequence[Any]]) -> ProjectOut:
    """The card of one project from its rows of a card statement (one per active job, at least one)."""
    first = rows[0]
    jobs = [job_out(row[_J:]) for row in rows if row[_J] is not None]
    if len(jobs) > 1:
        jobs.sort(key=active_order)
    types = {job.type for job in jobs}
    status = _STATUS[first[3]]
    facts = Facts(
        active_framing=JobType.FRAMING in types,
        active_overlay=JobType.OVERLAY in types,
        final_video=first[8] is not None,
        working_video=first[7] is not None,
        framed_clip=first[6] > 0,
    )
    return ProjectOut(
        id=first[0],
        name=first[1],
        status=status,
        status_label=LABELS[status],
        is_exporting=status in EXPORTING_CHILDREN,
        active_exports=jobs,
        allowed_actions=allowed_actions(status, facts),
        working_video=_video_out(first, _W),
        final_video=_video_out(first, _F),
        clip_count=first[5],
        framed_clip_count=first[6],
        version=first[4],
        created_at=as_utc(first[9]),
        updated_at=as_utc(first[10]),
    )


def _card_select(projects: FromClause) -> Select[Any]:
    working, final, job = VIDEO.alias("w"), VIDEO.alias("f"), JOB.alias("j")
    p = projects.c
    return select(
        *(p[name] for name in PROJECT_COLUMNS),
        *(working.c[name] for name in VIDEO_COLUMNS),
        *(final.c[name] for name in VIDEO_COLUMNS),
        *(job.c[name] for name in JOB_ANSWER_COLUMNS),
    ).select_from(
        projects.outerjoin(working, working.c.id == p.working_video_id)
        .outerjoin(final, final.c.id == p.final_video_id)
        .outerjoin(job, and_(job.c.project_id == p.id, job.c.status.in_(ACTIVE_LITERALS)))
    )


CARD = _card_select(PROJECT).where(PROJECT.c.id == bindparam("project_id"))


def _page(owner: bool, status: str | None, after: bool) -> Select[Any]:
    page = select(PROJECT)
    if owner:
        page = page.where(PROJECT.c.owner == bindparam("owner"))
    if status == EXPORTING:
        page = page.where(PROJECT.c.status.in_([s.value for s in EXPORTING_CHILDREN]))
    elif status is not None:
        page = page.where(PROJECT.c.status == bindparam("status"))
    if after:
        at = bindparam("after_at", type_=PROJECT.c.created_at.type)
        page = page.where(
            or_(
                PROJECT.c.created_at < at,
                and_(PROJECT.c.created_at == at, PROJECT.c.id < bindparam("after_id")),
            )
        )
    newest_first = (PROJECT.c.created_at.desc(), PROJECT.c.id.desc())
    subquery = page.order_by(*newest_first).limit(bindparam("limit")).subquery("p")
    return _card_select(subquery).order_by(subquery.c.created_at.desc(), subquery.c.id.desc())


_PAGES: dict[tuple[bool, str | None, bool], Select[Any]] = {}


def page_statement(*, owner: bool, status: str | None, after: bool) -> Select[Any]:
    """The page statement for this shape of query, built once per shape."""
    key = (owner, None if status is None else (EXPORTING if status == EXPORTING else "one"), after)
    if key not in _PAGES:
        _PAGES[key] = _page(*key)
    return _PAGES[key]


async def read_card(conn: AsyncConnection, project_id: str, owner: str | None) -> ProjectOut | None:
    """The project's card, or None where it does not exist or belongs to another client."""
    rows = (await conn.execute(CARD, {"project_id": project_id})).all()
    if not rows or not visible_to(rows[0][2], owner):
        return None
    return card_of(rows)


def cards_of(rows: Sequence[Sequence[Any]]) -> list[ProjectOut]:
    """Cards from the rows of a page statement, in the rows' order (a project's rows are adjacent)."""
    out: list[ProjectOut] = []
    start = 0
    for index in range(1, len(rows) + 1):
        if index == len(rows) or rows[index][0] != rows[start][0]:
            out.append(card_of(rows[start:index]))
            start = index
    return out


def card_of_project(project: ProjectRecord) -> ProjectOut:
    """The card of a project that has no active job and no video yet (one just created)."""
    row = tuple(getattr(project, name) for name in PROJECT_COLUMNS)
    return card_of([row + (None,) * (len(VIDEO_COLUMNS) * 2 + len(JOB_ANSWER_COLUMNS))])
