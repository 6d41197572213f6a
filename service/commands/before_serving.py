"""What `framestate serve` makes sure of before it migrates anything: the database answers, no other
process serves the same SQLite file, and the port is free.

A SQLite database serves one process: a second one would not see the first one's changes on its
event streams. So a process that serves a SQLite file holds an exclusive `flock` on a file next to
it (`<database>.serving`, holding its pid and address). The kernel releases that lock when the
process ends, however it ends: a file left behind by a process that was killed holds no lock and
fools nobody. The file is removed on a clean exit; a process that takes the lock checks that the
file it locked is still the one at that path, so that a file removed meanwhile cannot give two
processes a lock each.
"""

import errno
import fcntl
import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import make_url

from service.commands.database_check import apply_migrations, check_database
from service.commands.outcomes import CannotRun
from service.settings import Settings

LOCK_SUFFIX = ".serving"


@contextmanager
def ready_to_serve(settings: Settings, *, host: str, port: int) -> Iterator[None]:
    """Check the database, take the SQLite file's lock, check the port, migrate; hold the lock
    until the block ends. Raises `CannotRun` saying what stands in the way."""
    check_database(settings)
    with _serving_lock(settings, host=host, port=port):
        check_port(host, port)
        apply_migrations(settings)
        yield


def lock_path(settings: Settings) -> Path | None:
    """The lock file of a SQLite database file; None for PostgreSQL and an in-memory database."""
    database = make_url(settings.database_url).database
    if not settings.is_sqlite or not database or database == ":memory:":
        return None
    return Path(database).with_name(Path(database).name + LOCK_SUFFIX)


@contextmanager
def _serving_lock(settings: Settings, *, host: str, port: int) -> Iterator[None]:
    path = lock_path(settings)
    if path is None:
        yield
        return
    fd = _locked(path, host=host, port=port)
    try:
        yield
    finally:
        path.unlink(missing_ok=True)
        os.close(fd)  # closing the last descriptor releases the lock


def _locked(path: Path, *, host: str, port: int) -> int:
    """A descriptor of `path` holding its exclusive lock, with this process's pid and address in it."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            raise CannotRun(
                f"{path.with_suffix('')} is served already by {holder}: a SQLite database serves one "
                "process. Use that one, stop it first, or give this one another FRAMESTATE_DATABASE_URL"
            ) from None
        try:
            same_file = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same_file = False
        if same_file:
            break
        os.close(fd)  # removed by its last holder after we opened it: take the new one
    os.ftruncate(fd, 0)
    os.write(fd, json.dumps({"pid": os.getpid(), "host": host, "port": port}).encode())
    return fd


def _holder(fd: int) -> str:
    try:
        held = json.loads(os.pread(fd, 4096, 0) or b"{}")
        pid, host, port = int(held["pid"]), str(held["host"]), int(held["port"])
    except (ValueError, KeyError, TypeError, OSError):
        return "another framestate process (it is starting)"
    shown = f"[{host}]" if ":" in host else host
    return f"another framestate process (pid {pid}, serving http://{shown}:{port})"


def check_port(host: str, port: int) -> None:
    """Raise `CannotRun` when the server could not listen on `host`:`port`: taken, or not an
    address of this machine. Bound as uvicorn binds it, and let go at once."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except socket.gaierror:
            raise CannotRun(f"--host {host} is not a name or address known here") from None
        except OSError as exc:
            raise CannotRun(_bind_problem(exc, host, port)) from None


def _bind_problem(exc: OSError, host: str, port: int) -> str:
    if exc.errno == errno.EADDRINUSE:
        return (
            f"port {port} on {host} is in use (another framestate, or another program): stop it, "
            f"or serve on another port (--port {port + 1}, or PORT={port + 1} make run)"
        )
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"--host {host} is not an address of this machine: serve on one of its own (127.0.0.1)"
    if exc.errno == errno.EACCES:
        return f"port {port} needs privileges this user does not have: serve on a port above 1023"
    return f"cannot listen on {host}:{port} ({exc.strerror or exc})"
