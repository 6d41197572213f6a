"""Real server processes for the tests that need one: `framestate serve` on a free loopback port."""

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.servers import free_port

ROOT = Path(__file__).resolve().parent.parent
READY = "Application startup complete"
LOOPBACK = ("127.0.0.0/8", "::1/128")
"""What the tests let webhooks call: nothing they do may make the service send off this machine."""
LOOPBACK_ONLY = "127.0.0.0/8,::1/128"


def _accepting(port: int, process: subprocess.Popen[str], within_s: float = 10.0) -> bool:
    """uvicorn says its application started just before it binds the port: wait for the bind."""
    deadline = time.monotonic() + within_s
    while process.poll() is None and time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            time.sleep(0.02)
    return False


@dataclass(frozen=True)
class ServerProcess:
    url: str
    process: subprocess.Popen[str]
    log: list[str]
    """The lines the process wrote to stderr so far."""


@contextmanager
def running_server(database_url: str, *, extra_env: dict[str, str] | None = None) -> Iterator[str]:
    """Start `framestate serve`, wait for uvicorn to say it is ready, yield its base URL, stop it."""
    with server_process(database_url, extra_env=extra_env) as server:
        yield server.url


@contextmanager
def server_process(
    database_url: str,
    *,
    extra_env: dict[str, str] | None = None,
    args: tuple[str, ...] = (),
    port: int | None = None,
) -> Iterator[ServerProcess]:
    """As `running_server`, yielding the process too (to kill it); on `port` if given."""
    port = port or free_port()
    env = {
        **os.environ,
        "FRAMESTATE_DATABASE_URL": database_url,
        "FRAMESTATE_LOG_LEVEL": "INFO",
        **(extra_env or {}),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "service.commands.cli", "serve", "--port", str(port), *args],
        cwd=ROOT,
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    assert process.stderr is not None
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            lines.append(line)
            if READY in line:
                ready.set()
        ready.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        if not ready.wait(60) or process.poll() is not None or not _accepting(port, process):
            raise RuntimeError("framestate serve did not start:\n" + "".join(lines))
        yield ServerProcess(f"http://127.0.0.1:{port}", process, lines)
    finally:
        if process.poll() is None:
            process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        reader.join(5)
        process.stderr.close()
