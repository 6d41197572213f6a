"""Connection faults: PostgreSQL dropped a connection, restarted, or does not answer.

One function says what counts as one (`is_connection_fault`). A request that met one before its
transaction reached COMMIT committed nothing, so it is run again on a fresh connection
(SQLAlchemy invalidates the pool's stale connections when it sees a broken one); a write whose
connection broke during COMMIT may or may not have committed, so it is never run again:
`Database.writing` turns that fault into `CommitOutcomeUnknown`. Either way the last answer is 503
with `Retry-After`, never a 500.

Litestar turns a handler's exception into a response before any middleware sees it, so the error
handler marks the request (`mark_connection_fault`) as it answers 503, and the request observer
(service/requests.py, the one wrapper around every request) drops that answer and runs the request
again while it has attempts left.
"""

import logging
from typing import Any

import asyncpg
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

ATTEMPTS = 3
BACKOFF_S = 0.1
CONNECTION_SQLSTATES = ("57P01", "57P02", "57P03", "53300")
"""With class 08 (connection exception): the states in which the session is gone or was never had:
admin shutdown, crash shutdown, cannot connect now, too many connections."""
FAULT_KEY = "framestate.connection_fault"
log = logging.getLogger("framestate")


def is_connection_fault(exc: BaseException) -> bool:
    """True when `exc` (or what caused it) says the database connection broke or could not be had,
    as opposed to a refusal of the statement itself."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(current, OSError | asyncpg.ConnectionDoesNotExistError | asyncpg.InternalClientError):
            return True  # refused, reset, timed out; closed under a query; its protocol left mid-operation
        if isinstance(current, asyncpg.InterfaceError) and "connection is closed" in str(current):
            return True
        state = getattr(current, "sqlstate", None)
        if isinstance(state, str) and (state.startswith("08") or state in CONNECTION_SQLSTATES):
            return True
        current = getattr(current, "orig", None) or current.__cause__ or current.__context__
    return False


def is_retryable(exc: DBAPIError) -> bool:
    """Lock waits and conflicts that a fresh attempt resolves: SQLite's busy database, PostgreSQL's
    deadlock and serialization failures."""
    code = getattr(exc.orig, "sqlstate", None) or getattr(
        getattr(exc.orig, "__cause__", None), "sqlstate", None
    )
    return code in ("40001", "40P01") or "database is locked" in str(exc.orig)


def is_pool_exhausted(exc: BaseException) -> bool:
    """No connection of the pool was free in time: running the request again would only wait as
    long once more, so it is answered 503 at once."""
    return isinstance(exc, PoolTimeout)


def log_failure(logger: logging.Logger, message: str, exc: BaseException) -> None:
    """Log a background task's failure: a database that is away or full in one line (it is
    expected, and says all there is to say), anything else with its traceback (it is a bug)."""
    if is_connection_fault(exc) or is_pool_exhausted(exc):
        logger.warning("%s: the database is unavailable (%s)", message, type(exc).__name__)
    else:
        logger.error(message, exc_info=exc)


def mark_connection_fault(scope: Any) -> None:
    """Called by the error handler that answers a connection fault: the request may be run again."""
    scope.setdefault("state", {})[FAULT_KEY] = True


def should_retry(scope: Any) -> bool:
    """Whether the answer about to start is a connection fault's, to be dropped and run again (the
    flag is taken: each attempt is asked once)."""
    return bool(scope.get("state", {}).pop(FAULT_KEY, False))
