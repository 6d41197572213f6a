"""The baseline's SQL, written by hand, and the few constants its answers share with framestate's."""

from sqlalchemy import DateTime, bindparam, text
from sqlalchemy.sql.elements import TextClause

ACTIVE = "('queued', 'running')"
LABELS = {
    "not_started": "Not Started",
    "in_progress": "In Progress",
    "framed": "Framed",
    "exporting_framing": "Framing…",
    "exporting_overlay": "Overlay…",
    "complete": "Complete",
}
EXPORTING = ("exporting_framing", "exporting_overlay")
OPENING = b"retry: 1000\n: baseline events\n\n"
SUBSCRIBER_BUFFER = 1000

P_COLS = (
    "p.id, p.name, p.status, p.version, p.clip_count, p.framed_clip_count, "
    "p.working_video_id, p.final_video_id, p.created_at, p.updated_at"
)
J_NAMES = (
    "id, project_id, type, status, progress, message, error, input_video_id, output_video_id, "
    "created_at, updated_at, finished_at"
)
J_COLS = ", ".join(f"j.{name}" for name in J_NAMES.split(", "))
JOB_ORDER = "CASE WHEN j.type = 'framing' THEN 0 ELSE 1 END, j.created_at, j.id"


def _v_cols(alias: str) -> str:
    return ", ".join(f"{alias}.{name}" for name in ("id", "kind", "version", "uri", "job_id", "created_at"))


def _timed(sql: str, *names: str) -> TextClause:
    """A statement whose named parameters are timestamps (stored as SQLite's text, or timestamptz)."""
    return text(sql).bindparams(*(bindparam(name, type_=DateTime(timezone=True)) for name in names))


CARD_SQL = text(
    f"SELECT {P_COLS}, {_v_cols('w')}, {_v_cols('f')}, {J_COLS} FROM project p "
    "LEFT JOIN video w ON w.id = p.working_video_id "
    "LEFT JOIN video f ON f.id = p.final_video_id "
    f"LEFT JOIN export_job j ON j.project_id = p.id AND j.status IN {ACTIVE} "
    f"WHERE p.id = :id ORDER BY {JOB_ORDER}"
)


def _page_sql(where: str) -> str:
    """The page of projects in a subquery, joined like a card: one statement for the whole page."""
    return (
        f"SELECT {P_COLS}, {_v_cols('w')}, {_v_cols('f')}, {J_COLS} FROM "
        f"(SELECT * FROM project p {where} ORDER BY p.created_at DESC, p.id DESC LIMIT :limit) p "
        "LEFT JOIN video w ON w.id = p.working_video_id "
        "LEFT JOIN video f ON f.id = p.final_video_id "
        f"LEFT JOIN export_job j ON j.project_id = p.id AND j.status IN {ACTIVE} "
        f"ORDER BY p.created_at DESC, p.id DESC, {JOB_ORDER}"
    )


PAGE_SQL = text(_page_sql(""))
PAGE_AFTER_SQL = _timed(
    _page_sql("WHERE p.created_at < :at OR (p.created_at = :at AND p.id < :after_id)"), "at"
)
START_SQL = {
    "framing": _timed(
        "UPDATE project SET status = 'exporting_framing', version = version + 1, updated_at = :now "
        "WHERE id = :id AND framed_clip_count > 0 AND status <> 'exporting_framing' "
        "RETURNING working_video_id",
        "now",
    ),
    "overlay": _timed(
        "UPDATE project SET status = CASE WHEN status = 'exporting_framing' THEN status "
        "ELSE 'exporting_overlay' END, version = version + 1, updated_at = :now "
        "WHERE id = :id AND working_video_id IS NOT NULL AND status <> 'exporting_overlay' "
        "RETURNING working_video_id",
        "now",
    ),
}
INSERT_JOB_SQL = _timed(
    "INSERT INTO export_job (id, project_id, type, status, progress, input_video_id, "
    "created_at, updated_at, reported_at) "
    "VALUES (:id, :project_id, :type, 'queued', 0, :input_video_id, :now, :now, :now)",
    "now",
)
SUCCEED_JOB_SQL = _timed(
    "UPDATE export_job SET status = 'succeeded', progress = 100, output_video_id = :video_id, "
    f"updated_at = :now, finished_at = :now WHERE id = :id AND status IN {ACTIVE} RETURNING {J_NAMES}",
    "now",
)
NEXT_VIDEO_VERSION_SQL = text(
    "SELECT COALESCE(MAX(version), 0) + 1 FROM video WHERE project_id = :project_id AND kind = :kind"
)
INSERT_VIDEO_SQL = _timed(
    "INSERT INTO video (id, project_id, kind, version, uri, job_id, created_at) "
    "VALUES (:id, :project_id, :kind, :version, :uri, :job_id, :now)",
    "now",
)
SUCCEED_PROJECT_SQL = {
    "framing": _timed(
        "UPDATE project SET working_video_id = :video_id, final_video_id = NULL, status = 'framed', "
        "version = version + 1, updated_at = :now WHERE id = :id",
        "now",
    ),
    "overlay": _timed(
        "UPDATE project SET final_video_id = :video_id, status = 'complete', "
        "version = version + 1, updated_at = :now WHERE id = :id",
        "now",
    ),
}


def progress_sql(sqlite: bool) -> TextClause:
    higher = "max" if sqlite else "GREATEST"
    return _timed(
        f"UPDATE export_job SET status = 'running', progress = {higher}(progress, :progress), "
        "message = COALESCE(:message, message), updated_at = :now, reported_at = :now "
        f"WHERE id = :id AND status IN {ACTIVE} RETURNING {J_NAMES}",
        "now",
    )
