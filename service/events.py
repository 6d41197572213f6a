"""Where every committed change of a project is announced.

The unit of work calls `Events.project_changed` or `Events.project_deleted` once, after its
transaction commits and never for a refused request. This class only counts; the event streams
subscribe here.
"""

from dataclasses import dataclass, field


@dataclass(slots=True)
class Events:
    published: int = field(default=0)

    async def project_changed(self, project_id: str, version: int) -> None:
        self.published += 1

    async def project_deleted(self, project_id: str) -> None:
        self.published += 1
