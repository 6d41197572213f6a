"""A typed client of framestate for export workers (and for `framestate simulate-export`).

A worker starts or adopts a job, reports progress, and ends it with `succeed` or `fail`. When the
service answers 409 `job_not_active`, the job was finished without the worker (cancelled by a user,
superseded by a newer framing export, or failed for silence): the worker should stop rendering and
drop its output; repeating the call will not change the answer.
"""

from types import TracebackType
from typing import Any, Self

import httpx
import msgspec

from fsm.facts import JobType
from service.schemas import ExportJobOut


class FramestateError(Exception):
    """A problem answer from the service: its status, `code`, `detail` and the whole body."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status = status
        self.code: str = body.get("code", "unknown")
        self.detail: str = body.get("detail", "")
        self.body = body
        super().__init__(f"{status} {self.code}: {self.detail}")


class JobNotActiveError(FramestateError):
    """The job is finished; `job_status` says how."""

    @property
    def job_status(self) -> str:
        return str(self.body.get("job_status", ""))


class ExportAlreadyActiveError(FramestateError):
    """An export of that type already runs; `job_id` names it."""

    @property
    def job_id(self) -> str:
        return str(self.body.get("job_id", ""))


_ERRORS: dict[str, type[FramestateError]] = {
    "job_not_active": JobNotActiveError,
    "export_already_active": ExportAlreadyActiveError,
}


class WorkerClient:
    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.AsyncClient(
            base_url=base_url, headers=headers, timeout=timeout, transport=transport
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.aclose()

    async def _job(self, method: str, path: str, **kwargs: Any) -> ExportJobOut:
        response = await self._http.request(method, path, **kwargs)
        if response.is_success:
            return msgspec.json.decode(response.content, type=ExportJobOut)
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            body = {"detail": response.text[:200]}
        raise _ERRORS.get(body.get("code", ""), FramestateError)(response.status_code, body)

    async def start_export(
        self, project_id: str, job_type: JobType, *, idempotency_key: str | None = None
    ) -> ExportJobOut:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        body = {"type": job_type.value}
        return await self._job("POST", f"/v1/projects/{project_id}/exports", json=body, headers=headers)

    async def job(self, job_id: str) -> ExportJobOut:
        return await self._job("GET", f"/v1/exports/{job_id}")

    async def progress(self, job_id: str, progress: float, message: str | None = None) -> ExportJobOut:
        return await self._job(
            "POST", f"/v1/exports/{job_id}/progress", json={"progress": progress, "message": message}
        )

    async def succeed(self, job_id: str, output_uri: str | None = None) -> ExportJobOut:
        return await self._job("POST", f"/v1/exports/{job_id}/succeed", json={"output_uri": output_uri})

    async def fail(self, job_id: str, error: str) -> ExportJobOut:
        return await self._job("POST", f"/v1/exports/{job_id}/fail", json={"error": error})

    async def cancel(self, job_id: str, *, reason: str | None = None) -> ExportJobOut:
        """Cancel a job (a client's call, not a worker's), with a reason of 1 to 500 characters."""
        body = {"reason": reason} if reason else None
        return await self._job("POST", f"/v1/exports/{job_id}/cancel", json=body)
