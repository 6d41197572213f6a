"""Export jobs' own vocabulary: the statuses a job goes through, which of them are active (an
active job is one of the facts), and the kind of video a finished job produces."""

from enum import StrEnum

from fsm.facts import JobType


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SUPERSEDED = "superseded"


ACTIVE_JOB_STATUSES: tuple[JobStatus, ...] = (JobStatus.QUEUED, JobStatus.RUNNING)


class VideoKind(StrEnum):
    WORKING = "working"
    FINAL = "final"


VIDEO_KIND_OF: dict[JobType, VideoKind] = {
    JobType.FRAMING: VideoKind.WORKING,
    JobType.OVERLAY: VideoKind.FINAL,
}
