"""The servers under test: one uvicorn process each, on a free loopback port."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.common import ROOT, SERVER_ENV, VAR


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _peak_rss_mib(pid: int) -> float:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    url: str
    log: Path
    pid: int = 0  # the Python process that serves (under py-spy: py-spy's child)

    def cpu_seconds(self) -> float:
        """The CPU time of the serving process and of its worker processes (`--workers N`)."""
        total = 0
        for pid in (self.pid, *_children(self.pid)):
            with contextlib.suppress(OSError):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])
        return total / os.sysconf("SC_CLK_TCK")

    def peak_rss_mib(self) -> float:
        return _peak_rss_mib(self.pid)

    def workers_peak_rss_mib(self) -> list[float]:
        return [_peak_rss_mib(pid) for pid in _children(self.pid)]

    def wait_for_workers(self, count: int, within_s: float = 60.0) -> None:
        """Until `count` worker processes run, then 3 s of fresh connections to /health: a worker
        takes connections once its start-up is done, so by then every one has been handed some."""
        deadline = time.monotonic() + within_s
        while len(_children(self.pid)) < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name}: {count} workers did not start within {within_s:g} s")
            time.sleep(0.2)
        until = time.monotonic() + 3
        while time.monotonic() < until:
            with contextlib.suppress(httpx.HTTPError):
                httpx.get(self.url + "/health", timeout=2)

    def stop(self) -> None:
        if self.process.poll() is None:
            if self.pid != self.process.pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid, signal.SIGTERM)  # py-spy writes its profile once its child ends
            else:
                self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_server(name: str, command: list[str], url: str, ready_path: str, database_url: str) -> Server:
    VAR.mkdir(parents=True, exist_ok=True)
    log = VAR / f"{name}.log"
    env = {**os.environ, "FRAMESTATE_DATABASE_URL": database_url, **SERVER_ENV}
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    server = Server(name, process, url, log, process.pid)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} did not start:\n{log.read_text()[-3000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url + ready_path, timeout=2).status_code == 200:
                if command[0].endswith("py-spy"):
                    server.pid = next(iter(_children(process.pid)), process.pid)
                return server
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"{name} did not answer {ready_path} within 90 s:\n{log.read_text()[-3000:]}")


def framestate_command(port: int) -> list[str]:
    return [sys.executable, "-m", "service.commands.cli", "serve", "--port", str(port)]


def baseline_command(port: int) -> list[str]:
    return [sys.executable, "-m", "bench.baseline", "--port", str(port)]
