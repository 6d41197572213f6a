"""The six statuses a project can show, and the label a card prints for each."""

from enum import StrEnum


class Status(StrEnum):
    NOT_STARTED = "not_started"
    IN_PROGRESS = "in_progress"
    FRAMED = "framed"
    EXPORTING_FRAMING = "exporting_framing"
    EXPORTING_OVERLAY = "exporting_overlay"
    COMPLETE = "complete"


EXPORTING = "exporting"
"""The composite state holding the two export statuses."""

EXPORTING_CHILDREN: tuple[Status, ...] = (Status.EXPORTING_FRAMING, Status.EXPORTING_OVERLAY)

LABELS: dict[Status, str] = {
    Status.NOT_STARTED: "Not Started",
    Status.IN_PROGRESS: "In Progress",
    Status.FRAMED: "Framed",
    Status.EXPORTING_FRAMING: "Framing…",
    Status.EXPORTING_OVERLAY: "Overlay…",
    Status.COMPLETE: "Complete",
}
