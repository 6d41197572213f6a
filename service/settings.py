"""Settings, read from `FRAMESTATE_*` environment variables and checked when they are built."""

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_SQLITE_PATH = Path("var") / "framestate.db"
DEFAULT_MAX_STREAMS = 20
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
JWT_SECRET_MIN_LENGTH = 32
"""An HMAC-SHA256 key of at least 256 bits."""
_SUPPORTED_DRIVERS = ("sqlite+aiosqlite", "postgresql+asyncpg")
LOG_FORMATS = ("text", "json")


class SettingsError(ValueError):
    """A setting that cannot work; raised at start-up with a sentence naming the variable."""


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str = field(default_factory=lambda: f"sqlite+aiosqlite:///{DEFAULT_SQLITE_PATH}")
    """SQLAlchemy URL of the database: `sqlite+aiosqlite:///path` (one process) or
    `postgresql+asyncpg://user@host:port/db` (any number of processes)."""

    log_level: str = "INFO"
    """Level of the service's own log lines: DEBUG, INFO, WARNING or ERROR."""

    job_timeout_s: float = 600.0
    """Seconds without a report after which an active export job counts as dead."""

    jwt_secret: str | None = None
    """The HS256 secret that signs access tokens. Set, auth is on; unset, auth is off and the
    service serves on a loopback address only."""

    env: str = "development"
    """`production` refuses to start without a JWT secret."""

    cookie_secure: bool = False
    """Mark the board's session cookie `Secure` (sent over HTTPS only): set it where TLS is in front."""

    max_streams: int = DEFAULT_MAX_STREAMS
    """Event streams one caller (a token's `sub`, or an address with auth off) may hold at once."""

    webhook_allow_private: bool = False
    """Let webhooks point at loopback, private, link-local and unspecified addresses."""

    webhook_retry_base_s: float = 5.0
    """A failed delivery is retried after a random wait of up to this × 2^n seconds (at most 1 h)."""

    webhook_max_age_s: float = 86400.0
    """Seconds after its event that a delivery stops being retried and is `failed`."""

    webhook_timeout_s: float = 10.0
    """Seconds a webhook receiver has to answer one attempt."""

    log_format: str = "text"
    """`text` (a line for people) or `json` (one JSON object per line, for a log pipeline)."""

    shutdown_grace_s: float = 10.0
    """On SIGTERM or SIGINT, the seconds within which the process exits: event streams end at once,
    requests in flight get the rest of it."""

    def __post_init__(self) -> None:
        if not self.database_url.startswith(tuple(f"{d}://" for d in _SUPPORTED_DRIVERS)):
            raise SettingsError(
                f"FRAMESTATE_DATABASE_URL must start with one of {', '.join(_SUPPORTED_DRIVERS)}:// "
                f"(got {self.database_url!r})"
            )
        if self.log_level.upper() not in LOG_LEVELS:
            raise SettingsError(
                f"FRAMESTATE_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)} (got {self.log_level!r})"
            )
        if self.env == "production" and not self.jwt_secret:
            raise SettingsError(
                "FRAMESTATE_ENV=production needs FRAMESTATE_JWT_SECRET: auth cannot be off in production"
            )
        if self.jwt_secret is not None and len(self.jwt_secret) < JWT_SECRET_MIN_LENGTH:
            raise SettingsError(
                f"FRAMESTATE_JWT_SECRET must be at least {JWT_SECRET_MIN_LENGTH} characters long"
            )
        if self.max_streams < 1:
            raise SettingsError(f"FRAMESTATE_MAX_STREAMS must be at least 1 (got {self.max_streams!r})")
        for name in ("webhook_retry_base_s", "webhook_max_age_s", "webhook_timeout_s", "shutdown_grace_s"):
            if not getattr(self, name) > 0:
                raise SettingsError(
                    f"FRAMESTATE_{name.upper()} must be a positive number (got {getattr(self, name)!r})"
                )
        if self.log_format not in LOG_FORMATS:
            raise SettingsError(f"FRAMESTATE_LOG_FORMAT must be text or json (got {self.log_format!r})")
        if not self.job_timeout_s > 0:
            raise SettingsError(
                f"FRAMESTATE_JOB_TIMEOUT_S must be a positive number (got {self.job_timeout_s!r})"
            )

    @property
    def auth_on(self) -> bool:
        return self.jwt_secret is not None

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        if url := env.get("FRAMESTATE_DATABASE_URL"):
            values["database_url"] = url
        if level := env.get("FRAMESTATE_LOG_LEVEL"):
            values["log_level"] = level
        if secret := env.get("FRAMESTATE_JWT_SECRET"):
            values["jwt_secret"] = secret
        if environment := env.get("FRAMESTATE_ENV"):
            values["env"] = environment
        if secure := env.get("FRAMESTATE_COOKIE_SECURE"):
            if secure.lower() not in ("true", "false"):
                raise SettingsError(f"FRAMESTATE_COOKIE_SECURE must be true or false (got {secure!r})")
            values["cookie_secure"] = secure.lower() == "true"
        if streams := env.get("FRAMESTATE_MAX_STREAMS"):
            try:
                values["max_streams"] = int(streams)
            except ValueError:
                raise SettingsError(
                    f"FRAMESTATE_MAX_STREAMS must be a whole number (got {streams!r})"
                ) from None
        if allow := env.get("FRAMESTATE_WEBHOOK_ALLOW_PRIVATE"):
            if allow.lower() not in ("true", "false"):
                raise SettingsError(f"FRAMESTATE_WEBHOOK_ALLOW_PRIVATE must be true or false (got {allow!r})")
            values["webhook_allow_private"] = allow.lower() == "true"
        if log_format := env.get("FRAMESTATE_LOG_FORMAT"):
            values["log_format"] = log_format
        seconds = ("job_timeout_s", "shutdown_grace_s", "webhook_retry_base_s", "webhook_max_age_s")
        for key in (*seconds, "webhook_timeout_s"):
            name = f"FRAMESTATE_{key.upper()}"
            if raw := env.get(name):
                try:
                    values[key] = float(raw)
                except ValueError:
                    raise SettingsError(f"{name} must be a number (got {raw!r})") from None
        return cls(**values)  # type: ignore[arg-type]
