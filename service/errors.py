"""One domain error carrying a code, and the problem JSON (RFC 9457) every error is answered with.

The handlers that turn an error into that answer are HTTP's (`service.http.problems`): this module
knows nothing of the framework, so storage and the domain may raise without importing it."""

from typing import Any, NotRequired, TypedDict

from fsm.facts import Action
from fsm.jobs import JobStatus
from fsm.status import Status


class ValidationErrorItem(TypedDict):
    message: str
    key: str
    source: str


class Problem(TypedDict):
    """An error, as RFC 9457 problem JSON: the one shape of every error answer, and the schema the
    OpenAPI document shows. The optional fields are added by the codes that name them (see each
    response's description); `request_id` by every answer to a request that has one."""

    type: str
    status: int
    title: str
    detail: str
    code: str
    errors: NotRequired[list[ValidationErrorItem]]
    project_status: NotRequired[Status]
    allowed_actions: NotRequired[list[Action]]
    job_id: NotRequired[str]
    job_status: NotRequired[JobStatus]
    current_version: NotRequired[int]
    limit: NotRequired[int]
    request_id: NotRequired[str]


PROBLEM_JSON = "application/problem+json"


class StatusDisagreement(Exception):
    """The machine's destination for an accepted move is not `status_from_facts` of the facts the
    write leaves (the project row and the jobs as it is about to store them): the transition table
    and the write's own effects disagree, which is a bug. The write is refused (nothing is stored)
    and answered as an internal error; the metric and the log line say which."""


class DomainError(Exception):
    """A refused request: its HTTP status, machine-readable code, and anything the body adds."""

    status: int = 400
    code: str = "validation_error"
    title: str = "Invalid request"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class ValidationFailed(DomainError):
    pass


class NotFound(DomainError):
    status, code, title = 404, "not_found", "Not found"

    @classmethod
    def project(cls, project_id: str) -> "NotFound":
        """A project that does not exist or that the caller may not see: the two are one answer."""
        return cls(f"No project with id {project_id!r}.")

    @classmethod
    def export_job(cls, job_id: str) -> "NotFound":
        return cls(f"No export job with id {job_id!r}.")


class TransitionNotAllowed(DomainError):
    status, code, title = 409, "transition_not_allowed", "Action not allowed now"


class ExportAlreadyActive(DomainError):
    status, code, title = 409, "export_already_active", "Export already active"


class JobNotActive(DomainError):
    status, code, title = 409, "job_not_active", "Job is not active"


class ProjectBusy(DomainError):
    status, code, title = 409, "project_busy", "Project is busy"


class IdempotencyKeyReused(DomainError):
    status, code, title = 409, "idempotency_key_reused", "Idempotency key reused"


class LimitReached(DomainError):
    """One more would pass a bound of `service/limits.py`; the body's `limit` says which number."""

    status, code, title = 409, "limit_reached", "Limit reached"


class PreconditionFailed(DomainError):
    status, code, title = 412, "precondition_failed", "Precondition failed"


class DatabaseUnavailable(DomainError):
    status, code, title = 503, "database_unavailable", "Database unavailable"


class CommitOutcomeUnknown(DatabaseUnavailable):
    """The connection broke during COMMIT: the write may or may not be stored."""


class NotReady(DomainError):
    status, code, title = 503, "not_ready", "Not ready"


class TooContended(DomainError):
    """Every retry of a write lost its race; the client may simply try again."""

    status, code, title = 503, "too_contended", "Project too busy, try again"


HTTP_CODES: dict[int, tuple[str, str]] = {
    400: ("validation_error", "Invalid request"),
    401: ("unauthorized", "Authentication required"),
    403: ("forbidden", "Not allowed"),
    404: ("not_found", "Not found"),
    405: ("method_not_allowed", "Method not allowed"),
    413: ("payload_too_large", "Payload too large"),
}


def problem_codes() -> dict[str, int]:
    """Every problem code the service answers, with its HTTP status."""
    codes = {code: status for status, (code, _) in HTTP_CODES.items()}
    pending: list[type[DomainError]] = [DomainError]
    while pending:
        error = pending.pop()
        codes[error.code] = error.status
        pending.extend(error.__subclasses__())
    return codes
