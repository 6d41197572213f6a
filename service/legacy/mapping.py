"""The legacy schema the import reads: by default the old app's own table and column names, and the
`--mapping` TOML file that names others (a section per table, `table = "..."` and a key per column,
and `[export_jobs] active = [...]` for more job statuses that count as active)."""

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from service.legacy.errors import CannotRun

DEFAULT_ACTIVE_JOB_STATUSES = ("pending", "queued", "running", "processing", "started")
"""Legacy job statuses that make a job active (compared without regard to case)."""


@dataclass(frozen=True, slots=True)
class TableSpec:
    section: str
    required: tuple[str, ...]
    optional: tuple[str, ...]
    """Columns read when the table has them."""

    @property
    def keys(self) -> tuple[str, ...]:
        return (*self.required, *self.optional)


PROJECTS = TableSpec(
    "projects", ("id", "status", "working_video_id", "final_video_id"), ("name", "created_at")
)
CLIPS = TableSpec("clips", ("id", "project_id", "crop_data"), ("created_at",))
VIDEOS = TableSpec("working_videos", ("id", "project_id", "version"), ("created_at",))
JOBS = TableSpec("export_jobs", ("id", "project_id", "type", "status"), ("created_at", "progress"))
SPECS = (PROJECTS, CLIPS, VIDEOS, JOBS)


@dataclass(frozen=True, slots=True)
class TableMap:
    """One legacy table: its name (`schema.table` names a schema too) and the legacy column of each
    of the import's keys."""

    spec: TableSpec
    table: str
    columns: dict[str, str]
    named: frozenset[str]
    """Keys the mapping file named: their columns must exist, optional or not."""

    def must_exist(self, key: str) -> bool:
        return key in self.spec.required or key in self.named


@dataclass(frozen=True, slots=True)
class Mapping:
    projects: TableMap
    clips: TableMap
    videos: TableMap
    jobs: TableMap
    active: frozenset[str]
    """Lower-case legacy job statuses that make a job active."""

    @property
    def tables(self) -> tuple[TableMap, ...]:
        return (self.projects, self.clips, self.videos, self.jobs)


def read_toml(path: Path, option: str) -> dict[str, Any]:
    try:
        with path.open("rb") as file:
            return tomllib.load(file)
    except OSError as exc:
        raise CannotRun(f"{option} {path}: cannot be read ({exc.strerror or exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise CannotRun(f"{option} {path}: not a TOML file ({exc})") from None
    except UnicodeDecodeError:
        raise CannotRun(f"{option} {path}: not a TOML file (it is not UTF-8 text)") from None


def _name(value: Any, where: str, path: Path) -> str:
    if not isinstance(value, str) or not value.strip():
        raise CannotRun(f"--mapping {path}: {where} must be a name (non-empty text), not {value!r}")
    return value


def _table_map(spec: TableSpec, section: dict[str, Any], path: Path) -> TableMap:
    columns = {key: key for key in spec.keys}
    table = spec.section
    named: set[str] = set()
    for key, value in section.items():
        if spec is JOBS and key == "active":
            continue
        if key == "table":
            table = _name(value, f"[{spec.section}] table", path)
        elif key in columns:
            columns[key] = _name(value, f"[{spec.section}] {key}", path)
            named.add(key)
        else:
            known = ", ".join(("table", *spec.keys, *(("active",) if spec is JOBS else ())))
            raise CannotRun(f"--mapping {path}: [{spec.section}] has no key {key!r} (its keys: {known})")
    return TableMap(spec, table, columns, frozenset(named))


def _active(section: dict[str, Any], path: Path) -> frozenset[str]:
    extra = section.get("active", [])
    if not isinstance(extra, list) or not all(isinstance(item, str) and item.strip() for item in extra):
        raise CannotRun(f"--mapping {path}: [export_jobs] active must be a list of job statuses (text)")
    return frozenset(status.strip().lower() for status in (*DEFAULT_ACTIVE_JOB_STATUSES, *extra))


def load_mapping(path: Path | None) -> Mapping:
    """The default schema, with what the file at `path` names instead."""
    document = read_toml(path, "--mapping") if path is not None else {}
    sections = {spec.section: spec for spec in SPECS}
    for name, section in document.items():
        if name not in sections:
            raise CannotRun(
                f"--mapping {path}: unknown section [{name}] (the sections: {', '.join(sections)})"
            )
        if not isinstance(section, dict):
            raise CannotRun(f"--mapping {path}: {name} must be a section ([{name}]), not a value")
    found = {name: document.get(name, {}) for name in sections}
    given = path or Path()
    return Mapping(
        projects=_table_map(PROJECTS, found["projects"], given),
        clips=_table_map(CLIPS, found["clips"], given),
        videos=_table_map(VIDEOS, found["working_videos"], given),
        jobs=_table_map(JOBS, found["export_jobs"], given),
        active=_active(found["export_jobs"], given),
    )
