"""Settings, read from `FRAMESTATE_*` environment variables and checked when they are built."""

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_SQLITE_PATH = Path("var") / "framestate.db"
_SUPPORTED_DRIVERS = ("sqlite+aiosqlite", "postgresql+asyncpg")


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

    def __post_init__(self) -> None:
        if not self.database_url.startswith(tuple(f"{d}://" for d in _SUPPORTED_DRIVERS)):
            raise SettingsError(
                f"FRAMESTATE_DATABASE_URL must start with one of {', '.join(_SUPPORTED_DRIVERS)}:// "
                f"(got {self.database_url!r})"
            )
        if logging.getLevelName(self.log_level.upper()) not in (10, 20, 30, 40, 50):
            raise SettingsError(
                f"FRAMESTATE_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR (got {self.log_level!r})"
            )
        if self.env == "production" and not self.jwt_secret:
            raise SettingsError(
                "FRAMESTATE_ENV=production needs FRAMESTATE_JWT_SECRET: auth cannot be off in production"
            )
        if self.jwt_secret is not None and len(self.jwt_secret) < 32:
            raise SettingsError("FRAMESTATE_JWT_SECRET must be at least 32 characters long")
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
        if timeout := env.get("FRAMESTATE_JOB_TIMEOUT_S"):
            try:
                values["job_timeout_s"] = float(timeout)
            except ValueError:
                raise SettingsError(f"FRAMESTATE_JOB_TIMEOUT_S must be a number (got {timeout!r})") from None
        return cls(**values)  # type: ignore[arg-type]
