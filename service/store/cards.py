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

from fsm.facts import JobType
from fsm.machine import allowed_actions
from fsm.status import EXPORTING, EXPORTING_CHILDREN, LABELS
from service.schemas import (
    JOB_ANSWER_COLUMNS,
    STATUSES,
    VIDEO_COLUMNS,
    ProjectOut,
    as_utc,
    job_answer,
    video_answer,
)
from service.store.owners import visible_to
from service.store.records import (
    ACTIVE_LITERALS,
    JOB,
    PROJECT,
    PROJECT_COLUMNS,
    VIDEO,
    ProjectRecord,
    project_facts,
)

_W = len(PROJECT_COLUMNS)
_F = _W + len(VIDEO_COLUMNS)
_J = _F + len(VIDEO_COLUMNS)


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
    jobs = [job_answer(row[_J:]) for row in rows if row[_J] is not None]
    if len(jobs) > 1:
        jobs.sort(key=active_order)
    types = {job.type for job in jobs}
    status = STATUSES[first[3]]
    facts = project_facts(
        framed_clips=first[6], working_video_id=first[7], final_video_id=first[8], active_types=types
    )
    return ProjectOut(
        id=first[0],
        name=first[1],
        status=status,
        status_label=LABELS[status],
        is_exporting=status in EXPORTING_CHILDREN,
        active_exports=jobs,
        allowed_actions=allowed_actions(status, facts),
        working_video=video_answer(first, _W),
        final_video=video_answer(first, _F),
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
