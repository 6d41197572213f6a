"""The statements of a unit of work, built once: the load of a project's facts, the compare-and-set
of its row (on PostgreSQL with the update of the one job a report changes in the same statement),
and the writes of its jobs and history."""

import functools

from sqlalchemy import Executable, Update, and_, bindparam, delete, exists, insert, or_, select, update

from service.store.records import ACTIVE_LITERALS, HISTORY, JOB, JOB_COLUMNS, PROJECT, PROJECT_COLUMNS
from service.webhooks.tables import ANY_ENDPOINT, ANY_PROGRESS_SUBSCRIPTION

PROJECT_CHANGES = (
    "status",
    "version",
    "updated_at",
    "clip_count",
    "framed_clip_count",
    "working_video_id",
    "final_video_id",
)
"""The project row's columns a write sets."""


def _load_statement(by_job: bool) -> Executable:
    """The project and its active jobs; by job, also the job itself whatever its status. The last
    two columns say whether any webhook endpoint exists (the outbox has nothing to do otherwise),
    and whether any asked for `export.progress`."""
    jobs = JOB.alias("j")
    columns = (
        *(PROJECT.c[name] for name in PROJECT_COLUMNS),
        *(jobs.c[name] for name in JOB_COLUMNS),
        ANY_ENDPOINT,
        ANY_PROGRESS_SUBSCRIPTION,
    )
    wanted = jobs.c.status.in_(ACTIVE_LITERALS)
    if not by_job:
        joined = PROJECT.outerjoin(jobs, and_(jobs.c.project_id == PROJECT.c.id, wanted))
        return select(*columns).select_from(joined).where(PROJECT.c.id == bindparam("project_id"))
    target = JOB.alias("t")
    joined = target.join(PROJECT, PROJECT.c.id == target.c.project_id).outerjoin(
        jobs, and_(jobs.c.project_id == PROJECT.c.id, or_(wanted, jobs.c.id == target.c.id))
    )
    return select(*columns).select_from(joined).where(target.c.id == bindparam("job_id"))


LOAD_BY_PROJECT = _load_statement(by_job=False)
LOAD_BY_JOB = _load_statement(by_job=True)
COMPARE_AND_SET = update(PROJECT).where(
    PROJECT.c.id == bindparam("project_id"), PROJECT.c.version == bindparam("read_version")
)
DELETE_PROJECT = delete(PROJECT).where(
    PROJECT.c.id == bindparam("project_id"), PROJECT.c.version == bindparam("read_version")
)
UPDATE_JOB = update(JOB).where(JOB.c.id == bindparam("job_id"))
INSERT_JOB = insert(JOB)
INSERT_HISTORY = insert(HISTORY)


@functools.cache
def with_job_update(columns: tuple[str, ...]) -> Update:
    """The compare-and-set as a CTE, and the update of `columns` of one job that runs
    only when the compare-and-set changed its row: one round trip, and one atomic statement, for
    both on PostgreSQL. Its row count is the job's. Every value is bound by a prefixed name
    (`cas_`, `project_`, `job_`): SQLAlchemy would read a parameter named like a column of either
    table as a value to set."""
    compare_and_set = (
        update(PROJECT)
        .where(
            PROJECT.c.id == bindparam("cas_project_id"),
            PROJECT.c.version == bindparam("cas_read_version"),
        )
        .values({PROJECT.c[name]: bindparam(f"project_{name}") for name in PROJECT_CHANGES})
        .returning(PROJECT.c.id)
        .cte("compare_and_set")
    )
    return (
        update(JOB)
        .where(JOB.c.id == bindparam("job_id"), exists(compare_and_set.select()))
        .values({JOB.c[name]: bindparam(f"job_{name}") for name in columns})
    )
