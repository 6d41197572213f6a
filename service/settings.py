"""Settings, read from `FRAMESTATE_*` environment variables and checked when they are built."""

import ipaddress
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_SQLITE_PATH = Path("var") / "framestate.db"
DEFAULT_MAX_STREAMS = 20
DEFAULT_MAX_STREAMS_TOTAL = 5000
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
JWT_SECRET_MIN_LENGTH = 32
"""An HMAC-SHA256 key of at least 256 bits."""
_SUPPORTED_DRIVERS = ("sqlite+aiosqlite", "postgresql+asyncpg")
LOG_FORMATS = ("text", "json")
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


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

    webhook_progress_interval_s: float = 1.0
    """An endpoint gets at most one `export.progress` delivery of a job this often; reports between
    are folded into the one pending."""

    webhook_retention_s: float = 604800.0
    """Seconds after which delivered, failed and skipped deliveries, and events none of whose
    deliveries is pending, are deleted."""

    webhook_disable_after_s: float = 432000.0
    """An endpoint whose every attempt has failed for this long is disabled."""

    webhook_old_secret_ttl_s: float = 86400.0
    """After a secret rotation, attempts are signed with the old secret too for this long."""

    max_streams_total: int = DEFAULT_MAX_STREAMS_TOTAL
    """Event streams one process holds at once, whoever the callers."""

    webhook_allow_networks: tuple[str, ...] | None = None
    """When set, the only addresses webhooks may call: CIDR ranges, private ones included."""

    max_connections: int | None = None
    """Client connections one process holds at once; past it new ones are closed at once. Unset:
    what the process's open-file limit leaves after the database pool, the log and a reserve."""

    db_pool_size: int = 10
    """Database connections a process keeps open (PostgreSQL)."""

    db_max_overflow: int = 10
    """Connections a process may open beyond the pool under load (PostgreSQL)."""

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
        for name, least in (
            ("max_streams", 1),
            ("max_streams_total", 1),
            ("max_connections", 1),
            ("db_pool_size", 1),
            ("db_max_overflow", 0),
        ):
            value = getattr(self, name)
            if value is not None and value < least:
                raise SettingsError(f"FRAMESTATE_{name.upper()} must be at least {least} (got {value!r})")
        for name in (
            "webhook_retry_base_s",
            "webhook_max_age_s",
            "webhook_timeout_s",
            "webhook_progress_interval_s",
            "webhook_retention_s",
            "webhook_disable_after_s",
            "webhook_old_secret_ttl_s",
            "shutdown_grace_s",
        ):
            if not getattr(self, name) > 0:
                raise SettingsError(
                    f"FRAMESTATE_{name.upper()} must be a positive number (got {getattr(self, name)!r})"
                )
        try:
            self.networks_allowed()
        except ValueError as exc:
            raise SettingsError(
                f"FRAMESTATE_WEBHOOK_ALLOW_NETWORKS must be a comma-separated list of CIDR ranges ({exc})"
            ) from None
        if self.log_format not in LOG_FORMATS:
            raise SettingsError(f"FRAMESTATE_LOG_FORMAT must be text or json (got {self.log_format!r})")
        if not self.job_timeout_s > 0:
            raise SettingsError(
                f"FRAMESTATE_JOB_TIMEOUT_S must be a positive number (got {self.job_timeout_s!r})"
            )

    def networks_allowed(self) -> tuple[Network, ...] | None:
        """`webhook_allow_networks` as networks (kept as text: the settings travel as plain data)."""
        if self.webhook_allow_networks is None:
            return None
        return tuple(ipaddress.ip_network(cidr) for cidr in self.webhook_allow_networks)

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
        for key, kind in _KINDS.items():
            name = f"FRAMESTATE_{key.upper()}"
            if raw := env.get(name):
                values[key] = kind(name, raw)
        return cls(**values)  # type: ignore[arg-type]


def _text(_name: str, raw: str) -> str:
    return raw


def _boolean(name: str, raw: str) -> bool:
    if raw.lower() not in ("true", "false"):
        raise SettingsError(f"{name} must be true or false (got {raw!r})")
    return raw.lower() == "true"


def _whole(name: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number (got {raw!r})") from None


def _number(name: str, raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number (got {raw!r})") from None


def _networks(_name: str, raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())


_KINDS: dict[str, Callable[[str, str], object]] = {
    "database_url": _text,
    "log_level": _text,
    "jwt_secret": _text,
    "env": _text,
    "log_format": _text,
    "cookie_secure": _boolean,
    "webhook_allow_private": _boolean,
    "webhook_allow_networks": _networks,
    "max_streams": _whole,
    "max_streams_total": _whole,
    "max_connections": _whole,
    "db_pool_size": _whole,
    "db_max_overflow": _whole,
    "job_timeout_s": _number,
    "shutdown_grace_s": _number,
    "webhook_retry_base_s": _number,
    "webhook_max_age_s": _number,
    "webhook_timeout_s": _number,
    "webhook_progress_interval_s": _number,
    "webhook_retention_s": _number,
    "webhook_disable_after_s": _number,
    "webhook_old_secret_ttl_s": _number,
}
"""Every setting read from the environment (`FRAMESTATE_` + its name in capitals), and how."""
