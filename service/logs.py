"""Log lines: text for people, or one JSON object per line; each carries the id of the request that
caused it (`REQUEST_ID`, set by `service.http.observer`)."""

import logging
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import msgspec

from service.settings import Settings

REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)
ACCESS_LOGGER = "framestate.access"
ACCESS_FIELDS = ("method", "route", "status", "duration_ms")
TEXT_FORMAT = "%(levelname)s %(name)s%(request_tag)s: %(message)s"


class RequestIdFilter(logging.Filter):
    """Stamps every record with the current request's id (None outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        request_id = record.__dict__.setdefault("request_id", REQUEST_ID.get())
        record.__dict__["request_tag"] = f" [{request_id}]" if request_id else ""
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id, pid, and the access
    fields (method, route, status, duration_ms) on access lines."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
            "pid": record.process,
        }
        for name in ACCESS_FIELDS:
            if (value := getattr(record, name, None)) is not None:
                line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return msgspec.json.encode(line, enc_hook=str).decode()


REPEAT_WINDOW_S = 1.0
REPEAT_KEYS_MAX = 1000


class RepeatFilter(logging.Filter):
    """A warning or error logged again and again (the same message template from the same logger,
    as under a flood of connections or a database that turns them away) is written once a second:
    the first of each second passes, the others are counted, and the next that passes says how many
    were left out. Below WARNING every record passes."""

    def __init__(self) -> None:
        super().__init__()
        self._seen: dict[tuple[str, int, str], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        key = (record.name, record.levelno, str(record.msg))
        now = record.created
        since, left_out = self._seen.get(key, (0.0, 0))
        if now - since < REPEAT_WINDOW_S:
            self._seen[key] = (since, left_out + 1)
            return False
        if len(self._seen) >= REPEAT_KEYS_MAX:
            self._seen = {k: v for k, v in self._seen.items() if now - v[0] < REPEAT_WINDOW_S}
        self._seen[key] = (now, 0)
        if left_out:
            record.msg = f"{record.msg} (and {left_out} more like it in the {now - since:.1f} s before)"
        return True


def logging_config(settings: Settings) -> dict[str, Any]:
    """The `logging.config.dictConfig` of a server process (uvicorn's own loggers included)."""
    formatter: dict[str, Any] = (
        {"()": f"{__name__}.JsonFormatter"} if settings.log_format == "json" else {"format": TEXT_FORMAT}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "request_id": {"()": f"{__name__}.RequestIdFilter"},
            "repeats": {"()": f"{__name__}.RepeatFilter"},
        },
        "formatters": {"framestate": formatter},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "framestate",
                "filters": ["repeats", "request_id"],
            }
        },
        "root": {"handlers": ["stderr"], "level": settings.log_level.upper()},
        "loggers": {
            name: {"handlers": [], "propagate": True}
            for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
        },
    }
