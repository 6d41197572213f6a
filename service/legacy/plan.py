"""A batch of legacy rows read as framestate would hold them: for each project its facts (clips, the
current videos its pointers name, its active jobs), the status those facts give, whether its legacy
status agrees, and its problems; and a line for each id that clips or jobs name but no project has.

A project's status is derived from the facts that can be read, problems or not: a pointer counts
as a video only where it names a row of this project, a clip is framed only where its `crop_data`
is a JSON object, a job of an unknown type is no fact, and of several active jobs of one type the
newest counts. A project with a problem is reported and never imported.
"""

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import msgspec

from fsm.facts import Facts, JobType, status_from_facts
from fsm.jobs import JobStatus
from fsm.status import Status
from service.legacy.mapping import Mapping
from service.legacy.source import RawBatch
from service.legacy.status_map import StatusMap, legacy_text
from service.store.tables import NAME_MAX, is_id

KEPT_ID_RULE = "framestate keeps ids of 1 to 32 letters, digits, '-' or '_'"
QUEUED = frozenset({"pending", "queued"})
"""Active legacy job statuses imported as `queued`; the other active ones are `running`."""
JOB_TYPES = {job_type.value: job_type for job_type in JobType}
OLDEST = datetime.min.replace(tzinfo=UTC)
_SEP = "\x1f"
_decode = msgspec.json.Decoder().decode
"""Strict JSON: `NaN` and `Infinity`, which no JSON column can hold, are not JSON."""
SAFE_INTEGERS = (-(10**31), 10**32)
"""Integers whose decimal text is a kept id as it is (1 to 32 characters)."""


@dataclass(slots=True)
class ClipFact:
    id: str
    crop_data: dict[str, Any] | None
    created_at: datetime | None
    crop_text: str | None = None
    """`crop_data` as the JSON text it was read as."""


@dataclass(slots=True)
class VideoFact:
    id: str
    version: int | None
    created_at: datetime | None


@dataclass(slots=True)
class JobFact:
    id: str
    type: JobType
    status: JobStatus
    progress: float
    created_at: datetime | None


@dataclass(slots=True)
class Planned:
    """One line of the report, and what an import would write of it."""

    id: str | None
    legacy_status: str | None
    status: Status | None
    agrees: bool
    problems: list[str]
    name: str = ""
    created_at: datetime | None = None
    clips: list[ClipFact] = field(default_factory=list)
    working: VideoFact | None = None
    final: VideoFact | None = None
    jobs: list[JobFact] = field(default_factory=list)
    """Its active jobs, at most one of each type."""
    ended_jobs: dict[str, str | None] = field(default_factory=dict)
    """Its finished jobs' legacy statuses by id: how a job that framestate still holds as active ended."""
    fingerprint: str = ""
    """Of the facts an import writes: a project imported earlier is synced when it changes."""
    exists: bool = True
    """False for an id that clips or jobs name but no project has."""

    @property
    def importable(self) -> bool:
        return self.exists and not self.problems


def kept_id(value: Any) -> str:
    """A legacy id as framestate keeps it: integers as decimal text, text as it is."""
    if type(value) is int or type(value) is str:
        return str(value)
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return str(int(value))
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "replace")
    return str(value)


def as_time(value: Any) -> datetime | None:
    """A legacy time as an aware datetime (naive ones are UTC); None for a value that is no time."""
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
        return moment.astimezone(UTC) if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(float(value), UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    return None


def _crop(raw: Any, clip: str, problems: list[str]) -> tuple[dict[str, Any] | None, str]:
    """The clip's crop data (an object, or None when it is not framed) and its text for the fingerprint."""
    if raw is None:
        return None, ""
    if isinstance(raw, dict):
        return raw, json.dumps(raw, sort_keys=True)
    if isinstance(raw, bytes | bytearray | memoryview):
        raw = bytes(raw).decode("utf-8", "replace")
    if not isinstance(raw, str):
        problems.append(f"clip {clip}: crop_data is JSON but not an object")
        return None, repr(raw)
    text = raw.strip()
    if not text:
        return None, ""
    try:
        value = _decode(text)
    except msgspec.DecodeError:
        problems.append(f"clip {clip}: crop_data is not JSON")
        return None, text
    if value is None:
        return None, ""
    if not isinstance(value, dict):
        problems.append(f"clip {clip}: crop_data is JSON but not an object")
        return None, text
    return value, text


def _progress(raw: Any, job: str, problems: list[str]) -> float:
    if raw is None:
        return 0.0
    try:
        value = float(raw)
    except (TypeError, ValueError):
        value = math.nan
    if math.isnan(value):
        problems.append(f"job {job}: progress {raw!r} is not a number")
        return 0.0
    return min(max(value, 0.0), 100.0)


def _sortable(value: Any) -> tuple[int, Any]:
    return (0, value) if isinstance(value, int | float | Decimal) else (1, str(value))


class Planner:
    """Reads batches with one mapping and one status map."""

    def __init__(self, mapping: Mapping, statuses: StatusMap) -> None:
        self.active = mapping.active
        self.statuses = statuses

    def plan(self, batch: RawBatch) -> list[Planned]:
        raw_ids = {row[0] for row in batch.projects}
        clips = _by_project(batch.clips, raw_ids)
        jobs = _by_project(batch.jobs, raw_ids)
        videos = {kept_id(row[0]): row for row in batch.videos}
        planned = [
            self._project(row, clips.pop(row[0], ()), jobs.pop(row[0], ()), videos) for row in batch.projects
        ]
        for missing in sorted({*clips, *jobs}, key=lambda k: (k is None, "" if k is None else str(k))):
            planned.append(_missing(missing, len(clips.get(missing, ())), len(jobs.get(missing, ()))))
        return planned

    def _project(
        self,
        row: Sequence[Any],
        clip_rows: Sequence[Sequence[Any]],
        job_rows: Sequence[Sequence[Any]],
        videos: dict[str, Sequence[Any]],
    ) -> Planned:
        problems: list[str] = []
        project_id = _checked_id(row[0], "id", problems)
        legacy = legacy_text(row[1])
        name = _name(row[4], project_id, problems)
        clips = []
        parts = [name]
        framed = False
        for clip in clip_rows:
            clip_id = _checked_id(clip[0], "clip id", problems)
            crop, text = (None, "") if clip[2] is None else _crop(clip[2], clip_id, problems)
            framed = framed or crop is not None
            at = None if clip[3] is None else _time(clip[3], f"clip {clip_id}: created_at", problems)
            clips.append(ClipFact(clip_id, crop, at, None if crop is None else text))
            parts.append(f"{clip_id}={text}")
        working = None if row[2] is None else _video(row[2], "working_video_id", project_id, videos, problems)
        final = None if row[3] is None else _video(row[3], "final_video_id", project_id, videos, problems)
        if working is not None and final is not None and working.id == final.id:
            problems.append("working_video_id and final_video_id name the same video")
        parts.append(f"{working.id}:{working.version}" if working else "-")
        parts.append(f"{final.id}:{final.version}" if final else "-")
        active, ended = self._jobs(job_rows, problems) if job_rows else ([], {})
        types = {job.type for job in active}
        parts.extend(f"{j.id}:{j.type}:{j.status}:{j.progress!r}" for j in active)
        status = status_from_facts(
            Facts(
                active_framing=JobType.FRAMING in types,
                active_overlay=JobType.OVERLAY in types,
                final_video=final is not None,
                working_video=working is not None,
                framed_clip=framed,
            )
        )
        return Planned(
            id=project_id,
            legacy_status=legacy,
            status=status,
            agrees=self.statuses.status_of(legacy) is status,
            problems=problems,
            name=name,
            created_at=None if row[5] is None else _time(row[5], "created_at", problems),
            clips=clips,
            working=working,
            final=final,
            jobs=active,
            ended_jobs=ended,
            fingerprint=hashlib.blake2b(_SEP.join(parts).encode(), digest_size=16).hexdigest(),
        )

    def _jobs(
        self, rows: Sequence[Sequence[Any]], problems: list[str]
    ) -> tuple[list[JobFact], dict[str, str | None]]:
        by_type: dict[JobType, list[tuple[tuple[datetime, tuple[int, Any]], JobFact]]] = {}
        ended: dict[str, str | None] = {}
        for row in rows:
            job_id = kept_id(row[0])
            job_type = JOB_TYPES.get(row[2]) or JOB_TYPES.get(str(row[2]).strip().lower())
            if job_type is None:
                problems.append(f"job {job_id}: type {row[2]!r} is neither framing nor overlay")
                continue
            status = legacy_text(row[3])
            normal = status if status in self.active else (status or "").strip().lower()
            if normal not in self.active:
                ended[job_id] = status
                continue
            _checked_id(row[0], "job id", problems)
            created = None if row[4] is None else _time(row[4], f"job {job_id}: created_at", problems)
            fact = JobFact(
                id=job_id,
                type=job_type,
                status=JobStatus.QUEUED if normal in QUEUED else JobStatus.RUNNING,
                progress=_progress(row[5], job_id, problems),
                created_at=created,
            )
            by_type.setdefault(job_type, []).append(((created or OLDEST, _sortable(row[0])), fact))
        active = []
        for job_type, found in sorted(by_type.items()):
            candidates = sorted(found, key=lambda pair: pair[0]) if len(found) > 1 else found
            newest = candidates[-1][1]
            active.append(newest)
            if len(candidates) > 1:
                others = ", ".join(fact.id for _, fact in candidates[:-1])
                problems.append(
                    f"more than one active {job_type.value} job: {newest.id} (the newest) and {others}"
                )
        return active, ended


def _by_project(rows: Sequence[Sequence[Any]], raw_ids: set[Any]) -> dict[Any, list[Sequence[Any]]]:
    """Rows by the raw id of their project; a row whose project id is stored otherwise than the
    project's own (`"42"` for 42) goes with the project all the same, and one of no project of the
    batch is filed under its kept id (or None)."""
    grouped: dict[Any, list[Sequence[Any]]] = {}
    for row in rows:
        grouped.setdefault(row[1], []).append(row)
    strays = grouped.keys() - raw_ids
    if strays:
        kept = {kept_id(raw): raw for raw in raw_ids}
        for key in strays:
            named = None if key is None else kept_id(key)
            target = kept.get(named, named) if named is not None else None
            if target != key:
                grouped.setdefault(target, []).extend(grouped.pop(key))
    return grouped


def _checked_id(raw: Any, what: str, problems: list[str]) -> str:
    if type(raw) is int and SAFE_INTEGERS[0] < raw < SAFE_INTEGERS[1]:
        return str(raw)
    kept = kept_id(raw)
    if not is_id(kept):
        problems.append(f"{what} {raw!r} cannot be kept: {KEPT_ID_RULE}")
    return kept


def _time(raw: Any, what: str, problems: list[str]) -> datetime | None:
    if raw is None:
        return None
    moment = as_time(raw)
    if moment is None:
        problems.append(f"{what} {raw!r} is not a time")
    return moment


def _name(raw: Any, project_id: str, problems: list[str]) -> str:
    name = "" if raw is None else legacy_text(raw) or ""
    if not name.strip():
        return f"Project {project_id}"
    if len(name) > NAME_MAX:
        problems.append(f"name is longer than {NAME_MAX} characters")
    if "\x00" in name:
        problems.append("name holds a NUL character")
    return name


def _video(
    pointer: Any, what: str, project_id: str, videos: dict[str, Sequence[Any]], problems: list[str]
) -> VideoFact | None:
    video_id = kept_id(pointer)
    row = videos.get(video_id)
    if row is None:
        problems.append(f"{what} {video_id} names no video")
        return None
    owner = None if row[1] is None else kept_id(row[1])
    if owner != project_id:
        problems.append(f"{what} {video_id} names a video of project {owner}")
        return None
    _checked_id(row[0], "video id", problems)
    version = row[2] if type(row[2]) is int else _whole(row[2])
    if row[2] is None:
        problems.append(f"video {video_id} has no version")
    elif version is None:
        problems.append(f"video {video_id}: version {row[2]!r} is not a whole number")
    created = None if row[3] is None else _time(row[3], f"video {video_id}: created_at", problems)
    return VideoFact(video_id, version, created)


def _whole(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, Decimal | float) and value == value // 1:
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def _missing(project_id: str | None, clips: int, jobs: int) -> Planned:
    named = [
        f"{count} {what} of a project that does not exist"
        for count, what in (
            (clips, "clips" if clips != 1 else "clip"),
            (jobs, "jobs" if jobs != 1 else "job"),
        )
        if count
    ]
    return Planned(id=project_id, legacy_status=None, status=None, agrees=False, problems=named, exists=False)
